//! The second-factor routes (docs/contract/7-second-factor.md) through `auth_http::routes`:
//! enrolment, `mfa_required` from `POST /sessions`, `POST /sessions/mfa`,
//! recovery codes, removal, and the Origin rule on each of them.

use crate::common;

use auth_core::{totp_code, Clock, TOTP_STEP_SECS};
use common::*;
use data_encoding::BASE32_NOPAD;
use serde_json::{json as j, Value};
use warp::http::StatusCode;

const EMAIL: &str = "bob@example.com";

/// Signs up, logs in and enables an authenticator app; returns the session
/// token, the secret and the recovery codes.
async fn enrolled(app: &TestApp) -> (String, Vec<u8>, Vec<String>) {
    let token = app.signed_in(EMAIL).await;
    let res = app
        .send(request("POST", "/mfa/totp").header("cookie", cookie(&token)))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let body = res.json();
    let secret = body["secret"].as_str().unwrap();
    assert!(body["otpauth_uri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/authd%3Abob%40example%2Ecom?secret="));
    let secret = BASE32_NOPAD.decode(secret.as_bytes()).unwrap();
    let code = totp_code(&secret, app.clock.now());
    let res = app
        .send(
            form("POST", "/mfa/totp/confirm", &[("code", &code)]).header("cookie", cookie(&token)),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let codes: Vec<String> = res.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    app.clock.advance(TOTP_STEP_SECS);
    (token, secret, codes)
}

/// `POST /sessions` with the right password: 401 `mfa_required` and no cookie.
async fn mfa_token(app: &TestApp) -> String {
    let res = app.send(login_form(EMAIL, PASSWORD)).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.text());
    assert!(res.header("set-cookie").is_none());
    let body = res.json();
    assert_eq!(body["error"], "mfa_required");
    assert_eq!(body["methods"], j!(["totp", "recovery_code"]));
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["error", "message", "methods", "mfa_token"]);
    body["mfa_token"].as_str().unwrap().to_owned()
}

async fn second_step(app: &TestApp, token: &str, code: &str) -> Res {
    app.send(json(
        "POST",
        "/sessions/mfa",
        &j!({"mfa_token": token, "code": code}),
    ))
    .await
}

#[tokio::test]
async fn log_in_with_an_authenticator_app() {
    let app = TestApp::new().await;
    let (_, secret, _) = enrolled(&app).await;
    let token = mfa_token(&app).await;

    let wrong = totp_code(&secret, app.clock.now() + 10 * TOTP_STEP_SECS);
    second_step(&app, &token, &wrong)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_code");

    let code = totp_code(&secret, app.clock.now());
    let res = second_step(&app, &token, &code).await;
    res.assert_ok_json(j!({"email": EMAIL, "message": "logged in"}));
    let session = res.session_cookie();
    assert_eq!(app.profile_status(&session).await, StatusCode::OK);

    // The token worked once, and the code cannot be replayed with a new one.
    second_step(&app, &token, &code)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_code");
    let token = mfa_token(&app).await;
    second_step(&app, &token, &code)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_code");
}

#[tokio::test]
async fn recovery_codes_replace_and_remove() {
    let app = TestApp::new().await;
    let (session, secret, codes) = enrolled(&app).await;
    let token = mfa_token(&app).await;
    let res = second_step(&app, &token, &codes[0]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let token = mfa_token(&app).await;
    second_step(&app, &token, &codes[0])
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_code");

    let replace = |password: &str| {
        form("POST", "/mfa/recovery-codes", &[("password", password)])
            .header("cookie", cookie(&session))
    };
    app.send(replace(NEW_PASSWORD))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let res = app.send(replace(PASSWORD)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let fresh = res.json()["recovery_codes"][0].as_str().unwrap().to_owned();
    second_step(&app, &token, &codes[1])
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_code");
    assert_eq!(
        second_step(&app, &token, &fresh).await.status,
        StatusCode::OK
    );

    let remove = |password: &str| {
        form("DELETE", "/mfa/totp", &[("password", password)]).header("cookie", cookie(&session))
    };
    app.send(remove(NEW_PASSWORD))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_eq!(
        app.send(remove(PASSWORD)).await.status,
        StatusCode::NO_CONTENT
    );
    app.send(remove(PASSWORD))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    // One step again, exactly as before.
    app.login(EMAIL, PASSWORD).await;
    let _ = secret;
}

#[tokio::test]
async fn cross_site_writes_are_refused_and_change_nothing() {
    let app = TestApp::new().await;
    let (session, secret, codes) = enrolled(&app).await;
    let token = mfa_token(&app).await;
    let evil = "https://evil.example";
    let code = totp_code(&secret, app.clock.now());
    for req in [
        json(
            "POST",
            "/sessions/mfa",
            &j!({"mfa_token": token, "code": code}),
        ),
        request("POST", "/mfa/totp").header("cookie", cookie(&session)),
        form("POST", "/mfa/totp/confirm", &[("code", &code)]).header("cookie", cookie(&session)),
        form("DELETE", "/mfa/totp", &[("password", PASSWORD)]).header("cookie", cookie(&session)),
        form("POST", "/mfa/recovery-codes", &[("password", PASSWORD)])
            .header("cookie", cookie(&session)),
    ] {
        app.send(req.header("origin", evil))
            .await
            .assert_error(StatusCode::FORBIDDEN, "cross_origin");
    }
    // Nothing was used up: the code and the recovery codes still work.
    assert_eq!(
        second_step(&app, &token, &code).await.status,
        StatusCode::OK
    );
    let token = mfa_token(&app).await;
    assert_eq!(
        second_step(&app, &token, &codes[9]).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn bad_requests_and_methods() {
    let app = TestApp::new().await;
    let session = app.signed_in(EMAIL).await;
    app.send(json("POST", "/sessions/mfa", &j!({"mfa_token": "x"})))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "missing_field");
    app.send(json(
        "POST",
        "/sessions/mfa",
        &j!({"mfa_token": "x", "code": "123456"}),
    ))
    .await
    .assert_error(StatusCode::UNAUTHORIZED, "invalid_code");
    app.send(json(
        "POST",
        "/sessions/mfa",
        &j!({"mfa_token": null, "code": "1"}),
    ))
    .await
    .assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    app.send(request("POST", "/mfa/totp"))
        .await
        .assert_error(StatusCode::FORBIDDEN, "not_authenticated");
    let res = app.send(request("DELETE", "/sessions/mfa")).await;
    res.assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert_eq!(res.header("allow"), Some("POST"));
    let res = app.send(get("/mfa/totp")).await;
    assert_eq!(res.header("allow"), Some("POST, DELETE"));
    // No enrolment waiting: a code enables nothing.
    app.send(
        form("POST", "/mfa/totp/confirm", &[("code", "123456")]).header("cookie", cookie(&session)),
    )
    .await
    .assert_error(StatusCode::UNAUTHORIZED, "invalid_code");
    // Without a factor the login is the Holberton one.
    let res = app.send(login_form(EMAIL, PASSWORD)).await;
    assert_eq!(res.json(), j!({"email": EMAIL, "message": "logged in"}));
    let _: Value = res.json();
}
