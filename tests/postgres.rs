//! Several `authd` servers on one PostgreSQL database, and an outage of that
//! database. Ignored tests, with their reason in `cargo test`'s summary: CI
//! runs them with `--include-ignored` and `AUTHD_TEST_POSTGRES_URL` set, and
//! they fail if the variable is unset or the database does not answer.

use crate::common;

use base64::Engine;
use common::{client, session_cookie, Server};
use reqwest::StatusCode;
use serde_json::Value;

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a whole new pass phrase";

fn check_header(username: &str, password: &str, machine: &str) -> String {
    let json =
        serde_json::json!({"username": username, "password": password, "machine_id": machine});
    base64::engine::general_purpose::STANDARD.encode(json.to_string())
}

async fn status_and_body(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
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
        let r = http
            .post(a.url("/users"))
            .form(&[("username", name), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }

    // A session made on A works on B; a logout on B is refused on A at once.
    let login = http
        .post(a.url("/sessions"))
        .form(&[("username", "kvothe"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let cookie = format!("session_id={}", session_cookie(&login).unwrap());
    let on_b = http
        .get(b.url("/profile"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(on_b.status(), StatusCode::OK);
    let logout = http
        .delete(b.url("/sessions"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::FOUND);
    let on_a = http
        .get(a.url("/profile"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
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
        let r = http
            .post(server.url("/sessions"))
            .form(&[("username", "denna"), ("password", "wrong password")])
            .send()
            .await
            .unwrap();
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
        http.get(a.url("/check"))
            .header(
                "SEEK_CUSTOM_AUTH",
                check_header("kvothe", PASSWORD, machine)
            )
            .send(),
        http.get(b.url("/check"))
            .header(
                "SEEK_CUSTOM_AUTH",
                check_header("simmon", PASSWORD, machine)
            )
            .send(),
    );
    let outcomes = [
        status_and_body(on_a.unwrap()).await,
        status_and_body(on_b.unwrap()).await,
    ];
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
        let r = http
            .get(b.url("/check"))
            .header("SEEK_CUSTOM_AUTH", check_header(&winner, PASSWORD, machine))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let login = http
        .post(a.url("/sessions"))
        .form(&[("username", winner.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
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
    let old = http
        .get(b.url("/check"))
        .header("SEEK_CUSTOM_AUTH", check_header(&winner, PASSWORD, machine))
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_body(old).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_credentials"))
    );
    let new = http
        .get(b.url("/check"))
        .header(
            "SEEK_CUSTOM_AUTH",
            check_header(&winner, NEW_PASSWORD, machine),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(new.status(), StatusCode::OK);
}
