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

use super::{invalid_request, oauth_error};
use crate::app::{json, App};
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

/// POST /oauth/token
fn token(app: &App) -> BoxedFilter<(Response,)> {
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
        Ok(tokens) => Ok(json(&tokens, StatusCode::OK)),
        Err(error) => Err(oauth_error(error)),
    }
}

/// GET and POST /oauth/userinfo
fn userinfo(app: &App) -> BoxedFilter<(Response,)> {
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
                Ok(claims) => json(&claims, StatusCode::OK),
                Err(error) => oauth_error(error),
            }
        })
        .boxed()
}

/// POST /oauth/introspect
fn introspect(app: &App) -> BoxedFilter<(Response,)> {
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
        Ok(answer) => Ok(json(&answer, StatusCode::OK)),
        Err(error) => Err(oauth_error(error)),
    }
}

/// POST /oauth/revoke
fn revoke(app: &App) -> BoxedFilter<(Response,)> {
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
