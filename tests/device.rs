//! The device check end to end: the built `authd-client` against the real
//! `authd`, two users and two computers (`--machine-id-file`).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;

use base64::Engine as _;
use common::{client, Run, Server};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

const KVOTHE_PASSWORD: &str = " kvothe's long password ";
const DENNA_PASSWORD: &str = "denna's long password";

/// Runs `authd-client` against the server at `base_url` as the computer whose identity is in
/// `machine`, typing `username` and `password` on standard input.
fn run_client_at(base_url: &str, machine: &Path, username: &str, password: &str) -> Output {
    let out = Run::client()
        .args(["--server", base_url, "--machine-id-file"])
        .arg(machine)
        .stdin(format!("{username}\n{password}\n"))
        .output();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout:?} {stderr:?}");
    assert!(!stdout.contains(password.trim()) && !stderr.contains(password.trim()));
    out
}

fn line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

/// The machine ID of an identity, computed here apart from the client.
fn machine_id(identity: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(identity.trim().as_bytes()).unwrap();
    mac.update(b"authd-client machine-id v1");
    hex::encode(mac.finalize().into_bytes())
}

/// `GET /check` sent directly: the status and the body.
async fn check(server: &Server, username: &str, password: &str, machine: &str) -> (u16, Value) {
    let header = base64::engine::general_purpose::STANDARD.encode(
        json!({"username": username, "password": password, "machine_id": machine}).to_string(),
    );
    let response = client()
        .get(server.url("/check"))
        .header("SEEK_CUSTOM_AUTH", header)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

async fn register(server: &Server, username: &str, password: &str) {
    let response = client()
        .post(server.url("/users"))
        .form(&[("username", username), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
}

fn identity_file(dir: &Path, name: &str, identity: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{identity}\n")).unwrap();
    path
}

#[tokio::test]
async fn bound_then_known_then_mismatch_and_taken() {
    let server = Server::start(&[]);
    register(&server, "kvothe", KVOTHE_PASSWORD).await;
    register(&server, "denna", DENNA_PASSWORD).await;
    let dir = tempfile::tempdir().unwrap();
    let (identity_1, identity_2) = (
        "11111111111111111111111111111111",
        "22222222222222222222222222222222",
    );
    let computer_1 = identity_file(dir.path(), "computer-1", identity_1);
    let computer_2 = identity_file(dir.path(), "computer-2", identity_2);

    // Each step runs the client in a blocking task: the server is another
    // process, but the direct checks share this runtime.
    let run = |machine: &PathBuf, username: &'static str, password: &'static str| {
        let machine = machine.clone();
        let base_url = server.base_url.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                run_client_at(&base_url, &machine, username, password)
            })
            .await
            .unwrap()
        }
    };

    // kvothe's first check binds computer 1 to him; the next one knows it.
    let out = run(&computer_1, "kvothe", KVOTHE_PASSWORD).await;
    assert_eq!(line(&out), "OK (machine bound)");
    assert_eq!(out.status.code(), Some(0));
    let out = run(&computer_1, "kvothe", KVOTHE_PASSWORD).await;
    assert_eq!(line(&out), "OK (machine known)");
    assert_eq!(out.status.code(), Some(0));
    // The server bound the ID derived as docs/contract/5-device-check.md says (computed here apart).
    let (status, body) = check(&server, "kvothe", KVOTHE_PASSWORD, &machine_id(identity_1)).await;
    assert_eq!((status, &body["machine"]), (200, &json!("known")), "{body}");

    // A wrong password: invalid_credentials, whichever computer.
    let out = run(&computer_1, "kvothe", "not kvothe's password").await;
    assert_eq!(out.status.code(), Some(1));
    let (status, body) = check(
        &server,
        "kvothe",
        "not kvothe's password",
        &machine_id(identity_1),
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (401, &json!("invalid_credentials")),
        "{body}"
    );
    assert_eq!(
        line(&out),
        format!("FAILED: {}", body["message"].as_str().unwrap())
    );

    // kvothe on computer 2: machine_mismatch.
    let out = run(&computer_2, "kvothe", KVOTHE_PASSWORD).await;
    assert_eq!(out.status.code(), Some(1));
    let (status, body) = check(&server, "kvothe", KVOTHE_PASSWORD, &machine_id(identity_2)).await;
    assert_eq!(
        (status, &body["error"]),
        (403, &json!("machine_mismatch")),
        "{body}"
    );
    assert_eq!(
        line(&out),
        format!("FAILED: {}", body["message"].as_str().unwrap())
    );

    // denna on kvothe's computer: machine_taken.
    let out = run(&computer_1, "denna", DENNA_PASSWORD).await;
    assert_eq!(out.status.code(), Some(1));
    let (status, body) = check(&server, "denna", DENNA_PASSWORD, &machine_id(identity_1)).await;
    assert_eq!(
        (status, &body["error"]),
        (403, &json!("machine_taken")),
        "{body}"
    );
    assert_eq!(
        line(&out),
        format!("FAILED: {}", body["message"].as_str().unwrap())
    );

    // denna on the free computer 2: bound to her, then known.
    let out = run(&computer_2, "denna", DENNA_PASSWORD).await;
    assert_eq!(
        (line(&out).as_str(), out.status.code()),
        ("OK (machine bound)", Some(0))
    );
    let out = run(&computer_2, "denna", DENNA_PASSWORD).await;
    assert_eq!(
        (line(&out).as_str(), out.status.code()),
        ("OK (machine known)", Some(0))
    );

    let stderr = server.stderr();
    for secret in [KVOTHE_PASSWORD.trim(), DENNA_PASSWORD] {
        assert!(!stderr.contains(secret), "the server log holds no password");
    }
}

/// A counter's value in the server's `/metrics`.
async fn metric(server: &Server, name: &str) -> u64 {
    let text = client()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} is not in /metrics"))
        .trim()
        .parse()
        .unwrap()
}

/// Runs `authd user …` on the server's database, with `stdin` typed in.
fn admin(server: &Server, args: &[&str], stdin: &str) -> Output {
    Run::authd()
        .current_dir(&server.dir)
        .args(["--database", &common::sqlite_url(&server.dir)])
        .args(["--bcrypt-cost", "4", "user"])
        .args(args)
        .stdin(stdin)
        .output()
}

#[tokio::test]
async fn the_cache_spares_hashes_and_admin_changes_take_effect_at_once() {
    let server = Server::start(&[]);
    register(&server, "kvothe", KVOTHE_PASSWORD).await;
    let dir = tempfile::tempdir().unwrap();
    let computer_1 = identity_file(dir.path(), "computer-1", "1111111111111111");
    let computer_2 = identity_file(dir.path(), "computer-2", "2222222222222222");
    let run = |machine: &PathBuf, password: &'static str| {
        let (machine, base_url) = (machine.clone(), server.base_url.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                run_client_at(&base_url, &machine, "kvothe", password)
            })
            .await
            .unwrap()
        }
    };
    assert_eq!(
        line(&run(&computer_1, KVOTHE_PASSWORD).await),
        "OK (machine bound)"
    );

    // A repeated check is answered from the cache: no bcrypt hash.
    let hashes = metric(&server, "authd_password_hashes_total").await;
    let hits = metric(&server, "authd_check_cache_hits_total").await;
    for _ in 0..3 {
        assert_eq!(
            line(&run(&computer_1, KVOTHE_PASSWORD).await),
            "OK (machine known)"
        );
    }
    assert_eq!(metric(&server, "authd_password_hashes_total").await, hashes);
    assert_eq!(
        metric(&server, "authd_check_cache_hits_total").await,
        hits + 3
    );

    // A session to watch end.
    let login = client()
        .post(server.url("/sessions"))
        .form(&[("username", "kvothe"), ("password", KVOTHE_PASSWORD)])
        .send()
        .await
        .unwrap();
    let cookie = format!("session_id={}", common::session_cookie(&login).unwrap());

    // `authd user set-password`: inside the cache window the old password
    // fails at once, and the user's sessions are gone.
    let out = admin(
        &server,
        &["set-password", "kvothe", "--password-stdin"],
        "kvothe's new password\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&computer_1, KVOTHE_PASSWORD).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(line(&out).starts_with("FAILED: "), "{}", line(&out));
    let profile = client()
        .get(server.url("/profile"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(profile.status(), 403);
    assert_eq!(
        line(&run(&computer_1, "kvothe's new password").await),
        "OK (machine known)"
    );

    // `authd user unbind-machine`: the new computer binds.
    let out = run(&computer_2, "kvothe's new password").await;
    assert_eq!(out.status.code(), Some(1), "still bound to computer 1");
    let out = admin(&server, &["unbind-machine", "kvothe"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        line(&run(&computer_2, "kvothe's new password").await),
        "OK (machine bound)"
    );
    assert_eq!(
        admin(&server, &["unbind-machine", "nobody"], "")
            .status
            .code(),
        Some(1),
        "an unknown user is exit 1"
    );
}
