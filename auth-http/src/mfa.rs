//! The second-factor routes of the JSON API (docs/contract/7-second-factor.md): enrolling an
//! authenticator app, removing it, replacing the recovery codes, and the
//! second step of a login.

use auth_core::{AuthError, MfaMethod, MfaToken, Password};
use serde::Serialize;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::app::{json, respond, with_cookie, App};
use crate::bodies::AccountMessage;
use crate::error::{
    ApiError, BadRequest, BodyFaults, CodeUnauthorized, CrossOrigin, NotFound, ServerFaults,
    SignedInForbidden, TooManyRequests, Unauthorized,
};
use crate::request::{ctx_with_authority, password, RawBody, RequestCtx};

/// Every second-factor route.
pub(crate) fn routes(app: &App) -> BoxedFilter<(Response,)> {
    begin_totp(app)
        .or(confirm_totp(app))
        .unify()
        .or(remove_totp(app))
        .unify()
        .or(replace_recovery_codes(app))
        .unify()
        .or(complete_login(app))
        .unify()
        .boxed()
}

/// The answer to a right password when the account has a second factor:
/// 401 `mfa_required` with the token of the second step and its methods.
pub(crate) fn mfa_required(mfa_token: &MfaToken, methods: &[MfaMethod]) -> Response {
    json(
        &LoginFailure {
            error: "mfa_required",
            message: "a second factor is required: send mfa_token and code to /sessions/mfa",
            mfa_token: Some(mfa_token.expose()),
            methods: Some(methods.iter().map(|m| m.as_str()).collect()),
        },
        StatusCode::UNAUTHORIZED,
    )
}

// `invalid_credentials` is written by `ApiError`, as every error is, in the
// shape of this type without its optional members.
/// The 401 of `POST /sessions`: the error shape, plus the second step when
/// the error is `mfa_required`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "error": "mfa_required",
    "message": "a second factor is required: send mfa_token and code to /sessions/mfa",
    "mfa_token": "x2b3Jd0Yk0bLr0o7Jm4mP0nq4s8Q9mZ8z1fS2c3D4e5",
    "methods": ["totp", "recovery_code"]
}))]
pub(crate) struct LoginFailure<'a> {
    /// `invalid_credentials` or `mfa_required`.
    error: &'a str,
    message: &'a str,
    /// With `mfa_required`: the token of the second step.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    mfa_token: Option<&'a str>,
    /// With `mfa_required`: `totp`, `recovery_code`, `passkey`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    methods: Option<Vec<&'a str>>,
}

/// `POST /mfa/totp/confirm`: a code of the authenticator app.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"code": "492039"}))]
pub(crate) struct MfaCode {
    /// Six digits.
    code: String,
}

/// `DELETE /mfa/totp`, `POST /mfa/recovery-codes`, `POST /mfa/passkeys/options`:
/// the password.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"password": "tangerine rocket harbor 7"}))]
pub(crate) struct PasswordOnly {
    #[serde(deserialize_with = "password")]
    #[schema(value_type = String)]
    pub(crate) password: Password,
}

/// `POST /sessions/mfa`: the second-step token and a code.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"mfa_token": "x2b3Jd0Yk0bLr0o7Jm4mP0nq4s8Q9mZ8z1fS2c3D4e5", "code": "492039"}))]
pub(crate) struct MfaStep {
    /// From the 401 `mfa_required` of `POST /sessions`.
    mfa_token: String,
    /// A TOTP code (six digits) or a recovery code (dashes and case ignored).
    code: String,
}

/// `POST /mfa/totp`: the secret of a new enrolment.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TotpEnrolmentBody {
    /// The shared secret, base32 without padding.
    secret: String,
    /// `otpauth://totp/…` for a QR code.
    otpauth_uri: String,
}

/// Fresh recovery codes, shown once.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct RecoveryCodesBody {
    /// Ten single-use codes.
    recovery_codes: Vec<String>,
}

/// POST /mfa/totp
#[utoipa::path(
    post,
    path = "/mfa/totp",
    tag = "Second factors",
    summary = "Start enrolling an authenticator app",
    description = "A new TOTP secret (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps) for \
        the signed-in user, waiting for `POST /mfa/totp/confirm`. Restarting replaces a \
        pending enrolment; an enabled app must be removed first (400 `invalid_field`).",
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "The secret and its `otpauth://` URI.", body = TotpEnrolmentBody),
        (status = 400, response = BadRequest),
        (status = 403, response = SignedInForbidden),
        ServerFaults,
    ),
)]
fn begin_totp(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("mfa" / "totp")
        .and(warp::post())
        .and(ctx_with_authority())
        .and(app.filter())
        .then(|ctx, app| async move { respond(handle_begin_totp(ctx, app).await) })
        .boxed()
}

async fn handle_begin_totp(ctx: RequestCtx, app: App) -> Result<Response, ApiError> {
    app.same_origin(&ctx)?;
    let token = app.session_token(&ctx)?;
    let enrolment = app.auth.begin_totp(&token).await?;
    Ok(json(
        &TotpEnrolmentBody {
            secret: enrolment.secret.clone(),
            otpauth_uri: enrolment.otpauth_uri.clone(),
        },
        StatusCode::OK,
    ))
}

/// POST /mfa/totp/confirm
#[utoipa::path(
    post,
    path = "/mfa/totp/confirm",
    tag = "Second factors",
    summary = "Enable the authenticator app",
    description = "Enables the pending enrolment with a current `code` (which counts as used) \
        and returns ten recovery codes, shown this once.",
    security(("session_cookie" = [])),
    request_body(
        description = "A code of the app.",
        content((MfaCode = "application/x-www-form-urlencoded"), (MfaCode = "application/json")),
    ),
    responses(
        (status = 200, description = "Enabled.", body = RecoveryCodesBody),
        BodyFaults,
        (status = 401, response = CodeUnauthorized),
        (status = 403, response = SignedInForbidden),
        ServerFaults,
    ),
)]
fn confirm_totp(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("mfa" / "totp" / "confirm").and(warp::post()),
        handle_confirm_totp,
        respond,
    )
}

async fn handle_confirm_totp(
    ctx: RequestCtx,
    body: RawBody,
    app: App,
) -> Result<Response, ApiError> {
    app.same_origin(&ctx)?;
    let token = app.session_token(&ctx)?;
    let MfaCode { code } = body.read(&ctx.headers)?;
    let codes = app
        .auth
        .confirm_totp(&token, &code, &app.client(&ctx))
        .await?;
    Ok(json(
        &RecoveryCodesBody {
            recovery_codes: codes.0,
        },
        StatusCode::OK,
    ))
}

/// DELETE /mfa/totp
#[utoipa::path(
    delete,
    path = "/mfa/totp",
    tag = "Second factors",
    summary = "Remove the authenticator app",
    description = "Removes the app and the recovery codes, given the `password` (checked as a \
        login is, with the same throttle).",
    security(("session_cookie" = [])),
    request_body(
        description = "The password.",
        content((PasswordOnly = "application/x-www-form-urlencoded"), (PasswordOnly = "application/json")),
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
fn remove_totp(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("mfa" / "totp").and(warp::delete()),
        handle_remove_totp,
        respond,
    )
}

async fn handle_remove_totp(
    ctx: RequestCtx,
    body: RawBody,
    app: App,
) -> Result<Response, ApiError> {
    app.same_origin(&ctx)?;
    let token = app.session_token(&ctx)?;
    let PasswordOnly { password } = body.read(&ctx.headers)?;
    app.auth
        .remove_totp(&token, &password, &app.client(&ctx))
        .await
        .map_err(no_factor)?;
    Ok(warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response())
}

/// POST /mfa/recovery-codes
#[utoipa::path(
    post,
    path = "/mfa/recovery-codes",
    tag = "Second factors",
    summary = "Replace the recovery codes",
    description = "Ten new recovery codes, given the `password`; every earlier code is void.",
    security(("session_cookie" = [])),
    request_body(
        description = "The password.",
        content((PasswordOnly = "application/x-www-form-urlencoded"), (PasswordOnly = "application/json")),
    ),
    responses(
        (status = 200, description = "The new codes.", body = RecoveryCodesBody),
        BodyFaults,
        (status = 401, response = Unauthorized),
        (status = 403, response = SignedInForbidden),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        ServerFaults,
    ),
)]
fn replace_recovery_codes(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("mfa" / "recovery-codes").and(warp::post()),
        handle_replace_recovery_codes,
        respond,
    )
}

async fn handle_replace_recovery_codes(
    ctx: RequestCtx,
    body: RawBody,
    app: App,
) -> Result<Response, ApiError> {
    app.same_origin(&ctx)?;
    let token = app.session_token(&ctx)?;
    let PasswordOnly { password } = body.read(&ctx.headers)?;
    let codes = app
        .auth
        .replace_recovery_codes(&token, &password, &app.client(&ctx))
        .await
        .map_err(no_factor)?;
    Ok(json(
        &RecoveryCodesBody {
            recovery_codes: codes.0,
        },
        StatusCode::OK,
    ))
}

/// `NotFound` from a factor route means no factor, not no session.
fn no_factor(error: AuthError) -> ApiError {
    match error {
        AuthError::NotFound => ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no authenticator app is enabled",
        ),
        other => other.into(),
    }
}

/// POST /sessions/mfa
#[utoipa::path(
    post,
    path = "/sessions/mfa",
    tag = "Second factors",
    summary = "Finish a login with a second factor",
    description = "`mfa_token` from the 401 `mfa_required` of `POST /sessions`, and `code`: a \
        TOTP code or a recovery code. Gives what a login gives. A wrong code counts toward the \
        account's login throttle; a used or expired token is `invalid_code`.",
    request_body(
        description = "The token and a code.",
        content((MfaStep = "application/x-www-form-urlencoded"), (MfaStep = "application/json")),
    ),
    responses(
        (status = 200, description = "Logged in: the identifiers as registered and `logged in`.",
            body = AccountMessage,
            headers(("Set-Cookie" = String, description = "The session cookie, as `POST /sessions` sets it.")),
            example = json!({"email": "bob@example.com", "message": "logged in"})),
        BodyFaults,
        (status = 401, response = CodeUnauthorized),
        (status = 403, response = CrossOrigin),
        (status = 429, response = TooManyRequests),
        ServerFaults,
    ),
)]
fn complete_login(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("sessions" / "mfa").and(warp::post()),
        handle_complete_login,
        respond,
    )
}

async fn handle_complete_login(
    ctx: RequestCtx,
    body: RawBody,
    app: App,
) -> Result<Response, ApiError> {
    app.same_origin(&ctx)?;
    app.rate_limit(&ctx)?;
    let MfaStep { mfa_token, code } = body.read(&ctx.headers)?;
    let presented = ctx.cookie(&app.config.cookie_name);
    let success = app
        .auth
        .complete_mfa(&mfa_token, &code, presented.as_deref(), &app.client(&ctx))
        .await?;
    let response = json(
        &AccountMessage::of(&success.user, "logged in"),
        StatusCode::OK,
    );
    Ok(with_cookie(
        response,
        app.session_cookie(success.token.expose()),
    ))
}
