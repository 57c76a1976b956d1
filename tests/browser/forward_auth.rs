//! Forward authentication in a real browser: a person opens a page behind
//! nginx (the documented configuration), is sent to authd's login page,
//! logs in, and comes back to the page, which the application serves with
//! their name. authd at `auth.example.com`, the site at `app.example.com`
//! (Chromium maps both to this machine), `--cookie-domain example.com`
//! sharing the session between them.

use std::time::Duration;

use fantoccini::Locator;

use super::*;
use crate::common::{sqlite_url, Server};
use crate::forward_auth::{authd_ok, signed_up, PASSWORD};
use crate::proxies::{echo_application, free_port, listening, start_nginx};

#[tokio::test]
#[ignore = "needs chromium, chromium-driver and nginx"]
async fn a_person_is_sent_to_log_in_and_back_to_the_page_through_nginx() {
    require_browser();
    let dir = tempfile::tempdir().unwrap();
    let ports = [free_port(), free_port(), free_port()];
    let [site, authd_port, application] = ports;
    let public_url = format!("http://auth.example.com:{authd_port}");
    let bind = format!("127.0.0.1:{authd_port}");
    let database = sqlite_url(dir.path());
    let authd = Server::launch(
        dir.path(),
        &[
            "--bind",
            &bind,
            "--database",
            &database,
            "--trusted-proxy",
            "127.0.0.1",
            "--public-url",
            &public_url,
            "--cookie-domain",
            "example.com",
            "--ip-rate-limit",
            "off",
        ],
    );
    echo_application(application).await;
    let _nginx = start_nginx(dir.path(), ports);
    listening(site).await;
    signed_up(&authd, "alice").await;
    let host = format!("app.example.com:{site}");
    authd_ok(&authd, &database, &["site", "add", &host]);

    // example.com names this machine, and its two origins count as secure
    // (as https would be), so the Secure session cookie is kept.
    let (_driver, port) = start_driver();
    let profile = tempfile::tempdir().unwrap();
    let origins = format!("http://auth.example.com:{authd_port},http://{host}");
    let extra = [
        "--host-resolver-rules=MAP *.example.com 127.0.0.1".to_owned(),
        format!("--unsafely-treat-insecure-origin-as-secure={origins}"),
    ];
    let browser = open_browser_with(port, profile.path(), &extra).await;
    let page = format!("http://{host}/report?month=12");
    browser.goto(&page).await.expect("the protected page");
    // Sent to authd's login page, which knows where to come back.
    let login = browser.current_url().await.expect("a URL");
    assert_eq!(login.host_str(), Some("auth.example.com"), "{login}");
    assert_eq!(login.path(), "/login");
    fill(&browser, "username", "alice").await;
    fill(&browser, "password", PASSWORD).await;
    snap(&browser, "forward-auth-login").await;
    submit(&browser).await;
    // Back on the page, served by the application as alice.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while browser.current_url().await.expect("a URL").as_str() != page {
        if std::time::Instant::now() > deadline {
            let at = browser
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let source = browser.source().await.unwrap_or_default();
            panic!(
                "never back on {page}: at {at}:\n{source}\nauthd:\n{}",
                authd.stderr()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = browser
        .find(Locator::Css("body"))
        .await
        .expect("the page")
        .text()
        .await
        .expect("its text");
    assert!(seen.starts_with("GET /report?month=12 "), "{seen}");
    assert!(seen.contains("remote-user: alice"), "{seen}");
    snap(&browser, "forward-auth-page").await;
    let _ = browser.close().await;
}
