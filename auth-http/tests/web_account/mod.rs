//! The account pages of docs/contract/4-web-pages.md beyond sign-up and login:
//! `/forgot`, `/reset`, `/me/password`, `/me/sessions` (ending one or all
//! other sessions), `/me/security`, the links between pages, and the HTML
//! 404/405 pages, through `auth_http::routes` with `warp::test::request()`.
//! Every page goes through `TestApp::page`, which checks the content type
//! and the security headers.

mod forgot;
mod navigation;
mod password;
mod reset;
mod sessions;

use std::time::Duration;

use crate::common;

use auth_core::{ClientInfo, Identifier, Password};
use auth_http::{HttpConfig, ResetDelivery};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::*;

const SENT: &str = "If the account exists and has an e-mail address, a link to choose a new \
                    password is on its way.";
const DEAD_LINK: &str =
    "This password reset link is unknown, has expired or has already been used.";

const USER_AGENT: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";

async fn password_works(app: &TestApp, name: &str, password: &str) -> bool {
    app.auth
        .valid_login(
            &Identifier::Any(name.to_owned()),
            &Password::new(password),
            &ClientInfo::default(),
        )
        .await
        .is_ok()
}

/// A fresh reset token for an account, and the `token` of its reset link.
async fn reset_link(app: &TestApp, username: &str) -> (String, String) {
    let (_, token) = app
        .auth
        .get_reset_password_token(
            &Identifier::Username(username.to_owned()),
            &ClientInfo::default(),
        )
        .await
        .expect("a reset token");
    let raw = token.expose().to_owned();
    let link = format!("{raw}.u{}", URL_SAFE_NO_PAD.encode(username));
    (raw, link)
}

/// Whether a reset token still works (checked by using it through `Auth`
/// with a password that breaks a rule, which leaves it usable).
async fn token_usable(app: &TestApp, username: &str, raw: &str) -> bool {
    match app
        .auth
        .update_password(
            &Identifier::Username(username.to_owned()),
            raw,
            &Password::new(""),
            &ClientInfo::default(),
        )
        .await
    {
        Err(auth_core::AuthError::PasswordRejected(_)) => true,
        Err(auth_core::AuthError::InvalidResetToken) => false,
        other => panic!("unexpected {other:?}"),
    }
}

fn log_delivery() -> HttpConfig {
    HttpConfig {
        reset_delivery: ResetDelivery::Log,
        ..http_config()
    }
}

/// Waits until the audit log holds `count` events of `kind`, or 5 seconds.
async fn events_reach(app: &TestApp, kind: &str, count: i64) -> bool {
    for _ in 0..100 {
        if app.auth.count_events(kind).await.expect("events") >= count {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
