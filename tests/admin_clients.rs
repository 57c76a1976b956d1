//! `/admin/clients…` (docs/contract/11-access-tokens-and-admin-api.md)
//! against the real binary, on SQLite and (ignored without
//! `AUTHD_TEST_POSTGRES_URL`) PostgreSQL: every route with its scope, the
//! audit rows naming the token, bad input as 400, and `authd client …`
//! agreeing with the API.

use auth_db::on_both_backends;
use auth_db::test_support::TestDb;
use common::{client, status_and_body, Run};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin_api::{add_token, add_user, authd, call, refusal, server};
use crate::common;

on_both_backends! {
    the_client_routes_work_with_their_scopes => the_client_routes_work_with_their_scopes_sqlite, the_client_routes_work_with_their_scopes_postgres;
    the_command_line_and_the_client_routes_agree => the_command_line_and_the_client_routes_agree_sqlite, the_command_line_and_the_client_routes_agree_postgres;
}

const REDIRECT: &str = "https://wiki.example.com/callback";

/// Every client route, on the client `id`, with a body where it takes one.
fn client_routes(id: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, "/admin/clients".into(), None),
        (
            Method::POST,
            "/admin/clients".into(),
            Some(json!({"name": "Other", "redirect_uris": [REDIRECT]})),
        ),
        (Method::GET, format!("/admin/clients/{id}"), None),
        (
            Method::POST,
            format!("/admin/clients/{id}/rotate-secret"),
            None,
        ),
        (Method::DELETE, format!("/admin/clients/{id}"), None),
    ]
}

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

async fn the_client_routes_work_with_their_scopes(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let server = server(&db, dir.path(), &[]);
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

    // Register a confidential client: its secret is in this answer only.
    let r = call(
        &server,
        &admin,
        Method::POST,
        "/admin/clients",
        Some(json!({"name": "Wiki", "redirect_uris": [REDIRECT]})),
    )
    .await;
    let added_request = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let (status, added) = status_and_body(r).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["name"], "Wiki");
    assert_eq!(added["public"], false);
    assert_eq!(added["trusted"], false);
    assert_eq!(added["redirect_uris"], json!([REDIRECT]));
    let secret = added["client_secret"].as_str().unwrap().to_owned();
    let id = added["client_id"].as_str().unwrap().to_owned();

    // A read-only token reads and is refused every change; a profile token
    // is refused every route. (Refused before anything is done: the client
    // is still there afterwards.)
    for (method, path, body) in client_routes(&id) {
        let r = call(&server, &reader, method.clone(), &path, body.clone()).await;
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
            refusal(call(&server, &profile, method.clone(), &path, body).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::FORBIDDEN, "insufficient_scope"),
            "{method} {path}"
        );
    }

    // Read: the list and the one client, never with a secret.
    let (status, list) =
        status_and_body(call(&server, &reader, Method::GET, "/admin/clients", None).await).await;
    assert_eq!(status, StatusCode::OK);
    let listed = list["clients"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{list}");
    assert_eq!(listed[0]["client_id"], json!(id));
    assert!(listed[0].get("client_secret").is_none(), "{list}");
    let (status, shown) = status_and_body(
        call(
            &server,
            &reader,
            Method::GET,
            &format!("/admin/clients/{id}"),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown, listed[0]);
    assert!(!shown.to_string().contains(&secret));

    // Rotate: a new secret, once.
    let r = call(
        &server,
        &admin,
        Method::POST,
        &format!("/admin/clients/{id}/rotate-secret"),
        None,
    )
    .await;
    let rotated_request = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let (status, rotated) = status_and_body(r).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_eq!(rotated["client_id"], json!(id));
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);

    // A public client, by a form: no secret, none to rotate (404, as the
    // command line's "no such client").
    let r = client()
        .post(server.url("/admin/clients"))
        .header("Authorization", format!("Bearer {admin}"))
        .form(&[
            ("name", "Phone app"),
            (
                "redirect_uris",
                "http://127.0.0.1:8080/cb https://phone.example.com/cb",
            ),
            ("public", "true"),
        ])
        .send()
        .await
        .unwrap();
    let (status, public) = status_and_body(r).await;
    assert_eq!(status, StatusCode::CREATED, "{public}");
    assert_eq!(public["public"], true);
    assert_eq!(
        public["redirect_uris"],
        json!(["http://127.0.0.1:8080/cb", "https://phone.example.com/cb"])
    );
    assert!(public.get("client_secret").is_none(), "{public}");
    let public_id = public["client_id"].as_str().unwrap();
    let (status, code, _) = refusal(
        call(
            &server,
            &admin,
            Method::POST,
            &format!("/admin/clients/{public_id}/rotate-secret"),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );

    // Bad input is a 400 in the contract's shape, and registers nothing.
    for (body, expected) in [
        (
            json!({"name": "X", "redirect_uris": ["not a uri"]}),
            "invalid_field",
        ),
        (json!({"name": "X", "redirect_uris": []}), "invalid_field"),
        (
            json!({"name": "", "redirect_uris": [REDIRECT]}),
            "invalid_field",
        ),
        (json!({"name": "X", "redirect_uris": [5]}), "invalid_field"),
        (
            json!({"name": "X", "redirect_uris": REDIRECT, "public": "yes"}),
            "invalid_field",
        ),
        (json!({"name": "X"}), "missing_field"),
        (
            json!({"name": "X", "redirect_uris": [REDIRECT], "secret_hash": "x"}),
            "unknown_field",
        ),
    ] {
        let r = call(
            &server,
            &admin,
            Method::POST,
            "/admin/clients",
            Some(body.clone()),
        )
        .await;
        let (status, answer) = status_and_body(r).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["error"], expected, "{body}: {answer}");
        assert!(answer["message"].is_string(), "{answer}");
    }
    let (_, list) =
        status_and_body(call(&server, &reader, Method::GET, "/admin/clients", None).await).await;
    assert_eq!(list["clients"].as_array().unwrap().len(), 2, "{list}");

    // Delete; then it is gone for every route.
    let r = call(
        &server,
        &admin,
        Method::DELETE,
        &format!("/admin/clients/{id}"),
        None,
    )
    .await;
    let deleted_request = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for (method, path) in [
        (Method::GET, format!("/admin/clients/{id}")),
        (Method::DELETE, format!("/admin/clients/{id}")),
        (Method::POST, format!("/admin/clients/{id}/rotate-secret")),
    ] {
        let (status, code, _) = refusal(call(&server, &admin, method, &path, None).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }

    // Each change is audited with the token as the actor and the request id.
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
        ("oidc_client_added", &added_request),
        ("oidc_client_secret_rotated", &rotated_request),
        ("oidc_client_deleted", &deleted_request),
    ] {
        let row = events
            .iter()
            .find(|e| e["request_id"] == json!(request_id))
            .unwrap_or_else(|| panic!("no row of {request_id}: {events:?}"));
        assert_eq!(row["kind"], kind, "{row}");
        assert_eq!(row["actor"], json!(format!("token:{admin_id}")), "{row}");
    }
    // Nothing refused was audited as a change.
    let changes = events
        .iter()
        .filter(|e| e["kind"].as_str().unwrap().starts_with("oidc_client_"))
        .count();
    assert_eq!(changes, 4, "{events:?}");
}

async fn the_command_line_and_the_client_routes_agree(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let server = server(&db, dir.path(), &[]);
    add_user(&server, &db, "root");
    let admin = add_token(&server, &db, "root", &["admin:read", "admin:write"], &[]);

    // A client made by the command line is one the API lists and shows.
    let out = authd(
        &server,
        &db,
        &[
            "client",
            "add",
            "From the shell",
            "--redirect-uri",
            REDIRECT,
        ],
        "",
    );
    let cli_id = out
        .lines()
        .find_map(|l| l.strip_prefix("client_id: "))
        .unwrap()
        .to_owned();
    let (_, list) =
        status_and_body(call(&server, &admin, Method::GET, "/admin/clients", None).await).await;
    let listed = list["clients"].as_array().unwrap();
    assert!(
        listed
            .iter()
            .any(|c| c["client_id"] == json!(cli_id) && c["name"] == "From the shell"),
        "{list}"
    );

    // One made by the API is one the command line lists and shows.
    let (status, added) = status_and_body(
        call(
            &server,
            &admin,
            Method::POST,
            "/admin/clients",
            Some(json!({"name": "From the API", "redirect_uris": [REDIRECT], "trusted": true})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let api_id = added["client_id"].as_str().unwrap();
    let out = authd(&server, &db, &["client", "list"], "");
    assert!(
        out.lines()
            .any(|l| l == format!("{api_id} From the API (confidential trusted)")),
        "{out}"
    );
    let out = authd(&server, &db, &["client", "show", api_id], "");
    assert!(out.contains(&format!("redirect_uri: {REDIRECT}")), "{out}");

    // Deleted by the command line: gone for the API; by the API: gone for
    // the command line, which says so as the API does (no such client).
    authd(&server, &db, &["client", "delete", &cli_id], "");
    let (status, code, _) = refusal(
        call(
            &server,
            &admin,
            Method::GET,
            &format!("/admin/clients/{cli_id}"),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let r = call(
        &server,
        &admin,
        Method::DELETE,
        &format!("/admin/clients/{api_id}"),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let output = Run::authd()
        .current_dir(&server.dir)
        .args(["--database", db.url.as_str(), "client", "show", api_id])
        .output();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("no such client"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
