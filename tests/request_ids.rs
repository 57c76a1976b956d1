//! docs/contract/6-operations.md, request ids: every response carries `X-Request-Id`; a trusted
//! proxy's well-formed id is kept, anything else is replaced by a new one;
//! the id is on the request's log line, on its security-event lines and in
//! its audit row.

use crate::common;

use std::collections::HashSet;

use common::{client, sqlite_url, Run, Server};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery staple";

fn request_id(response: &reqwest::Response) -> String {
    let values: Vec<_> = response.headers().get_all("x-request-id").iter().collect();
    assert_eq!(values.len(), 1, "one X-Request-Id: {values:?}");
    values[0].to_str().unwrap().to_owned()
}

fn well_formed(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[tokio::test]
async fn every_response_carries_a_new_unique_id() {
    let server = Server::start(&["--ip-rate-limit", "off"]);
    let client = client();
    let mut seen = HashSet::new();
    let requests = [
        client.get(server.url("/healthz")),
        client.get(server.url("/no/such/path")),
        client.delete(server.url("/profile")),
        client.get(server.url("/profile")),
        client.post(server.url("/users")).body("not a form"),
        client.get(server.url("/check")),
        client
            .get(server.url("/login"))
            .header("Accept", "text/html"),
        // Not from a trusted proxy: a client's own id is not believed.
        client
            .get(server.url("/healthz"))
            .header("X-Request-Id", "client-chosen"),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        let id = request_id(&response);
        assert!(well_formed(&id), "{id:?}");
        assert_ne!(id, "client-chosen");
        assert!(seen.insert(id.clone()), "{id} came twice");
    }
}

#[tokio::test]
async fn a_trusted_proxys_id_is_kept_when_well_formed_and_replaced_otherwise() {
    let server = Server::start(&["--trusted-proxy", "127.0.0.1", "--ip-rate-limit", "off"]);
    let client = client();
    let longest = "a".repeat(64);
    for kept in ["lb-7f3a.9_Z", "x", longest.as_str()] {
        let response = client
            .get(server.url("/healthz"))
            .header("X-Request-Id", kept)
            .send()
            .await
            .unwrap();
        assert_eq!(request_id(&response), kept);
    }
    let too_long = "a".repeat(65);
    for malformed in [
        "",
        "has space",
        "semi;colon",
        "ünïcode",
        too_long.as_str(),
        "a/b",
    ] {
        let response = client
            .get(server.url("/healthz"))
            .header("X-Request-Id", malformed)
            .send()
            .await
            .unwrap();
        let id = request_id(&response);
        assert_ne!(id, malformed);
        assert!(well_formed(&id), "{malformed:?} became {id:?}");
    }
    // Two ids are ambiguous: neither is believed.
    let response = client
        .get(server.url("/healthz"))
        .header("X-Request-Id", "first")
        .header("X-Request-Id", "second")
        .send()
        .await
        .unwrap();
    let id = request_id(&response);
    assert!(id != "first" && id != "second" && well_formed(&id), "{id}");
}

#[tokio::test]
async fn the_id_is_on_the_log_lines_and_in_the_audit_row() {
    let server = Server::start(&[
        "--trusted-proxy",
        "127.0.0.1",
        "--ip-rate-limit",
        "off",
        "--log-format",
        "json",
    ]);
    let client = client();
    let registered = client
        .post(server.url("/users"))
        .header("X-Request-Id", "signup-request-1")
        .form(&[("email", "ids@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 200);
    assert_eq!(request_id(&registered), "signup-request-1");
    // A failed login with a new id made by the server.
    let failed = client
        .post(server.url("/sessions"))
        .form(&[
            ("email", "ids@example.com"),
            ("password", "not the password at all"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 401);
    let failed_id = request_id(&failed);
    server.stderr_once_it_holds(&failed_id).await;

    let dump = Run::authd()
        .current_dir(&server.dir)
        .args(["dump", "--database", &sqlite_url(&server.dir)])
        .output();
    let (status, stderr) = server.stop_with_stderr();
    assert!(status.success());
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let dump = String::from_utf8(dump.stdout).unwrap();
    let event_row = |kind: &str| {
        dump.lines()
            .find(|l| l.starts_with("INSERT INTO events") && l.contains(&format!("'{kind}'")))
            .unwrap_or_else(|| panic!("no {kind} row in:\n{dump}"))
            .to_owned()
    };
    assert!(
        event_row("user_registered").contains("'signup-request-1'"),
        "{dump}"
    );
    assert!(
        event_row("login_failed").contains(&format!("'{failed_id}'")),
        "{dump}"
    );

    // Every line is JSON; the request line and the security event of each
    // request carry its id.
    let mut by_id: Vec<(String, String)> = Vec::new();
    for line in stderr.lines() {
        let parsed: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line:?}"));
        if let Some(id) = parsed["span"]["request_id"].as_str() {
            let what = parsed["fields"]["event"]
                .as_str()
                .or(parsed["fields"]["route"].as_str())
                .unwrap_or_default()
                .to_owned();
            by_id.push((id.to_owned(), what));
        }
    }
    for (id, expected) in [
        ("signup-request-1", ["user_registered", "/users"]),
        (failed_id.as_str(), ["login_failed", "/sessions"]),
    ] {
        for what in expected {
            assert!(
                by_id.iter().any(|(i, w)| i == id && w == what),
                "no {what} line with request id {id}:\n{stderr}"
            );
        }
    }
}
