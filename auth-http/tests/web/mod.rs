//! The web pages of docs/contract/4-web-pages.md (`/signup`, `/login`, `/me`, `/logout`,
//! the stylesheet), through `auth_http::routes` with `warp::test::request()`.
//! A `Browser` (common/browser.rs) keeps cookies between requests the way a
//! browser does; every page goes through `TestApp::page`, which checks the
//! content type and the security headers (CSP without inline script,
//! nosniff, no-referrer, DENY).

mod forgery;
mod login;
mod me;
mod pages;
mod second_step;
mod signup;

use crate::common;

/// `SCRIPT` HTML-escaped, after [`named_entities`].
const ESCAPED_SCRIPT: &str = "&lt;script&gt;alert(1)&lt;/script&gt;";
const WRONG_CREDENTIALS: &str = "Wrong username or password.";
const ACCOUNT_CREATED: &str = "Account created, please log in";

/// The sign-up fields of a good account.
fn kvothe(password: &str) -> Vec<(&str, &str)> {
    vec![
        ("username", "kvothe"),
        ("password", password),
        ("full_name", "Kvothe Arliden"),
        ("mothers_favorite_search_engine", "DuckDuckGo"),
    ]
}
