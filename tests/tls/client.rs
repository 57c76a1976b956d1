//! `authd-client` over HTTPS trusting a private CA, and plain HTTP only
//! with `--insecure-http`.

use crate::common::Run;
use reqwest::StatusCode;

use super::*;

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
