//! The "whoami" website: server-rendered sign-up, login, profile and logout
//! pages, usable without JavaScript, with CSRF tokens and an `Origin` check.

use askama::Template;
use auth_core::{AuthError, Identifier, MfaMethod, Password, Registration};

use crate::csrf::CsrfScope;
use warp::filters::BoxedFilter;
use warp::http::header::{self, HeaderValue};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::app::{redirect, with_cookie, App};
use crate::error::{retry_after_secs, ApiError};
use crate::request::{
    ctx, ctx_with_authority, raw_body, Fields, RawBody, RequestCtx, RequestOrigin,
};

/// The cookie that carries a browser's pre-session nonce, to which the
/// sign-up and login forms' CSRF tokens are bound.
pub(crate) const PRE_SESSION_COOKIE: &str = "authd_csrf";
/// [`PRE_SESSION_COOKIE`] when the session cookie is a `__Host-` one: then
/// no sibling domain or path may plant a nonce either.
const HOST_PRE_SESSION_COOKIE: &str = "__Host-authd_csrf";
/// The one-time notice cookie shown by the page a form redirects to.
pub(crate) const FLASH_COOKIE: &str = "authd_flash";
/// The notice of a new account, shown by `GET /login`.
const FLASH_ACCOUNT_CREATED: &str = "account_created";
/// No inline script or style, nothing from elsewhere, no framing. The one
/// script is the site's own `/static/webauthn.js`, which talks to the JSON
/// API of the same origin (passkeys).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     script-src 'self'; connect-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const STYLESHEET: &str = include_str!("../static/style.css");
const WEBAUTHN_SCRIPT: &str = include_str!("../static/webauthn.js");

/// Every route of the website.
pub(crate) fn routes(app: &App) -> BoxedFilter<(Response,)> {
    signup_form(app)
        .or(signup(app))
        .unify()
        .or(login_form(app))
        .unify()
        .or(login(app))
        .unify()
        .or(login_code(app))
        .unify()
        .or(me(app))
        .unify()
        .or(logout(app))
        .unify()
        .or(stylesheet())
        .unify()
        .or(webauthn_script())
        .unify()
        .or(crate::pages::routes(app))
        .unify()
        .boxed()
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage<'a> {
    csrf_token: &'a str,
    min_length: usize,
    error: Option<&'a str>,
    username: &'a str,
    email: &'a str,
    full_name: &'a str,
    search_engine: &'a str,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf_token: &'a str,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    username: &'a str,
}

/// The second step of a login (docs/contract/7-second-factor.md): the code of an authenticator app
/// or a recovery code, with the token the right password opened.
#[derive(Template)]
#[template(path = "login_code.html")]
struct LoginCodePage<'a> {
    csrf_token: &'a str,
    mfa_token: &'a str,
    error: Option<&'a str>,
    /// Whether the account can answer with a code (an authenticator app).
    codes: bool,
    /// Whether the account can answer with a passkey.
    passkey: bool,
}

impl LoginCodePage<'_> {
    /// The page for the methods of a second step (a code form when none is known).
    fn methods(methods: &[MfaMethod]) -> (bool, bool) {
        let passkey = methods.contains(&MfaMethod::Passkey);
        let codes = methods.iter().any(|m| *m != MfaMethod::Passkey) || !passkey;
        (codes, passkey)
    }
}

#[derive(Template)]
#[template(path = "me.html")]
struct MePage<'a> {
    csrf_token: &'a str,
    section: &'a str,
    notice: Option<&'a str>,
    name: &'a str,
    username: Option<&'a str>,
    email: Option<&'a str>,
    full_name: Option<&'a str>,
    search_engine: Option<&'a str>,
    signed_in_since: &'a str,
}

/// A page that says what went wrong, with its status as the title.
#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage<'a> {
    pub(crate) title: &'a str,
    pub(crate) message: &'a str,
}

/// GET /signup
fn signup_form(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("signup")
        .and(warp::get())
        .and(ctx())
        .and(app.filter())
        .map(|ctx: RequestCtx, app: App| {
            let (nonce, new_cookie) = pre_session_nonce(&ctx, &app);
            let csrf_token = crate::csrf::token(&app.auth, CsrfScope::PreSession, &nonce);
            let page = SignupPage {
                csrf_token: &csrf_token,
                min_length: app.auth.config().password_min_length,
                error: None,
                username: "",
                email: "",
                full_name: "",
                search_engine: "",
            };
            maybe_with_cookie(render(&page, StatusCode::OK), new_cookie)
        })
        .boxed()
}

/// POST /signup
fn signup(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("signup")
        .and(warp::post())
        .and(ctx_with_authority())
        .and(raw_body())
        .and(app.filter())
        .then(|ctx, body, app| async move { page_result(handle_signup(ctx, body, app).await) })
        .boxed()
}

async fn handle_signup(ctx: RequestCtx, body: RawBody, app: App) -> Result<Response, Response> {
    let fields = checked_form(&ctx, body, &app, Guard::PreSession).await?;
    let nonce = ctx.cookie(pre_session_cookie(&app)).unwrap_or_default();
    let username = fields
        .optional("username")
        .map_err(error_page)?
        .unwrap_or_default();
    let email = fields
        .optional("email")
        .map_err(error_page)?
        .unwrap_or_default();
    let full_name = fields.optional("full_name").map_err(error_page)?;
    let search_engine = fields
        .optional("mothers_favorite_search_engine")
        .map_err(error_page)?;
    let registration = Registration {
        username: Some(username.clone()),
        // The form always sends the field; left empty it means no address.
        email: Some(email.clone()).filter(|e| !e.is_empty()),
        password: Password::new(
            fields
                .optional("password")
                .map_err(error_page)?
                .unwrap_or_default(),
        ),
        full_name: full_name.clone(),
        mothers_favorite_search_engine: search_engine.clone(),
    };
    match app
        .auth
        .register_user(registration, &app.client(&ctx))
        .await
    {
        Ok(_) => {
            let response = redirect("/login", StatusCode::SEE_OTHER);
            Ok(with_cookie(
                response,
                flash_cookie(FLASH_ACCOUNT_CREATED, 60),
            ))
        }
        Err(error) => {
            let message = crate::pages::sentence(&error);
            let error = ApiError::from(error);
            let csrf_token = crate::csrf::token(&app.auth, CsrfScope::PreSession, &nonce);
            let page = SignupPage {
                csrf_token: &csrf_token,
                min_length: app.auth.config().password_min_length,
                error: Some(&message),
                username: &username,
                email: &email,
                full_name: full_name.as_deref().unwrap_or_default(),
                search_engine: search_engine.as_deref().unwrap_or_default(),
            };
            Err(with_retry_after(render(&page, form_status(&error)), &error))
        }
    }
}

/// GET /login
fn login_form(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("login")
        .and(warp::get())
        .and(ctx())
        .and(app.filter())
        .map(|ctx: RequestCtx, app: App| {
            let (nonce, new_cookie) = pre_session_nonce(&ctx, &app);
            let csrf_token = crate::csrf::token(&app.auth, CsrfScope::PreSession, &nonce);
            let flash = ctx.cookie(FLASH_COOKIE);
            let notice = match flash.as_deref() {
                Some(FLASH_ACCOUNT_CREATED) => Some("Account created, please log in"),
                Some(crate::pages::FLASH_PASSWORD_UPDATED) => {
                    Some("Password updated, please log in")
                }
                _ => None,
            };
            let page = LoginPage {
                csrf_token: &csrf_token,
                notice,
                error: None,
                username: "",
            };
            let response = maybe_with_cookie(render(&page, StatusCode::OK), new_cookie);
            match flash {
                // Shown once: the cookie goes with this page.
                Some(_) => with_cookie(response, flash_cookie("", 0)),
                None => response,
            }
        })
        .boxed()
}

/// POST /login
fn login(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("login")
        .and(warp::post())
        .and(ctx_with_authority())
        .and(raw_body())
        .and(app.filter())
        .then(|ctx, body, app| async move { page_result(handle_login(ctx, body, app).await) })
        .boxed()
}

async fn handle_login(ctx: RequestCtx, body: RawBody, app: App) -> Result<Response, Response> {
    let fields = checked_form(&ctx, body, &app, Guard::PreSession).await?;
    let nonce = ctx.cookie(pre_session_cookie(&app)).unwrap_or_default();
    let username = fields
        .optional("username")
        .map_err(error_page)?
        .unwrap_or_default();
    let password = Password::new(
        fields
            .optional("password")
            .map_err(error_page)?
            .unwrap_or_default(),
    );
    let presented = ctx.cookie(&app.config.cookie_name);
    let result = app
        .auth
        .login(
            &Identifier::Any(username.clone()),
            &password,
            presented.as_deref(),
            &app.client(&ctx),
        )
        .await;
    match result {
        Ok(success) => {
            let response = redirect("/me", StatusCode::SEE_OTHER);
            Ok(with_cookie(
                response,
                app.session_cookie(success.token.expose()),
            ))
        }
        Err(AuthError::MfaRequired { mfa_token, methods }) => {
            let csrf_token = crate::csrf::token(&app.auth, CsrfScope::PreSession, &nonce);
            let (codes, passkey) = LoginCodePage::methods(&methods);
            let page = LoginCodePage {
                csrf_token: &csrf_token,
                mfa_token: mfa_token.expose(),
                error: None,
                codes,
                passkey,
            };
            Ok(render(&page, StatusCode::OK))
        }
        Err(error) => {
            let message = match &error {
                AuthError::Throttled { retry_after } => match retry_after_secs(*retry_after) {
                    1 => "Too many attempts. Try again in 1 second.".to_owned(),
                    n => format!("Too many attempts. Try again in {n} seconds."),
                },
                AuthError::Unavailable | AuthError::Overloaded { .. } | AuthError::Internal(_) => {
                    "The service is unavailable right now. Try again later.".to_owned()
                }
                // One message for every other failure, so the page says
                // nothing about which part was wrong.
                _ => "Wrong username or password.".to_owned(),
            };
            let error = ApiError::from(error);
            let csrf_token = crate::csrf::token(&app.auth, CsrfScope::PreSession, &nonce);
            let page = LoginPage {
                csrf_token: &csrf_token,
                notice: None,
                error: Some(&message),
                username: &username,
            };
            let status = match error.status {
                StatusCode::BAD_REQUEST => StatusCode::UNAUTHORIZED,
                status => status,
            };
            Err(with_retry_after(render(&page, status), &error))
        }
    }
}

/// POST /login/code
fn login_code(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("login" / "code")
        .and(warp::post())
        .and(ctx_with_authority())
        .and(raw_body())
        .and(app.filter())
        .then(|ctx, body, app| async move { page_result(handle_login_code(ctx, body, app).await) })
        .boxed()
}

async fn handle_login_code(ctx: RequestCtx, body: RawBody, app: App) -> Result<Response, Response> {
    let fields = checked_form(&ctx, body, &app, Guard::PreSession).await?;
    let nonce = ctx.cookie(pre_session_cookie(&app)).unwrap_or_default();
    let mfa_token = fields
        .optional("mfa_token")
        .map_err(error_page)?
        .unwrap_or_default();
    let code = fields
        .optional("code")
        .map_err(error_page)?
        .unwrap_or_default();
    let presented = ctx.cookie(&app.config.cookie_name);
    let result = app
        .auth
        .complete_mfa(&mfa_token, &code, presented.as_deref(), &app.client(&ctx))
        .await;
    match result {
        Ok(success) => Ok(with_cookie(
            redirect("/me", StatusCode::SEE_OTHER),
            app.session_cookie(success.token.expose()),
        )),
        Err(error) => {
            let message = crate::pages::sentence(&error);
            let error = ApiError::from(error);
            let csrf_token = crate::csrf::token(&app.auth, CsrfScope::PreSession, &nonce);
            // A wrong code: the page again, with what the step accepts (a
            // void token: the code form, which says so when sent).
            let methods = app
                .auth
                .second_step_methods(&mfa_token)
                .await
                .unwrap_or_default();
            let (codes, passkey) = LoginCodePage::methods(&methods);
            let page = LoginCodePage {
                csrf_token: &csrf_token,
                mfa_token: &mfa_token,
                error: Some(&message),
                codes,
                passkey,
            };
            Err(with_retry_after(render(&page, error.status), &error))
        }
    }
}

/// GET /me
fn me(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("me")
        .and(warp::get())
        .and(ctx())
        .and(app.filter())
        .then(|ctx: RequestCtx, app: App| async move {
            let Some(token) = ctx.cookie(&app.config.cookie_name) else {
                return redirect("/login", StatusCode::SEE_OTHER);
            };
            let flash = ctx.cookie(FLASH_COOKIE);
            let notice = match flash.as_deref() {
                Some(crate::pages::FLASH_PASSWORD_CHANGED) => Some("Password changed"),
                _ => None,
            };
            match app.auth.get_user_from_session_id(&token).await {
                Ok(signed_in) => {
                    let csrf_token =
                        crate::csrf::token(&app.auth, CsrfScope::Session, &signed_in.session.id);
                    let user = &signed_in.user;
                    let since = human_time(signed_in.session.created_at);
                    let page = MePage {
                        csrf_token: &csrf_token,
                        section: "me",
                        notice,
                        name: user.display_name(),
                        username: user.username.as_deref(),
                        email: user.email.as_deref(),
                        full_name: user.full_name.as_deref(),
                        search_engine: user.mothers_favorite_search_engine.as_deref(),
                        signed_in_since: &since,
                    };
                    let response = render(&page, StatusCode::OK);
                    match flash {
                        Some(_) => with_cookie(response, flash_cookie("", 0)),
                        None => response,
                    }
                }
                Err(AuthError::NotAuthenticated) => redirect("/login", StatusCode::SEE_OTHER),
                Err(error) => error_page(ApiError::from(error)),
            }
        })
        .boxed()
}

/// GET /logout and POST /logout
fn logout(app: &App) -> BoxedFilter<(Response,)> {
    let by_link = warp::path!("logout")
        .and(warp::get())
        .and(ctx())
        .and(app.filter())
        .then(|ctx, app| async move { end_session(ctx, app).await });
    let by_form = warp::path!("logout")
        .and(warp::post())
        .and(ctx_with_authority())
        .and(raw_body())
        .and(app.filter())
        .then(|ctx: RequestCtx, body, app: App| async move {
            match checked_form(&ctx, body, &app, Guard::Session).await {
                Ok(_) => end_session(ctx, app).await,
                Err(response) => response,
            }
        });
    by_link.or(by_form).unify().boxed()
}

/// Ends the request's session, if any, clears the cookie and goes to /login.
async fn end_session(ctx: RequestCtx, app: App) -> Response {
    if let Some(token) = ctx.cookie(&app.config.cookie_name) {
        match app.auth.destroy_session(&token, &app.client(&ctx)).await {
            Ok(()) | Err(AuthError::NotAuthenticated) => {}
            Err(error) => return error_page(ApiError::from(error)),
        }
    }
    with_cookie(
        redirect("/login", StatusCode::SEE_OTHER),
        app.cleared_cookie(),
    )
}

/// GET /static/style.css
fn stylesheet() -> BoxedFilter<(Response,)> {
    warp::path!("static" / "style.css")
        .and(warp::get())
        .map(|| {
            let mut response = STYLESHEET.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            );
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            );
            response
        })
        .boxed()
}

/// GET /static/webauthn.js
fn webauthn_script() -> BoxedFilter<(Response,)> {
    warp::path!("static" / "webauthn.js")
        .and(warp::get())
        .map(|| {
            let mut response = WEBAUTHN_SCRIPT.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            );
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            );
            response
        })
        .boxed()
}

/// Which CSRF token a form must carry.
#[derive(Clone, Copy)]
pub(crate) enum Guard {
    /// Bound to the browser's pre-session nonce.
    PreSession,
    /// Bound to the request's live session.
    Session,
}

/// The checks every form post passes before it may change anything: the
/// per-address limit (sign-up and login), the `Origin`, the body, and the
/// CSRF token in constant time.
pub(crate) async fn checked_form(
    ctx: &RequestCtx,
    body: RawBody,
    app: &App,
    guard: Guard,
) -> Result<Fields, Response> {
    if matches!(guard, Guard::PreSession) {
        app.rate_limit(ctx).map_err(|e| {
            let response = error_page(e.clone());
            with_retry_after(response, &e)
        })?;
    }
    if !origin_allowed(ctx, app.config.public_url.as_deref()) {
        return Err(forbidden("This form was sent from another site."));
    }
    let fields = Fields::parse(&ctx.headers, body).map_err(error_page)?;
    let token = fields
        .optional("csrf_token")
        .map_err(error_page)?
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
    Ok(fields)
}

/// A form may come from this site only: its `Origin`, when it names one,
/// must be `--public-url`, or without it the request's own host
/// ([`RequestCtx::origin`], the check the JSON API makes too). Unlike the
/// JSON API, a form post with `Origin: null` is judged by its CSRF token
/// alone, as one without `Origin` is: browsers send `null` for our own forms,
/// since our pages say `Referrer-Policy: no-referrer`, and a cross-site
/// sender cannot have a valid token.
fn origin_allowed(ctx: &RequestCtx, public_url: Option<&str>) -> bool {
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
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
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
    let message = crate::pages::sentence_of(&error.message);
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
fn form_status(error: &ApiError) -> StatusCode {
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
