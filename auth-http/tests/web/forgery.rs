//! Cross-site requests against the pre-session forms: the CSRF token and
//! the Origin rule.

use crate::common::browser::*;
use crate::common::*;
use auth_http::HttpConfig;
use warp::http::StatusCode;

use super::*;

// ----- CSRF on the pre-session forms -----

#[tokio::test]
async fn signup_without_a_valid_csrf_token_is_403_and_creates_nothing() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    let own = browser.token("/signup").await;
    let mut other = Browser::new(&app);
    let others = other.token("/signup").await;
    let forged = "A".repeat(43);
    let mut fields = kvothe(PASSWORD);

    for token in [None, Some(""), Some(forged.as_str()), Some(others.as_str())] {
        let mut sent = fields.clone();
        if let Some(token) = token {
            sent.push(("csrf_token", token));
        }
        let res = browser.post("/signup", &sent).await;
        assert_forbidden(&res, FORM_EXPIRED);
        assert!(res.set_cookie_named("authd_flash").is_none());
        assert!(!exists(&app, "kvothe").await, "created with {token:?}");
    }

    // A valid token without its cookie (another browser's post, a cookie-less client).
    let mut cookieless = Browser::new(&app);
    fields.push(("csrf_token", &own));
    let res = cookieless.post("/signup", &fields).await;
    // docs/contract/6-operations.md: no cookie at all is what plain HTTP looks like.
    assert_forbidden(&res, "this site must be opened over HTTPS");
    assert!(!exists(&app, "kvothe").await);

    // A session-bound token is no pre-session token.
    register(&app, Some("denna"), None, None).await;
    let mut denna = Browser::new(&app);
    denna.logged_in("denna").await;
    let session_token = denna.logout_token().await;
    let mut with_session_token = kvothe(PASSWORD);
    with_session_token.push(("csrf_token", &session_token));
    let res = denna.post("/signup", &with_session_token).await;
    assert_forbidden(&res, FORM_EXPIRED);
    assert!(!exists(&app, "kvothe").await);

    // The same form with the browser's own token goes through.
    let res = browser.post("/signup", &fields).await;
    assert_redirect(&res, "/login");
    assert!(exists(&app, "kvothe").await);
}

#[tokio::test]
async fn login_without_a_valid_csrf_token_is_403_and_counts_nothing() {
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    let mut browser = Browser::new(&app);
    let own = browser.token("/login").await;
    let mut other = Browser::new(&app);
    let others = other.token("/login").await;
    let forged = "A".repeat(43);

    // Right password, bad token: no session.
    for token in [None, Some(""), Some(forged.as_str()), Some(others.as_str())] {
        let mut fields = vec![("username", "kvothe"), ("password", PASSWORD)];
        if let Some(token) = token {
            fields.push(("csrf_token", token));
        }
        let res = browser.post("/login", &fields).await;
        assert_forbidden(&res, FORM_EXPIRED);
        assert_eq!(browser.cookie("session_id"), None);
        assert_eq!(browser.me_status().await, StatusCode::SEE_OTHER);
    }

    // Wrong passwords with bad tokens never reach the throttle.
    for _ in 0..7 {
        let res = browser
            .post(
                "/login",
                &[
                    ("csrf_token", others.as_str()),
                    ("username", "kvothe"),
                    ("password", "Zq9-wrong-password-123"),
                ],
            )
            .await;
        assert_forbidden(&res, FORM_EXPIRED);
    }
    let res = browser
        .post(
            "/login",
            &[
                ("csrf_token", &own),
                ("username", "kvothe"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_redirect(&res, "/me");
    assert_eq!(browser.me_status().await, StatusCode::OK);
}

// ----- the Origin rule -----

#[tokio::test]
async fn a_foreign_origin_is_refused_on_every_form() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    let token = browser.token("/signup").await;
    let mut fields = kvothe(PASSWORD);
    fields.push(("csrf_token", &token));

    for origin in [
        FOREIGN_ORIGIN,
        "http://localhost:5001",
        "http://evil.example",
        "http://localhost",
        "http://localhost:5000.evil.example",
        "localhost:5000",
    ] {
        let res = browser
            .post_with("/signup", &fields, ("origin", origin))
            .await;
        assert_forbidden(&res, OTHER_SITE);
        assert!(!exists(&app, "kvothe").await, "created from {origin}");
    }
    // Same origin: accepted.
    let res = browser
        .post_with("/signup", &fields, ("origin", SAME_ORIGIN))
        .await;
    assert_redirect(&res, "/login");
    assert!(exists(&app, "kvothe").await);

    let token = browser.token("/login").await;
    let login = [
        ("csrf_token", token.as_str()),
        ("username", "kvothe"),
        ("password", PASSWORD),
    ];
    let res = browser
        .post_with("/login", &login, ("origin", FOREIGN_ORIGIN))
        .await;
    assert_forbidden(&res, OTHER_SITE);
    assert_eq!(browser.cookie("session_id"), None);
    let res = browser
        .post_with("/login", &login, ("origin", SAME_ORIGIN))
        .await;
    assert_redirect(&res, "/me");

    let token = browser.logout_token().await;
    let logout = [("csrf_token", token.as_str())];
    let res = browser
        .post_with("/logout", &logout, ("origin", FOREIGN_ORIGIN))
        .await;
    assert_forbidden(&res, OTHER_SITE);
    assert!(res.header_all("set-cookie").is_empty());
    assert_eq!(browser.me_status().await, StatusCode::OK);
    let res = browser
        .post_with("/logout", &logout, ("origin", SAME_ORIGIN))
        .await;
    assert_redirect(&res, "/login");
    assert_redirect(&browser.get("/me").await, "/login");
}

#[tokio::test]
async fn with_a_public_url_only_that_origin_is_accepted() {
    let http = HttpConfig {
        public_url: Some("https://auth.example".into()),
        ..http_config()
    };
    let app = TestApp::with(core_config(), http).await;
    let mut browser = Browser::new(&app);
    let token = browser.token("/signup").await;
    let mut fields = kvothe(PASSWORD);
    fields.push(("csrf_token", &token));

    // The request's own Host is no longer enough, nor any other site.
    for origin in [
        SAME_ORIGIN,
        FOREIGN_ORIGIN,
        "http://auth.example",
        "https://auth.example.evil",
    ] {
        let res = browser
            .post_with("/signup", &fields, ("origin", origin))
            .await;
        assert_forbidden(&res, OTHER_SITE);
        assert!(!exists(&app, "kvothe").await, "created from {origin}");
    }
    let res = browser
        .post_with("/signup", &fields, ("origin", "https://auth.example"))
        .await;
    assert_redirect(&res, "/login");

    let token = browser.token("/login").await;
    let login = [
        ("csrf_token", token.as_str()),
        ("username", "kvothe"),
        ("password", PASSWORD),
    ];
    let res = browser
        .post_with("/login", &login, ("origin", SAME_ORIGIN))
        .await;
    assert_forbidden(&res, OTHER_SITE);
    assert_eq!(browser.cookie("session_id"), None);
    let res = browser
        .post_with("/login", &login, ("origin", "https://auth.example"))
        .await;
    assert_redirect(&res, "/me");

    let token = browser.logout_token().await;
    let logout = [("csrf_token", token.as_str())];
    let res = browser
        .post_with("/logout", &logout, ("origin", SAME_ORIGIN))
        .await;
    assert_forbidden(&res, OTHER_SITE);
    assert_eq!(browser.me_status().await, StatusCode::OK);
    let res = browser
        .post_with("/logout", &logout, ("origin", "https://auth.example"))
        .await;
    assert_redirect(&res, "/login");
}

/// HTTP/2 carries the host in the `:authority` pseudo-header, which hyper
/// puts in the request URI and not in a `Host` header (warp's server speaks
/// HTTP/2 as well); an absolute-form HTTP/1.1 request target is the same case
/// (RFC 9112 section 3.2.2: the target's host wins over `Host`). A
/// same-origin browser post then has an `Origin` but no `Host` to match.
#[tokio::test]

async fn same_origin_posts_are_accepted_when_the_host_is_in_the_uri() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    let token = browser.token("/signup").await;
    let mut fields = kvothe(PASSWORD);
    fields.push(("csrf_token", &token));
    let body = serde_urlencoded::to_string(&fields).expect("encode a form");
    // Built by hand: no Host header, the authority in the URI.
    let res = app
        .page(
            request("POST", "http://localhost:5000/signup")
                .header("origin", SAME_ORIGIN)
                .header("accept", BROWSER_ACCEPT)
                .header(
                    "cookie",
                    format!("authd_csrf={}", browser.cookie("authd_csrf").unwrap()),
                )
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await;
    assert_redirect(&res, "/login");
    assert!(exists(&app, "kvothe").await);
}

/// Browsers send `Origin: null` on a same-origin form post from a page that
/// says `Referrer-Policy: no-referrer` (Fetch, "append a request Origin
/// header"), as every page here does: it names no origin, so, like a missing
/// header, it leaves the judgement to the token.
#[tokio::test]
async fn origin_null_is_judged_by_the_token_alone() {
    let app = TestApp::new().await;
    let null = ("origin", "null");
    let mut browser = Browser::new(&app);
    let token = browser.token("/signup").await;
    let forged = "A".repeat(43);
    let mut fields = kvothe(PASSWORD);
    fields.push(("csrf_token", &forged));
    let res = browser.post_with("/signup", &fields, null).await;
    assert_forbidden(&res, FORM_EXPIRED);
    assert!(!exists(&app, "kvothe").await);
    fields.pop();
    fields.push(("csrf_token", &token));
    let res = browser.post_with("/signup", &fields, null).await;
    assert_redirect(&res, "/login");

    let token = browser.token("/login").await;
    let res = browser
        .post_with(
            "/login",
            &[
                ("csrf_token", forged.as_str()),
                ("username", "kvothe"),
                ("password", PASSWORD),
            ],
            null,
        )
        .await;
    assert_forbidden(&res, FORM_EXPIRED);
    let res = browser
        .post_with(
            "/login",
            &[
                ("csrf_token", token.as_str()),
                ("username", "kvothe"),
                ("password", PASSWORD),
            ],
            null,
        )
        .await;
    assert_redirect(&res, "/me");

    let token = browser.logout_token().await;
    let res = browser
        .post_with("/logout", &[("csrf_token", &forged)], null)
        .await;
    assert_forbidden(&res, FORM_EXPIRED);
    assert_eq!(browser.me_status().await, StatusCode::OK);
    let res = browser
        .post_with("/logout", &[("csrf_token", &token)], null)
        .await;
    assert_redirect(&res, "/login");
}

#[tokio::test]
async fn without_an_origin_the_token_alone_decides() {
    let app = TestApp::new().await;
    let mut browser = Browser::new(&app);
    // Browser::post sends no Origin header at all.
    let res = browser.signup(&kvothe(PASSWORD)).await;
    assert_redirect(&res, "/login");
    browser.logged_in("kvothe").await;
    let token = browser.logout_token().await;
    assert_redirect(
        &browser.post("/logout", &[("csrf_token", &token)]).await,
        "/login",
    );
}
