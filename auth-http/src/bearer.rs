//! `Authorization: Bearer authd_pat_…` (docs/contract/11-access-tokens-and-admin-api.md,
//! RFC 6750): reading the one header, refusing a token in a query string,
//! and counting wrong tokens toward the per-address limit. Whether the token
//! lives and has the scope is auth-core's decision.

use auth_core::{AuthError, Scope, TokenHolder};
use warp::http::header;
use warp::http::StatusCode;
use warp::Filter;

use crate::app::App;
use crate::error::ApiError;
use crate::request::RequestCtx;

/// The query string of a request, or empty: read only to refuse a token in it.
pub(crate) fn raw_query(
) -> impl Filter<Extract = (String,), Error = std::convert::Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}

/// How a request presents a bearer token.
pub(crate) enum Presented {
    /// No `Authorization` header.
    Absent,
    /// One `Authorization: Bearer <token>`.
    Token(String),
}

/// The request's bearer token: 400 `invalid_request` for a token in the
/// query string (it would end up in proxies' logs and browser histories),
/// for two `Authorization` headers, or for another scheme.
pub(crate) fn presented(ctx: &RequestCtx, query: &str) -> Result<Presented, ApiError> {
    let in_query = url::form_urlencoded::parse(query.as_bytes())
        .any(|(name, _)| name.eq_ignore_ascii_case("access_token"));
    if in_query {
        return Err(invalid_request(
            "an access token is never accepted in the query string; send Authorization: Bearer",
        ));
    }
    let mut values = ctx.headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(Presented::Absent);
    };
    if values.next().is_some() {
        return Err(invalid_request("more than one Authorization header"));
    }
    let text = value
        .to_str()
        .map_err(|_| invalid_request("the Authorization header is not text"))?;
    let (scheme, token) = text
        .split_once(' ')
        .ok_or_else(|| invalid_request("expected Authorization: Bearer <token>"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(invalid_request("expected Authorization: Bearer <token>"));
    }
    Ok(Presented::Token(token.trim().to_owned()))
}

/// The holder of the request's bearer token, which must have `scope`: 401
/// `invalid_token` without a live token (each one counted toward the
/// client address's limit, 429 once it is spent), 403 `insufficient_scope`
/// without the scope.
pub(crate) async fn holder(
    app: &App,
    ctx: &RequestCtx,
    query: &str,
    scope: Scope,
) -> Result<TokenHolder, ApiError> {
    let token = match presented(ctx, query)? {
        Presented::Token(token) => token,
        Presented::Absent => {
            app.rate_limit(ctx)?;
            return Err(missing());
        }
    };
    check(app, ctx, &token, scope).await
}

/// [`holder`] for a token already read.
pub(crate) async fn check(
    app: &App,
    ctx: &RequestCtx,
    token: &str,
    scope: Scope,
) -> Result<TokenHolder, ApiError> {
    match app.auth.check_access_token(token, scope).await {
        Err(AuthError::InvalidToken) => {
            app.rate_limit(ctx)?;
            Err(AuthError::InvalidToken.into())
        }
        other => Ok(other?),
    }
}

/// 401 for a request with no token at all (RFC 6750 §3.1: no error code
/// in the challenge; the body says `invalid_token` as every 401 here does).
fn missing() -> ApiError {
    let mut error = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        "an access token is required: Authorization: Bearer authd_pat_…",
    );
    error.www_authenticate = Some(r#"Bearer realm="authd""#.into());
    error
}

fn invalid_request(message: &str) -> ApiError {
    let mut error = ApiError::bad_request("invalid_request", message);
    error.www_authenticate = Some(r#"Bearer realm="authd", error="invalid_request""#.into());
    error
}
