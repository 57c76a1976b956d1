//! The bytes on the wire: every JSON answer of the API, the device check and
//! the operations endpoints, in each of its shapes, against a transcript kept
//! in `tests/wire.txt`. Member names, their order, which members are left
//! out, the status and the headers a client reads are all in it, so a change
//! of how a body is built (a `json!` map, a typed struct) cannot change what a
//! client sees unnoticed. Random values (tokens, ids, secrets, times) are
//! replaced by the name of their member.
//!
//! After a deliberate change of the contract, write the transcript anew with
//! `AUTHD_WIRE_WRITE=1` and read its diff.

use crate::common;

use auth_core::{totp_code, Clock};
use auth_http::{HttpConfig, ResetDelivery};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::*;
use data_encoding::BASE32_NOPAD;
use serde_json::{json as j, Value};
use warp::test::RequestBuilder;

const MACHINE: &str = "0123456789abcdef-machine";
const OTHER_MACHINE: &str = "fedcba9876543210-machine";

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
struct Transcript(String);

impl Transcript {
    async fn record(&mut self, app: &TestApp, label: &str, request: RequestBuilder) -> Res {
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

fn check_header(username: &str, password: &str, machine: &str) -> String {
    STANDARD
        .encode(j!({"username": username, "password": password, "machine_id": machine}).to_string())
}

#[tokio::test]
async fn every_answer_keeps_its_bytes() {
    let mut t = Transcript::default();
    let app = TestApp::new().await;
    let with = |r: RequestBuilder, token: &str| r.header("cookie", cookie(token));

    t.record(&app, "GET /", get("/")).await;
    t.record(
        &app,
        "GET / (a browser)",
        get("/").header("accept", BROWSER_ACCEPT),
    )
    .await;

    // Sign-up: every combination of identifiers, with and without the profile.
    t.record(
        &app,
        "POST /users (email)",
        form(
            "POST",
            "/users",
            &[("email", "bob@example.com"), ("password", PASSWORD)],
        ),
    )
    .await;
    t.record(
        &app,
        "POST /users (username, JSON)",
        json(
            "POST",
            "/users",
            &j!({"username": "kvothe", "password": PASSWORD}),
        ),
    )
    .await;
    t.record(
        &app,
        "POST /users (both, profile)",
        json(
            "POST",
            "/users",
            &j!({
                "username": "Denna",
                "email": "Denna@Example.com",
                "password": PASSWORD,
                "full_name": "  Denna  ",
                "mothers_favorite_search_engine": "Yahoo",
            }),
        ),
    )
    .await;
    t.record(
        &app,
        "POST /users (taken)",
        form(
            "POST",
            "/users",
            &[("email", "BOB@example.com"), ("password", PASSWORD)],
        ),
    )
    .await;
    t.record(
        &app,
        "POST /users (no password)",
        form("POST", "/users", &[("email", "x@example.com")]),
    )
    .await;
    t.record(
        &app,
        "POST /users (null)",
        json("POST", "/users", &j!({"email": null, "password": PASSWORD})),
    )
    .await;
    t.record(
        &app,
        "POST /users (two bad members: the first read is told)",
        json(
            "POST",
            "/users",
            &j!({"email": 5, "username": null, "password": PASSWORD}),
        ),
    )
    .await;
    t.record(
        &app,
        "POST /users (bad profile field, no password)",
        json(
            "POST",
            "/users",
            &j!({"email": "q@example.com", "full_name": 5}),
        ),
    )
    .await;
    t.record(
        &app,
        "POST /users (short password)",
        form(
            "POST",
            "/users",
            &[("email", "y@example.com"), ("password", "short")],
        ),
    )
    .await;
    t.record(
        &app,
        "POST /users (text/plain)",
        raw("POST", "/users", "text/plain", "email=a"),
    )
    .await;
    t.record(
        &app,
        "POST /users (too large)",
        raw(
            "POST",
            "/users",
            "application/x-www-form-urlencoded",
            vec![b'a'; 20_000],
        ),
    )
    .await;
    t.record(
        &app,
        "POST /users (foreign origin)",
        form(
            "POST",
            "/users",
            &[("email", "z@example.com"), ("password", PASSWORD)],
        )
        .header("origin", "https://evil.example"),
    )
    .await;

    // Login and the session routes.
    t.record(
        &app,
        "POST /sessions (email)",
        form(
            "POST",
            "/sessions",
            &[("email", "bob@example.com"), ("password", PASSWORD)],
        ),
    )
    .await;
    t.record(
        &app,
        "POST /sessions (missing)",
        form("POST", "/sessions", &[("password", PASSWORD)]),
    )
    .await;
    t.record(
        &app,
        "POST /sessions (no identifier, bad password)",
        json("POST", "/sessions", &j!({"username": "", "password": null})),
    )
    .await;
    t.record(
        &app,
        "POST /sessions (bad username, good email)",
        json(
            "POST",
            "/sessions",
            &j!({"username": 5, "email": "bob@example.com", "password": PASSWORD}),
        ),
    )
    .await;
    t.record(
        &app,
        "POST /sessions (no password)",
        json("POST", "/sessions", &j!({"email": "bob@example.com"})),
    )
    .await;
    t.record(
        &app,
        "POST /sessions (wrong)",
        form(
            "POST",
            "/sessions",
            &[("username", "kvothe"), ("password", NEW_PASSWORD)],
        ),
    )
    .await;
    let res = t
        .record(
            &app,
            "POST /sessions (username, both identifiers)",
            form(
                "POST",
                "/sessions",
                &[("username", "denna"), ("password", PASSWORD)],
            ),
        )
        .await;
    let denna = res.session_cookie();
    // A second apart, so that the list's order is the order of the logins.
    app.clock.advance(1);
    let denna_again = app.login("denna@example.com", PASSWORD).await;
    t.record(
        &app,
        "GET /sessions",
        with(get("/sessions"), &denna).header("user-agent", "wire-test/1"),
    )
    .await;
    t.record(&app, "GET /sessions (no cookie)", get("/sessions"))
        .await;
    t.record(
        &app,
        "GET /profile (everything)",
        with(get("/profile"), &denna),
    )
    .await;
    let bob = app.login("bob@example.com", PASSWORD).await;
    t.record(&app, "GET /profile (email)", with(get("/profile"), &bob))
        .await;
    let kvothe = {
        let res = app
            .send(form(
                "POST",
                "/sessions",
                &[("username", "kvothe"), ("password", PASSWORD)],
            ))
            .await;
        res.session_cookie()
    };
    t.record(
        &app,
        "GET /profile (username)",
        with(get("/profile"), &kvothe),
    )
    .await;
    t.record(
        &app,
        "DELETE /sessions/{id} (unknown)",
        with(
            request("DELETE", "/sessions/00000000-0000-4000-8000-000000000000"),
            &denna,
        ),
    )
    .await;
    let sessions = app.send(with(get("/sessions"), &denna)).await.json();
    let other = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.record(
        &app,
        "DELETE /sessions/{id}",
        with(request("DELETE", &format!("/sessions/{other}")), &denna),
    )
    .await;
    drop(denna_again);
    t.record(
        &app,
        "POST /password",
        with(
            form(
                "POST",
                "/password",
                &[
                    ("current_password", PASSWORD),
                    ("new_password", NEW_PASSWORD),
                ],
            ),
            &kvothe,
        ),
    )
    .await;
    t.record(
        &app,
        "POST /password (wrong)",
        with(
            form(
                "POST",
                "/password",
                &[
                    ("current_password", NEW_PASSWORD),
                    ("new_password", PASSWORD),
                ],
            ),
            &bob,
        ),
    )
    .await;
    t.record(
        &app,
        "POST /password (no new password)",
        with(
            json("POST", "/password", &j!({"current_password": PASSWORD})),
            &bob,
        ),
    )
    .await;
    t.record(
        &app,
        "DELETE /sessions",
        with(request("DELETE", "/sessions"), &denna),
    )
    .await;
    t.record(
        &app,
        "DELETE /sessions (no cookie)",
        request("DELETE", "/sessions"),
    )
    .await;

    // Password reset, by either identifier, with the token in the answer.
    let res = t
        .record(
            &app,
            "POST /reset_password (email)",
            form("POST", "/reset_password", &[("email", "bob@example.com")]),
        )
        .await;
    let bob_token = res.json()["reset_token"].as_str().unwrap().to_owned();
    let res = t
        .record(
            &app,
            "POST /reset_password (username)",
            json("POST", "/reset_password", &j!({"username": "kvothe"})),
        )
        .await;
    let kvothe_token = res.json()["reset_token"].as_str().unwrap().to_owned();
    t.record(
        &app,
        "POST /reset_password (email, username of another type not read)",
        json(
            "POST",
            "/reset_password",
            &j!({"email": "denna@example.com", "username": 5}),
        ),
    )
    .await;
    t.record(
        &app,
        "POST /reset_password (empty email, bad username)",
        json("POST", "/reset_password", &j!({"email": "", "username": 5})),
    )
    .await;
    t.record(
        &app,
        "PUT /reset_password (no token)",
        json(
            "PUT",
            "/reset_password",
            &j!({"email": "bob@example.com", "new_password": 5}),
        ),
    )
    .await;
    t.record(
        &app,
        "PUT /reset_password (no identifier)",
        json(
            "PUT",
            "/reset_password",
            &j!({"reset_token": 5, "new_password": 5}),
        ),
    )
    .await;
    t.record(
        &app,
        "POST /reset_password (unknown)",
        form(
            "POST",
            "/reset_password",
            &[("email", "nobody@example.com")],
        ),
    )
    .await;
    t.record(
        &app,
        "POST /reset_password (empty)",
        form("POST", "/reset_password", &[("email", "")]),
    )
    .await;
    t.record(
        &app,
        "PUT /reset_password (email)",
        form(
            "PUT",
            "/reset_password",
            &[
                ("email", "bob@example.com"),
                ("reset_token", &bob_token),
                ("new_password", NEW_PASSWORD),
            ],
        ),
    )
    .await;
    t.record(
        &app,
        "PUT /reset_password (used token)",
        form(
            "PUT",
            "/reset_password",
            &[
                ("email", "bob@example.com"),
                ("reset_token", &bob_token),
                ("new_password", NEW_PASSWORD),
            ],
        ),
    )
    .await;
    t.record(
        &app,
        "PUT /reset_password (username)",
        json(
            "PUT",
            "/reset_password",
            &j!({"username": "kvothe", "reset_token": kvothe_token, "new_password": PASSWORD}),
        ),
    )
    .await;

    // Second factors.
    let bob = app.login("bob@example.com", NEW_PASSWORD).await;
    t.record(
        &app,
        "POST /mfa/totp (no cookie)",
        request("POST", "/mfa/totp"),
    )
    .await;
    let res = t
        .record(
            &app,
            "POST /mfa/totp",
            with(request("POST", "/mfa/totp"), &bob),
        )
        .await;
    let secret = BASE32_NOPAD
        .decode(res.json()["secret"].as_str().unwrap().as_bytes())
        .unwrap();
    t.record(
        &app,
        "POST /mfa/totp/confirm (no code)",
        with(json("POST", "/mfa/totp/confirm", &j!({})), &bob),
    )
    .await;
    t.record(
        &app,
        "POST /mfa/totp/confirm (wrong)",
        with(
            form("POST", "/mfa/totp/confirm", &[("code", "000000")]),
            &bob,
        ),
    )
    .await;
    let code = totp_code(&secret, app.clock.now());
    let res = t
        .record(
            &app,
            "POST /mfa/totp/confirm",
            with(form("POST", "/mfa/totp/confirm", &[("code", &code)]), &bob),
        )
        .await;
    let recovery = res.json()["recovery_codes"][0].as_str().unwrap().to_owned();
    let res = t
        .record(
            &app,
            "POST /sessions (mfa_required)",
            form(
                "POST",
                "/sessions",
                &[("email", "bob@example.com"), ("password", NEW_PASSWORD)],
            ),
        )
        .await;
    let mfa_token = res.json()["mfa_token"].as_str().unwrap().to_owned();
    t.record(
        &app,
        "POST /sessions/mfa (no code)",
        json("POST", "/sessions/mfa", &j!({"mfa_token": 5})),
    )
    .await;
    t.record(
        &app,
        "POST /sessions/mfa (wrong)",
        form(
            "POST",
            "/sessions/mfa",
            &[("mfa_token", "nonsense"), ("code", "000000")],
        ),
    )
    .await;
    t.record(
        &app,
        "POST /sessions/mfa",
        form(
            "POST",
            "/sessions/mfa",
            &[("mfa_token", &mfa_token), ("code", &recovery)],
        ),
    )
    .await;
    t.record(
        &app,
        "POST /mfa/recovery-codes",
        with(
            form("POST", "/mfa/recovery-codes", &[("password", NEW_PASSWORD)]),
            &bob,
        ),
    )
    .await;
    t.record(
        &app,
        "DELETE /mfa/totp (no password)",
        with(json("DELETE", "/mfa/totp", &j!({"password": null})), &bob),
    )
    .await;
    t.record(
        &app,
        "DELETE /mfa/totp",
        with(
            form("DELETE", "/mfa/totp", &[("password", NEW_PASSWORD)]),
            &bob,
        ),
    )
    .await;
    t.record(
        &app,
        "DELETE /mfa/totp (none)",
        with(
            form("DELETE", "/mfa/totp", &[("password", NEW_PASSWORD)]),
            &bob,
        ),
    )
    .await;

    // The device check.
    t.record(&app, "GET /check (no header)", get("/check"))
        .await;
    t.record(
        &app,
        "GET /check (not base64)",
        get("/check").header("seek_custom_auth", "%%%"),
    )
    .await;
    t.record(
        &app,
        "GET /check (bound)",
        get("/check").header(
            "seek_custom_auth",
            check_header("kvothe", PASSWORD, MACHINE),
        ),
    )
    .await;
    t.record(
        &app,
        "POST /check (known)",
        request("POST", "/check").header(
            "seek_custom_auth",
            check_header("kvothe", PASSWORD, MACHINE),
        ),
    )
    .await;
    t.record(
        &app,
        "GET /check (wrong password)",
        get("/check").header(
            "seek_custom_auth",
            check_header("kvothe", NEW_PASSWORD, MACHINE),
        ),
    )
    .await;
    t.record(
        &app,
        "GET /check (mismatch)",
        get("/check").header(
            "seek_custom_auth",
            check_header("kvothe", PASSWORD, OTHER_MACHINE),
        ),
    )
    .await;
    t.record(
        &app,
        "POST /check (foreign origin)",
        request("POST", "/check")
            .header("origin", "https://evil.example")
            .header(
                "seek_custom_auth",
                check_header("kvothe", PASSWORD, MACHINE),
            ),
    )
    .await;
    t.record(&app, "PUT /check", request("PUT", "/check")).await;

    // Operations and the fallback.
    t.record(&app, "GET /healthz", get("/healthz")).await;
    t.record(&app, "GET /nowhere", get("/nowhere")).await;
    t.record(&app, "GET /users", get("/users")).await;

    // The other ways a reset token is delivered: the log (and mail, whose
    // answer is the same).
    let logged = TestApp::with(
        core_config(),
        HttpConfig {
            reset_delivery: ResetDelivery::Log,
            ..http_config()
        },
    )
    .await;
    logged.register("bob@example.com", PASSWORD).await;
    logged
        .register_json(j!({"username": "kvothe", "password": PASSWORD}))
        .await;
    t.record(
        &logged,
        "POST /reset_password (email, logged)",
        form("POST", "/reset_password", &[("email", "bob@example.com")]),
    )
    .await;
    t.record(
        &logged,
        "POST /reset_password (username, logged)",
        form("POST", "/reset_password", &[("username", "kvothe")]),
    )
    .await;

    // The per-address limit.
    let limited = TestApp::with(
        core_config(),
        HttpConfig {
            ip_rate_limit: "1/h".parse().unwrap(),
            ..http_config()
        },
    )
    .await;
    for label in [
        "POST /sessions (limited, first)",
        "POST /sessions (limited)",
    ] {
        t.record(
            &limited,
            label,
            form(
                "POST",
                "/sessions",
                &[("username", "kvothe"), ("password", PASSWORD)],
            ),
        )
        .await;
    }
    t.record(
        &limited,
        "GET /check (limited)",
        get("/check").header(
            "seek_custom_auth",
            check_header("kvothe", PASSWORD, MACHINE),
        ),
    )
    .await;

    if let Some(path) = std::env::var_os("AUTHD_WIRE_OPENAPI") {
        std::fs::write(path, app.send(get("/openapi.json")).await.body).unwrap();
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wire.txt");
    if std::env::var_os("AUTHD_WIRE_WRITE").is_some() {
        std::fs::write(&path, &t.0).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != t.0 {
        let first = expected
            .split("\n\n")
            .zip(t.0.split("\n\n"))
            .find(|(a, b)| a != b);
        panic!(
            "the answers differ from tests/wire.txt; first difference:\n{first:#?}\n\
             (AUTHD_WIRE_WRITE=1 writes the transcript anew)"
        );
    }
}
