//! A person's walk through the website in headless Chromium, against the
//! real `authd`: sign up, log in, see /me, reload it, log out, and be turned
//! away from /me; then forget the password, reset it from the logged link,
//! change it, and end another browser's session. Screenshots of each page,
//! at a desktop (1280×900) and a phone (390×844) viewport, go to
//! `target/browser-screenshots/` for a person to look at.
//!
//! Needs Debian's `chromium` and `chromium-driver`: an ignored test, with its
//! reason in `cargo test`'s summary; CI runs it with `--include-ignored`,
//! and it fails when either program is missing.

mod accounts;
mod authenticator_app;
mod email;
mod forward_auth;
mod oidc;
mod oidc_apache;
mod passkeys;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
    open_browser_with(port, profile, &[]).await
}

/// [`open_browser`] with more Chromium switches.
async fn open_browser_with(port: u16, profile: &Path, extra: &[String]) -> Client {
    let mut args: Vec<String> = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    args.extend_from_slice(extra);
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), "chrome".into());
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": args,
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

/// chromedriver and a browser of its own (a fresh profile folder) at a
/// desktop's viewport; the driver's port serves further browsers.
async fn desktop_browser() -> (Driver, u16, tempfile::TempDir, Client) {
    let (driver, port) = start_driver();
    let profile = tempfile::tempdir().expect("a browser profile folder");
    let browser = open_browser(port, profile.path()).await;
    set_viewport(&browser, 1280, 900).await;
    (driver, port, profile, browser)
}

/// Opens `path` of the site at `base`; `what` names the page if it fails.
async fn visit(browser: &Client, base: &str, path: &str, what: &str) {
    browser.goto(&format!("{base}{path}")).await.expect(what);
}

/// Signs up with a username and a password only, and waits for the notice.
async fn sign_up(browser: &Client, base: &str, username: &str, password: &str) {
    visit(browser, base, "/signup", "signup page").await;
    fill(browser, "username", username).await;
    fill(browser, "password", password).await;
    submit(browser).await;
    text_of(browser, ".flash.notice").await;
}

async fn log_in(browser: &Client, base: &str, username: &str, password: &str) {
    visit(browser, base, "/login", "login page").await;
    fill(browser, "username", username).await;
    fill(browser, "password", password).await;
    submit(browser).await;
    assert_eq!(text_of(browser, "#whoami").await, username);
}

/// Screenshots of the page as it is at a desktop's (1280×900) and at a
/// phone's (390×844) viewport.
async fn snap_both(browser: &Client, name: &str) {
    set_viewport(browser, 390, 844).await;
    snap(browser, &format!("{name}-phone")).await;
    set_viewport(browser, 1280, 900).await;
    snap(browser, &format!("{name}-desktop")).await;
}

/// Sizes the window so that the page itself gets `width`×`height`, whatever
/// the browser's own frame takes.
async fn set_viewport(browser: &Client, width: u32, height: u32) {
    browser
        .set_window_size(width, height)
        .await
        .expect("window size");
    let inner = browser
        .execute("return [window.innerWidth, window.innerHeight];", vec![])
        .await
        .expect("the viewport size");
    let inner_width = inner[0].as_u64().expect("a width") as u32;
    let inner_height = inner[1].as_u64().expect("a height") as u32;
    browser
        .set_window_size(
            width + width.saturating_sub(inner_width),
            height + height.saturating_sub(inner_height),
        )
        .await
        .expect("window size");
}

async fn click(browser: &Client, locator: Locator<'_>) {
    browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(locator)
        .await
        .expect("the element to click")
        .click()
        .await
        .expect("click");
}

/// Sends the page's own form, not the log-out button of the navigation.
async fn submit_main(browser: &Client) {
    click(browser, Locator::Css("main button[type=submit]")).await;
}
