#![doc = include_str!("../README.md")]

mod admin;
mod api;
mod app;
mod bearer;
mod bodies;
mod check;
mod config;
mod csrf;
mod error;
mod forward_auth;
mod limiter;
mod metrics;
mod mfa;
mod oidc;
mod openapi;
mod ops;
mod page_kit;
mod pages;
mod passkeys;
mod request;
mod request_id;
pub mod server;
mod strict_json;
mod web;
mod wording;

use auth_core::Auth;
use warp::filters::path::FullPath;
use warp::filters::BoxedFilter;
use warp::http::header::{HeaderValue, CACHE_CONTROL, X_CONTENT_TYPE_OPTIONS};
use warp::reply::Response;
use warp::{Filter, Reply};

pub use check::{parse_credentials, DeviceCredentials, Malformed};
pub use config::{HttpConfig, ResetDelivery, TrustedProxy};
pub use error::ApiError;
pub use limiter::{RateLimit, DEFAULT_SWEEP_INTERVAL as DEFAULT_IP_LIMITER_SWEEP_INTERVAL};
pub use request::MAX_BODY_BYTES;
pub use request_id::REQUEST_ID_HEADER;

/// The tracing target of the one event that carries a secret: the reset
/// token of `--reset-delivery log` (auth-core's delivery; kept here for
/// embedders that filtered on `auth_http::RESET_TOKEN_TARGET`).
pub use auth_core::RESET_TOKEN_TARGET;

/// The whole application: every route, the 404/405 fallback, the error
/// shape and the request log.
///
/// Serve it with [`server::serve`] or any warp server, alone or beside
/// routes of your own. Its fallback answers every path it is given (404 or
/// 405), so it goes last, or under a prefix of its own:
///
/// ```
/// # use auth_core::{Auth, Config, SecretKey};
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let url = format!("sqlite://{}", dir.path().join("auth.db").display());
/// # let auth = Auth::open(&url, SecretKey::generate(), Config { bcrypt_cost: 4, ..Config::default() }).await?;
/// use warp::Filter;
///
/// let hello = warp::path!("hello").map(|| "hello from the host app");
/// let app = hello
///     .map(warp::Reply::into_response)
///     .or(warp::path("auth").and(auth_http::routes(auth, auth_http::HttpConfig::default())))
///     .unify();
///
/// let welcome = warp::test::request().path("/auth/").reply(&app).await;
/// assert_eq!(welcome.body(), r#"{"message":"Bienvenue"}"#);
/// let unknown = warp::test::request().path("/auth/nowhere").reply(&app).await;
/// assert_eq!(unknown.status(), 404);
/// # Ok(())
/// # }
/// ```
pub fn routes(auth: Auth, config: HttpConfig) -> BoxedFilter<(Response,)> {
    let app = app::App::new(auth.clone(), config);
    let trusted_proxies = app.config.trusted_proxies.clone();
    let metrics = metrics::Metrics::new(auth, app.limiter.clone());
    // Forward authentication first: it is the hottest route of a deployment
    // behind a reverse proxy, and warp tries the routes in this order.
    let every_route = forward_auth::routes(&app)
        .or(api::routes(&app))
        .unify()
        .or(mfa::routes(&app))
        .unify()
        .or(passkeys::routes(&app))
        .unify()
        .or(web::routes(&app))
        .unify()
        .or(check::routes(&app))
        .unify()
        .or(oidc::routes(&app))
        .unify()
        .or(ops::routes(&app, &metrics))
        .unify()
        .or(admin::routes(&app))
        .unify()
        .or(openapi::route())
        .unify()
        .or(fallback())
        .unify();
    request_id::assign(trusted_proxies)
        .and(every_route.recover(error::recover).unify())
        .map(|request_id, reply: Response| request_id::finish(request_id, reply))
        .with(warp::reply::with::default_header(
            X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .with(warp::reply::with::default_header(
            CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .with(warp::log::custom(move |info| log_request(&metrics, info)))
        .with(warp::trace(request_id::span))
        .map(Reply::into_response)
        .boxed()
}

/// Answers every request no route took: 405 with `Allow` for a known path,
/// 404 otherwise.
fn fallback() -> BoxedFilter<(Response,)> {
    warp::path::full()
        .and(request::ctx())
        .map(|path: FullPath, ctx: request::RequestCtx| {
            // Browsers get a page; the device check and the operations
            // endpoints answer JSON to everyone (docs/contract/5-device-check.md and 6-operations.md).
            let known = known_route(path.as_str());
            let page = ctx.prefers_html()
                && !MACHINE_ONLY_ROUTES.contains(&known.map_or("other", |(route, _)| route));
            match known {
                // /check fails in its own shape, a wrong method included.
                Some(("/check", allow)) => check::method_not_allowed(allow),
                Some((_, allow)) if page => pages::method_not_allowed(allow),
                None if page => pages::not_found(),
                Some((_, allow)) => ApiError::method_not_allowed(allow).into_response(),
                None => ApiError::not_found().into_response(),
            }
        })
        .boxed()
}

/// Routes whose errors are JSON even for a browser.
const MACHINE_ONLY_ROUTES: &[&str] = &[
    "/check",
    "/healthz",
    "/metrics",
    "/openapi.json",
    "/.well-known/openid-configuration",
    "/oauth/jwks",
    "/oauth/token",
    "/oauth/userinfo",
    "/oauth/introspect",
    "/oauth/revoke",
];

/// Every path of the JSON API (docs/contract/3-json-api.md), the device check
/// (5-device-check.md), the operations endpoints (6-operations.md) and the
/// OpenID Connect metadata and keys (8-openid-connect.md), as `/openapi.json` names it,
/// with the methods it serves as an `Allow` header lists them. The one list of
/// these routes: the fallback's 405s, the route labels of logs and metrics,
/// and the tests that hold `/openapi.json` to what the server serves all read it.
pub const API_ROUTES: &[(&str, &str)] = &[
    ("/", "GET"),
    ("/users", "POST"),
    ("/sessions", "GET, POST, DELETE"),
    ("/sessions/{id}", "DELETE"),
    ("/profile", "GET"),
    ("/reset_password", "POST, PUT"),
    ("/password", "POST"),
    ("/email", "POST"),
    ("/sessions/mfa", "POST"),
    ("/mfa/totp", "POST, DELETE"),
    ("/mfa/totp/confirm", "POST"),
    ("/mfa/recovery-codes", "POST"),
    ("/mfa/passkeys", "GET, POST"),
    ("/mfa/passkeys/options", "POST"),
    ("/mfa/passkeys/{id}", "DELETE"),
    ("/sessions/passkey", "POST"),
    ("/sessions/passkey/options", "POST"),
    ("/sessions/mfa/passkey", "POST"),
    ("/sessions/mfa/passkey/options", "POST"),
    ("/check", "GET, POST"),
    ("/healthz", "GET"),
    ("/metrics", "GET"),
    ("/openapi.json", "GET"),
    ("/.well-known/openid-configuration", "GET"),
    ("/oauth/jwks", "GET"),
    ("/admin/users", "GET, POST"),
    ("/admin/users/{username}", "GET, PATCH, DELETE"),
    ("/admin/users/{username}/password", "POST"),
    ("/admin/users/{username}/sessions", "DELETE"),
    ("/admin/users/{username}/unbind-machine", "POST"),
    ("/admin/users/{username}/mfa-reset", "POST"),
    ("/admin/clients", "GET, POST"),
    ("/admin/clients/{client_id}", "GET, DELETE"),
    ("/admin/clients/{client_id}/rotate-secret", "POST"),
    ("/admin/sites", "GET, POST"),
    ("/admin/sites/{host}", "DELETE"),
    ("/admin/events", "GET"),
];

/// The web pages (docs/contract/4-web-pages.md) and their stylesheet: served, but not
/// part of the OpenAPI description.
const WEB_ROUTES: &[(&str, &str)] = &[
    ("/signup", "GET, POST"),
    ("/login", "GET, POST"),
    ("/login/code", "POST"),
    ("/me", "GET"),
    ("/logout", "GET, POST"),
    ("/forgot", "GET, POST"),
    ("/reset", "GET, POST"),
    ("/me/password", "GET, POST"),
    ("/me/email", "GET, POST"),
    ("/me/email/resend", "POST"),
    ("/verify-email", "GET, POST"),
    ("/me/sessions", "GET"),
    ("/me/sessions/{id}/end", "POST"),
    ("/me/sessions/end-others", "POST"),
    ("/me/security", "GET"),
    ("/me/security/totp", "POST"),
    ("/me/security/totp/confirm", "POST"),
    ("/me/security/totp/remove", "POST"),
    ("/me/security/recovery-codes", "POST"),
    ("/me/security/passkeys/{id}/remove", "POST"),
    ("/me/tokens", "GET, POST"),
    ("/me/tokens/{id}/revoke", "POST"),
    ("/static/webauthn.js", "GET"),
    ("/static/style.css", "GET"),
];

/// Forward authentication (docs/contract/9-forward-auth.md): asked by reverse
/// proxies, every method read as GET; not part of the OpenAPI description.
const PROXY_ROUTES: &[(&str, &str)] = &[("/auth/verify", "GET")];

/// The OpenID Connect provider's routes (docs/contract/8-openid-connect.md)
/// beyond its metadata and keys: described by `/openapi.json` too, with the
/// browser's HTML pages and redirects and RFC 6749's error shape.
pub const OIDC_ROUTES: &[(&str, &str)] = &[
    ("/oauth/authorize", "GET, POST"),
    ("/oauth/consent", "POST"),
    ("/oauth/token", "POST"),
    ("/oauth/userinfo", "GET, POST"),
    ("/oauth/introspect", "POST"),
    ("/oauth/revoke", "POST"),
    ("/oauth/logout", "GET"),
    ("/me/apps", "GET"),
    ("/me/apps/{id}/revoke", "POST"),
];

/// The known route a request path belongs to: its name and its methods.
fn known_route(path: &str) -> Option<(&'static str, &'static str)> {
    let name = match without_trailing_slash(path) {
        "/sessions/mfa" => "/sessions/mfa",
        "/sessions/passkey" => "/sessions/passkey",
        "/mfa/passkeys/options" => "/mfa/passkeys/options",
        _ if session_id_path(path) => "/sessions/{id}",
        _ if passkey_path(path) => "/mfa/passkeys/{id}",
        _ if remove_passkey_path(path) => "/me/security/passkeys/{id}/remove",
        _ if end_session_path(path) => "/me/sessions/{id}/end",
        _ if revoke_app_path(path) => "/me/apps/{id}/revoke",
        _ if revoke_token_path(path) => "/me/tokens/{id}/revoke",
        _ if admin_user_path(path).is_some() => admin_user_path(path).unwrap_or_default(),
        _ if admin_client_path(path).is_some() => admin_client_path(path).unwrap_or_default(),
        _ if admin_site_path(path) => "/admin/sites/{host}",
        path => path,
    };
    API_ROUTES
        .iter()
        .chain(WEB_ROUTES)
        .chain(PROXY_ROUTES)
        .chain(OIDC_ROUTES)
        .find(|(route, _)| *route == name)
        .copied()
}

/// warp serves `/users/` as `/users`, so the fallback and the labels do too.
fn without_trailing_slash(path: &str) -> &str {
    match path.strip_suffix('/') {
        Some(stripped) if !stripped.is_empty() => stripped,
        _ => path,
    }
}

fn session_id_path(path: &str) -> bool {
    path.strip_prefix("/sessions/")
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

fn passkey_path(path: &str) -> bool {
    path.strip_prefix("/mfa/passkeys/")
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

fn remove_passkey_path(path: &str) -> bool {
    path.strip_prefix("/me/security/passkeys/")
        .and_then(|rest| rest.strip_suffix("/remove"))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

fn end_session_path(path: &str) -> bool {
    path.strip_prefix("/me/sessions/")
        .and_then(|rest| rest.strip_suffix("/end"))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

fn revoke_app_path(path: &str) -> bool {
    path.strip_prefix("/me/apps/")
        .and_then(|rest| rest.strip_suffix("/revoke"))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

fn revoke_token_path(path: &str) -> bool {
    path.strip_prefix("/me/tokens/")
        .and_then(|rest| rest.strip_suffix("/revoke"))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

/// The admin route of a path under `/admin/users/{username}`.
fn admin_user_path(path: &str) -> Option<&'static str> {
    let rest = without_trailing_slash(path).strip_prefix("/admin/users/")?;
    let (name, tail) = rest.split_once('/').unwrap_or((rest, ""));
    if name.is_empty() {
        return None;
    }
    match tail {
        "" => Some("/admin/users/{username}"),
        "password" => Some("/admin/users/{username}/password"),
        "sessions" => Some("/admin/users/{username}/sessions"),
        "unbind-machine" => Some("/admin/users/{username}/unbind-machine"),
        "mfa-reset" => Some("/admin/users/{username}/mfa-reset"),
        _ => None,
    }
}

/// The admin route of a path under `/admin/clients/{client_id}`.
fn admin_client_path(path: &str) -> Option<&'static str> {
    let rest = without_trailing_slash(path).strip_prefix("/admin/clients/")?;
    let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
    if id.is_empty() {
        return None;
    }
    match tail {
        "" => Some("/admin/clients/{client_id}"),
        "rotate-secret" => Some("/admin/clients/{client_id}/rotate-secret"),
        _ => None,
    }
}

fn admin_site_path(path: &str) -> bool {
    without_trailing_slash(path)
        .strip_prefix("/admin/sites/")
        .is_some_and(|host| !host.is_empty() && !host.contains('/'))
}

/// The route a path belongs to, for logs and metrics (never the raw path,
/// whose variety is unbounded).
pub fn route_label(path: &str) -> &'static str {
    known_route(path).map_or("other", |(route, _)| route)
}

/// One log line and the metrics of one answered request; the request's id
/// comes with its span.
fn log_request(metrics: &metrics::Metrics, info: warp::log::Info<'_>) {
    let route = route_label(info.path());
    metrics.record(route, info.method(), info.status().as_u16(), info.elapsed());
    tracing::info!(
        target: "authd::http",
        method = %info.method(),
        route,
        status = info.status().as_u16(),
        latency_us = info.elapsed().as_micros() as u64,
        "request"
    );
}
