//! A passkey added on /me/security with a virtual authenticator, then a
//! sign-in with it alone.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::common::Server;
use fantoccini::{Client, Locator};

use super::*;

/// The WebDriver WebAuthn extension's "Add Virtual Authenticator": a
/// platform-like authenticator that keeps discoverable credentials and
/// verifies its user (chromedriver implements it).
#[derive(Debug)]
struct AddVirtualAuthenticator;

impl fantoccini::wd::WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(
        &self,
        base_url: &reqwest::Url,
        session_id: Option<&str>,
    ) -> Result<reqwest::Url, <reqwest::Url as std::str::FromStr>::Err> {
        base_url.join(&format!(
            "session/{}/webauthn/authenticator",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &reqwest::Url) -> (warp::http::Method, Option<String>) {
        let body = serde_json::json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
        });
        (warp::http::Method::POST, Some(body.to_string()))
    }
}

/// The text of an element that appears once the script's navigation is
/// done (a wait that a navigation aborts is tried again).
async fn text_after_navigation(browser: &Client, css: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(element) = browser.find(Locator::Css(css)).await {
            if let Ok(text) = element.text().await {
                return text;
            }
        }
        if Instant::now() > deadline {
            return text_of(browser, css).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for a passkey button the script has shown, and clicks it.
async fn click_passkey_button(browser: &Client, id: &str) {
    click(
        browser,
        Locator::Css(&format!("#{id}:not([hidden]):not([disabled])")),
    )
    .await;
}

/// A passkey added on /me/security with a virtual authenticator, then a
/// sign-in with it alone, then as the second step after the password;
/// screenshots of the security page with the passkey listed and of the
/// second-step page, at both widths.
#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn a_person_adds_a_passkey_and_signs_in_with_it() {
    require_browser();
    // WebAuthn wants a domain for its relying party, not an IP address:
    // the browser opens http://localhost:PORT (a secure context), and
    // --public-url says so.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let base = format!("http://localhost:{port}");
    let dir = tempfile::tempdir().expect("a server folder");
    let database = format!("sqlite://{}", dir.path().join("auth.db").display());
    let bind = format!("127.0.0.1:{port}");
    let _server = Server::launch(
        dir.path(),
        &[
            "--bind",
            &bind,
            "--database",
            &database,
            "--public-url",
            &base,
        ],
    );
    let (_driver, driver_port) = start_driver();
    let profile = tempfile::tempdir().expect("a browser profile folder");
    let browser = open_browser(driver_port, profile.path()).await;
    browser
        .issue_cmd(AddVirtualAuthenticator)
        .await
        .expect("a virtual authenticator");
    set_viewport(&browser, 1280, 900).await;
    let password = "Qw4#copper-lantern-meadow";

    sign_up(&browser, &base, "elodin", password).await;
    log_in(&browser, &base, "elodin", password).await;

    // Add a passkey on /me/security.
    click(&browser, Locator::LinkText("Security")).await;
    text_of(&browser, "#no-passkeys").await;
    fill(&browser, "passkey-name", "This laptop").await;
    fill(&browser, "passkey-add-password", password).await;
    click_passkey_button(&browser, "add-passkey").await;
    assert_eq!(
        text_after_navigation(&browser, ".passkey-name").await,
        "This laptop"
    );
    assert!(browser.find(Locator::Id("no-second-factor")).await.is_err());
    snap_both(&browser, "passkey-1-security-listed").await;

    // Log out; sign in with the passkey alone, no name typed.
    visit(&browser, &base, "/logout", "logout").await;
    visit(&browser, &base, "/login", "login page").await;
    click_passkey_button(&browser, "passkey-login").await;
    assert_eq!(text_after_navigation(&browser, "#whoami").await, "elodin");
    assert_eq!(path_of(&browser).await, "/me");

    // Log out; an application's authorization request sends the browser to
    // the login page (its login_hint in the name field), and the passkey
    // alone goes back to the request: the consent page.
    visit(&browser, &base, "/logout", "logout").await;
    let authorize = authorization_request(dir.path(), &database).await;
    visit(&browser, &base, &authorize, "authorize").await;
    assert_eq!(path_of(&browser).await, "/login");
    let hinted = browser
        .find(Locator::Id("username"))
        .await
        .expect("the name field")
        .prop("value")
        .await
        .expect("its value");
    assert_eq!(hinted.as_deref(), Some("elodin"));
    click_passkey_button(&browser, "passkey-login").await;
    // The button first: the login page's heading is there until the
    // script's navigation ends.
    assert_eq!(
        text_after_navigation(&browser, "button#allow").await,
        "Allow"
    );
    assert_eq!(text_of(&browser, "h1").await, "Allow The Archives?");
    assert_eq!(path_of(&browser).await, "/oauth/authorize");

    // Log out; the password now leads to the second step, done with the passkey.
    visit(&browser, &base, "/logout", "logout").await;
    visit(&browser, &base, "/login", "login page").await;
    fill(&browser, "username", "elodin").await;
    fill(&browser, "password", password).await;
    submit(&browser).await;
    text_of(&browser, "#passkey-second-step:not([hidden])").await;
    assert!(
        browser.find(Locator::Id("code")).await.is_err(),
        "no code field for an account with only a passkey"
    );
    snap_both(&browser, "passkey-2-second-step").await;
    click_passkey_button(&browser, "passkey-second-step").await;
    assert_eq!(text_after_navigation(&browser, "#whoami").await, "elodin");
    assert_eq!(path_of(&browser).await, "/me");

    // Remove it again (a plain form, with the password).
    visit(&browser, &base, "/me/security", "security").await;
    text_of(&browser, "li.passkey-item p").await;
    snap_both(&browser, "passkey-3-security-used").await;
    fill(&browser, "passkey-password-1", password).await;
    click(&browser, Locator::Css("li.passkey-item button.secondary")).await;
    // Not the script's hidden status line (also `.flash.notice`) of the page
    // the click leaves: found there, it goes stale as the next page loads.
    assert_eq!(
        text_after_navigation(&browser, ".flash.notice:not(#passkey-status)").await,
        "The passkey is removed."
    );
    text_of(&browser, "#no-passkeys").await;
    browser.close().await.expect("the browser closes");
}

/// Registers an application with the command line: the path and query of
/// an authorization request of it, with `login_hint=elodin`.
async fn authorization_request(dir: &std::path::Path, database: &str) -> String {
    let out = crate::common::Run::authd()
        .current_dir(dir)
        .args(["--database", database])
        .args([
            "client",
            "add",
            "The Archives",
            "--redirect-uri",
            "http://127.0.0.1:9/callback",
        ])
        .output();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let client_id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("client_id: "))
        .unwrap()
        .to_owned();
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", "http://127.0.0.1:9/callback")
        .append_pair("scope", "openid profile")
        .append_pair("state", "st-p")
        .append_pair("login_hint", "elodin")
        .append_pair(
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        )
        .append_pair("code_challenge_method", "S256");
    format!("/oauth/authorize?{}", query.finish())
}
