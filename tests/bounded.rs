//! Per-client state stays bounded against the real binary: the per-address
//! limiter forgets clients on its timer (seen through `/metrics`), and a
//! login storm past the hash queue gets 503 with `Retry-After`, never a hang.

use crate::common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use common::{Run, Server};
use reqwest::StatusCode;
use serde_json::Value;

/// The value of a gauge or counter without labels in `/metrics`.
async fn metric(server: &Server, name: &str) -> i64 {
    let text = common::client()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn the_limiter_forgets_many_client_addresses_after_their_idle_time() {
    // 10/min: a burst of 5, one request back every 6 s, so a client that
    // made one request is idle again 6 s later; forgotten at the next sweep.
    let server = Server::start(&["--ip-rate-limit", "10/min", "--ip-limiter-sweep", "1s"]);
    assert_eq!(metric(&server, "authd_ip_limiter_entries").await, 0);
    let clients = 150u32;
    let started = Instant::now();
    for i in 0..clients {
        // Any of 127.0.0.0/8 is a local source address on Linux.
        let source = Ipv4Addr::new(127, 1 + (i / 250) as u8, (i % 250) as u8, 2);
        let http = reqwest::Client::builder()
            .local_address(IpAddr::V4(source))
            .build()
            .unwrap();
        let r = http.get(server.url("/check")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "from {source}");
    }
    let entries = metric(&server, "authd_ip_limiter_entries").await;
    if started.elapsed() < Duration::from_secs(5) {
        // Nobody has been idle for 6 s yet: every client is remembered.
        assert_eq!(entries, i64::from(clients));
    } else {
        assert!(entries > 0, "{entries}");
    }
    // And then forgotten, without any further request from them.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let entries = metric(&server, "authd_ip_limiter_entries").await;
        if entries == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "still {entries} entries");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // A forgotten client starts again with a full allowance.
    let again = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 1, 0, 2)))
        .build()
        .unwrap();
    for _ in 0..5 {
        let r = again.get(server.url("/check")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = again.get(server.url("/check")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(server.stop().success());
}

#[tokio::test]
async fn a_login_storm_past_the_hash_queue_gets_503_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("auth.db").display());
    // Accounts hashed at cost 12 (a few hundred ms per check), imported
    // before the server starts; the server itself runs at cost 4.
    let accounts = 12;
    let csv: String = (0..accounts)
        .map(|i| format!("storm{i},Storm {i},a long enough password number {i},ddg\n"))
        .collect();
    let csv_path = dir.path().join("users.csv");
    std::fs::write(&csv_path, csv).unwrap();
    let import = Run::authd()
        .current_dir(dir.path())
        .args(["import", "--bcrypt-cost", "12", "--database", &database])
        .arg(&csv_path)
        .output();
    assert!(import.status.success());
    let server = Server::start_with(dir.path(), &database, &["--hash-queue-limit", "1"]);

    let http = common::client();
    let mut storm = tokio::task::JoinSet::new();
    for i in 0..accounts {
        let http = http.clone();
        let url = server.url("/sessions");
        storm.spawn(async move {
            let r = http
                .post(url)
                .form(&[
                    ("username", format!("storm{i}")),
                    ("password", "wrong".repeat(4)),
                ])
                .send()
                .await
                .unwrap();
            let retry_after = r.headers().get("retry-after").cloned();
            let status = r.status();
            let body: Value = r.json().await.unwrap();
            (status, retry_after, body)
        });
    }
    let answers = tokio::time::timeout(Duration::from_secs(60), storm.join_all())
        .await
        .expect("every request is answered, none hangs");
    let refused: Vec<_> = answers
        .iter()
        .filter(|(status, _, _)| *status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(!refused.is_empty(), "{answers:?}");
    for (_, retry_after, body) in &refused {
        assert_eq!(body["error"], "unavailable", "{body}");
        let seconds: u64 = retry_after
            .as_ref()
            .expect("Retry-After")
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(seconds >= 1);
    }
    for (status, _, body) in &answers {
        assert!(
            *status == StatusCode::SERVICE_UNAVAILABLE || *status == StatusCode::UNAUTHORIZED,
            "{status} {body}"
        );
    }
    // The storm is over: the queue has room again and the right password works.
    let r = http
        .post(server.url("/sessions"))
        .form(&[
            ("username", "storm0"),
            ("password", "a long enough password number 0"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(metric(&server, "authd_hash_queue_length").await, 0);
    assert!(server.stop().success());
}
