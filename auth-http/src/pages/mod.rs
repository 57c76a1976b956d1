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
    pre_session_nonce, render, with_retry_after, ErrorPage, Guard, NoFields, FLASH_COOKIE,
    FLASH_PASSWORD_CHANGED, FLASH_PASSWORD_UPDATED,
};
use crate::request::{ctx, ctx_with_authority, raw_body, RawBody, RequestCtx};
use crate::wording::sentence;

mod account;
mod email;
mod reset;
mod security;
mod tokens;

use account::*;
use email::email_routes;
pub(crate) use email::{FLASH_EMAIL_LINK_SENT, FLASH_EMAIL_NOTHING};
use reset::*;
use security::*;

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
        .or(tokens::routes(app))
        .unify()
        .or(email_routes(app))
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
