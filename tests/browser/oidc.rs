//! The OpenID Connect code flow in a real browser (docs/contract/8-openid-connect.md):
//! an application sends a person to `/oauth/authorize`, authd sends them to
//! log in with `next`, the login goes back to the authorization request,
//! the consent page is answered, and the browser lands on the application's
//! redirect URI with a code. Browsers apply a page's `form-action` to the
//! redirects that follow its form, so this walk is what proves that the
//! login and consent pages let the browser reach the application.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use fantoccini::Locator;

use super::*;
use crate::common::{sqlite_url, Run, Server};
use crate::proxies::{echo_application, free_port};

const PASSWORD: &str = "correct horse battery staple";
const VERIFIER: &str = "browser-verifier-of-at-least-forty-three-characters-0123";

/// Registers a client with the CLI; its client_id.
fn add_client(server: &Server, redirect: &str, extra: &[&str]) -> String {
    let database = sqlite_url(&server.dir);
    let out = Run::authd()
        .current_dir(&server.dir)
        .args(["--database", &database, "client", "add", "Browser app"])
        .args(["--redirect-uri", redirect, "--public"])
        .args(extra)
        .output();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("client_id:"))
        .map(|v| v.trim().to_owned())
        .expect("client_id printed")
}

fn authorize_url(server: &Server, client_id: &str, redirect: &str) -> String {
    use sha2::Digest;
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(VERIFIER.as_bytes()));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", "openid profile")
        .append_pair("state", "st")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    server.url(&format!("/oauth/authorize?{query}"))
}

/// Waits until the browser is at the application's redirect URI.
async fn lands_on(browser: &fantoccini::Client, redirect: &str, server: &Server) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let at = browser
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default();
        if at.starts_with(redirect) {
            return at;
        }
        if std::time::Instant::now() > deadline {
            let source = browser.source().await.unwrap_or_default();
            panic!(
                "never on {redirect}: at {at}:\n{source}\nauthd:\n{}",
                server.stderr()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
#[ignore = "needs chromium and chromium-driver"]
async fn a_person_signs_in_to_an_application_through_login_and_consent() {
    require_browser();
    let server = Server::start(&["--password-min-length", "8"]);
    let database = sqlite_url(&server.dir);
    let out = Run::authd()
        .current_dir(&server.dir)
        .args([
            "--database",
            &database,
            "user",
            "add",
            "alice",
            "--password-stdin",
        ])
        .stdin(format!("{PASSWORD}\n"))
        .output();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let app_port = free_port();
    echo_application(app_port).await;
    let redirect = format!("http://127.0.0.1:{app_port}/cb");
    let asks_consent = add_client(&server, &redirect, &[]);
    let trusted = add_client(&server, &redirect, &["--trusted"]);

    let (_driver, port, _profile, browser) = desktop_browser().await;
    // Sent to log in; the login goes back to the request, which asks consent.
    browser
        .goto(&authorize_url(&server, &asks_consent, &redirect))
        .await
        .expect("the authorization request");
    assert_eq!(path_of(&browser).await, "/login");
    fill(&browser, "username", "alice").await;
    fill(&browser, "password", PASSWORD).await;
    submit(&browser).await;
    let allow = browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("allow"))
        .await
        .expect("the consent page");
    snap(&browser, "oidc-consent").await;
    allow.click().await.expect("allow");
    let at = lands_on(&browser, &redirect, &server).await;
    assert!(at.contains("code=") && at.contains("state=st"), "{at}");
    let _ = browser.close().await;

    // A trusted client: no consent, the login's form ends at the application.
    let profile = tempfile::tempdir().unwrap();
    let browser = open_browser(port, profile.path()).await;
    browser
        .goto(&authorize_url(&server, &trusted, &redirect))
        .await
        .expect("the authorization request");
    assert_eq!(path_of(&browser).await, "/login");
    fill(&browser, "username", "alice").await;
    fill(&browser, "password", PASSWORD).await;
    submit(&browser).await;
    let at = lands_on(&browser, &redirect, &server).await;
    assert!(at.contains("code=") && at.contains("state=st"), "{at}");
    let _ = browser.close().await;
}
