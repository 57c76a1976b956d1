//! The TLS phases (issue 13): a CA and a certificate made for the run, and
//! session checks over HTTPS keep-alive and on a new connection each.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::{Client, StatusCode};

use crate::client::{self, Users};
use crate::load::{phase, targets, Load, Phase, Watch};
use crate::server::Server;
use crate::Args;

/// A CA and a certificate for 127.0.0.1 signed by it, written as PEM into
/// `dir`: the certificate and key paths, and the CA for the clients.
pub fn tls_files(dir: &Path) -> anyhow::Result<(PathBuf, PathBuf, reqwest::Certificate)> {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "authd bench CA");
    let ca_key = rcgen::KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let leaf_params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    let leaf_key = rcgen::KeyPair::generate()?;
    let leaf = leaf_params.signed_by(&leaf_key, &ca_cert, &ca_key)?;
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, leaf.pem())?;
    std::fs::write(&key, leaf_key.serialize_pem())?;
    Ok((
        cert,
        key,
        reqwest::Certificate::from_pem(ca_cert.pem().as_bytes())?,
    ))
}

/// `serve`'s options for the certificate and key of [`tls_files`].
pub fn serve_options(cert: &Path, key: &Path) -> Vec<String> {
    vec![
        "--tls-cert".to_owned(),
        cert.display().to_string(),
        "--tls-key".to_owned(),
        key.display().to_string(),
    ]
}

/// The TLS phases: session checks over HTTPS keep-alive (HTTP/1.1, as the
/// plain ones), and a new TLS connection for every request.
pub async fn run_tls(
    args: &Args,
    server: &Server,
    ca: reqwest::Certificate,
) -> anyhow::Result<Vec<Phase>> {
    let builder = || {
        Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca.clone())
            .http1_only()
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(300))
    };
    let keep_alive = builder()
        .pool_max_idle_per_host(usize::MAX)
        .pool_idle_timeout(Duration::from_secs(300))
        .build()?;
    // No idle connection is kept: every request opens (and handshakes) one.
    let fresh = builder().pool_max_idle_per_host(0).build()?;
    let users = Users::new(2);
    let registered = client::form_post(&keep_alive, &server.url("/users"), users.form(0))
        .send()
        .await?;
    anyhow::ensure!(
        registered.status() == StatusCode::OK,
        "TLS setup /users: {}",
        registered.status()
    );
    let cookie = client::session_cookie(&keep_alive, &server.url("/sessions"), &users, 0).await?;
    let seconds = args.seconds.max(1);
    let conns = args.connections.max(1);
    let watch = Watch {
        servers: vec![server],
        database: None,
    };
    eprintln!("bench: phase 12/13: session checks over TLS keep-alive at {conns} connections");
    let checks = phase(
        "TLS sessions",
        &keep_alive,
        vec![(
            "GET /profile TLS",
            Load::Profile(targets(&[server], "/profile"), cookie),
            conns,
        )],
        seconds,
        &watch,
    )
    .await;
    let handshakes = args.login_connections.max(1);
    eprintln!("bench: phase 13/13: new TLS connections at {handshakes} at once");
    let connections = phase(
        "TLS handshakes",
        &fresh,
        vec![(
            "GET / new conn",
            Load::Root(targets(&[server], "/")),
            handshakes,
        )],
        seconds,
        &watch,
    )
    .await;
    Ok(vec![checks, connections])
}
