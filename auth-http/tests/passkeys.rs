//! The passkey routes over HTTP (no socket): adding one, signing in with it
//! alone, using it as the second step, removing it; and the contract's
//! error shape for every bad input, the `Origin` rule included.

use crate::common;

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

/// A `POST` of this JSON body from a page, in the session of `token`.
async fn post_in_session(app: &TestApp, token: &str, path: &str, body: &Value) -> Res {
    app.send(with_session(json("POST", path, body), token))
        .await
}

/// `POST /mfa/passkeys/options` with the password: a registration ceremony.
async fn start_adding(app: &TestApp, token: &str) -> Res {
    let body = json!({"password": PASSWORD});
    post_in_session(app, token, "/mfa/passkeys/options", &body).await
}

/// `POST /mfa/passkeys` with this body.
async fn finish_adding(app: &TestApp, token: &str, body: &Value) -> Res {
    post_in_session(app, token, "/mfa/passkeys", body).await
}

/// A new authenticator's answer to a registration ceremony, as JSON.
fn registration_answer(started: &Value) -> (TestAuthenticator, Value) {
    let options = json!({"publicKey": started["publicKey"]});
    let (key, answer) = TestAuthenticator::register(&options, ORIGIN, true);
    (key, serde_json::from_str(&answer).unwrap())
}

/// Adds a passkey through the JSON routes; returns its authenticator and id.
async fn add_passkey(app: &TestApp, token: &str, name: &str) -> (TestAuthenticator, String) {
    let started = start_adding(app, token).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.text());
    let body = started.json();
    let (key, answer) = registration_answer(&body);
    let body = json!({"ceremony": body["ceremony"], "name": name, "credential": answer});
    let added = finish_adding(app, token, &body).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text());
    let added = added.json();
    assert_eq!(added["name"], name);
    assert_eq!(added["last_used_at"], Value::Null);
    (key, added["id"].as_str().unwrap().to_owned())
}

/// `POST /sessions/passkey` from a page: a sign-in with the passkey alone.
async fn sign_in_alone(app: &TestApp, ceremony: &str, credential: &Value) -> Res {
    let body = json!({"ceremony": ceremony, "credential": credential});
    app.send(from_page(json("POST", "/sessions/passkey", &body)))
        .await
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
    let res = sign_in_alone(&app, &ceremony, &credential).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(
        res.json(),
        json!({"email": "bob@example.com", "message": "logged in"})
    );
    let alone = res.session_cookie();
    assert_eq!(app.profile_status(&alone).await, StatusCode::OK);
    // The same answer again: the ceremony is spent.
    let res = sign_in_alone(&app, &ceremony, &credential).await;
    res.assert_error(StatusCode::BAD_REQUEST, "invalid_field");

    // After the password: mfa_required with "passkey", then the passkey.
    let res = app.send(login_form("bob@example.com", PASSWORD)).await;
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
    // And the password: a stolen session alone adds no passkey (one would
    // sign in on its own and outlive a password reset).
    let res = post_in_session(&app, &token, "/mfa/passkeys/options", &json!({})).await;
    res.assert_error(StatusCode::BAD_REQUEST, "missing_field");
    let res = post_in_session(
        &app,
        &token,
        "/mfa/passkeys/options",
        &json!({"password": "not the password at all"}),
    )
    .await;
    res.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let res = start_adding(&app, &token).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());

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
    let res = finish_adding(
        &app,
        &token,
        &json!({"ceremony": ceremony, "name": "x".repeat(65), "credential": {}}),
    )
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

/// Attacks on the routes: every spelling of the `Origin` and `Host` pair,
/// names with markup, control characters or of 10 MB, and removal of
/// another account's passkey.
#[tokio::test]
async fn origin_spellings_names_and_removal_attacks() {
    let app = TestApp::new().await;
    let token = app.signed_in("bob@example.com").await;
    let options = |host: &str, origin: &str| {
        request("POST", "/sessions/passkey/options")
            .header("host", host)
            .header("origin", origin)
    };
    // (An Origin given twice is refused: request.rs's unit test; warp's
    // test requests cannot carry a header twice.)
    // Another port, or another scheme's default port: another origin.
    for (host, origin) in [
        ("localhost", "http://localhost:5001"),
        ("localhost:5000", "http://localhost"),
        ("localhost", "https://localhost:80"),
    ] {
        let res = app.send(options(host, origin)).await;
        res.assert_error(StatusCode::FORBIDDEN, "cross_origin");
    }
    // Case is no other origin: the RP id is the host in lower case.
    for (host, origin) in [
        ("LOCALHOST", "http://localhost"),
        ("localhost", "HTTP://LocalHost"),
    ] {
        let res = app.send(options(host, origin)).await;
        assert_eq!(res.status, StatusCode::OK, "{origin}: {}", res.text());
        assert_eq!(res.json()["publicKey"]["rpId"], "localhost");
    }
    // IP literals, v4 and v6, are no relying party.
    for (host, origin) in [
        ("127.0.0.1", "http://127.0.0.1"),
        ("[::1]:5000", "http://[::1]:5000"),
    ] {
        let res = app.send(options(host, origin)).await;
        res.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    }

    // Names: markup is text on the security page; control characters and
    // more than 64 characters are refused; 10 MB never reaches the service.
    let (_, id) = add_passkey(&app, &token, "<img src=x onerror=alert(1)>").await;
    let page = app
        .page(
            get("/me/security")
                .header("accept", BROWSER_ACCEPT)
                .header("cookie", cookie(&token)),
        )
        .await;
    let html = page.text();
    assert!(
        html.contains("&#60;img src=x onerror=alert(1)&#62;") && !html.contains("<img src=x"),
        "{html}"
    );
    for name in ["a\u{0}b", "line\nbreak", "\u{1b}[31mred", &"x".repeat(65)] {
        let started = start_adding(&app, &token).await.json();
        let (_, answer) = registration_answer(&started);
        let body = json!({"ceremony": started["ceremony"], "name": name, "credential": answer});
        let res = finish_adding(&app, &token, &body).await;
        let message = res.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
        assert!(message.starts_with("name"), "{name:?}: {message}");
    }
    // A credential id of 3000 bytes (WebAuthn allows 1023) fits the 16 KiB
    // body; on PostgreSQL its unique index entry would not fit: a 400 here.
    let started = start_adding(&app, &token).await.json();
    let options = json!({"publicKey": started["publicKey"]});
    let (_, answer) = TestAuthenticator::register_with_id_len(&options, ORIGIN, true, 3000);
    let answer: Value = serde_json::from_str(&answer).unwrap();
    let body = json!({"ceremony": started["ceremony"], "credential": answer});
    assert!(body.to_string().len() < 16 * 1024);
    let res = finish_adding(&app, &token, &body).await;
    let message = res.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    assert!(message.starts_with("credential"), "{message}");

    let huge = json!({"ceremony": "x", "name": "n".repeat(10 << 20), "credential": {}});
    let res = finish_adding(&app, &token, &huge).await;
    res.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    // Another account's passkey: with the right password of one's own
    // account it is 404, as an id that never existed is; bob's remains.
    let eve = app.signed_in("eve@example.com").await;
    for target in [id.as_str(), "3f0c1b1e-8d1a-4c55-9d4e-0a4f3c2b1a00"] {
        let res = app
            .send(with_session(
                json(
                    "DELETE",
                    &format!("/mfa/passkeys/{target}"),
                    &json!({"password": PASSWORD}),
                ),
                &eve,
            ))
            .await;
        res.assert_error(StatusCode::NOT_FOUND, "not_found");
    }
    let listed = app
        .send(with_session(request("GET", "/mfa/passkeys"), &token))
        .await
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
}
