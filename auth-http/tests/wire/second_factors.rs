//! Second factors: enrolment, the second step of a login, recovery codes,
//! removal.

use crate::common::*;
use auth_core::{totp_code, Clock};
use data_encoding::BASE32_NOPAD;
use serde_json::json as j;

use super::transcript::{with, Transcript};

/// The second-factor requests, each answer recorded in turn.
pub(super) async fn record(t: &mut Transcript, app: &TestApp) {
    let bob = app.login("bob@example.com", NEW_PASSWORD).await;
    t.record(
        app,
        "POST /mfa/totp (no cookie)",
        request("POST", "/mfa/totp"),
    )
    .await;
    let res = t
        .record(
            app,
            "POST /mfa/totp",
            with(request("POST", "/mfa/totp"), &bob),
        )
        .await;
    let secret = BASE32_NOPAD
        .decode(res.json()["secret"].as_str().unwrap().as_bytes())
        .unwrap();
    t.record(
        app,
        "POST /mfa/totp/confirm (no code)",
        with(json("POST", "/mfa/totp/confirm", &j!({})), &bob),
    )
    .await;
    t.record(
        app,
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
            app,
            "POST /mfa/totp/confirm",
            with(form("POST", "/mfa/totp/confirm", &[("code", &code)]), &bob),
        )
        .await;
    let recovery = res.json()["recovery_codes"][0].as_str().unwrap().to_owned();
    let res = t
        .record(
            app,
            "POST /sessions (mfa_required)",
            login_form("bob@example.com", NEW_PASSWORD),
        )
        .await;
    let mfa_token = res.json()["mfa_token"].as_str().unwrap().to_owned();
    t.record(
        app,
        "POST /sessions/mfa (no code)",
        json("POST", "/sessions/mfa", &j!({"mfa_token": 5})),
    )
    .await;
    t.record(
        app,
        "POST /sessions/mfa (wrong)",
        form(
            "POST",
            "/sessions/mfa",
            &[("mfa_token", "nonsense"), ("code", "000000")],
        ),
    )
    .await;
    t.record(
        app,
        "POST /sessions/mfa",
        form(
            "POST",
            "/sessions/mfa",
            &[("mfa_token", &mfa_token), ("code", &recovery)],
        ),
    )
    .await;
    t.record(
        app,
        "POST /mfa/recovery-codes",
        with(
            form("POST", "/mfa/recovery-codes", &[("password", NEW_PASSWORD)]),
            &bob,
        ),
    )
    .await;
    t.record(
        app,
        "DELETE /mfa/totp (no password)",
        with(json("DELETE", "/mfa/totp", &j!({"password": null})), &bob),
    )
    .await;
    t.record(
        app,
        "DELETE /mfa/totp",
        with(
            form("DELETE", "/mfa/totp", &[("password", NEW_PASSWORD)]),
            &bob,
        ),
    )
    .await;
    t.record(
        app,
        "DELETE /mfa/totp (none)",
        with(
            form("DELETE", "/mfa/totp", &[("password", NEW_PASSWORD)]),
            &bob,
        ),
    )
    .await;
}
