//! `GET /me`, and logging out with `GET /logout` and `POST /logout`.

use crate::common::browser::*;
use crate::common::*;
use warp::http::StatusCode;

use super::*;

// ----- GET /me -----

#[tokio::test]
async fn me_without_a_live_session_redirects_to_login() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    assert_redirect(&browser.get("/me").await, "/login");

    browser.set_cookie("session_id", "not-a-token");
    assert_redirect(&browser.get("/me").await, "/login");
    browser.set_cookie("session_id", &"A".repeat(43));
    assert_redirect(&browser.get("/me").await, "/login");
}

#[tokio::test]
async fn me_shows_the_profile_without_caching() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    assert_redirect(&browser.signup(&kvothe(PASSWORD)).await, "/login");
    browser.logged_in("kvothe").await;
    let res = browser.get("/me").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let html = res.text();
    for shown in [
        "<span id=\"whoami\">kvothe</span>",
        "Kvothe Arliden",
        "DuckDuckGo",
        "action=\"/logout\"",
    ] {
        assert!(html.contains(shown), "{shown} missing: {html}");
    }
    assert!(!html.contains(PASSWORD));
    let token = res.csrf_token();
    assert_eq!(token.len(), 43);
    assert!(
        !html.contains(&browser.session()),
        "the session token on the page"
    );
}

#[tokio::test]
async fn me_after_the_idle_timeout_redirects_to_login() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    let mut browser = Browser::new(&app);
    browser.logged_in("kvothe").await;
    assert_eq!(browser.me_status().await, StatusCode::OK);
    let idle = app.auth.config().session_idle_timeout.as_secs() as i64;
    app.clock.advance(idle + 1);
    assert_redirect(&browser.get("/me").await, "/login");
}

#[tokio::test]
async fn user_text_on_me_is_escaped() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    let res = browser
        .signup(&[
            ("username", "kvothe"),
            ("password", PASSWORD),
            ("full_name", SCRIPT),
            ("mothers_favorite_search_engine", SCRIPT),
        ])
        .await;
    assert_redirect(&res, "/login");
    browser.logged_in("kvothe").await;
    let res = browser.get("/me").await;
    assert_eq!(res.status, StatusCode::OK);
    let html = named_entities(&res.text());
    assert!(!html.contains(SCRIPT), "raw script: {html}");
    assert!(
        html.contains(&format!("<dd id=\"full_name\">{ESCAPED_SCRIPT}</dd>")),
        "{html}"
    );
    assert_eq!(html.matches(ESCAPED_SCRIPT).count(), 2, "{html}");

    // An e-mail may hold markup too; it is the name shown (title and heading).
    let email = format!("{SCRIPT}@example.com");
    register(&app, None, Some(&email), None).await;
    let mut other = Browser::new(&app);
    let res = other.login(&email, PASSWORD).await;
    assert_redirect(&res, "/me");
    let res = other.get("/me").await;
    assert_eq!(res.status, StatusCode::OK);
    let html = named_entities(&res.text());
    assert!(!html.contains(SCRIPT), "raw script: {html}");
    assert!(
        html.contains(&format!(
            "<span id=\"whoami\">{ESCAPED_SCRIPT}@example.com</span>"
        )),
        "{html}"
    );
    assert!(
        html.contains(&format!("<title>{ESCAPED_SCRIPT}@example.com")),
        "{html}"
    );
}

// ----- GET /logout and POST /logout -----

#[tokio::test]
async fn post_logout_with_the_session_token_ends_the_session() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    let mut browser = Browser::new(&app);
    browser.logged_in("kvothe").await;
    let session = browser.session();
    let token = browser.logout_token().await;

    let res = browser.post("/logout", &[("csrf_token", &token)]).await;
    assert_redirect(&res, "/login");
    let cleared = res
        .set_cookie_named("session_id")
        .expect("the session cookie is cleared");
    assert_eq!(cookie_value(&cleared), "");
    assert!(
        cookie_attributes(&cleared).iter().any(|a| a == "Max-Age=0"),
        "{cleared}"
    );
    assert_eq!(browser.cookie("session_id"), None);
    assert_redirect(&browser.get("/me").await, "/login");
    // The token itself is dead, not only forgotten by the browser.
    assert_eq!(app.profile_status(&session).await, StatusCode::FORBIDDEN);
    let res = app
        .page(get("/me").header("cookie", cookie(&session)))
        .await;
    assert_redirect(&res, "/login");
}

#[tokio::test]
async fn post_logout_without_a_valid_token_is_403_and_the_session_lives() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    register(&app, Some("denna"), None, None).await;
    let mut browser = Browser::new(&app);
    browser.logged_in("kvothe").await;
    let session = browser.session();
    let own_token = browser.logout_token().await;

    // Another user's session token.
    let mut denna = Browser::new(&app);
    denna.logged_in("denna").await;
    let dennas_token = denna.logout_token().await;
    // Another session of the same user.
    let mut second = Browser::new(&app);
    second.logged_in("kvothe").await;
    let second_token = second.logout_token().await;
    assert_ne!(second_token, own_token);
    // A pre-session token of this very browser.
    let pre_session = browser.token("/login").await;

    let forged = "A".repeat(43);
    let bad: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("csrf_token", "")],
        vec![("csrf_token", &forged)],
        vec![("csrf_token", &dennas_token)],
        vec![("csrf_token", &second_token)],
        vec![("csrf_token", &pre_session)],
        vec![("csrf_token", &own_token[..42])],
    ];
    for fields in bad {
        let res = browser.post("/logout", &fields).await;
        assert_forbidden(&res, FORM_EXPIRED);
        assert!(res.header_all("set-cookie").is_empty(), "{fields:?}");
        assert_eq!(browser.me_status().await, StatusCode::OK, "{fields:?}");
        assert_eq!(app.profile_status(&session).await, StatusCode::OK);
    }
    // The other sessions are untouched too.
    assert_eq!(denna.me_status().await, StatusCode::OK);
    assert_eq!(second.me_status().await, StatusCode::OK);

    // The right token still works afterwards.
    let res = browser.post("/logout", &[("csrf_token", &own_token)]).await;
    assert_redirect(&res, "/login");
    assert_redirect(&browser.get("/me").await, "/login");
    assert_eq!(second.me_status().await, StatusCode::OK);
}

#[tokio::test]
async fn post_logout_without_a_session_goes_to_login_and_changes_nothing() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    let mut browser = Browser::new(&app);
    browser.logged_in("kvothe").await;
    let token = browser.logout_token().await;

    // The token of a session, sent without that session's cookie: there is
    // no session to end, so the stranger is sent to the login page and the
    // owner's session lives on.
    let mut stranger = Browser::new(&app);
    let res = stranger.post("/logout", &[("csrf_token", &token)]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some("/login"));
    assert_eq!(browser.me_status().await, StatusCode::OK);
}

#[tokio::test]
async fn get_logout_ends_the_session_without_a_token() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    let mut browser = Browser::new(&app);
    browser.logged_in("kvothe").await;
    let session = browser.session();

    let res = browser.get("/logout").await;
    assert_redirect(&res, "/login");
    let cleared = res
        .set_cookie_named("session_id")
        .expect("the session cookie is cleared");
    assert!(cookie_attributes(&cleared).iter().any(|a| a == "Max-Age=0"));
    assert_eq!(app.profile_status(&session).await, StatusCode::FORBIDDEN);
    assert_redirect(&browser.get("/me").await, "/login");
}

#[tokio::test]
async fn get_logout_without_a_session_just_goes_to_login() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    assert_redirect(&browser.get("/logout").await, "/login");
    browser.set_cookie("session_id", "garbage");
    assert_redirect(&browser.get("/logout").await, "/login");
    browser.set_cookie("session_id", &"A".repeat(43));
    assert_redirect(&browser.get("/logout").await, "/login");
    // Twice in a row is fine as well.
    register(&app, Some("kvothe"), None, None).await;
    browser.logged_in("kvothe").await;
    assert_redirect(&browser.get("/logout").await, "/login");
    assert_redirect(&browser.get("/logout").await, "/login");
}
