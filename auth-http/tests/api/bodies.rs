//! Request bodies of every JSON route: content types, the size limit,
//! bodies that do not parse, repeated or empty fields, and malformed
//! requests of every kind answered with a 4xx JSON error, never a 500.

use super::{sign_up_form, sign_up_json};
use crate::common::*;
use auth_http::MAX_BODY_BYTES;
use serde_json::{json as j, Value};
use warp::http::{HeaderValue, StatusCode};

// ----- content types and bodies -----

#[tokio::test]
async fn bodies_need_a_form_or_json_content_type() {
    let app = TestApp::new().await;
    let body = format!("email=bob@example.com&password={PASSWORD}");

    let res = app.send(request("POST", "/users").body(&body)).await;
    res.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let res = app.send(request("POST", "/users")).await;
    res.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    for content_type in [
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/xml",
    ] {
        let res = app.send(raw("POST", "/users", content_type, &body)).await;
        res.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    }
    let res = app
        .send(
            request("POST", "/users")
                .header(
                    "content-type",
                    HeaderValue::from_bytes(b"application/json\xff").unwrap(),
                )
                .body(&body),
        )
        .await;
    res.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");

    // None of those registered anyone.
    app.register("bob@example.com", PASSWORD).await;
}

#[tokio::test]
async fn bodies_over_16_kib_are_413() {
    let app = TestApp::new().await;
    let prefix = format!("email=big@example.com&password={PASSWORD}&pad=");

    let over = format!("{prefix}{}", "a".repeat(MAX_BODY_BYTES + 1 - prefix.len()));
    assert_eq!(over.len(), MAX_BODY_BYTES + 1);
    let res = app
        .send(raw(
            "POST",
            "/users",
            "application/x-www-form-urlencoded",
            &over,
        ))
        .await;
    res.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    let huge = j!({"email": "big@example.com", "password": PASSWORD, "pad": "a".repeat(100_000)});
    let res = sign_up_json(&app, &huge).await;
    res.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    // Exactly 16 KiB is accepted (unknown fields are ignored).
    let exact = format!("{prefix}{}", "a".repeat(MAX_BODY_BYTES - prefix.len()));
    assert_eq!(exact.len(), MAX_BODY_BYTES);
    let res = app
        .send(raw(
            "POST",
            "/users",
            "application/x-www-form-urlencoded",
            &exact,
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
}

#[tokio::test]
async fn unparseable_bodies_are_invalid_body() {
    let app = TestApp::new().await;
    let deep_arrays = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    let deep_objects = format!("{}1{}", r#"{"a":"#.repeat(300), "}".repeat(300));
    let json_bodies: Vec<&[u8]> = vec![
        b"{",
        b"",
        b"{\"email\": \"a@b.c\",}",
        b"[1, 2]",
        b"[]",
        b"\"a string\"",
        b"42",
        b"null",
        b"{\"email\": \"\xff\"}",
        deep_arrays.as_bytes(),
        deep_objects.as_bytes(),
    ];
    for body in json_bodies {
        let res = app
            .send(raw("POST", "/users", "application/json", body))
            .await;
        res.assert_error(StatusCode::BAD_REQUEST, "invalid_body");
    }
}

#[tokio::test]
async fn non_utf8_form_bodies_are_invalid_body() {
    let app = TestApp::new().await;
    let form_bodies: Vec<&[u8]> = vec![
        b"email=%FF%FE@example.com&password=tangerine+rocket+harbor+7",
        b"email=\xff\xfe@example.com&password=tangerine+rocket+harbor+7",
        b"email=a@example.com&password=%FFtangerine+rocket+harbor+7",
    ];
    for body in form_bodies {
        let res = app
            .send(raw(
                "POST",
                "/users",
                "application/x-www-form-urlencoded",
                body,
            ))
            .await;
        res.assert_error(StatusCode::BAD_REQUEST, "invalid_body");
    }
}

#[tokio::test]
async fn different_invalid_utf8_passwords_are_not_the_same_password() {
    let app = TestApp::new().await;
    // Registered with the byte 0xFF in the password...
    let res = app
        .send(raw(
            "POST",
            "/users",
            "application/x-www-form-urlencoded",
            "email=bob@example.com&password=%FFtangerine+rocket+harbor+7",
        ))
        .await;
    if res.status != StatusCode::OK {
        // Refused as the contract asks (400 invalid_body): nothing to collide.
        res.assert_error(StatusCode::BAD_REQUEST, "invalid_body");
        return;
    }
    // ...and since it was accepted, a login with 0xFE instead must not get in.
    let res = app
        .send(raw(
            "POST",
            "/sessions",
            "application/x-www-form-urlencoded",
            "email=bob@example.com&password=%FEtangerine+rocket+harbor+7",
        ))
        .await;
    assert_ne!(res.status, StatusCode::OK, "a different password logged in");
}

#[tokio::test]
/// docs/contract/3-json-api.md "Ambiguous requests": a field named twice is `invalid_body`,
/// and the message names it.
async fn a_repeated_form_field_is_invalid_body() {
    let app = TestApp::new().await;
    let res = app
        .send(raw(
            "POST",
            "/users",
            "application/x-www-form-urlencoded",
            "email=a@example.com&email=b@example.com&password=tangerine+rocket+harbor+7",
        ))
        .await;
    let message = res.assert_error(StatusCode::BAD_REQUEST, "invalid_body");
    assert!(message.contains("email"), "{message}");

    let res = app
        .send(raw(
            "POST",
            "/users",
            "application/x-www-form-urlencoded",
            "email=a@example.com&password=tangerine+rocket+harbor+7&password=x",
        ))
        .await;
    let message = res.assert_error(StatusCode::BAD_REQUEST, "invalid_body");
    assert!(message.contains("password"), "{message}");
}

#[tokio::test]
async fn an_empty_identifier_field_is_treated_as_absent_everywhere() {
    let app = TestApp::new().await;
    // Registration: the empty username is ignored and the e-mail is used.
    let res = sign_up_form(
        &app,
        &[
            ("username", ""),
            ("email", "bob@example.com"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    // The same fields at login.
    let res = app
        .send(form(
            "POST",
            "/sessions",
            &[
                ("username", ""),
                ("email", "bob@example.com"),
                ("password", PASSWORD),
            ],
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "login: {}", res.text());
    let res = app
        .send(form(
            "POST",
            "/reset_password",
            &[("username", ""), ("email", "bob@example.com")],
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "reset: {}", res.text());
}

// ----- no bad request gets a 500 -----

#[tokio::test]
async fn malformed_requests_get_4xx_json_errors_never_500() {
    let app = TestApp::new().await;
    let token = app.signed_in("bob@example.com").await;
    let session = cookie(&token);
    let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    let big = "x".repeat(MAX_BODY_BYTES * 2);
    let form_ct = "application/x-www-form-urlencoded";
    let json_ct = "application/json";

    let requests: Vec<(&str, warp::test::RequestBuilder)> = vec![
        (
            "users: no content type",
            request("POST", "/users").body("email=a@b.c"),
        ),
        (
            "users: text/plain",
            raw("POST", "/users", "text/plain", "hello"),
        ),
        (
            "users: broken json",
            raw("POST", "/users", json_ct, "{\"email\":"),
        ),
        ("users: json array", raw("POST", "/users", json_ct, "[]")),
        ("users: deep json", raw("POST", "/users", json_ct, &deep)),
        (
            "users: non-utf-8 form",
            raw("POST", "/users", form_ct, b"email=\xff".as_slice()),
        ),
        ("users: big body", raw("POST", "/users", form_ct, &big)),
        (
            "users: json null password",
            json("POST", "/users", &j!({"email": "a@b.c", "password": null})),
        ),
        (
            "users: object email",
            json(
                "POST",
                "/users",
                &j!({"email": {"a": 1}, "password": PASSWORD}),
            ),
        ),
        ("users: empty form", raw("POST", "/users", form_ct, "")),
        (
            "users: form of junk",
            raw("POST", "/users", form_ct, "&&&===&%%%"),
        ),
        (
            "users: control chars in full_name",
            json(
                "POST",
                "/users",
                &j!({"email": "c@b.c", "password": PASSWORD, "full_name": "a\u{7}b"}),
            ),
        ),
        ("sessions: no body", request("POST", "/sessions")),
        (
            "sessions: broken json",
            raw("POST", "/sessions", json_ct, "nope"),
        ),
        (
            "sessions: bool password",
            json(
                "POST",
                "/sessions",
                &j!({"email": "bob@example.com", "password": false}),
            ),
        ),
        (
            "sessions: big body",
            raw("POST", "/sessions", json_ct, &big),
        ),
        (
            "sessions: repeated field",
            raw("POST", "/sessions", form_ct, "email=a&email=b&password=c"),
        ),
        (
            "profile: non-utf-8 cookie",
            get("/profile").header(
                "cookie",
                HeaderValue::from_bytes(b"session_id=\xff\xfe").unwrap(),
            ),
        ),
        (
            "profile: cookie soup",
            get("/profile").header("cookie", ";;;=;session_id;=="),
        ),
        (
            "sessions list: long cookie",
            get("/sessions").header("cookie", format!("session_id={}", "A".repeat(4000))),
        ),
        (
            "end session: bad id",
            request("DELETE", "/sessions/%00%FF").header("cookie", session.as_str()),
        ),
        (
            "end session: long id",
            request("DELETE", &format!("/sessions/{}", "9".repeat(2000)))
                .header("cookie", session.as_str()),
        ),
        ("reset: no body", request("POST", "/reset_password")),
        (
            "reset: number email",
            json("POST", "/reset_password", &j!({"email": 1})),
        ),
        (
            "reset put: broken",
            raw("PUT", "/reset_password", json_ct, "{]"),
        ),
        (
            "reset put: null token",
            json(
                "PUT",
                "/reset_password",
                &j!({"email": "bob@example.com", "reset_token": null, "new_password": NEW_PASSWORD}),
            ),
        ),
        (
            "reset put: bad token",
            json(
                "PUT",
                "/reset_password",
                &j!({"email": "bob@example.com", "reset_token": "\u{0}", "new_password": NEW_PASSWORD}),
            ),
        ),
        (
            "password: broken json",
            raw("POST", "/password", json_ct, "{").header("cookie", session.as_str()),
        ),
        (
            "password: no content type",
            request("POST", "/password").header("cookie", session.as_str()),
        ),
        (
            "password: array body",
            raw("POST", "/password", json_ct, "[1]").header("cookie", session.as_str()),
        ),
        ("odd method", request("BREW", "/users")),
        ("odd path", get("/%FF%00")),
        ("bad query", get("/profile?%ZZ=1")),
        (
            "weird accept",
            // A JSON route answers JSON whatever the Accept (an unknown path
            // answers a browser-looking Accept with a page: see tests/web_account/navigation.rs).
            get("/profile").header("accept", "text/html;q=bogus"),
        ),
    ];
    assert!(requests.len() >= 30);
    for (what, request) in requests {
        let res = app.send(request).await;
        assert!(
            res.status.is_client_error(),
            "{what}: status {}: {}",
            res.status,
            res.text()
        );
        let body: Value = serde_json::from_slice(&res.body)
            .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", res.text()));
        assert!(body["error"].is_string(), "{what}: {body}");
        assert!(body["message"].is_string(), "{what}: {body}");
    }

    // Through all of that the session and the account are intact.
    assert_eq!(app.profile_status(&token).await, StatusCode::OK);
}
