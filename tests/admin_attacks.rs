//! A disabled account at every route that signs in, and the attacks on the
//! bearer check (docs/contract/11-access-tokens-and-admin-api.md), against
//! the real binary on SQLite and (ignored without `AUTHD_TEST_POSTGRES_URL`)
//! PostgreSQL. The helpers are tests/admin_api.rs'.

use crate::admin_api::{add_token, add_user, authd, call, login, refusal, server, PASSWORD};
use crate::common;

use auth_db::on_both_backends;
use auth_db::test_support::TestDb;
use common::{client, session_cookie, status_and_body};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_backends! {
    a_disabled_account_is_refused_by_every_route_that_signs_in => a_disabled_account_is_refused_by_every_route_that_signs_in_sqlite, a_disabled_account_is_refused_by_every_route_that_signs_in_postgres;
    attacks_on_the_bearer_check_fail => attacks_on_the_bearer_check_fail_sqlite, attacks_on_the_bearer_check_fail_postgres;
}

async fn a_disabled_account_is_refused_by_every_route_that_signs_in(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let server = server(&db, dir.path(), &["--trusted-proxy", "127.0.0.0/8"]);
    add_user(&server, &db, "mallory");
    authd(&server, &db, &["site", "add", "app.example.test"], "");
    let session = session_cookie(&login(&server, "mallory", PASSWORD).await).unwrap();
    let token = add_token(&server, &db, "mallory", &["profile"], &[]);
    let out = authd(&server, &db, &["user", "disable", "MALLORY"], "");
    assert!(out.contains("disabled mallory"), "{out}");

    let wrong = login(&server, "mallory", "not the password").await;
    let (wrong_status, wrong_body) = status_and_body(wrong).await;
    let (status, body) = status_and_body(login(&server, "mallory", PASSWORD).await).await;
    assert_eq!(
        (status, &body),
        (wrong_status, &wrong_body),
        "the same 401 as a wrong password"
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The website's login form.
    let page = client().get(server.url("/login")).send().await.unwrap();
    let cookies: Vec<String> = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    let html = page.text().await.unwrap();
    let csrf = html
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let r = client()
        .post(server.url("/login"))
        .header("Cookie", cookies.join("; "))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("username", "mallory"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        session_cookie(&r).is_none_or(|c| c.is_empty()),
        "the login page signed a disabled account in"
    );
    // The device check.
    let header = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        json!({"username": "mallory", "password": PASSWORD, "machine_id": "machine-of-mallory-01"})
            .to_string(),
    );
    let r = client()
        .get(server.url("/check"))
        .header("SEEK_CUSTOM_AUTH", header)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Its session ended: the JSON API and forward authentication.
    let r = client()
        .get(server.url("/profile"))
        .header("Cookie", format!("session_id={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = client()
        .get(server.url("/auth/verify"))
        .header("X-Original-URL", "https://app.example.test/")
        .header("Cookie", format!("session_id={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Its token ended.
    let (status, code, _) =
        refusal(call(&server, &token, Method::GET, "/profile", None).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );

    // Enabled: the login is back, the old session is not.
    authd(&server, &db, &["user", "enable", "mallory"], "");
    assert_eq!(
        login(&server, "mallory", PASSWORD).await.status(),
        StatusCode::OK
    );
    let r = client()
        .get(server.url("/profile"))
        .header("Cookie", format!("session_id={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

async fn attacks_on_the_bearer_check_fail(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let server = server(&db, dir.path(), &["--ip-rate-limit", "20/min"]);
    add_user(&server, &db, "root");
    let admin = add_token(
        &server,
        &db,
        "root",
        &["admin:read", "admin:write", "profile"],
        &[],
    );

    // A token in the query string is refused, even with a right header.
    for path in [
        format!("/admin/users?access_token={admin}"),
        format!("/profile?ACCESS_TOKEN={admin}"),
    ] {
        let (status, code, challenge) =
            refusal(call(&server, &admin, Method::GET, &path, None).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{path}"
        );
        assert!(challenge.contains(r#"error="invalid_request""#));
    }
    // The same token twice, or two tokens: two Authorization headers.
    let r = client()
        .get(server.url("/admin/users"))
        .header("Authorization", format!("Bearer {admin}"))
        .header("Authorization", format!("Bearer {admin}"))
        .send()
        .await
        .unwrap();
    assert_eq!(refusal(r).await.1, "invalid_request");
    // Another scheme, a lowercase scheme (accepted), no token.
    let r = client()
        .get(server.url("/admin/users"))
        .header("Authorization", format!("Basic {admin}"))
        .send()
        .await
        .unwrap();
    assert_eq!(refusal(r).await.1, "invalid_request");
    let r = client()
        .get(server.url("/admin/users"))
        .header("Authorization", format!("bearer {admin}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (status, code, challenge) = refusal(
        client()
            .get(server.url("/admin/users"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, code.as_str(), challenge.as_str()),
        (
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            r#"Bearer realm="authd""#
        )
    );

    // Mass assignment: PATCH refuses every member it does not name, and an empty body.
    for body in [
        json!({"password_hash": "x"}),
        json!({"full_name": "x", "credential_version": 0}),
        json!({"username": "root2"}),
        json!({"id": "00000000-0000-0000-0000-000000000000"}),
        json!({}),
    ] {
        let (status, code, _) = refusal(
            call(
                &server,
                &admin,
                Method::PATCH,
                "/admin/users/root",
                Some(body.clone()),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            code == "unknown_field" || code == "invalid_body",
            "{body}: {code}"
        );
    }
    let (status, code, _) = refusal(
        call(
            &server,
            &admin,
            Method::PATCH,
            "/admin/users/root",
            Some(json!({"disabled": "yes"})),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_field")
    );

    // A forged cursor is a 400, never a 500.
    for cursor in ["x", "AAAA.AAAA", "%00", "..", "eyJ9.AAAAAAAAAAAAAAAAAAAAAA"] {
        for path in ["/admin/users", "/admin/events"] {
            let (status, code, _) = refusal(
                call(
                    &server,
                    &admin,
                    Method::GET,
                    &format!("{path}?after={cursor}"),
                    None,
                )
                .await,
            )
            .await;
            assert_eq!(
                (status, code.as_str()),
                (StatusCode::BAD_REQUEST, "invalid_cursor"),
                "{path} {cursor}"
            );
        }
    }
    let (status, _, _) =
        refusal(call(&server, &admin, Method::GET, "/admin/users?limit=abc", None).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A token of a deleted account is refused, even after a new account takes the name.
    add_user(&server, &db, "ghost");
    let ghost = add_token(&server, &db, "ghost", &["profile"], &[]);
    authd(&server, &db, &["user", "delete", "ghost"], "");
    add_user(&server, &db, "ghost");
    assert_eq!(
        refusal(call(&server, &ghost, Method::GET, "/profile", None).await)
            .await
            .1,
        "invalid_token"
    );

    // Wrong tokens count toward the per-address limit: 429 once spent.
    let mut statuses = Vec::new();
    for i in 0..15 {
        let forged = format!("authd_pat_{:0>43}", i);
        statuses.push(
            call(&server, &forged, Method::GET, "/profile", None)
                .await
                .status(),
        );
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );

    // No token, wrong or right, reaches the log.
    let stderr = server.stop_with_stderr().1;
    assert!(
        !stderr.contains(&admin) && !stderr.contains("authd_pat_"),
        "a token in the log:\n{stderr}"
    );
}
