//! The endpoints clients call directly: `/oauth/token`, `/oauth/userinfo`,
//! `/oauth/introspect` (RFC 7662) and `/oauth/revoke` (RFC 7009).

use auth_core::{AuthError, ClientAuth, OAuthError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use warp::filters::BoxedFilter;
use warp::http::header::{self, HeaderValue};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::{invalid_request, oauth_error, OAuthErrorBody};
use crate::app::{json, App};
use crate::error::ServerFaults;
use crate::request::{ctx, Body, RawBody, RequestCtx};

pub(super) fn routes(app: &App) -> BoxedFilter<(Response,)> {
    token(app)
        .or(userinfo(app))
        .unify()
        .or(introspect(app))
        .unify()
        .or(revoke(app))
        .unify()
        .boxed()
}

/// The token endpoint's form (RFC 6749 §4.1.3, §6).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct TokenForm {
    /// `authorization_code` or `refresh_token`.
    grant_type: Option<String>,
    /// The authorization code.
    code: Option<String>,
    /// The redirect URI of the authorization request.
    redirect_uri: Option<String>,
    /// The PKCE verifier.
    code_verifier: Option<String>,
    /// The refresh token.
    refresh_token: Option<String>,
    /// A narrower scope for a refresh.
    scope: Option<String>,
    /// The client (`client_secret_post`, or a public client).
    client_id: Option<String>,
    /// The secret (`client_secret_post`).
    client_secret: Option<String>,
}

/// The form of introspection and revocation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct TokenQueryForm {
    /// The token asked about or revoked.
    token: Option<String>,
    /// A hint of its kind (ignored: both kinds are looked up).
    token_type_hint: Option<String>,
    /// The client (`client_secret_post`).
    client_id: Option<String>,
    /// The secret (`client_secret_post`).
    client_secret: Option<String>,
}

/// The client's credentials: HTTP Basic (`client_secret_basic`, each part
/// form-encoded as RFC 6749 §2.3.1 says) or the form's. Both at once, or a
/// Basic header that does not decode, is `invalid_request`.
fn client_auth(
    ctx: &RequestCtx,
    client_id: Option<String>,
    client_secret: Option<String>,
) -> Result<ClientAuth, AuthError> {
    let Some(value) = ctx.headers.get(header::AUTHORIZATION) else {
        return Ok(ClientAuth {
            client_id: client_id.unwrap_or_default(),
            secret: client_secret,
        });
    };
    let basic = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .and_then(|encoded| STANDARD.decode(encoded.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| {
            let (id, secret) = text.split_once(':')?;
            let decode = |part: &str| {
                percent_encoding::percent_decode_str(&part.replace('+', " "))
                    .decode_utf8()
                    .ok()
                    .map(|s| s.into_owned())
            };
            Some((decode(id)?, decode(secret)?))
        });
    let Some((id, secret)) = basic else {
        return Err(AuthError::OAuth(OAuthError::InvalidClient));
    };
    if client_secret.is_some() || client_id.is_some_and(|form_id| form_id != id) {
        return Err(bad_request(
            "authenticate with HTTP Basic or with the form, not both",
        ));
    }
    Ok(ClientAuth {
        client_id: id,
        secret: Some(secret),
    })
}

/// The body of a client's request, each fault an RFC 6749 error.
fn read_form<T: serde::de::DeserializeOwned>(
    ctx: &RequestCtx,
    body: RawBody,
) -> Result<T, AuthError> {
    Body::parse(&ctx.headers, body)
        .and_then(|body| body.read())
        .map_err(|error| bad_request(error.message))
}

/// An `invalid_request`.
fn bad_request(message: impl Into<String>) -> AuthError {
    AuthError::OAuth(OAuthError::InvalidRequest(message.into()))
}

/// The answer of the token endpoint: `Pragma: no-cache` beside the
/// `Cache-Control: no-store` every answer has.
fn no_cache(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The token endpoint's answer (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct TokenBody {
    /// The opaque access token (32 random bytes, base64url).
    access_token: String,
    /// `Bearer`.
    token_type: &'static str,
    /// Seconds the access token lives.
    expires_in: i64,
    /// The signed ID token (a JWS, RS256 or ES256).
    id_token: String,
    /// The granted scopes, space-separated.
    scope: String,
    /// With `offline_access`: the refresh token (each refresh brings a new one).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    refresh_token: Option<String>,
}

impl From<auth_core::TokenResponse> for TokenBody {
    fn from(tokens: auth_core::TokenResponse) -> Self {
        TokenBody {
            access_token: tokens.access_token,
            token_type: tokens.token_type,
            expires_in: tokens.expires_in,
            id_token: tokens.id_token,
            scope: tokens.scope,
            refresh_token: tokens.refresh_token,
        }
    }
}

/// What introspection says of a token (RFC 7662 §2.2): `active` alone when
/// it is not a live token of the asking client.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub(crate) struct IntrospectionBody {
    /// Whether the token is live and the asking client's.
    active: bool,
    /// The granted scopes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    scope: Option<String>,
    /// The client the token was issued to.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    client_id: Option<String>,
    /// The account (the ID token's `sub`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    sub: Option<String>,
    /// Unix seconds of its expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    exp: Option<i64>,
    /// Unix seconds of its issue.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    iat: Option<i64>,
    /// The issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    iss: Option<String>,
    /// An access token's audience: the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    aud: Option<String>,
    /// `Bearer` (an access token) or `refresh_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    token_type: Option<String>,
}

/// The claims of userinfo (OpenID Connect Core §5.3): `sub`, and what the
/// granted scopes allow.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub(crate) struct UserinfoBody {
    /// The account's id: opaque, stable, the same for every client.
    sub: String,
    /// With `profile`: the username (or e-mail when it has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    preferred_username: Option<String>,
    /// With `profile`: the full name, else the username.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    name: Option<String>,
    /// With `email`, when the account has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    email: Option<String>,
    /// With `email`: always `false` (addresses are not verified yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    email_verified: Option<bool>,
}

/// A JSON answer of `T`'s shape from auth-core's JSON value (a value of
/// another shape is a fault of ours, never of the input).
fn shaped<T: serde::Serialize + serde::de::DeserializeOwned>(value: serde_json::Value) -> Response {
    match serde_json::from_value::<T>(value) {
        Ok(body) => json(&body, StatusCode::OK),
        Err(error) => {
            tracing::error!(%error, "an OAuth answer of an unexpected shape");
            crate::error::ApiError::internal().into_response()
        }
    }
}

/// POST /oauth/token
#[utoipa::path(
    post,
    path = "/oauth/token",
    operation_id = "oauth_token",
    tag = "OpenID Connect",
    summary = "Exchange a code, or refresh",
    description = "RFC 6749 §4.1.3 and §6, a form. `grant_type=authorization_code` with `code`, \
        `redirect_uri` and `code_verifier` (PKCE S256); `grant_type=refresh_token` with \
        `refresh_token` (rotated: the old one is spent, and presenting it again revokes the \
        grant) and optionally a narrower `scope`. Confidential clients authenticate with \
        HTTP Basic or `client_id` and `client_secret` in the form (not both); public clients \
        send `client_id`. Every answer has `Cache-Control: no-store` and `Pragma: no-cache`.",
    request_body(
        description = "The grant.",
        content((TokenForm = "application/x-www-form-urlencoded")),
    ),
    responses(
        (status = 200, description = "The tokens.", body = TokenBody),
        (status = 400, description = "`invalid_request` (a missing or repeated parameter, an unreadable body), \
            `invalid_grant` (an unknown, spent, expired or another client's code or refresh token, \
            a wrong verifier or redirect URI), `unsupported_grant_type` or `invalid_scope`.",
            body = OAuthErrorBody),
        (status = 401, description = "`invalid_client`: unknown client or wrong secret.",
            body = OAuthErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`"))),
        (status = 429, response = crate::error::TooManyRequests),
        ServerFaults,
    ),
)]
pub(crate) fn token(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("oauth" / "token").and(warp::post()),
        handle_token,
        |result: Result<Response, Response>| no_cache(result.unwrap_or_else(|r| r)),
    )
}

async fn handle_token(ctx: RequestCtx, body: RawBody, app: App) -> Result<Response, Response> {
    app.rate_limit(&ctx).map_err(|e| e.into_response())?;
    let form: TokenForm = read_form(&ctx, body).map_err(oauth_error)?;
    let client = client_auth(&ctx, form.client_id, form.client_secret).map_err(oauth_error)?;
    let info = app.client(&ctx);
    let required = |value: Option<String>, name: &str| {
        value
            .filter(|v| !v.is_empty())
            .ok_or_else(|| bad_request(format!("{name} is required")))
    };
    let result = match form.grant_type.as_deref() {
        Some("authorization_code") => {
            let code = required(form.code, "code").map_err(oauth_error)?;
            let redirect_uri = required(form.redirect_uri, "redirect_uri").map_err(oauth_error)?;
            let verifier = required(form.code_verifier, "code_verifier").map_err(oauth_error)?;
            app.auth
                .exchange_code(&client, &code, &redirect_uri, &verifier, &info)
                .await
        }
        Some("refresh_token") => {
            let refresh = required(form.refresh_token, "refresh_token").map_err(oauth_error)?;
            app.auth
                .refresh_tokens(&client, &refresh, form.scope.as_deref(), &info)
                .await
        }
        None => return Err(invalid_request("grant_type is required")),
        Some(_) => Err(AuthError::OAuth(OAuthError::UnsupportedGrantType)),
    };
    match result {
        Ok(tokens) => Ok(json(&TokenBody::from(tokens), StatusCode::OK)),
        Err(error) => Err(oauth_error(error)),
    }
}

/// GET and POST /oauth/userinfo
#[utoipa::path(
    method(get, post),
    path = "/oauth/userinfo",
    operation_id = "oauth_userinfo",
    tag = "OpenID Connect",
    summary = "The signed-in account's claims",
    description = "OpenID Connect Core §5.3, with `Authorization: Bearer ACCESS_TOKEN`; `POST` \
        ignores its body.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The claims of the granted scopes.", body = UserinfoBody),
        (status = 401, description = "`invalid_request` (no bearer token; `WWW-Authenticate: Bearer`) \
            or `invalid_token` (unknown, expired or revoked; `WWW-Authenticate: Bearer \
            error=\"invalid_token\"`).",
            body = OAuthErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer`, with `error=\"invalid_token\"` for a bad token."))),
        ServerFaults,
    ),
)]
pub(crate) fn userinfo(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("oauth" / "userinfo")
        .and(warp::get().or(warp::post()).unify())
        .and(ctx())
        .and(app.filter())
        .then(|ctx: RequestCtx, app: App| async move {
            let bearer = ctx
                .headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .map(str::trim);
            let Some(token) = bearer else {
                let mut response = json(
                    &serde_json::json!({
                        "error": "invalid_request",
                        "error_description": "send the access token as Authorization: Bearer",
                    }),
                    StatusCode::UNAUTHORIZED,
                );
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return response;
            };
            match app.auth.userinfo(token).await {
                Ok(claims) => shaped::<UserinfoBody>(serde_json::Value::Object(claims)),
                Err(error) => oauth_error(error),
            }
        })
        .boxed()
}

/// POST /oauth/introspect
#[utoipa::path(
    post,
    path = "/oauth/introspect",
    operation_id = "oauth_introspect",
    tag = "OpenID Connect",
    summary = "Whether a token is live",
    description = "RFC 7662, a form with `token`, asked by a confidential client (HTTP Basic or \
        the form's `client_id` and `client_secret`). Only its own live access and refresh \
        tokens are `active`.",
    request_body(
        description = "The token asked about.",
        content((TokenQueryForm = "application/x-www-form-urlencoded")),
    ),
    responses(
        (status = 200, description = "`{\"active\": false}`, or the token's facts.", body = IntrospectionBody),
        (status = 400, description = "`invalid_request`: an unreadable body, or both ways of authenticating.",
            body = OAuthErrorBody),
        (status = 401, description = "`invalid_client`: unknown or public client, or wrong secret.",
            body = OAuthErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`"))),
        ServerFaults,
    ),
)]
pub(crate) fn introspect(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("oauth" / "introspect").and(warp::post()),
        handle_introspect,
        |result: Result<Response, Response>| result.unwrap_or_else(|r| r),
    )
}

async fn handle_introspect(ctx: RequestCtx, body: RawBody, app: App) -> Result<Response, Response> {
    let form: TokenQueryForm = read_form(&ctx, body).map_err(oauth_error)?;
    let _ = form.token_type_hint;
    let client = client_auth(&ctx, form.client_id, form.client_secret).map_err(oauth_error)?;
    let token = form.token.unwrap_or_default();
    match app.auth.introspect(&client, &token).await {
        Ok(answer) => Ok(shaped::<IntrospectionBody>(answer)),
        Err(error) => Err(oauth_error(error)),
    }
}

/// POST /oauth/revoke
#[utoipa::path(
    post,
    path = "/oauth/revoke",
    operation_id = "oauth_revoke",
    tag = "OpenID Connect",
    summary = "Revoke a token",
    description = "RFC 7009, a form with `token`: an access token of the client ends; a refresh \
        token ends with its whole grant. Any other token is ignored.",
    request_body(
        description = "The token to revoke.",
        content((TokenQueryForm = "application/x-www-form-urlencoded")),
    ),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke; no body."),
        (status = 400, description = "`invalid_request`: no `token`, an unreadable body, or both ways of authenticating.",
            body = OAuthErrorBody),
        (status = 401, description = "`invalid_client`: unknown client or wrong secret.",
            body = OAuthErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`"))),
        ServerFaults,
    ),
)]
pub(crate) fn revoke(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("oauth" / "revoke").and(warp::post()),
        handle_revoke,
        |result: Result<Response, Response>| result.unwrap_or_else(|r| r),
    )
}

async fn handle_revoke(ctx: RequestCtx, body: RawBody, app: App) -> Result<Response, Response> {
    let form: TokenQueryForm = read_form(&ctx, body).map_err(oauth_error)?;
    let client = client_auth(&ctx, form.client_id, form.client_secret).map_err(oauth_error)?;
    let Some(token) = form.token.filter(|t| !t.is_empty()) else {
        return Err(invalid_request("token is required"));
    };
    match app
        .auth
        .revoke_token(&client, &token, &app.client(&ctx))
        .await
    {
        Ok(()) => Ok(warp::reply::with_status(warp::reply(), StatusCode::OK).into_response()),
        Err(error) => Err(oauth_error(error)),
    }
}
