//! `POST /users`: sign-up with a form or JSON body, the password rules,
//! missing and invalid fields.

use super::{sign_up_form, sign_up_json};
use crate::common::*;
use auth_core::Config;
use serde_json::{json as j, Value};
use warp::http::StatusCode;

// ----- POST /users -----

#[tokio::test]
async fn register_with_a_form_body_answers_the_email() {
    let app = TestApp::new().await;
    let res = sign_up_form(
        &app,
        &[("email", "bob@example.com"), ("password", PASSWORD)],
    )
    .await;
    res.assert_ok_json(j!({"email": "bob@example.com", "message": "user created"}));
}

#[tokio::test]
async fn register_with_a_json_body_answers_the_identifiers_as_given() {
    let app = TestApp::new().await;

    // Each answer names the identifiers as they were given.
    let cases = [
        (
            j!({"email": "Alice@Example.com", "password": PASSWORD}),
            j!({"email": "Alice@Example.com", "message": "user created"}),
        ),
        (
            j!({"username": "kvothe", "password": PASSWORD}),
            j!({"username": "kvothe", "message": "user created"}),
        ),
        (
            j!({
                "username": "denna",
                "email": "denna@example.com",
                "password": PASSWORD,
                "full_name": "Denna",
                "mothers_favorite_search_engine": "DuckDuckGo"
            }),
            j!({"username": "denna", "email": "denna@example.com", "message": "user created"}),
        ),
    ];
    for (body, answer) in cases {
        sign_up_json(&app, &body).await.assert_ok_json(answer);
    }

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
        let res = sign_up_form(&app, &[("email", email), ("password", NEW_PASSWORD)]).await;
        let message = res.assert_error(StatusCode::BAD_REQUEST, "already_registered");
        assert_eq!(message, "email already registered");
    }

    app.register_json(
        j!({"username": "kvothe", "email": "kvothe@example.com", "password": PASSWORD}),
    )
    .await;
    let taken = [
        // The username in another case.
        (
            j!({"username": "Kvothe", "email": "other@example.com", "password": PASSWORD}),
            "username already registered",
        ),
        // Both taken: the username is checked first.
        (
            j!({"username": "kvothe", "email": "kvothe@example.com", "password": PASSWORD}),
            "username already registered",
        ),
        // The e-mail of one account used with a new username.
        (
            j!({"username": "newname", "email": "kvothe@example.com", "password": PASSWORD}),
            "email already registered",
        ),
    ];
    for (body, message) in taken {
        let res = sign_up_json(&app, &body).await;
        assert_eq!(
            res.assert_error(StatusCode::BAD_REQUEST, "already_registered"),
            message,
            "{body}"
        );
    }
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
    let res = sign_up_form(&app, &[("email", "f1@example.com"), ("password", "")]).await;
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
    let res = sign_up_form(
        &app,
        &[("email", "f3@example.com"), ("password", "qazwsxedcrfvtgb")],
    )
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

    let res = sign_up_form(&app, &[("email", "n1@example.com"), ("password", "null")]).await;
    res.assert_error(StatusCode::BAD_REQUEST, "password_too_short");
    let res = sign_up_json(&app, &j!({"email": "n2@example.com", "password": "null"})).await;
    res.assert_error(StatusCode::BAD_REQUEST, "password_too_short");

    let res = sign_up_json(&app, &j!({"email": "n3@example.com", "password": null})).await;
    let message = res.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    assert!(
        message.contains("password"),
        "the message names the field: {message}"
    );

    let res = sign_up_json(&app, &j!({"email": null, "password": PASSWORD})).await;
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
    let res = sign_up_form(&app, &[("email", "n@example.com"), ("password", "null")]).await;
    res.assert_error(StatusCode::BAD_REQUEST, "password_too_common");
    let res = sign_up_json(&app, &j!({"email": "n@example.com", "password": "null"})).await;
    res.assert_error(StatusCode::BAD_REQUEST, "password_too_common");
}

#[tokio::test]
async fn register_reports_missing_and_invalid_fields() {
    let app = TestApp::new().await;

    let res = sign_up_form(&app, &[("email", "bob@example.com")]).await;
    let message = res.assert_error(StatusCode::BAD_REQUEST, "missing_field");
    assert!(message.contains("password"), "{message}");

    let res = sign_up_form(&app, &[("password", PASSWORD)]).await;
    res.assert_error(StatusCode::BAD_REQUEST, "missing_field");
    let res = sign_up_form(
        &app,
        &[("username", ""), ("email", ""), ("password", PASSWORD)],
    )
    .await;
    res.assert_error(StatusCode::BAD_REQUEST, "missing_field");
    let res = sign_up_json(&app, &j!({})).await;
    res.assert_error(StatusCode::BAD_REQUEST, "missing_field");

    for username in ["bad name!", "ünïcode", "semi;colon", &"x".repeat(65)] {
        let res = sign_up_json(&app, &j!({"username": username, "password": PASSWORD})).await;
        res.assert_error(StatusCode::BAD_REQUEST, "invalid_username");
    }
    for email in [
        "no-at-sign",
        "a@b@c",
        "@example.com",
        "bob@",
        "bo b@example.com",
    ] {
        let res = sign_up_json(&app, &j!({"email": email, "password": PASSWORD})).await;
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

    let res = sign_up_json(
        &app,
        &j!({"email": "t@example.com", "password": PASSWORD, "full_name": "x".repeat(201)}),
    )
    .await;
    let message = res.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    assert!(message.contains("full_name"), "{message}");
    let res = sign_up_json(&app, &j!({"email": "t@example.com", "password": PASSWORD, "mothers_favorite_search_engine": "x".repeat(101)})).await;
    let message = res.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    assert!(
        message.contains("mothers_favorite_search_engine"),
        "{message}"
    );

    // None of these made an account.
    app.register("t@example.com", PASSWORD).await;
}
