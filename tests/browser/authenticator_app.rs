//! An authenticator app set up on /me/security, then a login that asks for
//! its code.

use crate::common::Server;
use fantoccini::Locator;

use super::*;

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
    let (_driver, _port, _profile, browser) = desktop_browser().await;
    let password = "Qw4#copper-lantern-meadow";

    sign_up(&browser, &base, "auri", password).await;
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
    visit(&browser, &base, "/me/security", "security").await;
    assert_eq!(
        text_of(&browser, "#codes-left").await,
        "10 recovery codes left."
    );
    snap_both(&browser, "mfa-3-security-on").await;

    // Log out; the password alone now leads to the code page.
    visit(&browser, &base, "/logout", "logout").await;
    visit(&browser, &base, "/login", "login page").await;
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
