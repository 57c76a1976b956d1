//! The server under attack and its clients.

use std::time::Duration;

use crate::common::{client, session_cookie, Server};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::*;

pub(super) struct Target {
    pub(super) server: Server,
    pub(super) addr: String,
    pub(super) http: reqwest::Client,
}

impl Target {
    pub(super) fn start() -> Target {
        let server = Server::start(&["--ip-rate-limit", "off"]);
        let addr = server
            .base_url
            .strip_prefix("http://")
            .expect("http base URL")
            .to_owned();
        Target {
            server,
            addr,
            http: client(),
        }
    }

    pub(super) fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub(super) async fn raw(&self, request: Vec<u8>) -> Answer {
        send_raw(&self.addr, request, Duration::from_secs(10)).await
    }

    pub(super) async fn post(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<Vec<u8>>,
    ) -> Answer {
        from_reqwest(
            self.http
                .post(self.url(path))
                .header("content-type", content_type)
                .body(body.into())
                .send()
                .await,
        )
        .await
    }

    pub(super) async fn json(&self, path: &str, body: &Value) -> Answer {
        self.post(path, "application/json", body.to_string()).await
    }

    pub(super) async fn put_json(&self, path: &str, body: &Value) -> Answer {
        from_reqwest(self.http.put(self.url(path)).json(body).send().await).await
    }

    pub(super) async fn form(&self, path: &str, body: &str) -> Answer {
        self.post(path, "application/x-www-form-urlencoded", body)
            .await
    }

    pub(super) async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = self.http.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        from_reqwest(request.send().await).await
    }

    pub(super) async fn method(&self, method: &str, path: &str) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        from_reqwest(self.http.request(method, self.url(path)).send().await).await
    }

    /// `GET /check` with each value as one `SEEK_CUSTOM_AUTH` header.
    pub(super) async fn check(&self, values: &[&str]) -> Answer {
        let mut request = self.http.get(self.url("/check"));
        for value in values {
            request = request.header("SEEK_CUSTOM_AUTH", *value);
        }
        from_reqwest(request.send().await).await
    }

    /// Signs up and logs in; returns the session token.
    pub(super) async fn account(&self, username: &str, extra: Value) -> String {
        let mut body = json!({ "username": username, "password": PASSWORD });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let created = self.json("/users", &body).await.expect("sign-up");
        assert_eq!(created.status, 200, "sign-up: {}", created.summary());
        let login = self
            .http
            .post(self.url("/sessions"))
            .json(&json!({ "username": username, "password": PASSWORD }))
            .send()
            .await
            .expect("login");
        assert_eq!(login.status(), 200);
        session_cookie(&login).expect("session cookie")
    }

    /// The pre-session cookie and the CSRF token of `GET /signup`.
    pub(super) async fn signup_form(&self) -> (String, String) {
        let page = self.http.get(self.url("/signup")).send().await.unwrap();
        let nonce = page
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("authd_csrf="))
            .map(|v| v.split(';').next().unwrap_or_default().to_owned())
            .expect("pre-session cookie");
        let html = page.text().await.unwrap();
        (nonce, hidden_csrf_token(&html))
    }

    /// After everything: the server still answers and still works.
    pub(super) async fn still_serves(&self, username: &str) {
        let health = self.get("/healthz", &[]).await.expect("healthz answers");
        assert_eq!(health.status, 200, "{}", health.summary());
        assert_eq!(json_body(&health).unwrap()["status"], "ok");
        let token = self.account(username, json!({})).await;
        let profile = self
            .get("/profile", &[("cookie", &format!("session_id={token}"))])
            .await
            .unwrap();
        assert_eq!(profile.status, 200, "{}", profile.summary());
        assert_eq!(
            json_body(&profile).unwrap(),
            json!({ "username": username })
        );
        let stderr = self.server.stderr();
        assert!(
            !stderr.contains("panicked"),
            "the server panicked:\n{stderr}"
        );
    }
}

pub(super) fn hidden_csrf_token(html: &str) -> String {
    let at = html.find("name=\"csrf_token\"").expect("csrf input");
    let value = &html[at..];
    let start = value.find("value=\"").expect("csrf value") + 7;
    let end = value[start..].find('"').expect("end of value");
    value[start..start + end].to_owned()
}

/// Undoes HTML escaping (named and numeric entities).
pub(super) fn unescape_html(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let Some(semi) = rest[amp..].find(';') else {
            break;
        };
        let entity = &rest[amp + 1..amp + semi];
        let decoded = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => out.push(c),
            None => out.push_str(&rest[amp..=amp + semi]),
        }
        rest = &rest[amp + semi + 1..];
    }
    out.push_str(rest);
    out
}

pub(super) fn header_value(json: &str) -> String {
    STANDARD.encode(json)
}
