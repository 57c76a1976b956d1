//! The account pages of the website beyond sign-up and login: a forgotten
//! password (`/forgot`, `/reset`), the password change, the session list, the
//! security page, the HTML 404 and 405 pages for browsers, and the one
//! wording of every message a page shows.

use askama::Template;
use auth_core::{
    human_duration, parse_reset_link_token, AuthError, Authenticated, Identifier, Password,
};
use warp::filters::BoxedFilter;
use warp::http::header::{self, HeaderValue};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

use crate::app::{redirect, with_cookie, App};
use crate::csrf::CsrfScope;
use crate::error::ApiError;
use crate::page_kit::{
    checked_form, error_page, flash_cookie, human_time, maybe_with_cookie, page_result,
    pre_session_nonce, render, with_retry_after, ErrorPage, Guard, FLASH_COOKIE,
    FLASH_PASSWORD_CHANGED, FLASH_PASSWORD_UPDATED,
};
use crate::request::{ctx, ctx_with_authority, raw_body, Fields, RawBody, RequestCtx};
use crate::wording::sentence;

/// The notices of `GET /me/sessions`.
const FLASH_SESSION_ENDED: &str = "session_ended";
const FLASH_OTHERS_ENDED: &str = "others_ended";
const FLASH_SESSION_GONE: &str = "session_gone";

/// Every route of this module.
pub(crate) fn routes(app: &App) -> BoxedFilter<(Response,)> {
    forgot_form(app)
        .or(forgot(app))
        .unify()
        .or(reset_form(app))
        .unify()
        .or(reset(app))
        .unify()
        .or(password_form(app))
        .unify()
        .or(change_password(app))
        .unify()
        .or(sessions_page(app))
        .unify()
        .or(end_one_session(app))
        .unify()
        .or(end_other_sessions(app))
        .unify()
        .or(security_page(app))
        .unify()
        .or(security_actions(app))
        .unify()
        .boxed()
}

// ----- the templates -----

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage<'a> {
    csrf_token: &'a str,
    sent: bool,
    ttl: &'a str,
    error: Option<&'a str>,
    username: &'a str,
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage<'a> {
    csrf_token: &'a str,
    valid: bool,
    token: &'a str,
    ask_account: bool,
    /// The account the link names, shown so a person knows which one it is.
    account: Option<String>,
    username: &'a str,
    min_length: usize,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage<'a> {
    csrf_token: &'a str,
    section: &'a str,
    min_length: usize,
    error: Option<&'a str>,
}

/// One line of the session list.
struct SessionRow {
    id: String,
    device: String,
    user_agent: String,
    signed_in: String,
    last_seen: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage<'a> {
    csrf_token: &'a str,
    section: &'a str,
    notice: Option<&'a str>,
    rows: Vec<SessionRow>,
    others: bool,
}

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage<'a> {
    csrf_token: &'a str,
    section: &'a str,
    notice: Option<&'a str>,
    error: Option<String>,
    totp: bool,
    recovery_codes_left: i64,
    enrolment: Option<Enrolment>,
    recovery_codes: Option<Vec<String>>,
    passkeys: Vec<PasskeyRow>,
}

/// A passkey as the security page lists it.
struct PasskeyRow {
    id: String,
    name: String,
    created: String,
    last_used: Option<String>,
}

/// A started authenticator-app enrolment as the page shows it.
struct Enrolment {
    /// The `otpauth://` URI as an inline SVG QR code.
    qr_svg: String,
    secret: String,
}

// ----- /forgot -----

/// GET /forgot
fn forgot_form(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("forgot")
        .and(warp::get())
        .and(ctx())
        .and(app.filter())
        .map(|ctx: RequestCtx, app: App| {
            let (nonce, new_cookie) = pre_session_nonce(&ctx, &app);
            let csrf_token = crate::csrf::token(&app.auth, CsrfScope::PreSession, &nonce);
            let page = forgot_page(&csrf_token, None, "");
            maybe_with_cookie(render(&page, StatusCode::OK), new_cookie)
        })
        .boxed()
}

/// The form of `/forgot`, with an error and the typed name after a failure.
fn forgot_page<'a>(
    csrf_token: &'a str,
    error: Option<&'a str>,
    username: &'a str,
) -> ForgotPage<'a> {
    ForgotPage {
        csrf_token,
        sent: false,
        ttl: "",
        error,
        username,
    }
}

/// POST /forgot
fn forgot(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("forgot")
        .and(warp::post())
        .and(ctx_with_authority())
        .and(raw_body())
        .and(app.filter())
        .then(|ctx, body, app| async move { page_result(handle_forgot(ctx, body, app).await) })
        .boxed()
}

async fn handle_forgot(ctx: RequestCtx, body: RawBody, app: App) -> Result<Response, Response> {
    let fields = checked_form(&ctx, body, &app, Guard::PreSession).await?;
    let name = fields
        .optional("username")
        .map_err(error_page)?
        .unwrap_or_default();
    let name = name.trim().to_owned();
    if name.is_empty() {
        let nonce = ctx
            .cookie(crate::page_kit::pre_session_cookie(&app))
            .unwrap_or_default();
        let csrf_token = crate::csrf::token(&app.auth, CsrfScope::PreSession, &nonce);
        let page = forgot_page(
            &csrf_token,
            Some("Enter your username or e-mail address."),
            "",
        );
        return Err(render(&page, StatusCode::BAD_REQUEST));
    }
    // The page is the same whatever happens next, and answers before anything
    // about the account is looked up: neither its words nor its timing say
    // whether the account exists, has an e-mail address, or how long the
    // mail server takes.
    app.auth.send_password_reset_link(name, app.client(&ctx));
    let ttl = human_duration(app.auth.config().reset_token_ttl);
    let page = ForgotPage {
        csrf_token: "",
        sent: true,
        ttl: &ttl,
        error: None,
        username: "",
    };
    Ok(render(&page, StatusCode::OK))
}

// ----- /reset -----

/// The one `token` of a query string; none when absent, repeated or unreadable.
fn token_of_query(query: &str) -> Option<String> {
    let mut found = query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("token="))
        .map(|value| {
            percent_encoding::percent_decode_str(value)
                .decode_utf8()
                .map(|v| v.into_owned())
        });
    let first = found.next()?.ok()?;
    match found.next() {
        Some(_) => None,
        None => Some(first),
    }
}

/// GET /reset?token=T
fn reset_form(app: &App) -> BoxedFilter<(Response,)> {
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    warp::path!("reset")
        .and(warp::get())
        .and(query)
        .and(ctx())
        .and(app.filter())
        .then(|query: String, ctx: RequestCtx, app: App| async move {
            let (nonce, new_cookie) = pre_session_nonce(&ctx, &app);
            let csrf_token = crate::csrf::token(&app.auth, CsrfScope::PreSession, &nonce);
            let link = token_of_query(&query).unwrap_or_default();
            let response = match reset_token_state(&app, &link).await {
                Ok(state) => {
                    let page = reset_page(&app, &csrf_token, &link, state, "", None);
                    render(&page, state.status())
                }
                Err(response) => response,
            };
            maybe_with_cookie(response, new_cookie)
        })
        .boxed()
}

/// What a reset link's token is known to be before it is used.
#[derive(Clone, Copy)]
enum TokenState {
    /// Live: the form.
    Live,
    /// Unknown, expired or used: a page that says so.
    Dead,
    /// Well-formed, but the link names no account (a token from the JSON
    /// API): the form asks for the account, and the POST decides.
    AccountNeeded,
}

impl TokenState {
    fn status(self) -> StatusCode {
        match self {
            TokenState::Dead => StatusCode::FORBIDDEN,
            TokenState::Live | TokenState::AccountNeeded => StatusCode::OK,
        }
    }
}

/// Checks a link's token without using it up: it must be live, and live
/// for the account the link names.
async fn reset_token_state(app: &App, link: &str) -> Result<TokenState, Response> {
    let Some((token, account)) = parse_reset_link_token(link) else {
        return Ok(TokenState::Dead);
    };
    let holder = match app.auth.reset_token_holder(&token).await {
        Ok(Some(holder)) => holder,
        Ok(None) => return Ok(TokenState::Dead),
        Err(error) => return Err(error_page(ApiError::from(error))),
    };
    let Some(account) = account else {
        return Ok(TokenState::AccountNeeded);
    };
    match app.auth.find_user(&account).await {
        Ok(Some(named)) if named.id == holder.id => Ok(TokenState::Live),
        Ok(_) => Ok(TokenState::Dead),
        Err(error) => Err(error_page(ApiError::from(error))),
    }
}

fn reset_page<'a>(
    app: &App,
    csrf_token: &'a str,
    link: &'a str,
    state: TokenState,
    username: &'a str,
    error: Option<&'a str>,
) -> ResetPage<'a> {
    ResetPage {
        csrf_token,
        valid: !matches!(state, TokenState::Dead),
        token: link,
        ask_account: matches!(state, TokenState::AccountNeeded),
        account: match (state, parse_reset_link_token(link)) {
            (TokenState::Live, Some((_, Some(account)))) => Some(account.as_str().to_owned()),
            _ => None,
        },
        username,
        min_length: app.auth.config().password_min_length,
        error,
    }
}

/// POST /reset
fn reset(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("reset")
        .and(warp::post())
        .and(ctx_with_authority())
        .and(raw_body())
        .and(app.filter())
        .then(|ctx, body, app| async move { page_result(handle_reset(ctx, body, app).await) })
        .boxed()
}

async fn handle_reset(ctx: RequestCtx, body: RawBody, app: App) -> Result<Response, Response> {
    let fields = checked_form(&ctx, body, &app, Guard::PreSession).await?;
    let nonce = ctx
        .cookie(crate::page_kit::pre_session_cookie(&app))
        .unwrap_or_default();
    let csrf_token = crate::csrf::token(&app.auth, CsrfScope::PreSession, &nonce);
    let link = text_field(&fields, "token").map_err(error_page)?;
    let typed_account = text_field(&fields, "username").map_err(error_page)?;
    let new_password = text_field(&fields, "new_password").map_err(error_page)?;
    let again = text_field(&fields, "new_password_again").map_err(error_page)?;
    let dead = || {
        let page = reset_page(&app, &csrf_token, "", TokenState::Dead, "", None);
        render(&page, StatusCode::FORBIDDEN)
    };
    let Some((token, account)) = parse_reset_link_token(&link) else {
        return Err(dead());
    };
    let state = match account {
        Some(_) => TokenState::Live,
        None => TokenState::AccountNeeded,
    };
    let form_again = |message: &str| {
        let page = reset_page(
            &app,
            &csrf_token,
            &link,
            state,
            &typed_account,
            Some(message),
        );
        render(&page, StatusCode::BAD_REQUEST)
    };
    let account = match account {
        Some(account) => account,
        None if typed_account.trim().is_empty() => {
            return Err(form_again("Enter your username or e-mail address."))
        }
        None => Identifier::Any(typed_account.trim().to_owned()),
    };
    if new_password != again {
        return Err(form_again("The two new passwords do not match."));
    }
    match app
        .auth
        .update_password(
            &account,
            &token,
            &Password::new(new_password),
            &app.client(&ctx),
        )
        .await
    {
        Ok(_) => Ok(with_cookie(
            redirect("/login", StatusCode::SEE_OTHER),
            flash_cookie(FLASH_PASSWORD_UPDATED, 60),
        )),
        Err(AuthError::InvalidResetToken) => Err(dead()),
        Err(error @ AuthError::PasswordRejected(_)) => Err(form_again(&sentence(&error))),
        Err(error) => Err(error_page(ApiError::from(error))),
    }
}

/// A form field as text, the empty string when it is absent.
fn text_field(fields: &Fields, name: &'static str) -> Result<String, ApiError> {
    Ok(fields.optional(name)?.unwrap_or_default())
}

// ----- signed-in pages -----

/// The request's session and its user, or the way to the login page.
async fn signed_in(ctx: &RequestCtx, app: &App) -> Result<(String, Authenticated), Response> {
    let Some(token) = ctx.cookie(&app.config.cookie_name) else {
        return Err(redirect("/login", StatusCode::SEE_OTHER));
    };
    match app.auth.get_user_from_session_id(&token).await {
        Ok(signed_in) => Ok((token, signed_in)),
        Err(AuthError::NotAuthenticated) => Err(redirect("/login", StatusCode::SEE_OTHER)),
        Err(error) => Err(error_page(ApiError::from(error))),
    }
}

/// The notice of a flash cookie this page owns, and whether to clear the cookie.
fn take_flash(ctx: &RequestCtx, known: &[(&str, &'static str)]) -> (Option<&'static str>, bool) {
    match ctx.cookie(FLASH_COOKIE) {
        Some(flash) => (
            known
                .iter()
                .find(|(code, _)| *code == flash)
                .map(|(_, notice)| *notice),
            true,
        ),
        None => (None, false),
    }
}

fn clearing_flash(response: Response, clear: bool) -> Response {
    if clear {
        with_cookie(response, flash_cookie("", 0))
    } else {
        response
    }
}

/// GET /me/password
fn password_form(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("me" / "password")
        .and(warp::get())
        .and(ctx())
        .and(app.filter())
        .then(|ctx: RequestCtx, app: App| async move {
            let (_, signed_in) = match signed_in(&ctx, &app).await {
                Ok(found) => found,
                Err(response) => return response,
            };
            let csrf_token =
                crate::csrf::token(&app.auth, CsrfScope::Session, &signed_in.session.id);
            let page = PasswordPage {
                csrf_token: &csrf_token,
                section: "password",
                min_length: app.auth.config().password_min_length,
                error: None,
            };
            render(&page, StatusCode::OK)
        })
        .boxed()
}

/// POST /me/password
fn change_password(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("me" / "password")
        .and(warp::post())
        .and(ctx_with_authority())
        .and(raw_body())
        .and(app.filter())
        .then(|ctx, body, app| async move {
            page_result(handle_change_password(ctx, body, app).await)
        })
        .boxed()
}

async fn handle_change_password(
    ctx: RequestCtx,
    body: RawBody,
    app: App,
) -> Result<Response, Response> {
    let fields = checked_form(&ctx, body, &app, Guard::Session).await?;
    let (token, signed_in) = signed_in(&ctx, &app).await?;
    let current = text_field(&fields, "current_password").map_err(error_page)?;
    let new_password = text_field(&fields, "new_password").map_err(error_page)?;
    let again = text_field(&fields, "new_password_again").map_err(error_page)?;
    let csrf_token = crate::csrf::token(&app.auth, CsrfScope::Session, &signed_in.session.id);
    let form_again = |message: &str, status: StatusCode| {
        let page = PasswordPage {
            csrf_token: &csrf_token,
            section: "password",
            min_length: app.auth.config().password_min_length,
            error: Some(message),
        };
        render(&page, status)
    };
    if new_password != again {
        return Err(form_again(
            "The two new passwords do not match.",
            StatusCode::BAD_REQUEST,
        ));
    }
    let result = app
        .auth
        .change_password(
            &token,
            &Password::new(current),
            &Password::new(new_password),
            &app.client(&ctx),
        )
        .await;
    match result {
        Ok(success) => {
            let response = with_cookie(
                redirect("/me", StatusCode::SEE_OTHER),
                app.session_cookie(success.token.expose()),
            );
            Ok(with_cookie(
                response,
                flash_cookie(FLASH_PASSWORD_CHANGED, 60),
            ))
        }
        Err(AuthError::InvalidCredentials) => Err(form_again(
            "The current password is wrong.",
            StatusCode::UNAUTHORIZED,
        )),
        Err(error @ AuthError::PasswordRejected(_)) => {
            Err(form_again(&sentence(&error), StatusCode::BAD_REQUEST))
        }
        Err(error @ AuthError::Throttled { .. }) => {
            let message = sentence(&error);
            let api = ApiError::from(error);
            Err(with_retry_after(
                form_again(&message, StatusCode::TOO_MANY_REQUESTS),
                &api,
            ))
        }
        // The session ended meanwhile (another change won the race).
        Err(AuthError::NotAuthenticated) => Err(with_cookie(
            redirect("/login", StatusCode::SEE_OTHER),
            app.cleared_cookie(),
        )),
        Err(error) => Err(error_page(ApiError::from(error))),
    }
}

/// GET /me/sessions
fn sessions_page(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("me" / "sessions")
        .and(warp::get())
        .and(ctx())
        .and(app.filter())
        .then(|ctx: RequestCtx, app: App| async move {
            let Some(token) = ctx.cookie(&app.config.cookie_name) else {
                return redirect("/login", StatusCode::SEE_OTHER);
            };
            let (signed_in, sessions) = match app.auth.list_sessions(&token).await {
                Ok(found) => found,
                Err(AuthError::NotAuthenticated) => {
                    return redirect("/login", StatusCode::SEE_OTHER)
                }
                Err(error) => return error_page(ApiError::from(error)),
            };
            let (notice, clear) = take_flash(
                &ctx,
                &[
                    (FLASH_SESSION_ENDED, "The session has ended."),
                    (FLASH_OTHERS_ENDED, "Every other session has ended."),
                    (FLASH_SESSION_GONE, "That session had already ended."),
                ],
            );
            let csrf_token =
                crate::csrf::token(&app.auth, CsrfScope::Session, &signed_in.session.id);
            let rows: Vec<SessionRow> = sessions
                .iter()
                .map(|session| {
                    let user_agent = session.user_agent.clone().unwrap_or_default();
                    SessionRow {
                        id: session.id.clone(),
                        device: device_of(&user_agent),
                        user_agent: if user_agent.is_empty() {
                            "No user agent given".into()
                        } else {
                            user_agent
                        },
                        signed_in: human_time(session.created_at),
                        last_seen: human_time(session.last_seen_at),
                        current: session.id == signed_in.session.id,
                    }
                })
                .collect();
            let mut rows = rows;
            // This session first, then the others newest first.
            rows.sort_by_key(|row| !row.current);
            let others = rows.iter().any(|row| !row.current);
            let page = SessionsPage {
                csrf_token: &csrf_token,
                section: "sessions",
                notice,
                rows,
                others,
            };
            clearing_flash(render(&page, StatusCode::OK), clear)
        })
        .boxed()
}

/// A short name for the device of a user agent: `Firefox on Linux`.
fn device_of(user_agent: &str) -> String {
    let has = |needle: &str| user_agent.contains(needle);
    let browser = if has("Edg/") {
        "Edge"
    } else if has("OPR/") {
        "Opera"
    } else if has("Firefox/") {
        "Firefox"
    } else if has("Chrome/") || has("Chromium/") || has("HeadlessChrome/") {
        "Chrome"
    } else if has("Safari/") {
        "Safari"
    } else if has("curl/") {
        "curl"
    } else if user_agent.is_empty() {
        return "Unknown device".into();
    } else {
        "A program"
    };
    let system = if has("iPhone") || has("iPad") {
        Some("iOS")
    } else if has("Android") {
        Some("Android")
    } else if has("Windows") {
        Some("Windows")
    } else if has("Mac OS X") || has("Macintosh") {
        Some("macOS")
    } else if has("CrOS") {
        Some("ChromeOS")
    } else if has("Linux") || has("X11") {
        Some("Linux")
    } else {
        None
    };
    match system {
        Some(system) => format!("{browser} on {system}"),
        None => browser.to_owned(),
    }
}

/// POST /me/sessions/{id}/end
fn end_one_session(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("me" / "sessions" / String / "end")
        .and(warp::post())
        .and(ctx_with_authority())
        .and(raw_body())
        .and(app.filter())
        .then(|id: String, ctx: RequestCtx, body, app: App| async move {
            page_result(handle_end_one(id, ctx, body, app).await)
        })
        .boxed()
}

async fn handle_end_one(
    id: String,
    ctx: RequestCtx,
    body: RawBody,
    app: App,
) -> Result<Response, Response> {
    checked_form(&ctx, body, &app, Guard::Session).await?;
    let (token, signed_in) = signed_in(&ctx, &app).await?;
    if id == signed_in.session.id {
        // Ending this very session is logging out.
        return match app.auth.destroy_session(&token, &app.client(&ctx)).await {
            Ok(()) | Err(AuthError::NotAuthenticated) => Ok(with_cookie(
                redirect("/login", StatusCode::SEE_OTHER),
                app.cleared_cookie(),
            )),
            Err(error) => Err(error_page(ApiError::from(error))),
        };
    }
    let flash = match app.auth.end_session(&token, &id, &app.client(&ctx)).await {
        Ok(()) => FLASH_SESSION_ENDED,
        // Ended already (a second click, a replayed form), or never this
        // user's: nothing to do, and the list shows what is left.
        Err(AuthError::NotFound) => FLASH_SESSION_GONE,
        Err(AuthError::NotAuthenticated) => return Err(redirect("/login", StatusCode::SEE_OTHER)),
        Err(error) => return Err(error_page(ApiError::from(error))),
    };
    Ok(with_cookie(
        redirect("/me/sessions", StatusCode::SEE_OTHER),
        flash_cookie(flash, 60),
    ))
}

/// POST /me/sessions/end-others
fn end_other_sessions(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("me" / "sessions" / "end-others")
        .and(warp::post())
        .and(ctx_with_authority())
        .and(raw_body())
        .and(app.filter())
        .then(|ctx, body, app| async move { page_result(handle_end_others(ctx, body, app).await) })
        .boxed()
}

async fn handle_end_others(ctx: RequestCtx, body: RawBody, app: App) -> Result<Response, Response> {
    checked_form(&ctx, body, &app, Guard::Session).await?;
    let Some(token) = ctx.cookie(&app.config.cookie_name) else {
        return Err(redirect("/login", StatusCode::SEE_OTHER));
    };
    let (signed_in, sessions) = match app.auth.list_sessions(&token).await {
        Ok(found) => found,
        Err(AuthError::NotAuthenticated) => return Err(redirect("/login", StatusCode::SEE_OTHER)),
        Err(error) => return Err(error_page(ApiError::from(error))),
    };
    let client = app.client(&ctx);
    for session in sessions
        .iter()
        .filter(|session| session.id != signed_in.session.id)
    {
        match app.auth.end_session(&token, &session.id, &client).await {
            Ok(()) | Err(AuthError::NotFound) => {}
            Err(AuthError::NotAuthenticated) => {
                return Err(redirect("/login", StatusCode::SEE_OTHER))
            }
            Err(error) => return Err(error_page(ApiError::from(error))),
        }
    }
    Ok(with_cookie(
        redirect("/me/sessions", StatusCode::SEE_OTHER),
        flash_cookie(FLASH_OTHERS_ENDED, 60),
    ))
}

/// GET /me/security
fn security_page(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("me" / "security")
        .and(warp::get())
        .and(ctx())
        .and(app.filter())
        .then(|ctx: RequestCtx, app: App| async move {
            let (_, signed_in) = match signed_in(&ctx, &app).await {
                Ok(found) => found,
                Err(response) => return response,
            };
            let csrf_token =
                crate::csrf::token(&app.auth, CsrfScope::Session, &signed_in.session.id);
            let (notice, clear) = take_flash(
                &ctx,
                &[
                    (FLASH_TOTP_REMOVED, "The authenticator app is off."),
                    (FLASH_PASSKEY_REMOVED, "The passkey is removed."),
                ],
            );
            let page = SecurityPage {
                notice,
                ..security_page_of(&app, &signed_in.user.id, &csrf_token).await
            };
            clearing_flash(render(&page, StatusCode::OK), clear)
        })
        .boxed()
}

const FLASH_TOTP_REMOVED: &str = "totp-removed";
const FLASH_PASSKEY_REMOVED: &str = "passkey-removed";

/// The security page of a user as things stand.
async fn security_page_of<'a>(app: &App, user_id: &str, csrf_token: &'a str) -> SecurityPage<'a> {
    let factors = app.auth.second_factors(user_id).await.unwrap_or_default();
    let passkeys = app
        .auth
        .passkeys_of(user_id)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|p| PasskeyRow {
            id: p.id,
            name: p.name,
            created: human_time(p.created_at),
            last_used: p.last_used_at.map(human_time),
        })
        .collect();
    SecurityPage {
        passkeys,
        csrf_token,
        section: "security",
        notice: None,
        error: None,
        totp: factors.totp,
        recovery_codes_left: factors.recovery_codes_left,
        enrolment: None,
        recovery_codes: None,
    }
}

/// The `otpauth://` URI as an SVG element to put inline in the page.
fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build();
    // The XML declaration has no place inside an HTML page.
    Some(svg[svg.find("<svg")?..].to_owned())
}

/// POST /me/security/totp, /me/security/totp/confirm, /me/security/recovery-codes,
/// /me/security/totp/remove
fn security_actions(app: &App) -> BoxedFilter<(Response,)> {
    warp::path!("me" / "security" / ..)
        .and(warp::path::tail())
        .and(warp::post())
        .and(ctx_with_authority())
        .and(raw_body())
        .and(app.filter())
        .and_then(|tail: warp::path::Tail, ctx, body, app| async move {
            let action = match tail.as_str() {
                "totp" => SecurityAction::Begin,
                "totp/confirm" => SecurityAction::Confirm,
                "recovery-codes" => SecurityAction::NewCodes,
                "totp/remove" => SecurityAction::Remove,
                other => match other
                    .strip_prefix("passkeys/")
                    .and_then(|rest| rest.strip_suffix("/remove"))
                    .filter(|id| !id.is_empty() && !id.contains('/'))
                {
                    Some(id) => SecurityAction::RemovePasskey(id.to_owned()),
                    None => return Err(warp::reject::not_found()),
                },
            };
            Ok(page_result(
                handle_security_action(action, ctx, body, app).await,
            ))
        })
        .boxed()
}

#[derive(Clone)]
enum SecurityAction {
    Begin,
    Confirm,
    NewCodes,
    Remove,
    /// Remove the passkey with this id.
    RemovePasskey(String),
}

async fn handle_security_action(
    action: SecurityAction,
    ctx: RequestCtx,
    body: RawBody,
    app: App,
) -> Result<Response, Response> {
    let fields = checked_form(&ctx, body, &app, Guard::Session).await?;
    let (token, signed_in) = signed_in(&ctx, &app).await?;
    let csrf_token = crate::csrf::token(&app.auth, CsrfScope::Session, &signed_in.session.id);
    let client = app.client(&ctx);
    let field = |name: &'static str| -> Result<String, ApiError> {
        Ok(fields.optional(name)?.unwrap_or_default())
    };
    let outcome = match &action {
        SecurityAction::RemovePasskey(id) => {
            let removed = app
                .auth
                .remove_passkey(
                    &token,
                    id,
                    &Password::new(field("password").map_err(error_page)?),
                    &client,
                )
                .await;
            return match removed {
                Ok(()) | Err(AuthError::NotFound) => Ok(with_cookie(
                    redirect("/me/security", StatusCode::SEE_OTHER),
                    flash_cookie(FLASH_PASSKEY_REMOVED, 60),
                )),
                Err(AuthError::NotAuthenticated) => Err(redirect("/login", StatusCode::SEE_OTHER)),
                Err(error) => {
                    let page = SecurityPage {
                        error: Some(sentence(&error)),
                        ..security_page_of(&app, &signed_in.user.id, &csrf_token).await
                    };
                    let error = ApiError::from(error);
                    Err(with_retry_after(render(&page, error.status), &error))
                }
            };
        }
        SecurityAction::Begin => app.auth.begin_totp(&token).await.map(|enrolment| {
            (
                Some(Enrolment {
                    qr_svg: qr_svg(&enrolment.otpauth_uri).unwrap_or_default(),
                    secret: enrolment.secret.clone(),
                }),
                None,
            )
        }),
        SecurityAction::Confirm => app
            .auth
            .confirm_totp(&token, &field("code").map_err(error_page)?, &client)
            .await
            .map(|codes| (None, Some(codes.0))),
        SecurityAction::NewCodes => app
            .auth
            .replace_recovery_codes(
                &token,
                &Password::new(field("password").map_err(error_page)?),
                &client,
            )
            .await
            .map(|codes| (None, Some(codes.0))),
        SecurityAction::Remove => {
            return match app
                .auth
                .remove_totp(
                    &token,
                    &Password::new(field("password").map_err(error_page)?),
                    &client,
                )
                .await
            {
                Ok(()) | Err(AuthError::NotFound) => Ok(with_cookie(
                    redirect("/me/security", StatusCode::SEE_OTHER),
                    flash_cookie(FLASH_TOTP_REMOVED, 60),
                )),
                Err(AuthError::NotAuthenticated) => Err(redirect("/login", StatusCode::SEE_OTHER)),
                Err(error) => {
                    let page = SecurityPage {
                        error: Some(sentence(&error)),
                        ..security_page_of(&app, &signed_in.user.id, &csrf_token).await
                    };
                    let error = ApiError::from(error);
                    Err(with_retry_after(render(&page, error.status), &error))
                }
            };
        }
    };
    match outcome {
        Ok((enrolment, recovery_codes)) => {
            let page = SecurityPage {
                enrolment,
                recovery_codes,
                ..security_page_of(&app, &signed_in.user.id, &csrf_token).await
            };
            Ok(render(&page, StatusCode::OK))
        }
        Err(AuthError::NotAuthenticated) => Err(redirect("/login", StatusCode::SEE_OTHER)),
        Err(error) => {
            let message = match (&error, &action) {
                (AuthError::InvalidCode, SecurityAction::Confirm) => {
                    "That code is wrong or has expired. Set up the app again and enter the code it shows now.".to_owned()
                }
                (AuthError::NotFound, _) => "No authenticator app is on.".to_owned(),
                (AuthError::InvalidField { field: "totp", .. }, _) => {
                    "An authenticator app is already on. Turn it off first.".to_owned()
                }
                _ => sentence(&error),
            };
            let page = SecurityPage {
                error: Some(message),
                ..security_page_of(&app, &signed_in.user.id, &csrf_token).await
            };
            let error = ApiError::from(error);
            let status = match error.status {
                StatusCode::NOT_FOUND => StatusCode::BAD_REQUEST,
                status => status,
            };
            Err(with_retry_after(render(&page, status), &error))
        }
    }
}

// ----- HTML errors for browsers -----

/// The HTML 404 page.
pub(crate) fn not_found() -> Response {
    let page = ErrorPage {
        title: "Page not found",
        message: "There is no page at this address.",
    };
    render(&page, StatusCode::NOT_FOUND)
}

/// The HTML 405 page, with its `Allow` header.
pub(crate) fn method_not_allowed(allow: &'static str) -> Response {
    let page = ErrorPage {
        title: "Method not allowed",
        message: "This address does not answer that kind of request.",
    };
    let mut response = render(&page, StatusCode::METHOD_NOT_ALLOWED);
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_token_per_query() {
        assert_eq!(token_of_query("token=abc").as_deref(), Some("abc"));
        assert_eq!(token_of_query("x=1&token=a%2Eb").as_deref(), Some("a.b"));
        assert_eq!(token_of_query("token=a&token=b"), None);
        assert_eq!(token_of_query(""), None);
    }

    #[test]
    fn devices_are_named_for_people() {
        assert_eq!(
            device_of("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
            "Firefox on Linux"
        );
        assert_eq!(
            device_of("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"),
            "Safari on iOS"
        );
        assert_eq!(device_of("curl/8.5.0"), "curl");
        assert_eq!(device_of(""), "Unknown device");
    }
}
