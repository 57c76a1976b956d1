//! The state every handler shares, and the helpers that turn results into
//! responses.

use std::future::Future;
use std::sync::Arc;

use auth_core::{Auth, AuthError, ClientInfo};
use serde::Serialize;
use warp::filters::BoxedFilter;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::config::HttpConfig;
use crate::error::ApiError;
use crate::limiter::AddressRateLimiter;
use crate::request::{ctx_with_authority, raw_body, RawBody, RequestCtx, RequestOrigin};

/// What the handlers share: the `Auth` service, the settings and the
/// per-address limiter. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct App(Arc<AppInner>);

#[derive(Debug)]
pub(crate) struct AppInner {
    pub auth: Auth,
    pub config: HttpConfig,
    pub limiter: AddressRateLimiter,
}

impl std::ops::Deref for App {
    type Target = AppInner;

    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl App {
    pub fn new(auth: Auth, config: HttpConfig) -> Self {
        let limiter =
            AddressRateLimiter::new(config.ip_rate_limit, config.ip_limiter_sweep_interval);
        App(Arc::new(AppInner {
            auth,
            config,
            limiter,
        }))
    }

    /// A route that reads a body: `route` (its path and method), then the
    /// request's parts with its host, the body and the state, answered by
    /// `handler`, whose error `finish` turns into the answer.
    pub fn body_route<H, F, E: 'static>(
        &self,
        route: impl Filter<Extract = (), Error = Rejection> + Clone + Send + Sync + 'static,
        handler: H,
        finish: fn(Result<Response, E>) -> Response,
    ) -> BoxedFilter<(Response,)>
    where
        H: Fn(RequestCtx, RawBody, App) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Result<Response, E>> + Send + 'static,
    {
        route
            .and(ctx_with_authority())
            .and(raw_body())
            .and(self.filter())
            .then(move |ctx, body, app| {
                let handler = handler.clone();
                async move { finish(handler(ctx, body, app).await) }
            })
            .boxed()
    }

    /// A filter that hands a clone of the state to a handler.
    pub fn filter(
        &self,
    ) -> impl Filter<Extract = (App,), Error = std::convert::Infallible> + Clone {
        let app = self.clone();
        warp::any().map(move || app.clone())
    }

    pub fn client(&self, ctx: &RequestCtx) -> ClientInfo {
        ctx.client_info(&self.config.trusted_proxies)
    }

    /// Takes one request from the client address's allowance.
    pub fn rate_limit(&self, ctx: &RequestCtx) -> Result<(), ApiError> {
        match ctx.client_addr(&self.config.trusted_proxies) {
            Some(addr) => self.limiter.check(addr).map_err(ApiError::rate_limited),
            None => Ok(()),
        }
    }

    /// The `Origin` rule of the JSON API's state-changing requests
    /// (docs/contract/3-json-api.md): another origin, or the opaque `null` (which any page can make a
    /// browser send), is 403 `cross_origin`; a request without `Origin`
    /// (a script, the Holberton clients) passes. The routes that call it
    /// read the request with [`crate::request::ctx_with_authority`].
    pub fn same_origin(&self, ctx: &RequestCtx) -> Result<(), ApiError> {
        match ctx.origin(self.config.public_url.as_deref()) {
            RequestOrigin::Absent | RequestOrigin::Same => Ok(()),
            RequestOrigin::Opaque | RequestOrigin::Foreign => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "cross_origin",
                "this request was sent by a page of another site",
            )),
        }
    }

    /// The session token of the request's cookie, or 403.
    pub fn session_token(&self, ctx: &RequestCtx) -> Result<String, ApiError> {
        ctx.cookie(&self.config.cookie_name)
            .ok_or_else(|| AuthError::NotAuthenticated.into())
    }

    /// `Set-Cookie` for a new session.
    pub fn session_cookie(&self, token: &str) -> HeaderValue {
        let max_age = self.auth.config().session_max_age.as_secs() as i64;
        self.cookie_header(token, max_age)
    }

    /// `Set-Cookie` that clears the session cookie.
    pub fn cleared_cookie(&self) -> HeaderValue {
        self.cookie_header("", 0)
    }

    /// The session cookie: `Secure; HttpOnly; SameSite=Lax; Path=/`, and
    /// `Domain` with `--cookie-domain` (clearing it names the same domain,
    /// or the browser keeps it).
    fn cookie_header(&self, value: &str, max_age_secs: i64) -> HeaderValue {
        let mut cookie = cookie::Cookie::build((self.config.cookie_name.as_str(), value))
            .path("/")
            .http_only(true)
            .secure(true)
            .same_site(cookie::SameSite::Lax)
            .max_age(cookie::time::Duration::seconds(max_age_secs))
            .build();
        if let Some(domain) = &self.config.cookie_domain {
            cookie.set_domain(domain.clone());
        }
        // The name is checked at start and tokens are base64url, so this holds.
        HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// A JSON response with a status.
pub(crate) fn json(body: &impl Serialize, status: StatusCode) -> Response {
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}

/// A redirect with a `Location` and a status (302 or 303).
pub(crate) fn redirect(location: &'static str, status: StatusCode) -> Response {
    let mut response = warp::reply::with_status(warp::reply(), status).into_response();
    response
        .headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(location));
    response
}

/// A redirect to a checked location (an absolute URL auth-core accepted);
/// `/me` if it cannot be a header value.
pub(crate) fn redirect_to(location: &str, status: StatusCode) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => {
            let mut response = warp::reply::with_status(warp::reply(), status).into_response();
            response.headers_mut().insert(header::LOCATION, value);
            response
        }
        Err(_) => redirect("/me", status),
    }
}

/// Adds a `Set-Cookie` to a response.
pub(crate) fn with_cookie(mut response: Response, cookie: HeaderValue) -> Response {
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

/// The response of a handler's result.
pub(crate) fn respond(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(ApiError::into_response)
}
