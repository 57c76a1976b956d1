//! Sign-up in every combination of identifiers, with and without the
//! profile; login and the session routes.

use crate::common::*;
use serde_json::json as j;

use super::transcript::{with, Transcript};

/// Sign-up, then login and the session routes, each answer recorded in turn.
pub(super) async fn record(t: &mut Transcript, app: &TestApp) {
    t.record(
        app,
        "POST /users (email)",
        form(
            "POST",
            "/users",
            &[("email", "bob@example.com"), ("password", PASSWORD)],
        ),
    )
    .await;
    t.record(
        app,
        "POST /users (username, JSON)",
        json(
            "POST",
            "/users",
            &j!({"username": "kvothe", "password": PASSWORD}),
        ),
    )
    .await;
    t.record(
        app,
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
        app,
        "POST /users (taken)",
        form(
            "POST",
            "/users",
            &[("email", "BOB@example.com"), ("password", PASSWORD)],
        ),
    )
    .await;
    t.record(
        app,
        "POST /users (no password)",
        form("POST", "/users", &[("email", "x@example.com")]),
    )
    .await;
    t.record(
        app,
        "POST /users (null)",
        json("POST", "/users", &j!({"email": null, "password": PASSWORD})),
    )
    .await;
    t.record(
        app,
        "POST /users (two bad members: the first read is told)",
        json(
            "POST",
            "/users",
            &j!({"email": 5, "username": null, "password": PASSWORD}),
        ),
    )
    .await;
    t.record(
        app,
        "POST /users (bad profile field, no password)",
        json(
            "POST",
            "/users",
            &j!({"email": "q@example.com", "full_name": 5}),
        ),
    )
    .await;
    t.record(
        app,
        "POST /users (short password)",
        form(
            "POST",
            "/users",
            &[("email", "y@example.com"), ("password", "short")],
        ),
    )
    .await;
    t.record(
        app,
        "POST /users (text/plain)",
        raw("POST", "/users", "text/plain", "email=a"),
    )
    .await;
    t.record(
        app,
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
        app,
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
        app,
        "POST /sessions (email)",
        login_form("bob@example.com", PASSWORD),
    )
    .await;
    t.record(
        app,
        "POST /sessions (missing)",
        form("POST", "/sessions", &[("password", PASSWORD)]),
    )
    .await;
    t.record(
        app,
        "POST /sessions (no identifier, bad password)",
        json("POST", "/sessions", &j!({"username": "", "password": null})),
    )
    .await;
    t.record(
        app,
        "POST /sessions (bad username, good email)",
        json(
            "POST",
            "/sessions",
            &j!({"username": 5, "email": "bob@example.com", "password": PASSWORD}),
        ),
    )
    .await;
    t.record(
        app,
        "POST /sessions (no password)",
        json("POST", "/sessions", &j!({"email": "bob@example.com"})),
    )
    .await;
    t.record(
        app,
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
            app,
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
        app,
        "GET /sessions",
        with(get("/sessions"), &denna).header("user-agent", "wire-test/1"),
    )
    .await;
    t.record(app, "GET /sessions (no cookie)", get("/sessions"))
        .await;
    t.record(
        app,
        "GET /profile (everything)",
        with(get("/profile"), &denna),
    )
    .await;
    let bob = app.login("bob@example.com", PASSWORD).await;
    t.record(app, "GET /profile (email)", with(get("/profile"), &bob))
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
        app,
        "GET /profile (username)",
        with(get("/profile"), &kvothe),
    )
    .await;
    t.record(
        app,
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
        app,
        "DELETE /sessions/{id}",
        with(request("DELETE", &format!("/sessions/{other}")), &denna),
    )
    .await;
    drop(denna_again);
    t.record(
        app,
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
        app,
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
        app,
        "POST /password (no new password)",
        with(
            json("POST", "/password", &j!({"current_password": PASSWORD})),
            &bob,
        ),
    )
    .await;
    t.record(
        app,
        "DELETE /sessions",
        with(request("DELETE", "/sessions"), &denna),
    )
    .await;
    t.record(
        app,
        "DELETE /sessions (no cookie)",
        request("DELETE", "/sessions"),
    )
    .await;
}
