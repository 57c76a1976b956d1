//! The built `authd-client` over a real socket: usage errors, an unreachable
//! server, and the request it sends and the line it prints, against a
//! one-shot stand-in server that records the request.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Output;
use std::thread::JoinHandle;
use std::time::Duration;

use base64::Engine as _;
use common::Run;
use serde_json::{json, Value};

const IDENTITY: &str = "0123456789abcdef0123456789abcdef";
/// `python3 -c 'import hmac,hashlib; print(hmac.new(b"0123456789abcdef0123456789abcdef",
/// b"authd-client machine-id v1", hashlib.sha256).hexdigest())'`
const MACHINE_ID: &str = "bd92666b91c8c2f89f4d41f8f866e6f48ab10e5253301c59091668a9eb8b3478";
const PASSWORD: &str = " correct horse battery staple ";

/// Runs `authd-client` with `args`, `stdin` as its standard input, and
/// neither AUTHD_SERVER nor a proxy from the environment.
fn client(args: &[&str], stdin: &str) -> Output {
    Run::client().args(args).stdin(stdin).output()
}

fn identity_file(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts stdout is exactly one line, and returns it.
fn one_stdout_line(out: &Output) -> String {
    let stdout = text(&out.stdout);
    assert!(stdout.ends_with('\n'), "{stdout:?}");
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    stdout.trim_end().to_owned()
}

/// Asserts stdout is empty and stderr one line naming the program.
fn one_stderr_line(out: &Output) -> String {
    let stderr = text(&out.stderr);
    assert_eq!(text(&out.stdout), "", "nothing on stdout; stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr:?}");
    assert!(stderr.starts_with("authd-client: "), "{stderr:?}");
    stderr.trim_end().to_owned()
}

fn assert_no_secret(out: &Output) {
    for stream in [text(&out.stdout), text(&out.stderr)] {
        assert!(!stream.contains(PASSWORD.trim()), "{stream}");
        assert!(!stream.contains(IDENTITY), "{stream}");
    }
}

#[test]
fn an_unreachable_server_is_one_failed_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let id = identity_file(dir.path(), "id", IDENTITY);
    let out = client(
        &["--server", "http://127.0.0.1:1", "--machine-id-file", &id],
        &format!("kvothe\n{PASSWORD}\n"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let line = one_stdout_line(&out);
    assert!(line.starts_with("FAILED: "), "{line}");
    assert!(line.contains("127.0.0.1:1"), "{line}");
    assert_eq!(text(&out.stderr), "");
    assert_no_secret(&out);
}

#[test]
fn missing_or_empty_input_lines_are_one_line_on_stderr_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let id = identity_file(dir.path(), "id", IDENTITY);
    for stdin in ["", "\n", "kvothe\n", "kvothe\n\n"] {
        let out = client(
            &["--server", "http://127.0.0.1:1", "--machine-id-file", &id],
            stdin,
        );
        assert_eq!(out.status.code(), Some(2), "{stdin:?}");
        let line = one_stderr_line(&out);
        assert!(
            line.contains("username") || line.contains("password"),
            "{stdin:?}: {line}"
        );
    }
}

#[test]
fn a_missing_or_empty_machine_identity_is_one_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let empty = identity_file(dir.path(), "empty", " \n");
    let missing = dir.path().join("missing").to_str().unwrap().to_owned();
    for file in [&empty, &missing] {
        let out = client(
            &["--server", "http://127.0.0.1:1", "--machine-id-file", file],
            &format!("kvothe\n{PASSWORD}\n"),
        );
        assert_eq!(out.status.code(), Some(1), "{file}");
        let line = one_stderr_line(&out);
        assert!(line.contains(file.as_str()), "{line}");
        assert_no_secret(&out);
    }
}

#[test]
fn bad_options_are_one_line_naming_the_option_and_exit_2() {
    for args in [
        &["--server", "http://auth.example"][..],
        &["--server", "auth.example:5000"][..],
        &["--bogus"][..],
        &["--machine-id-file"][..],
    ] {
        let out = client(args, "kvothe\npw\n");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let line = one_stderr_line(&out);
        assert!(line.contains(args[0]), "{args:?}: {line}");
    }
}

#[test]
fn help_and_version_exit_0() {
    let out = client(&["--version"], "");
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("authd-client "));
    let out = client(&["--help"], "");
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for option in ["--server", "--machine-id-file", "AUTHD_SERVER"] {
        assert!(help.contains(option), "{help}");
    }
}

/// A server that takes one request, answers `status_line` with `body`, and
/// hands back the request head it read.
fn one_shot_server(
    status_line: &str,
    extra_headers: &str,
    body: &str,
) -> (String, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let response = format!(
        "HTTP/1.1 {status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{extra_headers}\r\n{body}",
        body.len()
    );
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("the client connects");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let mut stream = reader.into_inner();
        stream.write_all(response.as_bytes()).unwrap();
        stream.flush().unwrap();
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
        head
    });
    (base, handle)
}

/// The decoded `SEEK_CUSTOM_AUTH` of a request head (the name in any case).
fn credentials_sent(head: &str) -> Value {
    let mut values = head.lines().filter_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("seek_custom_auth")
            .then(|| value.trim().to_owned())
    });
    let value = values.next().expect("a SEEK_CUSTOM_AUTH header");
    assert!(values.next().is_none(), "one SEEK_CUSTOM_AUTH header");
    let json = base64::engine::general_purpose::STANDARD
        .decode(value)
        .expect("standard base64");
    serde_json::from_slice(&json).expect("JSON")
}

#[test]
fn the_request_carries_the_credentials_and_the_answer_is_printed() {
    let dir = tempfile::tempdir().unwrap();
    let id = identity_file(dir.path(), "id", &format!("  {IDENTITY}\n"));
    let cases = [
        (
            "200 OK",
            r#"{"status":"OK","username":"kvothe","machine":"bound"}"#,
            "OK (machine bound)",
            0,
        ),
        (
            "200 OK",
            r#"{"status":"OK","username":"kvothe","machine":"known"}"#,
            "OK (machine known)",
            0,
        ),
        (
            "403 Forbidden",
            r#"{"status":"FAILED","error":"machine_mismatch","message":"this account is bound to another machine"}"#,
            "FAILED: this account is bound to another machine",
            1,
        ),
        (
            "401 Unauthorized",
            r#"{"status":"FAILED","error":"invalid_credentials","message":"wrong username or password"}"#,
            "FAILED: wrong username or password",
            1,
        ),
        (
            "502 Bad Gateway",
            "<html>upstream down</html>",
            "FAILED: unexpected answer from the server (HTTP 502 Bad Gateway)",
            1,
        ),
    ];
    for (status_line, body, expected, code) in cases {
        let (base, server) = one_shot_server(status_line, "", body);
        let out = client(
            &["--server", &base, "--machine-id-file", &id],
            &format!("kvothe\r\n{PASSWORD}\r\n"),
        );
        let head = server.join().expect("the server thread");
        assert_eq!(out.status.code(), Some(code), "{status_line}");
        assert_eq!(one_stdout_line(&out), expected);
        assert_eq!(text(&out.stderr), "");
        assert_no_secret(&out);
        assert!(head.starts_with("GET /check HTTP/1.1\r\n"), "{head}");
        assert_eq!(
            credentials_sent(&head),
            json!({"username": "kvothe", "password": PASSWORD, "machine_id": MACHINE_ID})
        );
    }
}

#[test]
fn the_server_comes_from_authd_server_and_may_have_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let id = identity_file(dir.path(), "id", IDENTITY);
    let (base, server) = one_shot_server(
        "200 OK",
        "",
        r#"{"status":"OK","username":"kvothe","machine":"known"}"#,
    );
    let out = Run::client()
        .args(["--machine-id-file", &id])
        .env("AUTHD_SERVER", format!("{base}/auth/"))
        .stdin("kvothe\npw\n")
        .output();
    let head = server.join().unwrap();
    assert!(head.starts_with("GET /auth/check HTTP/1.1\r\n"), "{head}");
    assert_eq!(one_stdout_line(&out), "OK (machine known)");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_redirect_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let id = identity_file(dir.path(), "id", IDENTITY);
    // Were it followed, the credentials would go to a server nobody named.
    let elsewhere = TcpListener::bind("127.0.0.1:0").unwrap();
    elsewhere.set_nonblocking(true).unwrap();
    let (base, server) = one_shot_server(
        "302 Found",
        &format!(
            "location: http://{}/check\r\n",
            elsewhere.local_addr().unwrap()
        ),
        "",
    );
    let out = client(
        &["--server", &base, "--machine-id-file", &id],
        &format!("kvothe\n{PASSWORD}\n"),
    );
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        one_stdout_line(&out),
        "FAILED: unexpected answer from the server (HTTP 302 Found)"
    );
    assert!(
        elsewhere.accept().is_err(),
        "nothing connected to the redirect target"
    );
}
