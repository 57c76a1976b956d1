//! The OpenID Connect provider's routes (docs/contract/8-openid-connect.md):
//! discovery and keys here, the browser's side in [`authorize`], the
//! clients' endpoints in [`endpoints`], logout and the account's apps in
//! [`account`]. Every decision is auth-core's; these parse and render.

pub(crate) mod account;
pub(crate) mod authorize;
pub(crate) mod endpoints;

pub(crate) use authorize::{client_origin_of_next, login_hint_of_next};

use auth_core::{AuthError, OAuthError, SUPPORTED_CLAIMS, SUPPORTED_SCOPES};
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

/// The provider's metadata (OpenID Connect Discovery 1.0 §3).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Discovery {
    /// The issuer: the origin of `--public-url`, or the address listened on.
    issuer: String,
    /// `<issuer>/oauth/authorize`.
    authorization_endpoint: String,
    /// `<issuer>/oauth/token`.
    token_endpoint: String,
    /// `<issuer>/oauth/userinfo`.
    userinfo_endpoint: String,
    /// `<issuer>/oauth/jwks`.
    jwks_uri: String,
    /// `<issuer>/oauth/revoke`.
    revocation_endpoint: String,
    /// `<issuer>/oauth/introspect`.
    introspection_endpoint: String,
    /// `<issuer>/oauth/logout`.
    end_session_endpoint: String,
    /// `["code"]`.
    response_types_supported: Vec<&'static str>,
    /// `["query"]`.
    response_modes_supported: Vec<&'static str>,
    /// `["authorization_code", "refresh_token"]`.
    grant_types_supported: Vec<&'static str>,
    /// `["S256"]`: PKCE is required.
    code_challenge_methods_supported: Vec<&'static str>,
    /// `["public"]`.
    subject_types_supported: Vec<&'static str>,
    /// `["RS256", "ES256"]`.
    id_token_signing_alg_values_supported: Vec<&'static str>,
    /// `["client_secret_basic", "client_secret_post", "none"]`.
    token_endpoint_auth_methods_supported: Vec<&'static str>,
    /// The same, for revocation.
    revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    /// Confidential clients only.
    introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    /// `openid`, `profile`, `email`, `offline_access`.
    scopes_supported: Vec<&'static str>,
    /// The claims of the ID token and userinfo.
    claims_supported: Vec<&'static str>,
    /// `none`, `login`, `consent`.
    prompt_values_supported: Vec<&'static str>,
    /// `true`: authorization answers carry `iss` (RFC 9207).
    authorization_response_iss_parameter_supported: bool,
}

impl Discovery {
    fn of(issuer: &str) -> Self {
        let at = |path: &str| format!("{issuer}{path}");
        let client_auth = vec!["client_secret_basic", "client_secret_post", "none"];
        Discovery {
            issuer: issuer.to_owned(),
            authorization_endpoint: at("/oauth/authorize"),
            token_endpoint: at("/oauth/token"),
            userinfo_endpoint: at("/oauth/userinfo"),
            jwks_uri: at("/oauth/jwks"),
            revocation_endpoint: at("/oauth/revoke"),
            introspection_endpoint: at("/oauth/introspect"),
            end_session_endpoint: at("/oauth/logout"),
            response_types_supported: vec!["code"],
            response_modes_supported: vec!["query"],
            grant_types_supported: vec!["authorization_code", "refresh_token"],
            code_challenge_methods_supported: vec!["S256"],
            subject_types_supported: vec!["public"],
            id_token_signing_alg_values_supported: vec!["RS256", "ES256"],
            token_endpoint_auth_methods_supported: client_auth.clone(),
            revocation_endpoint_auth_methods_supported: client_auth,
            introspection_endpoint_auth_methods_supported: vec![
                "client_secret_basic",
                "client_secret_post",
            ],
            scopes_supported: SUPPORTED_SCOPES.to_vec(),
            claims_supported: SUPPORTED_CLAIMS.to_vec(),
            prompt_values_supported: vec!["none", "login", "consent"],
            authorization_response_iss_parameter_supported: true,
        }
    }
}

/// The published signing keys (RFC 7517).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Jwks {
    /// One JWK per published key (`kty`, `kid`, `alg`, `use`, and `n`, `e`
    /// or `crv`, `x`, `y`).
    #[schema(value_type = Vec<Object>)]
    keys: Vec<serde_json::Value>,
}

/// GET /.well-known/openid-configuration
#[utoipa::path(
    get,
    path = "/.well-known/openid-configuration",
    operation_id = "openid_configuration",
    tag = "OpenID Connect",
    summary = "The provider's metadata",
    description = "OpenID Connect Discovery 1.0: the issuer and the endpoints of the code flow \
        with PKCE (docs/contract/8-openid-connect.md).",
    responses(
        (status = 200, description = "The metadata.", body = Discovery),
    ),
)]
pub(crate) fn discovery(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!(".well-known" / "openid-configuration")
        .and(warp::get())
        .and(app.filter())
        .map(|app: App| {
            let body = Discovery::of(&app.auth.config().oidc_issuer);
            json(&body, StatusCode::OK)
        })
        .boxed()
}

/// GET /oauth/jwks
#[utoipa::path(
    get,
    path = "/oauth/jwks",
    operation_id = "jwks",
    tag = "OpenID Connect",
    summary = "The ID tokens' signing keys",
    description = "The public keys that verify ID tokens, each named by the `kid` of a token's \
        header; a key is published before it signs and for an hour after it stopped.",
    responses(
        (status = 200, description = "The key set.", body = Jwks),
        (status = 500, response = crate::error::Internal),
        (status = 503, response = crate::error::Unavailable),
    ),
)]
pub(crate) fn jwks(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("oauth" / "jwks")
        .and(warp::get())
        .and(app.filter())
        .then(|app: App| async move {
            match app.auth.published_keys().await {
                Ok(keys) => json(&Jwks { keys }, StatusCode::OK),
                Err(error) => ApiError::from(error).into_response(),
            }
        })
        .boxed()
}

/// An RFC 6749 §5.2 error body, the shape of every OAuth endpoint's 4xx.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(example = json!({"error": "invalid_grant", "error_description": "unknown refresh token"}))]
pub(crate) struct OAuthErrorBody {
    /// `invalid_request`, `invalid_client`, `invalid_grant`,
    /// `unsupported_grant_type`, `invalid_scope` or `invalid_token`.
    error: String,
    /// A sentence for the developer.
    error_description: String,
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
    let body = OAuthErrorBody {
        error: code.to_owned(),
        error_description: description,
    };
    let mut response = json(&body, status);
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

/// The origin (`scheme://host[:port]`) of a URL.
pub(crate) fn origin_of(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()
        .map(|url| url.origin().ascii_serialization())
        .filter(|origin| origin != "null")
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
