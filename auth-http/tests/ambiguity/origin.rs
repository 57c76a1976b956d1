//! The Origin rule of the JSON API: a state-changing request from another
//! origin is refused without changing anything.

use crate::common::*;
use auth_http::HttpConfig;
use serde_json::json;
use warp::http::StatusCode;
use warp::test::RequestBuilder;

use super::*;

// ----- the Origin rule of the JSON API -----

#[tokio::test]
async fn a_foreign_origin_changes_nothing_on_any_state_changing_route() {
    let app = TestApp::new().await;
    let email = "kvothe@example.com";
    let account = [("email", email), ("password", PASSWORD)];
    let assert_cross_origin = |res: &Res, what: &str| {
        let message = res.assert_error(StatusCode::FORBIDDEN, "cross_origin");
        assert!(!message.is_empty(), "{what}");
        assert!(
            res.header_all("set-cookie").is_empty(),
            "{what} set a cookie"
        );
    };

    for origin in FOREIGN_ORIGINS {
        let res = app
            .send(from_origin(form("POST", "/users", &account), origin))
            .await;
        assert_cross_origin(&res, origin);
        assert!(!exists(&app, email).await, "created from {origin}");
    }
    app.register(email, PASSWORD).await;

    // A cross-site login: no session, and it counts as no attempt either.
    for origin in FOREIGN_ORIGINS {
        for request in [
            form("POST", "/sessions", &account),
            json(
                "POST",
                "/sessions",
                &json!({"email": email, "password": PASSWORD}),
            ),
            login_form(email, "wrong"),
        ] {
            let res = app.send(from_origin(request, origin)).await;
            assert_cross_origin(&res, origin);
        }
    }
    let token = app.login(email, PASSWORD).await;
    let sessions = app
        .send(get("/sessions").header("cookie", cookie(&token)))
        .await
        .json();
    assert_eq!(sessions.as_array().map(Vec::len), Some(1), "{sessions}");
    let other = app.login(email, PASSWORD).await;
    let other_id = app
        .send(get("/sessions").header("cookie", cookie(&other)))
        .await
        .json()
        .as_array()
        .and_then(|list| list.iter().find(|s| s["current"] == true).cloned())
        .map(|s| s["id"].as_str().unwrap_or_default().to_owned())
        .expect("the current session");

    let first_reset = app
        .send(form("POST", "/reset_password", &[("email", email)]))
        .await
        .json()["reset_token"]
        .as_str()
        .expect("a reset token")
        .to_owned();
    for origin in FOREIGN_ORIGINS {
        let with_cookie =
            |request: RequestBuilder| from_origin(request, origin).header("cookie", cookie(&token));
        // Log out, end another session.
        assert_cross_origin(
            &app.send(with_cookie(request("DELETE", "/sessions"))).await,
            origin,
        );
        let path = format!("/sessions/{other_id}");
        assert_cross_origin(
            &app.send(with_cookie(request("DELETE", &path))).await,
            origin,
        );
        // Change the password.
        let change = form(
            "POST",
            "/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
            ],
        );
        assert_cross_origin(&app.send(with_cookie(change)).await, origin);
        // Ask for a reset token (which would void the first) and use one.
        let ask = form("POST", "/reset_password", &[("email", email)]);
        assert_cross_origin(&app.send(from_origin(ask, origin)).await, origin);
        let reset = form(
            "PUT",
            "/reset_password",
            &[
                ("email", email),
                ("reset_token", &first_reset),
                ("new_password", NEW_PASSWORD),
            ],
        );
        assert_cross_origin(&app.send(from_origin(reset, origin)).await, origin);
    }
    assert!(session_lives(&app, &token).await && session_lives(&app, &other).await);
    app.login(email, PASSWORD).await;
    // The first reset token is still the live one.
    let res = app
        .send(form(
            "PUT",
            "/reset_password",
            &[
                ("email", email),
                ("reset_token", &first_reset),
                ("new_password", NEW_PASSWORD),
            ],
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
}

/// Cross-site attempts racing each other and a same-origin login: none is
/// counted as a failed login (the account is never throttled by them), none
/// gets a cookie, and the same-origin login succeeds.
#[tokio::test]
async fn racing_cross_site_logins_count_nothing_and_block_nobody() {
    let app = TestApp::new().await;
    let email = "kvothe@example.com";
    app.register(email, PASSWORD).await;
    let attempt = |origin: &'static str, password: &'static str| {
        app.send(from_origin(login_form(email, password), origin))
    };
    let mut attempts = Vec::new();
    for i in 0..24 {
        let origin = FOREIGN_ORIGINS[i % FOREIGN_ORIGINS.len()];
        attempts.push(attempt(origin, "wrong password, guessed"));
        attempts.push(attempt(origin, PASSWORD));
        // One same-origin login in the middle of the race. (Several right
        // passwords at once are auth-core's throttle's business, issue 12's
        // other half, and not what this test is about.)
        if i == 12 {
            attempts.push(attempt(SAME_ORIGIN, PASSWORD));
        }
    }
    let answers = futures_util::future::join_all(attempts).await;
    let (mut same, mut refused) = (0, 0);
    for res in &answers {
        if res.status == StatusCode::OK {
            same += 1;
            assert!(res.header("set-cookie").is_some());
        } else {
            res.assert_error(StatusCode::FORBIDDEN, "cross_origin");
            assert!(res.header_all("set-cookie").is_empty());
            refused += 1;
        }
    }
    assert_eq!((same, refused), (1, 48));
    // Six wrong passwords would have throttled the account had any counted.
    for _ in 0..4 {
        let res = app.send(login_form(email, "wrong")).await;
        res.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    app.login(email, PASSWORD).await;
}

#[tokio::test]
async fn the_same_origin_and_no_origin_are_accepted_everywhere() {
    let email = "kvothe@example.com";
    for origin in [Some(SAME_ORIGIN), Some("HTTP://LOCALHOST:5000"), None] {
        let app = TestApp::new().await;
        let send = |request: RequestBuilder| {
            let request = request.header("host", HOST);
            let request = match origin {
                Some(origin) => request.header("origin", origin),
                None => request,
            };
            app.send(request)
        };
        let account = [("email", email), ("password", PASSWORD)];
        assert_eq!(
            send(form("POST", "/users", &account)).await.status,
            StatusCode::OK
        );
        let res = send(form("POST", "/sessions", &account)).await;
        assert_eq!(res.status, StatusCode::OK, "{origin:?}: {}", res.text());
        let token = res.session_cookie();
        let other = app.login(email, PASSWORD).await;
        let other_id = app
            .send(get("/sessions").header("cookie", cookie(&other)))
            .await
            .json()
            .as_array()
            .and_then(|l| l.iter().find(|s| s["current"] == true).cloned())
            .expect("the current session")["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let res = send(
            request("DELETE", &format!("/sessions/{other_id}")).header("cookie", cookie(&token)),
        )
        .await;
        assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text());
        let res = send(
            form(
                "POST",
                "/password",
                &[
                    ("current_password", PASSWORD),
                    ("new_password", NEW_PASSWORD),
                ],
            )
            .header("cookie", cookie(&token)),
        )
        .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        let token = res.session_cookie();
        let res = send(form("POST", "/reset_password", &[("email", email)])).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        let reset = res.json()["reset_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let res = send(form(
            "PUT",
            "/reset_password",
            &[
                ("email", email),
                ("reset_token", &reset),
                ("new_password", PASSWORD),
            ],
        ))
        .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        assert!(!session_lives(&app, &token).await, "the reset ended it");
        let token = app.login(email, PASSWORD).await;
        let res = send(request("DELETE", "/sessions").header("cookie", cookie(&token))).await;
        assert_eq!(res.status, StatusCode::FOUND, "{}", res.text());
    }
}

#[tokio::test]
async fn with_a_public_url_only_its_origin_is_this_site() {
    let http = HttpConfig {
        public_url: Some("https://auth.example".into()),
        ..http_config()
    };
    let app = TestApp::with(core_config(), http).await;
    let account = [("email", "kvothe@example.com"), ("password", PASSWORD)];
    // The request's own host is no longer this site.
    let res = app
        .send(from_origin(form("POST", "/users", &account), SAME_ORIGIN))
        .await;
    res.assert_error(StatusCode::FORBIDDEN, "cross_origin");
    for origin in ["http://auth.example", "https://auth.example:8443", "null"] {
        let res = app
            .send(from_origin(form("POST", "/users", &account), origin))
            .await;
        res.assert_error(StatusCode::FORBIDDEN, "cross_origin");
    }
    assert!(!exists(&app, "kvothe@example.com").await);
    for origin in ["https://auth.example", "https://AUTH.EXAMPLE:443"] {
        let res = app
            .send(from_origin(form("POST", "/sessions", &account), origin))
            .await;
        res.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    let res = app
        .send(from_origin(
            form("POST", "/users", &account),
            "https://auth.example",
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
}

#[tokio::test]
async fn a_cross_site_post_check_binds_nothing() {
    let app = TestApp::new().await;
    app.register_json(json!({"username": "kvothe", "password": PASSWORD}))
        .await;
    for origin in FOREIGN_ORIGINS {
        let res = app
            .send(from_origin(
                request("POST", "/check")
                    .header("SEEK_CUSTOM_AUTH", credentials("kvothe", MACHINE)),
                origin,
            ))
            .await;
        assert_check_failure(&res, StatusCode::FORBIDDEN, "cross_origin");
    }
    // Not bound: another machine is still free to be the user's.
    let res = app
        .send(from_origin(
            request("POST", "/check")
                .header("SEEK_CUSTOM_AUTH", credentials("kvothe", OTHER_MACHINE)),
            SAME_ORIGIN,
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.json()["machine"], "bound");
    // GET /check is not judged by Origin (a browser cannot send the header
    // across sites without a preflight we never grant).
    let res = app
        .send(from_origin(
            get("/check").header("SEEK_CUSTOM_AUTH", credentials("kvothe", OTHER_MACHINE)),
            "https://evil.example",
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
}
