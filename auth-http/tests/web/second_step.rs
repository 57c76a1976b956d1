//! The second step of a login on the pages (docs/contract/7-second-factor.md).

use crate::common::browser::*;
use crate::common::*;
use auth_core::{ClientInfo, Identifier, Password};
use warp::http::StatusCode;

use super::*;

// ----- the second step (docs/contract/7-second-factor.md) -----

/// An account with an authenticator app, enrolled through `Auth`; returns its secret.
async fn with_authenticator_app(app: &TestApp, username: &str) -> Vec<u8> {
    register(app, Some(username), None, None).await;
    let name = Identifier::Username(username.into());
    let session = app
        .auth
        .login(
            &name,
            &Password::new(PASSWORD),
            None,
            &ClientInfo::default(),
        )
        .await
        .unwrap();
    let enrolment = app.auth.begin_totp(session.token.expose()).await.unwrap();
    let secret = data_encoding::BASE32_NOPAD
        .decode(enrolment.secret.as_bytes())
        .unwrap();
    use auth_core::Clock;
    let code = auth_core::totp_code(&secret, app.clock.now());
    app.auth
        .confirm_totp(session.token.expose(), &code, &ClientInfo::default())
        .await
        .unwrap();
    app.clock.advance(auth_core::TOTP_STEP_SECS);
    secret
}

#[tokio::test]
async fn a_login_with_a_second_factor_asks_for_the_code() {
    use auth_core::Clock;
    let app = TestApp::new().await;
    let secret = with_authenticator_app(&app, "kvothe").await;
    let mut browser = Browser::new(&app);
    let res = browser.login("kvothe", PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert!(browser.cookie("session_id").is_none(), "no session yet");
    assert!(res.text().contains("action=\"/login/code\""));
    let csrf = res.csrf_token();
    let mfa_token = res.input_value("mfa_token").expect("the token in the form");

    // A wrong code: the page again, with the reason and the same token.
    let wrong = auth_core::totp_code(&secret, app.clock.now() + 300);
    let fields = |code: &str| {
        vec![
            ("csrf_token", csrf.clone()),
            ("mfa_token", mfa_token.clone()),
            ("code", code.to_owned()),
        ]
    };
    let post = |fields: &Vec<(&'static str, String)>| {
        fields
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect::<Vec<_>>()
    };
    let wrong_fields = post(&fields(&wrong));
    let borrowed: Vec<(&str, &str)> = wrong_fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = browser.post("/login/code", &borrowed).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(res
        .text()
        .contains("That code is wrong, expired or already used."));
    assert_eq!(
        res.input_value("mfa_token").as_deref(),
        Some(mfa_token.as_str())
    );

    // A cross-site post changes nothing; without the CSRF token neither.
    let right = auth_core::totp_code(&secret, app.clock.now());
    let right_fields = post(&fields(&right));
    let borrowed: Vec<(&str, &str)> = right_fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = browser
        .post_with("/login/code", &borrowed, ("origin", "https://evil.example"))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = browser.post("/login/code", &borrowed[1..]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    let res = browser.post("/login/code", &borrowed).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(res.header("location"), Some("/me"));
    assert_eq!(browser.me_status().await, StatusCode::OK);
}

#[tokio::test]
async fn the_security_page_enrols_an_authenticator_app() {
    use auth_core::Clock;
    let app = TestApp::new().await;
    register(&app, Some("kvothe"), None, None).await;
    let mut browser = Browser::new(&app);
    browser.logged_in("kvothe").await;
    let res = browser.get("/me/security").await;
    assert!(res.text().contains("No second factor is set up yet."));
    let csrf = res.csrf_token();

    let res = browser
        .post_with(
            "/me/security/totp",
            &[("csrf_token", &csrf)],
            ("origin", "https://evil.example"),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = browser
        .post("/me/security/totp", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let html = res.text();
    assert!(html.contains("<figure class=\"qr\"><svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(!html.contains("<?xml"));
    assert!(!html
        .replacen(common::WEBAUTHN_SCRIPT_TAG, "", 1)
        .contains("<script"));
    let secret = html
        .split("id=\"totp-secret\">")
        .nth(1)
        .and_then(|rest| rest.split("</code>").next())
        .expect("the key is shown");
    let secret = data_encoding::BASE32_NOPAD
        .decode(secret.as_bytes())
        .unwrap();

    let res = browser
        .post(
            "/me/security/totp/confirm",
            &[("csrf_token", &csrf), ("code", "000000")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let res = browser
        .post("/me/security/totp", &[("csrf_token", &csrf)])
        .await;
    let html = res.text();
    let secret = {
        let shown = html
            .split("id=\"totp-secret\">")
            .nth(1)
            .and_then(|rest| rest.split("</code>").next())
            .unwrap();
        let fresh = data_encoding::BASE32_NOPAD
            .decode(shown.as_bytes())
            .unwrap();
        assert_ne!(fresh, secret, "a restarted enrolment has a new key");
        fresh
    };
    let code = auth_core::totp_code(&secret, app.clock.now());
    let res = browser
        .post(
            "/me/security/totp/confirm",
            &[("csrf_token", &csrf), ("code", &code)],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.text().matches("<li><code>").count(), 10);
    let res = browser.get("/me/security").await;
    let html = res.text();
    assert!(html.contains("10 recovery codes left."), "{html}");
    assert!(!html.contains("<li><code>"), "the codes are shown once");

    let res = browser
        .post(
            "/me/security/recovery-codes",
            &[("csrf_token", &csrf), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let res = browser
        .post(
            "/me/security/recovery-codes",
            &[("csrf_token", &csrf), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.text().matches("<li><code>").count(), 10);

    let res = browser
        .post(
            "/me/security/totp/remove",
            &[("csrf_token", &csrf), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let html = browser.get("/me/security").await.text();
    assert!(html.contains("The authenticator app is off."), "{html}");
    assert!(html.contains("No second factor is set up yet."));
}

#[tokio::test]
async fn the_second_step_carries_an_authorization_requests_next_back_and_nothing_else() {
    use auth_core::Clock;
    let app = TestApp::new().await;
    let secret = with_authenticator_app(&app, "kvothe").await;
    let next = "/oauth/authorize?client_id=c&state=s%26t";
    for (asked, back) in [
        (next, next),
        ("https://evil.example/oauth/authorize", "/me"),
        ("/me/password", "/me"),
        ("//evil.example/oauth/authorize", "/me"),
    ] {
        let mut browser = Browser::new(&app);
        let query = format!(
            "/login?next={}",
            percent_encoding::utf8_percent_encode(asked, percent_encoding::NON_ALPHANUMERIC)
        );
        let csrf = browser.get(&query).await.csrf_token();
        let res = browser
            .post(
                "/login",
                &[
                    ("csrf_token", csrf.as_str()),
                    ("username", "kvothe"),
                    ("password", PASSWORD),
                    ("next", asked),
                ],
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        // As a browser reads the attribute: its character references undone.
        let carried = res.input_value("next").map(|v| {
            named_entities(&v)
                .replace("&amp;", "&")
                .replace("&#x2f;", "/")
                .replace("&#47;", "/")
        });
        let mfa_token = res.input_value("mfa_token").unwrap();
        let code = auth_core::totp_code(&secret, app.clock.now());
        app.clock.advance(auth_core::TOTP_STEP_SECS);
        let res = browser
            .post(
                "/login/code",
                &[
                    ("csrf_token", res.csrf_token().as_str()),
                    ("mfa_token", mfa_token.as_str()),
                    ("code", code.as_str()),
                    ("next", carried.as_deref().unwrap_or_default()),
                ],
            )
            .await;
        assert_redirect(&res, back);
    }
}
