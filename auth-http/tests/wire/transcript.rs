//! The transcript: each answer's status, the headers a client reads, and
//! its body with the random values named.

use crate::common::*;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json as j, Value};
use warp::test::RequestBuilder;

pub(super) const MACHINE: &str = "0123456789abcdef-machine";
pub(super) const OTHER_MACHINE: &str = "fedcba9876543210-machine";

/// Members whose values are random or depend on the time.
const RANDOM: [&str; 9] = [
    "id",
    "created_at",
    "last_seen_at",
    "expires_at",
    "mfa_token",
    "secret",
    "otpauth_uri",
    "reset_token",
    "recovery_codes",
];

/// The transcript being written.
#[derive(Default)]
pub(super) struct Transcript(pub(super) String);

impl Transcript {
    pub(super) async fn record(
        &mut self,
        app: &TestApp,
        label: &str,
        request: RequestBuilder,
    ) -> Res {
        let res = app.reply(request).await;
        self.0
            .push_str(&format!("== {label}\n{}\n", res.status.as_u16()));
        for name in ["content-type", "location", "allow", "retry-after"] {
            if let Some(value) = res.header(name) {
                self.0.push_str(&format!("{name}: {value}\n"));
            }
        }
        if res.header("set-cookie").is_some() {
            self.0.push_str("set-cookie: (set)\n");
        }
        self.0.push_str(&normalized(&res.text()));
        self.0.push_str("\n\n");
        res
    }
}

/// The body with every random value replaced by its member's name, byte for
/// byte otherwise.
fn normalized(body: &str) -> String {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return body.to_owned();
    };
    let mut replacements = Vec::new();
    collect(&value, None, &mut replacements);
    let mut out = body.to_owned();
    for (random, name) in replacements {
        out = out.replace(&random, &format!("\"<{name}>\""));
    }
    out
}

fn collect(value: &Value, member: Option<&str>, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                collect(inner, Some(key), out);
            }
        }
        Value::Array(items) => {
            for item in items {
                collect(item, member, out);
            }
        }
        Value::String(_) => {
            if let Some(member) = member.filter(|m| RANDOM.contains(m)) {
                out.push((value.to_string(), member.to_owned()));
            }
        }
        _ => {}
    }
}

/// The device check's header.
pub(super) fn check_header(username: &str, password: &str, machine: &str) -> String {
    STANDARD
        .encode(j!({"username": username, "password": password, "machine_id": machine}).to_string())
}

/// A request with the session cookie of `token`.
pub(super) fn with(r: RequestBuilder, token: &str) -> RequestBuilder {
    r.header("cookie", cookie(token))
}
