//! Breached passwords (docs/contract/10-email.md) through a local HTTP
//! server that speaks the Have I Been Pwned range protocol (with and without
//! padding, and one that never answers), and a `file:` list of a few
//! thousand hashes: refused at sign-up, change and reset with
//! `password_breached`, flagged (not refused) at login.

use crate::common;

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auth_core::{AuthError, BreachedPasswords, Config, Identifier, PasswordRule};
use common::*;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const LEAKED: &str = "leaked password number one";

fn sha1_hex(text: &str) -> String {
    hex::encode_upper(Sha1::digest(text.as_bytes()))
}

/// How the fake range server answers.
#[derive(Clone, Copy)]
enum Mode {
    /// The suffixes with counts, and 0-count padding lines when asked.
    Answer,
    /// Accepts and never answers.
    Hang,
}

/// A range server on 127.0.0.1 that knows the hashes of `leaked`; it
/// records every request line and its `Add-Padding` header.
async fn range_server(leaked: &[&str], mode: Mode) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/range", listener.local_addr().unwrap());
    let hashes: Vec<String> = leaked.iter().map(|p| sha1_hex(p)).collect();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            if let Mode::Hang = mode {
                held.push(stream);
                continue;
            }
            let mut buffer = vec![0u8; 4096];
            let n = stream.read(&mut buffer).await.unwrap_or(0);
            let request = String::from_utf8_lossy(&buffer[..n]).to_string();
            let line = request.lines().next().unwrap_or_default().to_owned();
            let padded = request
                .lines()
                .any(|l| l.eq_ignore_ascii_case("add-padding: true"));
            log.lock().unwrap().push(format!("{line} padded={padded}"));
            let prefix = line
                .split(' ')
                .nth(1)
                .and_then(|path| path.rsplit('/').next())
                .unwrap_or_default()
                .to_owned();
            let mut body = String::new();
            for hash in &hashes {
                if hash.starts_with(&prefix) {
                    body.push_str(&format!("{}:12\r\n", &hash[5..]));
                }
            }
            if padded {
                // Padding: made-up suffixes with a count of 0, and the
                // suffix of a password that is NOT leaked, with count 0.
                for i in 0..50 {
                    body.push_str(&format!("{:035X}:0\r\n", i));
                }
                body.push_str(&format!(
                    "{}:0\r\n",
                    &sha1_hex("padded but not leaked at all")[5..]
                ));
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    (url, seen)
}

async fn service(db: &TestDb, mode: BreachedPasswords) -> auth_core::Auth {
    open_with(
        db,
        Config {
            breached_passwords: mode,
            ..config()
        },
    )
    .await
    .0
}

fn is_breached(result: &Result<impl std::fmt::Debug, AuthError>) -> bool {
    matches!(
        result,
        Err(AuthError::PasswordRejected(PasswordRule::Breached))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_range_protocol_refuses_leaked_passwords_and_sends_only_a_prefix() {
    let db = TestDb::sqlite();
    let (url, seen) = range_server(&[LEAKED], Mode::Answer).await;
    let auth = service(&db, BreachedPasswords::Range(url)).await;
    // Sign-up.
    let refused = auth.register_user(named("bob", LEAKED), &client()).await;
    assert!(is_breached(&refused), "{refused:?}");
    assert_eq!(refused.unwrap_err().code(), "password_breached");
    register(&auth, "bob", GOOD).await;
    // A password only on the padding lines (count 0) is not leaked.
    let padded_only = auth
        .register_user(named("carol", "padded but not leaked at all"), &client())
        .await;
    assert!(padded_only.is_ok(), "{padded_only:?}");
    // Change.
    let session = login(&auth, "bob", GOOD).await.unwrap();
    let changed = auth
        .change_password(session.token.expose(), &pw(GOOD), &pw(LEAKED), &client())
        .await;
    assert!(is_breached(&changed), "{changed:?}");
    // Reset: refused, and the token stays usable.
    let (_, token) = auth
        .get_reset_password_token(&Identifier::Username("bob".into()), &client())
        .await
        .unwrap();
    let bob = Identifier::Username("bob".into());
    let reset = auth
        .update_password(&bob, token.expose(), &pw(LEAKED), &client())
        .await;
    assert!(is_breached(&reset), "{reset:?}");
    auth.update_password(&bob, token.expose(), &pw(OTHER), &client())
        .await
        .unwrap();
    // Only 5 hex characters ever left, with Add-Padding.
    let requests = seen.lock().unwrap().clone();
    assert!(!requests.is_empty());
    for request in &requests {
        let path = request.split(' ').nth(1).unwrap();
        let prefix = path.rsplit('/').next().unwrap();
        assert_eq!(prefix.len(), 5, "{request}");
        assert!(prefix.bytes().all(|b| b.is_ascii_hexdigit()), "{request}");
        assert!(request.ends_with("padded=true"), "{request}");
        assert!(!request.contains(&sha1_hex(LEAKED)[5..]), "{request}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_with_a_leaked_password_succeeds_and_is_flagged() {
    let db = TestDb::sqlite();
    // Registered while the list did not have it.
    let plain = service(&db, BreachedPasswords::Off).await;
    register(&plain, "bob", LEAKED).await;
    drop(plain);
    let (url, _) = range_server(&[LEAKED], Mode::Answer).await;
    let auth = service(&db, BreachedPasswords::Range(url)).await;
    let success = login(&auth, "bob", LEAKED).await.unwrap();
    assert!(
        auth.email_status(&success.user)
            .await
            .unwrap()
            .password_breached
    );
    // A change to a clean password clears the flag.
    let changed = auth
        .change_password(success.token.expose(), &pw(LEAKED), &pw(GOOD), &client())
        .await
        .unwrap();
    assert!(
        !auth
            .email_status(&changed.user)
            .await
            .unwrap()
            .password_breached
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_server_that_hangs_costs_one_second_and_the_other_rules_decide() {
    let db = TestDb::sqlite();
    let (url, _) = range_server(&[LEAKED], Mode::Hang).await;
    let auth = service(&db, BreachedPasswords::Range(url)).await;
    let started = Instant::now();
    let user = auth.register_user(named("bob", LEAKED), &client()).await;
    let took = started.elapsed();
    assert!(user.is_ok(), "fail-open: {user:?}");
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(
        took < Duration::from_millis(2500),
        "the 1 s time-out holds: {took:?}"
    );
    // The other rules still apply.
    let short = auth.register_user(named("carol", "short"), &client()).await;
    assert!(matches!(
        short,
        Err(AuthError::PasswordRejected(PasswordRule::TooShort { .. }))
    ));
    // Nothing listening: refused connection, fail-open at once.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let auth = service(
        &TestDb::sqlite(),
        BreachedPasswords::Range(format!("http://127.0.0.1:{closed}/range")),
    )
    .await;
    assert!(auth
        .register_user(named("dave", LEAKED), &client())
        .await
        .is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sorted_file_of_thousands_of_hashes_is_searched_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pwned.txt");
    let mut hashes: Vec<String> = (0..5000)
        .map(|i| format!("{}:{}", sha1_hex(&format!("leaked password {i:05}")), i + 1))
        .collect();
    hashes.push(format!("{}:3", sha1_hex(LEAKED)));
    hashes.sort();
    let mut file = std::fs::File::create(&path).unwrap();
    for line in &hashes {
        writeln!(file, "{line}").unwrap();
    }
    drop(file);
    let db = TestDb::sqlite();
    let auth = service(&db, BreachedPasswords::File(path.clone())).await;
    for leaked in [
        LEAKED,
        "leaked password 00000",
        "leaked password 02500",
        "leaked password 04999",
    ] {
        let result = auth.register_user(named("bob", leaked), &client()).await;
        assert!(is_breached(&result), "{leaked}: {result:?}");
    }
    register(&auth, "bob", GOOD).await;
    // An unreadable file: fail-open, with a warning.
    let auth = service(
        &TestDb::sqlite(),
        BreachedPasswords::File(dir.path().join("missing.txt")),
    )
    .await;
    assert!(auth
        .register_user(named("bob", LEAKED), &client())
        .await
        .is_ok());
}
