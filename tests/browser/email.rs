//! The account pages of docs/contract/10-email.md in a browser, with the
//! real SMTP conversation of `smtp_reset.rs`: sign up with an address,
//! verify it from the mail, change it, and see the notice; screenshots of
//! each new page and of a notice at both widths.

use crate::common::{sqlite_url, Server};
use crate::email::next_mail;
use crate::smtp_reset::{fake_smtp, readable, Mail};
use fantoccini::Locator;

use super::*;

const PASSWORD: &str = "3##Heel7sa*9-zRwT";

/// The link of `path` (`/verify-email?token=`) in a mail, as a path.
fn link_path(mail: &Mail, base: &str, path: &str) -> String {
    readable(&mail.data)
        .lines()
        .map(str::trim)
        .find_map(|line| {
            line.strip_prefix(base)
                .filter(|rest| rest.starts_with(path))
        })
        .unwrap_or_else(|| panic!("no {path} link in:\n{}", mail.data))
        .to_owned()
}

/// The HTML part of a mail, decoded.
fn html_part(mail: &Mail) -> String {
    let text = readable(&mail.data);
    let start = text.find("<!DOCTYPE html>").expect("an HTML part");
    let end = text[start..].find("</html>").expect("the end of the HTML") + start + 7;
    text[start..end].to_owned()
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn a_person_verifies_an_address_and_changes_it() {
    require_browser();
    let (smtp_port, mut mails) = fake_smtp().await;
    let port = crate::proxies::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().expect("a folder");
    let database = sqlite_url(dir.path());
    let bind = format!("127.0.0.1:{port}");
    let smtp = format!("smtp://127.0.0.1:{smtp_port}");
    let server = Server::launch(
        dir.path(),
        &[
            "--bind",
            &bind,
            "--database",
            &database,
            "--reset-delivery",
            "smtp",
            "--smtp-url",
            &smtp,
            "--public-url",
            &base,
        ],
    );
    let (_driver, _port, _profile, browser) = desktop_browser().await;

    // Sign up with an address; the mail holds the link.
    visit(&browser, &base, "/signup", "signup page").await;
    fill(&browser, "username", "kvothe").await;
    fill(&browser, "email", "kvothe@example.com").await;
    fill(&browser, "password", PASSWORD).await;
    submit(&browser).await;
    text_of(&browser, ".flash.notice").await;
    let mail = next_mail(&mut mails).await;
    assert_eq!(mail.recipients, ["kvothe@example.com"]);
    let link = link_path(&mail, &base, "/verify-email?token=");

    // /me says it is not verified yet, and offers the link again.
    log_in(&browser, &base, "kvothe", PASSWORD).await;
    assert_eq!(text_of(&browser, "#email-state").await, "not verified yet");
    text_of(&browser, "#resend").await;
    snap_both(&browser, "email-1-me-unverified").await;

    // The link shows a button; pressing it verifies.
    visit(&browser, &base, &link, "the verification link").await;
    assert_eq!(text_of(&browser, "#address").await, "kvothe@example.com");
    snap_both(&browser, "email-2-verify-button").await;
    click(&browser, Locator::Id("confirm")).await;
    text_of(&browser, "#verified").await;
    snap_both(&browser, "email-3-verified").await;
    visit(&browser, &base, "/me", "me page").await;
    assert_eq!(text_of(&browser, "#email-state").await, "verified");

    // A used link says so.
    visit(&browser, &base, &link, "the used link").await;
    text_of(&browser, "#invalid").await;
    snap_both(&browser, "email-4-used-link").await;

    // Change the address: the form, then the link at the new address.
    visit(&browser, &base, "/me/email", "e-mail page").await;
    snap_both(&browser, "email-5-change-form").await;
    fill(&browser, "email", "kvothe@new.example.com").await;
    fill(&browser, "current_password", PASSWORD).await;
    submit_main(&browser).await;
    assert_eq!(path_of(&browser).await, "/me");
    assert_eq!(
        text_of(&browser, "#pending-email").await,
        "kvothe@new.example.com"
    );
    assert_eq!(text_of(&browser, "#email").await, "kvothe@example.com");
    snap_both(&browser, "email-6-me-pending").await;
    let mail = next_mail(&mut mails).await;
    assert_eq!(mail.recipients, ["kvothe@new.example.com"]);
    let link = link_path(&mail, &base, "/verify-email?token=");
    visit(&browser, &base, &link, "the change link").await;
    click(&browser, Locator::Id("confirm")).await;
    text_of(&browser, "#verified").await;
    visit(&browser, &base, "/me", "me page").await;
    assert_eq!(text_of(&browser, "#email").await, "kvothe@new.example.com");

    // The notice at the old address, as a mail reader shows its HTML part.
    let notice = next_mail(&mut mails).await;
    assert_eq!(notice.recipients, ["kvothe@example.com"]);
    let html = html_part(&notice);
    assert!(html.contains("kvothe@new.example.com"), "{html}");
    let file = dir.path().join("notice.html");
    std::fs::write(&file, &html).expect("the notice written");
    browser
        .goto(&format!("file://{}", file.display()))
        .await
        .expect("the notice");
    text_of(&browser, "h1").await;
    snap_both(&browser, "email-7-notice-email-changed").await;

    browser.close().await.expect("the browser closes");
    drop(server);
}
