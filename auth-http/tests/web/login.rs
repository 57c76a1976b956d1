//! `POST /login`: the session cookie, the one generic failure, the throttle
//! and the per-address limit.

use std::num::NonZeroU32;
use std::time::Duration;

use crate::common::browser::*;
use crate::common::*;
use auth_http::HttpConfig;
use auth_http::RateLimit;
use warp::http::StatusCode;

use super::*;

// ----- POST /login -----

#[tokio::test]
async fn login_success_sets_the_session_cookie_and_goes_to_me() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, Some("Kvothe Arliden")).await;
    let mut browser = Browser::new(&app);
    let res = browser.login("kvothe", PASSWORD).await;
    assert_redirect(&res, "/me");
    let set_cookie = res
        .set_cookie_named("session_id")
        .expect("a session cookie");
    let token = cookie_value(&set_cookie);
    assert_eq!(token.len(), 43, "{set_cookie}");
    let attributes = cookie_attributes(&set_cookie);
    let max_age = format!("Max-Age={}", app.auth.config().session_max_age.as_secs());
    for wanted in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", &max_age] {
        assert!(
            attributes.iter().any(|a| a == wanted),
            "{wanted} missing from {set_cookie}"
        );
    }
    // The same session works for the JSON API.
    assert_eq!(app.profile_status(&token).await, StatusCode::OK);

    let res = browser.get("/me").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let html = res.text();
    assert!(html.contains("<span id=\"whoami\">kvothe</span>"), "{html}");
    assert!(html.contains("Kvothe Arliden"), "{html}");
    assert!(
        !html.contains("id=\"email\""),
        "an e-mail row without one: {html}"
    );
    assert_eq!(res.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn login_by_email_through_the_username_field() {
    let app = TestApp::new().await;
    register(&app, None, Some("Bob@Example.com"), None).await;
    for name in ["Bob@Example.com", "bob@example.com"] {
        let mut browser = Browser::new(&app);
        let res = browser.login(name, PASSWORD).await;
        assert_redirect(&res, "/me");
        let res = browser.get("/me").await;
        assert_eq!(res.status, StatusCode::OK);
        let html = res.text();
        assert!(
            html.contains("<span id=\"whoami\">Bob@Example.com</span>"),
            "{html}"
        );
        assert!(html.contains("E-mail"), "{html}");
        assert!(!html.contains("Username</dt>"), "{html}");
    }
}

#[tokio::test]
async fn a_session_from_the_json_api_opens_me() {
    let app = TestApp::new().await;
    let token = app.signed_in("bob@example.com").await;
    let res = app.page(get("/me").header("cookie", cookie(&token))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert!(res
        .text()
        .contains("<span id=\"whoami\">bob@example.com</span>"));
}

#[tokio::test]
async fn another_cookie_name_is_used_by_every_page() {
    let http = HttpConfig {
        cookie_name: "__Host-session".into(),
        ..http_config()
    };
    let app = TestApp::with(core_config(), http).await;
    register(&app, Some("kvothe"), None, None).await;
    let mut browser = Browser::new(&app);
    let res = browser.login("kvothe", PASSWORD).await;
    assert_redirect(&res, "/me");
    let set_cookie = res
        .set_cookie_named("__Host-session")
        .expect("the configured cookie name");
    let attributes = cookie_attributes(&set_cookie);
    assert!(attributes.iter().any(|a| a == "Secure"), "{set_cookie}");
    assert!(attributes.iter().any(|a| a == "Path=/"), "{set_cookie}");
    assert!(
        !attributes.iter().any(|a| a.starts_with("Domain")),
        "{set_cookie}"
    );
    assert!(res.set_cookie_named("session_id").is_none());
    assert_eq!(browser.me_status().await, StatusCode::OK);

    let token = browser.logout_token().await;
    let res = browser.post("/logout", &[("csrf_token", &token)]).await;
    assert_redirect(&res, "/login");
    assert!(res.set_cookie_named("__Host-session").is_some());
    assert_eq!(browser.cookie("__Host-session"), None);
    assert_redirect(&browser.get("/me").await, "/login");
}

#[tokio::test]
async fn login_failure_is_one_generic_401_form() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), Some("kvothe@example.com"), None).await;
    let cases: &[(&str, &str)] = &[
        ("kvothe", "Zq9-wrong-password-123"),
        ("kvothe@example.com", "Zq9-wrong-password-123"),
        ("nobody", "Zq9-wrong-password-123"),
        ("nobody@example.com", PASSWORD),
        ("kvothe", ""),
        ("", PASSWORD),
        ("", ""),
        (SCRIPT, "Zq9-wrong-password-123"),
    ];
    for (username, password) in cases {
        let mut browser = Browser::new(&app);
        let res = browser.login(username, password).await;
        assert_eq!(
            res.status,
            StatusCode::UNAUTHORIZED,
            "{username:?}/{password:?}: {}",
            res.text()
        );
        let html = res.text();
        assert!(html.contains(WRONG_CREDENTIALS), "{html}");
        assert!(!html.contains("invalid credentials"), "{html}");
        assert!(res.set_cookie_named("session_id").is_none());
        assert_eq!(res.header("retry-after"), None);
        assert_eq!(res.input_value("password"), None);
        if !password.is_empty() {
            assert!(!html.contains(password), "the password is echoed: {html}");
        }
        assert!(!html.contains(SCRIPT), "raw script: {html}");
        assert_eq!(browser.me_status().await, StatusCode::SEE_OTHER);
    }

    // The login form's fields missing altogether: still the one 401.
    let mut browser = Browser::new(&app);
    let token = browser.token("/login").await;
    let res = browser.post("/login", &[("csrf_token", &token)]).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.text());
    assert!(res.text().contains(WRONG_CREDENTIALS));

    // The form shown again carries a token that works.
    let res = browser
        .post(
            "/login",
            &[
                ("csrf_token", &token),
                ("username", "kvothe"),
                ("password", "Zq9-wrong-password-123"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let again = res.csrf_token();
    let res = browser
        .post(
            "/login",
            &[
                ("csrf_token", &again),
                ("username", "kvothe"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_redirect(&res, "/me");
}

#[tokio::test]
async fn a_second_login_in_the_same_browser_ends_the_first_session() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    let mut browser = Browser::new(&app);
    browser.logged_in("kvothe").await;
    let first = browser.session();
    browser.logged_in("kvothe").await;
    let second = browser.session();
    assert_ne!(first, second);
    assert_eq!(app.profile_status(&first).await, StatusCode::FORBIDDEN);
    assert_eq!(app.profile_status(&second).await, StatusCode::OK);
}

#[tokio::test]
async fn throttled_login_shows_the_form_with_when_to_retry() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    let mut browser = Browser::new(&app);
    for attempt in 1..=5 {
        let res = browser.login("kvothe", "Zq9-wrong-password-123").await;
        assert_eq!(
            res.status,
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}: {}",
            res.text()
        );
        assert!(res.text().contains(WRONG_CREDENTIALS));
    }
    // During the delay even the right password waits.
    let res = browser.login("kvothe", PASSWORD).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.text());
    assert_eq!(res.header("retry-after"), Some("1"));
    let html = res.text();
    assert!(html.contains("Try again in 1 second"), "{html}");
    assert!(!html.contains(WRONG_CREDENTIALS), "{html}");
    assert!(html.contains("name=\"csrf_token\""), "not the form: {html}");
    assert!(res.set_cookie_named("session_id").is_none());

    // After the delay a wrong password doubles it; the page says the new wait.
    app.clock.advance(1);
    let res = browser.login("kvothe", "Zq9-wrong-password-123").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.text());
    let res = browser.login("kvothe", PASSWORD).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.text());
    assert_eq!(res.header("retry-after"), Some("2"));
    assert!(
        res.text().contains("Try again in 2 seconds"),
        "{}",
        res.text()
    );

    app.clock.advance(2);
    let res = browser.login("kvothe", PASSWORD).await;
    assert_redirect(&res, "/me");
}

#[tokio::test]
async fn the_per_address_limit_covers_signup_and_login_pages() {
    let http = HttpConfig {
        ip_rate_limit: RateLimit::Every {
            count: NonZeroU32::new(2).unwrap(),
            per: Duration::from_secs(3600),
        },
        ..http_config()
    };
    let app = TestApp::with(core_config(), http).await;
    let mut browser = Browser::new(&app);
    let token = browser.token("/login").await;
    let mut limited = None;
    for _ in 0..5 {
        let res = browser
            .post(
                "/login",
                &[
                    ("csrf_token", &token),
                    ("username", "nobody"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        if res.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(res);
            break;
        }
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.text());
    }
    let res = limited.expect("the per-address limit never answered 429");
    let seconds: u64 = res
        .header("retry-after")
        .expect("Retry-After on a 429")
        .parse()
        .expect("whole seconds");
    assert!(seconds >= 1);
    assert!(res.set_cookie_named("session_id").is_none());

    // Sign-up shares the allowance; the form pages are not limited.
    let res = browser
        .post(
            "/signup",
            &[
                ("csrf_token", &token),
                ("username", "kvothe"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.text());
    assert!(res.header("retry-after").is_some());
    assert!(!exists(&app, "kvothe").await);
    assert_eq!(browser.get("/signup").await.status, StatusCode::OK);
    assert_eq!(browser.get("/login").await.status, StatusCode::OK);
}
