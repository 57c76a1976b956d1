//! What every page carries: the security headers, the index, the
//! stylesheet, 405s, and the flash notices.

use crate::common::browser::*;
use crate::common::*;
use warp::http::StatusCode;

use super::*;

// ----- headers, index, stylesheet, methods -----

#[tokio::test]
async fn every_page_carries_the_security_headers() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    let mut pages: Vec<(&str, Res)> = Vec::new();
    pages.push(("GET /signup", browser.get("/signup").await));
    pages.push(("GET /login", browser.get("/login").await));
    pages.push((
        "POST /signup 400",
        browser.signup(&kvothe("Zq9-shortpw")).await,
    ));
    pages.push((
        "POST /signup 403",
        browser.post("/signup", &kvothe(PASSWORD)).await,
    ));
    pages.push((
        "POST /signup foreign",
        browser
            .post_with("/signup", &kvothe(PASSWORD), ("origin", FOREIGN_ORIGIN))
            .await,
    ));
    pages.push((
        "POST /signup 415",
        browser
            .send(raw("POST", "/signup", "text/plain", "username=x"))
            .await,
    ));
    pages.push((
        "POST /login 413",
        browser
            .send(raw(
                "POST",
                "/login",
                "application/x-www-form-urlencoded",
                format!("username={}", "a".repeat(17 * 1024)),
            ))
            .await,
    ));
    register(&app, Some("kvothe"), None, None).await;
    pages.push(("POST /login 401", browser.login("kvothe", "nope").await));
    browser.logged_in("kvothe").await;
    pages.push((
        "POST /logout 403",
        browser.post("/logout", &[("csrf_token", "x")]).await,
    ));
    pages.push(("GET /me", browser.get("/me").await));

    let expected_status = [200, 200, 400, 403, 403, 415, 413, 401, 403, 200];
    for ((name, res), status) in pages.iter().zip(expected_status) {
        assert_eq!(res.status.as_u16(), status, "{name}: {}", res.text());
        // `TestApp::page` checked them already; spelled out once more here.
        assert_eq!(
            res.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{name}"
        );
        let csp = res.header("content-security-policy").unwrap_or_default();
        assert!(!csp.is_empty(), "{name}: no CSP");
        assert!(!csp.contains("unsafe-inline"), "{name}: {csp}");
        assert_eq!(
            res.header("x-content-type-options"),
            Some("nosniff"),
            "{name}"
        );
        assert_eq!(res.header("referrer-policy"), Some("no-referrer"), "{name}");
        assert_eq!(res.header("x-frame-options"), Some("DENY"), "{name}");
        assert!(res.text().starts_with("<!doctype html>"), "{name}");
    }
    let me = &pages.last().expect("the /me page").1;
    assert_eq!(me.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn index_sends_browsers_to_me_and_me_to_login() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    assert_redirect(&browser.get("/").await, "/me");
    assert_redirect(&browser.get("/me").await, "/login");
    assert_eq!(browser.get("/login").await.status, StatusCode::OK);

    register(&app, Some("kvothe"), None, None).await;
    browser.logged_in("kvothe").await;
    assert_redirect(&browser.get("/").await, "/me");
    assert_eq!(browser.me_status().await, StatusCode::OK);
}

#[tokio::test]
async fn the_stylesheet_is_served_as_css() {
    let app = TestApp::new().await;
    let res = app.reply(get("/static/style.css")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    assert!(res.text().contains("body"), "{}", res.text());
    // The pages link it.
    let page = Browser::new(&app).get("/login").await;
    assert!(page
        .text()
        .contains("<link rel=\"stylesheet\" href=\"/static/style.css\">"));
}

#[tokio::test]
async fn wrong_methods_on_the_pages_are_405_with_allow() {
    let app = TestApp::new().await;
    for (method, path, allow) in [
        ("PUT", "/signup", "GET, POST"),
        ("DELETE", "/login", "GET, POST"),
        ("PATCH", "/logout", "GET, POST"),
        ("POST", "/me", "GET"),
        ("POST", "/static/style.css", "GET"),
    ] {
        let res = app.reply(request(method, path)).await;
        assert_eq!(
            res.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {}",
            res.text()
        );
        assert_eq!(res.header("allow"), Some(allow), "{method} {path}");
        assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    }
}

#[tokio::test]
async fn an_unknown_flash_cookie_shows_nothing_and_is_cleared() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    browser.set_cookie("authd_flash", "%3Cscript%3E");
    let res = browser.get("/login").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(!res.text().contains(ACCOUNT_CREATED));
    assert!(
        !res.text()
            .replacen(common::WEBAUTHN_SCRIPT_TAG, "", 1)
            .contains("script"),
        "{}",
        res.text()
    );
    assert_eq!(browser.cookie("authd_flash"), None);
}

#[tokio::test]
async fn the_notice_reaches_a_browser_without_a_nonce_yet() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    browser.set_cookie("authd_flash", "account_created");
    let res = browser.get("/login").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.text().contains(ACCOUNT_CREATED), "{}", res.text());
    let nonce = res
        .set_cookie_named("authd_csrf")
        .expect("a new pre-session nonce");
    assert_eq!(cookie_value(&nonce).len(), 43);
    let flash = res
        .set_cookie_named("authd_flash")
        .expect("the flash cookie is cleared");
    assert!(cookie_attributes(&flash).iter().any(|a| a == "Max-Age=0"));
    // The form shown with the notice works.
    register(&app, Some("kvothe"), None, None).await;
    let token = res.csrf_token();
    let res = browser
        .post(
            "/login",
            &[
                ("csrf_token", &token),
                ("username", "kvothe"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_redirect(&res, "/me");
}
