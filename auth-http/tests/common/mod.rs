//! The harness of auth-http's tests: one `Auth` on its own temporary SQLite
//! file per test, `warp::test::request()` against `auth_http::routes`, and a
//! response type that checks the headers every answer must carry.

#![allow(dead_code)]

pub mod browser;

use std::net::SocketAddr;
use std::sync::Arc;

use auth_core::{Auth, Config, ManualClock, SecretKey};
use auth_http::{HttpConfig, RateLimit, ResetDelivery};
use bytes::Bytes;
use serde_json::Value;
use warp::filters::BoxedFilter;
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;
use warp::test::RequestBuilder;

/// A password that breaks no rule at the default minimum of 15.
pub const PASSWORD: &str = "tangerine rocket harbor 7";
/// Another good password.
pub const NEW_PASSWORD: &str = "orbital-pancake-lantern-42";
/// The client address the tests send from.
pub const CLIENT: &str = "127.0.0.1:40000";
/// What a browser sends as `Accept`.
pub const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,*/*;q=0.8";

/// One test's server: the routes over a fresh database.
pub struct TestApp {
    pub routes: BoxedFilter<(Response,)>,
    pub auth: Auth,
    pub clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

/// The core settings of the tests: bcrypt cost 4, the default minimum length.
pub fn core_config() -> Config {
    Config {
        bcrypt_cost: 4,
        password_min_length: 15,
        ..Config::default()
    }
}

/// The HTTP settings of the tests: no per-address limit, reset tokens in the response.
pub fn http_config() -> HttpConfig {
    HttpConfig {
        ip_rate_limit: RateLimit::Off,
        reset_delivery: ResetDelivery::Response,
        ..HttpConfig::default()
    }
}

impl TestApp {
    /// The default test server.
    pub async fn new() -> TestApp {
        TestApp::with(core_config(), http_config()).await
    }

    /// A test server with the given settings and a clock that only moves when told.
    pub async fn with(config: Config, http: HttpConfig) -> TestApp {
        let dir = tempfile::TempDir::new().expect("create a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("auth.db").display());
        let clock = Arc::new(ManualClock::new());
        let auth = Auth::open_with_clock(&url, SecretKey::generate(), config, clock.clone())
            .await
            .expect("open the test database");
        let routes = auth_http::routes(auth.clone(), http);
        TestApp {
            routes,
            auth,
            clock,
            _dir: dir,
        }
    }

    /// Sends a request and checks what every response must carry.
    pub async fn send(&self, request: RequestBuilder) -> Res {
        let res = self.reply(request).await;
        res.check_common_headers();
        res
    }

    /// Sends a request and checks nothing (for answers that are neither JSON
    /// nor a web page, such as the stylesheet).
    pub async fn reply(&self, request: RequestBuilder) -> Res {
        let response = request.reply(&self.routes).await;
        let (parts, body) = response.into_parts();
        Res {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// Sends a request to a web page and checks what every page must carry
    /// (see [`Res::check_page_headers`]).
    pub async fn page(&self, request: RequestBuilder) -> Res {
        let res = self.reply(request).await;
        res.check_page_headers();
        res
    }

    /// Registers an account by e-mail (form body) and expects success.
    pub async fn register(&self, email: &str, password: &str) {
        let res = self
            .send(form(
                "POST",
                "/users",
                &[("email", email), ("password", password)],
            ))
            .await;
        assert_eq!(
            res.status,
            StatusCode::OK,
            "registering {email}: {}",
            res.text()
        );
    }

    /// Registers an account with any fields (JSON body) and expects success.
    pub async fn register_json(&self, body: Value) {
        let res = self.send(json("POST", "/users", &body)).await;
        assert_eq!(
            res.status,
            StatusCode::OK,
            "registering {body}: {}",
            res.text()
        );
    }

    /// Logs in by e-mail and returns the new session token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let res = self
            .send(form(
                "POST",
                "/sessions",
                &[("email", email), ("password", password)],
            ))
            .await;
        assert_eq!(
            res.status,
            StatusCode::OK,
            "logging in {email}: {}",
            res.text()
        );
        res.session_cookie()
    }

    /// Registers and logs in; returns the session token.
    pub async fn signed_in(&self, email: &str) -> String {
        self.register(email, PASSWORD).await;
        self.login(email, PASSWORD).await
    }

    /// The status of `GET /profile` with a session token.
    pub async fn profile_status(&self, token: &str) -> StatusCode {
        self.send(get("/profile").header("cookie", cookie(token)))
            .await
            .status
    }
}

/// A request with a method and a path, from the test client address.
pub fn request(method: &str, path: &str) -> RequestBuilder {
    warp::test::request()
        .method(method)
        .path(path)
        .remote_addr(CLIENT.parse::<SocketAddr>().unwrap())
}

/// A GET request.
pub fn get(path: &str) -> RequestBuilder {
    request("GET", path)
}

/// A request with a form body.
pub fn form(method: &str, path: &str, fields: &[(&str, &str)]) -> RequestBuilder {
    let body = serde_urlencoded::to_string(fields).expect("encode a form");
    request(method, path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
}

/// `POST /sessions` with an e-mail and a password, as a form.
pub fn login_form(email: &str, password: &str) -> RequestBuilder {
    form(
        "POST",
        "/sessions",
        &[("email", email), ("password", password)],
    )
}

/// A request with a JSON body.
pub fn json(method: &str, path: &str, body: &Value) -> RequestBuilder {
    request(method, path).json(body)
}

/// A request with raw body bytes and a content type.
pub fn raw(method: &str, path: &str, content_type: &str, body: impl AsRef<[u8]>) -> RequestBuilder {
    request(method, path)
        .header("content-type", content_type)
        .body(body)
}

/// The `Cookie` header value for a session token.
pub fn cookie(token: &str) -> String {
    format!("session_id={token}")
}

/// A response, read whole.
#[derive(Debug)]
pub struct Res {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Res {
    /// `X-Content-Type-Options: nosniff` always; `application/json` on every
    /// answer that has a body (all but 204 and the redirects); never a 500.
    fn check_common_headers(&self) {
        assert_ne!(
            self.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "a 500: {}",
            self.text()
        );
        assert_eq!(
            self.header("x-content-type-options"),
            Some("nosniff"),
            "nosniff missing on a {} response",
            self.status
        );
        if ![
            StatusCode::NO_CONTENT,
            StatusCode::FOUND,
            StatusCode::SEE_OTHER,
        ]
        .contains(&self.status)
        {
            let content_type = self.header("content-type").unwrap_or_default();
            assert!(
                content_type.starts_with("application/json"),
                "content-type {content_type:?} on a {} response: {}",
                self.status,
                self.text()
            );
        }
    }

    /// What every web page (docs/contract/4-web-pages.md) must carry: never a 500,
    /// `nosniff` always; on every answer but a redirect `text/html;
    /// charset=utf-8`, a `Content-Security-Policy` that allows no inline
    /// script, `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`, and
    /// no inline script or style in the HTML itself.
    pub fn check_page_headers(&self) {
        assert_ne!(
            self.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "a 500: {}",
            self.text()
        );
        assert_eq!(
            self.header("x-content-type-options"),
            Some("nosniff"),
            "nosniff missing on a {} page",
            self.status
        );
        if self.status.is_redirection() {
            return;
        }
        assert_eq!(
            self.header("content-type"),
            Some("text/html; charset=utf-8"),
            "content type of a {} page: {}",
            self.status,
            self.text()
        );
        let csp = self
            .header("content-security-policy")
            .unwrap_or_else(|| panic!("no Content-Security-Policy on a {} page", self.status));
        assert!(
            csp.contains("default-src 'none'") || csp.contains("default-src 'self'"),
            "CSP without a restrictive default-src: {csp}"
        );
        for unsafe_source in ["'unsafe-inline'", "'unsafe-eval'", "*", "data:"] {
            assert!(
                !csp.split([';', ' ']).any(|word| word == unsafe_source),
                "CSP allows {unsafe_source}: {csp}"
            );
        }
        assert_eq!(self.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(self.header("x-frame-options"), Some("DENY"));
        let html = self.text();
        // The one script of the site is a same-origin file (passkeys);
        // every other script element, inline or not, is refused.
        let lower = html
            .to_ascii_lowercase()
            .replacen(WEBAUTHN_SCRIPT_TAG, "", 1);
        assert!(!lower.contains("<script"), "a script element: {html}");
        assert!(!lower.contains(" style="), "an inline style: {html}");
        assert!(!lower.contains("<style"), "a style element: {html}");
        assert!(!lower.contains(" onclick="), "an inline handler: {html}");
    }

    /// The `value` of the `<input>` named `name` on an HTML page, as written
    /// in the HTML (still escaped).
    pub fn input_value(&self, name: &str) -> Option<String> {
        let html = self.text();
        let needle = format!("name=\"{name}\"");
        let at = html.find(&needle)?;
        let start = html[..at].rfind("<input")?;
        let end = at + html[at..].find('>')?;
        let tag = &html[start..end];
        let value = tag.split(" value=\"").nth(1)?;
        Some(value.split('"').next()?.to_owned())
    }

    /// The hidden `csrf_token` of a form page.
    pub fn csrf_token(&self) -> String {
        self.input_value("csrf_token")
            .unwrap_or_else(|| panic!("no csrf_token input on: {}", self.text()))
    }

    /// The `Set-Cookie` of the response for one cookie name, whole.
    pub fn set_cookie_named(&self, name: &str) -> Option<String> {
        let prefix = format!("{name}=");
        let mut found = self
            .header_all("set-cookie")
            .into_iter()
            .filter(|c| c.starts_with(&prefix));
        let first = found.next();
        assert!(found.next().is_none(), "{name} set twice in one response");
        first
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("a text header"))
    }

    /// Every value of a header.
    pub fn header_all(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().expect("a text header").to_owned())
            .collect()
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    /// Checks an error answer: the status, the shape
    /// `{"error": code, "message": text}` with nothing else, and the code.
    /// Returns the message.
    pub fn assert_error(&self, status: StatusCode, code: &str) -> String {
        assert_eq!(self.status, status, "status of {}", self.text());
        let body = self.json();
        let object = body
            .as_object()
            .unwrap_or_else(|| panic!("error body is not an object: {body}"));
        assert_eq!(object.len(), 2, "error body has other members: {body}");
        assert_eq!(
            object.get("error").and_then(Value::as_str),
            Some(code),
            "error code in {body}"
        );
        let message = object
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("error body without a message string: {body}"));
        assert!(!message.is_empty(), "empty message in {body}");
        message.to_owned()
    }

    /// Checks a 200 answer and its JSON body.
    pub fn assert_ok_json(&self, expected: Value) {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text());
        assert_eq!(self.json(), expected);
    }

    /// The one `Set-Cookie` of the response.
    pub fn set_cookie(&self) -> String {
        let cookies = self.header_all("set-cookie");
        assert_eq!(cookies.len(), 1, "expected one Set-Cookie, got {cookies:?}");
        cookies.into_iter().next().unwrap_or_default()
    }

    /// The session token of the response's `Set-Cookie`.
    pub fn session_cookie(&self) -> String {
        let set_cookie = self.set_cookie();
        let pair = set_cookie.split(';').next().unwrap_or_default().trim();
        let token = pair
            .strip_prefix("session_id=")
            .unwrap_or_else(|| panic!("not a session_id cookie: {set_cookie}"));
        token.to_owned()
    }
}

/// The attributes of a `Set-Cookie` value after the name=value pair, trimmed.
pub fn cookie_attributes(set_cookie: &str) -> Vec<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_owned())
        .collect()
}

/// The value of a `Set-Cookie` header (before the first `;`, after the `=`).
pub fn cookie_value(set_cookie: &str) -> String {
    let pair = set_cookie.split(';').next().unwrap_or_default().trim();
    pair.split_once('=')
        .map(|(_, v)| v)
        .unwrap_or_default()
        .to_owned()
}

/// The one script element a page may carry: the site's own WebAuthn file.
pub const WEBAUTHN_SCRIPT_TAG: &str = "<script src=\"/static/webauthn.js\" defer></script>";
