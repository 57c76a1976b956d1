//! The command line: the options, the server URL and the TLS settings.

use std::path::PathBuf;

use clap::Parser;

/// authd-client: checks a username and password from this computer against an authd server.
///
/// Reads the username, then the password, one line each, from standard input
/// (with prompts, and without echo, when it is a terminal), sends them with
/// this computer's machine ID to GET /check, and prints `OK (machine bound)`,
/// `OK (machine known)` or `FAILED: <reason>`. Exits 0 on OK, 1 otherwise,
/// 2 on bad usage.
#[derive(Parser, Debug)]
#[command(name = "authd-client", version)]
pub(crate) struct Cli {
    /// Base URL of the authd server (https://HOST[:PORT][/PREFIX]; http:// only to this computer).
    #[arg(long, env = "AUTHD_SERVER", default_value = "http://127.0.0.1:5000",
          value_parser = parse_server)]
    pub(crate) server: Server,
    /// Trust this PEM certificate authority for https:// instead of the built-in web roots.
    #[arg(long, env = "AUTHD_CA_CERT", value_name = "PATH")]
    pub(crate) ca_cert: Option<PathBuf>,
    /// Allow plain http:// to a server on another computer (the password then travels in the clear).
    #[arg(long)]
    pub(crate) insecure_http: bool,
    /// Read the machine identity from this file instead of the operating system's (/etc/machine-id).
    #[arg(long, value_name = "PATH")]
    pub(crate) machine_id_file: Option<PathBuf>,
}

/// The server as given, and the URL of its `/check`.
#[derive(Clone, Debug)]
pub(crate) struct Server {
    pub(crate) base: String,
    pub(crate) check_url: String,
    /// `https://`.
    pub(crate) https: bool,
    /// The host is this computer (`localhost`, 127.0.0.0/8, `::1`).
    pub(crate) loopback: bool,
}

pub(crate) fn parse_server(text: &str) -> Result<Server, String> {
    let base = text.trim().trim_end_matches('/');
    let check_url = format!("{base}/check");
    let uri: ureq::http::Uri = check_url
        .parse()
        .map_err(|_| "not a URL (use https://HOST[:PORT])".to_owned())?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err("must start with https:// or http:// (use https://HOST[:PORT])".into()),
    };
    let Some(authority) = uri.authority() else {
        return Err("has no host (use https://HOST[:PORT])".into());
    };
    if authority.host().is_empty() {
        return Err("has no host (use https://HOST[:PORT])".into());
    }
    let loopback = is_loopback(authority.host());
    if authority.as_str().contains('@') {
        return Err("must not contain a user name or password".into());
    }
    if uri.query().is_some() || base.contains('#') {
        return Err("must not have a query or a fragment".into());
    }
    Ok(Server {
        base: base.to_owned(),
        check_url,
        https,
        loopback,
    })
}

/// `localhost` (and names under it), or a loopback IP address.
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let lower = host.to_ascii_lowercase();
    let lower = lower.trim_end_matches('.');
    lower == "localhost"
        || lower.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || is_mapped_loopback(ip))
}

pub(crate) fn is_mapped_loopback(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        std::net::IpAddr::V4(_) => false,
    }
}

/// The checks between options: plain HTTP leaves this computer only with
/// `--insecure-http`; `--ca-cert` must be a readable PEM certificate.
pub(crate) fn tls_settings(cli: &Cli) -> Result<ureq::tls::TlsConfig, String> {
    if !cli.server.https && !cli.server.loopback && !cli.insecure_http {
        return Err(format!(
            "--server {}: plain http:// would send the password in the clear to another computer; \
             use https://, or --insecure-http if you must",
            cli.server.base
        ));
    }
    let roots = match &cli.ca_cert {
        None => ureq::tls::RootCerts::WebPki,
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| format!("--ca-cert {}: cannot read: {e}", path.display()))?;
            let certs = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(cert)) => Some(Ok(cert)),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("--ca-cert {}: not PEM: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!(
                    "--ca-cert {}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file",
                    path.display()
                ));
            }
            ureq::tls::RootCerts::new_with_certs(&certs)
        }
    };
    Ok(ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .root_certs(roots)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_option_takes_https_and_http_urls() {
        let server = parse_server("http://127.0.0.1:5000").unwrap();
        assert_eq!(server.check_url, "http://127.0.0.1:5000/check");
        assert_eq!(server.base, "http://127.0.0.1:5000");
        let server = parse_server("http://auth.example:8080/authd/").unwrap();
        assert_eq!(server.check_url, "http://auth.example:8080/authd/check");
        assert_eq!(
            parse_server("http://[::1]:5000").unwrap().check_url,
            "http://[::1]:5000/check"
        );
        let secure = parse_server("https://auth.example").unwrap();
        assert!(secure.https && !secure.loopback);
        for (url, loopback) in [
            ("http://localhost:5000", true),
            ("http://LOCALHOST.:5000", true),
            ("http://127.9.8.7", true),
            ("http://[::1]:5000", true),
            ("http://[::ffff:127.0.0.1]:5000", true),
            ("http://auth.example", false),
            ("http://localhost.example", false),
            ("http://10.0.0.1", false),
            ("http://[2001:db8::1]", false),
        ] {
            assert_eq!(parse_server(url).unwrap().loopback, loopback, "{url}");
        }
        for bad in [
            "",
            "127.0.0.1:5000",
            "ftp://auth.example",
            "http://",
            "http://user:pw@auth.example",
            "http://auth.example/?x=1",
            "http://auth.example/#x",
            "not a url",
        ] {
            assert!(parse_server(bad).is_err(), "{bad:?} is refused");
        }
    }

    #[test]
    fn the_command_line_parses() {
        let cli = Cli::try_parse_from([
            "authd-client",
            "--server",
            "http://127.0.0.1:1",
            "--machine-id-file",
            "/tmp/id",
        ])
        .unwrap();
        assert_eq!(cli.server.check_url, "http://127.0.0.1:1/check");
        assert_eq!(cli.machine_id_file, Some(PathBuf::from("/tmp/id")));
        <Cli as clap::CommandFactory>::command().debug_assert();
    }
}
