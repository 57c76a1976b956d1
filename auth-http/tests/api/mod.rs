//! The JSON API of docs/contract/2-accounts.md, 3-json-api.md and 6-operations.md, through `auth_http::routes`
//! with `warp::test::request()`: no socket, one temporary SQLite database per
//! test. Every response goes through `TestApp::send`, which also checks
//! `X-Content-Type-Options: nosniff`, `application/json` and the absence of 500s.

mod bodies;
mod login;
mod passwords;
mod profile;
mod registration;
mod routing;
mod sessions;

use crate::common::{cookie_attributes, form, json, Res, TestApp};
use serde_json::Value;

/// `POST /users` with a form body, answered.
async fn sign_up_form(app: &TestApp, fields: &[(&str, &str)]) -> Res {
    app.send(form("POST", "/users", fields)).await
}

/// `POST /users` with a JSON body, answered.
async fn sign_up_json(app: &TestApp, body: &Value) -> Res {
    app.send(json("POST", "/users", body)).await
}

/// Checks the attributes of a new session cookie at the default settings.
fn assert_session_cookie_attributes(set_cookie: &str) {
    let attributes = cookie_attributes(set_cookie);
    for wanted in [
        "Path=/",
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Max-Age=86400",
    ] {
        assert!(
            attributes.iter().any(|a| a == wanted),
            "{wanted} missing from {set_cookie}"
        );
    }
}
