//! `/forgot`: asking for a reset link.

use std::time::Duration;

use crate::common::browser::*;
use crate::common::*;
use auth_http::{HttpConfig, ResetDelivery};
use warp::http::StatusCode;

use super::*;

// ----- /forgot -----

#[tokio::test]
async fn forgot_answers_the_same_whether_or_not_the_account_exists() {
    let app = TestApp::with(core_config(), log_delivery()).await;
    register(&app, Some("kvothe"), Some("kvothe@example.com"), None).await;
    register(&app, Some("noaddress"), None, None).await;
    let mut pages = Vec::new();
    for name in [
        "kvothe",
        "KVOTHE@example.com",
        "nobody",
        "nobody@example.com",
        "noaddress",
    ] {
        let mut browser = Browser::with_agent(&app, USER_AGENT);
        let token = browser.token("/forgot").await;
        let res = browser
            .post("/forgot", &[("csrf_token", &token), ("username", name)])
            .await;
        assert_eq!(res.status, StatusCode::OK, "{name}: {}", res.text());
        assert!(res.text().contains(SENT), "{name}: {}", res.text());
        assert!(!res.text().contains(name), "{name} echoed: {}", res.text());
        pages.push((name, res.header_all("set-cookie"), res.text()));
    }
    for (name, cookies, html) in &pages[1..] {
        assert_eq!(html, &pages[0].2, "the page for {name} differs");
        assert_eq!(cookies, &pages[0].1, "the cookies for {name} differ");
    }
    // Tokens were made for the two accounts (once by name, once by address,
    // and once for the account without an address, as `log` reaches it).
    assert!(events_reach(&app, "reset_requested", 3).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.auth.count_events("reset_requested").await.unwrap(), 3);
}

#[tokio::test]
async fn forgot_with_mail_delivery_makes_no_token_for_an_account_without_an_address() {
    // The mail server does not answer (port 1): a token for an account with
    // an address is made and its mail fails (logged); one without an
    // address gets none.
    let http = HttpConfig {
        reset_delivery: ResetDelivery::Smtp,
        ..http_config()
    };
    let mailer = auth_core::SmtpNotifier::new(
        "smtp://127.0.0.1:1",
        auth_core::DEFAULT_FROM,
        "https://auth.example.com",
    )
    .unwrap();
    let config = auth_core::Config {
        notifier: std::sync::Arc::new(mailer),
        ..core_config()
    };
    let app = TestApp::with(config, http).await;
    register(&app, Some("noaddress"), None, None).await;
    register(&app, Some("kvothe"), Some("kvothe@example.com"), None).await;
    // Resets are mailed only to a verified address (docs/contract/10-email.md).
    app.auth
        .mark_email_verified(
            &auth_core::Identifier::Username("kvothe".into()),
            &auth_core::ClientInfo::default(),
        )
        .await
        .unwrap();
    let mut texts = Vec::new();
    for name in ["noaddress", "kvothe"] {
        let mut browser = Browser::with_agent(&app, USER_AGENT);
        let token = browser.token("/forgot").await;
        let res = browser
            .post("/forgot", &[("csrf_token", &token), ("username", name)])
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        texts.push(res.text());
        if name == "noaddress" {
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert_eq!(app.auth.count_events("reset_requested").await.unwrap(), 0);
        }
    }
    assert_eq!(texts[0], texts[1]);
    assert!(events_reach(&app, "reset_requested", 1).await);
}

#[tokio::test]
async fn forgot_refuses_a_missing_or_foreign_token_and_a_foreign_origin() {
    let app = TestApp::with(core_config(), log_delivery()).await;
    register(&app, Some("kvothe"), Some("kvothe@example.com"), None).await;
    let mut browser = Browser::with_agent(&app, USER_AGENT);
    let token = browser.token("/forgot").await;
    let mut other = Browser::with_agent(&app, USER_AGENT);
    let foreign_token = other.token("/forgot").await;

    let res = browser.post("/forgot", &[("username", "kvothe")]).await;
    assert_forbidden(&res, FORM_EXPIRED);
    let res = browser
        .post(
            "/forgot",
            &[("csrf_token", &foreign_token), ("username", "kvothe")],
        )
        .await;
    assert_forbidden(&res, FORM_EXPIRED);
    let res = browser
        .post_with(
            "/forgot",
            &[("csrf_token", &token), ("username", "kvothe")],
            ("origin", FOREIGN_ORIGIN),
        )
        .await;
    assert_forbidden(&res, OTHER_SITE);
    // An empty name is the form again.
    let res = browser
        .post("/forgot", &[("csrf_token", &token), ("username", "  ")])
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res
        .text()
        .contains("Enter your username or e-mail address."));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.auth.count_events("reset_requested").await.unwrap(), 0);

    let res = browser
        .post_with(
            "/forgot",
            &[("csrf_token", &token), ("username", "kvothe")],
            ("origin", SAME_ORIGIN),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(events_reach(&app, "reset_requested", 1).await);
}

#[tokio::test]
async fn an_ambiguous_forgot_form_is_a_400_page() {
    let app = TestApp::new().await;
    let mut browser = Browser::with_agent(&app, USER_AGENT);
    let token = browser.token("/forgot").await;
    // A name given twice is refused as ambiguous; the page escapes whatever it shows.
    let res = browser
        .post(
            "/forgot",
            &[
                ("csrf_token", &token),
                ("username", SCRIPT),
                ("username", SCRIPT),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.text());
    assert!(!res.text().contains(SCRIPT), "{}", res.text());
}
