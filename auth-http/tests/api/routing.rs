//! The routes around the accounts: `GET /` and `/healthz`, 404 and 405
//! (with a trailing slash too), and the per-address rate limit.

use std::collections::BTreeSet;

use crate::common::*;
use auth_http::HttpConfig;
use auth_http::RateLimit;
use serde_json::json as j;
use warp::http::StatusCode;

// ----- GET / and /healthz -----

#[tokio::test]
async fn index_welcomes_scripts_and_sends_browsers_to_me() {
    let app = TestApp::new().await;

    let res = app.send(get("/")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json(), j!({"message": "Bienvenue"}));

    for accept in [
        "application/json",
        "*/*",
        "text/html;q=0.5, application/json",
    ] {
        let res = app.send(get("/").header("accept", accept)).await;
        assert_eq!(res.status, StatusCode::OK, "Accept: {accept}");
        assert_eq!(res.json(), j!({"message": "Bienvenue"}));
    }

    let res = app.send(get("/").header("accept", BROWSER_ACCEPT)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some("/me"));
}

#[tokio::test]
async fn healthz_says_ok() {
    let app = TestApp::new().await;
    let res = app.send(get("/healthz")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json(), j!({"status": "ok"}));
}

// ----- 404 and 405 -----

#[tokio::test]
async fn unknown_paths_are_404_json() {
    let app = TestApp::new().await;
    for (method, path) in [
        ("GET", "/nope"),
        ("POST", "/nope"),
        ("GET", "/users/1"),
        ("GET", "/sessions/a/b"),
        ("DELETE", "/sessions/a/b"),
        ("GET", "/profile/extra"),
        ("GET", "/index.html"),
        ("PUT", "/healthz/x"),
    ] {
        let res = app.send(request(method, path)).await;
        res.assert_error(StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn known_paths_with_the_wrong_method_are_405_with_allow() {
    let app = TestApp::new().await;
    let id = uuid::Uuid::new_v4();
    let session_path = format!("/sessions/{id}");
    let cases: Vec<(&str, &str, &[&str])> = vec![
        ("GET", "/users", &["POST"]),
        ("DELETE", "/users", &["POST"]),
        ("PATCH", "/sessions", &["GET", "POST", "DELETE"]),
        ("PUT", "/sessions", &["GET", "POST", "DELETE"]),
        ("PUT", "/profile", &["GET"]),
        ("POST", "/profile", &["GET"]),
        ("GET", "/reset_password", &["POST", "PUT"]),
        ("DELETE", "/reset_password", &["POST", "PUT"]),
        ("GET", "/password", &["POST"]),
        ("POST", "/", &["GET"]),
        ("DELETE", "/", &["GET"]),
        ("POST", "/healthz", &["GET"]),
        ("GET", &session_path, &["DELETE"]),
        ("POST", &session_path, &["DELETE"]),
    ];
    for (method, path, allowed) in cases {
        let res = app.send(request(method, path)).await;
        res.assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        let allow = res
            .header("allow")
            .unwrap_or_else(|| panic!("{method} {path}: no Allow header"));
        let got: BTreeSet<&str> = allow.split(',').map(str::trim).collect();
        let wanted: BTreeSet<&str> = allowed.iter().copied().collect();
        assert_eq!(got, wanted, "{method} {path}: Allow: {allow}");
    }
}

// ----- per-address rate limit -----

#[tokio::test]
async fn the_per_address_rate_limit_answers_429_rate_limited() {
    let http = HttpConfig {
        ip_rate_limit: "4/min".parse::<RateLimit>().unwrap(),
        ..http_config()
    };
    let app = TestApp::with(core_config(), http).await;
    let here = "127.0.0.1:40000".parse().unwrap();
    let there = "192.0.2.9:51000".parse().unwrap();
    let sign_up = |n: u32, addr: std::net::SocketAddr| {
        let email = format!("user{n}@example.com");
        form(
            "POST",
            "/users",
            &[("email", email.as_str()), ("password", PASSWORD)],
        )
        .remote_addr(addr)
    };

    // A burst of two (half of 4), then 429.
    for n in 1..=2 {
        let res = app.send(sign_up(n, here)).await;
        assert_eq!(res.status, StatusCode::OK, "request {n}: {}", res.text());
    }
    let res = app.send(sign_up(3, here)).await;
    res.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let retry_after: u64 = res
        .header("retry-after")
        .expect("a Retry-After header")
        .parse()
        .expect("whole seconds");
    assert!(
        (1..=15).contains(&retry_after),
        "Retry-After: {retry_after}"
    );

    // The limit covers the other costly routes from that address too.
    let res = app
        .send(login_form("user1@example.com", PASSWORD).remote_addr(here))
        .await;
    res.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let res = app
        .send(form("POST", "/reset_password", &[("email", "user1@example.com")]).remote_addr(here))
        .await;
    res.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");

    // Another address has its own allowance.
    let res = app.send(sign_up(4, there)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    // Cheap routes are not limited.
    let res = app.send(get("/healthz").remote_addr(here)).await;
    assert_eq!(res.status, StatusCode::OK);
}

// ----- inconsistencies found while writing these tests -----

#[tokio::test]
async fn a_path_that_is_served_with_a_trailing_slash_answers_405_for_other_methods() {
    let app = TestApp::new().await;
    let token = app.signed_in("bob@example.com").await;
    let served = [
        get("/profile/").header("cookie", cookie(&token)),
        get("/healthz/"),
        get("/sessions/").header("cookie", cookie(&token)),
    ];
    for req in served {
        let res = app.send(req).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    }
    for (path, wrong_method) in [
        ("/profile/", "PUT"),
        ("/healthz/", "POST"),
        ("/sessions/", "PATCH"),
        ("/users/", "GET"),
    ] {
        let res = app.send(request(wrong_method, path)).await;
        res.assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        assert!(res.header("allow").is_some(), "{wrong_method} {path}");
    }
}
