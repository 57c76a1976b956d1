//! Owning an e-mail address (docs/contract/10-email.md) through the real
//! binary: a real SMTP conversation with the in-process sink of
//! `smtp_reset.rs` (sign up, receive the link, verify, change the address,
//! the notice at the old address, each notice once with its facts, no token
//! in any log line), and the attacks: a pre-registered address, a reused
//! link, a link opened by another signed-in account, `/forgot` for verified
//! and unverified addresses, `--require-verified-email`.

use crate::common;
use crate::smtp_reset::{
    body, fake_smtp, form_page, readable, register, smtp_server_args, start, Mail, PASSWORD,
    PUBLIC_URL,
};

use std::time::{Duration, Instant};

use common::{client, sqlite_url, Run, Server};
use reqwest::StatusCode;
use serde_json::json;
use tokio::sync::mpsc::UnboundedReceiver;

const EMAIL: &str = "walker@example.com";
const NEW_EMAIL: &str = "walker.new@example.com";
const AGENT: &str = "WalkBrowser/1.0 (test)";

/// The next mail, within 10 s.
pub(crate) async fn next_mail(mails: &mut UnboundedReceiver<Mail>) -> Mail {
    tokio::time::timeout(Duration::from_secs(10), mails.recv())
        .await
        .expect("a mail within 10 s")
        .expect("the SMTP server is running")
}

/// The subject line of a mail.
fn subject(mail: &Mail) -> String {
    mail.data
        .lines()
        .find_map(|line| line.strip_prefix("Subject: "))
        .unwrap_or_default()
        .to_owned()
}

/// The verification link of a mail (the line that is nothing but one).
fn verification_link(mail: &Mail) -> String {
    readable(&mail.data)
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with(&format!("{PUBLIC_URL}/verify-email?token=")))
        .unwrap_or_else(|| panic!("no verification link in:\n{}", mail.data))
        .to_owned()
}

/// Opens a verification link as a browser does (the GET shows a button and
/// uses nothing) and presses the button; `cookie` is a signed-in browser's.
async fn open_and_confirm(
    server: &Server,
    link: &str,
    cookie: Option<&str>,
) -> (StatusCode, String) {
    let path = link.strip_prefix(PUBLIC_URL).unwrap_or(link);
    let (csrf, pre_session, html) = form_page(&server.url(path), None).await;
    assert!(html.contains("id=\"confirm\""), "{html}");
    let token = path.split_once("token=").unwrap().1;
    let cookies = match cookie {
        Some(session) => format!("{pre_session}; {session}"),
        None => pre_session,
    };
    let response = client()
        .post(server.url("/verify-email"))
        .header("Cookie", cookies)
        .form(&[("csrf_token", csrf.as_str()), ("token", token)])
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

/// Receives the verification mail sent to `address` and verifies through the pages.
pub(crate) async fn verify_from_mail(
    server: &Server,
    mails: &mut UnboundedReceiver<Mail>,
    address: &str,
) {
    let mail = next_mail(mails).await;
    assert_eq!(mail.recipients, [address]);
    let (status, html) = open_and_confirm(server, &verification_link(&mail), None).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("id=\"verified\""), "{html}");
}

/// `authd user verify-email NAME` on the server's database.
pub(crate) fn operator_verify(server: &Server, name: &str) {
    let out = Run::authd()
        .args(["user", "verify-email", name, "--database"])
        .arg(sqlite_url(&server.dir))
        .output();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Logs in with the JSON API from `agent`; the session cookie.
async fn login(server: &Server, username: &str, password: &str, agent: &str) -> String {
    let response = client()
        .post(server.url("/sessions"))
        .header("User-Agent", agent)
        .form(&[("username", username), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let value = common::session_cookie(&response).expect("a session cookie");
    format!("session_id={value}")
}

async fn profile(server: &Server, cookie: &str) -> serde_json::Value {
    body(
        client()
            .get(server.url("/profile"))
            .header("Cookie", cookie)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn sign_up_verify_change_the_address_and_get_each_notice_once() {
    let (port, mut mails) = fake_smtp().await;
    let server = start(&smtp_server_args(port));
    register(
        &server,
        &[
            ("username", "walker"),
            ("email", EMAIL),
            ("password", PASSWORD),
        ],
    )
    .await;

    // The link: a mail of two forms, to the address given.
    let mail = next_mail(&mut mails).await;
    assert_eq!(mail.recipients, [EMAIL]);
    assert_eq!(subject(&mail), "Confirm your e-mail address");
    assert!(mail.data.contains("multipart/alternative"), "{}", mail.data);
    assert!(mail.data.contains("text/plain"), "{}", mail.data);
    assert!(mail.data.contains("text/html"), "{}", mail.data);
    let link = verification_link(&mail);
    let first_token = link.split_once("token=").unwrap().1.to_owned();
    // Opening it (a mail scanner) twice uses nothing; the button does.
    form_page(&server.url(link.strip_prefix(PUBLIC_URL).unwrap()), None).await;
    let (status, html) = open_and_confirm(&server, &link, None).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains(EMAIL), "{html}");
    // Used: a second press is refused, and the GET says so too.
    let path = link.strip_prefix(PUBLIC_URL).unwrap();
    let response = client().get(server.url(path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // A first login from a browser: a new device, told once.
    let cookie = login(&server, "walker", PASSWORD, AGENT).await;
    let notice = next_mail(&mut mails).await;
    assert_eq!(notice.recipients, [EMAIL]);
    assert_eq!(subject(&notice), "New sign-in to your account");
    let text = readable(&notice.data);
    for fact in ["walker", AGENT, "127.0.0.1", " UTC", "If this was you"] {
        assert!(text.contains(fact), "{fact} in {text}");
    }
    login(&server, "walker", PASSWORD, AGENT).await;
    assert_eq!(
        profile(&server, &cookie).await,
        json!({"email": EMAIL, "email_verified": true, "username": "walker"})
    );

    // A change of address: the link goes to the new one, which becomes the
    // account's only once it is used; the old one is told.
    let response = client()
        .post(server.url("/email"))
        .header("Cookie", &cookie)
        .header("User-Agent", AGENT)
        .form(&[("current_password", PASSWORD), ("email", NEW_EMAIL)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        body(response).await,
        json!({"email": NEW_EMAIL, "message": "verification link sent"})
    );
    let mail = next_mail(&mut mails).await;
    assert_eq!(mail.recipients, [NEW_EMAIL]);
    assert_eq!(profile(&server, &cookie).await["email"], EMAIL);
    let change_link = verification_link(&mail);
    let (status, html) = open_and_confirm(&server, &change_link, None).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let notice = next_mail(&mut mails).await;
    assert_eq!(notice.recipients, [EMAIL]);
    assert_eq!(
        subject(&notice),
        "The e-mail address of your account was changed"
    );
    assert!(readable(&notice.data).contains(NEW_EMAIL));
    assert_eq!(
        profile(&server, &cookie).await,
        json!({"email": NEW_EMAIL, "email_verified": true, "username": "walker"})
    );

    // A password change, then a reset: each told once, at the new address.
    let response = client()
        .post(server.url("/password"))
        .header("Cookie", &cookie)
        .header("User-Agent", AGENT)
        .form(&[
            ("current_password", PASSWORD),
            ("new_password", "saffron-gable-otter"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let notice = next_mail(&mut mails).await;
    assert_eq!(
        (notice.recipients.clone(), subject(&notice)),
        (
            vec![NEW_EMAIL.to_owned()],
            "Your password was changed".to_owned()
        )
    );
    let response = client()
        .post(server.url("/reset_password"))
        .form(&[("email", NEW_EMAIL)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let reset_mail = next_mail(&mut mails).await;
    let reset_link = readable(&reset_mail.data)
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with(&format!("{PUBLIC_URL}/reset?token=")))
        .expect("a reset link")
        .to_owned();
    let reset_token = reset_link
        .split_once("token=")
        .unwrap()
        .1
        .split('.')
        .next()
        .unwrap()
        .to_owned();
    let response = client()
        .put(server.url("/reset_password"))
        .form(&[
            ("email", NEW_EMAIL),
            ("reset_token", reset_token.as_str()),
            ("new_password", "orbital-pancake-lantern"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let notice = next_mail(&mut mails).await;
    assert_eq!(subject(&notice), "Your password was reset");

    // Nothing else: each notice once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(mails.try_recv().is_err(), "no other mail");

    // No token of any kind in any log line.
    let stderr = server.stderr_once_it_holds("e-mail notice sent").await;
    let change_token = change_link.split_once("token=").unwrap().1;
    for secret in [first_token.as_str(), change_token, reset_token.as_str()] {
        assert!(!stderr.contains(secret), "a token in the log:\n{stderr}");
    }
}

#[tokio::test]
async fn a_pre_registered_address_gets_no_reset_and_forgot_answers_alike() {
    let (port, mut mails) = fake_smtp().await;
    // Timing rounds, not a flood: the per-address limit is off.
    let mut args = smtp_server_args(port);
    args.extend(["--ip-rate-limit".to_owned(), "off".to_owned()]);
    let server = start(&args);
    // Mallory registers the victim's address; the victim's mailbox gets a link it ignores.
    register(
        &server,
        &[
            ("username", "mallory"),
            ("email", "victim@example.com"),
            ("password", PASSWORD),
        ],
    )
    .await;
    let ignored = next_mail(&mut mails).await;
    assert_eq!(ignored.recipients, ["victim@example.com"]);
    // A verified account beside it.
    register(
        &server,
        &[
            ("username", "walker"),
            ("email", EMAIL),
            ("password", PASSWORD),
        ],
    )
    .await;
    verify_from_mail(&server, &mut mails, EMAIL).await;

    // JSON: the same answer, and nothing is sent to the unverified address.
    let response = client()
        .post(server.url("/reset_password"))
        .form(&[("email", "victim@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        body(response).await,
        json!({"email": "victim@example.com", "message": "reset token sent"})
    );

    // A figure, not a rule: the JSON route waits for the mail server when
    // there is a mail to send (its 503 says when the send failed), so an
    // unverified address answers sooner (docs/contract/10-email.md).
    let mut json_times = [Vec::new(), Vec::new()];
    for _ in 0..5 {
        for (which, name) in ["victim@example.com", EMAIL].into_iter().enumerate() {
            let started = Instant::now();
            let response = client()
                .post(server.url("/reset_password"))
                .form(&[("email", name)])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            json_times[which].push(started.elapsed());
        }
    }
    for series in &mut json_times {
        series.sort();
    }
    eprintln!(
        "POST /reset_password median: unverified {:?}, verified {:?}",
        json_times[0][2], json_times[1][2]
    );

    // The website: the same page, in the same time, verified or not.
    let (token, cookie, _) = form_page(&server.url("/forgot"), None).await;
    let mut pages = Vec::new();
    let mut times = [Vec::new(), Vec::new()];
    for round in 0..10 {
        for (which, name) in ["victim@example.com", EMAIL].into_iter().enumerate() {
            let started = Instant::now();
            let response = client()
                .post(server.url("/forgot"))
                .header("Cookie", &cookie)
                .form(&[("csrf_token", token.as_str()), ("username", name)])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let page = response.text().await.unwrap();
            times[which].push(started.elapsed());
            if round == 0 {
                pages.push(page);
            }
        }
    }
    assert_eq!(pages[0], pages[1], "the same page either way");
    for series in &mut times {
        series.sort();
    }
    let (unverified, verified) = (times[0][5], times[1][5]);
    eprintln!("/forgot median: unverified {unverified:?}, verified {verified:?}");
    let gap = unverified.abs_diff(verified);
    assert!(
        gap < Duration::from_millis(20),
        "{unverified:?} vs {verified:?}"
    );
    // Only the verified address got reset links.
    tokio::time::sleep(Duration::from_millis(500)).await;
    while let Ok(mail) = mails.try_recv() {
        assert_eq!(mail.recipients, [EMAIL], "{}", mail.data);
    }
}

/// The verification token of the log line of `--reset-delivery log`.
async fn logged_token(server: &Server, account: &str) -> String {
    let prefix = format!("e-mail verification token for {account}: ");
    let stderr = server.stderr_once_it_holds(&prefix).await;
    let line = stderr
        .lines()
        .rev()
        .find(|line| line.starts_with(&prefix))
        .expect("the line of docs/contract/10-email.md");
    let rest = line.strip_prefix(&prefix).unwrap();
    let (token, link) = rest.split_once(' ').unwrap();
    assert_eq!(token.len(), 43, "{line}");
    assert!(
        link.contains(&format!("/verify-email?token={token}")),
        "{line}"
    );
    token.to_owned()
}

#[tokio::test]
async fn a_link_opened_in_another_signed_in_browser_verifies_its_own_account_once() {
    let server = Server::start(&["--password-min-length", "8"]);
    register(
        &server,
        &[
            ("username", "bob"),
            ("email", "bob@example.com"),
            ("password", PASSWORD),
        ],
    )
    .await;
    register(
        &server,
        &[
            ("username", "carol"),
            ("email", "carol@example.com"),
            ("password", PASSWORD),
        ],
    )
    .await;
    let token = logged_token(&server, "bob").await;
    let carol = login(&server, "carol", PASSWORD, AGENT).await;
    // Carol's browser opens Bob's link and presses the button.
    let link = format!("/verify-email?token={token}");
    let (status, html) = open_and_confirm(&server, &link, Some(&carol)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("bob@example.com"), "{html}");
    // Bob's address is verified, Carol's is not; Carol is still Carol.
    assert_eq!(
        profile(&server, &carol).await,
        json!({"email": "carol@example.com", "username": "carol"})
    );
    let bob = login(&server, "bob", PASSWORD, AGENT).await;
    assert_eq!(profile(&server, &bob).await["email_verified"], true);
    // The link is spent.
    let response = client().get(server.url(&link)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // `authd user show` says it.
    let out = Run::authd()
        .args(["user", "show", "bob", "--database"])
        .arg(sqlite_url(&server.dir))
        .output();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("email_verified: yes"), "{shown}");
    // An account the operator adds with an address gets its link too.
    let out = Run::authd()
        .args([
            "user",
            "add",
            "dave",
            "--email",
            "dave@example.com",
            "--password-stdin",
        ])
        .args(["--database"])
        .arg(sqlite_url(&server.dir))
        .stdin(format!("{PASSWORD}\n"))
        .output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("e-mail verification token for dave: "),
        "{stderr}"
    );
}

#[tokio::test]
async fn require_verified_email_refuses_logins_until_the_link_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("pwned.txt");
    let mut hashes: Vec<String> = (0..3000)
        .map(|i| sha1_hex(&format!("filler-{i}")))
        .chain([sha1_hex("leaked-lantern-pass")])
        .collect();
    hashes.sort();
    std::fs::write(&list, hashes.join("\n") + "\n").unwrap();
    let breached = format!("file:{}", list.display());
    let server = Server::start(&[
        "--password-min-length",
        "8",
        "--require-verified-email",
        "--breached-passwords",
        &breached,
    ]);
    // A leaked password is refused at sign-up.
    let response = client()
        .post(server.url("/users"))
        .form(&[("username", "bob"), ("password", "leaked-lantern-pass")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(response).await["error"], "password_breached");

    register(
        &server,
        &[
            ("username", "bob"),
            ("email", "bob@example.com"),
            ("password", PASSWORD),
        ],
    )
    .await;
    let response = client()
        .post(server.url("/sessions"))
        .form(&[("username", "bob"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(common::session_cookie(&response).is_none());
    assert_eq!(body(response).await["error"], "email_unverified");
    // A wrong password is the usual answer.
    let response = client()
        .post(server.url("/sessions"))
        .form(&[("username", "bob"), ("password", "not-the-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(body(response).await["error"], "invalid_credentials");
    // The login page says how to get the link.
    let (csrf, cookie, _) = form_page(&server.url("/login"), None).await;
    let response = client()
        .post(server.url("/login"))
        .header("Cookie", &cookie)
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("username", "bob"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("not verified yet. A new link is on its way"),
        "{page}"
    );
    operator_verify(&server, "bob");
    login(&server, "bob", PASSWORD, AGENT).await;

    // The password leaks later (the list is read at each look-up): the login
    // still succeeds, and says so; /me shows the banner.
    hashes.push(sha1_hex(PASSWORD));
    hashes.sort();
    std::fs::write(&list, hashes.join("\n") + "\n").unwrap();
    let response = client()
        .post(server.url("/sessions"))
        .form(&[("username", "bob"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = format!("session_id={}", common::session_cookie(&response).unwrap());
    assert_eq!(
        body(response).await,
        json!({"email": "bob@example.com", "message": "logged in", "password_breached": true, "username": "bob"})
    );
    let me = client()
        .get(server.url("/me"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(me.contains("id=\"breached\""), "{me}");
}

fn sha1_hex(text: &str) -> String {
    use sha1::Digest as _;
    hex::encode_upper(sha1::Sha1::digest(text.as_bytes()))
}
