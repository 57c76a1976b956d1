//! What the web-page tests share (tests/web and tests/web_account): a
//! `Browser` that keeps cookies between requests the way a browser does, the
//! texts the pages show, and the checks of a redirect and a 403 page.

use std::collections::BTreeMap;

use auth_core::{ClientInfo, Identifier, Password, Registration};
use warp::http::StatusCode;
use warp::test::RequestBuilder;

use super::*;

/// What the tests send as `Host`, and the matching same-origin `Origin`.
pub const HOST: &str = "localhost:5000";
pub const SAME_ORIGIN: &str = "http://localhost:5000";
pub const FOREIGN_ORIGIN: &str = "https://evil.example";
pub const FORM_EXPIRED: &str = "This form has expired. Reload the page and try again.";
pub const OTHER_SITE: &str = "This form was sent from another site.";
pub const SCRIPT: &str = "<script>alert(1)</script>";

/// A cookie jar, a user agent if any, and the headers a browser sends with
/// every request.
pub struct Browser<'a> {
    app: &'a TestApp,
    jar: BTreeMap<String, String>,
    user_agent: Option<String>,
}

impl<'a> Browser<'a> {
    /// A browser that sends no `User-Agent`.
    pub fn new(app: &'a TestApp) -> Self {
        Browser {
            app,
            jar: BTreeMap::new(),
            user_agent: None,
        }
    }

    /// A browser that sends this `User-Agent`.
    pub fn with_agent(app: &'a TestApp, user_agent: &str) -> Self {
        Browser {
            user_agent: Some(user_agent.to_owned()),
            ..Browser::new(app)
        }
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.jar.get(name).map(String::as_str)
    }

    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.jar.insert(name.to_owned(), value.to_owned());
    }

    /// The session token the browser holds.
    pub fn session(&self) -> String {
        self.cookie("session_id")
            .expect("the browser holds a session cookie")
            .to_owned()
    }

    /// Adds the browser's headers and cookies to a request.
    pub fn prepare(&self, request: RequestBuilder) -> RequestBuilder {
        let mut request = request
            .header("host", HOST)
            .header("accept", BROWSER_ACCEPT);
        if let Some(user_agent) = &self.user_agent {
            request = request.header("user-agent", user_agent);
        }
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
    pub async fn send(&mut self, request: RequestBuilder) -> Res {
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

    pub async fn get(&mut self, path: &str) -> Res {
        self.send(get(path)).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Res {
        self.send(form("POST", path, fields)).await
    }

    /// A form post with one more header (such as `Origin`).
    pub async fn post_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        header: (&str, &str),
    ) -> Res {
        self.send(form("POST", path, fields).header(header.0, header.1))
            .await
    }

    /// Opens a form page and returns its CSRF token.
    pub async fn token(&mut self, path: &str) -> String {
        let res = self.get(path).await;
        assert_eq!(res.status, StatusCode::OK, "GET {path}: {}", res.text());
        res.csrf_token()
    }

    /// Fills in and sends the sign-up form.
    pub async fn signup(&mut self, fields: &[(&str, &str)]) -> Res {
        let token = self.token("/signup").await;
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        self.post("/signup", &all).await
    }

    /// Fills in and sends the login form.
    pub async fn login(&mut self, username: &str, password: &str) -> Res {
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

    /// Logs in through the login form and expects success.
    pub async fn log_in(&mut self, username: &str, password: &str) {
        let res = self.login(username, password).await;
        assert_redirect(&res, "/me");
    }

    /// Logs in with the test password and expects success.
    pub async fn logged_in(&mut self, username: &str) {
        self.log_in(username, PASSWORD).await;
    }

    /// Opens /me and returns its logout token.
    pub async fn logout_token(&mut self) -> String {
        let res = self.get("/me").await;
        assert_eq!(res.status, StatusCode::OK, "GET /me: {}", res.text());
        res.csrf_token()
    }

    /// The status of GET /me.
    pub async fn me_status(&mut self) -> StatusCode {
        self.get("/me").await.status
    }
}

/// Creates an account directly through `Auth`, with the test password.
pub async fn register(
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
pub async fn exists(app: &TestApp, name: &str) -> bool {
    app.auth
        .find_user(&Identifier::Any(name.to_owned()))
        .await
        .expect("look up an account")
        .is_some()
}

/// The HTML with askama's numeric character references for the escaped
/// characters written as the named ones (`&#60;` and `&lt;` are the same to a
/// browser), so the tests need not care which form the escaper uses.
pub fn named_entities(html: &str) -> String {
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

pub fn assert_redirect(res: &Res, location: &str) {
    assert_eq!(
        res.status,
        StatusCode::SEE_OTHER,
        "expected 303 to {location}: {}",
        res.text()
    );
    assert_eq!(res.header("location"), Some(location));
}

pub fn assert_forbidden(res: &Res, message: &str) {
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text());
    assert!(res.text().contains(message), "403 page: {}", res.text());
    assert!(
        res.set_cookie_named("session_id").is_none(),
        "a 403 set a session cookie"
    );
}
