//! The "whoami" website: server-rendered sign-up, login, profile and logout
//! pages, usable without JavaScript, with CSRF tokens and an `Origin` check.

use askama::Template;
use auth_core::{AuthError, Identifier, MfaMethod, NextTarget, Password, Registration};

use crate::csrf::CsrfScope;
use warp::filters::BoxedFilter;
use warp::http::header::{self, HeaderValue};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::app::{redirect, redirect_to, with_cookie, App};
use crate::error::{retry_after_secs, ApiError};
use crate::page_kit::*;
use crate::request::{ctx, ctx_with_authority, raw_body, RawBody, RequestCtx};
use crate::wording::sentence;

/// The notice of a new account, shown by `GET /login`.
const FLASH_ACCOUNT_CREATED: &str = "account_created";
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
    /// Where to go after the login when auth-core accepts it (a protected
    /// site, an authorization request), else empty; checked again when used.
    next: &'a str,
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
    /// Where to go after the login, carried from the first step when
    /// accepted, else empty.
    next: &'a str,
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
    email_verified: bool,
    pending_email: Option<&'a str>,
    resend: bool,
    password_breached: bool,
    full_name: Option<&'a str>,
    search_engine: Option<&'a str>,
    signed_in_since: &'a str,
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
    app.body_route(
        warp::path!("signup").and(warp::post()),
        handle_signup,
        page_result,
    )
}

async fn handle_signup(ctx: RequestCtx, body: RawBody, app: App) -> Result<Response, Response> {
    let form: SignupForm = checked_form(&ctx, body, &app, Guard::PreSession).await?;
    let nonce = ctx.cookie(pre_session_cookie(&app)).unwrap_or_default();
    let username = form.username.unwrap_or_default();
    let email = form.email.unwrap_or_default();
    let full_name = form.full_name;
    let search_engine = form.mothers_favorite_search_engine;
    let registration = Registration {
        username: Some(username.clone()),
        // The form always sends the field; left empty it means no address.
        email: Some(email.clone()).filter(|e| !e.is_empty()),
        password: Password::new(form.password.unwrap_or_default()),
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
            let message = crate::wording::sentence(&error);
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

/// The sign-up form (a field left out reads as empty).
#[derive(serde::Deserialize)]
struct SignupForm {
    username: Option<String>,
    email: Option<String>,
    full_name: Option<String>,
    mothers_favorite_search_engine: Option<String>,
    password: Option<String>,
}

/// The login form.
#[derive(serde::Deserialize)]
struct LoginForm {
    username: Option<String>,
    password: Option<String>,
    next: Option<String>,
}

/// The second step's form: the token of the first and a code.
#[derive(serde::Deserialize)]
struct LoginCodeForm {
    mfa_token: Option<String>,
    code: Option<String>,
    next: Option<String>,
}

/// The query of `GET /login`.
#[derive(serde::Deserialize, Default)]
struct LoginQuery {
    /// Where to go after the login (forward authentication and the
    /// OpenID Connect authorization endpoint send it).
    next: Option<String>,
}

/// A login's `next` as auth-core judges it: `None` unless it is one a login
/// may go to (an absolute URL on a protected host, or authd's own
/// `/oauth/authorize?…`).
async fn accepted_next(app: &App, next: &str) -> Option<NextTarget> {
    if next.is_empty() {
        return None;
    }
    app.auth.next_target(next).await.ok().flatten()
}

/// What a login page carries of `next`, and the origin its `form-action`
/// allows beside `'self'`, since browsers hold the redirects after a form to
/// it: a protected site's own, or for an authorization request the
/// client's, where it goes on to. An unaccepted `next` is carried as nothing.
async fn carried_next(app: &App, next: String) -> (String, Option<String>) {
    match accepted_next(app, &next).await {
        Some(NextTarget::ProtectedSite(url)) => {
            let origin = url::Url::parse(&url).ok().map(|url| url.origin());
            let origin = origin.filter(|origin| origin.is_tuple());
            (next, origin.map(|origin| origin.ascii_serialization()))
        }
        Some(NextTarget::SameOrigin(path)) => {
            let client = crate::oidc::client_origin_of_next(app, &path).await;
            (next, client)
        }
        None => (String::new(), None),
    }
}

/// Where a login goes once it succeeds: `next` when auth-core accepts it,
/// `/me` otherwise.
async fn after_login(app: &App, next: &str) -> Response {
    match accepted_next(app, next).await {
        Some(target) => redirect_to(target.location(), StatusCode::SEE_OTHER),
        None => redirect("/me", StatusCode::SEE_OTHER),
    }
}

/// GET /login
fn login_form(app: &App) -> BoxedFilter<(Response,)> {
    let query = warp::query::<LoginQuery>()
        .or(warp::any().map(LoginQuery::default))
        .unify();
    warp::path!("login")
        .and(warp::get())
        .and(query)
        .and(ctx())
        .and(app.filter())
        .then(|query: LoginQuery, ctx: RequestCtx, app: App| async move {
            let next = query.next.unwrap_or_default();
            // Signed in already (a passkey sign-in comes back here): straight
            // to `next` when it is one a login may go to, else to /me.
            if !next.is_empty() {
                if let Some(token) = ctx.cookie(&app.config.cookie_name) {
                    if app.auth.get_user_from_session_id(&token).await.is_ok() {
                        return after_login(&app, &next).await;
                    }
                }
            }
            let (next, form_target) = carried_next(&app, next).await;
            let hint = crate::oidc::login_hint_of_next(&next);
            let (nonce, new_cookie) = pre_session_nonce(&ctx, &app);
            let csrf_token = crate::csrf::token(&app.auth, CsrfScope::PreSession, &nonce);
            let flash = ctx.cookie(FLASH_COOKIE);
            let notice = match flash.as_deref() {
                Some(FLASH_ACCOUNT_CREATED) => Some("Account created, please log in"),
                Some(crate::page_kit::FLASH_PASSWORD_UPDATED) => {
                    Some("Password updated, please log in")
                }
                _ => None,
            };
            let page = LoginPage {
                csrf_token: &csrf_token,
                notice,
                error: None,
                username: hint.as_deref().unwrap_or_default(),
                next: &next,
            };
            let rendered = render_with_form_target(&page, StatusCode::OK, form_target.as_deref());
            let response = maybe_with_cookie(rendered, new_cookie);
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
    app.body_route(
        warp::path!("login").and(warp::post()),
        handle_login,
        page_result,
    )
}

async fn handle_login(ctx: RequestCtx, body: RawBody, app: App) -> Result<Response, Response> {
    let form: LoginForm = checked_form(&ctx, body, &app, Guard::PreSession).await?;
    let nonce = ctx.cookie(pre_session_cookie(&app)).unwrap_or_default();
    let username = form.username.unwrap_or_default();
    let password = Password::new(form.password.unwrap_or_default());
    let next = form.next.unwrap_or_default();
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
            let response = after_login(&app, &next).await;
            Ok(with_cookie(
                response,
                app.session_cookie(success.token.expose()),
            ))
        }
        Err(AuthError::MfaRequired { mfa_token, methods }) => {
            let (next, form_target) = carried_next(&app, next).await;
            let csrf_token = crate::csrf::token(&app.auth, CsrfScope::PreSession, &nonce);
            let (codes, passkey) = LoginCodePage::methods(&methods);
            let page = LoginCodePage {
                csrf_token: &csrf_token,
                mfa_token: mfa_token.expose(),
                error: None,
                codes,
                passkey,
                next: &next,
            };
            Ok(render_with_form_target(
                &page,
                StatusCode::OK,
                form_target.as_deref(),
            ))
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
                // The password was right (docs/contract/10-email.md).
                AuthError::EmailUnverified => sentence(&error),
                // One message for every other failure, so the page says
                // nothing about which part was wrong.
                _ => "Wrong username or password.".to_owned(),
            };
            let error = ApiError::from(error);
            let (next, form_target) = carried_next(&app, next).await;
            let csrf_token = crate::csrf::token(&app.auth, CsrfScope::PreSession, &nonce);
            let page = LoginPage {
                csrf_token: &csrf_token,
                notice: None,
                error: Some(&message),
                username: &username,
                next: &next,
            };
            let status = match error.status {
                StatusCode::BAD_REQUEST => StatusCode::UNAUTHORIZED,
                status => status,
            };
            let rendered = render_with_form_target(&page, status, form_target.as_deref());
            Err(with_retry_after(rendered, &error))
        }
    }
}

/// POST /login/code
fn login_code(app: &App) -> BoxedFilter<(Response,)> {
    app.body_route(
        warp::path!("login" / "code").and(warp::post()),
        handle_login_code,
        page_result,
    )
}

async fn handle_login_code(ctx: RequestCtx, body: RawBody, app: App) -> Result<Response, Response> {
    let form: LoginCodeForm = checked_form(&ctx, body, &app, Guard::PreSession).await?;
    let nonce = ctx.cookie(pre_session_cookie(&app)).unwrap_or_default();
    let mfa_token = form.mfa_token.unwrap_or_default();
    let code = form.code.unwrap_or_default();
    let next = form.next.unwrap_or_default();
    let presented = ctx.cookie(&app.config.cookie_name);
    let result = app
        .auth
        .complete_mfa(&mfa_token, &code, presented.as_deref(), &app.client(&ctx))
        .await;
    match result {
        Ok(success) => Ok(with_cookie(
            after_login(&app, &next).await,
            app.session_cookie(success.token.expose()),
        )),
        Err(error) => {
            let message = crate::wording::sentence(&error);
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
            let (next, form_target) = carried_next(&app, next).await;
            let page = LoginCodePage {
                csrf_token: &csrf_token,
                mfa_token: &mfa_token,
                error: Some(&message),
                codes,
                passkey,
                next: &next,
            };
            let rendered = render_with_form_target(&page, error.status, form_target.as_deref());
            Err(with_retry_after(rendered, &error))
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
                Some(crate::page_kit::FLASH_PASSWORD_CHANGED) => Some("Password changed"),
                Some(crate::pages::FLASH_EMAIL_LINK_SENT) => Some(
                    "A verification link is on its way. The address is verified when you open it.",
                ),
                Some(crate::pages::FLASH_EMAIL_NOTHING) => {
                    Some("Your e-mail address is already verified.")
                }
                _ => None,
            };
            match app.auth.get_user_from_session_id(&token).await {
                Ok(signed_in) => {
                    let csrf_token =
                        crate::csrf::token(&app.auth, CsrfScope::Session, &signed_in.session.id);
                    let user = &signed_in.user;
                    let since = human_time(signed_in.session.created_at);
                    let status = match app.auth.email_status(user).await {
                        Ok(status) => status,
                        Err(error) => return error_page(ApiError::from(error)),
                    };
                    let page = MePage {
                        csrf_token: &csrf_token,
                        section: "me",
                        notice,
                        name: user.display_name(),
                        username: user.username.as_deref(),
                        email: user.email.as_deref(),
                        email_verified: user.email_verified,
                        pending_email: status.pending.as_deref(),
                        resend: status.pending.is_some()
                            || (user.email.is_some() && !user.email_verified),
                        password_breached: status.password_breached,
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
            match checked_form::<NoFields>(&ctx, body, &app, Guard::Session).await {
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
