//! The `authd` command line: option errors, global options, the key file.

use crate::common;

use common::{client, Run, Server};

fn authd(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Run::authd().current_dir(dir).args(args).output()
}

#[test]
fn a_bad_option_value_is_one_line_naming_the_option_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for (args, option) in [
        (&["serve", "--bcrypt-cost", "3"][..], "--bcrypt-cost"),
        (
            &["serve", "--session-idle-timeout", "soon"][..],
            "--session-idle-timeout",
        ),
        (&["serve", "--bind", "nowhere"][..], "--bind"),
        (&["serve", "--ip-rate-limit", "lots"][..], "--ip-rate-limit"),
        (&["--database", "mysql://db", "migrate"][..], "--database"),
        (
            &["serve", "--reset-delivery", "pigeon"][..],
            "--reset-delivery",
        ),
    ] {
        let out = authd(dir.path(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(option), "{args:?}: {stderr}");
    }
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing is created when the options are bad"
    );
}

#[test]
fn migrate_creates_the_database_and_a_private_key_file_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = authd(
        dir.path(),
        &["migrate", "--database", "sqlite://data/auth.db"],
    );
    // The folder of the database must exist; authd does not create folders.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let out = authd(
        dir.path(),
        &["migrate", "--database", "sqlite://data/auth.db"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("data/auth.db").exists());
    let key = dir.path().join("data/authd.key");
    assert_eq!(std::fs::read(&key).unwrap().len(), 32);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[tokio::test]
async fn a_server_stops_cleanly_on_sigterm_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("auth.db").display());
    let server = Server::start_with(dir.path(), &database, &["--password-min-length", "8"]);
    let r = client()
        .post(server.url("/users"))
        .form(&[("username", "kvothe"), ("password", "3##Heel7sa*9-zRwT")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(server.stop().success());
    let server = Server::start_with(dir.path(), &database, &[]);
    let r = client()
        .post(server.url("/sessions"))
        .form(&[("username", "kvothe"), ("password", "3##Heel7sa*9-zRwT")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "the account and the key survived the restart"
    );
}

#[test]
fn usage_errors_keep_clap_s_suggestions_valid_values_and_usage() {
    let dir = tempfile::tempdir().unwrap();
    // (arguments, what the output must hold)
    let cases: [(&[&str], &[&str]); 5] = [
        (&[], &["Usage: authd", "Commands:", "serve", "migrate"]),
        (
            &["--log-format", "xml", "migrate"],
            &["--log-format", "[possible values: text, json]", "--help"],
        ),
        (
            &["serv"],
            &["unrecognized subcommand 'serv'", "'serve'", "Usage:"],
        ),
        (&["user", "lst"], &["'list'", "Usage: authd user"]),
        (
            &["--databse", "x", "migrate"],
            &["a similar argument exists: '--database'"],
        ),
    ];
    for (args, expected) in cases {
        let out = authd(dir.path(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        for needle in expected {
            assert!(
                stderr.contains(needle),
                "{args:?} lacks {needle:?}: {stderr}"
            );
        }
    }
    // A bad value stays one line naming the option, without the parser's internals.
    let out = authd(dir.path(), &["serve", "--session-max-age", "banana"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr.trim_end(),
        "authd: invalid value 'banana' for '--session-max-age <SESSION_MAX_AGE>': \
         not a duration: use a number with s, m, h or d (30s, 30m, 24h, 7d)"
    );
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}
