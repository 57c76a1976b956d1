//! The account pages of docs/contract/4-web-pages.md beyond sign-up and login:
//! `/forgot`, `/reset`, `/me/password`, `/me/sessions` (ending one or all
//! other sessions), `/me/security`, the links between pages, and the HTML
//! 404/405 pages, through `auth_http::routes` with `warp::test::request()`.
//! Every page goes through `TestApp::page`, which checks the content type
//! and the security headers.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use auth_core::{ClientInfo, Identifier, Password, Registration};
use auth_http::{HttpConfig, ResetDelivery};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::*;
use warp::http::StatusCode;
use warp::test::RequestBuilder;

const HOST: &str = "localhost:5000";
const SAME_ORIGIN: &str = "http://localhost:5000";
const FOREIGN_ORIGIN: &str = "https://evil.example";
const FORM_EXPIRED: &str = "This form has expired. Reload the page and try again.";
const OTHER_SITE: &str = "This form was sent from another site.";
const SENT: &str = "If the account exists and has an e-mail address, a link to choose a new \
                    password is on its way.";
const DEAD_LINK: &str =
    "This password reset link is unknown, has expired or has already been used.";
const SCRIPT: &str = "<script>alert(1)</script>";
const USER_AGENT: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";

/// A cookie jar, a user agent, and the headers a browser sends.
struct Browser<'a> {
    app: &'a TestApp,
    jar: BTreeMap<String, String>,
    user_agent: String,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Browser::with_agent(app, USER_AGENT)
    }

    fn with_agent(app: &'a TestApp, user_agent: &str) -> Self {
        Browser {
            app,
            jar: BTreeMap::new(),
            user_agent: user_agent.to_owned(),
        }
    }

    fn cookie(&self, name: &str) -> Option<&str> {
        self.jar.get(name).map(String::as_str)
    }

    fn session(&self) -> String {
        self.cookie("session_id")
            .expect("a session cookie")
            .to_owned()
    }

    fn prepare(&self, request: RequestBuilder) -> RequestBuilder {
        let request = request
            .header("host", HOST)
            .header("accept", BROWSER_ACCEPT)
            .header("user-agent", &self.user_agent);
        if self.jar.is_empty() {
            return request;
        }
        let cookies = self
            .jar
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        request.header("cookie", cookies)
    }

    async fn send(&mut self, request: RequestBuilder) -> Res {
        let res = self.app.page(self.prepare(request)).await;
        for set_cookie in res.header_all("set-cookie") {
            let pair = set_cookie.split(';').next().unwrap_or_default().trim();
            let (name, value) = pair.split_once('=').expect("a name=value cookie");
            if cookie_attributes(&set_cookie)
                .iter()
                .any(|a| a.eq_ignore_ascii_case("Max-Age=0"))
            {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
        }
        res
    }

    async fn get(&mut self, path: &str) -> Res {
        self.send(get(path)).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Res {
        self.send(form("POST", path, fields)).await
    }

    async fn post_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        header: (&str, &str),
    ) -> Res {
        self.send(form("POST", path, fields).header(header.0, header.1))
            .await
    }

    /// Opens a form page and returns its CSRF token.
    async fn token(&mut self, path: &str) -> String {
        let res = self.get(path).await;
        assert_eq!(res.status, StatusCode::OK, "GET {path}: {}", res.text());
        res.csrf_token()
    }

    /// Logs in through the login form and expects success.
    async fn log_in(&mut self, username: &str, password: &str) {
        let token = self.token("/login").await;
        let res = self
            .post(
                "/login",
                &[
                    ("csrf_token", &token),
                    ("username", username),
                    ("password", password),
                ],
            )
            .await;
        assert_redirect(&res, "/me");
    }

    async fn me_status(&mut self) -> StatusCode {
        self.get("/me").await.status
    }
}

fn assert_redirect(res: &Res, location: &str) {
    assert_eq!(
        res.status,
        StatusCode::SEE_OTHER,
        "expected 303 to {location}: {}",
        res.text()
    );
    assert_eq!(res.header("location"), Some(location));
}

fn assert_forbidden(res: &Res, message: &str) {
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text());
    assert!(res.text().contains(message), "403 page: {}", res.text());
    assert!(
        res.set_cookie_named("session_id").is_none(),
        "a 403 set a session cookie"
    );
}

/// The HTML with numeric character references written as named ones.
fn named_entities(html: &str) -> String {
    html.replace("&#60;", "&lt;")
        .replace("&#x3c;", "&lt;")
        .replace("&#62;", "&gt;")
        .replace("&#x3e;", "&gt;")
        .replace("&#34;", "&quot;")
        .replace("&#x22;", "&quot;")
        .replace("&#39;", "&apos;")
        .replace("&#x27;", "&apos;")
        .replace("&#38;", "&amp;")
        .replace("&#x26;", "&amp;")
}

/// Creates an account through `Auth` with the test password.
async fn register(app: &TestApp, username: Option<&str>, email: Option<&str>) {
    app.auth
        .register_user(
            Registration {
                username: username.map(str::to_owned),
                email: email.map(str::to_owned),
                password: Password::new(PASSWORD),
                full_name: None,
                mothers_favorite_search_engine: None,
            },
            &ClientInfo::default(),
        )
        .await
        .expect("register an account");
}

/// Whether `password` logs `name` in (through `Auth`, not counting as a page).
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

// ----- links between pages -----

#[tokio::test]
async fn login_links_to_signup_and_forgot_and_signed_in_pages_link_to_each_other() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    let html = browser.get("/login").await.text();
    assert!(html.contains("href=\"/signup\""), "{html}");
    assert!(html.contains("href=\"/forgot\""), "{html}");

    register(&app, Some("kvothe"), None).await;
    browser.log_in("kvothe", PASSWORD).await;
    for path in ["/me", "/me/password", "/me/sessions", "/me/security"] {
        let res = browser.get(path).await;
        assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text());
        assert_eq!(res.header("cache-control"), Some("no-store"), "{path}");
        let html = res.text();
        for link in ["/me", "/me/password", "/me/sessions", "/me/security"] {
            assert!(
                html.contains(&format!("href=\"{link}\"")),
                "{path} lacks {link}: {html}"
            );
        }
        assert!(html.contains("action=\"/logout\""), "{path}: {html}");
        assert!(
            html.contains(&format!("href=\"{path}\" aria-current=\"page\"")),
            "{path} is not marked as the current page: {html}"
        );
    }
    let html = browser.get("/me/security").await.text();
    assert!(html.contains("No second factor is set up yet."), "{html}");
}

#[tokio::test]
async fn signed_in_pages_send_strangers_to_login() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    for path in ["/me/password", "/me/sessions", "/me/security"] {
        assert_redirect(&browser.get(path).await, "/login");
    }
}

// ----- sign-up with an e-mail -----

#[tokio::test]
async fn signup_takes_an_optional_email_and_keeps_it_after_an_error() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    let token = browser.token("/signup").await;
    let res = browser
        .post(
            "/signup",
            &[
                ("csrf_token", &token),
                ("username", "kvothe"),
                ("password", "short"),
                ("email", "kvothe@example.com"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(
        res.text()
            .contains("Password must be at least 15 characters long."),
        "{}",
        res.text()
    );
    assert_eq!(
        res.input_value("email").as_deref(),
        Some("kvothe@example.com")
    );
    let token = res.csrf_token();
    let res = browser
        .post(
            "/signup",
            &[
                ("csrf_token", &token),
                ("username", "kvothe"),
                ("password", PASSWORD),
                ("email", "kvothe@example.com"),
            ],
        )
        .await;
    assert_redirect(&res, "/login");
    let user = app
        .auth
        .find_user(&Identifier::Username("kvothe".into()))
        .await
        .unwrap()
        .expect("the account");
    assert_eq!(user.email.as_deref(), Some("kvothe@example.com"));

    // Left empty, the field gives an account without an address.
    let token = browser.token("/signup").await;
    let res = browser
        .post(
            "/signup",
            &[
                ("csrf_token", &token),
                ("username", "denna"),
                ("password", PASSWORD),
                ("email", ""),
            ],
        )
        .await;
    assert_redirect(&res, "/login");
    let user = app
        .auth
        .find_user(&Identifier::Username("denna".into()))
        .await
        .unwrap()
        .expect("the account");
    assert_eq!(user.email, None);
}

// ----- /forgot -----

#[tokio::test]
async fn forgot_answers_the_same_whether_or_not_the_account_exists() {
    let app = TestApp::with(core_config(), log_delivery()).await;
    register(&app, Some("kvothe"), Some("kvothe@example.com")).await;
    register(&app, Some("noaddress"), None).await;
    let mut pages = Vec::new();
    for name in [
        "kvothe",
        "KVOTHE@example.com",
        "nobody",
        "nobody@example.com",
        "noaddress",
    ] {
        let mut browser = Browser::new(&app);
        let token = browser.token("/forgot").await;
        let res = browser
            .post("/forgot", &[("csrf_token", &token), ("username", name)])
            .await;
        assert_eq!(res.status, StatusCode::OK, "{name}: {}", res.text());
        assert!(res.text().contains(SENT), "{name}: {}", res.text());
        assert!(!res.text().contains(name), "{name} echoed: {}", res.text());
        pages.push((name, res.header_all("set-cookie"), res.text()));
    }
    for (name, cookies, html) in &pages[1..] {
        assert_eq!(html, &pages[0].2, "the page for {name} differs");
        assert_eq!(cookies, &pages[0].1, "the cookies for {name} differ");
    }
    // Tokens were made for the two accounts (once by name, once by address,
    // and once for the account without an address, as `log` reaches it).
    assert!(events_reach(&app, "reset_requested", 3).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.auth.count_events("reset_requested").await.unwrap(), 3);
}

#[tokio::test]
async fn forgot_with_mail_delivery_makes_no_token_for_an_account_without_an_address() {
    // The mail server does not answer (port 1): a token for an account with
    // an address is made and its mail fails (logged); one without an
    // address gets none.
    let http = HttpConfig {
        reset_delivery: ResetDelivery::Smtp,
        ..http_config()
    };
    let mailer = auth_core::SmtpNotifier::new(
        "smtp://127.0.0.1:1",
        auth_core::DEFAULT_FROM,
        "https://auth.example.com",
    )
    .unwrap();
    let config = auth_core::Config {
        notifier: std::sync::Arc::new(mailer),
        ..core_config()
    };
    let app = TestApp::with(config, http).await;
    register(&app, Some("noaddress"), None).await;
    register(&app, Some("kvothe"), Some("kvothe@example.com")).await;
    let mut texts = Vec::new();
    for name in ["noaddress", "kvothe"] {
        let mut browser = Browser::new(&app);
        let token = browser.token("/forgot").await;
        let res = browser
            .post("/forgot", &[("csrf_token", &token), ("username", name)])
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        texts.push(res.text());
        if name == "noaddress" {
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert_eq!(app.auth.count_events("reset_requested").await.unwrap(), 0);
        }
    }
    assert_eq!(texts[0], texts[1]);
    assert!(events_reach(&app, "reset_requested", 1).await);
}

#[tokio::test]
async fn forgot_refuses_a_missing_or_foreign_token_and_a_foreign_origin() {
    let app = TestApp::with(core_config(), log_delivery()).await;
    register(&app, Some("kvothe"), Some("kvothe@example.com")).await;
    let mut browser = Browser::new(&app);
    let token = browser.token("/forgot").await;
    let mut other = Browser::new(&app);
    let foreign_token = other.token("/forgot").await;

    let res = browser.post("/forgot", &[("username", "kvothe")]).await;
    assert_forbidden(&res, FORM_EXPIRED);
    let res = browser
        .post(
            "/forgot",
            &[("csrf_token", &foreign_token), ("username", "kvothe")],
        )
        .await;
    assert_forbidden(&res, FORM_EXPIRED);
    let res = browser
        .post_with(
            "/forgot",
            &[("csrf_token", &token), ("username", "kvothe")],
            ("origin", FOREIGN_ORIGIN),
        )
        .await;
    assert_forbidden(&res, OTHER_SITE);
    // An empty name is the form again.
    let res = browser
        .post("/forgot", &[("csrf_token", &token), ("username", "  ")])
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res
        .text()
        .contains("Enter your username or e-mail address."));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.auth.count_events("reset_requested").await.unwrap(), 0);

    let res = browser
        .post_with(
            "/forgot",
            &[("csrf_token", &token), ("username", "kvothe")],
            ("origin", SAME_ORIGIN),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(events_reach(&app, "reset_requested", 1).await);
}

#[tokio::test]
async fn an_ambiguous_forgot_form_is_a_400_page() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    let token = browser.token("/forgot").await;
    // A name given twice is refused as ambiguous; the page escapes whatever it shows.
    let res = browser
        .post(
            "/forgot",
            &[
                ("csrf_token", &token),
                ("username", SCRIPT),
                ("username", SCRIPT),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text());
    assert!(!res.text().contains(SCRIPT), "{}", res.text());
}

// ----- /reset -----

#[tokio::test]
async fn opening_a_reset_link_shows_the_form_and_leaves_the_token_usable() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), Some("kvothe@example.com")).await;
    let (raw, link) = reset_link(&app, "kvothe").await;
    let mut browser = Browser::new(&app);
    for _ in 0..3 {
        let res = browser.get(&format!("/reset?token={link}")).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        assert_eq!(res.input_value("token").as_deref(), Some(link.as_str()));
        assert!(res.text().contains("name=\"new_password_again\""));
        assert!(!res.text().contains("name=\"username\""), "{}", res.text());
        assert!(res
            .text()
            .contains("<strong id=\"account\">kvothe</strong>"));
        res.csrf_token();
    }
    assert!(token_usable(&app, "kvothe", &raw).await);
}

#[tokio::test]
async fn a_dead_reset_link_says_so_and_links_to_forgot() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None).await;
    register(&app, Some("denna"), None).await;
    let (_, denna_link) = reset_link(&app, "denna").await;
    let (raw, link) = reset_link(&app, "kvothe").await;
    let other_account = format!("{raw}.u{}", URL_SAFE_NO_PAD.encode("denna"));
    // Denna's live token with kvothe's name, and kvothe's with Denna's.
    let wrong_token = format!("{}{}", &denna_link[..43], &link[43..]);
    let mut browser = Browser::new(&app);
    for query in [
        "",
        "token=",
        "token=nonsense",
        &format!("token={}", &link[..42]),
        &format!("token={other_account}"),
        &format!("token={wrong_token}"),
        &format!("token={link}&token={link}"),
        &format!("token={raw}.x{}", URL_SAFE_NO_PAD.encode("kvothe")),
    ] {
        let res = browser.get(&format!("/reset?{query}")).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{query}: {}", res.text());
        assert!(res.text().contains(DEAD_LINK), "{query}: {}", res.text());
        assert!(res.text().contains("href=\"/forgot\""), "{query}");
        assert!(!res.text().contains("name=\"new_password\""), "{query}");
    }
    // None of this used up the live token.
    assert!(token_usable(&app, "kvothe", &raw).await);

    // A used token is dead too.
    let token = browser.token(&format!("/reset?token={link}")).await;
    let res = browser
        .post(
            "/reset",
            &[
                ("csrf_token", &token),
                ("token", &link),
                ("new_password", NEW_PASSWORD),
                ("new_password_again", NEW_PASSWORD),
            ],
        )
        .await;
    assert_redirect(&res, "/login");
    let res = browser.get(&format!("/reset?token={link}")).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.text().contains(DEAD_LINK));
}

#[tokio::test]
async fn resetting_through_the_pages_sets_the_password_once() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), Some("kvothe@example.com")).await;
    let mut signed_in = Browser::new(&app);
    signed_in.log_in("kvothe", PASSWORD).await;
    let (raw, link) = reset_link(&app, "kvothe").await;
    let mut browser = Browser::new(&app);
    let token = browser.token(&format!("/reset?token={link}")).await;
    let fields = |password: &'static str, again: &'static str| {
        vec![
            ("csrf_token", token.clone()),
            ("token", link.clone()),
            ("new_password", password.to_owned()),
            ("new_password_again", again.to_owned()),
        ]
    };
    let as_refs = |fields: &Vec<(&'static str, String)>| {
        fields
            .iter()
            .map(|(n, v)| (*n, v.clone()))
            .collect::<Vec<_>>()
    };

    // Mistakes: the form again, 400, and the token still works.
    for (password, again, message) in [
        (
            "short",
            "short",
            "Password must be at least 15 characters long.",
        ),
        (
            NEW_PASSWORD,
            "orbital-pancake-lantern-43",
            "The two new passwords do not match.",
        ),
        ("", "", "Password must not be empty."),
    ] {
        let owned = as_refs(&fields(password, again));
        let borrowed: Vec<(&str, &str)> = owned.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let res = browser.post("/reset", &borrowed).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text());
        assert!(res.text().contains(message), "{message}: {}", res.text());
        assert_eq!(res.input_value("token").as_deref(), Some(link.as_str()));
        assert!(!res.text().contains(NEW_PASSWORD));
        assert!(token_usable(&app, "kvothe", &raw).await);
    }

    // Without a token, with another browser's, or from another site: 403,
    // nothing changes and the token still works.
    let mut other = Browser::new(&app);
    let foreign = other.token("/forgot").await;
    let owned = as_refs(&fields(NEW_PASSWORD, NEW_PASSWORD));
    let good: Vec<(&str, &str)> = owned.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let without: Vec<(&str, &str)> = good
        .iter()
        .copied()
        .filter(|(n, _)| *n != "csrf_token")
        .collect();
    assert_forbidden(&browser.post("/reset", &without).await, FORM_EXPIRED);
    let mut with_foreign = without.clone();
    with_foreign.push(("csrf_token", &foreign));
    assert_forbidden(&browser.post("/reset", &with_foreign).await, FORM_EXPIRED);
    assert_forbidden(
        &browser
            .post_with("/reset", &good, ("origin", FOREIGN_ORIGIN))
            .await,
        OTHER_SITE,
    );
    assert!(token_usable(&app, "kvothe", &raw).await);
    assert!(password_works(&app, "kvothe", PASSWORD).await);

    // Success: /login says so, the new password works, the old sessions ended.
    let res = browser.post("/reset", &good).await;
    assert_redirect(&res, "/login");
    let res = browser.get("/login").await;
    assert!(
        res.text().contains("Password updated, please log in"),
        "{}",
        res.text()
    );
    assert!(password_works(&app, "kvothe", NEW_PASSWORD).await);
    assert!(!password_works(&app, "kvothe", PASSWORD).await);
    assert_redirect(&signed_in.get("/me").await, "/login");

    // The same form again: the token is used up.
    let token = browser.token("/forgot").await;
    let mut replay = good.clone();
    replay.retain(|(n, _)| *n != "csrf_token");
    replay.push(("csrf_token", &token));
    let res = browser.post("/reset", &replay).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text());
    assert!(res.text().contains(DEAD_LINK));
    assert!(password_works(&app, "kvothe", NEW_PASSWORD).await);
}

#[tokio::test]
async fn a_bare_token_asks_for_the_account() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), Some("kvothe@example.com")).await;
    register(&app, Some("denna"), None).await;
    let (raw, _) = reset_link(&app, "kvothe").await;
    let mut browser = Browser::new(&app);
    let res = browser.get(&format!("/reset?token={raw}")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert!(res.text().contains("name=\"username\""), "{}", res.text());
    let token = res.csrf_token();
    // Another account's name: the token is not theirs.
    let res = browser
        .post(
            "/reset",
            &[
                ("csrf_token", &token),
                ("token", &raw),
                ("username", "denna"),
                ("new_password", NEW_PASSWORD),
                ("new_password_again", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(password_works(&app, "denna", PASSWORD).await);
    let res = browser
        .post(
            "/reset",
            &[
                ("csrf_token", &token),
                ("token", &raw),
                ("username", "KVOTHE@example.com"),
                ("new_password", NEW_PASSWORD),
                ("new_password_again", NEW_PASSWORD),
            ],
        )
        .await;
    assert_redirect(&res, "/login");
    assert!(password_works(&app, "kvothe", NEW_PASSWORD).await);
}

// ----- /me/password -----

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_and_renews_this_one() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None).await;
    let mut other = Browser::new(&app);
    other.log_in("kvothe", PASSWORD).await;
    let mut browser = Browser::new(&app);
    browser.log_in("kvothe", PASSWORD).await;
    let old_session = browser.session();
    let res = browser.get("/me/password").await;
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let token = res.csrf_token();

    let res = browser
        .post(
            "/me/password",
            &[
                ("csrf_token", &token),
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("new_password_again", NEW_PASSWORD),
            ],
        )
        .await;
    assert_redirect(&res, "/me");
    let new_session = browser.session();
    assert_ne!(new_session, old_session);
    let res = browser.get("/me").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.text().contains("Password changed"), "{}", res.text());
    // Shown once.
    assert!(!browser.get("/me").await.text().contains("Password changed"));
    assert_eq!(other.me_status().await, StatusCode::SEE_OTHER);
    assert_eq!(
        app.profile_status(&old_session).await,
        StatusCode::FORBIDDEN
    );
    assert!(password_works(&app, "kvothe", NEW_PASSWORD).await);

    // The old form, replayed: its token was bound to the ended session.
    let res = browser
        .post(
            "/me/password",
            &[
                ("csrf_token", &token),
                ("current_password", NEW_PASSWORD),
                ("new_password", PASSWORD),
                ("new_password_again", PASSWORD),
            ],
        )
        .await;
    assert_forbidden(&res, FORM_EXPIRED);
    assert!(password_works(&app, "kvothe", NEW_PASSWORD).await);
}

#[tokio::test]
async fn password_change_failures_show_the_form_and_change_nothing() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None).await;
    let mut browser = Browser::new(&app);
    browser.log_in("kvothe", PASSWORD).await;
    let session = browser.session();
    let token = browser.token("/me/password").await;
    for (current, new, again, status, message) in [
        (
            "not the password at all",
            NEW_PASSWORD,
            NEW_PASSWORD,
            StatusCode::UNAUTHORIZED,
            "The current password is wrong.",
        ),
        (
            PASSWORD,
            NEW_PASSWORD,
            "something else entirely",
            StatusCode::BAD_REQUEST,
            "The two new passwords do not match.",
        ),
        (
            PASSWORD,
            "short",
            "short",
            StatusCode::BAD_REQUEST,
            "Password must be at least 15 characters long.",
        ),
        (
            PASSWORD,
            "qazwsxedcrfvtgb",
            "qazwsxedcrfvtgb",
            StatusCode::BAD_REQUEST,
            "Password is too common",
        ),
    ] {
        let res = browser
            .post(
                "/me/password",
                &[
                    ("csrf_token", &token),
                    ("current_password", current),
                    ("new_password", new),
                    ("new_password_again", again),
                ],
            )
            .await;
        assert_eq!(res.status, status, "{message}: {}", res.text());
        assert!(res.text().contains(message), "{message}: {}", res.text());
        assert!(res.text().contains("action=\"/me/password\""));
        assert!(!res.text().contains(new), "a password is echoed");
        assert_eq!(browser.session(), session);
    }
    assert!(password_works(&app, "kvothe", PASSWORD).await);
    assert_eq!(browser.me_status().await, StatusCode::OK);
}

#[tokio::test]
async fn password_change_needs_this_sessions_token_and_this_site() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None).await;
    register(&app, Some("denna"), None).await;
    let mut browser = Browser::new(&app);
    browser.log_in("kvothe", PASSWORD).await;
    let token = browser.token("/me/password").await;
    // A token of another session, of another user, of a pre-session form.
    let mut mine_elsewhere = Browser::new(&app);
    mine_elsewhere.log_in("kvothe", PASSWORD).await;
    let other_session_token = mine_elsewhere.token("/me/password").await;
    let mut attacker = Browser::new(&app);
    attacker.log_in("denna", PASSWORD).await;
    let attacker_token = attacker.token("/me/password").await;
    let pre_session = browser.token("/login").await;
    let fields = |csrf: &str| {
        vec![
            ("csrf_token", csrf.to_owned()),
            ("current_password", PASSWORD.to_owned()),
            ("new_password", NEW_PASSWORD.to_owned()),
            ("new_password_again", NEW_PASSWORD.to_owned()),
        ]
    };
    for csrf in [
        "",
        other_session_token.as_str(),
        attacker_token.as_str(),
        pre_session.as_str(),
    ] {
        let owned = fields(csrf);
        let borrowed: Vec<(&str, &str)> = owned.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_forbidden(&browser.post("/me/password", &borrowed).await, FORM_EXPIRED);
    }
    let owned = fields(&token);
    let borrowed: Vec<(&str, &str)> = owned.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_forbidden(
        &browser
            .post_with("/me/password", &borrowed, ("origin", FOREIGN_ORIGIN))
            .await,
        OTHER_SITE,
    );
    assert!(password_works(&app, "kvothe", PASSWORD).await);
    assert_eq!(mine_elsewhere.me_status().await, StatusCode::OK);
    // Without a session at all: to the login page, nothing changed.
    let mut stranger = Browser::new(&app);
    assert_redirect(&stranger.post("/me/password", &borrowed).await, "/login");
    assert!(password_works(&app, "kvothe", PASSWORD).await);
}

// ----- /me/sessions -----

#[tokio::test]
async fn the_session_list_shows_each_session_and_marks_this_one() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None).await;
    let mut phone = Browser::with_agent(
        &app,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1",
    );
    phone.log_in("kvothe", PASSWORD).await;
    let mut hostile = Browser::with_agent(&app, SCRIPT);
    hostile.log_in("kvothe", PASSWORD).await;
    let mut browser = Browser::new(&app);
    browser.log_in("kvothe", PASSWORD).await;

    let res = browser.get("/me/sessions").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let html = named_entities(&res.text());
    assert!(html.contains("Safari on iOS"), "{html}");
    assert!(html.contains("Chrome on Linux"), "{html}");
    assert!(html.contains(USER_AGENT), "{html}");
    assert!(!res.text().contains(SCRIPT), "unescaped user agent: {html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert_eq!(html.matches("This session").count(), 1, "{html}");
    assert_eq!(html.matches("class=\"session current\"").count(), 1);
    // An End button for each other session, none for this one.
    assert_eq!(html.matches("/end\"").count(), 2, "{html}");
    assert!(html.contains("Signed in"));
    assert!(html.contains("Last seen"));
    assert!(html.contains("action=\"/me/sessions/end-others\""));
}

/// The ids of the user's sessions, this one first.
async fn session_ids(app: &TestApp, token: &str) -> (String, Vec<String>) {
    let (me, sessions) = app.auth.list_sessions(token).await.expect("sessions");
    let others = sessions
        .into_iter()
        .map(|s| s.id)
        .filter(|id| *id != me.session.id)
        .collect();
    (me.session.id, others)
}

#[tokio::test]
async fn ending_another_session_signs_that_browser_out() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None).await;
    register(&app, Some("denna"), None).await;
    let mut second = Browser::new(&app);
    second.log_in("kvothe", PASSWORD).await;
    let mut browser = Browser::new(&app);
    browser.log_in("kvothe", PASSWORD).await;
    let mut denna = Browser::new(&app);
    denna.log_in("denna", PASSWORD).await;
    let (_, others) = session_ids(&app, &browser.session()).await;
    let (denna_id, _) = session_ids(&app, &denna.session()).await;
    let second_id = others[0].clone();
    let token = browser.token("/me/sessions").await;
    let end = format!("/me/sessions/{second_id}/end");

    // No token, another session's token, another site: 403, it lives.
    let second_token = second.token("/me/sessions").await;
    for csrf in ["", second_token.as_str()] {
        assert_forbidden(
            &browser.post(&end, &[("csrf_token", csrf)]).await,
            FORM_EXPIRED,
        );
    }
    assert_forbidden(
        &browser
            .post_with(&end, &[("csrf_token", &token)], ("origin", FOREIGN_ORIGIN))
            .await,
        OTHER_SITE,
    );
    assert_eq!(second.me_status().await, StatusCode::OK);

    // Another user's session id: nothing happens to it.
    let res = browser
        .post(
            &format!("/me/sessions/{denna_id}/end"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_redirect(&res, "/me/sessions");
    assert!(browser
        .get("/me/sessions")
        .await
        .text()
        .contains("That session had already ended."));
    assert_eq!(denna.me_status().await, StatusCode::OK);

    let res = browser.post(&end, &[("csrf_token", &token)]).await;
    assert_redirect(&res, "/me/sessions");
    let html = browser.get("/me/sessions").await.text();
    assert!(html.contains("The session has ended."), "{html}");
    assert!(!html.contains(&second_id), "{html}");
    assert_redirect(&second.get("/me").await, "/login");
    assert_eq!(browser.me_status().await, StatusCode::OK);

    // The same form replayed: nothing left to end, and it says so.
    let res = browser.post(&end, &[("csrf_token", &token)]).await;
    assert_redirect(&res, "/me/sessions");
    assert!(browser
        .get("/me/sessions")
        .await
        .text()
        .contains("That session had already ended."));
    // Odd spellings of an id end nothing.
    for odd in ["not-a-uuid", "%20", &second_id.to_uppercase()] {
        let res = browser
            .post(
                &format!("/me/sessions/{odd}/end"),
                &[("csrf_token", &token)],
            )
            .await;
        assert_redirect(&res, "/me/sessions");
    }
    assert_eq!(browser.me_status().await, StatusCode::OK);
    assert_eq!(denna.me_status().await, StatusCode::OK);
}

#[tokio::test]
async fn ending_this_session_from_the_list_logs_out() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None).await;
    let mut browser = Browser::new(&app);
    browser.log_in("kvothe", PASSWORD).await;
    let (mine, _) = session_ids(&app, &browser.session()).await;
    let token = browser.token("/me/sessions").await;
    let res = browser
        .post(
            &format!("/me/sessions/{mine}/end"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_redirect(&res, "/login");
    assert_eq!(browser.cookie("session_id"), None);
    assert_redirect(&browser.get("/me").await, "/login");
}

#[tokio::test]
async fn ending_all_other_sessions_keeps_only_this_one() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None).await;
    register(&app, Some("denna"), None).await;
    let mut others = Vec::new();
    for _ in 0..3 {
        let mut other = Browser::new(&app);
        other.log_in("kvothe", PASSWORD).await;
        others.push(other);
    }
    let mut denna = Browser::new(&app);
    denna.log_in("denna", PASSWORD).await;
    let mut browser = Browser::new(&app);
    browser.log_in("kvothe", PASSWORD).await;
    let token = browser.token("/me/sessions").await;

    let foreign = others[0].token("/me/sessions").await;
    assert_forbidden(
        &browser
            .post("/me/sessions/end-others", &[("csrf_token", &foreign)])
            .await,
        FORM_EXPIRED,
    );
    assert_forbidden(
        &browser
            .post_with(
                "/me/sessions/end-others",
                &[("csrf_token", &token)],
                ("origin", FOREIGN_ORIGIN),
            )
            .await,
        OTHER_SITE,
    );
    for other in &mut others {
        assert_eq!(other.me_status().await, StatusCode::OK);
    }

    let res = browser
        .post("/me/sessions/end-others", &[("csrf_token", &token)])
        .await;
    assert_redirect(&res, "/me/sessions");
    let html = browser.get("/me/sessions").await.text();
    assert!(html.contains("Every other session has ended."), "{html}");
    assert!(html.contains("You are signed in nowhere else."), "{html}");
    for other in &mut others {
        assert_redirect(&other.get("/me").await, "/login");
    }
    assert_eq!(browser.me_status().await, StatusCode::OK);
    assert_eq!(denna.me_status().await, StatusCode::OK);
}

// ----- HTML 404 and 405 -----

#[tokio::test]
async fn browsers_get_html_404_and_405_pages_and_other_clients_json() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    for path in ["/nope", "/me/nope", "/reset/x", "/%3Cscript%3E"] {
        let res = browser.get(path).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        assert!(res.text().contains("Page not found"), "{}", res.text());
        assert!(!res.text().contains("<script>"), "{}", res.text());
    }
    for (method, path, allow) in [
        ("GET", "/password", "POST"),
        ("GET", "/users", "POST"),
        ("PUT", "/me", "GET"),
        ("GET", "/me/sessions/end-others", "POST"),
        ("DELETE", "/forgot", "GET, POST"),
        ("PUT", "/reset", "GET, POST"),
    ] {
        let res = browser.send(request(method, path)).await;
        assert_eq!(
            res.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(res.header("allow"), Some(allow), "{method} {path}");
        assert!(res.text().contains("Method not allowed"), "{}", res.text());
    }

    // Scripts keep the JSON of section 3, and so do the machine routes for browsers.
    let res = app.send(get("/nope")).await;
    res.assert_error(StatusCode::NOT_FOUND, "not_found");
    let res = app
        .send(get("/password").header("accept", "application/json"))
        .await;
    res.assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let res = app
        .send(get("/me/password").header("accept", "text/html;q=0.5, application/json"))
        .await;
    // Not a browser by its Accept: a redirect, not a page, but no JSON body either.
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let res = app
        .reply(request("PUT", "/healthz").header("accept", BROWSER_ACCEPT))
        .await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(res
        .header("content-type")
        .unwrap_or_default()
        .starts_with("application/json"));
}

// ----- races -----

// auth-core answers the losing change NotAuthenticated (its session ended
// with the winner's change), which the page turns into a 303 to /login.
#[tokio::test]
async fn two_password_changes_racing_on_one_session_change_it_once() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None).await;
    let mut browser = Browser::new(&app);
    browser.log_in("kvothe", PASSWORD).await;
    let token = browser.token("/me/password").await;
    let change = |new: &'static str| {
        browser.prepare(form(
            "POST",
            "/me/password",
            &[
                ("csrf_token", token.as_str()),
                ("current_password", PASSWORD),
                ("new_password", new),
                ("new_password_again", new),
            ],
        ))
    };
    let third = "quiet-meadow-lantern-77";
    let (a, b) = tokio::join!(app.page(change(NEW_PASSWORD)), app.page(change(third)));
    let winners = [&a, &b]
        .iter()
        .filter(|res| res.header("location") == Some("/me"))
        .count();
    assert_eq!(winners, 1, "{} / {}", a.text(), b.text());
    for res in [&a, &b] {
        assert!(
            res.status == StatusCode::SEE_OTHER || res.status == StatusCode::UNAUTHORIZED,
            "{}: {}",
            res.status,
            res.text()
        );
    }
    let new_works = password_works(&app, "kvothe", NEW_PASSWORD).await;
    let third_works = password_works(&app, "kvothe", third).await;
    assert!(new_works ^ third_works, "exactly one new password holds");
    assert!(!password_works(&app, "kvothe", PASSWORD).await);
}

#[tokio::test]
async fn two_resets_racing_with_one_link_use_it_once() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), Some("kvothe@example.com")).await;
    let (_, link) = reset_link(&app, "kvothe").await;
    let mut browser = Browser::new(&app);
    let token = browser.token(&format!("/reset?token={link}")).await;
    let reset = |new: &'static str| {
        browser.prepare(form(
            "POST",
            "/reset",
            &[
                ("csrf_token", token.as_str()),
                ("token", link.as_str()),
                ("new_password", new),
                ("new_password_again", new),
            ],
        ))
    };
    let third = "quiet-meadow-lantern-77";
    let (a, b) = tokio::join!(app.page(reset(NEW_PASSWORD)), app.page(reset(third)));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::SEE_OTHER, StatusCode::FORBIDDEN]);
    let new_works = password_works(&app, "kvothe", NEW_PASSWORD).await;
    let third_works = password_works(&app, "kvothe", third).await;
    assert!(new_works ^ third_works, "exactly one new password holds");
}

#[tokio::test]
async fn the_reset_page_names_the_account_escaped() {
    let app = TestApp::new().await;
    let email = "o'brien&<co>@example.com";
    register(&app, None, Some(email)).await;
    let (_, token) = app
        .auth
        .get_reset_password_token(&Identifier::Email(email.to_owned()), &ClientInfo::default())
        .await
        .expect("a reset token");
    let link = format!("{}.e{}", token.expose(), URL_SAFE_NO_PAD.encode(email));
    let mut browser = Browser::new(&app);
    let res = browser.get(&format!("/reset?token={link}")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let html = named_entities(&res.text());
    assert!(!res.text().contains(email), "unescaped: {html}");
    assert!(
        html.contains("o&apos;brien&amp;&lt;co&gt;@example.com"),
        "{html}"
    );
}
