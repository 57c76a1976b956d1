//! `/reset_password` (a reset token, then a new password) and `POST /password`
//! (a signed-in change).

use crate::common::*;
use auth_http::{HttpConfig, ResetDelivery};
use serde_json::{json as j, Value};
use warp::http::StatusCode;

use super::assert_session_cookie_attributes;

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
    for (new_password, code) in [
        ("short", "password_too_short"),
        ("qazwsxedcrfvtgb", "password_too_common"),
        ("", "password_empty"),
    ] {
        let res = app
            .send(reset("bob@example.com", &token, new_password))
            .await;
        res.assert_error(StatusCode::BAD_REQUEST, code);
    }
    assert_eq!(app.profile_status(&session).await, StatusCode::OK);

    let res = app
        .send(reset("bob@example.com", &token, NEW_PASSWORD))
        .await;
    res.assert_ok_json(j!({"email": "bob@example.com", "message": "Password updated"}));

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
    let res = app.send(login_form("bob@example.com", PASSWORD)).await;
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
    res.assert_ok_json(j!({"email": "bob@example.com", "message": "reset token sent"}));
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
    res.assert_ok_json(j!({"username": "kvothe", "message": "Password updated"}));
}

#[tokio::test]
async fn a_reset_clears_the_login_throttle() {
    let app = TestApp::new().await;
    app.register("bob@example.com", PASSWORD).await;
    for _ in 1..=5 {
        let res = app.send(login_form("bob@example.com", NEW_PASSWORD)).await;
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

    for (new_password, code) in [
        ("short", "password_too_short"),
        ("", "password_empty"),
        ("qazwsxedcrfvtgb", "password_too_common"),
        ("bob@example.com", "password_matches_identifier"),
    ] {
        let res = app.send(change(Some(&token), PASSWORD, new_password)).await;
        res.assert_error(StatusCode::BAD_REQUEST, code);
    }

    for field in [
        ("current_password", PASSWORD),
        ("new_password", NEW_PASSWORD),
    ] {
        let res = app
            .send(form("POST", "/password", &[field]).header("cookie", cookie(&token)))
            .await;
        res.assert_error(StatusCode::BAD_REQUEST, "missing_field");
    }
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
    res.assert_ok_json(j!({"message": "Password changed"}));
    let set_cookie = res.set_cookie();
    let new = res.session_cookie();
    assert_eq!(new.len(), 43);
    assert_ne!(new, token);
    assert_session_cookie_attributes(&set_cookie);

    assert_eq!(app.profile_status(&token).await, StatusCode::FORBIDDEN);
    assert_eq!(app.profile_status(&other).await, StatusCode::FORBIDDEN);
    assert_eq!(app.profile_status(&new).await, StatusCode::OK);

    let res = app.send(login_form("bob@example.com", PASSWORD)).await;
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
