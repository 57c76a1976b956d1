//! Password reset, by either identifier, with the token in the answer.

use crate::common::*;
use serde_json::json as j;

use super::transcript::Transcript;

/// The reset requests, each answer recorded in turn.
pub(super) async fn record(t: &mut Transcript, app: &TestApp) {
    let res = t
        .record(
            app,
            "POST /reset_password (email)",
            form("POST", "/reset_password", &[("email", "bob@example.com")]),
        )
        .await;
    let bob_token = res.json()["reset_token"].as_str().unwrap().to_owned();
    let res = t
        .record(
            app,
            "POST /reset_password (username)",
            json("POST", "/reset_password", &j!({"username": "kvothe"})),
        )
        .await;
    let kvothe_token = res.json()["reset_token"].as_str().unwrap().to_owned();
    t.record(
        app,
        "POST /reset_password (email, username of another type not read)",
        json(
            "POST",
            "/reset_password",
            &j!({"email": "denna@example.com", "username": 5}),
        ),
    )
    .await;
    t.record(
        app,
        "POST /reset_password (empty email, bad username)",
        json("POST", "/reset_password", &j!({"email": "", "username": 5})),
    )
    .await;
    t.record(
        app,
        "PUT /reset_password (no token)",
        json(
            "PUT",
            "/reset_password",
            &j!({"email": "bob@example.com", "new_password": 5}),
        ),
    )
    .await;
    t.record(
        app,
        "PUT /reset_password (no identifier)",
        json(
            "PUT",
            "/reset_password",
            &j!({"reset_token": 5, "new_password": 5}),
        ),
    )
    .await;
    t.record(
        app,
        "POST /reset_password (unknown)",
        form(
            "POST",
            "/reset_password",
            &[("email", "nobody@example.com")],
        ),
    )
    .await;
    t.record(
        app,
        "POST /reset_password (empty)",
        form("POST", "/reset_password", &[("email", "")]),
    )
    .await;
    t.record(
        app,
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
        app,
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
        app,
        "PUT /reset_password (username)",
        json(
            "PUT",
            "/reset_password",
            &j!({"username": "kvothe", "reset_token": kvothe_token, "new_password": PASSWORD}),
        ),
    )
    .await;
}
