//! Signing up, logging in and out; resetting and changing the password,
//! and ending another browser's session.

use crate::common::Server;
use fantoccini::Locator;

use super::*;

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn a_person_signs_up_logs_in_and_logs_out() {
    require_browser();
    let server = Server::start(&[]);
    let base = server.base_url.clone();
    let (_driver, _port, _profile, browser) = desktop_browser().await;

    // Sign up.
    visit(&browser, &base, "/signup", "signup page").await;
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
    visit(&browser, &base, "/signup", "signup page").await;
    snap(&browser, "phone-1-signup").await;
    visit(&browser, &base, "/login", "login page").await;
    snap(&browser, "phone-2-login").await;
    log_in(&browser, &base, "kvothe", "3##Heel7sa*9-zRwT").await;
    snap(&browser, "phone-3-me").await;
    visit(&browser, &base, "/logout", "logout link").await;
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
    let (_driver, port, _profile, browser) = desktop_browser().await;
    let first = "Vq7#stone-harbor-kettle";
    let second = "Lk2!amber-violet-turtle";
    let third = "Zp5$quiet-meadow-lantern";

    // Sign up with an e-mail address.
    visit(&browser, &base, "/signup", "signup page").await;
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
    visit(&browser, &base, "/no/such/page", "an unknown path").await;
    assert_eq!(text_of(&browser, "h1").await, "Page not found");
    snap_both(&browser, "account-14-not-found").await;

    // Log out from the navigation.
    browser.goto(&format!("{base}/me")).await.expect("me page");
    click(&browser, Locator::Id("logout")).await;
    text_of(&browser, "form[action='/login']").await;
    assert_eq!(path_of(&browser).await, "/login");

    browser.close().await.expect("the browser closes");
}
