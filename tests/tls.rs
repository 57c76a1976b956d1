//! The network edge against the real binary: HTTPS with a test CA made here
//! (rcgen), HTTP/2 by ALPN, certificate reload on SIGHUP, a bad pair at
//! start, the header timeout against trickling clients and the connection
//! limit.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::ca::{Leaf, TestCa};
use common::{session_cookie, sqlite_url, Run, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Writes the pair into `dir` and returns the `--tls-cert`/`--tls-key` paths.
fn write_pair(dir: &Path, leaf: &Leaf) -> (PathBuf, PathBuf) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, &leaf.cert_pem).unwrap();
    std::fs::write(&key, &leaf.key_pem).unwrap();
    (cert, key)
}

/// Starts authd over TLS with a fresh CA; returns the server, the CA and
/// the folder holding the pair.
fn start_tls(extra: &[&str]) -> (Server, TestCa, tempfile::TempDir) {
    let ca = TestCa::new("authd test CA");
    let files = tempfile::tempdir().unwrap();
    let (cert, key) = write_pair(files.path(), &ca.leaf());
    let mut args = vec![
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let server = Server::start(&args);
    assert!(
        server.base_url.starts_with("https://"),
        "{}",
        server.base_url
    );
    (server, ca, files)
}

/// A client that trusts only `ca` (not the web roots) and follows no redirects.
fn https_client(ca: &TestCa) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca.reqwest_cert())
        .redirect(reqwest::redirect::Policy::none())
}

async fn body(response: reqwest::Response) -> Value {
    response.json().await.expect("a JSON body")
}

#[tokio::test]
async fn the_holberton_flow_over_tls_and_http2_by_alpn() {
    let (server, ca, _files) =
        start_tls(&["--password-min-length", "5", "--reset-delivery", "response"]);
    let http = https_client(&ca).build().unwrap();
    let email = "guillaume@holberton.io";

    let r = http
        .post(server.url("/users"))
        .form(&[("email", email), ("password", "b4l0u")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2, "ALPN chose h2");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        body(r).await,
        json!({"email": email, "message": "user created"})
    );

    let r = http
        .post(server.url("/sessions"))
        .form(&[("email", email), ("password", "b4l0u")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let session_id = session_cookie(&r).expect("a session cookie");
    let r = http
        .get(server.url("/profile"))
        .header("Cookie", format!("session_id={session_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(body(r).await, json!({"email": email}));
    let r = http
        .delete(server.url("/sessions"))
        .header("Cookie", format!("session_id={session_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let r = http
        .post(server.url("/reset_password"))
        .form(&[("email", email)])
        .send()
        .await
        .unwrap();
    let token = body(r).await["reset_token"].as_str().unwrap().to_owned();
    let r = http
        .put(server.url("/reset_password"))
        .form(&[
            ("email", email),
            ("reset_token", &token),
            ("new_password", "t4rt1fl3tt3"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        body(r).await,
        json!({"email": email, "message": "Password updated"})
    );

    // An HTTP/1.1-only client gets HTTP/1.1 from the same server.
    let http1 = https_client(&ca).http1_only().build().unwrap();
    let r = http1
        .post(server.url("/sessions"))
        .form(&[("email", email), ("password", "t4rt1fl3tt3")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_11);
    assert_eq!(r.status(), StatusCode::OK);

    // A client that does not trust the CA is refused by its own TLS check.
    let stranger = https_client(&TestCa::new("another CA")).build().unwrap();
    assert!(stranger.get(server.url("/healthz")).send().await.is_err());

    // Plain HTTP on the TLS port is not served.
    let plain = server.base_url.replace("https://", "http://");
    let refused = common::client()
        .get(format!("{plain}/healthz"))
        .send()
        .await;
    assert!(refused.map(|r| !r.status().is_success()).unwrap_or(true));

    assert!(server.stop().success(), "authd exits 0 on SIGTERM");
}

#[tokio::test]
async fn sighup_serves_a_new_certificate_to_new_connections_and_keeps_old_ones() {
    let (server, old_ca, files) = start_tls(&["--header-timeout", "30s"]);
    // HTTP/2: one connection that the client keeps for every request.
    let old_client = https_client(&old_ca).build().unwrap();
    let r = old_client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let new_ca = TestCa::new("the next CA");
    let new_only = https_client(&new_ca).build().unwrap();
    assert!(
        new_only.get(server.url("/healthz")).send().await.is_err(),
        "before the reload the server still shows the old certificate"
    );

    write_pair(files.path(), &new_ca.leaf());
    hangup(&server);
    server
        .stderr_once_it_holds("reloaded the TLS certificate")
        .await;

    // A new connection gets the new certificate.
    let r = new_only.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let fresh_old = https_client(&old_ca).build().unwrap();
    assert!(
        fresh_old.get(server.url("/healthz")).send().await.is_err(),
        "a new connection no longer gets the old certificate"
    );
    // The old connection was not dropped: a new one would fail its check
    // against the old CA, so this answer came over the connection opened
    // before the reload.
    let r = old_client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // A bad pair at SIGHUP keeps the one in use, and says why.
    std::fs::write(files.path().join("key.pem"), "not a key").unwrap();
    hangup(&server);
    let stderr = server
        .stderr_once_it_holds("kept the previous TLS certificate")
        .await;
    assert!(stderr.contains("--tls-key"), "{stderr}");
    let again = https_client(&new_ca).build().unwrap();
    let r = again.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(server.stop().success());
}

fn hangup(server: &Server) {
    let status = Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// `authd serve` with these TLS options: its exit status and standard error.
fn start_expecting_failure(dir: &Path, tls_args: &[&str]) -> (Option<i32>, String) {
    let output = Run::authd()
        .current_dir(dir)
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--database",
            &sqlite_url(dir),
        ])
        .args(tls_args)
        .output();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_bad_pair_at_start_is_one_line_naming_the_option_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("authd test CA");
    let (cert, key) = write_pair(dir.path(), &ca.leaf());
    let other_key = dir.path().join("other-key.pem");
    std::fs::write(&other_key, ca.leaf().key_pem).unwrap();
    let (cert, key, other_key) = (
        cert.to_str().unwrap(),
        key.to_str().unwrap(),
        other_key.to_str().unwrap(),
    );
    let missing = dir.path().join("missing.pem");
    let missing = missing.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["--tls-cert", key, "--tls-key", key], "--tls-cert"),
        (&["--tls-cert", cert, "--tls-key", cert], "--tls-key"),
        (&["--tls-cert", cert, "--tls-key", other_key], "--tls-key"),
        (&["--tls-cert", missing, "--tls-key", key], "--tls-cert"),
        (&["--tls-cert", cert], "--tls-key"),
    ];
    for (args, option) in cases {
        let (code, stderr) = start_expecting_failure(dir.path(), args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(option), "{args:?}: {stderr}");
    }
    // Checked before anything else: no database and no key were created.
    assert!(!dir.path().join("auth.db").exists());
    assert!(!dir.path().join("authd.key").exists());
}

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
/// "listening on" line, stops it and returns everything it wrote to standard
/// error.
fn start_up_lines(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let database = sqlite_url(dir.path());
    let mut all = vec!["--database", database.as_str()];
    all.extend_from_slice(args);
    let (status, seen) = Server::launch(dir.path(), &all).stop_with_stderr();
    assert!(status.success(), "{seen}");
    seen
}

#[test]
fn serving_plain_http_beyond_loopback_warns_that_secure_cookies_need_https() {
    let warning = "without --tls-cert and without an https:// --public-url";
    let plain = start_up_lines(&["--bind", "0.0.0.0:0"]);
    assert!(plain.contains(warning), "{plain}");
    let behind_proxy = start_up_lines(&[
        "--bind",
        "0.0.0.0:0",
        "--public-url",
        "https://auth.example.com",
    ]);
    assert!(!behind_proxy.contains(warning), "{behind_proxy}");
    let loopback = start_up_lines(&["--bind", "127.0.0.1:0"]);
    assert!(!loopback.contains(warning), "{loopback}");
    let ca = TestCa::new("authd test CA");
    let files = tempfile::tempdir().unwrap();
    let (cert, key) = write_pair(files.path(), &ca.leaf());
    let tls = start_up_lines(&[
        "--bind",
        "0.0.0.0:0",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    assert!(!tls.contains(warning), "{tls}");
    assert!(tls.contains("listening on https://"), "{tls}");
}

#[tokio::test]
async fn a_form_posted_without_any_cookie_says_the_site_needs_https() {
    let server = Server::start(&[]);
    // What a browser does over plain HTTP on a non-loopback host: the page
    // came with a Secure pre-session cookie that it then does not send back.
    let http = common::client();
    let page = http
        .get(server.url("/login"))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = page
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a csrf_token field")
        .to_owned();
    let r = http
        .post(server.url("/login"))
        .header("Accept", "text/html")
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", "someone"),
            ("password", "whatever it is"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("this site must be opened over HTTPS"),
        "{body}"
    );
    assert!(server.stop().success());
}

/// Runs the built `authd-client` with `args` and `stdin`.
fn desktop_client(args: &[&str], stdin: &str) -> std::process::Output {
    Run::client().args(args).stdin(stdin).output()
}

#[tokio::test]
async fn authd_client_checks_over_https_trusting_a_private_ca() {
    let (server, ca, files) = start_tls(&[]);
    let password = "correct horse battery staple";
    let r = https_client(&ca)
        .build()
        .unwrap()
        .post(server.url("/users"))
        .form(&[("username", "kvothe"), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let ca_path = files.path().join("ca.pem");
    std::fs::write(&ca_path, ca.cert_pem()).unwrap();
    let identity = files.path().join("machine-identity");
    std::fs::write(&identity, "the first computer of kvothe").unwrap();
    let (ca_path, identity) = (ca_path.to_str().unwrap(), identity.to_str().unwrap());
    let stdin = format!("kvothe\n{password}\n");

    let server_arg = server.base_url.as_str();
    let out = desktop_client(
        &[
            "--server",
            server_arg,
            "--ca-cert",
            ca_path,
            "--machine-id-file",
            identity,
        ],
        &stdin,
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "OK (machine bound)\n");
    assert_eq!(out.status.code(), Some(0));
    // The same by name: the certificate is also for localhost.
    let by_name = server_arg.replace("127.0.0.1", "localhost");
    let out = desktop_client(
        &[
            "--server",
            &by_name,
            "--ca-cert",
            ca_path,
            "--machine-id-file",
            identity,
        ],
        &stdin,
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "OK (machine known)\n");

    // Without --ca-cert the web roots do not vouch for the test CA.
    let out = desktop_client(
        &["--server", server_arg, "--machine-id-file", identity],
        &stdin,
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("FAILED: cannot reach the server"),
        "{stdout}"
    );
    assert!(!stdout.contains(password));

    // Another CA: refused the same way, the password never sent.
    let other = files.path().join("other-ca.pem");
    std::fs::write(&other, TestCa::new("another CA").cert_pem()).unwrap();
    let out = desktop_client(
        &[
            "--server",
            server_arg,
            "--ca-cert",
            other.to_str().unwrap(),
            "--machine-id-file",
            identity,
        ],
        &stdin,
    );
    assert_eq!(out.status.code(), Some(1));

    // A --ca-cert that is no certificate: one line, exit 2.
    for bad in [identity, "/nonexistent/ca.pem"] {
        let out = desktop_client(
            &[
                "--server",
                server_arg,
                "--ca-cert",
                bad,
                "--machine-id-file",
                identity,
            ],
            &stdin,
        );
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("--ca-cert"), "{stderr}");
    }
    assert!(server.stop().success());
}

#[test]
fn authd_client_sends_plain_http_off_this_computer_only_with_insecure_http() {
    let dir = tempfile::tempdir().unwrap();
    let identity = dir.path().join("machine-identity");
    std::fs::write(&identity, "a computer").unwrap();
    let identity = identity.to_str().unwrap();
    for server in [
        "http://auth.example",
        "http://192.0.2.1:5000",
        "http://[2001:db8::1]",
    ] {
        let out = desktop_client(
            &["--server", server, "--machine-id-file", identity],
            "kvothe\npassword\n",
        );
        assert_eq!(out.status.code(), Some(2), "{server}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("--insecure-http"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    // With the flag it goes ahead (and here finds no such host).
    let out = desktop_client(
        &[
            "--server",
            "http://no-such-host.invalid",
            "--insecure-http",
            "--machine-id-file",
            identity,
        ],
        "kvothe\npassword\n",
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("FAILED: cannot reach the server"),
        "{stdout}"
    );
}

/// chromedriver, stopped when dropped.
struct Chromedriver(std::process::Child);

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The web login in headless Chromium over HTTPS. Chromium is made to trust
/// the test CA by its public key: `--ignore-certificate-errors-spki-list`
/// takes the base64 SHA-256 of a SubjectPublicKeyInfo, and accepts a chain
/// (here leaf + CA, as the server sends it) that holds that key. Unlike
/// `--ignore-certificate-errors` it accepts nothing else, which the test
/// shows with a certificate of another CA.
#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn the_web_login_in_headless_chromium_over_https_trusting_the_test_ca() {
    use base64::Engine as _;
    use fantoccini::{ClientBuilder, Locator};
    use sha2::Digest as _;

    const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
    const CHROMIUM: &str = "/usr/bin/chromium";
    assert!(
        Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
        "this test needs Debian's chromium and chromium-driver: {CHROMIUM}, {CHROMEDRIVER}"
    );
    let ca = TestCa::new("authd browser test CA");
    let files = tempfile::tempdir().unwrap();
    let leaf = ca.leaf();
    let chain = Leaf {
        cert_pem: format!("{}{}", leaf.cert_pem, ca.cert_pem()),
        key_pem: leaf.key_pem,
    };
    let (cert, key) = write_pair(files.path(), &chain);
    let server = Server::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "--cookie-name",
        "__Host-session",
    ]);
    let base = server.base_url.replace("127.0.0.1", "localhost");
    let ca_pin =
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(ca.public_key_der()));

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let _driver = Chromedriver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    let profile = tempfile::tempdir().unwrap();
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), "chrome".into());
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", profile.path().display()),
                format!("--ignore-certificate-errors-spki-list={ca_pin}"),
            ]
        }),
    );
    let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session");
    let text_of = |css: &'static str| {
        let browser = browser.clone();
        async move {
            let element = browser
                .wait()
                .at_most(Duration::from_secs(10))
                .for_element(Locator::Css(css))
                .await
                .unwrap_or_else(|e| panic!("{css}: {e}"));
            element.text().await.unwrap()
        }
    };
    let fill = |id: &'static str, text: &'static str| {
        let browser = browser.clone();
        async move {
            browser
                .find(Locator::Id(id))
                .await
                .unwrap_or_else(|e| panic!("field {id}: {e}"))
                .send_keys(text)
                .await
                .unwrap();
        }
    };
    let submit = || {
        let browser = browser.clone();
        async move {
            browser
                .find(Locator::Css("button[type=submit]"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
        }
    };

    browser.goto(&format!("{base}/signup")).await.unwrap();
    fill("username", "kvothe").await;
    fill("password", "3##Heel7sa*9-zRwT").await;
    submit().await;
    assert_eq!(
        text_of(".flash.notice").await,
        "Account created, please log in"
    );
    fill("username", "kvothe").await;
    fill("password", "3##Heel7sa*9-zRwT").await;
    submit().await;
    assert_eq!(text_of("#whoami").await, "kvothe");
    let url = browser.current_url().await.unwrap();
    assert_eq!((url.scheme(), url.path()), ("https", "/me"));
    browser.refresh().await.unwrap();
    assert_eq!(text_of("#whoami").await, "kvothe");
    browser.goto(&format!("{base}/logout")).await.unwrap();
    browser.goto(&format!("{base}/me")).await.unwrap();
    assert_eq!(browser.current_url().await.unwrap().path(), "/login");

    // The pin trusts that CA only: a server with another CA's certificate
    // is refused (an interstitial, never the login page).
    let stranger_ca = TestCa::new("a CA the browser does not trust");
    let stranger_files = tempfile::tempdir().unwrap();
    let (cert, key) = write_pair(stranger_files.path(), &stranger_ca.leaf());
    let stranger = Server::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let _ = browser
        .goto(&format!(
            "{}/login",
            stranger.base_url.replace("127.0.0.1", "localhost")
        ))
        .await;
    let source = browser.source().await.unwrap_or_default();
    assert!(
        !source.contains("csrf_token"),
        "the untrusted site's page was shown"
    );
    browser.close().await.unwrap();
    assert!(server.stop().success());
}

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
