//! The command line and the admin API agreeing
//! (docs/contract/11-access-tokens-and-admin-api.md): the same operation on
//! two accounts, one by each, leaves the same account state in `authd dump`,
//! on SQLite and (ignored without `AUTHD_TEST_POSTGRES_URL`) PostgreSQL.

use crate::admin_api::{add_token, add_user, authd, call, login, server, NEW_PASSWORD, PASSWORD};
use crate::common;

use auth_db::on_both_backends;
use auth_db::test_support::TestDb;
use common::{session_cookie, status_and_body, Run};
use reqwest::Method;
use serde_json::{json, Value};

on_both_backends! {
    the_command_line_and_the_api_agree => the_command_line_and_the_api_agree_sqlite, the_command_line_and_the_api_agree_postgres;
}

/// What `authd dump` says of one account: whether it is disabled, its
/// credential version, and how many sessions and access tokens it has.
fn account_state(dump: &str, username: &str) -> (bool, String, usize, usize) {
    let row = dump
        .lines()
        .find(|l| {
            l.starts_with("INSERT INTO users ")
                && l.contains(&format!(", '{username}', '{username}', "))
        })
        .unwrap_or_else(|| panic!("no {username} in the dump"));
    let id = row
        .split("VALUES ('")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap()
        .to_owned();
    let values: Vec<&str> = row.trim_end_matches(");").rsplit(", ").collect();
    // The last columns: …, credential_version, created_at, updated_at,
    // email_verified_at, disabled_at.
    let disabled = values[0] != "NULL";
    let version = values[4].to_owned();
    let count = |table: &str| {
        dump.lines()
            .filter(|l| {
                l.starts_with(&format!("INSERT INTO {table} ")) && l.contains(&format!("'{id}'"))
            })
            .count()
    };
    (disabled, version, count("sessions"), count("access_tokens"))
}

async fn the_command_line_and_the_api_agree(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let server = server(&db, dir.path(), &[]);
    add_user(&server, &db, "root");
    let admin = add_token(&server, &db, "root", &["admin:read", "admin:write"], &[]);
    // `by_cli` is changed with the command line, `by_api` with the API.
    for name in ["by_cli", "by_api"] {
        add_user(&server, &db, name);
        add_token(&server, &db, name, &["profile"], &[]);
        session_cookie(&login(&server, name, PASSWORD).await).unwrap();
    }
    let dump = || authd(&server, &db, &["dump"], "");
    let steps: Vec<(Vec<&str>, Method, &str, Option<Value>)> = vec![
        (
            vec!["user", "disable"],
            Method::PATCH,
            "",
            Some(json!({"disabled": true})),
        ),
        (
            vec!["user", "enable"],
            Method::PATCH,
            "",
            Some(json!({"disabled": false})),
        ),
        (
            vec!["user", "set-password", "--password-stdin"],
            Method::POST,
            "/password",
            Some(json!({"password": NEW_PASSWORD})),
        ),
        (vec!["user", "mfa-reset"], Method::POST, "/mfa-reset", None),
        (
            vec!["user", "unbind-machine"],
            Method::POST,
            "/unbind-machine",
            None,
        ),
        (vec!["user", "delete"], Method::DELETE, "", None),
    ];
    let before = dump();
    assert_eq!(
        account_state(&before, "by_cli"),
        account_state(&before, "by_api")
    );
    for (command, method, tail, body) in steps {
        let args: Vec<&str> = if command.len() > 2 {
            vec![command[0], command[1], "by_cli", command[2]]
        } else {
            vec![command[0], command[1], "by_cli"]
        };
        authd(&server, &db, &args, &format!("{NEW_PASSWORD}\n"));
        let r = call(
            &server,
            &admin,
            method,
            &format!("/admin/users/by_api{tail}"),
            body,
        )
        .await;
        assert!(r.status().is_success(), "{command:?}: {}", r.status());
        let after = dump();
        if command[1] == "delete" {
            assert!(!after.contains("'by_cli'") && !after.contains("'by_api'"));
        } else {
            assert_eq!(
                account_state(&after, "by_cli"),
                account_state(&after, "by_api"),
                "after {command:?}"
            );
        }
    }
    // The same fault, the same words: an unknown account.
    let output = Run::authd()
        .current_dir(&server.dir)
        .args(["--database", db.url.as_str(), "user", "disable", "nobody"])
        .output();
    assert!(String::from_utf8_lossy(&output.stderr).contains("no such user"));
    let (_, body) = status_and_body(
        call(
            &server,
            &admin,
            Method::PATCH,
            "/admin/users/nobody",
            Some(json!({"disabled": true})),
        )
        .await,
    )
    .await;
    assert_eq!(
        body,
        json!({"error": "not_found", "message": "no such user"})
    );
}
