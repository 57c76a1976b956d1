//! docs/contract/3-json-api.md "Ambiguous requests" and "Cross-site requests", through
//! `auth_http::routes`: a body that names a field twice (in any spelling) is
//! refused on every route that parses one, conflicting cookies count as none,
//! and every state-changing request from another origin is refused without
//! changing anything. Also the `__Host-` pre-session cookie and /check's own
//! 405. (Two `Cookie` or `Host` headers in one request cannot be built with
//! `warp::test`; the unit tests of `request.rs` and `tests/hostile/` at the
//! workspace root send those.)

mod check_method;
mod cookies;
mod origin;
mod repeated_fields;

use crate::common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::browser::{exists, HOST, SAME_ORIGIN};
use common::*;
use serde_json::json;
use warp::http::StatusCode;
use warp::test::RequestBuilder;

const MACHINE: &str = "ambiguity-machine-0001";
const OTHER_MACHINE: &str = "ambiguity-machine-0002";
/// Origins that are not `http://localhost:5000`, each for its own reason.
const FOREIGN_ORIGINS: &[&str] = &[
    "https://evil.example",
    "null",
    "http://localhost:5001",
    "http://localhost",
    "https://localhost:5000.evil.example",
    "http://localhost:5000/",
    "http://user@localhost:5000",
];

async fn session_lives(app: &TestApp, token: &str) -> bool {
    app.profile_status(token).await == StatusCode::OK
}

/// A form body sent as written (the spellings are the point).
fn raw_form(method: &str, path: &str, body: &str) -> RequestBuilder {
    raw(method, path, "application/x-www-form-urlencoded", body)
}

fn raw_json(method: &str, path: &str, body: &str) -> RequestBuilder {
    raw(method, path, "application/json", body)
}

/// What a browser adds: the host, and the origin of the page that sent it.
fn from_origin(request: RequestBuilder, origin: &str) -> RequestBuilder {
    request.header("host", HOST).header("origin", origin)
}

fn device_header(json: &str) -> String {
    STANDARD.encode(json)
}

fn credentials(username: &str, machine: &str) -> String {
    device_header(
        &json!({"username": username, "password": PASSWORD, "machine_id": machine}).to_string(),
    )
}

/// Checks /check's failure shape and code.
fn assert_check_failure(res: &Res, status: StatusCode, code: &str) {
    assert_eq!(res.status, status, "{}", res.text());
    let body = res.json();
    assert_eq!(body["status"], "FAILED", "{body}");
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(body.as_object().map(|o| o.len()), Some(3), "{body}");
}

fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("", text)])
        .expect("encode")
        .trim_start_matches('=')
        .to_owned()
}

/// A cookie jar for the page flows.
struct Browser<'a> {
    app: &'a TestApp,
    jar: Vec<(String, String)>,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Browser {
            app,
            jar: Vec::new(),
        }
    }

    fn jar_value(&self, name: &str) -> Option<String> {
        self.jar
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    async fn send(&mut self, request: RequestBuilder) -> Res {
        let mut request = request
            .header("host", HOST)
            .header("accept", BROWSER_ACCEPT);
        if !self.jar.is_empty() {
            let cookies: Vec<String> = self.jar.iter().map(|(n, v)| format!("{n}={v}")).collect();
            request = request.header("cookie", cookies.join("; "));
        }
        let res = self.app.page(request).await;
        for set_cookie in res.header_all("set-cookie") {
            let pair = set_cookie.split(';').next().unwrap_or_default().trim();
            let (name, value) = pair.split_once('=').expect("name=value");
            self.jar.retain(|(n, _)| n != name);
            if !set_cookie.contains("Max-Age=0") {
                self.jar.push((name.to_owned(), value.to_owned()));
            }
        }
        res
    }

    async fn get(&mut self, path: &str) -> Res {
        self.send(get(path)).await
    }

    /// A form page's CSRF token, URL-encoded for a hand-written body.
    async fn csrf(&mut self, path: &str) -> String {
        let res = self.get(path).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        urlencode(&res.csrf_token())
    }

    async fn post(&mut self, path: &str, body: &str) -> Res {
        self.send(raw_form("POST", path, body)).await
    }
}
