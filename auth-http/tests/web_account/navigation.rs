//! Links between the pages, sign-up with an e-mail, and the HTML 404 and
//! 405 pages.

use crate::common::browser::*;
use crate::common::*;
use auth_core::Identifier;
use warp::http::StatusCode;

use super::*;

// ----- links between pages -----

#[tokio::test]
async fn login_links_to_signup_and_forgot_and_signed_in_pages_link_to_each_other() {
    let app = TestApp::new().await;
    let mut browser = Browser::with_agent(&app, USER_AGENT);
    let html = browser.get("/login").await.text();
    assert!(html.contains("href=\"/signup\""), "{html}");
    assert!(html.contains("href=\"/forgot\""), "{html}");

    register(&app, Some("kvothe"), None, None).await;
    browser.log_in("kvothe", PASSWORD).await;
    for path in [
        "/me",
        "/me/password",
        "/me/sessions",
        "/me/security",
        "/me/apps",
    ] {
        let res = browser.get(path).await;
        assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text());
        assert_eq!(res.header("cache-control"), Some("no-store"), "{path}");
        let html = res.text();
        for link in [
            "/me",
            "/me/password",
            "/me/sessions",
            "/me/security",
            "/me/apps",
        ] {
            assert!(
                html.contains(&format!("href=\"{link}\"")),
                "{path} lacks {link}: {html}"
            );
        }
        assert!(html.contains("action=\"/logout\""), "{path}: {html}");
        assert!(
            html.contains(&format!("href=\"{path}\" aria-current=\"page\"")),
            "{path} is not marked as the current page: {html}"
        );
    }
    let html = browser.get("/me/security").await.text();
    assert!(html.contains("No second factor is set up yet."), "{html}");
}

#[tokio::test]
async fn signed_in_pages_send_strangers_to_login() {
    let app = TestApp::new().await;
    let mut browser = Browser::with_agent(&app, USER_AGENT);
    for path in ["/me/password", "/me/sessions", "/me/security", "/me/apps"] {
        assert_redirect(&browser.get(path).await, "/login");
    }
}

// ----- sign-up with an e-mail -----

#[tokio::test]
async fn signup_takes_an_optional_email_and_keeps_it_after_an_error() {
    let app = TestApp::new().await;
    let mut browser = Browser::with_agent(&app, USER_AGENT);
    let token = browser.token("/signup").await;
    let res = browser
        .post(
            "/signup",
            &[
                ("csrf_token", &token),
                ("username", "kvothe"),
                ("password", "short"),
                ("email", "kvothe@example.com"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(
        res.text()
            .contains("Password must be at least 15 characters long."),
        "{}",
        res.text()
    );
    assert_eq!(
        res.input_value("email").as_deref(),
        Some("kvothe@example.com")
    );
    let token = res.csrf_token();
    let res = browser
        .post(
            "/signup",
            &[
                ("csrf_token", &token),
                ("username", "kvothe"),
                ("password", PASSWORD),
                ("email", "kvothe@example.com"),
            ],
        )
        .await;
    assert_redirect(&res, "/login");
    let user = app
        .auth
        .find_user(&Identifier::Username("kvothe".into()))
        .await
        .unwrap()
        .expect("the account");
    assert_eq!(user.email.as_deref(), Some("kvothe@example.com"));

    // Left empty, the field gives an account without an address.
    let token = browser.token("/signup").await;
    let res = browser
        .post(
            "/signup",
            &[
                ("csrf_token", &token),
                ("username", "denna"),
                ("password", PASSWORD),
                ("email", ""),
            ],
        )
        .await;
    assert_redirect(&res, "/login");
    let user = app
        .auth
        .find_user(&Identifier::Username("denna".into()))
        .await
        .unwrap()
        .expect("the account");
    assert_eq!(user.email, None);
}

// ----- HTML 404 and 405 -----

#[tokio::test]
async fn browsers_get_html_404_and_405_pages_and_other_clients_json() {
    let app = TestApp::new().await;
    let mut browser = Browser::with_agent(&app, USER_AGENT);
    for path in ["/nope", "/me/nope", "/reset/x", "/%3Cscript%3E"] {
        let res = browser.get(path).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        assert!(res.text().contains("Page not found"), "{}", res.text());
        assert!(!res.text().contains("<script>"), "{}", res.text());
    }
    for (method, path, allow) in [
        ("GET", "/password", "POST"),
        ("GET", "/users", "POST"),
        ("PUT", "/me", "GET"),
        ("GET", "/me/sessions/end-others", "POST"),
        ("DELETE", "/forgot", "GET, POST"),
        ("PUT", "/reset", "GET, POST"),
    ] {
        let res = browser.send(request(method, path)).await;
        assert_eq!(
            res.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(res.header("allow"), Some(allow), "{method} {path}");
        assert!(res.text().contains("Method not allowed"), "{}", res.text());
    }

    // Scripts keep the JSON of section 3, and so do the machine routes for browsers.
    let res = app.send(get("/nope")).await;
    res.assert_error(StatusCode::NOT_FOUND, "not_found");
    let res = app
        .send(get("/password").header("accept", "application/json"))
        .await;
    res.assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let res = app
        .send(get("/me/password").header("accept", "text/html;q=0.5, application/json"))
        .await;
    // Not a browser by its Accept: a redirect, not a page, but no JSON body either.
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let res = app
        .reply(request("PUT", "/healthz").header("accept", BROWSER_ACCEPT))
        .await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(res
        .header("content-type")
        .unwrap_or_default()
        .starts_with("application/json"));
}
