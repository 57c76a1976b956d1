//! TLS to PostgreSQL as an operator meets it: a server that takes TCP only
//! over TLS (`hostssl`), with a CA of CI's own (`.ci/postgres-tls-pooler`).
//! A wrong CA, a host name the certificate does not name, and a password in
//! the URL: one line on standard error naming `--database`, exit 1, nothing
//! created, and never the password.
//! Ignored tests: CI runs them with `AUTHD_TEST_POSTGRES_TLS_URL` (a
//! `verify-full` URL naming `localhost`, the certificate's only name) and
//! `AUTHD_TEST_POSTGRES_WRONG_CA` (a CA that signed nothing of that server's).

use crate::common;

use std::process::Command;

fn tls_url() -> String {
    std::env::var("AUTHD_TEST_POSTGRES_TLS_URL")
        .expect("AUTHD_TEST_POSTGRES_TLS_URL must name a PostgreSQL server over TLS (verify-full)")
}

/// The TLS URL with a database of its own in place of the URL's (created
/// over TLS, left behind with the CI cluster that holds it).
fn fresh_database_url() -> String {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let url = tls_url();
    let name = format!("tls_{}", uuid::Uuid::new_v4().simple());
    let mut conn = diesel::PgConnection::establish(&url).unwrap();
    conn.batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let (before_query, query) = url.split_once('?').unwrap();
    let server = &before_query[..before_query.rfind('/').unwrap()];
    format!("{server}/{name}?{query}")
}

/// `authd migrate` on `url` in a fresh folder: exit code, standard error,
/// and whether it left a key file behind.
fn migrate(url: &str) -> (Option<i32>, String, bool) {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("authd.key");
    let out = Command::new(common::authd_bin())
        .arg("--database")
        .arg(url)
        .arg("--secret-key-file")
        .arg(&key)
        .arg("migrate")
        .env_remove("AUTHD_SECRET_KEY")
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), stderr, key.exists())
}

/// The refusal of `url`: exit 1, one line naming `--database`, no key made.
fn assert_refused(url: &str, reason: &str) -> String {
    let (code, stderr, key_made) = migrate(url);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with("authd: --database: "),
        "names the option: {stderr}"
    );
    assert!(stderr.contains(reason), "says why ({reason}): {stderr}");
    assert!(!key_made, "nothing is created");
    stderr
}

#[test]
#[ignore = "needs AUTHD_TEST_POSTGRES_TLS_URL (PostgreSQL with ssl = on and a test CA)"]
fn verify_full_connects_where_only_tls_is_let_in() {
    let url = fresh_database_url();
    assert!(url.contains("sslmode=verify-full"), "{url}");
    // The server takes TCP over TLS only: without it the same URL is refused.
    let plain = url.replacen("sslmode=verify-full", "sslmode=disable", 1);
    assert_refused(&plain, "no encryption");
    let (code, stderr, key_made) = migrate(&url);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(key_made);
}

#[test]
#[ignore = "needs AUTHD_TEST_POSTGRES_TLS_URL and AUTHD_TEST_POSTGRES_WRONG_CA"]
fn a_wrong_ca_is_refused_in_one_line() {
    let url = tls_url();
    let wrong_ca = std::env::var("AUTHD_TEST_POSTGRES_WRONG_CA").unwrap();
    let (before, after) = url
        .split_once("sslrootcert=")
        .expect("sslrootcert in the URL");
    let rest = after.split_once('&').map_or("", |(_, rest)| rest);
    let url = format!("{before}sslrootcert={wrong_ca}&{rest}");
    assert_refused(url.trim_end_matches('&'), "certificate verify failed");
    let missing = format!("{before}sslrootcert=/nonexistent/ca.pem&{rest}");
    assert_refused(missing.trim_end_matches('&'), "does not exist");
}

#[test]
#[ignore = "needs AUTHD_TEST_POSTGRES_TLS_URL (its certificate names localhost only)"]
fn a_host_name_the_certificate_does_not_name_is_refused_in_one_line() {
    let url = tls_url().replacen("@localhost:", "@127.0.0.1:", 1);
    assert_refused(&url, "does not match host name \"127.0.0.1\"");
}

#[test]
#[ignore = "needs AUTHD_TEST_POSTGRES_TLS_URL"]
fn a_password_in_the_url_never_reaches_the_message() {
    let url = fresh_database_url();
    // libpq quotes a badly escaped password in its own message; a refused
    // connection (the wrong host) must not show a well-formed one either.
    for password in ["Pw%zzSecret", "SecretPw"] {
        let with_user_password = url.replacen("postgres@", &format!("postgres:{password}@"), 1);
        let with_param = format!("{url}&password={password}");
        for attempt in [with_user_password, with_param] {
            for attempt in [
                attempt.clone(),
                attempt.replacen("@localhost:", "@127.0.0.1:", 1),
            ] {
                let (code, stderr, _) = migrate(&attempt);
                assert!(!stderr.contains("Secret"), "{stderr}");
                if code != Some(0) {
                    assert_eq!(stderr.lines().count(), 1, "{stderr}");
                }
            }
        }
    }
}
