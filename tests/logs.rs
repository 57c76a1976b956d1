//! No secret in the logs (docs/contract/6-operations.md): the end-to-end flows run against a
//! server with `--reset-delivery log`, every password, session token, reset
//! token, CSRF token, pre-session cookie value and `SEEK_CUSTOM_AUTH` value
//! they used is collected, and after the server stops nothing it wrote to
//! standard error may contain one, except the reset token in exactly its one
//! `password reset token for <account>: <token>` line.

use crate::common;

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::{client, session_cookie, Server};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};

const MACHINE: &str = "logs-test-machine-0001";

/// Every secret a run used, each with what it was.
#[derive(Default)]
struct Secrets {
    items: Vec<(String, String)>,
    /// The account and token of the one reset.
    reset: Option<(String, String)>,
}

impl Secrets {
    fn add(&mut self, what: impl Into<String>, value: impl Into<String>) -> String {
        let value = value.into();
        assert!(value.len() >= 16, "a secret long enough to search for");
        self.items.push((what.into(), value.clone()));
        value
    }

    /// A fresh password with spaces (a form sends them as `+`).
    fn password(&mut self, what: &str) -> String {
        let random = uuid::Uuid::new_v4().simple().to_string();
        self.add(
            format!("password: {what}"),
            format!("{} secret {}", &random[..12], &random[12..]),
        )
    }
}

/// The value of the named cookie a response sets.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(prefix.as_str()).map(str::to_owned))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

/// The hidden `csrf_token` of a page.
fn csrf_token(html: &str) -> String {
    let at = html
        .find("name=\"csrf_token\"")
        .expect("a csrf_token input");
    let rest = &html[at..];
    let start = rest.find("value=\"").expect("its value") + "value=\"".len();
    let end = rest[start..].find('"').expect("end of value");
    rest[start..start + end].to_owned()
}

/// Waits for the reset line of `account` in the server's standard error:
/// the text line, or with `--log-format json` the object whose target is
/// `authd::reset_token`.
async fn reset_token_from_log(server: &Server, account: &str) -> String {
    let prefix = format!("password reset token for {account}: ");
    let deadline = Instant::now() + Duration::from_secs(5);
    let token_of = |line: &str| -> Option<String> {
        if let Some(token) = line.strip_prefix(prefix.as_str()) {
            return Some(token.to_owned());
        }
        let parsed: Value = serde_json::from_str(line).ok()?;
        (parsed["target"] == "authd::reset_token" && parsed["fields"]["account"] == account)
            .then(|| parsed["fields"]["token"].as_str().map(str::to_owned))
            .flatten()
    };
    loop {
        let stderr = server.stderr();
        let tokens: Vec<String> = stderr.lines().filter_map(token_of).collect();
        match tokens.as_slice() {
            [token] => return token.trim().to_owned(),
            [] if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(20)).await,
            _ => panic!("expected one reset line for {account}, stderr:\n{stderr}"),
        }
    }
}

async fn status_and_json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// The client and server of one run: each request with an optional
/// `cookie` header, sent and unwrapped.
struct Api<'a> {
    http: reqwest::Client,
    server: &'a Server,
}

impl Api<'_> {
    fn request(&self, method: Method, path: &str, cookie: Option<&str>) -> RequestBuilder {
        let request = self.http.request(method, self.server.url(path));
        match cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        }
    }

    async fn send(&self, method: Method, path: &str, cookie: Option<&str>) -> Response {
        self.request(method, path, cookie).send().await.unwrap()
    }

    async fn form(
        &self,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        form: &[(&str, &str)],
    ) -> Response {
        let request = self.request(method, path, cookie).form(form);
        request.send().await.unwrap()
    }

    async fn json(
        &self,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        body: Value,
    ) -> Response {
        let request = self.request(method, path, cookie).json(&body);
        request.send().await.unwrap()
    }

    /// `GET /check` with this `SEEK_CUSTOM_AUTH` header.
    async fn check(&self, header: &str) -> Response {
        let request = self.request(Method::GET, "/check", None);
        request
            .header("SEEK_CUSTOM_AUTH", header)
            .send()
            .await
            .unwrap()
    }
}

/// A `session_id` cookie header.
fn session(token: &str) -> String {
    format!("session_id={token}")
}

/// The base64 `SEEK_CUSTOM_AUTH` header for alice with this password.
fn device_header(password: &str) -> String {
    let header = json!({ "username": "alice", "password": password, "machine_id": MACHINE });
    STANDARD.encode(header.to_string())
}

/// The JSON API, the device check and the website, end to end; returns every
/// secret it used.
async fn run_flows(server: &Server) -> Secrets {
    let api = Api {
        http: client(),
        server,
    };
    let mut secrets = Secrets::default();

    // Sign-up, login, profile, logout (JSON and form bodies).
    let first = secrets.password("alice at sign-up");
    let body = json!({ "username": "alice", "email": "alice@example.com", "password": first });
    let created = api.json(Method::POST, "/users", None, body).await;
    assert_eq!(created.status(), 200);
    let form = [("email", "alice@example.com"), ("password", &first)];
    let login = api.form(Method::POST, "/sessions", None, &form).await;
    assert_eq!(login.status(), 200);
    let token = secrets.add(
        "session token: alice's login",
        session_cookie(&login).unwrap(),
    );
    let profile = api
        .send(Method::GET, "/profile", Some(&session(&token)))
        .await;
    let (status, body) = status_and_json(profile).await;
    assert_eq!((status, &body["username"]), (200, &json!("alice")));
    let logout = api
        .send(Method::DELETE, "/sessions", Some(&session(&token)))
        .await;
    assert_eq!(logout.status(), 302);

    // Wrong logins until the throttle answers, for a known and an unknown name.
    let mallory = secrets.password("mallory at sign-up");
    let form = [("username", "mallory"), ("password", &mallory)];
    let created = api.form(Method::POST, "/users", None, &form).await;
    assert_eq!(created.status(), 200);
    for attempt in 1..=6 {
        let wrong = secrets.password(&format!("wrong guess {attempt} for mallory"));
        let form = [("username", "mallory"), ("password", &wrong)];
        let response = api.form(Method::POST, "/sessions", None, &form).await;
        let expected = if attempt <= 5 { 401 } else { 429 };
        assert_eq!(response.status(), expected, "wrong login {attempt}");
    }
    let wrong = secrets.password("a guess for an unknown account");
    let body = json!({ "username": "nobody-here", "password": wrong });
    let response = api.json(Method::POST, "/sessions", None, body).await;
    assert_eq!(response.status(), 401);

    // A password typed into the username field by mistake.
    let typed = secrets.password("typed into the username field");
    let body = json!({ "username": typed, "password": first });
    let response = api.json(Method::POST, "/sessions", None, body).await;
    assert_eq!(response.status(), 401);

    // Reset: the token from its one log line, then a new password.
    let form = [("email", "alice@example.com")];
    let asked = api.form(Method::POST, "/reset_password", None, &form).await;
    let (status, body) = status_and_json(asked).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({ "email": "alice@example.com", "message": "reset token sent" })
        )
    );
    let reset_token = reset_token_from_log(server, "alice").await;
    assert!(reset_token.len() >= 43, "a 32-byte token: {reset_token:?}");
    secrets.reset = Some(("alice".into(), reset_token.clone()));
    let second = secrets.password("alice after the reset");
    let form = [
        ("email", "alice@example.com"),
        ("reset_token", &reset_token),
        ("new_password", &second),
    ];
    let reset = api.form(Method::PUT, "/reset_password", None, &form).await;
    assert_eq!(reset.status(), 200);

    // Change the password with POST /password.
    let body = json!({ "username": "alice", "password": second });
    let login = api.json(Method::POST, "/sessions", None, body).await;
    assert_eq!(login.status(), 200);
    let token = secrets.add(
        "session token: alice after the reset",
        session_cookie(&login).unwrap(),
    );
    let third = secrets.password("alice after POST /password");
    let body = json!({ "current_password": second, "new_password": third });
    let changed = api
        .json(Method::POST, "/password", Some(&session(&token)), body)
        .await;
    assert_eq!(changed.status(), 200);
    let token = secrets.add(
        "session token: from POST /password",
        session_cookie(&changed).unwrap(),
    );
    let profile = api
        .send(Method::GET, "/profile", Some(&session(&token)))
        .await;
    assert_eq!(profile.status(), 200);

    // The device check, right and wrong.
    let header = secrets.add("SEEK_CUSTOM_AUTH header", device_header(&third));
    let (status, body) = status_and_json(api.check(&header).await).await;
    assert_eq!((status, &body["status"]), (200, &json!("OK")), "{body}");
    let wrong = secrets.password("a wrong device password");
    let wrong_header = secrets.add(
        "SEEK_CUSTOM_AUTH header with a wrong password",
        device_header(&wrong),
    );
    assert_eq!(api.check(&wrong_header).await.status(), 401);

    // The website: sign-up and login through the forms with their CSRF tokens.
    let form = api.send(Method::GET, "/signup", None).await;
    let nonce = secrets.add(
        "pre-session cookie",
        set_cookie(&form, "authd_csrf").expect("GET /signup sets the pre-session cookie"),
    );
    let pre_cookie = format!("authd_csrf={nonce}");
    let pre = Some(pre_cookie.as_str());
    let csrf = secrets.add(
        "CSRF token: sign-up form",
        csrf_token(&form.text().await.unwrap()),
    );
    let web_password = secrets.password("bob on the sign-up form");
    let form = [
        ("csrf_token", csrf.as_str()),
        ("username", "bob"),
        ("password", &web_password),
        ("full_name", "Bob Example"),
    ];
    let signed_up = api.form(Method::POST, "/signup", pre, &form).await;
    assert_eq!(signed_up.status(), 303);
    assert_eq!(signed_up.headers()["location"], "/login");
    let form = api.send(Method::GET, "/login", pre).await;
    assert_eq!(form.status(), 200);
    let csrf = secrets.add(
        "CSRF token: login form",
        csrf_token(&form.text().await.unwrap()),
    );
    let wrong = secrets.password("a wrong password on the login form");
    let refused = web_login(&api, pre, &csrf, &wrong).await;
    assert_eq!(refused.status(), 401);
    let logged_in = web_login(&api, pre, &csrf, &web_password).await;
    assert_eq!(logged_in.status(), 303);
    let token = secrets.add(
        "session token: bob's web login",
        session_cookie(&logged_in).unwrap(),
    );
    bobs_session(&api, secrets, &token, &pre_cookie).await
}

/// Bob's `POST /login` through the form, with this CSRF token and password.
async fn web_login(api: &Api<'_>, pre: Option<&str>, csrf: &str, password: &str) -> Response {
    let form = [
        ("csrf_token", csrf),
        ("username", "bob"),
        ("password", password),
    ];
    api.form(Method::POST, "/login", pre, &form).await
}

/// Bob's session on the website: `/me`, logout, and `/me` again.
async fn bobs_session(api: &Api<'_>, mut secrets: Secrets, token: &str, pre: &str) -> Secrets {
    let cookie = format!("{}; {pre}", session(token));
    let me = api.send(Method::GET, "/me", Some(&cookie)).await;
    assert_eq!(me.status(), 200);
    let csrf = secrets.add("CSRF token: /me", csrf_token(&me.text().await.unwrap()));
    let form = [("csrf_token", csrf.as_str())];
    // A personal access token made on /me/tokens (shown once), used as a
    // bearer token, and sent in a query string, which is refused
    // (docs/contract/11-access-tokens-and-admin-api.md).
    let forged = [("csrf_token", "not the token"), ("name", "script")];
    let refused = api
        .form(Method::POST, "/me/tokens", Some(&cookie), &forged)
        .await;
    assert_eq!(refused.status(), 403, "a form without its CSRF token");
    let made = [("csrf_token", csrf.as_str()), ("name", "backup script")];
    let page = api
        .form(Method::POST, "/me/tokens", Some(&cookie), &made)
        .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let pat = html
        .split("<code id=\"new-token\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the new token on the page")
        .to_owned();
    let pat = secrets.add("personal access token", pat);
    let bearer = |path: &str| {
        api.request(Method::GET, path, None)
            .header("authorization", format!("Bearer {pat}"))
    };
    assert_eq!(bearer("/profile").send().await.unwrap().status(), 200);
    for path in [
        format!("/profile?access_token={pat}"),
        format!("/admin/users?access_token={pat}"),
        format!("/me?access_token={pat}"),
    ] {
        let answer = api.send(Method::GET, &path, None).await.status();
        assert!(answer == 400 || answer == 303, "{path}: {answer}");
    }
    let listed = api.send(Method::GET, "/me/tokens", Some(&cookie)).await;
    let listed = listed.text().await.unwrap();
    assert!(
        listed.contains("backup script") && !listed.contains(&pat),
        "shown once"
    );
    let logged_out = api
        .form(Method::POST, "/logout", Some(&session(token)), &form)
        .await;
    assert_eq!(logged_out.status(), 303);
    let me = api.send(Method::GET, "/me", Some(&session(token))).await;
    assert_eq!(me.status(), 303, "the session ended");
    secrets
}

/// The ways a secret could show up in a log: as sent, form-encoded, and (for
/// random tokens) the first 16 characters of it.
fn variants(value: &str) -> Vec<String> {
    let mut out = vec![value.to_owned()];
    if value.contains(' ') {
        out.push(value.replace(' ', "+"));
        out.push(value.replace(' ', "%20"));
        out.extend(
            value
                .split(' ')
                .filter(|w| w.len() >= 12)
                .map(str::to_owned),
        );
    } else {
        out.push(value[..16].to_owned());
    }
    out
}

/// Searches all of `stderr` for every secret; the reset token may appear only
/// in its one line.
fn assert_no_secret(stderr: &str, secrets: &Secrets) {
    let mut leaks = Vec::new();
    for (what, value) in &secrets.items {
        for variant in variants(value) {
            for line in stderr.lines().filter(|l| l.contains(&variant)) {
                leaks.push(format!("{what} ({variant:?}) in: {line}"));
            }
        }
    }
    let (account, token) = secrets.reset.as_ref().expect("a reset ran");
    let expected_line = format!("password reset token for {account}: {token}");
    for variant in variants(token) {
        for line in stderr.lines().filter(|l| l.contains(&variant)) {
            if line != expected_line {
                leaks.push(format!("reset token ({variant:?}) in: {line}"));
            }
        }
    }
    let reset_lines = stderr.lines().filter(|l| *l == expected_line).count();
    assert_eq!(reset_lines, 1, "the reset token's one line");
    assert!(
        leaks.is_empty(),
        "secrets in the server's log:\n{}\n\nwhole log:\n{stderr}",
        leaks.join("\n")
    );
    eprintln!(
        "searched {} log lines for {} secrets: none leaked",
        stderr.lines().count(),
        secrets.items.len() + 1
    );
}

#[tokio::test]
async fn no_secret_reaches_the_text_log() {
    let server = Server::start(&["--reset-delivery", "log", "--ip-rate-limit", "off"]);
    let secrets = run_flows(&server).await;
    let (status, stderr) = server.stop_with_stderr();
    assert!(status.success(), "authd stops cleanly");
    // The log is really there: request lines and security events.
    assert!(stderr.contains("route=\"/sessions\""), "{stderr}");
    assert!(stderr.contains("route=\"/check\""), "{stderr}");
    assert!(stderr.contains("authd::security"), "{stderr}");
    assert_no_secret(&stderr, &secrets);
}

#[tokio::test]
async fn no_secret_reaches_the_json_log_and_every_line_is_json() {
    let server = Server::start(&[
        "--reset-delivery",
        "log",
        "--ip-rate-limit",
        "off",
        "--log-format",
        "json",
    ]);
    let secrets = run_flows(&server).await;
    let (status, stderr) = server.stop_with_stderr();
    assert!(status.success(), "authd stops cleanly");
    let (account, token) = secrets.reset.clone().expect("a reset ran");
    let reset_line = format!("password reset token for {account}: {token}");
    let mut routes = Vec::new();
    // Every line is one JSON object, the reset token's included (with the
    // token in a field of its own); for the secret search below, that one
    // object stands for the text line the token may appear in.
    let mut searchable = String::new();
    for line in stderr.lines() {
        let parsed: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line:?}"));
        assert!(parsed.is_object(), "{line}");
        if let Some(route) = parsed["fields"]["route"].as_str() {
            routes.push(route.to_owned());
        }
        if parsed["target"] == "authd::reset_token" {
            assert_eq!(parsed["fields"]["token"], token.as_str(), "{line}");
            assert_eq!(parsed["fields"]["account"], account.as_str(), "{line}");
            assert!(
                !parsed["fields"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(&token),
                "the token only in its field: {line}"
            );
            searchable.push_str(&reset_line);
        } else {
            searchable.push_str(line);
        }
        searchable.push('\n');
    }
    for route in [
        "/users",
        "/sessions",
        "/reset_password",
        "/password",
        "/check",
        "/login",
    ] {
        assert!(
            routes.iter().any(|r| r == route),
            "a request line for {route}: {routes:?}"
        );
    }
    assert_no_secret(&searchable, &secrets);
}
