//! The code flow from a relying party's side: by hand, with the
//! `openidconnect` crate, and across two servers on one PostgreSQL.

use super::*;

#[tokio::test]
async fn a_relying_party_signs_a_user_in_refreshes_and_logs_out() {
    let server = server_with_alice();
    let app = add_client(&server, &[]);
    assert!(app.secret.is_some());
    // Discovery.
    let (status, discovery) = common::status_and_body(
        common::client()
            .get(server.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(discovery["issuer"], server.base_url.as_str());
    assert_eq!(
        discovery["token_endpoint"],
        server.url("/oauth/token").as_str()
    );
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"][0],
        "RS256"
    );
    assert_eq!(
        discovery["authorization_response_iss_parameter_supported"],
        true
    );

    // The browser's part, then the client's.
    let (code, session) = sign_in_for_code(&server, &app, true).await;
    let response = token_request(
        &server,
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    let (status, tokens) = common::status_and_body(response).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 600);
    let claims = verified_claims(&server, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["iss"], server.base_url.as_str());
    assert_eq!(claims["aud"], app.id.as_str());
    assert_eq!(claims["nonce"], "n-0S6");
    assert_eq!(claims["preferred_username"], "alice");
    let access = tokens["access_token"].as_str().unwrap();
    let info = userinfo(&server, access).await;
    assert_eq!(info.status(), StatusCode::OK);
    let info: Value = info.json().await.unwrap();
    assert_eq!(info["sub"], claims["sub"]);
    assert_ne!(info["sub"], "alice", "sub is not the username");

    // Refresh rotates; the old refresh token again revokes the grant.
    let first = tokens["refresh_token"].as_str().unwrap();
    let (status, second) = refresh(&server, &app, first).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let (status, reused) = refresh(&server, &app, first).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(reused["error"], "invalid_grant");
    let dead = userinfo(&server, second["access_token"].as_str().unwrap()).await;
    assert_eq!(dead.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        dead.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );

    // A second sign-in needs no consent (remembered); the code replayed is refused.
    let (code, session) = {
        let http = common::client();
        let again = http
            .get(server.url(&format!("/oauth/authorize?{}", authorize_query(&app, &[]))))
            .header(COOKIE, format!("session_id={session}"))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::SEE_OTHER);
        (query_param(&location(&again), "code").unwrap(), session)
    };
    let (status, tokens) = exchange(&server, &app, &code).await;
    assert_eq!(status, StatusCode::OK);
    let (status, replayed) = exchange(&server, &app, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(replayed["error"], "invalid_grant");
    let revoked = userinfo(&server, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);

    // RP-initiated logout: back to the registered URI, and the session is over.
    let hint = tokens["id_token"].as_str().unwrap();
    let mut logout = url::form_urlencoded::Serializer::new(String::new());
    logout
        .append_pair("id_token_hint", hint)
        .append_pair("post_logout_redirect_uri", BYE)
        .append_pair("state", "bye1");
    let out = common::client()
        .get(server.url(&format!("/oauth/logout?{}", logout.finish())))
        .header(COOKIE, format!("session_id={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&out), format!("{BYE}?state=bye1"));
    let me = common::client()
        .get(server.url("/me"))
        .header(COOKIE, format!("session_id={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&me), "/login");
}

/// A certified relying party library, `openidconnect`, with nothing but the
/// issuer, the client id and the secret: discovery, the code flow with PKCE,
/// the ID token checked against the key set (signature, nonce, at_hash),
/// userinfo, and refresh with rotation.
#[tokio::test]
async fn the_openidconnect_crate_signs_in_reads_userinfo_and_refreshes() {
    use openidconnect::core::{
        CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
    };
    use openidconnect::{
        AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
        OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
    };
    let server = server_with_alice();
    let app = add_client(&server, &[]);
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let issuer = IssuerUrl::new(server.base_url.clone()).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(app.id.clone()),
        app.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();
    let (redirect, _session) = browse(&server, url.as_str(), true).await;
    assert_eq!(
        query_param(&redirect, "state").as_deref(),
        Some(state.secret().as_str())
    );
    let code = AuthorizationCode::new(query_param(&redirect, "code").unwrap());
    let tokens = client
        .exchange_code(code)
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    let id_verifier = client.id_token_verifier();
    let claims = id_token.claims(&id_verifier, &nonce).unwrap();
    let at_hash = claims.access_token_hash().expect("at_hash");
    let computed = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(&computed, at_hash);
    assert_eq!(
        claims.preferred_username().map(|name| name.as_str()),
        Some("alice")
    );
    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().to_owned(), None)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(info.subject(), claims.subject());
    let refresh = tokens
        .refresh_token()
        .expect("offline_access gives a refresh token");
    let refreshed = client
        .exchange_refresh_token(refresh)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        refresh.secret()
    );
    let reused = client
        .exchange_refresh_token(refresh)
        .unwrap()
        .request_async(&http)
        .await;
    assert!(reused.is_err(), "a rotated refresh token is refused");
}

#[tokio::test]
#[ignore = "needs AUTHD_TEST_POSTGRES_URL"]
async fn two_servers_on_one_postgres_finish_what_the_other_started() {
    let schema = auth_db::test_support::TestDb::postgres()
        .expect("AUTHD_TEST_POSTGRES_URL must name a PostgreSQL server for this test");
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("shared.key").display().to_string();
    // One issuer for the deployment, as behind a load balancer.
    let issuer = "http://localhost:8443";
    let options = [
        "--secret-key-file",
        key.as_str(),
        "--public-url",
        issuer,
        "--ip-rate-limit",
        "off",
    ];
    let a = Server::start_with(dir.path(), &schema.url, &options);
    let b = Server::start_with(dir.path(), &schema.url, &options);
    let store = Store {
        dir: dir.path().to_path_buf(),
        database: schema.url.clone(),
        global: vec!["--secret-key-file".into(), key.clone()],
    };
    add_alice(&store);
    let app = add_client_to(&store, &[]);
    // The login and consent on A, the code exchanged on B.
    let (code, _session) = sign_in_for_code_at(&a, issuer, &app, true).await;
    let (status, tokens) = exchange(&b, &app, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    // Signed by B, verified with A's key set: one set of keys.
    let claims = verified_claims(&a, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["iss"], issuer);
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&a, access).await.status(), StatusCode::OK);
    // The code again on A: refused, and what B gave is revoked.
    let (status, _) = exchange(&a, &app, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        userinfo(&b, access).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

/// `login_hint` (OpenID Connect Core §3.1.2.1) starts the login form with
/// that name: the login page reads it from its `next`, the authorization
/// request; a hint that is markup is shown as text, and a `next` that is not
/// an authorization request gives no hint.
#[tokio::test]
async fn login_hint_prefills_the_login_form() {
    let server = server_with_alice();
    let app = add_client(&server, &[]);
    let http = common::client();
    let login_page = |hint: &'static str| {
        let http = http.clone();
        let start = server.url(&format!(
            "/oauth/authorize?{}",
            authorize_query(&app, &[("login_hint", hint)])
        ));
        let server = &server;
        async move {
            let r = http.get(start).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            let login_at = location(&r);
            let page = http.get(server.url(&login_at)).send().await.unwrap();
            assert_eq!(page.status(), StatusCode::OK);
            page.text().await.unwrap()
        }
    };
    let html = login_page("alice").await;
    assert!(
        html.contains(r#"<input id="username" name="username" value="alice""#),
        "{html}"
    );
    let html = login_page(r#""><script>alert(1)</script>"#).await;
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(
        html.contains(r#"name="username" value="&#34;&#62;&#60;script&#62;"#),
        "{html}"
    );
    // Not an authorization request: no hint read from it.
    let page = http
        .get(server.url("/login?next=%2Fme%3Flogin_hint%3Dalice"))
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"name="username" value="""#), "{html}");
}
