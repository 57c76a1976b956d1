//! The JSON API of docs/contract/2-accounts.md, 3-json-api.md and 6-operations.md, through `auth_http::routes`
//! with `warp::test::request()`: no socket, one temporary SQLite database per
//! test. Every response goes through `TestApp::send`, which also checks
//! `X-Content-Type-Options: nosniff`, `application/json` and the absence of 500s.

use crate::common;

use std::collections::BTreeSet;
use std::time::Duration;

use auth_core::Config;
use auth_http::RateLimit;
use auth_http::{HttpConfig, ResetDelivery, MAX_BODY_BYTES};
use common::*;
use serde_json::{json as j, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use warp::http::{HeaderValue, StatusCode};

// ----- GET / and /healthz -----

#[tokio::test]
async fn index_welcomes_scripts_and_sends_browsers_to_me() {
    let app = TestApp::new().await;

    let res = app.send(get("/")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json(), j!({"message": "Bienvenue"}));

    for accept in [
        "application/json",
        "*/*",
        "text/html;q=0.5, application/json",
    ] {
        let res = app.send(get("/").header("accept", accept)).await;
        assert_eq!(res.status, StatusCode::OK, "Accept: {accept}");
        assert_eq!(res.json(), j!({"message": "Bienvenue"}));
    }

    let res = app.send(get("/").header("accept", BROWSER_ACCEPT)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some("/me"));
}

#[tokio::test]
async fn healthz_says_ok() {
    let app = TestApp::new().await;
    let res = app.send(get("/healthz")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json(), j!({"status": "ok"}));
}

// ----- POST /users -----

#[tokio::test]
async fn register_with_a_form_body_answers_the_email() {
    let app = TestApp::new().await;
    let res = app
        .send(form(
            "POST",
            "/users",
            &[("email", "bob@example.com"), ("password", PASSWORD)],
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(
        res.json(),
        j!({"email": "bob@example.com", "message": "user created"})
    );
}

#[tokio::test]
async fn register_with_a_json_body_answers_the_identifiers_as_given() {
    let app = TestApp::new().await;

    let res = app
        .send(json(
            "POST",
            "/users",
            &j!({"email": "Alice@Example.com", "password": PASSWORD}),
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(
        res.json(),
        j!({"email": "Alice@Example.com", "message": "user created"})
    );

    let res = app
        .send(json(
            "POST",
            "/users",
            &j!({"username": "kvothe", "password": PASSWORD}),
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(
        res.json(),
        j!({"username": "kvothe", "message": "user created"})
    );

    let res = app
        .send(json(
            "POST",
            "/users",
            &j!({
                "username": "denna",
                "email": "denna@example.com",
                "password": PASSWORD,
                "full_name": "Denna",
                "mothers_favorite_search_engine": "DuckDuckGo"
            }),
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(
        res.json(),
        j!({"username": "denna", "email": "denna@example.com", "message": "user created"})
    );

    // A charset parameter on the content type is fine.
    let res = app
        .send(raw(
            "POST",
            "/users",
            "application/json; charset=utf-8",
            j!({"email": "carol@example.com", "password": PASSWORD}).to_string(),
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
}

#[tokio::test]
async fn register_twice_is_already_registered_whatever_the_case() {
    let app = TestApp::new().await;
    app.register("bob@example.com", PASSWORD).await;

    for email in ["bob@example.com", "BOB@Example.COM"] {
        let res = app
            .send(form(
                "POST",
                "/users",
                &[("email", email), ("password", NEW_PASSWORD)],
            ))
            .await;
        let message = res.assert_error(StatusCode::BAD_REQUEST, "already_registered");
        assert_eq!(message, "email already registered");
    }

    app.register_json(
        j!({"username": "kvothe", "email": "kvothe@example.com", "password": PASSWORD}),
    )
    .await;
    let res = app
        .send(json(
            "POST",
            "/users",
            &j!({"username": "Kvothe", "email": "other@example.com", "password": PASSWORD}),
        ))
        .await;
    assert_eq!(
        res.assert_error(StatusCode::BAD_REQUEST, "already_registered"),
        "username already registered"
    );

    // Both taken: the username is checked first.
    let res = app
        .send(json(
            "POST",
            "/users",
            &j!({"username": "kvothe", "email": "kvothe@example.com", "password": PASSWORD}),
        ))
        .await;
    assert_eq!(
        res.assert_error(StatusCode::BAD_REQUEST, "already_registered"),
        "username already registered"
    );

    // The e-mail of one account used with a new username.
    let res = app
        .send(json(
            "POST",
            "/users",
            &j!({"username": "newname", "email": "kvothe@example.com", "password": PASSWORD}),
        ))
        .await;
    assert_eq!(
        res.assert_error(StatusCode::BAD_REQUEST, "already_registered"),
        "email already registered"
    );
}

#[tokio::test]
async fn register_applies_every_password_rule() {
    let app = TestApp::new().await;
    let too_long = "a".repeat(1025);
    let cases: Vec<(Value, &str)> = vec![
        (
            j!({"email": "p1@example.com", "password": ""}),
            "password_empty",
        ),
        (
            j!({"email": "p2@example.com", "password": "short"}),
            "password_too_short",
        ),
        (
            j!({"email": "p3@example.com", "password": "qazwsxedcrfvtgb"}),
            "password_too_common",
        ),
        (
            j!({"email": "p4@example.com", "password": too_long}),
            "password_too_long",
        ),
        (
            j!({"email": "p5@example.com", "password": "tangerine\u{0000}rocket harbor"}),
            "password_invalid_characters",
        ),
        (
            j!({"email": "p6@example.com", "password": "tangerine\nrocket harbor"}),
            "password_invalid_characters",
        ),
        (
            j!({"email": "longaddress@example.com", "password": "LongAddress@Example.com"}),
            "password_matches_identifier",
        ),
        (
            j!({"username": "kvothe-the-arcane", "password": "kvothe-the-arcane"}),
            "password_matches_identifier",
        ),
    ];
    for (body, code) in &cases {
        let res = app.send(json("POST", "/users", body)).await;
        res.assert_error(StatusCode::BAD_REQUEST, code);
    }

    // The form body gets the same answers; `password=` is the empty password.
    let res = app
        .send(form(
            "POST",
            "/users",
            &[("email", "f1@example.com"), ("password", "")],
        ))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "password_empty");
    let res = app
        .send(raw(
            "POST",
            "/users",
            "application/x-www-form-urlencoded",
            "email=f2@example.com&password=",
        ))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "password_empty");
    let res = app
        .send(form(
            "POST",
            "/users",
            &[("email", "f3@example.com"), ("password", "qazwsxedcrfvtgb")],
        ))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "password_too_common");

    // A rejected password creates nothing: the same names register afterwards.
    app.register("p1@example.com", PASSWORD).await;
    app.register_json(j!({"username": "kvothe-the-arcane", "password": PASSWORD}))
        .await;
}

#[tokio::test]
async fn the_string_null_is_a_password_and_json_null_is_not() {
    let app = TestApp::new().await;

    let res = app
        .send(form(
            "POST",
            "/users",
            &[("email", "n1@example.com"), ("password", "null")],
        ))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "password_too_short");
    let res = app
        .send(json(
            "POST",
            "/users",
            &j!({"email": "n2@example.com", "password": "null"}),
        ))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "password_too_short");

    let res = app
        .send(json(
            "POST",
            "/users",
            &j!({"email": "n3@example.com", "password": null}),
        ))
        .await;
    let message = res.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    assert!(
        message.contains("password"),
        "the message names the field: {message}"
    );

    let res = app
        .send(json(
            "POST",
            "/users",
            &j!({"email": null, "password": PASSWORD}),
        ))
        .await;
    let message = res.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    assert!(
        message.contains("email"),
        "the message names the field: {message}"
    );
}

#[tokio::test]
async fn the_string_null_is_judged_by_the_rules_at_a_small_minimum() {
    let config = Config {
        password_min_length: 4,
        ..core_config()
    };
    let app = TestApp::with(config, http_config()).await;
    // Long enough at 4, and on the blocklist.
    let res = app
        .send(form(
            "POST",
            "/users",
            &[("email", "n@example.com"), ("password", "null")],
        ))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "password_too_common");
    let res = app
        .send(json(
            "POST",
            "/users",
            &j!({"email": "n@example.com", "password": "null"}),
        ))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "password_too_common");
}

#[tokio::test]
async fn register_reports_missing_and_invalid_fields() {
    let app = TestApp::new().await;

    let res = app
        .send(form("POST", "/users", &[("email", "bob@example.com")]))
        .await;
    let message = res.assert_error(StatusCode::BAD_REQUEST, "missing_field");
    assert!(message.contains("password"), "{message}");

    let res = app
        .send(form("POST", "/users", &[("password", PASSWORD)]))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "missing_field");
    let res = app
        .send(form(
            "POST",
            "/users",
            &[("username", ""), ("email", ""), ("password", PASSWORD)],
        ))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "missing_field");
    let res = app.send(json("POST", "/users", &j!({}))).await;
    res.assert_error(StatusCode::BAD_REQUEST, "missing_field");

    for username in ["bad name!", "ünïcode", "semi;colon", &"x".repeat(65)] {
        let res = app
            .send(json(
                "POST",
                "/users",
                &j!({"username": username, "password": PASSWORD}),
            ))
            .await;
        res.assert_error(StatusCode::BAD_REQUEST, "invalid_username");
    }
    for email in [
        "no-at-sign",
        "a@b@c",
        "@example.com",
        "bob@",
        "bo b@example.com",
    ] {
        let res = app
            .send(json(
                "POST",
                "/users",
                &j!({"email": email, "password": PASSWORD}),
            ))
            .await;
        res.assert_error(StatusCode::BAD_REQUEST, "invalid_email");
    }

    let wrong_types: Vec<(Value, &str)> = vec![
        (j!({"email": 5, "password": PASSWORD}), "email"),
        (
            j!({"email": "t@example.com", "password": 123456789012345678u64}),
            "password",
        ),
        (
            j!({"username": ["kvothe"], "password": PASSWORD}),
            "username",
        ),
        (
            j!({"email": "t@example.com", "password": PASSWORD, "full_name": true}),
            "full_name",
        ),
        (
            j!({"email": "t@example.com", "password": PASSWORD, "mothers_favorite_search_engine": {}}),
            "mothers_favorite_search_engine",
        ),
        (
            j!({"email": "t@example.com", "password": PASSWORD, "full_name": null}),
            "full_name",
        ),
    ];
    for (body, field) in &wrong_types {
        let res = app.send(json("POST", "/users", body)).await;
        let message = res.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
        assert!(
            message.contains(field),
            "{body}: the message names {field}: {message}"
        );
    }

    let res = app
        .send(json(
            "POST",
            "/users",
            &j!({"email": "t@example.com", "password": PASSWORD, "full_name": "x".repeat(201)}),
        ))
        .await;
    let message = res.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    assert!(message.contains("full_name"), "{message}");
    let res = app
        .send(json(
            "POST",
            "/users",
            &j!({"email": "t@example.com", "password": PASSWORD, "mothers_favorite_search_engine": "x".repeat(101)}),
        ))
        .await;
    let message = res.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    assert!(
        message.contains("mothers_favorite_search_engine"),
        "{message}"
    );

    // None of these made an account.
    app.register("t@example.com", PASSWORD).await;
}

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
    let res = app.send(json("POST", "/users", &huge)).await;
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

// ----- POST /sessions -----

#[tokio::test]
async fn login_answers_the_identifiers_and_sets_the_session_cookie() {
    let app = TestApp::new().await;
    app.register("bob@example.com", PASSWORD).await;

    let res = app
        .send(form(
            "POST",
            "/sessions",
            &[("email", "bob@example.com"), ("password", PASSWORD)],
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(
        res.json(),
        j!({"email": "bob@example.com", "message": "logged in"})
    );

    let set_cookie = res.set_cookie();
    let token = res.session_cookie();
    assert_eq!(token.len(), 43, "{set_cookie}");
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "base64url: {set_cookie}"
    );
    let attributes = cookie_attributes(&set_cookie);
    for wanted in [
        "Path=/",
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Max-Age=86400",
    ] {
        assert!(
            attributes.iter().any(|a| a == wanted),
            "{wanted} missing from {set_cookie}"
        );
    }
    assert_eq!(app.profile_status(&token).await, StatusCode::OK);

    // The e-mail in another case logs in to the same account, which is
    // answered with the e-mail as registered; JSON works as well as a form.
    let res = app
        .send(json(
            "POST",
            "/sessions",
            &j!({"email": "BOB@example.com", "password": PASSWORD}),
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(
        res.json(),
        j!({"email": "bob@example.com", "message": "logged in"})
    );
    assert_ne!(res.session_cookie(), token);
}

#[tokio::test]
async fn login_by_username() {
    let app = TestApp::new().await;
    app.register_json(j!({"username": "kvothe", "password": PASSWORD}))
        .await;
    let res = app
        .send(form(
            "POST",
            "/sessions",
            &[("username", "kvothe"), ("password", PASSWORD)],
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(
        res.json(),
        j!({"username": "kvothe", "message": "logged in"})
    );
    let token = res.session_cookie();
    assert_eq!(app.profile_status(&token).await, StatusCode::OK);
}

#[tokio::test]
async fn the_cookie_max_age_is_the_session_max_age() {
    let config = Config {
        session_max_age: Duration::from_secs(2 * 60 * 60),
        ..core_config()
    };
    let app = TestApp::with(config, http_config()).await;
    app.register("bob@example.com", PASSWORD).await;
    let res = app
        .send(form(
            "POST",
            "/sessions",
            &[("email", "bob@example.com"), ("password", PASSWORD)],
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let set_cookie = res.set_cookie();
    assert!(
        cookie_attributes(&set_cookie)
            .iter()
            .any(|a| a == "Max-Age=7200"),
        "{set_cookie}"
    );
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_account_get_the_same_401() {
    let app = TestApp::new().await;
    app.register("bob@example.com", PASSWORD).await;

    let wrong_password = app
        .send(form(
            "POST",
            "/sessions",
            &[("email", "bob@example.com"), ("password", NEW_PASSWORD)],
        ))
        .await;
    wrong_password.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert!(wrong_password.headers.get("set-cookie").is_none());

    let unknown = app
        .send(form(
            "POST",
            "/sessions",
            &[("email", "nobody@example.com"), ("password", PASSWORD)],
        ))
        .await;
    unknown.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_eq!(wrong_password.body, unknown.body);
    assert!(unknown.headers.get("set-cookie").is_none());

    // A well-formed login that is wrong in any way is the one 401: an empty
    // password, a name that could never be registered.
    let empty = app
        .send(form(
            "POST",
            "/sessions",
            &[("email", "bob@example.com"), ("password", "")],
        ))
        .await;
    assert_eq!(empty.status, StatusCode::UNAUTHORIZED);
    assert_eq!(empty.body, unknown.body);
    let odd = app
        .send(form(
            "POST",
            "/sessions",
            &[("username", "no such user!"), ("password", PASSWORD)],
        ))
        .await;
    assert_eq!(odd.status, StatusCode::UNAUTHORIZED);
    assert_eq!(odd.body, unknown.body);
}

#[tokio::test]
async fn a_malformed_login_is_400() {
    let app = TestApp::new().await;
    app.register("bob@example.com", PASSWORD).await;

    let res = app
        .send(form("POST", "/sessions", &[("email", "bob@example.com")]))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "missing_field");
    let res = app
        .send(form("POST", "/sessions", &[("password", PASSWORD)]))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "missing_field");
    let res = app.send(json("POST", "/sessions", &j!({}))).await;
    res.assert_error(StatusCode::BAD_REQUEST, "missing_field");
    let res = app
        .send(json(
            "POST",
            "/sessions",
            &j!({"email": "bob@example.com", "password": null}),
        ))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    let res = app
        .send(json(
            "POST",
            "/sessions",
            &j!({"email": 7, "password": PASSWORD}),
        ))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    let res = app
        .send(raw("POST", "/sessions", "application/json", "{"))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "invalid_body");
    let res = app.send(request("POST", "/sessions")).await;
    res.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");

    // None of those counted as a failed login.
    app.login("bob@example.com", PASSWORD).await;
}

#[tokio::test]
async fn five_failed_logins_then_429_throttled_with_retry_after() {
    let app = TestApp::new().await;
    app.register("bob@example.com", PASSWORD).await;
    let wrong = || {
        form(
            "POST",
            "/sessions",
            &[("email", "bob@example.com"), ("password", NEW_PASSWORD)],
        )
    };

    for attempt in 1..=5 {
        let res = app.send(wrong()).await;
        assert_eq!(
            res.status,
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}: {}",
            res.text()
        );
        res.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    // The clock stands still, so the fifth failure's 1 second delay is running.
    let res = app.send(wrong()).await;
    res.assert_error(StatusCode::TOO_MANY_REQUESTS, "throttled");
    assert_eq!(res.header("retry-after"), Some("1"));

    // Right or wrong, an attempt during the delay is 429 and changes nothing.
    let right = || {
        form(
            "POST",
            "/sessions",
            &[("email", "bob@example.com"), ("password", PASSWORD)],
        )
    };
    let res = app.send(right()).await;
    res.assert_error(StatusCode::TOO_MANY_REQUESTS, "throttled");
    assert_eq!(res.header("retry-after"), Some("1"));
    assert!(res.headers.get("set-cookie").is_none());

    // After the delay the right password gets in.
    app.clock.advance(1);
    let res = app.send(right()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());

    // Unknown accounts are throttled alike.
    let unknown = || {
        form(
            "POST",
            "/sessions",
            &[("email", "ghost@example.com"), ("password", PASSWORD)],
        )
    };
    for _ in 1..=5 {
        app.send(unknown())
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    let res = app.send(unknown()).await;
    res.assert_error(StatusCode::TOO_MANY_REQUESTS, "throttled");
    assert_eq!(res.header("retry-after"), Some("1"));
}

#[tokio::test]
async fn a_login_with_an_old_cookie_issues_a_new_token_and_ends_the_old() {
    let app = TestApp::new().await;
    let old = app.signed_in("bob@example.com").await;
    assert_eq!(app.profile_status(&old).await, StatusCode::OK);

    let res = app
        .send(
            form(
                "POST",
                "/sessions",
                &[("email", "bob@example.com"), ("password", PASSWORD)],
            )
            .header("cookie", cookie(&old)),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let new = res.session_cookie();
    assert_ne!(new, old);
    assert_eq!(app.profile_status(&old).await, StatusCode::FORBIDDEN);
    assert_eq!(app.profile_status(&new).await, StatusCode::OK);
}

#[tokio::test]
async fn a_failed_login_with_a_cookie_leaves_that_session_alone() {
    let app = TestApp::new().await;
    let token = app.signed_in("bob@example.com").await;
    let res = app
        .send(
            form(
                "POST",
                "/sessions",
                &[("email", "bob@example.com"), ("password", NEW_PASSWORD)],
            )
            .header("cookie", cookie(&token)),
        )
        .await;
    res.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_eq!(app.profile_status(&token).await, StatusCode::OK);
}

// ----- GET /profile -----

#[tokio::test]
async fn the_profile_of_an_email_only_account_is_exactly_the_email() {
    let app = TestApp::new().await;
    let token = app.signed_in("bob@example.com").await;
    let res = app
        .send(get("/profile").header("cookie", cookie(&token)))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json(), j!({"email": "bob@example.com"}));
}

#[tokio::test]
async fn the_profile_shows_the_fields_that_are_set_trimmed() {
    let app = TestApp::new().await;
    app.register_json(j!({
        "username": "kvothe",
        "email": "kvothe@example.com",
        "password": PASSWORD,
        "full_name": "  Kvothe the Arcane ",
        "mothers_favorite_search_engine": " DuckDuckGo  "
    }))
    .await;
    let res = app
        .send(form(
            "POST",
            "/sessions",
            &[("username", "kvothe"), ("password", PASSWORD)],
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let token = res.session_cookie();
    let res = app
        .send(get("/profile").header("cookie", cookie(&token)))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(
        res.json(),
        j!({
            "username": "kvothe",
            "email": "kvothe@example.com",
            "full_name": "Kvothe the Arcane",
            "mothers_favorite_search_engine": "DuckDuckGo"
        })
    );

    // A username-only account with one profile field, the other all spaces (unset).
    app.register_json(j!({
        "username": "denna",
        "password": PASSWORD,
        "full_name": "   ",
        "mothers_favorite_search_engine": "Kagi"
    }))
    .await;
    let res = app
        .send(form(
            "POST",
            "/sessions",
            &[("username", "denna"), ("password", PASSWORD)],
        ))
        .await;
    let token = res.session_cookie();
    let res = app
        .send(get("/profile").header("cookie", cookie(&token)))
        .await;
    assert_eq!(
        res.json(),
        j!({"username": "denna", "mothers_favorite_search_engine": "Kagi"})
    );
}

#[tokio::test]
async fn the_profile_needs_a_live_session() {
    let app = TestApp::new().await;
    let token = app.signed_in("bob@example.com").await;

    let res = app.send(get("/profile")).await;
    res.assert_error(StatusCode::FORBIDDEN, "not_authenticated");

    let plausible = "A".repeat(43);
    for value in [
        "session_id=garbage".to_owned(),
        "session_id=".to_owned(),
        cookie(&plausible),
        format!("other={token}"),
        format!("session_id={}x", token),
    ] {
        let res = app
            .send(get("/profile").header("cookie", value.as_str()))
            .await;
        res.assert_error(StatusCode::FORBIDDEN, "not_authenticated");
    }

    // Among other cookies, the session cookie is found.
    let res = app
        .send(get("/profile").header("cookie", format!("theme=dark; session_id={token}; lang=en")))
        .await;
    assert_eq!(res.status, StatusCode::OK);
}

// ----- DELETE /sessions -----

#[tokio::test]
async fn logout_ends_the_session_clears_the_cookie_and_redirects_to_root() {
    let app = TestApp::new().await;
    let token = app.signed_in("bob@example.com").await;

    let res = app
        .send(request("DELETE", "/sessions").header("cookie", cookie(&token)))
        .await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.text());
    assert_eq!(res.header("location"), Some("/"));
    let set_cookie = res.set_cookie();
    assert!(set_cookie.starts_with("session_id=;"), "{set_cookie}");
    let attributes = cookie_attributes(&set_cookie);
    assert!(attributes.iter().any(|a| a == "Max-Age=0"), "{set_cookie}");
    assert!(attributes.iter().any(|a| a == "Path=/"), "{set_cookie}");

    assert_eq!(app.profile_status(&token).await, StatusCode::FORBIDDEN);
    let res = app
        .send(request("DELETE", "/sessions").header("cookie", cookie(&token)))
        .await;
    res.assert_error(StatusCode::FORBIDDEN, "not_authenticated");
}

#[tokio::test]
async fn logout_without_a_session_is_403() {
    let app = TestApp::new().await;
    let res = app.send(request("DELETE", "/sessions")).await;
    res.assert_error(StatusCode::FORBIDDEN, "not_authenticated");
    let res = app
        .send(request("DELETE", "/sessions").header("cookie", "session_id=nonsense"))
        .await;
    res.assert_error(StatusCode::FORBIDDEN, "not_authenticated");
}

#[tokio::test]
async fn logout_ends_only_its_own_session() {
    let app = TestApp::new().await;
    let first = app.signed_in("bob@example.com").await;
    let second = app.login("bob@example.com", PASSWORD).await;
    let res = app
        .send(request("DELETE", "/sessions").header("cookie", cookie(&first)))
        .await;
    assert_eq!(res.status, StatusCode::FOUND);
    assert_eq!(app.profile_status(&first).await, StatusCode::FORBIDDEN);
    assert_eq!(app.profile_status(&second).await, StatusCode::OK);
}

// ----- /reset_password -----

async fn request_reset_token(app: &TestApp, email: &str) -> String {
    let res = app
        .send(form("POST", "/reset_password", &[("email", email)]))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let body = res.json();
    let object = body.as_object().expect("an object");
    assert_eq!(object.len(), 2, "{body}");
    assert_eq!(object["email"], Value::String(email.into()));
    let token = object["reset_token"]
        .as_str()
        .expect("a reset token")
        .to_owned();
    assert_eq!(token.len(), 43, "{token}");
    token
}

fn reset(email: &str, token: &str, new_password: &str) -> warp::test::RequestBuilder {
    form(
        "PUT",
        "/reset_password",
        &[
            ("email", email),
            ("reset_token", token),
            ("new_password", new_password),
        ],
    )
}

#[tokio::test]
async fn a_reset_token_in_the_response_sets_a_new_password_once() {
    let app = TestApp::new().await;
    let session = app.signed_in("bob@example.com").await;
    let token = request_reset_token(&app, "bob@example.com").await;

    // A password that breaks a rule: 400 with its code, and the token stays usable.
    let res = app.send(reset("bob@example.com", &token, "short")).await;
    res.assert_error(StatusCode::BAD_REQUEST, "password_too_short");
    let res = app
        .send(reset("bob@example.com", &token, "qazwsxedcrfvtgb"))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "password_too_common");
    let res = app.send(reset("bob@example.com", &token, "")).await;
    res.assert_error(StatusCode::BAD_REQUEST, "password_empty");
    assert_eq!(app.profile_status(&session).await, StatusCode::OK);

    let res = app
        .send(reset("bob@example.com", &token, NEW_PASSWORD))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(
        res.json(),
        j!({"email": "bob@example.com", "message": "Password updated"})
    );

    // Used once.
    let res = app
        .send(reset(
            "bob@example.com",
            &token,
            "yet another long password",
        ))
        .await;
    res.assert_error(StatusCode::FORBIDDEN, "invalid_reset_token");

    // The old password is dead, the new one works, the old session ended.
    let res = app
        .send(form(
            "POST",
            "/sessions",
            &[("email", "bob@example.com"), ("password", PASSWORD)],
        ))
        .await;
    res.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    app.login("bob@example.com", NEW_PASSWORD).await;
    assert_eq!(app.profile_status(&session).await, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn reset_tokens_are_refused_when_wrong_replaced_or_someone_elses() {
    let app = TestApp::new().await;
    app.register("bob@example.com", PASSWORD).await;
    app.register("eve@example.com", PASSWORD).await;

    let first = request_reset_token(&app, "bob@example.com").await;
    let second = request_reset_token(&app, "bob@example.com").await;
    assert_ne!(first, second);
    let eves = request_reset_token(&app, "eve@example.com").await;

    for bad in [
        first.as_str(),
        eves.as_str(),
        "garbage",
        "",
        &"A".repeat(43),
    ] {
        let res = app.send(reset("bob@example.com", bad, NEW_PASSWORD)).await;
        res.assert_error(StatusCode::FORBIDDEN, "invalid_reset_token");
    }
    // A token for an account that does not exist.
    let res = app
        .send(reset("ghost@example.com", &second, NEW_PASSWORD))
        .await;
    res.assert_error(StatusCode::FORBIDDEN, "invalid_reset_token");

    // The latest token still works, and Eve's still works for Eve.
    let res = app
        .send(reset("bob@example.com", &second, NEW_PASSWORD))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = app
        .send(reset("eve@example.com", &eves, NEW_PASSWORD))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
}

#[tokio::test]
async fn reset_requests_with_missing_fields_are_400() {
    let app = TestApp::new().await;
    app.register("bob@example.com", PASSWORD).await;
    let token = request_reset_token(&app, "bob@example.com").await;

    let res = app.send(form("POST", "/reset_password", &[])).await;
    res.assert_error(StatusCode::BAD_REQUEST, "missing_field");
    let res = app
        .send(json("POST", "/reset_password", &j!({"email": null})))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    let res = app
        .send(form(
            "PUT",
            "/reset_password",
            &[("email", "bob@example.com"), ("new_password", NEW_PASSWORD)],
        ))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "missing_field");
    let res = app
        .send(form(
            "PUT",
            "/reset_password",
            &[("email", "bob@example.com"), ("reset_token", &token)],
        ))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "missing_field");
    let res = app
        .send(form(
            "PUT",
            "/reset_password",
            &[("reset_token", &token), ("new_password", NEW_PASSWORD)],
        ))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "missing_field");
    let res = app.send(request("PUT", "/reset_password")).await;
    res.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");

    // The token survived all of that.
    let res = app
        .send(reset("bob@example.com", &token, NEW_PASSWORD))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
}

#[tokio::test]
async fn a_reset_for_an_unknown_account_is_403() {
    let app = TestApp::new().await;
    app.register("bob@example.com", PASSWORD).await;
    let res = app
        .send(form(
            "POST",
            "/reset_password",
            &[("email", "ghost@example.com")],
        ))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text());
    let body = res.json();
    assert!(
        body["error"].is_string() && body["message"].is_string(),
        "{body}"
    );
    assert_eq!(body.as_object().map(|o| o.len()), Some(2), "{body}");
}

#[tokio::test]
async fn with_log_delivery_the_token_is_not_in_the_response() {
    let http = HttpConfig {
        reset_delivery: ResetDelivery::Log,
        ..http_config()
    };
    let app = TestApp::with(core_config(), http).await;
    app.register("bob@example.com", PASSWORD).await;
    let res = app
        .send(form(
            "POST",
            "/reset_password",
            &[("email", "bob@example.com")],
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(
        res.json(),
        j!({"email": "bob@example.com", "message": "reset token sent"})
    );
    assert!(!res.text().contains("reset_token"));

    let res = app
        .send(form(
            "POST",
            "/reset_password",
            &[("email", "ghost@example.com")],
        ))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_reset_by_username_answers_the_username() {
    let app = TestApp::new().await;
    app.register_json(j!({"username": "kvothe", "password": PASSWORD}))
        .await;
    let res = app
        .send(json("POST", "/reset_password", &j!({"username": "kvothe"})))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let token = res.json()["reset_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    assert_eq!(res.json()["username"], "kvothe");
    let res = app
        .send(json(
            "PUT",
            "/reset_password",
            &j!({"username": "kvothe", "reset_token": token, "new_password": NEW_PASSWORD}),
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(
        res.json(),
        j!({"username": "kvothe", "message": "Password updated"})
    );
}

#[tokio::test]
async fn a_reset_clears_the_login_throttle() {
    let app = TestApp::new().await;
    app.register("bob@example.com", PASSWORD).await;
    for _ in 1..=5 {
        let res = app
            .send(form(
                "POST",
                "/sessions",
                &[("email", "bob@example.com"), ("password", NEW_PASSWORD)],
            ))
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    let token = request_reset_token(&app, "bob@example.com").await;
    let res = app
        .send(reset("bob@example.com", &token, NEW_PASSWORD))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    // Without moving the clock: the delay was cleared with the count.
    app.login("bob@example.com", NEW_PASSWORD).await;
}

// ----- POST /password -----

fn change(token: Option<&str>, current: &str, new: &str) -> warp::test::RequestBuilder {
    let request = form(
        "POST",
        "/password",
        &[("current_password", current), ("new_password", new)],
    );
    match token {
        Some(token) => request.header("cookie", cookie(token)),
        None => request,
    }
}

#[tokio::test]
async fn change_password_needs_a_session_and_the_current_password() {
    let app = TestApp::new().await;
    let token = app.signed_in("bob@example.com").await;

    let res = app.send(change(None, PASSWORD, NEW_PASSWORD)).await;
    res.assert_error(StatusCode::FORBIDDEN, "not_authenticated");
    let res = app
        .send(change(Some("garbage"), PASSWORD, NEW_PASSWORD))
        .await;
    res.assert_error(StatusCode::FORBIDDEN, "not_authenticated");

    let res = app
        .send(change(Some(&token), "not the right password", NEW_PASSWORD))
        .await;
    res.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert!(res.headers.get("set-cookie").is_none());

    let res = app.send(change(Some(&token), PASSWORD, "short")).await;
    res.assert_error(StatusCode::BAD_REQUEST, "password_too_short");
    let res = app.send(change(Some(&token), PASSWORD, "")).await;
    res.assert_error(StatusCode::BAD_REQUEST, "password_empty");
    let res = app
        .send(change(Some(&token), PASSWORD, "qazwsxedcrfvtgb"))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "password_too_common");
    let res = app
        .send(change(Some(&token), PASSWORD, "bob@example.com"))
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "password_matches_identifier");

    let res = app
        .send(
            form("POST", "/password", &[("current_password", PASSWORD)])
                .header("cookie", cookie(&token)),
        )
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "missing_field");
    let res = app
        .send(
            form("POST", "/password", &[("new_password", NEW_PASSWORD)])
                .header("cookie", cookie(&token)),
        )
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "missing_field");
    let res = app
        .send(
            json(
                "POST",
                "/password",
                &j!({"current_password": PASSWORD, "new_password": null}),
            )
            .header("cookie", cookie(&token)),
        )
        .await;
    res.assert_error(StatusCode::BAD_REQUEST, "invalid_field");

    // Nothing changed: the session and the password still work.
    assert_eq!(app.profile_status(&token).await, StatusCode::OK);
    app.login("bob@example.com", PASSWORD).await;
}

#[tokio::test]
async fn change_password_issues_a_new_cookie_and_ends_every_other_session() {
    let app = TestApp::new().await;
    let token = app.signed_in("bob@example.com").await;
    let other = app.login("bob@example.com", PASSWORD).await;

    let res = app.send(change(Some(&token), PASSWORD, NEW_PASSWORD)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json(), j!({"message": "Password changed"}));
    let set_cookie = res.set_cookie();
    let new = res.session_cookie();
    assert_eq!(new.len(), 43);
    assert_ne!(new, token);
    let attributes = cookie_attributes(&set_cookie);
    for wanted in [
        "Path=/",
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Max-Age=86400",
    ] {
        assert!(
            attributes.iter().any(|a| a == wanted),
            "{wanted} missing from {set_cookie}"
        );
    }

    assert_eq!(app.profile_status(&token).await, StatusCode::FORBIDDEN);
    assert_eq!(app.profile_status(&other).await, StatusCode::FORBIDDEN);
    assert_eq!(app.profile_status(&new).await, StatusCode::OK);

    let res = app
        .send(form(
            "POST",
            "/sessions",
            &[("email", "bob@example.com"), ("password", PASSWORD)],
        ))
        .await;
    res.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    app.login("bob@example.com", NEW_PASSWORD).await;
}

#[tokio::test]
async fn change_password_voids_an_earlier_reset_token() {
    let app = TestApp::new().await;
    let session = app.signed_in("bob@example.com").await;
    let reset_token = request_reset_token(&app, "bob@example.com").await;
    let res = app
        .send(change(Some(&session), PASSWORD, NEW_PASSWORD))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let res = app
        .send(reset(
            "bob@example.com",
            &reset_token,
            "yet another long password",
        ))
        .await;
    res.assert_error(StatusCode::FORBIDDEN, "invalid_reset_token");
}

// ----- GET /sessions and DELETE /sessions/{id} -----

fn parse_time(value: &Value) -> OffsetDateTime {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("a time string: {value}"));
    assert!(
        text.ends_with('Z') || text.ends_with("+00:00"),
        "RFC 3339 UTC: {text}"
    );
    let time =
        OffsetDateTime::parse(text, &Rfc3339).unwrap_or_else(|e| panic!("RFC 3339 ({e}): {text}"));
    assert!(time.offset().is_utc(), "{text}");
    time
}

async fn list_sessions(app: &TestApp, token: &str) -> Vec<Value> {
    let res = app
        .send(get("/sessions").header("cookie", cookie(token)))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    match res.json() {
        Value::Array(items) => items,
        other => panic!("not an array: {other}"),
    }
}

#[tokio::test]
async fn sessions_are_listed_with_times_and_the_current_one_marked() {
    let app = TestApp::new().await;
    app.register("bob@example.com", PASSWORD).await;
    let login_as = |agent: &'static str| {
        form(
            "POST",
            "/sessions",
            &[("email", "bob@example.com"), ("password", PASSWORD)],
        )
        .header("user-agent", agent)
    };
    let res = app.send(login_as("agent-one/1.0")).await;
    assert_eq!(res.status, StatusCode::OK);
    let first = res.session_cookie();
    let res = app.send(login_as("agent-two/2.0")).await;
    assert_eq!(res.status, StatusCode::OK);
    let second = res.session_cookie();

    let sessions = list_sessions(&app, &first).await;
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let wanted_keys: BTreeSet<&str> = [
        "id",
        "created_at",
        "last_seen_at",
        "expires_at",
        "user_agent",
        "current",
    ]
    .into_iter()
    .collect();
    for session in &sessions {
        let object = session.as_object().expect("an object");
        let keys: BTreeSet<&str> = object.keys().map(String::as_str).collect();
        assert_eq!(keys, wanted_keys, "{session}");
        assert!(
            object["id"]
                .as_str()
                .is_some_and(|id| uuid::Uuid::parse_str(id).is_ok()),
            "{session}"
        );
        assert!(object["current"].is_boolean(), "{session}");
        assert!(object["user_agent"].is_string(), "{session}");
        let created = parse_time(&object["created_at"]);
        let last_seen = parse_time(&object["last_seen_at"]);
        let expires = parse_time(&object["expires_at"]);
        assert!(created <= last_seen, "{session}");
        assert!(last_seen < expires, "{session}");
        let now = OffsetDateTime::now_utc();
        assert!(
            (created - now).whole_seconds().abs() < 300,
            "created about now: {session}"
        );
    }
    let current: Vec<&Value> = sessions
        .iter()
        .filter(|s| s["current"] == Value::Bool(true))
        .collect();
    assert_eq!(current.len(), 1, "{sessions:?}");
    assert_eq!(current[0]["user_agent"], "agent-one/1.0");
    let other = sessions
        .iter()
        .find(|s| s["current"] == Value::Bool(false))
        .expect("the other session");
    assert_eq!(other["user_agent"], "agent-two/2.0");

    // From the other session's side, the marks swap.
    let seen_by_second = list_sessions(&app, &second).await;
    let current: Vec<&Value> = seen_by_second
        .iter()
        .filter(|s| s["current"] == true)
        .collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], other["id"]);
}

#[tokio::test]
async fn a_login_without_user_agent_lists_null_or_a_string() {
    let app = TestApp::new().await;
    let token = app.signed_in("bob@example.com").await;
    let sessions = list_sessions(&app, &token).await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["current"], true);
    assert!(sessions[0]["user_agent"].is_null() || sessions[0]["user_agent"].is_string());
}

#[tokio::test]
async fn ending_another_session_by_id() {
    let app = TestApp::new().await;
    let mine = app.signed_in("bob@example.com").await;
    let other = app.login("bob@example.com", PASSWORD).await;
    let sessions = list_sessions(&app, &mine).await;
    let other_id = sessions
        .iter()
        .find(|s| s["current"] == false)
        .and_then(|s| s["id"].as_str())
        .expect("the other session's id")
        .to_owned();

    let path = format!("/sessions/{other_id}");
    let res = app
        .send(request("DELETE", &path).header("cookie", cookie(&mine)))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text());
    assert!(res.body.is_empty());

    assert_eq!(app.profile_status(&other).await, StatusCode::FORBIDDEN);
    assert_eq!(app.profile_status(&mine).await, StatusCode::OK);
    let sessions = list_sessions(&app, &mine).await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["current"], true);

    // Gone: a second time it is 404.
    let res = app
        .send(request("DELETE", &path).header("cookie", cookie(&mine)))
        .await;
    res.assert_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn ending_a_session_that_is_not_yours_is_404() {
    let app = TestApp::new().await;
    let mine = app.signed_in("bob@example.com").await;
    let eves = app.signed_in("eve@example.com").await;
    let eves_id = list_sessions(&app, &eves).await[0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();

    for id in [
        eves_id.clone(),
        uuid::Uuid::new_v4().to_string(),
        "not-a-uuid".to_owned(),
        "1".to_owned(),
    ] {
        let res = app
            .send(request("DELETE", &format!("/sessions/{id}")).header("cookie", cookie(&mine)))
            .await;
        res.assert_error(StatusCode::NOT_FOUND, "not_found");
    }
    assert_eq!(app.profile_status(&eves).await, StatusCode::OK);
}

#[tokio::test]
async fn ending_your_own_current_session_by_id() {
    let app = TestApp::new().await;
    let mine = app.signed_in("bob@example.com").await;
    let id = list_sessions(&app, &mine).await[0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let res = app
        .send(request("DELETE", &format!("/sessions/{id}")).header("cookie", cookie(&mine)))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(app.profile_status(&mine).await, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_session_routes_need_a_session() {
    let app = TestApp::new().await;
    let token = app.signed_in("bob@example.com").await;
    let id = list_sessions(&app, &token).await[0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();

    let res = app.send(get("/sessions")).await;
    res.assert_error(StatusCode::FORBIDDEN, "not_authenticated");
    let res = app
        .send(get("/sessions").header("cookie", "session_id=garbage"))
        .await;
    res.assert_error(StatusCode::FORBIDDEN, "not_authenticated");
    let res = app
        .send(request("DELETE", &format!("/sessions/{id}")))
        .await;
    res.assert_error(StatusCode::FORBIDDEN, "not_authenticated");
    let res = app
        .send(request(
            "DELETE",
            &format!("/sessions/{}", uuid::Uuid::new_v4()),
        ))
        .await;
    res.assert_error(StatusCode::FORBIDDEN, "not_authenticated");
    // The session survived.
    assert_eq!(app.profile_status(&token).await, StatusCode::OK);
}

// ----- 404 and 405 -----

#[tokio::test]
async fn unknown_paths_are_404_json() {
    let app = TestApp::new().await;
    for (method, path) in [
        ("GET", "/nope"),
        ("POST", "/nope"),
        ("GET", "/users/1"),
        ("GET", "/sessions/a/b"),
        ("DELETE", "/sessions/a/b"),
        ("GET", "/profile/extra"),
        ("GET", "/index.html"),
        ("PUT", "/healthz/x"),
    ] {
        let res = app.send(request(method, path)).await;
        res.assert_error(StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn known_paths_with_the_wrong_method_are_405_with_allow() {
    let app = TestApp::new().await;
    let id = uuid::Uuid::new_v4();
    let session_path = format!("/sessions/{id}");
    let cases: Vec<(&str, &str, &[&str])> = vec![
        ("GET", "/users", &["POST"]),
        ("DELETE", "/users", &["POST"]),
        ("PATCH", "/sessions", &["GET", "POST", "DELETE"]),
        ("PUT", "/sessions", &["GET", "POST", "DELETE"]),
        ("PUT", "/profile", &["GET"]),
        ("POST", "/profile", &["GET"]),
        ("GET", "/reset_password", &["POST", "PUT"]),
        ("DELETE", "/reset_password", &["POST", "PUT"]),
        ("GET", "/password", &["POST"]),
        ("POST", "/", &["GET"]),
        ("DELETE", "/", &["GET"]),
        ("POST", "/healthz", &["GET"]),
        ("GET", &session_path, &["DELETE"]),
        ("POST", &session_path, &["DELETE"]),
    ];
    for (method, path, allowed) in cases {
        let res = app.send(request(method, path)).await;
        res.assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        let allow = res
            .header("allow")
            .unwrap_or_else(|| panic!("{method} {path}: no Allow header"));
        let got: BTreeSet<&str> = allow.split(',').map(str::trim).collect();
        let wanted: BTreeSet<&str> = allowed.iter().copied().collect();
        assert_eq!(got, wanted, "{method} {path}: Allow: {allow}");
    }
}

// ----- per-address rate limit -----

#[tokio::test]
async fn the_per_address_rate_limit_answers_429_rate_limited() {
    let http = HttpConfig {
        ip_rate_limit: "4/min".parse::<RateLimit>().unwrap(),
        ..http_config()
    };
    let app = TestApp::with(core_config(), http).await;
    let here = "127.0.0.1:40000".parse().unwrap();
    let there = "192.0.2.9:51000".parse().unwrap();
    let sign_up = |n: u32, addr: std::net::SocketAddr| {
        let email = format!("user{n}@example.com");
        form(
            "POST",
            "/users",
            &[("email", email.as_str()), ("password", PASSWORD)],
        )
        .remote_addr(addr)
    };

    // A burst of two (half of 4), then 429.
    for n in 1..=2 {
        let res = app.send(sign_up(n, here)).await;
        assert_eq!(res.status, StatusCode::OK, "request {n}: {}", res.text());
    }
    let res = app.send(sign_up(3, here)).await;
    res.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let retry_after: u64 = res
        .header("retry-after")
        .expect("a Retry-After header")
        .parse()
        .expect("whole seconds");
    assert!(
        (1..=15).contains(&retry_after),
        "Retry-After: {retry_after}"
    );

    // The limit covers the other costly routes from that address too.
    let res = app
        .send(
            form(
                "POST",
                "/sessions",
                &[("email", "user1@example.com"), ("password", PASSWORD)],
            )
            .remote_addr(here),
        )
        .await;
    res.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let res = app
        .send(form("POST", "/reset_password", &[("email", "user1@example.com")]).remote_addr(here))
        .await;
    res.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");

    // Another address has its own allowance.
    let res = app.send(sign_up(4, there)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    // Cheap routes are not limited.
    let res = app.send(get("/healthz").remote_addr(here)).await;
    assert_eq!(res.status, StatusCode::OK);
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
            // answers a browser-looking Accept with a page: see tests/web_account.rs).
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

// ----- inconsistencies found while writing these tests -----

#[tokio::test]
async fn a_path_that_is_served_with_a_trailing_slash_answers_405_for_other_methods() {
    let app = TestApp::new().await;
    let token = app.signed_in("bob@example.com").await;
    let served = [
        get("/profile/").header("cookie", cookie(&token)),
        get("/healthz/"),
        get("/sessions/").header("cookie", cookie(&token)),
    ];
    for req in served {
        let res = app.send(req).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    }
    for (path, wrong_method) in [
        ("/profile/", "PUT"),
        ("/healthz/", "POST"),
        ("/sessions/", "PATCH"),
        ("/users/", "GET"),
    ] {
        let res = app.send(request(wrong_method, path)).await;
        res.assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        assert!(res.header("allow").is_some(), "{wrong_method} {path}");
    }
}

#[tokio::test]
async fn an_empty_identifier_field_is_treated_as_absent_everywhere() {
    let app = TestApp::new().await;
    // Registration: the empty username is ignored and the e-mail is used.
    let res = app
        .send(form(
            "POST",
            "/users",
            &[
                ("username", ""),
                ("email", "bob@example.com"),
                ("password", PASSWORD),
            ],
        ))
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
