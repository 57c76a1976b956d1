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

use crate::common;

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
    set_viewport(&browser, 1280, 900).await;

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
    set_viewport(&browser, 390, 844).await;
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

/// The flows of a forgotten password, a changed one and a session ended
/// from another browser, with screenshots of every page at both widths.
#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn a_person_resets_changes_the_password_and_ends_another_session() {
    require_browser();
    let server = Server::start(&["--reset-delivery", "log"]);
    let base = server.base_url.clone();
    let (_driver, port) = start_driver();
    let profile = tempfile::tempdir().expect("a browser profile folder");
    let browser = open_browser(port, profile.path()).await;
    set_viewport(&browser, 1280, 900).await;
    let first = "Vq7#stone-harbor-kettle";
    let second = "Lk2!amber-violet-turtle";
    let third = "Zp5$quiet-meadow-lantern";

    // Sign up with an e-mail address.
    browser
        .goto(&format!("{base}/signup"))
        .await
        .expect("signup page");
    fill(&browser, "username", "denna").await;
    fill(&browser, "password", first).await;
    fill(&browser, "email", "denna@example.com").await;
    fill(&browser, "full_name", "Denna").await;
    snap_both(&browser, "account-01-signup-with-email").await;
    submit(&browser).await;
    assert_eq!(
        text_of(&browser, ".flash.notice").await,
        "Account created, please log in"
    );

    // Forget the password: the login page links to /forgot.
    click(&browser, Locator::LinkText("Forgot your password?")).await;
    text_of(&browser, "form[action='/forgot']").await;
    assert_eq!(path_of(&browser).await, "/forgot");
    snap_both(&browser, "account-02-forgot").await;
    fill(&browser, "username", "denna@example.com").await;
    submit(&browser).await;
    assert!(text_of(&browser, "#sent")
        .await
        .starts_with("If the account exists and has an e-mail address"));
    snap_both(&browser, "account-03-forgot-sent").await;

    // The link, from the server's log (delivery `log`).
    let stderr = server
        .stderr_once_it_holds("password reset token for denna")
        .await;
    let line = stderr
        .lines()
        .find(|l| l.contains("password reset token for denna"))
        .expect("the reset line")
        .to_owned();
    let path = line
        .split("(reset link: ")
        .nth(1)
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no link in {line:?}"))
        .to_owned();
    let raw_token = path
        .split("token=")
        .nth(1)
        .and_then(|t| t.split('.').next())
        .expect("a token")
        .to_owned();
    browser
        .goto(&format!("{base}{path}"))
        .await
        .expect("the reset link");
    assert_eq!(path_of(&browser).await, "/reset");
    snap_both(&browser, "account-04-reset").await;

    // A mistake first: the form again, the link still good.
    fill(&browser, "new_password", second).await;
    fill(&browser, "new_password_again", "not the same password").await;
    submit(&browser).await;
    assert_eq!(
        text_of(&browser, ".flash.error").await,
        "The two new passwords do not match."
    );
    snap_both(&browser, "account-05-reset-mismatch").await;
    fill(&browser, "new_password", second).await;
    fill(&browser, "new_password_again", second).await;
    submit(&browser).await;
    assert_eq!(
        text_of(&browser, ".flash.notice").await,
        "Password updated, please log in"
    );
    assert_eq!(path_of(&browser).await, "/login");
    snap_both(&browser, "account-06-login-password-updated").await;

    // The used link now says so and points to /forgot.
    browser
        .goto(&format!("{base}{path}"))
        .await
        .expect("the used link");
    assert!(text_of(&browser, "#invalid")
        .await
        .contains("already been used"));
    snap_both(&browser, "account-07-reset-link-used").await;
    // The token reached the log once, on its own line, never in a request line.
    let stderr = server.stderr();
    let with_token: Vec<&str> = stderr.lines().filter(|l| l.contains(&raw_token)).collect();
    assert_eq!(with_token.len(), 1, "{with_token:?}");
    assert!(with_token[0].contains("password reset token for denna"));

    // Log in with the new password; change it on /me/password.
    log_in(&browser, &base, "denna", second).await;
    click(&browser, Locator::LinkText("Password")).await;
    text_of(&browser, "form[action='/me/password']").await;
    assert_eq!(path_of(&browser).await, "/me/password");
    snap_both(&browser, "account-08-password").await;
    fill(&browser, "current_password", "not the password at all").await;
    fill(&browser, "new_password", third).await;
    fill(&browser, "new_password_again", third).await;
    submit_main(&browser).await;
    assert_eq!(
        text_of(&browser, ".flash.error").await,
        "The current password is wrong."
    );
    snap_both(&browser, "account-09-password-wrong").await;
    fill(&browser, "current_password", second).await;
    fill(&browser, "new_password", third).await;
    fill(&browser, "new_password_again", third).await;
    submit_main(&browser).await;
    assert_eq!(text_of(&browser, ".flash.notice").await, "Password changed");
    assert_eq!(path_of(&browser).await, "/me");
    snap_both(&browser, "account-10-me-password-changed").await;

    // A second browser logs in; the first ends that session on /me/sessions.
    let other_profile = tempfile::tempdir().expect("a second profile folder");
    let other = open_browser(port, other_profile.path()).await;
    other.set_window_size(1280, 900).await.expect("size");
    log_in(&other, &base, "denna", third).await;
    click(&browser, Locator::LinkText("Sessions")).await;
    text_of(&browser, "ul.sessions").await;
    assert_eq!(path_of(&browser).await, "/me/sessions");
    assert_eq!(text_of(&browser, ".current .badge").await, "This session");
    snap_both(&browser, "account-11-sessions").await;
    click(&browser, Locator::Css("form[action$='/end'] button")).await;
    assert_eq!(
        text_of(&browser, ".flash.notice").await,
        "The session has ended."
    );
    snap_both(&browser, "account-12-sessions-ended").await;
    other.refresh().await.expect("reload");
    assert_eq!(
        path_of(&other).await,
        "/login",
        "the ended session is back at /login"
    );
    other.close().await.expect("the second browser closes");

    // The security page, and an unknown path's HTML 404.
    click(&browser, Locator::LinkText("Security")).await;
    assert_eq!(
        text_of(&browser, "#no-second-factor").await,
        "No second factor is set up yet."
    );
    snap_both(&browser, "account-13-security").await;
    browser
        .goto(&format!("{base}/no/such/page"))
        .await
        .expect("an unknown path");
    assert_eq!(text_of(&browser, "h1").await, "Page not found");
    snap_both(&browser, "account-14-not-found").await;

    // Log out from the navigation.
    browser.goto(&format!("{base}/me")).await.expect("me page");
    click(&browser, Locator::Id("logout")).await;
    text_of(&browser, "form[action='/login']").await;
    assert_eq!(path_of(&browser).await, "/login");

    browser.close().await.expect("the browser closes");
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

/// RFC 6238 (HMAC-SHA1, six digits, 30-second steps) at now + `offset` seconds.
fn totp_now(secret: &[u8], offset: i64) -> String {
    use hmac::{Hmac, Mac};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).unwrap();
    mac.update(&(((now + offset) / 30) as u64).to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let at = (digest[19] & 0x0f) as usize;
    let binary = u32::from_be_bytes([
        digest[at] & 0x7f,
        digest[at + 1],
        digest[at + 2],
        digest[at + 3],
    ]);
    format!("{:06}", binary % 1_000_000)
}

/// An authenticator app set up on /me/security (the QR code and the key),
/// then a login that asks for its code; screenshots of both at both widths.
#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn a_person_sets_up_an_authenticator_app_and_logs_in_with_it() {
    require_browser();
    let server = Server::start(&[]);
    let base = server.base_url.clone();
    let (_driver, port) = start_driver();
    let profile = tempfile::tempdir().expect("a browser profile folder");
    let browser = open_browser(port, profile.path()).await;
    set_viewport(&browser, 1280, 900).await;
    let password = "Qw4#copper-lantern-meadow";

    browser
        .goto(&format!("{base}/signup"))
        .await
        .expect("signup page");
    fill(&browser, "username", "auri").await;
    fill(&browser, "password", password).await;
    submit(&browser).await;
    text_of(&browser, ".flash.notice").await;
    log_in(&browser, &base, "auri", password).await;

    click(&browser, Locator::LinkText("Security")).await;
    click(&browser, Locator::Id("start-totp")).await;
    let secret = text_of(&browser, "#totp-secret").await;
    assert!(browser.find(Locator::Css("figure.qr svg")).await.is_ok());
    snap_both(&browser, "mfa-1-security-enrol").await;
    let secret = data_encoding::BASE32_NOPAD
        .decode(secret.as_bytes())
        .expect("a base32 key");
    fill(&browser, "code", &totp_now(&secret, 0)).await;
    browser
        .find(Locator::Css(
            "form[action='/me/security/totp/confirm'] button",
        ))
        .await
        .expect("the confirm button")
        .click()
        .await
        .expect("click");
    text_of(&browser, "#recovery-codes").await;
    let codes = browser
        .find_all(Locator::Css("#recovery-codes li code"))
        .await
        .expect("the codes");
    assert_eq!(codes.len(), 10);
    snap_both(&browser, "mfa-2-security-codes").await;
    browser
        .goto(&format!("{base}/me/security"))
        .await
        .expect("security");
    assert_eq!(
        text_of(&browser, "#codes-left").await,
        "10 recovery codes left."
    );
    snap_both(&browser, "mfa-3-security-on").await;

    // Log out; the password alone now leads to the code page.
    browser
        .goto(&format!("{base}/logout"))
        .await
        .expect("logout");
    browser
        .goto(&format!("{base}/login"))
        .await
        .expect("login page");
    fill(&browser, "username", "auri").await;
    fill(&browser, "password", password).await;
    submit(&browser).await;
    text_of(&browser, "form[action='/login/code']").await;
    snap_both(&browser, "mfa-4-second-step").await;
    fill(&browser, "code", "000000").await;
    submit(&browser).await;
    assert_eq!(
        text_of(&browser, ".flash.error").await,
        "That code is wrong, expired or already used."
    );
    snap_both(&browser, "mfa-5-second-step-wrong").await;
    fill(&browser, "code", &totp_now(&secret, 30)).await;
    submit(&browser).await;
    assert_eq!(text_of(&browser, "#whoami").await, "auri");
    assert_eq!(path_of(&browser).await, "/me");
    browser.close().await.expect("the browser closes");
}

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

    browser
        .goto(&format!("{base}/signup"))
        .await
        .expect("signup page");
    fill(&browser, "username", "elodin").await;
    fill(&browser, "password", password).await;
    submit(&browser).await;
    text_of(&browser, ".flash.notice").await;
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
    browser
        .goto(&format!("{base}/logout"))
        .await
        .expect("logout");
    browser
        .goto(&format!("{base}/login"))
        .await
        .expect("login page");
    click_passkey_button(&browser, "passkey-login").await;
    assert_eq!(text_after_navigation(&browser, "#whoami").await, "elodin");
    assert_eq!(path_of(&browser).await, "/me");

    // Log out; the password now leads to the second step, done with the passkey.
    browser
        .goto(&format!("{base}/logout"))
        .await
        .expect("logout");
    browser
        .goto(&format!("{base}/login"))
        .await
        .expect("login page");
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
    browser
        .goto(&format!("{base}/me/security"))
        .await
        .expect("security");
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
