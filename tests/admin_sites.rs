//! `/admin/sites…` (docs/contract/11-access-tokens-and-admin-api.md)
//! against the real binary, on SQLite and (ignored without
//! `AUTHD_TEST_POSTGRES_URL`) PostgreSQL: every route with its scope, a site
//! added by the API enforced by `/auth/verify`, bad input as 400, the audit
//! rows naming the token, and `authd site …` agreeing with the API.

use auth_db::on_both_backends;
use auth_db::test_support::TestDb;
use common::{status_and_body, Run};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin_api::{add_token, add_user, authd, call, refusal, server};
use crate::common;
use crate::forward_auth::{nginx_asks, sent, signed_up};

on_both_backends! {
    the_site_routes_work_and_are_enforced => the_site_routes_work_and_are_enforced_sqlite, the_site_routes_work_and_are_enforced_postgres;
}

const WIKI: &str = "https://wiki.example.test/page";

/// Every audit row, through `GET /admin/events`.
async fn all_events(server: &common::Server, token: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(cursor) => format!("/admin/events?limit=50&after={cursor}"),
            None => "/admin/events?limit=50".to_owned(),
        };
        let (status, page) =
            status_and_body(call(server, token, Method::GET, &path, None).await).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        events.extend(page["events"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => return events,
        }
    }
}

async fn the_site_routes_work_and_are_enforced(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let server = server(
        &db,
        dir.path(),
        &[
            "--trusted-proxy",
            "127.0.0.0/8",
            "--public-url",
            "https://auth.example.test",
        ],
    );
    add_user(&server, &db, "root");
    let admin = add_token(
        &server,
        &db,
        "root",
        &["admin:read", "admin:write"],
        &["--name", "ci"],
    );
    let reader = add_token(&server, &db, "root", &["admin:read"], &[]);
    let profile = add_token(&server, &db, "root", &["profile"], &[]);
    let kvothe = signed_up(&server, "kvothe").await;
    let denna = signed_up(&server, "denna").await;

    // Not yet protected: refused.
    let r = sent(nginx_asks(&server, WIKI, Some(&kvothe))).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Scopes: admin:read reads and is refused the changes; a profile token
    // is refused everything.
    let routes = [
        (Method::GET, "/admin/sites", None),
        (
            Method::POST,
            "/admin/sites",
            Some(json!({"host": "other.example.test"})),
        ),
        (Method::DELETE, "/admin/sites/other.example.test", None),
    ];
    for (method, path, body) in routes.clone() {
        let r = call(&server, &reader, method.clone(), path, body.clone()).await;
        if method == Method::GET {
            assert_eq!(r.status(), StatusCode::OK, "{method} {path}");
        } else {
            let (status, code, challenge) = refusal(r).await;
            assert_eq!(
                (status, code.as_str()),
                (StatusCode::FORBIDDEN, "insufficient_scope"),
                "{method} {path}"
            );
            assert!(challenge.contains("admin:write"), "{challenge}");
        }
        let (status, code, _) =
            refusal(call(&server, &profile, method.clone(), path, body).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::FORBIDDEN, "insufficient_scope"),
            "{method} {path}"
        );
    }

    // Added by the API: enforced by /auth/verify at once, listed by the CLI.
    let r = call(
        &server,
        &admin,
        Method::POST,
        "/admin/sites",
        Some(json!({"host": "Wiki.Example.test", "allowed_users": ["kvothe"]})),
    )
    .await;
    let added_request = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let (status, added) = status_and_body(r).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["host"], "wiki.example.test");
    assert_eq!(added["second_factor_required"], false);
    assert_eq!(added["allowed_users"], json!(["kvothe"]));
    let r = sent(nginx_asks(&server, WIKI, Some(&kvothe))).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = sent(nginx_asks(&server, WIKI, Some(&denna))).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let out = authd(&server, &db, &["site", "list"], "");
    assert_eq!(
        out,
        "wiki.example.test second-factor=optional users=kvothe\n"
    );

    // Added by the CLI: listed by the API.
    authd(
        &server,
        &db,
        &[
            "site",
            "add",
            "app.example.test",
            "--second-factor",
            "required",
        ],
        "",
    );
    let (status, list) =
        status_and_body(call(&server, &reader, Method::GET, "/admin/sites", None).await).await;
    assert_eq!(status, StatusCode::OK);
    let hosts: Vec<(&str, bool, &Value)> = list["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["host"].as_str().unwrap(),
                s["second_factor_required"].as_bool().unwrap(),
                &s["allowed_users"],
            )
        })
        .collect();
    assert_eq!(
        hosts,
        [
            ("app.example.test", true, &Value::Null),
            ("wiki.example.test", false, &json!(["kvothe"])),
        ]
    );

    // Bad input is a 400 in the contract's shape, and adds nothing.
    for (body, expected) in [
        (json!({"host": "https://x.example.test/"}), "invalid_field"),
        (json!({"host": "*.example.test"}), "invalid_field"),
        (json!({"host": "WIKI.example.test"}), "invalid_field"),
        (
            json!({"host": "x.example.test", "allowed_users": ["nobody"]}),
            "invalid_field",
        ),
        (json!({"host": 5}), "invalid_field"),
        (json!({}), "missing_field"),
        (
            json!({"host": "x.example.test", "allow": "any"}),
            "unknown_field",
        ),
    ] {
        let r = call(
            &server,
            &admin,
            Method::POST,
            "/admin/sites",
            Some(body.clone()),
        )
        .await;
        let (status, answer) = status_and_body(r).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["error"], expected, "{body}: {answer}");
        assert!(answer["message"].is_string(), "{answer}");
    }
    let (_, list) =
        status_and_body(call(&server, &reader, Method::GET, "/admin/sites", None).await).await;
    assert_eq!(list["sites"].as_array().unwrap().len(), 2, "{list}");

    // Deleted by the API (any case): refused by /auth/verify at once; a
    // second delete is 404, as the CLI's refusal.
    let r = call(
        &server,
        &admin,
        Method::DELETE,
        "/admin/sites/WIKI.example.test",
        None,
    )
    .await;
    let deleted_request = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = sent(nginx_asks(&server, WIKI, Some(&kvothe))).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (status, code, _) = refusal(
        call(
            &server,
            &admin,
            Method::DELETE,
            "/admin/sites/wiki.example.test",
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let output = Run::authd()
        .current_dir(&server.dir)
        .args([
            "--database",
            db.url.as_str(),
            "site",
            "delete",
            "wiki.example.test",
        ])
        .output();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("is not a protected site"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // The API's changes are audited with the token and the request id; the
    // CLI's with no actor.
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
    let events = all_events(&server, &reader).await;
    for (kind, request_id) in [
        ("site_added", &added_request),
        ("site_deleted", &deleted_request),
    ] {
        let row = events
            .iter()
            .find(|e| e["request_id"] == json!(request_id))
            .unwrap_or_else(|| panic!("no row of {request_id}: {events:?}"));
        assert_eq!(row["kind"], kind, "{row}");
        assert_eq!(row["actor"], json!(format!("token:{admin_id}")), "{row}");
    }
    let site_rows: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"].as_str().unwrap().starts_with("site_"))
        .collect();
    assert_eq!(site_rows.len(), 3, "{events:?}");
    assert!(
        site_rows
            .iter()
            .any(|e| e["kind"] == "site_added" && e["actor"].is_null()),
        "{events:?}"
    );
}
