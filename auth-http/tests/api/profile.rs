//! `GET /profile`: what it shows, and that it needs a live session.

use crate::common::*;
use serde_json::json as j;
use warp::http::StatusCode;

// ----- GET /profile -----

#[tokio::test]
async fn the_profile_of_an_email_only_account_is_exactly_the_email() {
    let app = TestApp::new().await;
    let token = app.signed_in("bob@example.com").await;
    let res = app
        .send(get("/profile").header("cookie", cookie(&token)))
        .await;
    res.assert_ok_json(j!({"email": "bob@example.com"}));
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
    res.assert_ok_json(j!({
        "username": "kvothe",
        "email": "kvothe@example.com",
        "full_name": "Kvothe the Arcane",
        "mothers_favorite_search_engine": "DuckDuckGo"
    }));

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
