//! Plain HTTP beyond the loopback: the warning at start, and the page a
//! form posted without any cookie gets.

use crate::common::{sqlite_url, Server};
use reqwest::StatusCode;

use super::*;

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
    // An http:// --public-url on a loopback name with a wider bind: the
    // server reached as localhost (a tunnel, a port forward) still warns.
    let plain = start_up_lines(&[
        "--bind",
        "0.0.0.0:0",
        "--public-url",
        "http://localhost:5000",
    ]);
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
