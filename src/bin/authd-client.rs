//! `authd-client`: the desktop client of the device check (`GET /check`).
//!
//! Reads a username and a password from standard input, derives this
//! computer's machine ID, sends the three in the `SEEK_CUSTOM_AUTH` header and
//! prints the server's answer in one line on standard output: exit 0 on OK,
//! 1 otherwise. Bad usage (options, standard input) is one line on standard
//! error and exit 2. The password and the header value are never printed.

// The doc comments of the options are clap's `--help` text, written for a
// terminal (`HOST[:PORT]`, bare URLs), not rustdoc markdown.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::bare_urls)]

use std::fmt;
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine as _;
use clap::Parser;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// The header that carries the credentials.
const HEADER: &str = "SEEK_CUSTOM_AUTH";
/// The message the machine identity is HMAC'd over.
const MACHINE_ID_MESSAGE: &[u8] = b"authd-client machine-id v1";
/// How long the whole request may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The most of an answer that is read; a real one is far smaller.
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// authd-client: checks a username and password from this computer against an authd server.
///
/// Reads the username, then the password, one line each, from standard input
/// (with prompts, and without echo, when it is a terminal), sends them with
/// this computer's machine ID to GET /check, and prints `OK (machine bound)`,
/// `OK (machine known)` or `FAILED: <reason>`. Exits 0 on OK, 1 otherwise,
/// 2 on bad usage.
#[derive(Parser, Debug)]
#[command(name = "authd-client", version)]
struct Cli {
    /// Base URL of the authd server (https://HOST[:PORT][/PREFIX]; http:// only to this computer).
    #[arg(long, env = "AUTHD_SERVER", default_value = "http://127.0.0.1:5000",
          value_parser = parse_server)]
    server: Server,
    /// Trust this PEM certificate authority for https:// instead of the built-in web roots.
    #[arg(long, env = "AUTHD_CA_CERT", value_name = "PATH")]
    ca_cert: Option<PathBuf>,
    /// Allow plain http:// to a server on another computer (the password then travels in the clear).
    #[arg(long)]
    insecure_http: bool,
    /// Read the machine identity from this file instead of the operating system's (/etc/machine-id).
    #[arg(long, value_name = "PATH")]
    machine_id_file: Option<PathBuf>,
}

/// The server as given, and the URL of its `/check`.
#[derive(Clone, Debug)]
struct Server {
    base: String,
    check_url: String,
    /// `https://`.
    https: bool,
    /// The host is this computer (`localhost`, 127.0.0.0/8, `::1`).
    loopback: bool,
}

fn parse_server(text: &str) -> Result<Server, String> {
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
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let lower = host.to_ascii_lowercase();
    let lower = lower.trim_end_matches('.');
    lower == "localhost"
        || lower.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || is_mapped_loopback(ip))
}

fn is_mapped_loopback(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        std::net::IpAddr::V4(_) => false,
    }
}

/// The checks between options: plain HTTP leaves this computer only with
/// `--insecure-http`; `--ca-cert` must be a readable PEM certificate.
fn tls_settings(cli: &Cli) -> Result<ureq::tls::TlsConfig, String> {
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

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return report_usage_error(error),
    };
    let tls = match tls_settings(&cli) {
        Ok(tls) => tls,
        Err(message) => {
            eprintln!("authd-client: {message}");
            return ExitCode::from(2);
        }
    };
    let machine_id = match machine_id_of_this_computer(cli.machine_id_file.as_deref()) {
        Ok(machine_id) => machine_id,
        Err(message) => {
            eprintln!("authd-client: {message}");
            return ExitCode::FAILURE;
        }
    };
    let credentials = match read_credentials() {
        Ok(credentials) => credentials,
        Err(message) => {
            eprintln!("authd-client: {message}");
            return ExitCode::from(2);
        }
    };
    let header = header_value(&credentials, &machine_id);
    drop(credentials);
    let answer = check(&cli.server, tls, &header);
    println!("{answer}");
    if answer.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `--help` and `--version` print and exit 0; any other option error is one
/// line on standard error and exit 2.
fn report_usage_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = error.print();
            ExitCode::SUCCESS
        }
        _ => {
            let rendered = error.render().to_string();
            let first = rendered
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("bad usage");
            eprintln!("authd-client: {}", first.trim_start_matches("error: "));
            ExitCode::from(2)
        }
    }
}

// ---------------------------------------------------------------------------
// The machine ID

/// The machine ID from `--machine-id-file`, or from the operating system.
fn machine_id_of_this_computer(file: Option<&Path>) -> Result<String, String> {
    match file {
        Some(path) => machine_id_from_file(path),
        None => os_machine_id(),
    }
}

/// The machine ID from the identity text in `path`.
fn machine_id_from_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the machine identity from {}: {e}",
            path.display()
        )
    })?;
    machine_id(&text).ok_or_else(|| format!("the machine identity in {} is empty", path.display()))
}

#[cfg(target_os = "linux")]
fn os_machine_id() -> Result<String, String> {
    const FILES: [&str; 2] = ["/etc/machine-id", "/var/lib/dbus/machine-id"];
    let mut reasons = Vec::new();
    for file in FILES {
        match machine_id_from_file(Path::new(file)) {
            Ok(machine_id) => return Ok(machine_id),
            Err(reason) => reasons.push(reason),
        }
    }
    Err(format!(
        "no machine identity on this computer ({}); use --machine-id-file PATH",
        reasons.join("; ")
    ))
}

#[cfg(not(target_os = "linux"))]
fn os_machine_id() -> Result<String, String> {
    let text = machine_uid::get().map_err(|e| {
        format!("cannot read this computer's machine identity: {e}; use --machine-id-file PATH")
    })?;
    machine_id(&text).ok_or_else(|| {
        "this computer's machine identity is empty; use --machine-id-file PATH".to_owned()
    })
}

/// Lowercase hex of HMAC-SHA256 keyed with the identity text (surrounding
/// white space removed) over `authd-client machine-id v1`; `None` when the
/// text is only white space. The raw identity never leaves the computer.
#[allow(
    clippy::expect_used,
    reason = "HMAC takes a key of any length: new_from_slice cannot fail"
)]
fn machine_id(identity_text: &str) -> Option<String> {
    let identity = identity_text.trim();
    if identity.is_empty() {
        return None;
    }
    let mut mac =
        Hmac::<Sha256>::new_from_slice(identity.as_bytes()).expect("HMAC takes a key of any size");
    mac.update(MACHINE_ID_MESSAGE);
    Some(hex::encode(mac.finalize().into_bytes()))
}

// ---------------------------------------------------------------------------
// The credentials

struct Credentials {
    username: String,
    password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// Prompts on standard error and reads the password without echo when
/// standard input is a terminal; otherwise reads two lines, no prompts.
fn read_credentials() -> Result<Credentials, String> {
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        return credentials_from_lines(&mut stdin.lock());
    }
    eprint!("Username: ");
    let _ = io::stderr().flush();
    let username = read_line(&mut stdin.lock())?.ok_or("no username given")?;
    if username.is_empty() {
        return Err("the username is empty".into());
    }
    let config = rpassword::ConfigBuilder::new()
        .output_writer(io::stderr())
        .build();
    let password = match rpassword::prompt_password_with_config("Password: ", config) {
        Ok(password) => password,
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            return Err("no password given".into())
        }
        Err(e) => return Err(format!("cannot read the password: {e}")),
    };
    if password.is_empty() {
        return Err("the password is empty".into());
    }
    Ok(Credentials { username, password })
}

/// The username on the first line, the password on the second.
fn credentials_from_lines(input: &mut impl BufRead) -> Result<Credentials, String> {
    let username = read_line(input)?.ok_or(
        "no username on standard input (expected the username, then the password, one line each)",
    )?;
    if username.is_empty() {
        return Err("the username (first line of standard input) is empty".into());
    }
    let password = read_line(input)?
        .ok_or("no password on standard input (expected it on the second line)")?;
    if password.is_empty() {
        return Err("the password (second line of standard input) is empty".into());
    }
    Ok(Credentials { username, password })
}

/// One line without its line ending (`\n` or `\r\n`), nothing else removed;
/// `None` at the end of input. The last line may lack a line ending.
fn read_line(input: &mut impl BufRead) -> Result<Option<String>, String> {
    let mut bytes = Vec::new();
    let read = input
        .read_until(b'\n', &mut bytes)
        .map_err(|e| format!("cannot read standard input: {e}"))?;
    if read == 0 {
        return Ok(None);
    }
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| "standard input is not UTF-8".into())
}

/// Standard base64 of `{"username": …, "password": …, "machine_id": …}`.
fn header_value(credentials: &Credentials, machine_id: &str) -> String {
    let json = serde_json::json!({
        "username": credentials.username,
        "password": credentials.password,
        "machine_id": machine_id,
    });
    base64::engine::general_purpose::STANDARD.encode(json.to_string())
}

// ---------------------------------------------------------------------------
// The request and the answer

/// What the client prints.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Bound,
    Known,
    Failed(String),
}

impl Answer {
    fn is_ok(&self) -> bool {
        matches!(self, Answer::Bound | Answer::Known)
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Bound => f.write_str("OK (machine bound)"),
            Answer::Known => f.write_str("OK (machine known)"),
            Answer::Failed(reason) => write!(f, "FAILED: {reason}"),
        }
    }
}

/// `GET /check` with the header; never follows a redirect, so the
/// credentials go nowhere but to the server named.
fn check(server: &Server, tls: ureq::tls::TlsConfig, header: &str) -> Answer {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("authd-client/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut response = match agent.get(&server.check_url).header(HEADER, header).call() {
        Ok(response) => response,
        Err(error) => return Answer::Failed(transport_failure(server, &error)),
    };
    let status = response.status().as_u16();
    match response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER_BYTES)
        .read_to_string()
    {
        Ok(body) => interpret(status, &body),
        Err(error @ ureq::Error::Timeout(_)) => Answer::Failed(transport_failure(server, &error)),
        Err(_) => unexpected(status),
    }
}

/// Why the server could not be asked, in a few words.
fn transport_failure(server: &Server, error: &ureq::Error) -> String {
    let reason = match error {
        ureq::Error::Timeout(_) => {
            return format!(
                "the server at {} did not answer within {} s",
                server.base,
                TIMEOUT.as_secs()
            )
        }
        ureq::Error::HostNotFound => "host not found".to_owned(),
        ureq::Error::Io(e) => match e.kind() {
            io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
            io::ErrorKind::ConnectionReset => "connection reset".to_owned(),
            _ => e.to_string(),
        },
        other => other.to_string(),
    };
    format!("cannot reach the server at {}: {reason}", server.base)
}

/// The answer in a response with `status` and `body`.
fn interpret(status: u16, body: &str) -> Answer {
    let Ok(Value::Object(answer)) = serde_json::from_str::<Value>(body) else {
        return unexpected(status);
    };
    let text = |name: &str| answer.get(name).and_then(Value::as_str);
    match text("status") {
        Some("OK") if status == 200 => match text("machine") {
            Some("bound") => Answer::Bound,
            Some("known") => Answer::Known,
            _ => unexpected(status),
        },
        Some("FAILED") => {
            let message = [text("message"), text("error")]
                .into_iter()
                .flatten()
                .map(one_line)
                .find(|m| !m.is_empty());
            match message {
                Some(message) => Answer::Failed(message),
                None => unexpected(status),
            }
        }
        _ => unexpected(status),
    }
}

fn unexpected(status: u16) -> Answer {
    let reason = ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason());
    Answer::Failed(match reason {
        Some(reason) => format!("unexpected answer from the server (HTTP {status} {reason})"),
        None => format!("unexpected answer from the server (HTTP {status})"),
    })
}

/// `text` with every control character (line breaks included) made a space.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// The identity used below, and its machine ID computed apart with
    /// `python3 -c 'import hmac,hashlib; print(hmac.new(b"0123456789abcdef0123456789abcdef",
    /// b"authd-client machine-id v1", hashlib.sha256).hexdigest())'`.
    const IDENTITY: &str = "0123456789abcdef0123456789abcdef";
    const IDENTITY_MACHINE_ID: &str =
        "bd92666b91c8c2f89f4d41f8f866e6f48ab10e5253301c59091668a9eb8b3478";

    #[test]
    fn the_machine_id_is_the_hmac_of_the_message_keyed_with_the_identity() {
        assert_eq!(machine_id(IDENTITY).as_deref(), Some(IDENTITY_MACHINE_ID));
        // Non-ASCII identity text is keyed with its UTF-8 bytes (also from python3).
        assert_eq!(
            machine_id("ordinateur-à-Paris").as_deref(),
            Some("ba14000c3dc70f44abfb51b93e3c2933c83c77118f317baa41eb17a34f2da552")
        );
    }

    #[test]
    fn the_machine_id_is_neither_the_identity_nor_the_same_for_another_computer() {
        let id = machine_id(IDENTITY).unwrap();
        assert_eq!(id.len(), 64);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
        assert!(!id.contains(IDENTITY));
        assert_ne!(
            machine_id("fedcba9876543210fedcba9876543210"),
            Some(id.clone())
        );
    }

    #[test]
    fn white_space_around_the_identity_is_ignored_and_blank_is_none() {
        assert_eq!(
            machine_id(&format!("  \t{IDENTITY}\r\n\n")).as_deref(),
            Some(IDENTITY_MACHINE_ID)
        );
        assert_eq!(machine_id(""), None);
        assert_eq!(machine_id(" \n\t "), None);
    }

    #[test]
    fn the_machine_id_file_is_read_and_an_empty_or_missing_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("machine-id");
        std::fs::write(&file, format!("{IDENTITY}\n")).unwrap();
        assert_eq!(
            machine_id_of_this_computer(Some(&file)).as_deref(),
            Ok(IDENTITY_MACHINE_ID)
        );
        std::fs::write(&file, "\n").unwrap();
        let error = machine_id_from_file(&file).unwrap_err();
        assert!(error.contains("empty"), "{error}");
        let missing = dir.path().join("nothing-here");
        let error = machine_id_from_file(&missing).unwrap_err();
        assert!(error.contains("nothing-here"), "{error}");
    }

    #[test]
    fn the_header_decodes_to_exactly_the_three_members() {
        let credentials = Credentials {
            username: "kvothe".into(),
            password: " a \"quoted\" pässword ".into(),
        };
        let value = header_value(&credentials, IDENTITY_MACHINE_ID);
        let json = base64::engine::general_purpose::STANDARD
            .decode(&value)
            .expect("standard base64");
        let json: Value = serde_json::from_slice(&json).expect("JSON");
        assert_eq!(
            json,
            serde_json::json!({
                "username": "kvothe",
                "password": " a \"quoted\" pässword ",
                "machine_id": IDENTITY_MACHINE_ID,
            })
        );
        assert_eq!(json.as_object().unwrap().len(), 3);
    }

    fn lines(input: &str) -> Result<Credentials, String> {
        credentials_from_lines(&mut Cursor::new(input.as_bytes().to_vec()))
    }

    #[test]
    fn only_the_line_ending_is_removed() {
        let c = lines("kvothe\n pw with spaces \n").unwrap();
        assert_eq!(c.username, "kvothe");
        assert_eq!(c.password, " pw with spaces ");
        let c = lines("kvothe\r\npw\r\n").unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("kvothe", "pw"));
        // The last line may lack its line ending; a lone \r is not one.
        let c = lines("kvothe\npw\r").unwrap();
        assert_eq!(c.password, "pw\r");
        let c = lines("kvothe\npw").unwrap();
        assert_eq!(c.password, "pw");
        let c = lines("  kvothe\t\npw \t\nignored\n").unwrap();
        assert_eq!(c.username, "  kvothe\t");
        assert_eq!(c.password, "pw \t");
    }

    #[test]
    fn read_line_stops_at_the_first_line_ending() {
        let mut input = Cursor::new(b"a\r\nb\n\nc".to_vec());
        assert_eq!(read_line(&mut input), Ok(Some("a".into())));
        assert_eq!(read_line(&mut input), Ok(Some("b".into())));
        assert_eq!(read_line(&mut input), Ok(Some("".into())));
        assert_eq!(read_line(&mut input), Ok(Some("c".into())));
        assert_eq!(read_line(&mut input), Ok(None));
    }

    #[test]
    fn missing_or_empty_lines_and_non_utf8_are_errors() {
        for (input, expected) in [
            ("", "no username"),
            ("\n", "username"),
            ("\npw\n", "username"),
            ("kvothe\n", "no password"),
            ("kvothe", "no password"),
            ("kvothe\n\n", "password"),
            ("kvothe\r\n\r\n", "password"),
        ] {
            let error = lines(input).unwrap_err();
            assert!(error.contains(expected), "{input:?}: {error}");
            assert!(!error.contains('\n'), "{input:?}: one line: {error}");
        }
        let error =
            credentials_from_lines(&mut Cursor::new(b"kv\xffothe\npw\n".to_vec())).unwrap_err();
        assert!(error.contains("UTF-8"), "{error}");
    }

    #[test]
    fn credentials_debug_hides_the_password() {
        let c = Credentials {
            username: "kvothe".into(),
            password: "secret-password".into(),
        };
        let debug = format!("{c:?}");
        assert!(debug.contains("kvothe"));
        assert!(!debug.contains("secret-password"), "{debug}");
    }

    #[test]
    fn the_answers_print_as_one_line() {
        let bound = interpret(
            200,
            r#"{"status":"OK","username":"kvothe","machine":"bound"}"#,
        );
        assert_eq!(bound, Answer::Bound);
        assert_eq!(bound.to_string(), "OK (machine bound)");
        assert!(bound.is_ok());

        let known = interpret(
            200,
            r#"{"status": "OK", "username": "kvothe", "machine": "known"}"#,
        );
        assert_eq!(known.to_string(), "OK (machine known)");
        assert!(known.is_ok());

        let failed = interpret(
            403,
            r#"{"status":"FAILED","error":"machine_mismatch","message":"this account is bound to another machine"}"#,
        );
        assert_eq!(
            failed.to_string(),
            "FAILED: this account is bound to another machine"
        );
        assert!(!failed.is_ok());

        // A message is kept on one line; without one the error code stands in.
        let failed = interpret(
            400,
            r#"{"status":"FAILED","error":"malformed_credentials","message":"bad\nmachine_id\r"}"#,
        );
        assert_eq!(failed.to_string(), "FAILED: bad machine_id");
        let failed = interpret(429, r#"{"status":"FAILED","error":"throttled"}"#);
        assert_eq!(failed.to_string(), "FAILED: throttled");
    }

    #[test]
    fn anything_else_is_an_unexpected_answer() {
        for (status, body) in [
            (200, "OK"),
            (200, ""),
            (200, "[]"),
            (200, r#"{"status":"OK","username":"kvothe"}"#),
            (
                200,
                r#"{"status":"OK","username":"kvothe","machine":"stolen"}"#,
            ),
            (200, r#"{"status":"ok","machine":"bound"}"#),
            (
                201,
                r#"{"status":"OK","username":"kvothe","machine":"bound"}"#,
            ),
            (500, r#"{"status":"FAILED","error":"","message":" "}"#),
            (502, "<html>Bad Gateway</html>"),
        ] {
            let answer = interpret(status, body);
            assert!(!answer.is_ok(), "{status} {body}");
            let line = answer.to_string();
            assert!(
                line.starts_with(&format!(
                    "FAILED: unexpected answer from the server (HTTP {status}"
                )),
                "{status} {body}: {line}"
            );
        }
        assert_eq!(
            interpret(404, "Not Found").to_string(),
            "FAILED: unexpected answer from the server (HTTP 404 Not Found)"
        );
    }

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
