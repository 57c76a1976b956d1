//! The admin API and personal access tokens
//! (docs/contract/11-access-tokens-and-admin-api.md) against the real
//! binary, on SQLite and (ignored without `AUTHD_TEST_POSTGRES_URL`)
//! PostgreSQL: every admin route, the scopes, revoked and expired tokens,
//! (tests/admin_cli.rs: the command line and the API agreeing;
//! tests/admin_attacks.rs: a
//! disabled account at every route that signs in and the attacks on the
//! bearer check).

use crate::common;

use auth_db::on_both_backends;
use auth_db::test_support::TestDb;
use common::{client, session_cookie, status_and_body, Run, Server};
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

pub(crate) const PASSWORD: &str = "tangerine rocket harbor 7";
pub(crate) const NEW_PASSWORD: &str = "a whole new pass phrase";

on_both_backends! {
    every_admin_route_works_with_its_scope => every_admin_route_works_with_its_scope_sqlite, every_admin_route_works_with_its_scope_postgres;
}

/// A server on the test database, without the per-address limit unless asked.
pub(crate) fn server(db: &TestDb, dir: &std::path::Path, extra: &[&str]) -> Server {
    let mut args = vec!["--password-min-length", "8"];
    if !extra.contains(&"--ip-rate-limit") {
        args.extend(["--ip-rate-limit", "off"]);
    }
    args.extend_from_slice(extra);
    Server::start_with(dir, &db.url, &args)
}

/// `authd ARGS` on the server's database; panics unless it succeeds.
pub(crate) fn authd(server: &Server, db: &TestDb, args: &[&str], stdin: &str) -> String {
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
pub(crate) fn add_user(server: &Server, db: &TestDb, name: &str) {
    authd(
        server,
        db,
        &["user", "add", name, "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
}

/// `authd token add NAME --scope …`: the token printed once.
pub(crate) fn add_token(
    server: &Server,
    db: &TestDb,
    name: &str,
    scopes: &[&str],
    extra: &[&str],
) -> String {
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
pub(crate) async fn call(
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
pub(crate) async fn refusal(response: Response) -> (StatusCode, String, String) {
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
pub(crate) fn every_route() -> Vec<(Method, &'static str, Option<Value>)> {
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

pub(crate) async fn login(server: &Server, name: &str, password: &str) -> Response {
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
        (
            created["username"].as_str(),
            created["disabled"].as_bool(),
            created["email_verified"].as_bool()
        ),
        (Some("zed"), Some(false), Some(false))
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
    // An operator vouches for zed's address; a new one is unverified again
    // and gets its own link (docs/contract/10-email.md).
    authd(&server, &db, &["user", "verify-email", "zed"], "");
    let (_, shown) =
        status_and_body(call(&server, &admin, Method::GET, "/admin/users/zed", None).await).await;
    assert_eq!(shown["email_verified"].as_bool(), Some(true), "{shown}");
    let r = call(
        &server,
        &admin,
        Method::PATCH,
        "/admin/users/zed",
        Some(json!({"email": "zed@new.example.test"})),
    )
    .await;
    let (status, moved) = status_and_body(r).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["email_verified"].as_bool(), Some(false), "{moved}");
    let dump = authd(&server, &db, &["dump"], "");
    assert!(
        dump.lines()
            .any(|l| l.starts_with("INSERT INTO email_tokens ")
                && l.contains("'zed@new.example.test'")),
        "a link for the new address"
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
