//! The real reverse proxies in front of authd (docs/forward-auth.md): nginx
//! with `auth_request` and Caddy with `forward_auth`, each run with the
//! configuration file the documentation shows (examples/forward-auth/, its
//! three ports replaced), before an application written here that echoes
//! the headers it receives.
//!
//! Needs Debian's `nginx` and `caddy`: ignored tests, with their reason in
//! `cargo test`'s summary; CI installs both and runs them with
//! `--include-ignored`, where they fail if either is missing.

use crate::common;

use std::net::TcpListener as StdListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{client, session_cookie, sqlite_url, Server};
use reqwest::{Response, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::forward_auth::{authd_ok, signed_up};
use crate::login_next::form_login;

const NGINX: &str = "/usr/sbin/nginx";
const CADDY: &str = "/usr/bin/caddy";
/// The ports of the documented files: the site, authd, the application.
const DOC_PORTS: [&str; 3] = ["9090", "9091", "9092"];

/// Fails the test when the proxy is missing.
fn require(program: &str) {
    assert!(
        Path::new(program).exists(),
        "this test needs Debian's nginx and caddy (apt-get install nginx caddy): {program}"
    );
}

/// A port free right now on 127.0.0.1.
pub(crate) fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The documented file, with the test's ports in place of the documented ones.
fn documented(file: &str, ports: [u16; 3]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/forward-auth")
        .join(file);
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (documented, port) in DOC_PORTS.iter().zip(ports) {
        assert!(text.contains(documented), "{file} names port {documented}");
        text = text.replace(documented, &port.to_string());
    }
    text
}

/// The application: answers every request with 200 and the request's head
/// (lower-cased header names), so the test sees what the proxy let through.
pub(crate) async fn echo_application(port: u16) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head);
                let body: String = text
                    .lines()
                    .map(|line| match line.split_once(':') {
                        Some((name, value)) => format!("{}:{}\n", name.to_ascii_lowercase(), value),
                        None => format!("{line}\n"),
                    })
                    .collect();
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
}

/// A proxy process, stopped when dropped.
pub(crate) struct Proxy(pub(crate) Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// nginx, in the foreground, with the documented server block.
pub(crate) fn start_nginx(dir: &Path, ports: [u16; 3]) -> Proxy {
    require(NGINX);
    std::fs::write(dir.join("server.conf"), documented("nginx.conf", ports)).unwrap();
    let d = dir.display();
    let main = format!(
        "worker_processes 1;\nerror_log {d}/nginx-error.log;\npid {d}/nginx.pid;\nevents {{}}\n\
         http {{\n    access_log off;\n    client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n\
         include {d}/server.conf;\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), main).unwrap();
    let child = Command::new(NGINX)
        .args([
            "-p",
            &d.to_string(),
            "-c",
            &format!("{d}/nginx.conf"),
            "-g",
            "daemon off;",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Proxy(child)
}

/// Caddy, with the documented site block (and its admin endpoint off).
fn start_caddy(dir: &Path, ports: [u16; 3]) -> Proxy {
    require(CADDY);
    let file = format!("{{\n\tadmin off\n}}\n{}", documented("Caddyfile", ports));
    std::fs::write(dir.join("Caddyfile"), file).unwrap();
    let child = Command::new(CADDY)
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(dir.join("Caddyfile"))
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir)
        .env("XDG_CONFIG_HOME", dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Proxy(child)
}

/// Waits until something listens on the port.
pub(crate) async fn listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A GET of the protected site through the proxy, with a forged identity.
async fn visit(site: u16, path: &str, session: Option<&str>) -> Response {
    let mut request = client()
        .get(format!("http://127.0.0.1:{site}{path}"))
        .header("Host", format!("app.example.test:{site}"))
        .header("Remote-User", "admin")
        .header("Remote-Email", "forged@evil.example")
        .header("Remote-Name", "Forged")
        .header("Remote_User", "admin");
    if let Some(token) = session {
        request = request.header("Cookie", format!("session_id={token}"));
    }
    request.send().await.unwrap()
}

/// One proxy in front of authd and the application, walked through.
async fn walk(start_proxy: fn(&Path, [u16; 3]) -> Proxy) {
    let dir = tempfile::tempdir().unwrap();
    let ports = [free_port(), free_port(), free_port()];
    let [site, authd_port, application] = ports;
    let public_url = format!("http://127.0.0.1:{authd_port}");
    let bind = format!("127.0.0.1:{authd_port}");
    let database = sqlite_url(dir.path());
    let authd = Server::launch(
        dir.path(),
        &[
            "--bind",
            &bind,
            "--database",
            &database,
            "--trusted-proxy",
            "127.0.0.1",
            "--public-url",
            &public_url,
            "--ip-rate-limit",
            "off",
        ],
    );
    echo_application(application).await;
    let _proxy = start_proxy(dir.path(), ports);
    listening(site).await;

    signed_up(&authd, "alice").await;
    let bob = signed_up(&authd, "bob").await;
    let host = format!("app.example.test:{site}");
    authd_ok(
        &authd,
        &database,
        &["site", "add", &host, "--allow-user", "alice"],
    );

    // Signed out: to the login page, and back to the page after it.
    let r = visit(site, "/page?q=1&r=2", None).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let original = format!("http://app.example.test:{site}/page?q=1&r=2");
    let encoded: String = url_encode(&original);
    let login = format!("{public_url}/login?next={encoded}");
    assert_eq!(r.headers()["location"].to_str().unwrap(), login);
    let r = form_login(&authd, "alice", &original).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"].to_str().unwrap(), original);
    let alice = session_cookie(&r).unwrap();

    // Signed in: the application sees authd's word, never the client's.
    let r = visit(site, "/page?q=1&r=2", Some(&alice)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let seen = r.text().await.unwrap();
    assert!(seen.starts_with("GET /page?q=1&r=2 "), "{seen}");
    assert!(seen.contains("\nremote-user: alice\n"), "{seen}");
    assert!(
        seen.contains("\nremote-email: alice@example.test\n"),
        "{seen}"
    );
    assert!(seen.contains("\nremote-name: alice the tester\n"), "{seen}");
    for forged in ["admin", "forged@evil.example", "Forged", "remote_user"] {
        assert!(
            !seen.contains(forged),
            "{forged} reached the application:\n{seen}"
        );
    }

    // An account outside the allow list: 403.
    let r = visit(site, "/", Some(&bob)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // A second factor required: alice's password-only session is refused.
    authd_ok(&authd, &database, &["site", "delete", &host]);
    authd_ok(
        &authd,
        &database,
        &["site", "add", &host, "--second-factor", "required"],
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let r = visit(site, "/", Some(&alice)).await;
    assert!(
        r.status() == StatusCode::FORBIDDEN
            || r.status() == StatusCode::FOUND
                && r.headers()["location"] == format!("{public_url}/me/security").as_str(),
        "{r:?}"
    );

    // authd gone: the proxy refuses, it never lets in.
    drop(authd);
    let r = visit(site, "/", Some(&alice)).await;
    assert!(r.status().is_server_error(), "{r:?}");
}

/// What authd's redirect writes for `next` (every byte but letters and
/// digits percent-encoded).
fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[tokio::test]
#[ignore = "needs nginx and caddy (apt-get install nginx caddy)"]
async fn nginx_auth_request_with_the_documented_configuration() {
    walk(start_nginx).await;
}

#[tokio::test]
#[ignore = "needs nginx and caddy (apt-get install nginx caddy)"]
async fn caddy_forward_auth_with_the_documented_configuration() {
    walk(start_caddy).await;
}

#[test]
fn the_chapter_shows_the_files_this_test_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let chapter = std::fs::read_to_string(root.join("docs/forward-auth.md")).unwrap();
    for (file, fence) in [("nginx.conf", "```nginx\n"), ("Caddyfile", "```caddy\n")] {
        let text = std::fs::read_to_string(root.join("examples/forward-auth").join(file)).unwrap();
        assert!(
            chapter.contains(&format!("{fence}{text}```\n")),
            "docs/forward-auth.md must show examples/forward-auth/{file} as it is"
        );
    }
}
