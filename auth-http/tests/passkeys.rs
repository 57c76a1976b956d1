//! The passkey routes over HTTP (no socket): adding one, signing in with it
//! alone, using it as the second step, removing it; and the contract's
//! error shape for every bad input, the `Origin` rule included.

mod common;

#[path = "../../auth-core/tests/common/authenticator.rs"]
mod authenticator;

use authenticator::TestAuthenticator;
use common::*;
use serde_json::{json, Value};
use warp::http::StatusCode;
use warp::test::RequestBuilder;

const ORIGIN: &str = "http://localhost";

/// A request from a page of this site (Host and Origin agree).
fn from_page(request: RequestBuilder) -> RequestBuilder {
    request.header("host", "localhost").header("origin", ORIGIN)
}

fn with_session(request: RequestBuilder, token: &str) -> RequestBuilder {
    from_page(request).header("cookie", cookie(token))
}

/// Adds a passkey through the JSON routes; returns its authenticator and id.
async fn add_passkey(app: &TestApp, token: &str, name: &str) -> (TestAuthenticator, String) {
    let started = app
        .send(with_session(
            request("POST", "/mfa/passkeys/options"),
            token,
        ))
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.text());
    let body = started.json();
    let options = json!({"publicKey": body["publicKey"]});
    let (key, answer) = TestAuthenticator::register(&options, ORIGIN, true);
    let answer: Value = serde_json::from_str(&answer).unwrap();
    let added = app
        .send(with_session(
            json(
                "POST",
                "/mfa/passkeys",
                &json!({"ceremony": body["ceremony"], "name": name, "credential": answer}),
            ),
            token,
        ))
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text());
    let added = added.json();
    assert_eq!(added["name"], name);
    assert_eq!(added["last_used_at"], Value::Null);
    (key, added["id"].as_str().unwrap().to_owned())
}

/// Starts a ceremony and answers it with the authenticator.
async fn answer(
    app: &TestApp,
    path: &str,
    body: Value,
    key: &TestAuthenticator,
) -> (String, Value) {
    let started = app.send(from_page(json("POST", path, &body))).await;
    assert_eq!(started.status, StatusCode::OK, "{path}: {}", started.text());
    let started = started.json();
    let answer = key.assert(&json!({"publicKey": started["publicKey"]}), ORIGIN);
    (
        started["ceremony"].as_str().unwrap().to_owned(),
        serde_json::from_str(&answer).unwrap(),
    )
}

#[tokio::test]
async fn add_sign_in_second_step_and_remove_over_http() {
    let app = TestApp::new().await;
    let token = app.signed_in("bob@example.com").await;
    let (mut key, id) = add_passkey(&app, &token, "Laptop").await;
    let listed = app.send(with_session(get("/mfa/passkeys"), &token)).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.json()[0]["id"], id.as_str());

    // Alone, with no name typed: a login.
    key.counter = 1;
    let (ceremony, credential) = answer(&app, "/sessions/passkey/options", json!({}), &key).await;
    let res = app
        .send(from_page(json(
            "POST",
            "/sessions/passkey",
            &json!({"ceremony": ceremony, "credential": credential}),
        )))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(
        res.json(),
        json!({"email": "bob@example.com", "message": "logged in"})
    );
    let alone = res.session_cookie();
    assert_eq!(app.profile_status(&alone).await, StatusCode::OK);
    // The same answer again: the ceremony is spent.
    let res = app
        .send(from_page(json(
            "POST",
            "/sessions/passkey",
            &json!({"ceremony": ceremony, "credential": credential}),
        )))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "invalid_field");

    // After the password: mfa_required with "passkey", then the passkey.
    let res = app
        .send(form(
            "POST",
            "/sessions",
            &[("email", "bob@example.com"), ("password", PASSWORD)],
        ))
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let body = res.json();
    assert_eq!(body["error"], "mfa_required");
    assert_eq!(body["methods"], json!(["passkey"]));
    let mfa_token = body["mfa_token"].as_str().unwrap().to_owned();
    key.counter = 2;
    let (ceremony, credential) = answer(
        &app,
        "/sessions/mfa/passkey/options",
        json!({"mfa_token": mfa_token}),
        &key,
    )
    .await;
    // The form variant: the credential as JSON text in a field.
    let res = app
        .send(from_page(form(
            "POST",
            "/sessions/mfa/passkey",
            &[
                ("mfa_token", mfa_token.as_str()),
                ("ceremony", ceremony.as_str()),
                ("credential", &credential.to_string()),
            ],
        )))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let second = res.session_cookie();
    assert_eq!(app.profile_status(&second).await, StatusCode::OK);

    // Removing: the password, then 204, then 404.
    let path = format!("/mfa/passkeys/{id}");
    let res = app
        .send(with_session(
            form("DELETE", &path, &[("password", "not the password at all")]),
            &second,
        ))
        .await;
    res.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let res = app
        .send(with_session(
            form("DELETE", &path, &[("password", PASSWORD)]),
            &second,
        ))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text());
    let res = app
        .send(with_session(
            form("DELETE", &path, &[("password", PASSWORD)]),
            &second,
        ))
        .await;
    res.assert_error(StatusCode::NOT_FOUND, "not_found");
    app.login("bob@example.com", PASSWORD).await;
}

#[tokio::test]
async fn bad_input_gets_the_contract_error_shape() {
    let app = TestApp::new().await;
    let token = app.signed_in("bob@example.com").await;

    // The Origin rule: another site, or the opaque null of a no-referrer page.
    for origin in ["https://evil.example", "null"] {
        for path in ["/mfa/passkeys/options", "/sessions/passkey/options"] {
            let res = app
                .send(
                    request("POST", path)
                        .header("host", "localhost")
                        .header("origin", origin)
                        .header("cookie", cookie(&token)),
                )
                .await;
            res.assert_error(StatusCode::FORBIDDEN, "cross_origin");
        }
    }
    // No Origin and no --public-url: no origin to bind the ceremony to.
    let res = app
        .send(request("POST", "/sessions/passkey/options").header("host", "localhost"))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    // An IP address is no relying party.
    let res = app
        .send(
            request("POST", "/sessions/passkey/options")
                .header("host", "127.0.0.1:5000")
                .header("origin", "http://127.0.0.1:5000"),
        )
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    // Adding needs a session.
    let res = app
        .send(from_page(request("POST", "/mfa/passkeys/options")))
        .await;
    res.assert_error(StatusCode::FORBIDDEN, "not_authenticated");

    let ceremony = app
        .send(from_page(request("POST", "/sessions/passkey/options")))
        .await
        .json()["ceremony"]
        .as_str()
        .unwrap()
        .to_owned();
    for (body, code) in [
        (json!({"credential": {}}), "missing_field"),
        (json!({"ceremony": ceremony}), "missing_field"),
        (
            json!({"ceremony": ceremony, "credential": null}),
            "invalid_field",
        ),
        (
            json!({"ceremony": ceremony, "credential": 5}),
            "invalid_field",
        ),
        (
            json!({"ceremony": ceremony, "credential": {"id": "x"}}),
            "invalid_field",
        ),
        (
            json!({"ceremony": ceremony, "credential": "not json"}),
            "invalid_field",
        ),
        (json!({"ceremony": 5, "credential": {}}), "invalid_field"),
    ] {
        let res = app
            .send(from_page(json("POST", "/sessions/passkey", &body)))
            .await;
        res.assert_error(StatusCode::BAD_REQUEST, code);
    }
    let res = app
        .send(from_page(raw(
            "POST",
            "/sessions/passkey",
            "application/json",
            r#"{"ceremony": "a", "ceremony": "b", "credential": {}}"#,
        )))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "invalid_body");
    let res = app
        .send(from_page(raw(
            "POST",
            "/sessions/passkey",
            "text/plain",
            "x",
        )))
        .await;
    res.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    // A ceremony id that is no ceremony.
    let res = app
        .send(
            from_page(json(
                "POST",
                "/mfa/passkeys",
                &json!({"ceremony": "A".repeat(43), "credential": {
                "id": "AA", "rawId": "AA", "type": "public-key",
                "response": {"attestationObject": "AA", "clientDataJSON": "AA"}}}),
            ))
            .header("cookie", cookie(&token)),
        )
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    // A name too long.
    let res = app
        .send(with_session(
            json(
                "POST",
                "/mfa/passkeys",
                &json!({"ceremony": ceremony, "name": "x".repeat(65), "credential": {}}),
            ),
            &token,
        ))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    // The second step with a token that is none.
    let res = app
        .send(from_page(json(
            "POST",
            "/sessions/mfa/passkey/options",
            &json!({"mfa_token": "A".repeat(43)}),
        )))
        .await;
    res.assert_error(StatusCode::UNAUTHORIZED, "invalid_code");
    // Another method on a passkey path: 405 with Allow.
    let res = app
        .send(from_page(request("GET", "/sessions/passkey")))
        .await;
    res.assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let res = app
        .send(from_page(request("DELETE", "/mfa/passkeys/options")))
        .await;
    res.assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

#[tokio::test]
async fn the_pages_carry_the_passkey_buttons_and_the_script_is_served() {
    let app = TestApp::new().await;
    let res = app.page(get("/login")).await;
    assert!(res.text().contains("data-passkey=\"sign-in\""));
    let res = app.reply(get("/static/webauthn.js")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(res.text().contains("referrerPolicy: \"same-origin\""));
    let csp = app.page(get("/login")).await;
    let csp = csp.header("content-security-policy").unwrap().to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
}

/// Logs in through the page; returns the page that answers and the
/// browser's pre-session nonce.
async fn login_page(app: &TestApp, email: &str) -> (Res, String) {
    let form_page = app
        .page(get("/login").header("accept", BROWSER_ACCEPT))
        .await;
    let nonce = cookie_value(
        &form_page
            .set_cookie_named("authd_csrf")
            .expect("a pre-session cookie"),
    );
    let csrf = form_page.csrf_token();
    let res = app
        .page(
            form(
                "POST",
                "/login",
                &[
                    ("csrf_token", &csrf),
                    ("username", email),
                    ("password", PASSWORD),
                ],
            )
            .header("accept", BROWSER_ACCEPT)
            .header("cookie", format!("authd_csrf={nonce}")),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    (res, nonce)
}

#[tokio::test]
async fn the_second_step_page_offers_what_the_account_has() {
    use auth_core::Clock;
    let app = TestApp::new().await;
    // A passkey only: the button, no code form.
    let token = app.signed_in("ada@example.com").await;
    add_passkey(&app, &token, "Phone").await;
    let page = login_page(&app, "ada@example.com").await.0.text();
    assert!(page.contains("data-passkey=\"second-step\""), "{page}");
    assert!(!page.contains("action=\"/login/code\""), "{page}");

    // An authenticator app only: the code form, no passkey button, also
    // after a wrong code.
    let token = app.signed_in("bob@example.com").await;
    let enrolment = app.auth.begin_totp(&token).await.unwrap();
    let secret = data_encoding::BASE32_NOPAD
        .decode(enrolment.secret.as_bytes())
        .unwrap();
    let code = auth_core::totp_code(&secret, app.clock.now());
    app.auth
        .confirm_totp(&token, &code, &auth_core::ClientInfo::default())
        .await
        .unwrap();
    let (res, nonce) = login_page(&app, "bob@example.com").await;
    let page = res.text();
    assert!(page.contains("action=\"/login/code\""), "{page}");
    assert!(!page.contains("data-passkey"), "{page}");
    let csrf = res.csrf_token();
    let mfa_token = res.input_value("mfa_token").expect("the token");
    let wrong = form(
        "POST",
        "/login/code",
        &[
            ("csrf_token", &csrf),
            ("mfa_token", &mfa_token),
            ("code", "000000"),
        ],
    )
    .header("accept", BROWSER_ACCEPT)
    .header("cookie", format!("authd_csrf={nonce}"));
    let res = app.page(wrong).await;
    let page = res.text();
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{page}");
    assert!(page.contains("action=\"/login/code\""), "{page}");
    assert!(!page.contains("data-passkey"), "{page}");
}
