//! The web login in headless chromium over HTTPS, trusting the test CA.

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::Server;
use serde_json::json;

use super::*;

/// chromedriver, stopped when dropped.
struct Chromedriver(std::process::Child);

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The web login in headless Chromium over HTTPS. Chromium is made to trust
/// the test CA by its public key: `--ignore-certificate-errors-spki-list`
/// takes the base64 SHA-256 of a SubjectPublicKeyInfo, and accepts a chain
/// (here leaf + CA, as the server sends it) that holds that key. Unlike
/// `--ignore-certificate-errors` it accepts nothing else, which the test
/// shows with a certificate of another CA.
#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn the_web_login_in_headless_chromium_over_https_trusting_the_test_ca() {
    use base64::Engine as _;
    use fantoccini::{ClientBuilder, Locator};
    use sha2::Digest as _;

    const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
    const CHROMIUM: &str = "/usr/bin/chromium";
    assert!(
        Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
        "this test needs Debian's chromium and chromium-driver: {CHROMIUM}, {CHROMEDRIVER}"
    );
    let ca = TestCa::new("authd browser test CA");
    let files = tempfile::tempdir().unwrap();
    let leaf = ca.leaf();
    let chain = Leaf {
        cert_pem: format!("{}{}", leaf.cert_pem, ca.cert_pem()),
        key_pem: leaf.key_pem,
    };
    let (cert, key) = write_pair(files.path(), &chain);
    let server = Server::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "--cookie-name",
        "__Host-session",
    ]);
    let base = server.base_url.replace("127.0.0.1", "localhost");
    let ca_pin =
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(ca.public_key_der()));

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let _driver = Chromedriver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    let profile = tempfile::tempdir().unwrap();
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), "chrome".into());
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", profile.path().display()),
                format!("--ignore-certificate-errors-spki-list={ca_pin}"),
            ]
        }),
    );
    let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session");
    let text_of = |css: &'static str| {
        let browser = browser.clone();
        async move {
            let element = browser
                .wait()
                .at_most(Duration::from_secs(10))
                .for_element(Locator::Css(css))
                .await
                .unwrap_or_else(|e| panic!("{css}: {e}"));
            element.text().await.unwrap()
        }
    };
    let fill = |id: &'static str, text: &'static str| {
        let browser = browser.clone();
        async move {
            browser
                .find(Locator::Id(id))
                .await
                .unwrap_or_else(|e| panic!("field {id}: {e}"))
                .send_keys(text)
                .await
                .unwrap();
        }
    };
    let submit = || {
        let browser = browser.clone();
        async move {
            browser
                .find(Locator::Css("button[type=submit]"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
        }
    };

    browser.goto(&format!("{base}/signup")).await.unwrap();
    fill("username", "kvothe").await;
    fill("password", "3##Heel7sa*9-zRwT").await;
    submit().await;
    assert_eq!(
        text_of(".flash.notice").await,
        "Account created, please log in"
    );
    fill("username", "kvothe").await;
    fill("password", "3##Heel7sa*9-zRwT").await;
    submit().await;
    assert_eq!(text_of("#whoami").await, "kvothe");
    let url = browser.current_url().await.unwrap();
    assert_eq!((url.scheme(), url.path()), ("https", "/me"));
    browser.refresh().await.unwrap();
    assert_eq!(text_of("#whoami").await, "kvothe");
    browser.goto(&format!("{base}/logout")).await.unwrap();
    browser.goto(&format!("{base}/me")).await.unwrap();
    assert_eq!(browser.current_url().await.unwrap().path(), "/login");

    // The pin trusts that CA only: a server with another CA's certificate
    // is refused (an interstitial, never the login page).
    let stranger_ca = TestCa::new("a CA the browser does not trust");
    let stranger_files = tempfile::tempdir().unwrap();
    let (cert, key) = write_pair(stranger_files.path(), &stranger_ca.leaf());
    let stranger = Server::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let _ = browser
        .goto(&format!(
            "{}/login",
            stranger.base_url.replace("127.0.0.1", "localhost")
        ))
        .await;
    let source = browser.source().await.unwrap_or_default();
    assert!(
        !source.contains("csrf_token"),
        "the untrusted site's page was shown"
    );
    browser.close().await.unwrap();
    assert!(server.stop().success());
}
