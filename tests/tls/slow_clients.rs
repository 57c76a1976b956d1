//! Clients that take too long or ask too much: the header and request
//! timeouts, a stalled handshake, the connection limit, and an HTTP/2 rapid
//! reset flood.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::Server;
use reqwest::StatusCode;

use super::*;

/// Reads until the peer closes the connection (or an error), and returns
/// how long that took.
fn time_until_closed(stream: &mut TcpStream, give_up: Duration) -> Duration {
    let started = Instant::now();
    stream.set_read_timeout(Some(give_up)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return started.elapsed(),
            Ok(_) => {}
        }
    }
}

#[tokio::test]
async fn a_trickling_client_is_closed_within_the_header_timeout_while_others_are_served() {
    let server = Server::start(&["--header-timeout", "2s"]);
    let addr = server.base_url.trim_start_matches("http://").to_owned();

    // One byte of the request head every 300 ms: never whole within 2 s.
    let trickler = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let mut stream = TcpStream::connect(&addr).unwrap();
            let started = Instant::now();
            let head = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
            for byte in head {
                if stream.write_all(&[*byte]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(300));
                if started.elapsed() > Duration::from_secs(20) {
                    break;
                }
            }
            (
                started.elapsed(),
                time_until_closed(&mut stream, Duration::from_secs(20)),
            )
        })
    };
    // Sending nothing at all, and an HTTP/2 preface that never ends.
    let mut silent = TcpStream::connect(&addr).unwrap();
    let mut half_preface = TcpStream::connect(&addr).unwrap();
    half_preface.write_all(b"PRI * HTTP/2.0\r\n").unwrap();

    // Meanwhile others are served.
    let http = common::client();
    for _ in 0..5 {
        let r = http.get(server.url("/healthz")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let silent_closed = time_until_closed(&mut silent, Duration::from_secs(20));
    let preface_closed = time_until_closed(&mut half_preface, Duration::from_secs(20));
    let (sent_for, trickle_closed) = trickler.join().unwrap();
    // The trickler's head needs ~30 s; the server ends it after its 2 s.
    assert!(
        sent_for + trickle_closed < Duration::from_secs(8),
        "{sent_for:?} + {trickle_closed:?}"
    );
    assert!(silent_closed < Duration::from_secs(8), "{silent_closed:?}");
    assert!(
        preface_closed < Duration::from_secs(8),
        "{preface_closed:?}"
    );
    let r = http.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(server.stop().success());
}

#[tokio::test]
async fn a_stalled_tls_handshake_is_closed_within_the_header_timeout() {
    let (server, ca, _files) = start_tls(&["--header-timeout", "2s"]);
    let addr = server.base_url.trim_start_matches("https://").to_owned();
    let mut silent = TcpStream::connect(&addr).unwrap();
    // The first bytes of a TLS record header, then nothing.
    let mut partial = TcpStream::connect(&addr).unwrap();
    partial.write_all(&[0x16, 0x03, 0x01]).unwrap();
    let http = https_client(&ca).build().unwrap();
    let r = http.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(time_until_closed(&mut silent, Duration::from_secs(20)) < Duration::from_secs(8));
    assert!(time_until_closed(&mut partial, Duration::from_secs(20)) < Duration::from_secs(8));
    assert!(server.stop().success());
}

/// Sends one keep-alive request on a raw connection and reads its whole answer.
fn keep_alive_request(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&answer).contains("{\"status\":\"ok\"}") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn past_max_connections_clients_wait_and_are_answered_once_others_close() {
    let server = Server::start(&["--max-connections", "2", "--header-timeout", "30s"]);
    let addr = server.base_url.trim_start_matches("http://").to_owned();
    let mut first = TcpStream::connect(&addr).unwrap();
    let mut second = TcpStream::connect(&addr).unwrap();
    assert!(keep_alive_request(&mut first).starts_with("HTTP/1.1 200"));
    assert!(keep_alive_request(&mut second).starts_with("HTTP/1.1 200"));

    // The third connects (the kernel's backlog takes it) but is not served.
    let third = tokio::spawn({
        let url = server.url("/healthz");
        async move {
            let http = reqwest::Client::new();
            let r = http.get(url).send().await?;
            Ok::<_, reqwest::Error>((r.status(), Instant::now()))
        }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !third.is_finished(),
        "the extra connection waits, it is not refused"
    );

    // Both held connections still work meanwhile.
    assert!(keep_alive_request(&mut first).starts_with("HTTP/1.1 200"));
    let closed_at = Instant::now();
    drop(second);
    let (status, answered_at) = tokio::time::timeout(Duration::from_secs(20), third)
        .await
        .expect("answered once a connection closed")
        .unwrap()
        .expect("not refused");
    assert_eq!(status, StatusCode::OK);
    assert!(answered_at >= closed_at);
    drop(first);
    assert!(server.stop().success());
}

/// Starts `authd serve` with `args` (which name the address), waits for its

#[tokio::test]
async fn a_client_trickling_its_body_is_closed_after_the_request_timeout() {
    let server = Server::start(&["--request-timeout", "2s", "--header-timeout", "2s"]);
    let addr = server.base_url.trim_start_matches("http://").to_owned();
    let trickler = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(&addr).unwrap();
        stream
            .write_all(
                b"POST /users HTTP/1.1\r\nHost: localhost\r\n\
                  Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\n",
            )
            .unwrap();
        let started = Instant::now();
        for _ in 0..200 {
            if stream.write_all(b"a").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
            if started.elapsed() > Duration::from_secs(20) {
                break;
            }
        }
        started.elapsed() + time_until_closed(&mut stream, Duration::from_secs(20))
    });
    let http = common::client();
    for _ in 0..3 {
        let r = http.get(server.url("/healthz")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let closed_after = tokio::task::spawn_blocking(move || trickler.join().unwrap())
        .await
        .unwrap();
    // The body needs 60 s at this pace; the server closes after its 2 s.
    assert!(closed_after < Duration::from_secs(10), "{closed_after:?}");
    assert!(server.stop().success());
}

/// CVE-2023-44487: a client that opens streams and resets them at once, so
/// the server starts work it never gets to answer. The server closes such a
/// connection (GOAWAY) instead of working for it without end, and serves
/// others meanwhile.
#[tokio::test]
async fn an_http2_rapid_reset_flood_gets_the_connection_closed() {
    let server = Server::start(&[]);
    let addr = server.base_url.trim_start_matches("http://").to_owned();
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // HTTP/2 with prior knowledge (h2c), which the plain listener detects.
    let (mut client, connection) = h2::client::handshake(tcp).await.unwrap();
    let driver = tokio::spawn(connection);
    let mut sent = 0;
    let mut refused = None;
    for _ in 0..20_000 {
        let request = reqwest::Url::parse(&format!("http://{addr}/healthz")).unwrap();
        let request = warp::http::Request::get(request.as_str()).body(()).unwrap();
        match client.send_request(request, true) {
            Ok((_response, mut stream)) => {
                stream.send_reset(h2::Reason::CANCEL);
                sent += 1;
            }
            Err(error) => {
                refused = Some(error);
                break;
            }
        }
        // Let the connection's driver (on this same thread) read what the
        // server sent: a client that never looks cannot see its GOAWAY, and
        // would queue the whole flood locally first.
        if sent % 10 == 0 {
            tokio::task::yield_now().await;
        }
    }
    let ended = tokio::time::timeout(Duration::from_secs(10), driver)
        .await
        .map(|joined| joined.unwrap());
    // The server ends the connection (GOAWAY ENHANCE_YOUR_CALM, then it
    // closes, which the flooding client usually sees as a broken pipe).
    assert!(
        refused.is_some() || matches!(ended, Ok(Err(_))),
        "{sent} streams opened and reset and the connection lives on: {ended:?}"
    );
    assert!(sent < 20_000, "the whole flood went through");
    eprintln!("rapid reset: the connection was closed after {sent} reset streams");
    let r = common::client()
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(server.stop().success());
}
