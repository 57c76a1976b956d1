//! The page kit: what every page of the website shares (CSRF guards, the
//! pre-session nonce, notices, rendering with the security headers, error
//! pages). It knows no page; the pages use it.

use askama::Template;
use auth_core::AuthError;

use crate::csrf::CsrfScope;
use warp::http::header::{self, HeaderValue};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Reply;

use crate::app::{redirect, with_cookie, App};
use crate::error::ApiError;
use crate::request::{Body, RawBody, RequestCtx, RequestOrigin};

/// The cookie that carries a browser's pre-session nonce, to which the
/// sign-up and login forms' CSRF tokens are bound.
pub(crate) const PRE_SESSION_COOKIE: &str = "authd_csrf";
/// [`PRE_SESSION_COOKIE`] when the session cookie is a `__Host-` one: then
/// no sibling domain or path may plant a nonce either.
const HOST_PRE_SESSION_COOKIE: &str = "__Host-authd_csrf";
/// The one-time notice cookie shown by the page a form redirects to.
pub(crate) const FLASH_COOKIE: &str = "authd_flash";
/// No inline script or style, nothing from elsewhere, no framing. The one
/// script is the site's own `/static/webauthn.js`, which talks to the JSON
/// API of the same origin (passkeys).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     script-src 'self'; connect-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The notice of a password set with a reset link, shown by `GET /login`.
pub(crate) const FLASH_PASSWORD_UPDATED: &str = "password_updated";
/// The notice of a changed password, shown by `GET /me`.
pub(crate) const FLASH_PASSWORD_CHANGED: &str = "password_changed";

/// A page that says what went wrong, with its status as the title.
#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage<'a> {
    pub(crate) title: &'a str,
    pub(crate) message: &'a str,
}

/// Which CSRF token a form must carry.
#[derive(Clone, Copy)]
pub(crate) enum Guard {
    /// Bound to the browser's pre-session nonce.
    PreSession,
    /// Bound to the request's live session.
    Session,
}

/// The CSRF token every form carries, read before the form's own fields.
#[derive(serde::Deserialize, utoipa::ToSchema)]
pub(crate) struct CsrfField {
    /// The token of a page of this session.
    csrf_token: Option<String>,
}

/// A form whose only field is its CSRF token (log out, end sessions).
#[derive(serde::Deserialize)]
pub(crate) struct NoFields {}

/// The checks every form post passes before it may change anything: the
/// per-address limit (sign-up and login), the `Origin`, the body, and the
/// CSRF token in constant time; then the form read into `T`.
pub(crate) async fn checked_form<T: serde::de::DeserializeOwned>(
    ctx: &RequestCtx,
    body: RawBody,
    app: &App,
    guard: Guard,
) -> Result<T, Response> {
    if matches!(guard, Guard::PreSession) {
        app.rate_limit(ctx).map_err(|e| {
            let response = error_page(e.clone());
            with_retry_after(response, &e)
        })?;
    }
    if !origin_allowed(ctx, app.config.public_url.as_deref()) {
        return Err(forbidden("This form was sent from another site."));
    }
    let fields = Body::parse(&ctx.headers, body).map_err(error_page)?;
    let token = fields
        .read::<CsrfField>()
        .map_err(error_page)?
        .csrf_token
        .unwrap_or_default();
    let valid = match guard {
        Guard::PreSession => ctx.cookie(pre_session_cookie(app)).is_some_and(|nonce| {
            crate::csrf::verify(&app.auth, CsrfScope::PreSession, &nonce, &token)
        }),
        Guard::Session => {
            let session = match ctx.cookie(&app.config.cookie_name) {
                Some(session_token) => app.auth.get_user_from_session_id(&session_token).await,
                None => Err(AuthError::NotAuthenticated),
            };
            match session {
                Ok(signed_in) => crate::csrf::verify(
                    &app.auth,
                    CsrfScope::Session,
                    &signed_in.session.id,
                    &token,
                ),
                // Nothing left to end or to protect: on to the login page.
                Err(AuthError::NotAuthenticated) => {
                    return Err(with_cookie(
                        redirect("/login", StatusCode::SEE_OTHER),
                        app.cleared_cookie(),
                    ))
                }
                Err(error) => return Err(error_page(ApiError::from(error))),
            }
        }
    };
    if !valid {
        // docs/contract/6-operations.md: over plain HTTP (but on loopback) browsers drop
        // the Secure pre-session cookie, and reloading never helps.
        let no_cookie =
            matches!(guard, Guard::PreSession) && ctx.cookie(PRE_SESSION_COOKIE).is_none();
        return Err(forbidden(if no_cookie {
            "Your browser sent no cookie with this form: this site must be opened over HTTPS \
             (an https:// address), with cookies allowed."
        } else {
            "This form has expired. Reload the page and try again."
        }));
    }
    fields.read().map_err(error_page)
}

/// A form may come from this site only: its `Origin`, when it names one,
/// must be `--public-url`, or without it the request's own host
/// ([`RequestCtx::origin`], the check the JSON API makes too). Unlike the
/// JSON API, a form post with `Origin: null` is judged by its CSRF token
/// alone, as one without `Origin` is: browsers send `null` for our own forms,
/// since our pages say `Referrer-Policy: no-referrer`, and a cross-site
/// sender cannot have a valid token.
pub(crate) fn origin_allowed(ctx: &RequestCtx, public_url: Option<&str>) -> bool {
    match ctx.origin(public_url) {
        RequestOrigin::Absent | RequestOrigin::Opaque | RequestOrigin::Same => true,
        RequestOrigin::Foreign => false,
    }
}

/// The browser's pre-session nonce, and a `Set-Cookie` when it needs a new one.
pub(crate) fn pre_session_nonce(ctx: &RequestCtx, app: &App) -> (String, Option<HeaderValue>) {
    match ctx.cookie(pre_session_cookie(app)) {
        Some(nonce) if nonce.len() == 43 => (nonce, None),
        _ => {
            let nonce = auth_core::random_token();
            let cookie = cookie::Cookie::build((pre_session_cookie(app), nonce.as_str()))
                .path("/")
                .http_only(true)
                .secure(true)
                .same_site(cookie::SameSite::Lax)
                .build();
            let header = HeaderValue::from_str(&cookie.to_string()).ok();
            (nonce, header)
        }
    }
}

/// The name of the pre-session cookie: `__Host-` prefixed when the session
/// cookie's name has a prefix (browsers match prefixes case-insensitively, so
/// this does too). A `__Secure-` session cookie already means the site is
/// served over TLS, which is all `__Host-` needs beyond what the pre-session
/// cookie has (`Secure`, `Path=/`, no `Domain`).
pub(crate) fn pre_session_cookie(app: &App) -> &'static str {
    let name = app.config.cookie_name.to_ascii_lowercase();
    if name.starts_with("__host-") || name.starts_with("__secure-") {
        HOST_PRE_SESSION_COOKIE
    } else {
        PRE_SESSION_COOKIE
    }
}

pub(crate) fn flash_cookie(value: &str, max_age_secs: i64) -> HeaderValue {
    let cookie = cookie::Cookie::build((FLASH_COOKIE, value))
        .path("/")
        .http_only(true)
        .secure(true)
        .same_site(cookie::SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .build();
    HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A rendered page with the security headers every page carries.
pub(crate) fn render(page: &impl Template, status: StatusCode) -> Response {
    render_with_form_target(page, status, None)
}

/// [`render`] for a login page whose form may end at a protected site
/// (`next`, docs/contract/9-forward-auth.md): browsers apply `form-action`
/// to the redirects after a form is sent, so that site's origin (checked by
/// auth-core) is allowed beside `'self'`.
pub(crate) fn render_with_form_target(
    page: &impl Template,
    status: StatusCode,
    form_target: Option<&str>,
) -> Response {
    let html = match page.render() {
        Ok(html) => html,
        Err(error) => {
            tracing::error!(%error, "template failed");
            return warp::reply::with_status("internal error", StatusCode::INTERNAL_SERVER_ERROR)
                .into_response();
        }
    };
    let mut response = warp::reply::with_status(warp::reply::html(html), status).into_response();
    let headers = response.headers_mut();
    let policy = form_target
        .map(|origin| {
            CONTENT_SECURITY_POLICY.replace(
                "form-action 'self'",
                &format!("form-action 'self' {origin}"),
            )
        })
        .and_then(|policy| HeaderValue::from_str(&policy).ok())
        .unwrap_or_else(|| HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Unix seconds as `2026-11-21 14:48 UTC`, for people.
pub(crate) fn human_time(unix_seconds: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// An HTML page for an error, with its status.
pub(crate) fn error_page(error: ApiError) -> Response {
    let title = match error.status {
        StatusCode::FORBIDDEN => "Forbidden",
        StatusCode::TOO_MANY_REQUESTS => "Too many requests",
        StatusCode::SERVICE_UNAVAILABLE => "Unavailable",
        s if s.is_server_error() => "Something went wrong",
        _ => "Bad request",
    };
    let message = crate::wording::sentence_of(&error.message);
    let page = ErrorPage {
        title,
        message: &message,
    };
    with_retry_after(render(&page, error.status), &error)
}

pub(crate) fn forbidden(message: &str) -> Response {
    error_page(ApiError::new(StatusCode::FORBIDDEN, "forbidden", message))
}

/// Sign-up failures are the form again with 400, except throttling and faults.
pub(crate) fn form_status(error: &ApiError) -> StatusCode {
    match error.status {
        StatusCode::TOO_MANY_REQUESTS
        | StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::INTERNAL_SERVER_ERROR => error.status,
        _ => StatusCode::BAD_REQUEST,
    }
}

pub(crate) fn with_retry_after(mut response: Response, error: &ApiError) -> Response {
    if let Some(seconds) = error.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

pub(crate) fn maybe_with_cookie(response: Response, cookie: Option<HeaderValue>) -> Response {
    match cookie {
        Some(cookie) => with_cookie(response, cookie),
        None => response,
    }
}

pub(crate) fn page_result(result: Result<Response, Response>) -> Response {
    result.unwrap_or_else(|response| response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::HeaderMap;

    fn ctx_with(origin: Option<&str>, host: &str) -> RequestCtx {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        RequestCtx {
            headers,
            remote: None,
            authority: Some(host.to_owned()),
        }
    }

    #[test]
    fn origin_must_match_the_host_or_the_public_url() {
        assert!(origin_allowed(&ctx_with(None, "a.example"), None));
        assert!(origin_allowed(
            &ctx_with(Some("http://a.example"), "a.example"),
            None
        ));
        assert!(origin_allowed(
            &ctx_with(Some("https://127.0.0.1:5000"), "127.0.0.1:5000"),
            None
        ));
        assert!(!origin_allowed(
            &ctx_with(Some("https://evil.example"), "a.example"),
            None
        ));
        assert!(origin_allowed(&ctx_with(Some("null"), "a.example"), None));
        assert!(!origin_allowed(
            &ctx_with(Some("http://a.example.evil"), "a.example"),
            None
        ));
        let public = Some("https://auth.example");
        assert!(origin_allowed(
            &ctx_with(Some("https://auth.example"), "internal:5000"),
            public
        ));
        assert!(!origin_allowed(
            &ctx_with(Some("http://internal:5000"), "internal:5000"),
            public
        ));
    }
}
