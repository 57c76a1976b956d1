//! HTTPS with the test CA: the whole flow over TLS and HTTP/2 by ALPN,
//! certificate reload on SIGHUP, and a bad pair at start.

use std::path::Path;
use std::process::Command;

use crate::common::{session_cookie, sqlite_url, Run, Server};
use reqwest::StatusCode;
use serde_json::json;

use super::*;

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
