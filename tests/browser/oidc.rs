//! An application's sign-in through authd in a real browser
//! (docs/contract/8-openid-connect.md): the authorization request sends a
//! stranger to the login page, the login comes back to it, the consent page
//! names the application, and Allow sends the browser to the application
//! with a code.

use crate::common::{sqlite_url, Run, Server};
use fantoccini::Locator;

use super::*;

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const PASSWORD: &str = "3##Heel7sa*9-zRwT";

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn a_person_signs_in_to_an_application_through_authd() {
    require_browser();
    let server = Server::start(&[]);
    let base = server.base_url.clone();
    let (_driver, _port, _profile, browser) = desktop_browser().await;
    sign_up(&browser, &base, "kvothe", PASSWORD).await;
    let out = Run::authd()
        .current_dir(&server.dir)
        .args(["--database", &sqlite_url(&server.dir)])
        .args(["client", "add", "The Archives", "--redirect-uri", REDIRECT])
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

    // The application sends the browser to authd; nobody is signed in.
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid profile")
        .append_pair("state", "st-1")
        .append_pair("nonce", "n-1")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    let authorize = format!("/oauth/authorize?{}", query.finish());
    visit(&browser, &base, &authorize, "authorize").await;
    assert_eq!(path_of(&browser).await, "/login");
    fill(&browser, "username", "kvothe").await;
    fill(&browser, "password", PASSWORD).await;
    submit(&browser).await;

    // Back at the request: the consent page names the application.
    // (The button first: the login page's heading may still be there.)
    assert_eq!(text_of(&browser, "button#allow").await, "Allow");
    let heading = text_of(&browser, "h1").await;
    assert_eq!(heading, "Allow The Archives?");
    snap(&browser, "desktop-oidc-consent").await;
    click(&browser, Locator::Id("allow")).await;

    // The application's redirect URI gets the code, the state and the issuer.
    check_landing(&browser, &base).await;

    // Signed out, then again: the consent is remembered, so the login form
    // leads (through /oauth/authorize) straight to the application, which
    // the login page's form-action must allow.
    visit(&browser, &base, "/logout", "logout").await;
    visit(&browser, &base, &authorize, "authorize again").await;
    assert_eq!(path_of(&browser).await, "/login");
    fill(&browser, "username", "kvothe").await;
    fill(&browser, "password", PASSWORD).await;
    submit(&browser).await;
    check_landing(&browser, &base).await;
    // Without this the browser outlives the test (ending the driver does
    // not end it): one was left running after a CI run.
    browser.close().await.expect("the browser closes");
}

/// Waits for the browser to reach the application's redirect URI, and
/// checks the code, state and issuer it brings.
async fn check_landing(browser: &fantoccini::Client, base: &str) {
    let mut landed = None;
    for _ in 0..100 {
        let url = browser.current_url().await.expect("a URL");
        if url.as_str().starts_with(REDIRECT) {
            landed = Some(url);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let Some(landed) = landed else {
        let url = browser.current_url().await.expect("a URL");
        panic!("the browser did not reach the application; it is at {url}");
    };
    let params: Vec<(String, String)> = landed
        .query_pairs()
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("state"), Some("st-1"));
    assert_eq!(get("iss"), Some(base));
    assert!(get("code").is_some_and(|code| code.len() == 43), "{landed}");
}
