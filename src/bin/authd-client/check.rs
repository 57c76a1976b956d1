//! The request to `GET /check` and what its answer means.

use std::fmt;
use std::io;
use std::time::Duration;

use serde_json::Value;

use crate::cli::Server;

/// The header that carries the credentials.
pub(crate) const HEADER: &str = "SEEK_CUSTOM_AUTH";
/// How long the whole request may take.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);
/// The most of an answer that is read; a real one is far smaller.
pub(crate) const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// What the client prints.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    Bound,
    Known,
    Failed(String),
}

impl Answer {
    pub(crate) fn is_ok(&self) -> bool {
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
pub(crate) fn check(server: &Server, tls: ureq::tls::TlsConfig, header: &str) -> Answer {
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
pub(crate) fn transport_failure(server: &Server, error: &ureq::Error) -> String {
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
pub(crate) fn interpret(status: u16, body: &str) -> Answer {
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

pub(crate) fn unexpected(status: u16) -> Answer {
    let reason = ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason());
    Answer::Failed(match reason {
        Some(reason) => format!("unexpected answer from the server (HTTP {status} {reason})"),
        None => format!("unexpected answer from the server (HTTP {status})"),
    })
}

/// `text` with every control character (line breaks included) made a space.
pub(crate) fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
