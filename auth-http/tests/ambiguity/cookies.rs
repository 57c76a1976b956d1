//! Conflicting cookies count as none; the `__Host-` pre-session cookie.

use crate::common::*;
use auth_http::HttpConfig;
use serde_json::json;
use warp::http::StatusCode;

use super::*;

// ----- conflicting cookies -----

#[tokio::test]
async fn two_session_cookies_with_different_values_are_none() {
    let app = TestApp::new().await;
    let alice = app.signed_in("alice@example.com").await;
    let bob = app.signed_in("bob@example.com").await;
    let both = format!("session_id={alice}; session_id={bob}");

    // The same value twice is one cookie.
    let twice = format!("session_id={alice}; other=1; session_id={alice}");
    let res = app.send(get("/profile").header("cookie", &twice)).await;
    assert_eq!(res.json()["email"], "alice@example.com");

    for cookies in [
        both.clone(),
        format!("session_id={bob}; session_id={alice}"),
        format!("session_id={alice}; session_id="),
        format!("session_id={alice}; session_id=garbage"),
    ] {
        let res = app.send(get("/profile").header("cookie", &cookies)).await;
        res.assert_error(StatusCode::FORBIDDEN, "not_authenticated");
        let res = app.send(get("/sessions").header("cookie", &cookies)).await;
        res.assert_error(StatusCode::FORBIDDEN, "not_authenticated");
        let res = app
            .send(request("DELETE", "/sessions").header("cookie", &cookies))
            .await;
        res.assert_error(StatusCode::FORBIDDEN, "not_authenticated");
        let res = app
            .send(
                form(
                    "POST",
                    "/password",
                    &[
                        ("current_password", PASSWORD),
                        ("new_password", NEW_PASSWORD),
                    ],
                )
                .header("cookie", &cookies),
            )
            .await;
        res.assert_error(StatusCode::FORBIDDEN, "not_authenticated");
        // Pages: not signed in.
        let res = app
            .page(
                get("/me")
                    .header("cookie", &cookies)
                    .header("accept", BROWSER_ACCEPT),
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER);
        assert_eq!(res.header("location"), Some("/login"));
    }
    assert!(session_lives(&app, &alice).await && session_lives(&app, &bob).await);
    app.login("alice@example.com", PASSWORD).await;

    // Logging in with both: the new session is issued, neither old one is
    // taken for the presented one (so neither is ended on its behalf).
    let res = app
        .send(login_form("alice@example.com", PASSWORD).header("cookie", &both))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert!(session_lives(&app, &bob).await);
}

#[tokio::test]
async fn two_pre_session_cookies_with_different_values_are_none() {
    let app = TestApp::new().await;
    app.register_json(json!({"username": "kvothe", "password": PASSWORD}))
        .await;
    let mut browser = Browser::new(&app);
    let token = browser.csrf("/login").await;
    let nonce = browser
        .jar_value("authd_csrf")
        .expect("a pre-session cookie");
    let body = format!(
        "csrf_token={token}&username=kvothe&password={}",
        urlencode(PASSWORD)
    );
    for cookies in [
        format!("authd_csrf={nonce}; authd_csrf=planted-by-a-sibling-domain-aaaaaaaaaaaa"),
        format!("authd_csrf=planted-by-a-sibling-domain-aaaaaaaaaaaa; authd_csrf={nonce}"),
    ] {
        let res = app
            .page(
                raw_form("POST", "/login", &body)
                    .header("host", HOST)
                    .header("cookie", &cookies),
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text());
        assert!(res.header_all("set-cookie").is_empty());
    }
    let res = app
        .page(
            raw_form("POST", "/login", &body)
                .header("host", HOST)
                .header("cookie", format!("authd_csrf={nonce}; authd_csrf={nonce}")),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
}

// ----- the __Host- pre-session cookie -----

#[tokio::test]
async fn the_pre_session_cookie_is_host_prefixed_with_the_session_cookie() {
    let http = HttpConfig {
        cookie_name: "__Host-session".into(),
        ..http_config()
    };
    let app = TestApp::with(core_config(), http).await;
    app.register_json(json!({"username": "kvothe", "password": PASSWORD}))
        .await;
    for page in ["/login", "/signup"] {
        let res = app.page(get(page).header("host", HOST)).await;
        let set_cookie = res
            .set_cookie_named("__Host-authd_csrf")
            .unwrap_or_else(|| {
                panic!(
                    "no __Host- pre-session cookie: {:?}",
                    res.header_all("set-cookie")
                )
            });
        let attributes = cookie_attributes(&set_cookie);
        assert!(attributes.iter().any(|a| a == "Secure"), "{set_cookie}");
        assert!(attributes.iter().any(|a| a == "Path=/"), "{set_cookie}");
        assert!(!attributes
            .iter()
            .any(|a| a.to_ascii_lowercase().starts_with("domain")));
        assert!(res.set_cookie_named("authd_csrf").is_none());
    }

    let mut browser = Browser::new(&app);
    let token = browser.csrf("/login").await;
    let nonce = browser.jar_value("__Host-authd_csrf").expect("the nonce");
    let body = format!(
        "csrf_token={token}&username=kvothe&password={}",
        urlencode(PASSWORD)
    );
    // The nonce under the unprefixed name (which a sibling domain could
    // have planted) is not the pre-session cookie.
    let res = app
        .page(
            raw_form("POST", "/login", &body)
                .header("host", HOST)
                .header("cookie", format!("authd_csrf={nonce}")),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text());
    let res = browser.post("/login", &body).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert!(res.set_cookie_named("__Host-session").is_some());
}

#[tokio::test]
async fn any_spelling_of_a_prefix_gives_the_host_prefixed_pre_session_cookie() {
    for cookie_name in ["__host-session", "__HOST-session", "__Secure-session"] {
        let http = HttpConfig {
            cookie_name: cookie_name.into(),
            ..http_config()
        };
        let app = TestApp::with(core_config(), http).await;
        let res = app.page(get("/signup").header("host", HOST)).await;
        assert!(
            res.set_cookie_named("__Host-authd_csrf").is_some(),
            "{cookie_name}: {:?}",
            res.header_all("set-cookie")
        );
    }
}

#[tokio::test]
async fn the_pre_session_cookie_keeps_its_name_without_the_prefix() {
    let app = TestApp::new().await;
    let res = app.page(get("/login").header("host", HOST)).await;
    assert!(res.set_cookie_named("authd_csrf").is_some());
    assert!(res.set_cookie_named("__Host-authd_csrf").is_none());
}
