//! The device check.

use crate::common::*;

use super::transcript::{check_header, Transcript, MACHINE, OTHER_MACHINE};

/// The device checks, each answer recorded in turn.
pub(super) async fn record(t: &mut Transcript, app: &TestApp) {
    t.record(app, "GET /check (no header)", get("/check")).await;
    t.record(
        app,
        "GET /check (not base64)",
        get("/check").header("seek_custom_auth", "%%%"),
    )
    .await;
    t.record(
        app,
        "GET /check (bound)",
        get("/check").header(
            "seek_custom_auth",
            check_header("kvothe", PASSWORD, MACHINE),
        ),
    )
    .await;
    t.record(
        app,
        "POST /check (known)",
        request("POST", "/check").header(
            "seek_custom_auth",
            check_header("kvothe", PASSWORD, MACHINE),
        ),
    )
    .await;
    t.record(
        app,
        "GET /check (wrong password)",
        get("/check").header(
            "seek_custom_auth",
            check_header("kvothe", NEW_PASSWORD, MACHINE),
        ),
    )
    .await;
    t.record(
        app,
        "GET /check (mismatch)",
        get("/check").header(
            "seek_custom_auth",
            check_header("kvothe", PASSWORD, OTHER_MACHINE),
        ),
    )
    .await;
    t.record(
        app,
        "POST /check (foreign origin)",
        request("POST", "/check")
            .header("origin", "https://evil.example")
            .header(
                "seek_custom_auth",
                check_header("kvothe", PASSWORD, MACHINE),
            ),
    )
    .await;
    t.record(app, "PUT /check", request("PUT", "/check")).await;
}
