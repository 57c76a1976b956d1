//! The network edge against the real binary: HTTPS with a test CA made here
//! (rcgen), HTTP/2 by ALPN, certificate reload on SIGHUP, a bad pair at
//! start, the header timeout against trickling clients and the connection
//! limit.

mod chromium;
mod client;
mod https;
mod plain_http;
mod slow_clients;

use std::path::{Path, PathBuf};

use crate::common;

use common::ca::{Leaf, TestCa};
use common::Server;
use serde_json::Value;

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
