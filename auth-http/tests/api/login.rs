//! `POST /sessions` (login, the session cookie, the throttle) and
//! `DELETE /sessions` (logout).

use std::time::Duration;

use crate::common::*;
use auth_core::Config;
use serde_json::json as j;
use warp::http::StatusCode;

use super::assert_session_cookie_attributes;

// ----- POST /sessions -----

#[tokio::test]
async fn login_answers_the_identifiers_and_sets_the_session_cookie() {
    let app = TestApp::new().await;
    app.register("bob@example.com", PASSWORD).await;

    let res = app.send(login_form("bob@example.com", PASSWORD)).await;
    res.assert_ok_json(j!({"email": "bob@example.com", "message": "logged in"}));

    let set_cookie = res.set_cookie();
    let token = res.session_cookie();
    assert_eq!(token.len(), 43, "{set_cookie}");
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "base64url: {set_cookie}"
    );
    assert_session_cookie_attributes(&set_cookie);
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
    res.assert_ok_json(j!({"email": "bob@example.com", "message": "logged in"}));
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
    res.assert_ok_json(j!({"username": "kvothe", "message": "logged in"}));
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
    let res = app.send(login_form("bob@example.com", PASSWORD)).await;
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

    let wrong_password = app.send(login_form("bob@example.com", NEW_PASSWORD)).await;
    wrong_password.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert!(wrong_password.headers.get("set-cookie").is_none());

    let unknown = app.send(login_form("nobody@example.com", PASSWORD)).await;
    unknown.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_eq!(wrong_password.body, unknown.body);
    assert!(unknown.headers.get("set-cookie").is_none());

    // A well-formed login that is wrong in any way is the one 401: an empty
    // password, a name that could never be registered.
    let empty = app.send(login_form("bob@example.com", "")).await;
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
    let wrong = || login_form("bob@example.com", NEW_PASSWORD);

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
    let right = || login_form("bob@example.com", PASSWORD);
    let res = app.send(right()).await;
    res.assert_error(StatusCode::TOO_MANY_REQUESTS, "throttled");
    assert_eq!(res.header("retry-after"), Some("1"));
    assert!(res.headers.get("set-cookie").is_none());

    // After the delay the right password gets in.
    app.clock.advance(1);
    let res = app.send(right()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());

    // Unknown accounts are throttled alike.
    let unknown = || login_form("ghost@example.com", PASSWORD);
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
        .send(login_form("bob@example.com", PASSWORD).header("cookie", cookie(&old)))
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
        .send(login_form("bob@example.com", NEW_PASSWORD).header("cookie", cookie(&token)))
        .await;
    res.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_eq!(app.profile_status(&token).await, StatusCode::OK);
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
