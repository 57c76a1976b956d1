//! Second factors (docs/contract/7-second-factor.md) against the real binary over a socket: enrol
//! an authenticator app with the secret the server returns (this test
//! computes the codes itself, from RFC 6238), log in with `mfa_required` →
//! `POST /sessions/mfa`, refuse a replayed code, use a recovery code, race
//! one token, hit the throttle, and the operator's `user show` and
//! `user mfa-reset`.

use crate::common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{client, session_cookie, sqlite_url, Run, Server};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};

const USERNAME: &str = "kvothe";
const PASSWORD: &str = "tangerine rocket harbor 7";

/// RFC 6238 with HMAC-SHA1, six digits, 30-second steps, at now + `offset` seconds.
pub(crate) fn totp(secret: &[u8], offset: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let counter = ((now + offset) / 30) as u64;
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).unwrap();
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let at = (digest[19] & 0x0f) as usize;
    let binary = u32::from_be_bytes([
        digest[at] & 0x7f,
        digest[at + 1],
        digest[at + 2],
        digest[at + 3],
    ]);
    format!("{:06}", binary % 1_000_000)
}

async fn post(
    server: &Server,
    path: &str,
    body: Value,
    session: Option<&str>,
) -> reqwest::Response {
    let mut request = client().post(server.url(path)).json(&body);
    if let Some(session) = session {
        request = request.header("cookie", format!("session_id={session}"));
    }
    request.send().await.unwrap()
}

/// Enrols an authenticator app for the session's account: its secret and
/// recovery codes (the confirming code, of this step, is used).
pub(crate) async fn enrol_totp(server: &Server, session: &str) -> (Vec<u8>, Vec<String>) {
    let r = post(server, "/mfa/totp", json!({}), Some(session)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let enrolment: Value = r.json().await.unwrap();
    let secret = data_encoding::BASE32_NOPAD
        .decode(enrolment["secret"].as_str().unwrap().as_bytes())
        .unwrap();
    let r = post(
        server,
        "/mfa/totp/confirm",
        json!({"code": totp(&secret, 0)}),
        Some(session),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let codes: Value = r.json().await.unwrap();
    let codes = codes["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

/// `POST /sessions` with the right password: the second step's token.
async fn first_step(server: &Server) -> String {
    let r = post(
        server,
        "/sessions",
        json!({"username": USERNAME, "password": PASSWORD}),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(session_cookie(&r).is_none());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "mfa_required", "{body}");
    assert_eq!(body["methods"], json!(["totp", "recovery_code"]));
    body["mfa_token"].as_str().unwrap().to_owned()
}

async fn second_step(server: &Server, token: &str, code: &str) -> reqwest::Response {
    post(
        server,
        "/sessions/mfa",
        json!({"mfa_token": token, "code": code}),
        None,
    )
    .await
}

async fn error_of(r: reqwest::Response) -> (StatusCode, String) {
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

fn authd(server: &Server, args: &[&str]) -> std::process::Output {
    Run::authd()
        .current_dir(&server.dir)
        .args(["--database", &sqlite_url(&server.dir)])
        .args(args)
        .output()
}

#[tokio::test]
async fn the_json_flow_with_an_authenticator_app() {
    let server = Server::start(&[]);
    let r = post(
        &server,
        "/users",
        json!({"username": USERNAME, "password": PASSWORD}),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = post(
        &server,
        "/sessions",
        json!({"username": USERNAME, "password": PASSWORD}),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK, "no factor yet: one step");
    let session = session_cookie(&r).unwrap();

    // Enrol with the secret the server returns.
    let r = post(&server, "/mfa/totp", json!({}), Some(&session)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let enrolment: Value = r.json().await.unwrap();
    let secret = data_encoding::BASE32_NOPAD
        .decode(enrolment["secret"].as_str().unwrap().as_bytes())
        .unwrap();
    let r = post(
        &server,
        "/mfa/totp/confirm",
        json!({"code": totp(&secret, 0)}),
        Some(&session),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let codes: Value = r.json().await.unwrap();
    let codes: Vec<String> = codes["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    let shown = authd(&server, &["user", "show", USERNAME]);
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(
        shown.contains("second_factors: totp\nrecovery_codes_left: 10\n"),
        "{shown}"
    );

    // mfa_required, then the code of the next step (the confirming step's
    // code is used up; one step of drift is accepted).
    let token = first_step(&server).await;
    let code = totp(&secret, 30);
    let r = second_step(&server, &token, &code).await;
    assert_eq!(r.status(), StatusCode::OK);
    let mfa_session = session_cookie(&r).unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({"username": USERNAME, "message": "logged in"}));
    let r = client()
        .get(server.url("/profile"))
        .header("cookie", format!("session_id={mfa_session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // A replayed code fails, with a new token as with the used one.
    assert_eq!(
        error_of(second_step(&server, &token, &code).await).await,
        (StatusCode::UNAUTHORIZED, "invalid_code".into())
    );
    let token = first_step(&server).await;
    assert_eq!(
        error_of(second_step(&server, &token, &code).await).await,
        (StatusCode::UNAUTHORIZED, "invalid_code".into())
    );

    // A recovery code works once.
    let r = second_step(&server, &token, &codes[0]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let token = first_step(&server).await;
    assert_eq!(
        error_of(second_step(&server, &token, &codes[0]).await).await,
        (StatusCode::UNAUTHORIZED, "invalid_code".into())
    );

    // Two requests racing with one token: one session.
    let racers = [codes[1].clone(), codes[2].clone()].map(|code| {
        let (url, token) = (server.url("/sessions/mfa"), token.clone());
        tokio::spawn(async move {
            client()
                .post(url)
                .json(&json!({"mfa_token": token, "code": code}))
                .send()
                .await
                .unwrap()
                .status()
        })
    });
    let mut statuses = Vec::new();
    for racer in racers {
        statuses.push(racer.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::UNAUTHORIZED]);

    // Wrong codes feed the account's throttle; the right password does not
    // clear it.
    let token = first_step(&server).await;
    for _ in 0..5 {
        assert_eq!(
            error_of(second_step(&server, &token, "000000").await)
                .await
                .1,
            "invalid_code"
        );
    }
    let r = second_step(&server, &token, &totp(&secret, 0)).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "1");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    // The operator's reset: no factor, no session.
    let out = authd(&server, &["user", "mfa-reset", USERNAME]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = client()
        .get(server.url("/profile"))
        .header("cookie", format!("session_id={mfa_session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let shown = authd(&server, &["user", "show", USERNAME]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("second_factors: none\n"));
    let r = post(
        &server,
        "/sessions",
        json!({"username": USERNAME, "password": PASSWORD}),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let out = authd(&server, &["user", "mfa-reset", "nobody"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .trim_end()
            .lines()
            .count(),
        1
    );
}
