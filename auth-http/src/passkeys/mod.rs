//! The passkey routes of the JSON API (docs/contract/7-second-factor.md),
//! beside its `/mfa/...` and `/sessions/...` routes. Each WebAuthn ceremony
//! is two requests: `.../options` starts it (the ceremony id and the options
//! for `navigator.credentials`), the second finishes it with the browser's
//! answer. `/static/webauthn.js` drives them from the pages.
//!
//! The ceremony's origin (whose host is the relying-party id) is
//! `--public-url`, or else the request's own `Origin` once the `Origin` rule
//! has found it to be this site.

use auth_core::{AuthError, PasskeyChallenge, PasskeyInfo, Password};
use serde::Serialize;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::app::{json, respond, with_cookie, App};
use crate::bodies::AccountMessage;
use crate::error::ApiError;
use crate::error::{
    BadRequest, BodyFaults, CodeUnauthorized, CrossOrigin, NotFound, ServerFaults,
    SignedInForbidden, TooManyRequests, Unauthorized,
};
use crate::mfa::PasswordOnly;
use crate::request::{
    ctx_with_authority, password, raw_body, JsonText, RawBody, RequestCtx, RequestOrigin,
};

mod sign_in;

pub(crate) use sign_in::*;

/// Every passkey route.
pub(crate) fn routes(app: &App) -> BoxedFilter<(Response,)> {
    list_passkeys(app)
        .or(begin_registration(app))
        .unify()
        .or(finish_registration(app))
        .unify()
        .or(remove_passkey(app))
        .unify()
        .or(begin_sign_in(app))
        .unify()
        .or(finish_sign_in(app))
        .unify()
        .or(begin_second_step(app))
        .unify()
        .or(finish_second_step(app))
        .unify()
        .boxed()
}

// ----- bodies -----

/// A passkey of the signed-in user.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "id": "3f0c1b1e-8d1a-4c55-9d4e-0a4f3c2b1a00",
    "name": "Laptop",
    "created_at": "2026-12-01T19:00:00Z",
    "last_used_at": null
}))]
pub(crate) struct PasskeyBody {
    /// The passkey's id (for `DELETE /mfa/passkeys/{id}`).
    id: String,
    /// The name its owner gave it.
    name: String,
    /// RFC 3339 UTC.
    created_at: String,
    /// RFC 3339 UTC of the last sign-in with it, or `null`.
    last_used_at: Option<String>,
}

impl From<PasskeyInfo> for PasskeyBody {
    fn from(info: PasskeyInfo) -> Self {
        PasskeyBody {
            id: info.id,
            name: info.name,
            created_at: crate::bodies::rfc3339(info.created_at),
            last_used_at: info.last_used_at.map(crate::bodies::rfc3339),
        }
    }
}

/// A started ceremony.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "ceremony": "x2b3Jd0Yk0bLr0o7Jm4mP0nq4s8Q9mZ8z1fS2c3D4e5",
    "publicKey": {"challenge": "q8Hk0b2Yk0bLr0o7Jm4mP0nq4s8Q9mZ8z1fS2c3D4e5", "rpId": "auth.example.com",
        "allowCredentials": [], "userVerification": "required", "timeout": 300000}
}))]
pub(crate) struct CeremonyBody {
    /// The ceremony's id, to send back with the answer: single use, five minutes.
    ceremony: String,
    /// The options for `navigator.credentials.create` or `.get`, binary
    /// members (`challenge`, `user.id`, credential ids) in base64url.
    #[serde(rename = "publicKey")]
    #[schema(value_type = Object)]
    public_key: serde_json::Value,
}

impl From<PasskeyChallenge> for CeremonyBody {
    fn from(challenge: PasskeyChallenge) -> Self {
        CeremonyBody {
            ceremony: challenge.ceremony.expose().to_owned(),
            public_key: challenge
                .options
                .get("publicKey")
                .cloned()
                .unwrap_or_default(),
        }
    }
}

/// `POST /mfa/passkeys`: the browser's answer to the options, and a name.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "ceremony": "x2b3Jd0Yk0bLr0o7Jm4mP0nq4s8Q9mZ8z1fS2c3D4e5",
    "name": "Laptop",
    "credential": {"id": "AAEC", "rawId": "AAEC", "type": "public-key",
        "response": {"attestationObject": "o2NmbXRk", "clientDataJSON": "eyJ0eXBlIjo"}}
}))]
pub(crate) struct AddPasskey {
    /// From `POST /mfa/passkeys/options`.
    ceremony: String,
    /// 1 to 64 characters, trimmed; empty or absent: `Passkey`.
    #[schema(nullable = false)]
    name: Option<String>,
    /// The `PublicKeyCredential` of `navigator.credentials.create`, binary
    /// members in base64url (a JSON object, or its text in a form field).
    #[schema(value_type = Object)]
    credential: JsonText,
}

/// `POST /sessions/passkey`: the browser's answer to the sign-in options.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "ceremony": "x2b3Jd0Yk0bLr0o7Jm4mP0nq4s8Q9mZ8z1fS2c3D4e5",
    "credential": {"id": "AAEC", "rawId": "AAEC", "type": "public-key",
        "response": {"authenticatorData": "SZYN5Y", "clientDataJSON": "eyJ0eXBlIjo",
            "signature": "MEUCIQ", "userHandle": "P0Mb"}}
}))]
pub(crate) struct PasskeyAssertion {
    /// From the `.../options` request.
    ceremony: String,
    /// The `PublicKeyCredential` of `navigator.credentials.get`, binary
    /// members in base64url (a JSON object, or its text in a form field).
    #[schema(value_type = Object)]
    credential: JsonText,
}

/// `POST /sessions/mfa/passkey/options`: the second-step token.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"mfa_token": "x2b3Jd0Yk0bLr0o7Jm4mP0nq4s8Q9mZ8z1fS2c3D4e5"}))]
pub(crate) struct MfaTokenOnly {
    /// From the 401 `mfa_required` of `POST /sessions`.
    mfa_token: String,
}

/// `POST /sessions/mfa/passkey`: the second-step token and the answer.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "mfa_token": "x2b3Jd0Yk0bLr0o7Jm4mP0nq4s8Q9mZ8z1fS2c3D4e5",
    "ceremony": "q8Hk0b2Yk0bLr0o7Jm4mP0nq4s8Q9mZ8z1fS2c3D4e5",
    "credential": {"id": "AAEC", "rawId": "AAEC", "type": "public-key",
        "response": {"authenticatorData": "SZYN5Y", "clientDataJSON": "eyJ0eXBlIjo",
            "signature": "MEUCIQ"}}
}))]
pub(crate) struct MfaPasskeyStep {
    /// From the 401 `mfa_required` of `POST /sessions`.
    mfa_token: String,
    /// From `POST /sessions/mfa/passkey/options`.
    ceremony: String,
    /// The `PublicKeyCredential` of `navigator.credentials.get`.
    #[schema(value_type = Object)]
    credential: JsonText,
}

/// `DELETE /mfa/passkeys/{id}`: the password.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"password": "tangerine rocket harbor 7"}))]
pub(crate) struct RemovePasskey {
    #[serde(deserialize_with = "password")]
    #[schema(value_type = String)]
    password: Password,
}

// ----- helpers -----

/// The origin a ceremony is for: `--public-url`, or the request's own
/// `Origin` (already found to be this site by [`App::same_origin`]).
pub(crate) fn ceremony_origin(app: &App, ctx: &RequestCtx) -> Result<String, ApiError> {
    if let Some(public) = &app.config.public_url {
        return Ok(public.clone());
    }
    match ctx.origin(None) {
        RequestOrigin::Same => ctx
            .headers
            .get(warp::http::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(no_origin),
        _ => Err(no_origin()),
    }
}

fn no_origin() -> ApiError {
    ApiError::bad_request(
        "invalid_field",
        "origin: a passkey ceremony needs the page's Origin header (or a server started with --public-url)",
    )
}

/// A missing passkey is 404 `not_found`, said as such.
fn no_passkey(error: AuthError) -> ApiError {
    match error {
        AuthError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such passkey"),
        other => other.into(),
    }
}

/// What a completed login answers: the identifiers, `logged in`, the cookie.
fn logged_in(app: &App, success: auth_core::LoginSuccess) -> Response {
    let response = json(
        &AccountMessage::of(&success.user, "logged in"),
        StatusCode::OK,
    );
    with_cookie(response, app.session_cookie(success.token.expose()))
}

// ----- adding, listing, removing -----

/// GET /mfa/passkeys
#[utoipa::path(
    get,
    path = "/mfa/passkeys",
    tag = "Second factors",
    summary = "List your passkeys",
    description = "The signed-in user's passkeys, oldest first.",
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "The passkeys.", body = [PasskeyBody]),
        (status = 403, response = SignedInForbidden),
        ServerFaults,
    ),
)]
fn list_passkeys(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("mfa" / "passkeys")
        .and(warp::get())
        .and(ctx_with_authority())
        .and(app.filter())
        .then(|ctx: RequestCtx, app: App| async move {
            respond(
                async {
                    let token = app.session_token(&ctx)?;
                    let passkeys = app.auth.list_passkeys(&token).await?;
                    let body: Vec<PasskeyBody> =
                        passkeys.into_iter().map(PasskeyBody::from).collect();
                    Ok(json(&body, StatusCode::OK))
                }
                .await,
            )
        })
        .boxed()
}

/// POST /mfa/passkeys/options
#[utoipa::path(
    post,
    path = "/mfa/passkeys/options",
    tag = "Second factors",
    summary = "Start adding a passkey",
    description = "The options for `navigator.credentials.create` (user verification \
        preferred, a discoverable credential preferred, the user's own passkeys excluded) and \
        the ceremony's id. The relying-party id is the host of `--public-url`, or of the \
        request's `Origin`; an IP address cannot be one (400 `invalid_field`). An account \
        holds at most 20 passkeys (400 `invalid_field` naming `credential` past that). A new \
        ceremony voids the session's earlier one. The account's `password` is required: a \
        passkey signs in on its own and outlives a password reset, so a session alone cannot \
        add one; a wrong password counts toward the account's throttle.",
    security(("session_cookie" = [])),
    request_body(
        description = "The password.",
        content((PasswordOnly = "application/x-www-form-urlencoded"), (PasswordOnly = "application/json")),
    ),
    responses(
        (status = 200, description = "The ceremony.", body = CeremonyBody),
        BodyFaults,
        (status = 401, response = Unauthorized),
        (status = 403, response = SignedInForbidden),
        (status = 429, response = TooManyRequests),
        ServerFaults,
    ),
)]
fn begin_registration(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("mfa" / "passkeys" / "options").and(warp::post()),
        |ctx: RequestCtx, body: RawBody, app: App| async move {
            app.same_origin(&ctx)?;
            let token = app.session_token(&ctx)?;
            let PasswordOnly { password } = body.read(&ctx.headers)?;
            let origin = ceremony_origin(&app, &ctx)?;
            let challenge = app
                .auth
                .begin_passkey_registration(&token, &password, &origin, &app.client(&ctx))
                .await?;
            Ok(json(&CeremonyBody::from(challenge), StatusCode::OK))
        },
        respond,
    )
}

/// POST /mfa/passkeys
#[utoipa::path(
    post,
    path = "/mfa/passkeys",
    tag = "Second factors",
    summary = "Add a passkey",
    description = "Finishes the ceremony of `POST /mfa/passkeys/options` (same session, \
        within five minutes, once) with the browser's answer. From then on a login with the \
        password asks for a second step, and the passkey can also sign in alone.",
    security(("session_cookie" = [])),
    request_body(
        description = "The ceremony, a name and the credential.",
        content((AddPasskey = "application/json"), (AddPasskey = "application/x-www-form-urlencoded")),
    ),
    responses(
        (status = 200, description = "Added.", body = PasskeyBody),
        BodyFaults,
        (status = 403, response = SignedInForbidden),
        ServerFaults,
    ),
)]
fn finish_registration(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("mfa" / "passkeys").and(warp::post()),
        |ctx: RequestCtx, body: RawBody, app: App| async move {
            app.same_origin(&ctx)?;
            let token = app.session_token(&ctx)?;
            let input: AddPasskey = body.read(&ctx.headers)?;
            let added = app
                .auth
                .finish_passkey_registration(
                    &token,
                    &input.ceremony,
                    &input.credential.0,
                    input.name.as_deref(),
                    &app.client(&ctx),
                )
                .await?;
            Ok(json(&PasskeyBody::from(added), StatusCode::OK))
        },
        respond,
    )
}

/// DELETE /mfa/passkeys/{id}
#[utoipa::path(
    delete,
    path = "/mfa/passkeys/{id}",
    tag = "Second factors",
    summary = "Remove a passkey",
    description = "Removes one of the signed-in user's passkeys, given the `password` \
        (checked as a login is, with the same throttle).",
    security(("session_cookie" = [])),
    params(("id" = String, Path, description = "The passkey's id.")),
    request_body(
        description = "The password.",
        content((RemovePasskey = "application/x-www-form-urlencoded"), (RemovePasskey = "application/json")),
    ),
    responses(
        (status = 204, description = "Removed."),
        BodyFaults,
        (status = 401, response = Unauthorized),
        (status = 403, response = SignedInForbidden),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        ServerFaults,
    ),
)]
fn remove_passkey(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("mfa" / "passkeys" / String)
        // `/mfa/passkeys/options` is a route of its own (POST only).
        .and_then(|id: String| async move {
            if id == "options" {
                Err(warp::reject::not_found())
            } else {
                Ok(id)
            }
        })
        .and(warp::delete())
        .and(ctx_with_authority())
        .and(raw_body())
        .and(app.filter())
        .then(
            |id: String, ctx: RequestCtx, body: RawBody, app: App| async move {
                respond(
                    async {
                        app.same_origin(&ctx)?;
                        let token = app.session_token(&ctx)?;
                        let input: RemovePasskey = body.read(&ctx.headers)?;
                        app.auth
                            .remove_passkey(&token, &id, &input.password, &app.client(&ctx))
                            .await
                            .map_err(no_passkey)?;
                        Ok(
                            warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT)
                                .into_response(),
                        )
                    }
                    .await,
                )
            },
        )
        .boxed()
}
