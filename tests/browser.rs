//! A person's walk through the website in headless Chromium, against the
//! real `authd`: sign up, log in, see /me, reload it, log out, and be turned
//! away from /me. Screenshots of each page, at a desktop and a phone width,
//! go to `target/browser-screenshots/` for a person to look at.
//!
//! Needs Debian's `chromium` and `chromium-driver`: an ignored test, with its
//! reason in `cargo test`'s summary; CI runs it with `--include-ignored`,
//! and it fails when either program is missing.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Server;
use fantoccini::{Client, ClientBuilder, Locator};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver, stopped when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Fails the test when chromium or chromedriver is missing.
fn require_browser() {
    assert!(
        Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
        "the browser test needs Debian's chromium and chromium-driver \
         (apt-get install chromium chromium-driver): {CHROMIUM}, {CHROMEDRIVER}"
    );
}

fn start_driver() -> (Driver, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    (Driver(child), port)
}

async fn open_browser(port: u16, profile: &Path) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), "chrome".into());
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                format!("--user-data-dir={}", profile.display()),
            ]
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session")
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("browser-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

async fn snap(browser: &Client, name: &str) {
    let png = browser.screenshot().await.expect("a screenshot");
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).expect("screenshot written");
}

async fn fill(browser: &Client, field: &str, text: &str) {
    browser
        .find(Locator::Id(field))
        .await
        .unwrap_or_else(|e| panic!("field {field}: {e}"))
        .send_keys(text)
        .await
        .expect("typing");
}

async fn submit(browser: &Client) {
    browser
        .find(Locator::Css("button[type=submit]"))
        .await
        .expect("a submit button")
        .click()
        .await
        .expect("click");
}

async fn path_of(browser: &Client) -> String {
    browser
        .current_url()
        .await
        .expect("a URL")
        .path()
        .to_owned()
}

async fn text_of(browser: &Client, css: &str) -> String {
    let found = browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await;
    match found {
        Ok(element) => element.text().await.expect("text"),
        Err(e) => {
            let url = browser
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let source = browser.source().await.unwrap_or_default();
            panic!("{css}: {e}\nat {url}:\n{source}");
        }
    }
}

async fn log_in(browser: &Client, base: &str, username: &str, password: &str) {
    browser
        .goto(&format!("{base}/login"))
        .await
        .expect("login page");
    fill(browser, "username", username).await;
    fill(browser, "password", password).await;
    submit(browser).await;
    assert_eq!(text_of(browser, "#whoami").await, username);
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn a_person_signs_up_logs_in_and_logs_out() {
    require_browser();
    let server = Server::start(&[]);
    let base = server.base_url.clone();
    let (_driver, port) = start_driver();
    let profile = tempfile::tempdir().expect("a browser profile folder");
    let browser = open_browser(port, profile.path()).await;
    browser
        .set_window_size(1280, 900)
        .await
        .expect("desktop size");

    // Sign up.
    browser
        .goto(&format!("{base}/signup"))
        .await
        .expect("signup page");
    snap(&browser, "desktop-1-signup").await;
    fill(&browser, "username", "kvothe").await;
    fill(&browser, "password", "3##Heel7sa*9-zRwT").await;
    fill(&browser, "full_name", "Patrick Rothfuss").await;
    fill(&browser, "mothers_favorite_search_engine", "Duck Duck Go").await;
    submit(&browser).await;
    assert_eq!(
        text_of(&browser, ".flash.notice").await,
        "Account created, please log in"
    );
    assert_eq!(path_of(&browser).await, "/login");
    snap(&browser, "desktop-2-login-after-signup").await;

    // Log in, see /me, reload it.
    fill(&browser, "username", "kvothe").await;
    fill(&browser, "password", "3##Heel7sa*9-zRwT").await;
    submit(&browser).await;
    assert_eq!(text_of(&browser, "#whoami").await, "kvothe");
    assert_eq!(path_of(&browser).await, "/me");
    assert_eq!(text_of(&browser, "#full_name").await, "Patrick Rothfuss");
    snap(&browser, "desktop-3-me").await;
    browser.refresh().await.expect("reload");
    assert_eq!(text_of(&browser, "#whoami").await, "kvothe");

    // Log out, land on /login, and /me is closed.
    browser
        .find(Locator::Id("logout"))
        .await
        .expect("a logout button")
        .click()
        .await
        .expect("click");
    text_of(&browser, "form[action='/login']").await;
    assert_eq!(path_of(&browser).await, "/login");
    snap(&browser, "desktop-4-after-logout").await;
    browser.goto(&format!("{base}/me")).await.expect("me page");
    assert_eq!(
        path_of(&browser).await,
        "/login",
        "/me sends strangers to /login"
    );

    // A wrong password shows the one generic message.
    fill(&browser, "username", "kvothe").await;
    fill(&browser, "password", "not the password at all").await;
    submit(&browser).await;
    assert_eq!(
        text_of(&browser, ".flash.error").await,
        "Wrong username or password."
    );
    snap(&browser, "desktop-5-login-failed").await;

    // The same pages at a phone's width.
    browser.set_window_size(390, 844).await.expect("phone size");
    browser
        .goto(&format!("{base}/signup"))
        .await
        .expect("signup page");
    snap(&browser, "phone-1-signup").await;
    browser
        .goto(&format!("{base}/login"))
        .await
        .expect("login page");
    snap(&browser, "phone-2-login").await;
    log_in(&browser, &base, "kvothe", "3##Heel7sa*9-zRwT").await;
    snap(&browser, "phone-3-me").await;
    browser
        .goto(&format!("{base}/logout"))
        .await
        .expect("logout link");
    assert_eq!(
        path_of(&browser).await,
        "/login",
        "navigating to /logout logs out"
    );
    browser.goto(&format!("{base}/me")).await.expect("me page");
    assert_eq!(path_of(&browser).await, "/login");

    browser.close().await.expect("the browser closes");
}
