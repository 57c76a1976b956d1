//! Forward authentication in a real browser: a person opens a page behind
//! nginx (the documented configuration), is sent to authd's login page,
//! logs in, and comes back to the page, which the application serves with
//! their name. authd at `http://localhost:A`, the site at
//! `http://localhost:S`: a `--public-url` that is `http://` beyond the
//! loopback is refused at start (the OpenID Connect issuer, contract §8), and
//! this walk has no TLS; the two ports share the host-only session cookie.
//! The login page and the site are still two origins, so the login form's
//! `form-action` must name the site's. `--cookie-domain` is checked in
//! tests/login_next.rs.

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
    let public_url = format!("http://localhost:{authd_port}");
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
            "--ip-rate-limit",
            "off",
        ],
    );
    echo_application(application).await;
    let _nginx = start_nginx(dir.path(), ports);
    listening(site).await;
    signed_up(&authd, "alice").await;
    let host = format!("localhost:{site}");
    authd_ok(&authd, &database, &["site", "add", &host]);

    // localhost origins count as secure (as https would be), so the Secure
    // session cookie is kept.
    let (_driver, port) = start_driver();
    let profile = tempfile::tempdir().unwrap();
    let browser = open_browser_with(port, profile.path(), &[]).await;
    let page = format!("http://{host}/report?month=12");
    browser.goto(&page).await.expect("the protected page");
    // Sent to authd's login page, which knows where to come back.
    let login = browser.current_url().await.expect("a URL");
    assert_eq!(login.port(), Some(authd_port), "{login}");
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
