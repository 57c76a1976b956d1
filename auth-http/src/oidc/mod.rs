//! The OpenID Connect provider's routes (docs/contract/8-openid-connect.md):
//! discovery and keys here, the browser's side in [`authorize`], the
//! clients' endpoints in [`endpoints`], logout and the account's apps in
//! [`account`]. Every decision is auth-core's; these parse and render.

mod account;
mod authorize;
mod endpoints;

use auth_core::{AuthError, OAuthError, SUPPORTED_CLAIMS, SUPPORTED_SCOPES};
use serde_json::json;
use warp::filters::BoxedFilter;
use warp::http::header::{self, HeaderValue};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::app::{json, App};
use crate::error::ApiError;

/// Every route of the provider.
pub(crate) fn routes(app: &App) -> BoxedFilter<(Response,)> {
    discovery(app)
        .or(jwks(app))
        .unify()
        .or(authorize::routes(app))
        .unify()
        .or(endpoints::routes(app))
        .unify()
        .or(account::routes(app))
        .unify()
        .boxed()
}

/// GET /.well-known/openid-configuration
fn discovery(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!(".well-known" / "openid-configuration")
        .and(warp::get())
        .and(app.filter())
        .map(|app: App| {
            let issuer = app.auth.config().oidc_issuer.clone();
            let body = json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{issuer}/oauth/authorize"),
                "token_endpoint": format!("{issuer}/oauth/token"),
                "userinfo_endpoint": format!("{issuer}/oauth/userinfo"),
                "jwks_uri": format!("{issuer}/oauth/jwks"),
                "revocation_endpoint": format!("{issuer}/oauth/revoke"),
                "introspection_endpoint": format!("{issuer}/oauth/introspect"),
                "end_session_endpoint": format!("{issuer}/oauth/logout"),
                "response_types_supported": ["code"],
                "response_modes_supported": ["query"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "code_challenge_methods_supported": ["S256"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                "token_endpoint_auth_methods_supported":
                    ["client_secret_basic", "client_secret_post", "none"],
                "revocation_endpoint_auth_methods_supported":
                    ["client_secret_basic", "client_secret_post", "none"],
                "introspection_endpoint_auth_methods_supported":
                    ["client_secret_basic", "client_secret_post"],
                "scopes_supported": SUPPORTED_SCOPES,
                "claims_supported": SUPPORTED_CLAIMS,
                "prompt_values_supported": ["none", "login", "consent"],
                "authorization_response_iss_parameter_supported": true,
            });
            json(&body, StatusCode::OK)
        })
        .boxed()
}

/// GET /oauth/jwks
fn jwks(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("oauth" / "jwks")
        .and(warp::get())
        .and(app.filter())
        .then(|app: App| async move {
            match app.auth.published_keys().await {
                Ok(keys) => json(&json!({ "keys": keys }), StatusCode::OK),
                Err(error) => ApiError::from(error).into_response(),
            }
        })
        .boxed()
}

/// An RFC 6749 §5.2 error answer (`error`, `error_description`), with
/// `WWW-Authenticate` on a 401.
pub(crate) fn oauth_error(error: AuthError) -> Response {
    let (status, code, description) = match &error {
        AuthError::OAuth(OAuthError::InvalidClient) => (
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            error.to_string(),
        ),
        AuthError::OAuth(OAuthError::InvalidToken) => {
            (StatusCode::UNAUTHORIZED, "invalid_token", error.to_string())
        }
        AuthError::OAuth(inner) => (StatusCode::BAD_REQUEST, inner.code(), error.to_string()),
        _ => return ApiError::from(error).into_response(),
    };
    let mut response = json(
        &json!({ "error": code, "error_description": description }),
        status,
    );
    match code {
        "invalid_client" => {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"authd\""),
            );
        }
        "invalid_token" => {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        _ => {}
    }
    response
}

/// A malformed request as an RFC 6749 error (`invalid_request`).
pub(crate) fn invalid_request(message: impl Into<String>) -> Response {
    oauth_error(AuthError::OAuth(OAuthError::InvalidRequest(message.into())))
}

/// A redirect to `location` (303: a browser follows it with a GET).
pub(crate) fn see_other(location: &str) -> Response {
    let mut response =
        warp::reply::with_status(warp::reply(), StatusCode::SEE_OTHER).into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}
