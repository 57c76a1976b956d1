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

mod accounts;
mod check;
mod reset;
mod second_factors;
mod transcript;

use crate::common::*;
use auth_http::{HttpConfig, ResetDelivery};
use serde_json::json as j;

use transcript::{check_header, Transcript, MACHINE};

#[tokio::test]
async fn every_answer_keeps_its_bytes() {
    let mut t = Transcript::default();
    let app = TestApp::new().await;

    t.record(&app, "GET /", get("/")).await;
    t.record(
        &app,
        "GET / (a browser)",
        get("/").header("accept", BROWSER_ACCEPT),
    )
    .await;

    accounts::record(&mut t, &app).await;
    reset::record(&mut t, &app).await;
    second_factors::record(&mut t, &app).await;
    check::record(&mut t, &app).await;

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
