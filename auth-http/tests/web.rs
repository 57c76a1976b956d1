//! The web pages of docs/contract/4-web-pages.md (`/signup`, `/login`, `/me`, `/logout`,
//! the stylesheet), through `auth_http::routes` with `warp::test::request()`.
//! A `Browser` keeps cookies between requests the way a browser does; every
//! page goes through `TestApp::page`, which checks the content type and the
//! security headers (CSP without inline script, nosniff, no-referrer, DENY).

use crate::common;

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use auth_core::{ClientInfo, Identifier, Password, Registration};
use auth_http::HttpConfig;
use auth_http::RateLimit;
use common::*;
use warp::http::StatusCode;
use warp::test::RequestBuilder;

const SCRIPT: &str = "<script>alert(1)</script>";
/// `SCRIPT` HTML-escaped, after [`named_entities`].
const ESCAPED_SCRIPT: &str = "&lt;script&gt;alert(1)&lt;/script&gt;";
const WRONG_CREDENTIALS: &str = "Wrong username or password.";
const ACCOUNT_CREATED: &str = "Account created, please log in";
const FORM_EXPIRED: &str = "This form has expired. Reload the page and try again.";
const OTHER_SITE: &str = "This form was sent from another site.";
/// What the tests send as `Host`, and the matching same-origin `Origin`.
const HOST: &str = "localhost:5000";
const SAME_ORIGIN: &str = "http://localhost:5000";
const FOREIGN_ORIGIN: &str = "https://evil.example";

// ----- a browser -----

/// A cookie jar and the headers a browser sends with every request.
struct Browser<'a> {
    app: &'a TestApp,
    jar: BTreeMap<String, String>,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Browser {
            app,
            jar: BTreeMap::new(),
        }
    }

    fn cookie(&self, name: &str) -> Option<&str> {
        self.jar.get(name).map(String::as_str)
    }

    fn set_cookie(&mut self, name: &str, value: &str) {
        self.jar.insert(name.to_owned(), value.to_owned());
    }

    /// The session token the browser holds.
    fn session(&self) -> String {
        self.cookie("session_id")
            .expect("the browser holds a session cookie")
            .to_owned()
    }

    /// Adds the browser's headers and cookies to a request.
    fn prepare(&self, request: RequestBuilder) -> RequestBuilder {
        let request = request
            .header("host", HOST)
            .header("accept", BROWSER_ACCEPT);
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

    /// Sends a request for a page and keeps the cookies it sets.
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

    /// A form post with one more header (such as `Origin`).
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

    /// Fills in and sends the sign-up form.
    async fn signup(&mut self, fields: &[(&str, &str)]) -> Res {
        let token = self.token("/signup").await;
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        self.post("/signup", &all).await
    }

    /// Fills in and sends the login form.
    async fn login(&mut self, username: &str, password: &str) -> Res {
        let token = self.token("/login").await;
        self.post(
            "/login",
            &[
                ("csrf_token", &token),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }

    /// Logs in and expects success.
    async fn logged_in(&mut self, username: &str) {
        let res = self.login(username, PASSWORD).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "login: {}", res.text());
        assert_eq!(res.header("location"), Some("/me"));
    }

    /// Opens /me and returns its logout token.
    async fn logout_token(&mut self) -> String {
        let res = self.get("/me").await;
        assert_eq!(res.status, StatusCode::OK, "GET /me: {}", res.text());
        res.csrf_token()
    }

    /// The status of GET /me.
    async fn me_status(&mut self) -> StatusCode {
        self.get("/me").await.status
    }
}

/// Creates an account directly through `Auth`, with the test password.
async fn register(
    app: &TestApp,
    username: Option<&str>,
    email: Option<&str>,
    full_name: Option<&str>,
) {
    app.auth
        .register_user(
            Registration {
                username: username.map(str::to_owned),
                email: email.map(str::to_owned),
                password: Password::new(PASSWORD),
                full_name: full_name.map(str::to_owned),
                mothers_favorite_search_engine: None,
            },
            &ClientInfo::default(),
        )
        .await
        .expect("register an account");
}

/// Whether an account with this username or e-mail exists.
async fn exists(app: &TestApp, name: &str) -> bool {
    app.auth
        .find_user(&Identifier::Any(name.to_owned()))
        .await
        .expect("look up an account")
        .is_some()
}

/// The HTML with askama's numeric character references for the escaped
/// characters written as the named ones (`&#60;` and `&lt;` are the same to a
/// browser), so the tests need not care which form the escaper uses.
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

/// The sign-up fields of a good account.
fn kvothe(password: &str) -> Vec<(&str, &str)> {
    vec![
        ("username", "kvothe"),
        ("password", password),
        ("full_name", "Kvothe Arliden"),
        ("mothers_favorite_search_engine", "DuckDuckGo"),
    ]
}

// ----- GET /signup and GET /login -----

#[tokio::test]
async fn form_pages_set_a_pre_session_cookie_and_a_bound_token() {
    let app = TestApp::new().await;
    for path in ["/signup", "/login"] {
        let mut browser = Browser::new(&app);
        let res = browser.get(path).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        let set_cookie = res
            .set_cookie_named("authd_csrf")
            .unwrap_or_else(|| panic!("GET {path} sets no authd_csrf cookie"));
        let nonce = cookie_value(&set_cookie);
        assert_eq!(nonce.len(), 43, "nonce {nonce:?}");
        assert!(nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let attributes = cookie_attributes(&set_cookie);
        for wanted in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
            assert!(
                attributes.iter().any(|a| a == wanted),
                "{wanted} missing from {set_cookie}"
            );
        }
        let token = res.csrf_token();
        assert_eq!(token.len(), 43, "token {token:?}");
        assert_ne!(token, nonce, "the token is the nonce itself");
        assert!(res.set_cookie_named("session_id").is_none());

        // With the cookie, the page keeps it and binds the same token.
        let again = browser.get(path).await;
        assert_eq!(again.status, StatusCode::OK);
        assert!(
            again.header_all("set-cookie").is_empty(),
            "a second nonce for the same browser"
        );
        assert_eq!(again.csrf_token(), token);

        // Another browser gets another nonce and another token.
        let other = Browser::new(&app).get(path).await;
        assert_ne!(other.csrf_token(), token);

        // A cookie that cannot be a nonce is replaced.
        let mut odd = Browser::new(&app);
        odd.set_cookie("authd_csrf", "short");
        let res = odd.get(path).await;
        let replaced = res
            .set_cookie_named("authd_csrf")
            .expect("a malformed nonce is replaced");
        assert_eq!(cookie_value(&replaced).len(), 43);
    }
}

#[tokio::test]
async fn signup_form_has_the_contract_fields() {
    let app = TestApp::new().await;
    let res = Browser::new(&app).get("/signup").await;
    assert_eq!(res.status, StatusCode::OK);
    let html = res.text();
    for name in [
        "csrf_token",
        "username",
        "password",
        "full_name",
        "mothers_favorite_search_engine",
    ] {
        assert!(
            html.contains(&format!("name=\"{name}\"")),
            "no {name} field: {html}"
        );
    }
    assert!(html.contains("action=\"/signup\""));
    assert!(html.contains("method=\"post\""));
    assert!(html.contains("type=\"password\""));
    assert!(html.contains("at least 15 characters"), "{html}");
    assert_eq!(res.input_value("username").as_deref(), Some(""));
    assert_eq!(res.input_value("password"), None, "a password value");
}

#[tokio::test]
async fn login_form_has_one_username_field_and_a_password() {
    let app = TestApp::new().await;
    let res = Browser::new(&app).get("/login").await;
    assert_eq!(res.status, StatusCode::OK);
    let html = res.text();
    assert!(html.contains("action=\"/login\""));
    assert!(html.contains("method=\"post\""));
    assert_eq!(html.matches("name=\"username\"").count(), 1, "{html}");
    assert_eq!(html.matches("name=\"password\"").count(), 1, "{html}");
    assert!(!html.contains("name=\"email\""), "{html}");
    assert!(!html.contains(ACCOUNT_CREATED));
}

// ----- POST /signup -----

#[tokio::test]
async fn signup_success_redirects_to_login_which_says_account_created_once() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    let res = browser
        .signup(&[
            ("username", "kvothe"),
            ("password", PASSWORD),
            ("full_name", "  Kvothe Arliden  "),
            ("mothers_favorite_search_engine", "DuckDuckGo"),
        ])
        .await;
    assert_redirect(&res, "/login");
    assert!(res.set_cookie_named("session_id").is_none());
    let flash = res
        .set_cookie_named("authd_flash")
        .expect("a flash cookie after sign-up");
    let attributes = cookie_attributes(&flash);
    assert!(attributes.iter().any(|a| a == "HttpOnly"), "{flash}");
    assert!(
        attributes
            .iter()
            .any(|a| a.starts_with("Max-Age=") && a != "Max-Age=0"),
        "{flash}"
    );

    let user = app
        .auth
        .find_user(&Identifier::Username("kvothe".into()))
        .await
        .unwrap()
        .expect("the account exists");
    assert_eq!(user.username.as_deref(), Some("kvothe"));
    assert_eq!(user.email, None);
    assert_eq!(user.full_name.as_deref(), Some("Kvothe Arliden"));
    assert_eq!(
        user.mothers_favorite_search_engine.as_deref(),
        Some("DuckDuckGo")
    );

    let res = browser.get("/login").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.text().contains(ACCOUNT_CREATED), "{}", res.text());
    let cleared = res
        .set_cookie_named("authd_flash")
        .expect("the flash cookie is cleared");
    assert!(
        cookie_attributes(&cleared).iter().any(|a| a == "Max-Age=0"),
        "{cleared}"
    );
    assert_eq!(browser.cookie("authd_flash"), None);

    // Shown once.
    let res = browser.get("/login").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(!res.text().contains(ACCOUNT_CREATED));

    // And the new account logs in.
    browser.logged_in("kvothe").await;
    assert_eq!(browser.me_status().await, StatusCode::OK);
}

#[tokio::test]
async fn signup_with_only_the_required_fields_works() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    let res = browser
        .signup(&[("username", "denna"), ("password", PASSWORD)])
        .await;
    assert_redirect(&res, "/login");
    let user = app
        .auth
        .find_user(&Identifier::Username("denna".into()))
        .await
        .unwrap()
        .expect("the account exists");
    assert_eq!(user.full_name, None);
    assert_eq!(user.mothers_favorite_search_engine, None);

    // A browser sends empty optional fields: they mean "not set".
    let res = browser
        .signup(&[
            ("username", "auri"),
            ("password", PASSWORD),
            ("full_name", ""),
            ("mothers_favorite_search_engine", ""),
        ])
        .await;
    assert_redirect(&res, "/login");
    let user = app
        .auth
        .find_user(&Identifier::Username("auri".into()))
        .await
        .unwrap()
        .expect("the account exists");
    assert_eq!(user.full_name, None);
    assert_eq!(user.mothers_favorite_search_engine, None);
}

#[tokio::test]
async fn signup_failure_shows_the_reason_and_keeps_the_fields_but_not_the_password() {
    let app = TestApp::new().await;
    let long_name = "n".repeat(201);
    let long_engine = "e".repeat(101);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            kvothe("Zq9-shortpw"),
            "Password must be at least 15 characters long.",
        ),
        (kvothe(""), "Password must not be empty."),
        (
            vec![
                ("username", "averyverylongname1"),
                ("password", "averyverylongname1"),
                ("full_name", "Kvothe Arliden"),
                ("mothers_favorite_search_engine", "DuckDuckGo"),
            ],
            "Password must not be the same as the username or e-mail.",
        ),
        (
            vec![
                ("username", ""),
                ("password", PASSWORD),
                ("full_name", "Kvothe Arliden"),
                ("mothers_favorite_search_engine", "DuckDuckGo"),
            ],
            "Enter a username.",
        ),
        (
            vec![
                ("username", "bad name"),
                ("password", PASSWORD),
                ("full_name", "Kvothe Arliden"),
                ("mothers_favorite_search_engine", "DuckDuckGo"),
            ],
            "Username must be 1 to 64 characters long and may use only letters, digits, dots, \
             underscores, hyphens, @ and +.",
        ),
        (
            vec![
                ("username", "kvothe"),
                ("password", PASSWORD),
                ("full_name", &long_name),
                ("mothers_favorite_search_engine", "DuckDuckGo"),
            ],
            "Full name must be at most 200 characters.",
        ),
        (
            vec![
                ("username", "kvothe"),
                ("password", PASSWORD),
                ("full_name", "Kvothe Arliden"),
                ("mothers_favorite_search_engine", &long_engine),
            ],
            "Mother&apos;s favorite search engine must be at most 100 characters.",
        ),
    ];
    for (case, (fields, reason)) in cases.into_iter().enumerate() {
        let mut browser = Browser::new(&app);
        let res = browser.signup(&fields).await;
        assert_eq!(
            res.status,
            StatusCode::BAD_REQUEST,
            "{reason}: {}",
            res.text()
        );
        let html = named_entities(&res.text());
        assert!(html.contains(reason), "{reason} not shown: {html}");
        assert!(res.header_all("set-cookie").is_empty());
        let field = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| *v)
                .unwrap_or_default()
        };
        assert_eq!(
            res.input_value("username").as_deref(),
            Some(field("username"))
        );
        assert_eq!(
            res.input_value("full_name").as_deref(),
            Some(field("full_name"))
        );
        assert_eq!(
            res.input_value("mothers_favorite_search_engine").as_deref(),
            Some(field("mothers_favorite_search_engine"))
        );
        assert_eq!(res.input_value("password"), None, "the password came back");
        let password = field("password");
        if !password.is_empty() && password != field("username") {
            assert!(!html.contains(password), "the password is echoed: {html}");
        }
        let username = field("username");
        if !username.is_empty() && username != "bad name" {
            assert!(!exists(&app, username).await, "{reason}: account created");
        }

        // The form shown again works: fix the mistake and send it.
        let token = res.csrf_token();
        let fixed_name = format!("fixed{case}");
        let res = browser
            .post(
                "/signup",
                &[
                    ("csrf_token", &token),
                    ("username", &fixed_name),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_redirect(&res, "/login");
    }
}

#[tokio::test]
async fn signup_with_a_taken_username_says_so_whatever_the_case() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    assert_redirect(&browser.signup(&kvothe(PASSWORD)).await, "/login");
    for name in ["kvothe", "KVOTHE"] {
        let res = browser
            .signup(&[
                ("username", name),
                ("password", NEW_PASSWORD),
                ("full_name", "Someone Else"),
            ])
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text());
        assert!(
            res.text().contains("That username is already registered."),
            "{}",
            res.text()
        );
        assert_eq!(res.input_value("username").as_deref(), Some(name));
        assert_eq!(
            res.input_value("full_name").as_deref(),
            Some("Someone Else")
        );
        assert!(!res.text().contains(NEW_PASSWORD));
    }

    // An e-mail-only account's address is taken as a username too.
    register(&app, None, Some("bob@example.com"), None).await;
    let res = browser
        .signup(&[("username", "Bob@Example.com"), ("password", NEW_PASSWORD)])
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text());
    assert!(res.text().contains("already registered"), "{}", res.text());
}

#[tokio::test]
async fn signup_kept_fields_are_escaped() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    let quoted = format!("\"><{}", &SCRIPT[1..]);
    let res = browser
        .signup(&[
            ("username", SCRIPT),
            ("password", PASSWORD),
            ("full_name", SCRIPT),
            ("mothers_favorite_search_engine", &quoted),
        ])
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text());
    let html = res.text();
    assert!(html.contains("Username must be"), "{html}");
    assert!(!html.contains(SCRIPT), "raw script: {html}");
    assert!(!html.contains("\"><script"), "attribute break-out: {html}");
    let value = |name: &str| named_entities(&res.input_value(name).unwrap_or_default());
    assert_eq!(value("username"), ESCAPED_SCRIPT);
    assert_eq!(value("full_name"), ESCAPED_SCRIPT);
    assert_eq!(
        value("mothers_favorite_search_engine"),
        format!("&quot;&gt;{ESCAPED_SCRIPT}")
    );
}

// ----- POST /login -----

#[tokio::test]
async fn login_success_sets_the_session_cookie_and_goes_to_me() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, Some("Kvothe Arliden")).await;
    let mut browser = Browser::new(&app);
    let res = browser.login("kvothe", PASSWORD).await;
    assert_redirect(&res, "/me");
    let set_cookie = res
        .set_cookie_named("session_id")
        .expect("a session cookie");
    let token = cookie_value(&set_cookie);
    assert_eq!(token.len(), 43, "{set_cookie}");
    let attributes = cookie_attributes(&set_cookie);
    let max_age = format!("Max-Age={}", app.auth.config().session_max_age.as_secs());
    for wanted in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", &max_age] {
        assert!(
            attributes.iter().any(|a| a == wanted),
            "{wanted} missing from {set_cookie}"
        );
    }
    // The same session works for the JSON API.
    assert_eq!(app.profile_status(&token).await, StatusCode::OK);

    let res = browser.get("/me").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let html = res.text();
    assert!(html.contains("<span id=\"whoami\">kvothe</span>"), "{html}");
    assert!(html.contains("Kvothe Arliden"), "{html}");
    assert!(
        !html.contains("E-mail"),
        "an e-mail row without one: {html}"
    );
    assert_eq!(res.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn login_by_email_through_the_username_field() {
    let app = TestApp::new().await;
    register(&app, None, Some("Bob@Example.com"), None).await;
    for name in ["Bob@Example.com", "bob@example.com"] {
        let mut browser = Browser::new(&app);
        let res = browser.login(name, PASSWORD).await;
        assert_redirect(&res, "/me");
        let res = browser.get("/me").await;
        assert_eq!(res.status, StatusCode::OK);
        let html = res.text();
        assert!(
            html.contains("<span id=\"whoami\">Bob@Example.com</span>"),
            "{html}"
        );
        assert!(html.contains("E-mail"), "{html}");
        assert!(!html.contains("Username</dt>"), "{html}");
    }
}

#[tokio::test]
async fn a_session_from_the_json_api_opens_me() {
    let app = TestApp::new().await;
    let token = app.signed_in("bob@example.com").await;
    let res = app.page(get("/me").header("cookie", cookie(&token))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert!(res
        .text()
        .contains("<span id=\"whoami\">bob@example.com</span>"));
}

#[tokio::test]
async fn another_cookie_name_is_used_by_every_page() {
    let http = HttpConfig {
        cookie_name: "__Host-session".into(),
        ..http_config()
    };
    let app = TestApp::with(core_config(), http).await;
    register(&app, Some("kvothe"), None, None).await;
    let mut browser = Browser::new(&app);
    let res = browser.login("kvothe", PASSWORD).await;
    assert_redirect(&res, "/me");
    let set_cookie = res
        .set_cookie_named("__Host-session")
        .expect("the configured cookie name");
    let attributes = cookie_attributes(&set_cookie);
    assert!(attributes.iter().any(|a| a == "Secure"), "{set_cookie}");
    assert!(attributes.iter().any(|a| a == "Path=/"), "{set_cookie}");
    assert!(
        !attributes.iter().any(|a| a.starts_with("Domain")),
        "{set_cookie}"
    );
    assert!(res.set_cookie_named("session_id").is_none());
    assert_eq!(browser.me_status().await, StatusCode::OK);

    let token = browser.logout_token().await;
    let res = browser.post("/logout", &[("csrf_token", &token)]).await;
    assert_redirect(&res, "/login");
    assert!(res.set_cookie_named("__Host-session").is_some());
    assert_eq!(browser.cookie("__Host-session"), None);
    assert_redirect(&browser.get("/me").await, "/login");
}

#[tokio::test]
async fn login_failure_is_one_generic_401_form() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), Some("kvothe@example.com"), None).await;
    let cases: &[(&str, &str)] = &[
        ("kvothe", "Zq9-wrong-password-123"),
        ("kvothe@example.com", "Zq9-wrong-password-123"),
        ("nobody", "Zq9-wrong-password-123"),
        ("nobody@example.com", PASSWORD),
        ("kvothe", ""),
        ("", PASSWORD),
        ("", ""),
        (SCRIPT, "Zq9-wrong-password-123"),
    ];
    for (username, password) in cases {
        let mut browser = Browser::new(&app);
        let res = browser.login(username, password).await;
        assert_eq!(
            res.status,
            StatusCode::UNAUTHORIZED,
            "{username:?}/{password:?}: {}",
            res.text()
        );
        let html = res.text();
        assert!(html.contains(WRONG_CREDENTIALS), "{html}");
        assert!(!html.contains("invalid credentials"), "{html}");
        assert!(res.set_cookie_named("session_id").is_none());
        assert_eq!(res.header("retry-after"), None);
        assert_eq!(res.input_value("password"), None);
        if !password.is_empty() {
            assert!(!html.contains(password), "the password is echoed: {html}");
        }
        assert!(!html.contains(SCRIPT), "raw script: {html}");
        assert_eq!(browser.me_status().await, StatusCode::SEE_OTHER);
    }

    // The login form's fields missing altogether: still the one 401.
    let mut browser = Browser::new(&app);
    let token = browser.token("/login").await;
    let res = browser.post("/login", &[("csrf_token", &token)]).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.text());
    assert!(res.text().contains(WRONG_CREDENTIALS));

    // The form shown again carries a token that works.
    let res = browser
        .post(
            "/login",
            &[
                ("csrf_token", &token),
                ("username", "kvothe"),
                ("password", "Zq9-wrong-password-123"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let again = res.csrf_token();
    let res = browser
        .post(
            "/login",
            &[
                ("csrf_token", &again),
                ("username", "kvothe"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_redirect(&res, "/me");
}

#[tokio::test]
async fn a_second_login_in_the_same_browser_ends_the_first_session() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    let mut browser = Browser::new(&app);
    browser.logged_in("kvothe").await;
    let first = browser.session();
    browser.logged_in("kvothe").await;
    let second = browser.session();
    assert_ne!(first, second);
    assert_eq!(app.profile_status(&first).await, StatusCode::FORBIDDEN);
    assert_eq!(app.profile_status(&second).await, StatusCode::OK);
}

#[tokio::test]
async fn throttled_login_shows_the_form_with_when_to_retry() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    let mut browser = Browser::new(&app);
    for attempt in 1..=5 {
        let res = browser.login("kvothe", "Zq9-wrong-password-123").await;
        assert_eq!(
            res.status,
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}: {}",
            res.text()
        );
        assert!(res.text().contains(WRONG_CREDENTIALS));
    }
    // During the delay even the right password waits.
    let res = browser.login("kvothe", PASSWORD).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.text());
    assert_eq!(res.header("retry-after"), Some("1"));
    let html = res.text();
    assert!(html.contains("Try again in 1 second"), "{html}");
    assert!(!html.contains(WRONG_CREDENTIALS), "{html}");
    assert!(html.contains("name=\"csrf_token\""), "not the form: {html}");
    assert!(res.set_cookie_named("session_id").is_none());

    // After the delay a wrong password doubles it; the page says the new wait.
    app.clock.advance(1);
    let res = browser.login("kvothe", "Zq9-wrong-password-123").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.text());
    let res = browser.login("kvothe", PASSWORD).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.text());
    assert_eq!(res.header("retry-after"), Some("2"));
    assert!(
        res.text().contains("Try again in 2 seconds"),
        "{}",
        res.text()
    );

    app.clock.advance(2);
    let res = browser.login("kvothe", PASSWORD).await;
    assert_redirect(&res, "/me");
}

#[tokio::test]
async fn the_per_address_limit_covers_signup_and_login_pages() {
    let http = HttpConfig {
        ip_rate_limit: RateLimit::Every {
            count: NonZeroU32::new(2).unwrap(),
            per: Duration::from_secs(3600),
        },
        ..http_config()
    };
    let app = TestApp::with(core_config(), http).await;
    let mut browser = Browser::new(&app);
    let token = browser.token("/login").await;
    let mut limited = None;
    for _ in 0..5 {
        let res = browser
            .post(
                "/login",
                &[
                    ("csrf_token", &token),
                    ("username", "nobody"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        if res.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(res);
            break;
        }
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.text());
    }
    let res = limited.expect("the per-address limit never answered 429");
    let seconds: u64 = res
        .header("retry-after")
        .expect("Retry-After on a 429")
        .parse()
        .expect("whole seconds");
    assert!(seconds >= 1);
    assert!(res.set_cookie_named("session_id").is_none());

    // Sign-up shares the allowance; the form pages are not limited.
    let res = browser
        .post(
            "/signup",
            &[
                ("csrf_token", &token),
                ("username", "kvothe"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.text());
    assert!(res.header("retry-after").is_some());
    assert!(!exists(&app, "kvothe").await);
    assert_eq!(browser.get("/signup").await.status, StatusCode::OK);
    assert_eq!(browser.get("/login").await.status, StatusCode::OK);
}

// ----- GET /me -----

#[tokio::test]
async fn me_without_a_live_session_redirects_to_login() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    assert_redirect(&browser.get("/me").await, "/login");

    browser.set_cookie("session_id", "not-a-token");
    assert_redirect(&browser.get("/me").await, "/login");
    browser.set_cookie("session_id", &"A".repeat(43));
    assert_redirect(&browser.get("/me").await, "/login");
}

#[tokio::test]
async fn me_shows_the_profile_without_caching() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    assert_redirect(&browser.signup(&kvothe(PASSWORD)).await, "/login");
    browser.logged_in("kvothe").await;
    let res = browser.get("/me").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let html = res.text();
    for shown in [
        "<span id=\"whoami\">kvothe</span>",
        "Kvothe Arliden",
        "DuckDuckGo",
        "action=\"/logout\"",
    ] {
        assert!(html.contains(shown), "{shown} missing: {html}");
    }
    assert!(!html.contains(PASSWORD));
    let token = res.csrf_token();
    assert_eq!(token.len(), 43);
    assert!(
        !html.contains(&browser.session()),
        "the session token on the page"
    );
}

#[tokio::test]
async fn me_after_the_idle_timeout_redirects_to_login() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    let mut browser = Browser::new(&app);
    browser.logged_in("kvothe").await;
    assert_eq!(browser.me_status().await, StatusCode::OK);
    let idle = app.auth.config().session_idle_timeout.as_secs() as i64;
    app.clock.advance(idle + 1);
    assert_redirect(&browser.get("/me").await, "/login");
}

#[tokio::test]
async fn user_text_on_me_is_escaped() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    let res = browser
        .signup(&[
            ("username", "kvothe"),
            ("password", PASSWORD),
            ("full_name", SCRIPT),
            ("mothers_favorite_search_engine", SCRIPT),
        ])
        .await;
    assert_redirect(&res, "/login");
    browser.logged_in("kvothe").await;
    let res = browser.get("/me").await;
    assert_eq!(res.status, StatusCode::OK);
    let html = named_entities(&res.text());
    assert!(!html.contains(SCRIPT), "raw script: {html}");
    assert!(
        html.contains(&format!("<dd id=\"full_name\">{ESCAPED_SCRIPT}</dd>")),
        "{html}"
    );
    assert_eq!(html.matches(ESCAPED_SCRIPT).count(), 2, "{html}");

    // An e-mail may hold markup too; it is the name shown (title and heading).
    let email = format!("{SCRIPT}@example.com");
    register(&app, None, Some(&email), None).await;
    let mut other = Browser::new(&app);
    let res = other.login(&email, PASSWORD).await;
    assert_redirect(&res, "/me");
    let res = other.get("/me").await;
    assert_eq!(res.status, StatusCode::OK);
    let html = named_entities(&res.text());
    assert!(!html.contains(SCRIPT), "raw script: {html}");
    assert!(
        html.contains(&format!(
            "<span id=\"whoami\">{ESCAPED_SCRIPT}@example.com</span>"
        )),
        "{html}"
    );
    assert!(
        html.contains(&format!("<title>{ESCAPED_SCRIPT}@example.com")),
        "{html}"
    );
}

// ----- GET /logout and POST /logout -----

#[tokio::test]
async fn post_logout_with_the_session_token_ends_the_session() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    let mut browser = Browser::new(&app);
    browser.logged_in("kvothe").await;
    let session = browser.session();
    let token = browser.logout_token().await;

    let res = browser.post("/logout", &[("csrf_token", &token)]).await;
    assert_redirect(&res, "/login");
    let cleared = res
        .set_cookie_named("session_id")
        .expect("the session cookie is cleared");
    assert_eq!(cookie_value(&cleared), "");
    assert!(
        cookie_attributes(&cleared).iter().any(|a| a == "Max-Age=0"),
        "{cleared}"
    );
    assert_eq!(browser.cookie("session_id"), None);
    assert_redirect(&browser.get("/me").await, "/login");
    // The token itself is dead, not only forgotten by the browser.
    assert_eq!(app.profile_status(&session).await, StatusCode::FORBIDDEN);
    let res = app
        .page(get("/me").header("cookie", cookie(&session)))
        .await;
    assert_redirect(&res, "/login");
}

#[tokio::test]
async fn post_logout_without_a_valid_token_is_403_and_the_session_lives() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    register(&app, Some("denna"), None, None).await;
    let mut browser = Browser::new(&app);
    browser.logged_in("kvothe").await;
    let session = browser.session();
    let own_token = browser.logout_token().await;

    // Another user's session token.
    let mut denna = Browser::new(&app);
    denna.logged_in("denna").await;
    let dennas_token = denna.logout_token().await;
    // Another session of the same user.
    let mut second = Browser::new(&app);
    second.logged_in("kvothe").await;
    let second_token = second.logout_token().await;
    assert_ne!(second_token, own_token);
    // A pre-session token of this very browser.
    let pre_session = browser.token("/login").await;

    let forged = "A".repeat(43);
    let bad: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("csrf_token", "")],
        vec![("csrf_token", &forged)],
        vec![("csrf_token", &dennas_token)],
        vec![("csrf_token", &second_token)],
        vec![("csrf_token", &pre_session)],
        vec![("csrf_token", &own_token[..42])],
    ];
    for fields in bad {
        let res = browser.post("/logout", &fields).await;
        assert_forbidden(&res, FORM_EXPIRED);
        assert!(res.header_all("set-cookie").is_empty(), "{fields:?}");
        assert_eq!(browser.me_status().await, StatusCode::OK, "{fields:?}");
        assert_eq!(app.profile_status(&session).await, StatusCode::OK);
    }
    // The other sessions are untouched too.
    assert_eq!(denna.me_status().await, StatusCode::OK);
    assert_eq!(second.me_status().await, StatusCode::OK);

    // The right token still works afterwards.
    let res = browser.post("/logout", &[("csrf_token", &own_token)]).await;
    assert_redirect(&res, "/login");
    assert_redirect(&browser.get("/me").await, "/login");
    assert_eq!(second.me_status().await, StatusCode::OK);
}

#[tokio::test]
async fn post_logout_without_a_session_goes_to_login_and_changes_nothing() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    let mut browser = Browser::new(&app);
    browser.logged_in("kvothe").await;
    let token = browser.logout_token().await;

    // The token of a session, sent without that session's cookie: there is
    // no session to end, so the stranger is sent to the login page and the
    // owner's session lives on.
    let mut stranger = Browser::new(&app);
    let res = stranger.post("/logout", &[("csrf_token", &token)]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some("/login"));
    assert_eq!(browser.me_status().await, StatusCode::OK);
}

#[tokio::test]
async fn get_logout_ends_the_session_without_a_token() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    let mut browser = Browser::new(&app);
    browser.logged_in("kvothe").await;
    let session = browser.session();

    let res = browser.get("/logout").await;
    assert_redirect(&res, "/login");
    let cleared = res
        .set_cookie_named("session_id")
        .expect("the session cookie is cleared");
    assert!(cookie_attributes(&cleared).iter().any(|a| a == "Max-Age=0"));
    assert_eq!(app.profile_status(&session).await, StatusCode::FORBIDDEN);
    assert_redirect(&browser.get("/me").await, "/login");
}

#[tokio::test]
async fn get_logout_without_a_session_just_goes_to_login() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    assert_redirect(&browser.get("/logout").await, "/login");
    browser.set_cookie("session_id", "garbage");
    assert_redirect(&browser.get("/logout").await, "/login");
    browser.set_cookie("session_id", &"A".repeat(43));
    assert_redirect(&browser.get("/logout").await, "/login");
    // Twice in a row is fine as well.
    register(&app, Some("kvothe"), None, None).await;
    browser.logged_in("kvothe").await;
    assert_redirect(&browser.get("/logout").await, "/login");
    assert_redirect(&browser.get("/logout").await, "/login");
}

// ----- CSRF on the pre-session forms -----

#[tokio::test]
async fn signup_without_a_valid_csrf_token_is_403_and_creates_nothing() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    let own = browser.token("/signup").await;
    let mut other = Browser::new(&app);
    let others = other.token("/signup").await;
    let forged = "A".repeat(43);
    let mut fields = kvothe(PASSWORD);

    for token in [None, Some(""), Some(forged.as_str()), Some(others.as_str())] {
        let mut sent = fields.clone();
        if let Some(token) = token {
            sent.push(("csrf_token", token));
        }
        let res = browser.post("/signup", &sent).await;
        assert_forbidden(&res, FORM_EXPIRED);
        assert!(res.set_cookie_named("authd_flash").is_none());
        assert!(!exists(&app, "kvothe").await, "created with {token:?}");
    }

    // A valid token without its cookie (another browser's post, a cookie-less client).
    let mut cookieless = Browser::new(&app);
    fields.push(("csrf_token", &own));
    let res = cookieless.post("/signup", &fields).await;
    // docs/contract/6-operations.md: no cookie at all is what plain HTTP looks like.
    assert_forbidden(&res, "this site must be opened over HTTPS");
    assert!(!exists(&app, "kvothe").await);

    // A session-bound token is no pre-session token.
    register(&app, Some("denna"), None, None).await;
    let mut denna = Browser::new(&app);
    denna.logged_in("denna").await;
    let session_token = denna.logout_token().await;
    let mut with_session_token = kvothe(PASSWORD);
    with_session_token.push(("csrf_token", &session_token));
    let res = denna.post("/signup", &with_session_token).await;
    assert_forbidden(&res, FORM_EXPIRED);
    assert!(!exists(&app, "kvothe").await);

    // The same form with the browser's own token goes through.
    let res = browser.post("/signup", &fields).await;
    assert_redirect(&res, "/login");
    assert!(exists(&app, "kvothe").await);
}

#[tokio::test]
async fn login_without_a_valid_csrf_token_is_403_and_counts_nothing() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    let mut browser = Browser::new(&app);
    let own = browser.token("/login").await;
    let mut other = Browser::new(&app);
    let others = other.token("/login").await;
    let forged = "A".repeat(43);

    // Right password, bad token: no session.
    for token in [None, Some(""), Some(forged.as_str()), Some(others.as_str())] {
        let mut fields = vec![("username", "kvothe"), ("password", PASSWORD)];
        if let Some(token) = token {
            fields.push(("csrf_token", token));
        }
        let res = browser.post("/login", &fields).await;
        assert_forbidden(&res, FORM_EXPIRED);
        assert_eq!(browser.cookie("session_id"), None);
        assert_eq!(browser.me_status().await, StatusCode::SEE_OTHER);
    }

    // Wrong passwords with bad tokens never reach the throttle.
    for _ in 0..7 {
        let res = browser
            .post(
                "/login",
                &[
                    ("csrf_token", others.as_str()),
                    ("username", "kvothe"),
                    ("password", "Zq9-wrong-password-123"),
                ],
            )
            .await;
        assert_forbidden(&res, FORM_EXPIRED);
    }
    let res = browser
        .post(
            "/login",
            &[
                ("csrf_token", &own),
                ("username", "kvothe"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_redirect(&res, "/me");
    assert_eq!(browser.me_status().await, StatusCode::OK);
}

// ----- the Origin rule -----

#[tokio::test]
async fn a_foreign_origin_is_refused_on_every_form() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    let token = browser.token("/signup").await;
    let mut fields = kvothe(PASSWORD);
    fields.push(("csrf_token", &token));

    for origin in [
        FOREIGN_ORIGIN,
        "http://localhost:5001",
        "http://evil.example",
        "http://localhost",
        "http://localhost:5000.evil.example",
        "localhost:5000",
    ] {
        let res = browser
            .post_with("/signup", &fields, ("origin", origin))
            .await;
        assert_forbidden(&res, OTHER_SITE);
        assert!(!exists(&app, "kvothe").await, "created from {origin}");
    }
    // Same origin: accepted.
    let res = browser
        .post_with("/signup", &fields, ("origin", SAME_ORIGIN))
        .await;
    assert_redirect(&res, "/login");
    assert!(exists(&app, "kvothe").await);

    let token = browser.token("/login").await;
    let login = [
        ("csrf_token", token.as_str()),
        ("username", "kvothe"),
        ("password", PASSWORD),
    ];
    let res = browser
        .post_with("/login", &login, ("origin", FOREIGN_ORIGIN))
        .await;
    assert_forbidden(&res, OTHER_SITE);
    assert_eq!(browser.cookie("session_id"), None);
    let res = browser
        .post_with("/login", &login, ("origin", SAME_ORIGIN))
        .await;
    assert_redirect(&res, "/me");

    let token = browser.logout_token().await;
    let logout = [("csrf_token", token.as_str())];
    let res = browser
        .post_with("/logout", &logout, ("origin", FOREIGN_ORIGIN))
        .await;
    assert_forbidden(&res, OTHER_SITE);
    assert!(res.header_all("set-cookie").is_empty());
    assert_eq!(browser.me_status().await, StatusCode::OK);
    let res = browser
        .post_with("/logout", &logout, ("origin", SAME_ORIGIN))
        .await;
    assert_redirect(&res, "/login");
    assert_redirect(&browser.get("/me").await, "/login");
}

#[tokio::test]
async fn with_a_public_url_only_that_origin_is_accepted() {
    let http = HttpConfig {
        public_url: Some("https://auth.example".into()),
        ..http_config()
    };
    let app = TestApp::with(core_config(), http).await;
    let mut browser = Browser::new(&app);
    let token = browser.token("/signup").await;
    let mut fields = kvothe(PASSWORD);
    fields.push(("csrf_token", &token));

    // The request's own Host is no longer enough, nor any other site.
    for origin in [
        SAME_ORIGIN,
        FOREIGN_ORIGIN,
        "http://auth.example",
        "https://auth.example.evil",
    ] {
        let res = browser
            .post_with("/signup", &fields, ("origin", origin))
            .await;
        assert_forbidden(&res, OTHER_SITE);
        assert!(!exists(&app, "kvothe").await, "created from {origin}");
    }
    let res = browser
        .post_with("/signup", &fields, ("origin", "https://auth.example"))
        .await;
    assert_redirect(&res, "/login");

    let token = browser.token("/login").await;
    let login = [
        ("csrf_token", token.as_str()),
        ("username", "kvothe"),
        ("password", PASSWORD),
    ];
    let res = browser
        .post_with("/login", &login, ("origin", SAME_ORIGIN))
        .await;
    assert_forbidden(&res, OTHER_SITE);
    assert_eq!(browser.cookie("session_id"), None);
    let res = browser
        .post_with("/login", &login, ("origin", "https://auth.example"))
        .await;
    assert_redirect(&res, "/me");

    let token = browser.logout_token().await;
    let logout = [("csrf_token", token.as_str())];
    let res = browser
        .post_with("/logout", &logout, ("origin", SAME_ORIGIN))
        .await;
    assert_forbidden(&res, OTHER_SITE);
    assert_eq!(browser.me_status().await, StatusCode::OK);
    let res = browser
        .post_with("/logout", &logout, ("origin", "https://auth.example"))
        .await;
    assert_redirect(&res, "/login");
}

/// HTTP/2 carries the host in the `:authority` pseudo-header, which hyper
/// puts in the request URI and not in a `Host` header (warp's server speaks
/// HTTP/2 as well); an absolute-form HTTP/1.1 request target is the same case
/// (RFC 9112 section 3.2.2: the target's host wins over `Host`). A
/// same-origin browser post then has an `Origin` but no `Host` to match.
#[tokio::test]

async fn same_origin_posts_are_accepted_when_the_host_is_in_the_uri() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    let token = browser.token("/signup").await;
    let mut fields = kvothe(PASSWORD);
    fields.push(("csrf_token", &token));
    let body = serde_urlencoded::to_string(&fields).expect("encode a form");
    // Built by hand: no Host header, the authority in the URI.
    let res = app
        .page(
            request("POST", "http://localhost:5000/signup")
                .header("origin", SAME_ORIGIN)
                .header("accept", BROWSER_ACCEPT)
                .header(
                    "cookie",
                    format!("authd_csrf={}", browser.cookie("authd_csrf").unwrap()),
                )
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await;
    assert_redirect(&res, "/login");
    assert!(exists(&app, "kvothe").await);
}

/// Browsers send `Origin: null` on a same-origin form post from a page that
/// says `Referrer-Policy: no-referrer` (Fetch, "append a request Origin
/// header"), as every page here does: it names no origin, so, like a missing
/// header, it leaves the judgement to the token.
#[tokio::test]
async fn origin_null_is_judged_by_the_token_alone() {
    let app = TestApp::new().await;
    let null = ("origin", "null");
    let mut browser = Browser::new(&app);
    let token = browser.token("/signup").await;
    let forged = "A".repeat(43);
    let mut fields = kvothe(PASSWORD);
    fields.push(("csrf_token", &forged));
    let res = browser.post_with("/signup", &fields, null).await;
    assert_forbidden(&res, FORM_EXPIRED);
    assert!(!exists(&app, "kvothe").await);
    fields.pop();
    fields.push(("csrf_token", &token));
    let res = browser.post_with("/signup", &fields, null).await;
    assert_redirect(&res, "/login");

    let token = browser.token("/login").await;
    let res = browser
        .post_with(
            "/login",
            &[
                ("csrf_token", forged.as_str()),
                ("username", "kvothe"),
                ("password", PASSWORD),
            ],
            null,
        )
        .await;
    assert_forbidden(&res, FORM_EXPIRED);
    let res = browser
        .post_with(
            "/login",
            &[
                ("csrf_token", token.as_str()),
                ("username", "kvothe"),
                ("password", PASSWORD),
            ],
            null,
        )
        .await;
    assert_redirect(&res, "/me");

    let token = browser.logout_token().await;
    let res = browser
        .post_with("/logout", &[("csrf_token", &forged)], null)
        .await;
    assert_forbidden(&res, FORM_EXPIRED);
    assert_eq!(browser.me_status().await, StatusCode::OK);
    let res = browser
        .post_with("/logout", &[("csrf_token", &token)], null)
        .await;
    assert_redirect(&res, "/login");
}

#[tokio::test]
async fn without_an_origin_the_token_alone_decides() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    // Browser::post sends no Origin header at all.
    let res = browser.signup(&kvothe(PASSWORD)).await;
    assert_redirect(&res, "/login");
    browser.logged_in("kvothe").await;
    let token = browser.logout_token().await;
    assert_redirect(
        &browser.post("/logout", &[("csrf_token", &token)]).await,
        "/login",
    );
}

// ----- headers, index, stylesheet, methods -----

#[tokio::test]
async fn every_page_carries_the_security_headers() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    let mut pages: Vec<(&str, Res)> = Vec::new();
    pages.push(("GET /signup", browser.get("/signup").await));
    pages.push(("GET /login", browser.get("/login").await));
    pages.push((
        "POST /signup 400",
        browser.signup(&kvothe("Zq9-shortpw")).await,
    ));
    pages.push((
        "POST /signup 403",
        browser.post("/signup", &kvothe(PASSWORD)).await,
    ));
    pages.push((
        "POST /signup foreign",
        browser
            .post_with("/signup", &kvothe(PASSWORD), ("origin", FOREIGN_ORIGIN))
            .await,
    ));
    pages.push((
        "POST /signup 415",
        browser
            .send(raw("POST", "/signup", "text/plain", "username=x"))
            .await,
    ));
    pages.push((
        "POST /login 413",
        browser
            .send(raw(
                "POST",
                "/login",
                "application/x-www-form-urlencoded",
                format!("username={}", "a".repeat(17 * 1024)),
            ))
            .await,
    ));
    register(&app, Some("kvothe"), None, None).await;
    pages.push(("POST /login 401", browser.login("kvothe", "nope").await));
    browser.logged_in("kvothe").await;
    pages.push((
        "POST /logout 403",
        browser.post("/logout", &[("csrf_token", "x")]).await,
    ));
    pages.push(("GET /me", browser.get("/me").await));

    let expected_status = [200, 200, 400, 403, 403, 415, 413, 401, 403, 200];
    for ((name, res), status) in pages.iter().zip(expected_status) {
        assert_eq!(res.status.as_u16(), status, "{name}: {}", res.text());
        // `TestApp::page` checked them already; spelled out once more here.
        assert_eq!(
            res.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{name}"
        );
        let csp = res.header("content-security-policy").unwrap_or_default();
        assert!(!csp.is_empty(), "{name}: no CSP");
        assert!(!csp.contains("unsafe-inline"), "{name}: {csp}");
        assert_eq!(
            res.header("x-content-type-options"),
            Some("nosniff"),
            "{name}"
        );
        assert_eq!(res.header("referrer-policy"), Some("no-referrer"), "{name}");
        assert_eq!(res.header("x-frame-options"), Some("DENY"), "{name}");
        assert!(res.text().starts_with("<!doctype html>"), "{name}");
    }
    let me = &pages.last().expect("the /me page").1;
    assert_eq!(me.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn index_sends_browsers_to_me_and_me_to_login() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    assert_redirect(&browser.get("/").await, "/me");
    assert_redirect(&browser.get("/me").await, "/login");
    assert_eq!(browser.get("/login").await.status, StatusCode::OK);

    register(&app, Some("kvothe"), None, None).await;
    browser.logged_in("kvothe").await;
    assert_redirect(&browser.get("/").await, "/me");
    assert_eq!(browser.me_status().await, StatusCode::OK);
}

#[tokio::test]
async fn the_stylesheet_is_served_as_css() {
    let app = TestApp::new().await;
    let res = app.reply(get("/static/style.css")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    assert!(res.text().contains("body"), "{}", res.text());
    // The pages link it.
    let page = Browser::new(&app).get("/login").await;
    assert!(page
        .text()
        .contains("<link rel=\"stylesheet\" href=\"/static/style.css\">"));
}

#[tokio::test]
async fn wrong_methods_on_the_pages_are_405_with_allow() {
    let app = TestApp::new().await;
    for (method, path, allow) in [
        ("PUT", "/signup", "GET, POST"),
        ("DELETE", "/login", "GET, POST"),
        ("PATCH", "/logout", "GET, POST"),
        ("POST", "/me", "GET"),
        ("POST", "/static/style.css", "GET"),
    ] {
        let res = app.reply(request(method, path)).await;
        assert_eq!(
            res.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {}",
            res.text()
        );
        assert_eq!(res.header("allow"), Some(allow), "{method} {path}");
        assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    }
}

#[tokio::test]
async fn an_unknown_flash_cookie_shows_nothing_and_is_cleared() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    browser.set_cookie("authd_flash", "%3Cscript%3E");
    let res = browser.get("/login").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(!res.text().contains(ACCOUNT_CREATED));
    assert!(
        !res.text()
            .replacen(common::WEBAUTHN_SCRIPT_TAG, "", 1)
            .contains("script"),
        "{}",
        res.text()
    );
    assert_eq!(browser.cookie("authd_flash"), None);
}

#[tokio::test]
async fn the_notice_reaches_a_browser_without_a_nonce_yet() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    browser.set_cookie("authd_flash", "account_created");
    let res = browser.get("/login").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.text().contains(ACCOUNT_CREATED), "{}", res.text());
    let nonce = res
        .set_cookie_named("authd_csrf")
        .expect("a new pre-session nonce");
    assert_eq!(cookie_value(&nonce).len(), 43);
    let flash = res
        .set_cookie_named("authd_flash")
        .expect("the flash cookie is cleared");
    assert!(cookie_attributes(&flash).iter().any(|a| a == "Max-Age=0"));
    // The form shown with the notice works.
    register(&app, Some("kvothe"), None, None).await;
    let token = res.csrf_token();
    let res = browser
        .post(
            "/login",
            &[
                ("csrf_token", &token),
                ("username", "kvothe"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_redirect(&res, "/me");
}

// ----- the second step (docs/contract/7-second-factor.md) -----

/// An account with an authenticator app, enrolled through `Auth`; returns its secret.
async fn with_authenticator_app(app: &TestApp, username: &str) -> Vec<u8> {
    register(app, Some(username), None, None).await;
    let name = Identifier::Username(username.into());
    let session = app
        .auth
        .login(
            &name,
            &Password::new(PASSWORD),
            None,
            &ClientInfo::default(),
        )
        .await
        .unwrap();
    let enrolment = app.auth.begin_totp(session.token.expose()).await.unwrap();
    let secret = data_encoding::BASE32_NOPAD
        .decode(enrolment.secret.as_bytes())
        .unwrap();
    use auth_core::Clock;
    let code = auth_core::totp_code(&secret, app.clock.now());
    app.auth
        .confirm_totp(session.token.expose(), &code, &ClientInfo::default())
        .await
        .unwrap();
    app.clock.advance(auth_core::TOTP_STEP_SECS);
    secret
}

#[tokio::test]
async fn a_login_with_a_second_factor_asks_for_the_code() {
    use auth_core::Clock;
    let app = TestApp::new().await;
    let secret = with_authenticator_app(&app, "kvothe").await;
    let mut browser = Browser::new(&app);
    let res = browser.login("kvothe", PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert!(browser.cookie("session_id").is_none(), "no session yet");
    assert!(res.text().contains("action=\"/login/code\""));
    let csrf = res.csrf_token();
    let mfa_token = res.input_value("mfa_token").expect("the token in the form");

    // A wrong code: the page again, with the reason and the same token.
    let wrong = auth_core::totp_code(&secret, app.clock.now() + 300);
    let fields = |code: &str| {
        vec![
            ("csrf_token", csrf.clone()),
            ("mfa_token", mfa_token.clone()),
            ("code", code.to_owned()),
        ]
    };
    let post = |fields: &Vec<(&'static str, String)>| {
        fields
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect::<Vec<_>>()
    };
    let wrong_fields = post(&fields(&wrong));
    let borrowed: Vec<(&str, &str)> = wrong_fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = browser.post("/login/code", &borrowed).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(res
        .text()
        .contains("That code is wrong, expired or already used."));
    assert_eq!(
        res.input_value("mfa_token").as_deref(),
        Some(mfa_token.as_str())
    );

    // A cross-site post changes nothing; without the CSRF token neither.
    let right = auth_core::totp_code(&secret, app.clock.now());
    let right_fields = post(&fields(&right));
    let borrowed: Vec<(&str, &str)> = right_fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = browser
        .post_with("/login/code", &borrowed, ("origin", "https://evil.example"))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = browser.post("/login/code", &borrowed[1..]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    let res = browser.post("/login/code", &borrowed).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(res.header("location"), Some("/me"));
    assert_eq!(browser.me_status().await, StatusCode::OK);
}

#[tokio::test]
async fn the_security_page_enrols_an_authenticator_app() {
    use auth_core::Clock;
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    let mut browser = Browser::new(&app);
    browser.logged_in("kvothe").await;
    let res = browser.get("/me/security").await;
    assert!(res.text().contains("No second factor is set up yet."));
    let csrf = res.csrf_token();

    let res = browser
        .post_with(
            "/me/security/totp",
            &[("csrf_token", &csrf)],
            ("origin", "https://evil.example"),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = browser
        .post("/me/security/totp", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let html = res.text();
    assert!(html.contains("<figure class=\"qr\"><svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(!html.contains("<?xml"));
    assert!(!html
        .replacen(common::WEBAUTHN_SCRIPT_TAG, "", 1)
        .contains("<script"));
    let secret = html
        .split("id=\"totp-secret\">")
        .nth(1)
        .and_then(|rest| rest.split("</code>").next())
        .expect("the key is shown");
    let secret = data_encoding::BASE32_NOPAD
        .decode(secret.as_bytes())
        .unwrap();

    let res = browser
        .post(
            "/me/security/totp/confirm",
            &[("csrf_token", &csrf), ("code", "000000")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let res = browser
        .post("/me/security/totp", &[("csrf_token", &csrf)])
        .await;
    let html = res.text();
    let secret = {
        let shown = html
            .split("id=\"totp-secret\">")
            .nth(1)
            .and_then(|rest| rest.split("</code>").next())
            .unwrap();
        let fresh = data_encoding::BASE32_NOPAD
            .decode(shown.as_bytes())
            .unwrap();
        assert_ne!(fresh, secret, "a restarted enrolment has a new key");
        fresh
    };
    let code = auth_core::totp_code(&secret, app.clock.now());
    let res = browser
        .post(
            "/me/security/totp/confirm",
            &[("csrf_token", &csrf), ("code", &code)],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.text().matches("<li><code>").count(), 10);
    let res = browser.get("/me/security").await;
    let html = res.text();
    assert!(html.contains("10 recovery codes left."), "{html}");
    assert!(!html.contains("<li><code>"), "the codes are shown once");

    let res = browser
        .post(
            "/me/security/recovery-codes",
            &[("csrf_token", &csrf), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let res = browser
        .post(
            "/me/security/recovery-codes",
            &[("csrf_token", &csrf), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.text().matches("<li><code>").count(), 10);

    let res = browser
        .post(
            "/me/security/totp/remove",
            &[("csrf_token", &csrf), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let html = browser.get("/me/security").await.text();
    assert!(html.contains("The authenticator app is off."), "{html}");
    assert!(html.contains("No second factor is set up yet."));
}
