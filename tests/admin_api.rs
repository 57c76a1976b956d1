//! The admin API and personal access tokens
//! (docs/contract/11-access-tokens-and-admin-api.md) against the real
//! binary, on SQLite and (ignored without `AUTHD_TEST_POSTGRES_URL`)
//! PostgreSQL: every admin route, the scopes, revoked and expired tokens,
//! the command line and the API agreeing, a disabled account at every
//! route that signs in, and the attacks on the bearer check.

use crate::common;

use auth_db::on_both_backends;
use auth_db::test_support::TestDb;
use common::{client, session_cookie, status_and_body, Run, Server};
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

const PASSWORD: &str = "tangerine rocket harbor 7";
const NEW_PASSWORD: &str = "a whole new pass phrase";

on_both_backends! {
    every_admin_route_works_with_its_scope => every_admin_route_works_with_its_scope_sqlite, every_admin_route_works_with_its_scope_postgres;
    the_command_line_and_the_api_agree => the_command_line_and_the_api_agree_sqlite, the_command_line_and_the_api_agree_postgres;
    a_disabled_account_is_refused_by_every_route_that_signs_in => a_disabled_account_is_refused_by_every_route_that_signs_in_sqlite, a_disabled_account_is_refused_by_every_route_that_signs_in_postgres;
    attacks_on_the_bearer_check_fail => attacks_on_the_bearer_check_fail_sqlite, attacks_on_the_bearer_check_fail_postgres;
}

/// A server on the test database, without the per-address limit unless asked.
fn server(db: &TestDb, dir: &std::path::Path, extra: &[&str]) -> Server {
    let mut args = vec!["--password-min-length", "8"];
    if !extra.contains(&"--ip-rate-limit") {
        args.extend(["--ip-rate-limit", "off"]);
    }
    args.extend_from_slice(extra);
    Server::start_with(dir, &db.url, &args)
}

/// `authd ARGS` on the server's database; panics unless it succeeds.
fn authd(server: &Server, db: &TestDb, args: &[&str], stdin: &str) -> String {
    let output = Run::authd()
        .current_dir(&server.dir)
        .args(["--database", db.url.as_str()])
        .args(args)
        .stdin(stdin)
        .output();
    assert!(
        output.status.success(),
        "authd {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `authd user add NAME` with the test password.
fn add_user(server: &Server, db: &TestDb, name: &str) {
    authd(
        server,
        db,
        &["user", "add", name, "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
}

/// `authd token add NAME --scope …`: the token printed once.
fn add_token(server: &Server, db: &TestDb, name: &str, scopes: &[&str], extra: &[&str]) -> String {
    let mut args = vec!["token", "add", name];
    for scope in scopes {
        args.extend(["--scope", scope]);
    }
    args.extend_from_slice(extra);
    let out = authd(server, db, &args, "");
    out.lines()
        .find_map(|l| l.strip_prefix("token: "))
        .unwrap_or_else(|| panic!("no token in {out}"))
        .to_owned()
}

/// A request with a bearer token and an optional JSON body.
async fn call(
    server: &Server,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Response {
    let mut request = client()
        .request(method, server.url(path))
        .header("Authorization", format!("Bearer {token}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// The error code and `WWW-Authenticate` of a refusal.
async fn refusal(response: Response) -> (StatusCode, String, String) {
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let (status, body) = status_and_body(response).await;
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
        challenge,
    )
}

/// Every admin route, with a body where it takes one.
fn every_route() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/admin/users", None),
        (
            Method::POST,
            "/admin/users",
            Some(json!({"username": "zed", "password": PASSWORD})),
        ),
        (Method::GET, "/admin/users/target", None),
        (
            Method::PATCH,
            "/admin/users/target",
            Some(json!({"full_name": "T"})),
        ),
        (
            Method::POST,
            "/admin/users/target/password",
            Some(json!({"password": NEW_PASSWORD})),
        ),
        (Method::DELETE, "/admin/users/target/sessions", None),
        (Method::POST, "/admin/users/target/unbind-machine", None),
        (Method::POST, "/admin/users/target/mfa-reset", None),
        (Method::GET, "/admin/events", None),
        (Method::DELETE, "/admin/users/target", None),
    ]
}

async fn login(server: &Server, name: &str, password: &str) -> Response {
    client()
        .post(server.url("/sessions"))
        .json(&json!({"username": name, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn every_admin_route_works_with_its_scope(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let server = server(&db, dir.path(), &[]);
    add_user(&server, &db, "root");
    add_user(&server, &db, "target");
    let admin = add_token(
        &server,
        &db,
        "root",
        &["admin:read", "admin:write"],
        &["--name", "ci"],
    );
    let reader = add_token(&server, &db, "root", &["admin:read"], &[]);
    let profile = add_token(&server, &db, "root", &["profile"], &[]);

    // A read-only token reads and is refused every change; a profile token
    // is refused every admin route.
    for (method, path, body) in every_route() {
        let write = method != Method::GET;
        let r = call(&server, &reader, method.clone(), path, body.clone()).await;
        if write {
            let (status, code, challenge) = refusal(r).await;
            assert_eq!(
                (status, code.as_str()),
                (StatusCode::FORBIDDEN, "insufficient_scope"),
                "{method} {path}"
            );
            assert!(
                challenge.contains(r#"error="insufficient_scope""#)
                    && challenge.contains("admin:write"),
                "{challenge}"
            );
        } else {
            assert_eq!(r.status(), StatusCode::OK, "{method} {path}");
        }
        let (status, code, challenge) =
            refusal(call(&server, &profile, method.clone(), path, body).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::FORBIDDEN, "insufficient_scope"),
            "{method} {path}"
        );
        assert!(challenge.starts_with("Bearer"), "{challenge}");
    }

    // Every route with an admin token.
    let r = call(
        &server,
        &admin,
        Method::POST,
        "/admin/users",
        Some(json!({"username": "zed", "email": "zed@example.test", "password": PASSWORD})),
    )
    .await;
    let (status, created) = status_and_body(r).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        (created["username"].as_str(), created["disabled"].as_bool()),
        (Some("zed"), Some(false))
    );
    let r = call(
        &server,
        &admin,
        Method::POST,
        "/admin/users",
        Some(json!({"username": "ZED", "password": PASSWORD})),
    )
    .await;
    assert_eq!(refusal(r).await.1, "already_registered");
    // Without a password: a reset link goes out (the log notifier here).
    let r = call(
        &server,
        &admin,
        Method::POST,
        "/admin/users",
        Some(json!({"username": "nopass", "email": "np@example.test"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    server
        .stderr_once_it_holds("password reset token for nopass")
        .await;

    let (status, page) = status_and_body(
        call(
            &server,
            &admin,
            Method::GET,
            "/admin/users?q=ZE&limit=10",
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = page["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["zed"]);
    assert!(page.get("next").is_none(), "{page}");

    let (status, shown) =
        status_and_body(call(&server, &admin, Method::GET, "/admin/users/ROOT", None).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["tokens"].as_array().unwrap().len(), 3, "{shown}");
    assert!(
        !shown.to_string().contains("authd_pat_"),
        "a token's secret is never shown again"
    );

    let r = call(&server, &admin, Method::PATCH, "/admin/users/zed", Some(json!({"full_name": "Zed Z.", "mothers_favorite_search_engine": null, "disabled": true}))).await;
    let (status, patched) = status_and_body(r).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        (patched["full_name"].as_str(), patched["disabled"].as_bool()),
        (Some("Zed Z."), Some(true))
    );
    assert_eq!(
        login(&server, "zed", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let r = call(
        &server,
        &admin,
        Method::PATCH,
        "/admin/users/zed",
        Some(json!({"disabled": false})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let session = session_cookie(&login(&server, "zed", PASSWORD).await).unwrap();

    let r = call(
        &server,
        &admin,
        Method::POST,
        "/admin/users/zed/password",
        Some(json!({"password": "short"})),
    )
    .await;
    assert_eq!(refusal(r).await.1, "password_too_short");
    let r = call(
        &server,
        &admin,
        Method::POST,
        "/admin/users/zed/password",
        Some(json!({"password": NEW_PASSWORD})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let profile_by_cookie = |session: String| {
        let server = &server;
        async move {
            client()
                .get(server.url("/profile"))
                .header("Cookie", format!("session_id={session}"))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(
        profile_by_cookie(session).await,
        StatusCode::FORBIDDEN,
        "a set password ends the sessions"
    );
    let session = session_cookie(&login(&server, "zed", NEW_PASSWORD).await).unwrap();
    let r = call(
        &server,
        &admin,
        Method::DELETE,
        "/admin/users/zed/sessions",
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(profile_by_cookie(session).await, StatusCode::FORBIDDEN);

    let (status, unbound) = status_and_body(
        call(
            &server,
            &admin,
            Method::POST,
            "/admin/users/zed/unbind-machine",
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, unbound),
        (StatusCode::OK, json!({"unbound": false}))
    );
    let r = call(
        &server,
        &admin,
        Method::POST,
        "/admin/users/zed/mfa-reset",
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    // The audit log names the token as the actor, with the request id.
    let r = client()
        .patch(server.url("/admin/users/zed"))
        .header("Authorization", format!("Bearer {admin}"))
        .json(&json!({"full_name": "Zed again"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let mut events = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(cursor) => format!("/admin/events?limit=5&after={cursor}"),
            None => "/admin/events?limit=5".to_owned(),
        };
        let (status, page) =
            status_and_body(call(&server, &reader, Method::GET, &path, None).await).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        events.extend(page["events"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    let (_, root) =
        status_and_body(call(&server, &admin, Method::GET, "/admin/users/root", None).await).await;
    let admin_id = root["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ci")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let updated = events
        .iter()
        .find(|e| e["request_id"] == json!(request_id))
        .unwrap();
    assert_eq!(updated["kind"], "user_updated", "{updated}");
    assert_eq!(
        updated["actor"],
        json!(format!("token:{admin_id}")),
        "{updated}"
    );
    for kind in [
        "user_registered",
        "user_disabled",
        "user_enabled",
        "password_set",
        "sessions_ended",
        "mfa_reset",
    ] {
        assert!(
            events
                .iter()
                .any(|e| e["kind"] == kind && e["actor"] == json!(format!("token:{admin_id}"))),
            "no {kind} by the token: {events:?}"
        );
    }

    let r = call(&server, &admin, Method::DELETE, "/admin/users/zed", None).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for (method, path) in [
        (Method::GET, "/admin/users/zed"),
        (Method::DELETE, "/admin/users/zed"),
        (Method::POST, "/admin/users/zed/mfa-reset"),
    ] {
        let (status, code, _) = refusal(call(&server, &admin, method, path, None).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }

    // A profile token reads its own profile, and nothing else.
    let (status, me) =
        status_and_body(call(&server, &profile, Method::GET, "/profile", None).await).await;
    assert_eq!((status, me), (StatusCode::OK, json!({"username": "root"})));
    let (status, code, _) =
        refusal(call(&server, &reader, Method::GET, "/profile", None).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "insufficient_scope")
    );

    // A revoked token, and an expired one, are refused everywhere.
    let expiring = add_token(
        &server,
        &db,
        "root",
        &["profile", "admin:read", "admin:write"],
        &["--expires", "1s"],
    );
    let out = authd(&server, &db, &["token", "list", "root"], "");
    let reader_line = out
        .lines()
        .find(|l| l.contains("scopes=admin:read "))
        .unwrap();
    let reader_id = reader_line.split(' ').next().unwrap();
    authd(&server, &db, &["token", "revoke", reader_id], "");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    for token in [&reader, &expiring] {
        let mut routes = every_route();
        routes.push((Method::GET, "/profile", None));
        for (method, path, body) in routes {
            let (status, code, challenge) =
                refusal(call(&server, token, method.clone(), path, body).await).await;
            assert_eq!(
                (status, code.as_str()),
                (StatusCode::UNAUTHORIZED, "invalid_token"),
                "{method} {path}"
            );
            assert!(
                challenge.contains(r#"error="invalid_token""#),
                "{challenge}"
            );
        }
    }
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
    // The last columns: …, credential_version, created_at, updated_at, disabled_at.
    let disabled = values[0] != "NULL";
    let version = values[3].to_owned();
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

async fn a_disabled_account_is_refused_by_every_route_that_signs_in(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let server = server(&db, dir.path(), &["--trusted-proxy", "127.0.0.0/8"]);
    add_user(&server, &db, "mallory");
    authd(&server, &db, &["site", "add", "app.example.test"], "");
    let session = session_cookie(&login(&server, "mallory", PASSWORD).await).unwrap();
    let token = add_token(&server, &db, "mallory", &["profile"], &[]);
    let out = authd(&server, &db, &["user", "disable", "MALLORY"], "");
    assert!(out.contains("disabled mallory"), "{out}");

    let wrong = login(&server, "mallory", "not the password").await;
    let (wrong_status, wrong_body) = status_and_body(wrong).await;
    let (status, body) = status_and_body(login(&server, "mallory", PASSWORD).await).await;
    assert_eq!(
        (status, &body),
        (wrong_status, &wrong_body),
        "the same 401 as a wrong password"
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The website's login form.
    let page = client().get(server.url("/login")).send().await.unwrap();
    let cookies: Vec<String> = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    let html = page.text().await.unwrap();
    let csrf = html
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let r = client()
        .post(server.url("/login"))
        .header("Cookie", cookies.join("; "))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("username", "mallory"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        session_cookie(&r).is_none_or(|c| c.is_empty()),
        "the login page signed a disabled account in"
    );
    // The device check.
    let header = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        json!({"username": "mallory", "password": PASSWORD, "machine_id": "machine-of-mallory-01"})
            .to_string(),
    );
    let r = client()
        .get(server.url("/check"))
        .header("SEEK_CUSTOM_AUTH", header)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Its session ended: the JSON API and forward authentication.
    let r = client()
        .get(server.url("/profile"))
        .header("Cookie", format!("session_id={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = client()
        .get(server.url("/auth/verify"))
        .header("X-Original-URL", "https://app.example.test/")
        .header("Cookie", format!("session_id={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Its token ended.
    let (status, code, _) =
        refusal(call(&server, &token, Method::GET, "/profile", None).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );

    // Enabled: the login is back, the old session is not.
    authd(&server, &db, &["user", "enable", "mallory"], "");
    assert_eq!(
        login(&server, "mallory", PASSWORD).await.status(),
        StatusCode::OK
    );
    let r = client()
        .get(server.url("/profile"))
        .header("Cookie", format!("session_id={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

async fn attacks_on_the_bearer_check_fail(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let server = server(&db, dir.path(), &["--ip-rate-limit", "20/min"]);
    add_user(&server, &db, "root");
    let admin = add_token(
        &server,
        &db,
        "root",
        &["admin:read", "admin:write", "profile"],
        &[],
    );

    // A token in the query string is refused, even with a right header.
    for path in [
        format!("/admin/users?access_token={admin}"),
        format!("/profile?ACCESS_TOKEN={admin}"),
    ] {
        let (status, code, challenge) =
            refusal(call(&server, &admin, Method::GET, &path, None).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{path}"
        );
        assert!(challenge.contains(r#"error="invalid_request""#));
    }
    // The same token twice, or two tokens: two Authorization headers.
    let r = client()
        .get(server.url("/admin/users"))
        .header("Authorization", format!("Bearer {admin}"))
        .header("Authorization", format!("Bearer {admin}"))
        .send()
        .await
        .unwrap();
    assert_eq!(refusal(r).await.1, "invalid_request");
    // Another scheme, a lowercase scheme (accepted), no token.
    let r = client()
        .get(server.url("/admin/users"))
        .header("Authorization", format!("Basic {admin}"))
        .send()
        .await
        .unwrap();
    assert_eq!(refusal(r).await.1, "invalid_request");
    let r = client()
        .get(server.url("/admin/users"))
        .header("Authorization", format!("bearer {admin}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (status, code, challenge) = refusal(
        client()
            .get(server.url("/admin/users"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, code.as_str(), challenge.as_str()),
        (
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            r#"Bearer realm="authd""#
        )
    );

    // Mass assignment: PATCH refuses every member it does not name, and an empty body.
    for body in [
        json!({"password_hash": "x"}),
        json!({"full_name": "x", "credential_version": 0}),
        json!({"username": "root2"}),
        json!({"id": "00000000-0000-0000-0000-000000000000"}),
        json!({}),
    ] {
        let (status, code, _) = refusal(
            call(
                &server,
                &admin,
                Method::PATCH,
                "/admin/users/root",
                Some(body.clone()),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            code == "unknown_field" || code == "invalid_body",
            "{body}: {code}"
        );
    }
    let (status, code, _) = refusal(
        call(
            &server,
            &admin,
            Method::PATCH,
            "/admin/users/root",
            Some(json!({"disabled": "yes"})),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_field")
    );

    // A forged cursor is a 400, never a 500.
    for cursor in ["x", "AAAA.AAAA", "%00", "..", "eyJ9.AAAAAAAAAAAAAAAAAAAAAA"] {
        for path in ["/admin/users", "/admin/events"] {
            let (status, code, _) = refusal(
                call(
                    &server,
                    &admin,
                    Method::GET,
                    &format!("{path}?after={cursor}"),
                    None,
                )
                .await,
            )
            .await;
            assert_eq!(
                (status, code.as_str()),
                (StatusCode::BAD_REQUEST, "invalid_cursor"),
                "{path} {cursor}"
            );
        }
    }
    let (status, _, _) =
        refusal(call(&server, &admin, Method::GET, "/admin/users?limit=abc", None).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A token of a deleted account is refused, even after a new account takes the name.
    add_user(&server, &db, "ghost");
    let ghost = add_token(&server, &db, "ghost", &["profile"], &[]);
    authd(&server, &db, &["user", "delete", "ghost"], "");
    add_user(&server, &db, "ghost");
    assert_eq!(
        refusal(call(&server, &ghost, Method::GET, "/profile", None).await)
            .await
            .1,
        "invalid_token"
    );

    // Wrong tokens count toward the per-address limit: 429 once spent.
    let mut statuses = Vec::new();
    for i in 0..15 {
        let forged = format!("authd_pat_{:0>43}", i);
        statuses.push(
            call(&server, &forged, Method::GET, "/profile", None)
                .await
                .status(),
        );
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );

    // No token, wrong or right, reaches the log.
    let stderr = server.stop_with_stderr().1;
    assert!(
        !stderr.contains(&admin) && !stderr.contains("authd_pat_"),
        "a token in the log:\n{stderr}"
    );
}
