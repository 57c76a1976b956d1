//! Several `authd` servers on one PostgreSQL database, and an outage of that
//! database. Ignored tests, with their reason in `cargo test`'s summary: CI
//! runs them with `--include-ignored` and `AUTHD_TEST_POSTGRES_URL` set, and
//! they fail if the variable is unset or the database does not answer.

use crate::common;

use base64::Engine;
use common::{client, session_cookie, status_and_body, Server};
use reqwest::{RequestBuilder, Response, StatusCode};

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a whole new pass phrase";

fn check_header(username: &str, password: &str, machine: &str) -> String {
    let json =
        serde_json::json!({"username": username, "password": password, "machine_id": machine});
    base64::engine::general_purpose::STANDARD.encode(json.to_string())
}

/// A `POST` of this form to `server`, sent.
async fn post_form(
    http: &reqwest::Client,
    server: &Server,
    path: &str,
    fields: &[(&str, &str)],
) -> Response {
    let request = http.post(server.url(path)).form(fields);
    request.send().await.unwrap()
}

/// The request with this `Cookie` header, sent.
async fn with_cookie(request: RequestBuilder, cookie: &str) -> Response {
    request.header("Cookie", cookie).send().await.unwrap()
}

/// `GET /check` on `server` for this username, password and machine.
async fn check(
    http: &reqwest::Client,
    server: &Server,
    username: &str,
    password: &str,
    machine: &str,
) -> Response {
    let header = check_header(username, password, machine);
    let request = http
        .get(server.url("/check"))
        .header("SEEK_CUSTOM_AUTH", header);
    request.send().await.unwrap()
}

#[tokio::test]
#[ignore = "needs AUTHD_TEST_POSTGRES_URL"]
async fn two_servers_share_sessions_throttle_machines_and_credentials() {
    let schema = auth_db::test_support::TestDb::postgres()
        .expect("AUTHD_TEST_POSTGRES_URL must name a PostgreSQL server for this test");
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("shared.key");
    let key_arg = key.display().to_string();
    let options = [
        "--secret-key-file",
        key_arg.as_str(),
        "--password-min-length",
        "8",
        "--ip-rate-limit",
        "off",
    ];
    let a = Server::start_with(dir.path(), &schema.url, &options);
    let b = Server::start_with(dir.path(), &schema.url, &options);
    let http = client();
    for name in ["kvothe", "denna", "simmon"] {
        let r = post_form(
            &http,
            &a,
            "/users",
            &[("username", name), ("password", PASSWORD)],
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    // A session made on A works on B; a logout on B is refused on A at once.
    let login = post_form(
        &http,
        &a,
        "/sessions",
        &[("username", "kvothe"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(login.status(), StatusCode::OK);
    let cookie = format!("session_id={}", session_cookie(&login).unwrap());
    let on_b = with_cookie(http.get(b.url("/profile")), &cookie).await;
    assert_eq!(on_b.status(), StatusCode::OK);
    let logout = with_cookie(http.delete(b.url("/sessions")), &cookie).await;
    assert_eq!(logout.status(), StatusCode::FOUND);
    let on_a = with_cookie(http.get(a.url("/profile")), &cookie).await;
    assert_eq!(on_a.status(), StatusCode::FORBIDDEN);

    // Failed logins split across A and B add up to one throttle. Wrong
    // passwords alternate between the servers until one answers 429; neither
    // server has seen five failures of its own by then, so the 429 can only
    // come from the shared count. (Delays double from 1 s, so a slow machine
    // only needs an attempt or two more.)
    let mut failures = [0u32; 2];
    let mut throttled_after = None;
    for attempt in 0..8usize {
        let server = [&a, &b][attempt % 2];
        let r = post_form(
            &http,
            server,
            "/sessions",
            &[("username", "denna"), ("password", "wrong password")],
        )
        .await;
        match r.status() {
            StatusCode::UNAUTHORIZED => failures[attempt % 2] += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(r.headers().contains_key("retry-after"));
                throttled_after = Some(failures);
                break;
            }
            other => panic!("attempt {attempt}: unexpected {other}"),
        }
    }
    let failures = throttled_after.expect("the split failures never added up to a throttle");
    assert!(failures[0] + failures[1] >= 5, "{failures:?}");
    assert!(failures.iter().all(|&f| f < 5), "{failures:?}");

    // Two users racing on A and B for one machine: exactly one wins.
    let machine = "shared-machine-0123456789";
    let (on_a, on_b) = tokio::join!(
        check(&http, &a, "kvothe", PASSWORD, machine),
        check(&http, &b, "simmon", PASSWORD, machine),
    );
    let outcomes = [status_and_body(on_a).await, status_and_body(on_b).await];
    let bound: Vec<_> = outcomes
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .collect();
    let taken: Vec<_> = outcomes
        .iter()
        .filter(|(s, b)| *s == StatusCode::FORBIDDEN && b["error"] == "machine_taken")
        .collect();
    assert_eq!((bound.len(), taken.len()), (1, 1), "{outcomes:?}");
    let winner = bound[0].1["username"].as_str().unwrap().to_owned();
    assert_eq!(bound[0].1["machine"], "bound");

    // B caches the winner's verified triple; a password change on A stops
    // the old password on B's /check at once, inside the cache window.
    for _ in 0..2 {
        let r = check(&http, &b, &winner, PASSWORD, machine).await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let login = post_form(
        &http,
        &a,
        "/sessions",
        &[("username", winner.as_str()), ("password", PASSWORD)],
    )
    .await;
    let cookie = format!("session_id={}", session_cookie(&login).unwrap());
    let changed = http
        .post(a.url("/password"))
        .header("Cookie", &cookie)
        .form(&[
            ("current_password", PASSWORD),
            ("new_password", NEW_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    let old = check(&http, &b, &winner, PASSWORD, machine).await;
    let (status, body) = status_and_body(old).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_credentials"))
    );
    let new = check(&http, &b, &winner, NEW_PASSWORD, machine).await;
    assert_eq!(new.status(), StatusCode::OK);
}
