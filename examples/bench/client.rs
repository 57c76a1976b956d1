//! The load generator's HTTP client and the accounts it sets up: registered
//! users, a session cookie, and a machine bound for `/check`.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::header::{HeaderValue, CONTENT_TYPE, COOKIE, SET_COOKIE};
use reqwest::{Client, ClientBuilder, StatusCode, Url};

/// The machine id user 1 binds for the `/check` phase.
const MACHINE_ID: &str = "bench-machine-0000000000000001";

/// A keep-alive HTTP/1.1 client that keeps every connection it opens.
pub fn keep_alive() -> ClientBuilder {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .pool_max_idle_per_host(usize::MAX)
        .pool_idle_timeout(Duration::from_secs(300))
        .timeout(Duration::from_secs(300))
}

/// The bench's accounts: `count` users whose names carry this run's tag, so
/// that a database kept from an earlier run takes them too.
#[derive(Clone, Debug)]
pub struct Users {
    tag: String,
    /// How many are registered.
    pub count: usize,
}

impl Users {
    /// `count` users (at least 2: one for sessions, one for `/check`) of a new tag.
    pub fn new(count: usize) -> Users {
        Users {
            tag: uuid::Uuid::new_v4().simple().to_string()[..6].to_owned(),
            count: count.max(2),
        }
    }

    /// The username of user `user`.
    pub fn username(&self, user: usize) -> String {
        format!("bench{}-{user:03}", self.tag)
    }

    /// The form body that registers or logs in user `user`.
    pub fn form(&self, user: usize) -> String {
        format!(
            "username=bench{}-{user:03}&password=bench-pass-{user:03}-Xq7v",
            self.tag
        )
    }

    /// Login bodies of the first `accounts` users, which login connections take in turn.
    pub fn login_bodies(&self, accounts: usize) -> Arc<Vec<String>> {
        Arc::new(
            (0..accounts.clamp(1, self.count))
                .map(|u| self.form(u))
                .collect(),
        )
    }

    /// `SEEK_CUSTOM_AUTH` for user 1 on the bench's machine.
    pub fn check_header(&self) -> HeaderValue {
        let credentials = serde_json::json!({
            "username": format!("bench{}-001", self.tag),
            "password": "bench-pass-001-Xq7v",
            "machine_id": MACHINE_ID,
        });
        HeaderValue::from_str(&STANDARD.encode(credentials.to_string()))
            .expect("base64 is a header value")
    }
}

/// Registers every user at once on `users_url` (each registration is one
/// hash); returns how many were not answered 200.
pub async fn register(client: &Client, users_url: &Url, users: &Users) -> anyhow::Result<u64> {
    let mut registrations = Vec::new();
    for user in 0..users.count {
        let request = form_post(client, users_url, users.form(user));
        registrations.push(tokio::spawn(request.send()));
    }
    let mut unexpected = 0;
    for registration in registrations {
        let response = registration.await??;
        if response.status() != StatusCode::OK {
            unexpected += 1;
            eprintln!(
                "registration: {} {}",
                response.status(),
                response.text().await?
            );
        }
    }
    Ok(unexpected)
}

/// Logs user `user` in at `sessions_url`: the `Cookie` header of the new session.
pub async fn session_cookie(
    client: &Client,
    sessions_url: &Url,
    users: &Users,
    user: usize,
) -> anyhow::Result<HeaderValue> {
    let login = form_post(client, sessions_url, users.form(user))
        .send()
        .await?;
    anyhow::ensure!(
        login.status() == StatusCode::OK,
        "setup login: {}",
        login.status()
    );
    let token = login
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("session_id="))
        .and_then(|v| v.split(';').next())
        .ok_or_else(|| anyhow::anyhow!("the login set no session cookie"))?
        .to_owned();
    Ok(HeaderValue::from_str(&format!("session_id={token}"))?)
}

/// `GET url` with `cookie`, which must be answered 200.
pub async fn expect_profile(
    client: &Client,
    url: &Url,
    cookie: &HeaderValue,
) -> anyhow::Result<()> {
    let profile = client
        .get(url.clone())
        .header(COOKIE, cookie.clone())
        .send()
        .await?;
    anyhow::ensure!(
        profile.status() == StatusCode::OK,
        "setup profile: {}",
        profile.status()
    );
    Ok(())
}

/// `GET url` with `SEEK_CUSTOM_AUTH: header`: its status and body.
pub async fn check(
    client: &Client,
    url: &Url,
    header: &HeaderValue,
) -> anyhow::Result<(StatusCode, String)> {
    let response = client
        .get(url.clone())
        .header("SEEK_CUSTOM_AUTH", header.clone())
        .send()
        .await?;
    let status = response.status();
    Ok((status, response.text().await?))
}

/// A form `POST` of `body` to `url`.
pub fn form_post(client: &Client, url: &Url, body: String) -> reqwest::RequestBuilder {
    client
        .post(url.clone())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
}
