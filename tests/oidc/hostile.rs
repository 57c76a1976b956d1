//! What a hostile page, client or operator typo gets: error pages without
//! a redirect, errors back to the client, 401s, one-line usage errors, 429s.

use super::*;

#[tokio::test]
async fn hostile_requests_are_refused_without_a_redirect_or_a_token() {
    let server = server_with_alice();
    let app = add_client(&server, &[]);
    let public = add_client(&server, &["--public", "--trusted"]);
    let http = common::client();
    // Every other spelling of the redirect URI: an error page, no Location.
    for spelling in [
        "http://127.0.0.1:9/callback/",
        "http://127.0.0.1:9/callbac",
        "http://127.0.0.1:9/callbackx",
        "http://127.0.0.1:9/CALLBACK",
        "http://127.0.0.1:9/callback?x=1",
        "http://127.0.0.1:9/callback#x",
        "http://evil@127.0.0.1:9/callback",
        "http://127.0.0.1:10/callback",
        "http://127.0.0.1/callback",
        "https://127.0.0.1:9/callback",
        "http://localhost:9/callback",
    ] {
        let query = authorize_query(&app, &[("redirect_uri", spelling)]);
        let page = http
            .get(server.url(&format!("/oauth/authorize?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::BAD_REQUEST, "{spelling}");
        assert!(page.headers().get(LOCATION).is_none(), "{spelling}");
    }
    let unknown = authorize_query(
        &App {
            id: "someone-else".into(),
            secret: None,
        },
        &[],
    );
    let page = http
        .get(server.url(&format!("/oauth/authorize?{unknown}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(page.headers().get(LOCATION).is_none());
    // PKCE downgrades and prompt=none go back to the client with an error.
    for (extra, error) in [
        (&[("code_challenge_method", "plain")][..], "invalid_request"),
        (&[("code_challenge_method", "")][..], "invalid_request"),
        (&[("code_challenge", "")][..], "invalid_request"),
        (&[("prompt", "none")][..], "login_required"),
    ] {
        let query = authorize_query(&app, extra);
        let back = http
            .get(server.url(&format!("/oauth/authorize?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(back.status(), StatusCode::SEE_OTHER, "{extra:?}");
        let to = location(&back);
        assert!(to.starts_with(REDIRECT), "{to}");
        assert_eq!(
            query_param(&to, "error").as_deref(),
            Some(error),
            "{extra:?}"
        );
        assert_eq!(query_param(&to, "code"), None);
    }
    // The token endpoint: a wrong secret is 401 with WWW-Authenticate.
    let wrong = App {
        id: app.id.clone(),
        secret: Some("wrong".into()),
    };
    let response = token_request(
        &server,
        &wrong,
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    assert_eq!(
        common::status_and_body(response).await.1["error"],
        "invalid_client"
    );
    // A code of the public client used by the confidential one: invalid_grant.
    let (code, session) = sign_in_for_code(&server, &public, false).await;
    let (status, body) = exchange(&server, &app, &code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // Consent: another origin, or no CSRF token, is refused.
    let consent = http
        .get(server.url(&format!("/oauth/authorize?{}", authorize_query(&app, &[]))))
        .header(COOKIE, format!("session_id={session}"))
        .send()
        .await
        .unwrap();
    let html = consent.text().await.unwrap();
    let form = consent_form(&html, "allow");
    let cross_site = http
        .post(server.url("/oauth/consent"))
        .header(COOKIE, format!("session_id={session}"))
        .header("Origin", "https://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    let no_token: Vec<_> = form
        .iter()
        .filter(|(n, _)| n != "csrf_token")
        .cloned()
        .collect();
    let forged = http
        .post(server.url("/oauth/consent"))
        .header(COOKIE, format!("session_id={session}"))
        .form(&no_token)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // A login's next that is not an authorization request goes to /me.
    let page = http
        .get(server.url("/login?next=https://evil.example/"))
        .send()
        .await
        .unwrap();
    let nonce = set_cookie(&page, "authd_csrf").unwrap();
    let html = page.text().await.unwrap();
    assert!(!html.contains("name=\"next\""));
    let logged_in = http
        .post(server.url("/login"))
        .header(COOKIE, format!("authd_csrf={nonce}"))
        .form(&[
            ("csrf_token", hidden(&html, "csrf_token").as_str()),
            ("username", "alice"),
            ("password", PASSWORD),
            ("next", "//evil.example/oauth/authorize"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&logged_in), "/me");
}

#[test]
fn bad_client_registrations_and_an_insecure_issuer_are_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let database = sqlite_url(dir.path());
    for uri in [
        "http://app.example/cb",
        "https://app.example/cb#x",
        "/cb",
        "https://APP.example/cb",
    ] {
        let out = Run::authd()
            .current_dir(dir.path())
            .args([
                "--database",
                &database,
                "client",
                "add",
                "x",
                "--redirect-uri",
                uri,
            ])
            .output();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{uri}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{uri}: {stderr}");
        assert!(stderr.contains("--redirect-uri"), "{uri}: {stderr}");
    }
    let out = Run::authd()
        .current_dir(dir.path())
        .args([
            "--database",
            &database,
            "serve",
            "--public-url",
            "http://auth.example.com",
        ])
        .output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--public-url"), "{stderr}");
}

#[tokio::test]
async fn the_token_endpoint_counts_toward_the_per_address_limit() {
    let server = Server::start(&["--ip-rate-limit", "2/min"]);
    let http = common::client();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = http
            .post(server.url("/oauth/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "x"),
                ("client_id", "x"),
            ])
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
    }
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}

/// Without `--public-url` the issuer is the address listened on: a plain
/// `http://` one beyond the loopback is refused before anything is made,
/// while an `https://` `--public-url` in front of the same bind starts.
#[test]
fn a_plain_http_issuer_from_a_bind_beyond_the_loopback_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let database = sqlite_url(dir.path());
    for bind in ["0.0.0.0:0", "[::]:0"] {
        let out = Run::authd()
            .current_dir(dir.path())
            .args(["--database", &database, "serve", "--bind", bind])
            .output();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bind}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{bind}: {stderr}");
        assert!(stderr.contains("--bind"), "{bind}: {stderr}");
        assert!(stderr.contains("--public-url"), "{bind}: {stderr}");
    }
    assert!(
        !dir.path().join("auth.db").exists() && std::fs::read_dir(dir.path()).unwrap().count() == 0,
        "nothing is made"
    );
}
