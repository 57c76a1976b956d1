//! The OpenID Connect provider's rules and races (docs/contract/8-openid-connect.md),
//! on both backends, through `Auth` alone.

use crate::common;

use auth_core::{
    Auth, AuthError, AuthorizationRequest, AuthorizeOutcome, ClientAuth, ConsentDecision,
    Identifier, NewClient, OAuthError, RegisteredClient, SigningAlg, TokenResponse,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use sha2::{Digest, Sha256};

on_both_backends! {
    the_code_flow_gives_tokens_claims_and_rotating_refresh => the_code_flow_gives_tokens_claims_and_rotating_refresh_sqlite, the_code_flow_gives_tokens_claims_and_rotating_refresh_postgres;
    consent_is_asked_once_remembered_and_asked_again_on_prompt => consent_is_asked_once_remembered_and_asked_again_on_prompt_sqlite, consent_is_asked_once_remembered_and_asked_again_on_prompt_postgres;
    unregistered_redirects_and_unknown_clients_are_never_redirected => unregistered_redirects_and_unknown_clients_are_never_redirected_sqlite, unregistered_redirects_and_unknown_clients_are_never_redirected_postgres;
    pkce_is_required_and_checked => pkce_is_required_and_checked_sqlite, pkce_is_required_and_checked_postgres;
    a_replayed_code_revokes_what_it_gave => a_replayed_code_revokes_what_it_gave_sqlite, a_replayed_code_revokes_what_it_gave_postgres;
    a_code_is_good_for_sixty_seconds_and_for_its_client_only => a_code_is_good_for_sixty_seconds_and_for_its_client_only_sqlite, a_code_is_good_for_sixty_seconds_and_for_its_client_only_postgres;
    a_code_exchanged_twice_at_once_has_one_winner => a_code_exchanged_twice_at_once_has_one_winner_sqlite, a_code_exchanged_twice_at_once_has_one_winner_postgres;
    a_refresh_token_used_twice_at_once_has_one_winner_then_the_grant_dies => a_refresh_token_used_twice_at_once_has_one_winner_then_the_grant_dies_sqlite, a_refresh_token_used_twice_at_once_has_one_winner_then_the_grant_dies_postgres;
    revocation_follows_the_account => revocation_follows_the_account_sqlite, revocation_follows_the_account_postgres;
    clients_authenticate_and_see_only_their_tokens => clients_authenticate_and_see_only_their_tokens_sqlite, clients_authenticate_and_see_only_their_tokens_postgres;
    a_rotated_key_is_published_first_and_signs_after_the_delay => a_rotated_key_is_published_first_and_signs_after_the_delay_sqlite, a_rotated_key_is_published_first_and_signs_after_the_delay_postgres;
    logout_redirects_only_to_the_hinted_clients_registered_uri => logout_redirects_only_to_the_hinted_clients_registered_uri_sqlite, logout_redirects_only_to_the_hinted_clients_registered_uri_postgres;
    amr_says_how_the_session_was_signed_in => amr_says_how_the_session_was_signed_in_sqlite, amr_says_how_the_session_was_signed_in_postgres;
}

const REDIRECT: &str = "https://app.example/callback";
const VERIFIER: &str = "a-verifier-of-forty-three-characters-or-more-1234";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

async fn add_client(auth: &Auth, public: bool, trusted: bool) -> RegisteredClient {
    auth.add_client(
        NewClient {
            name: "Example app".into(),
            redirect_uris: vec![REDIRECT.into()],
            post_logout_redirect_uris: vec!["https://app.example/bye".into()],
            public,
            trusted,
        },
        &client(),
    )
    .await
    .unwrap()
}

fn credentials(app: &RegisteredClient) -> ClientAuth {
    ClientAuth {
        client_id: app.client.id.clone(),
        secret: app.secret.as_ref().map(|s| s.expose().to_owned()),
    }
}

fn request(app: &RegisteredClient, scope: &str) -> AuthorizationRequest {
    AuthorizationRequest {
        response_type: Some("code".into()),
        client_id: Some(app.client.id.clone()),
        redirect_uri: Some(REDIRECT.into()),
        scope: Some(scope.into()),
        state: Some("st&te".into()),
        nonce: Some("n-0S6_WzA2Mj".into()),
        code_challenge: Some(challenge(VERIFIER)),
        code_challenge_method: Some("S256".into()),
        ..AuthorizationRequest::default()
    }
}

/// The query parameters of a redirect.
fn params(location: &str) -> Vec<(String, String)> {
    let query = location.split_once('?').map_or("", |(_, q)| q);
    url_pairs(query)
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| percent_decode(&s.replace('+', " "));
            (decode(name), decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn param(location: &str, name: &str) -> Option<String> {
    params(location)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

/// Signs in a new account and consents: the session token and a code.
async fn signed_in(auth: &Auth, name: &str) -> String {
    register(auth, name, GOOD).await;
    login(auth, name, GOOD)
        .await
        .unwrap()
        .token
        .expose()
        .to_owned()
}

/// The code of an authorization the user allows.
async fn code_for(auth: &Auth, app: &RegisteredClient, session: &str, scope: &str) -> String {
    let outcome = auth
        .authorize(
            &request(app, scope),
            Some(session),
            ConsentDecision::Allowed,
            &client(),
        )
        .await
        .unwrap();
    let AuthorizeOutcome::Redirect(location) = outcome else {
        panic!("expected a redirect, got {outcome:?}");
    };
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(param(&location, "state").as_deref(), Some("st&te"));
    assert_eq!(
        param(&location, "iss").as_deref(),
        Some(auth.config().oidc_issuer.as_str())
    );
    param(&location, "code").expect("a code")
}

async fn exchange(
    auth: &Auth,
    app: &RegisteredClient,
    code: &str,
) -> Result<TokenResponse, AuthError> {
    auth.exchange_code(&credentials(app), code, REDIRECT, VERIFIER, &client())
        .await
}

fn invalid_grant(result: Result<TokenResponse, AuthError>) -> bool {
    matches!(result, Err(AuthError::OAuth(OAuthError::InvalidGrant(_))))
}

async fn token_works(auth: &Auth, access_token: &str) -> bool {
    match auth.userinfo(access_token).await {
        Ok(_) => true,
        Err(AuthError::OAuth(OAuthError::InvalidToken)) => false,
        Err(other) => panic!("userinfo failed unexpectedly: {other:?}"),
    }
}

fn claims_of(id_token: &str) -> serde_json::Value {
    let payload = id_token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn the_code_flow_gives_tokens_claims_and_rotating_refresh(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let app = add_client(&auth, false, false).await;
    let session = signed_in(&auth, "alice").await;
    let code = code_for(&auth, &app, &session, "openid profile email offline_access").await;
    let tokens = exchange(&auth, &app, &code).await.unwrap();
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in, 600);
    assert_eq!(tokens.scope, "openid profile email offline_access");
    let claims = claims_of(&tokens.id_token);
    let user = auth
        .find_user(&Identifier::Username("alice".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claims["sub"], user.id.as_str());
    assert_eq!(claims["aud"], app.client.id.as_str());
    assert_eq!(claims["iss"], auth.config().oidc_issuer.as_str());
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert_eq!(claims["preferred_username"], "alice");
    let at_hash = URL_SAFE_NO_PAD.encode(&Sha256::digest(tokens.access_token.as_bytes())[..16]);
    assert_eq!(claims["at_hash"], at_hash.as_str());
    let info = auth.userinfo(&tokens.access_token).await.unwrap();
    assert_eq!(info["sub"], user.id.as_str());
    assert_eq!(info["preferred_username"], "alice");

    // Rotation: each refresh gives a new refresh token; the old one, shown
    // again, revokes the whole grant, the newest tokens included.
    let first = tokens.refresh_token.clone().unwrap();
    let second = auth
        .refresh_tokens(&credentials(&app), &first, None, &client())
        .await
        .unwrap();
    let second_refresh = second.refresh_token.clone().unwrap();
    assert_ne!(second_refresh, first);
    assert!(token_works(&auth, &second.access_token).await);
    let reused = auth
        .refresh_tokens(&credentials(&app), &first, None, &client())
        .await;
    assert!(invalid_grant(reused));
    assert!(!token_works(&auth, &second.access_token).await);
    assert!(!token_works(&auth, &tokens.access_token).await);
    assert!(invalid_grant(
        auth.refresh_tokens(&credentials(&app), &second_refresh, None, &client())
            .await
    ));

    // Without offline_access there is no refresh token.
    let code = code_for(&auth, &app, &session, "openid").await;
    assert_eq!(
        exchange(&auth, &app, &code).await.unwrap().refresh_token,
        None
    );
}

async fn consent_is_asked_once_remembered_and_asked_again_on_prompt(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let app = add_client(&auth, true, false).await;
    let session = signed_in(&auth, "bob").await;
    let ask = |prompt: Option<&str>, session: Option<String>| {
        let auth = auth.clone();
        let mut request = request(&app, "openid email");
        request.prompt = prompt.map(str::to_owned);
        async move {
            auth.authorize(
                &request,
                session.as_deref(),
                ConsentDecision::NotAsked,
                &client(),
            )
            .await
            .unwrap()
        }
    };
    // Nobody signed in: the login page, or login_required with prompt=none.
    assert_eq!(ask(None, None).await, AuthorizeOutcome::Login);
    let AuthorizeOutcome::Redirect(location) = ask(Some("none"), None).await else {
        panic!("prompt=none must redirect");
    };
    assert_eq!(param(&location, "error").as_deref(), Some("login_required"));
    // Signed in, never asked: consent (or consent_required).
    assert!(matches!(
        ask(None, Some(session.clone())).await,
        AuthorizeOutcome::Consent { ref client_name, ref scopes }
            if client_name == "Example app" && scopes == &["openid", "email"]
    ));
    let AuthorizeOutcome::Redirect(location) = ask(Some("none"), Some(session.clone())).await
    else {
        panic!("prompt=none must redirect");
    };
    assert_eq!(
        param(&location, "error").as_deref(),
        Some("consent_required")
    );
    // Denied: access_denied goes back to the client.
    let denied = auth
        .authorize(
            &request(&app, "openid"),
            Some(&session),
            ConsentDecision::Denied,
            &client(),
        )
        .await
        .unwrap();
    let AuthorizeOutcome::Redirect(location) = denied else {
        panic!()
    };
    assert_eq!(param(&location, "error").as_deref(), Some("access_denied"));
    // Allowed once: remembered; prompt=consent asks again; prompt=login logs in again.
    code_for(&auth, &app, &session, "openid email").await;
    assert!(
        matches!(ask(None, Some(session.clone())).await, AuthorizeOutcome::Redirect(l) if param(&l, "code").is_some())
    );
    assert!(
        matches!(ask(Some("none"), Some(session.clone())).await, AuthorizeOutcome::Redirect(l) if param(&l, "code").is_some())
    );
    assert!(matches!(
        ask(Some("consent"), Some(session.clone())).await,
        AuthorizeOutcome::Consent { .. }
    ));
    assert_eq!(
        ask(Some("login"), Some(session.clone())).await,
        AuthorizeOutcome::Login
    );
    // A trusted client never asks.
    let trusted = add_client(&auth, true, true).await;
    let outcome = auth
        .authorize(
            &request(&trusted, "openid"),
            Some(&session),
            ConsentDecision::NotAsked,
            &client(),
        )
        .await
        .unwrap();
    assert!(matches!(outcome, AuthorizeOutcome::Redirect(l) if param(&l, "code").is_some()));
    // The account lists the app it consented to, and revoking forgets it.
    // (A trusted client's code, never exchanged, is no authorization yet.)
    let apps = auth.authorized_apps(&session).await.unwrap();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0].client_id, app.client.id);
    assert_eq!(apps[0].scopes, ["openid", "email"]);
    auth.revoke_app(&session, &app.client.id, &client())
        .await
        .unwrap();
    assert!(matches!(
        ask(None, Some(session.clone())).await,
        AuthorizeOutcome::Consent { .. }
    ));
}

async fn unregistered_redirects_and_unknown_clients_are_never_redirected(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let app = add_client(&auth, false, true).await;
    let session = signed_in(&auth, "carol").await;
    let spellings = [
        "https://app.example/callback/",
        "https://app.example/callbac",
        "https://app.example/callback/../callback",
        "https://app.example/callbackx",
        "https://APP.example/callback",
        "https://app.example/Callback",
        "https://app.example/callback?x=1",
        "https://app.example/callback#frag",
        "https://evil@app.example/callback",
        "https://app.example:444/callback",
        "http://app.example/callback",
        "https://app.example.evil/callback",
        "",
    ];
    for spelling in spellings {
        let mut bad = request(&app, "openid");
        bad.redirect_uri = Some(spelling.into());
        let outcome = auth
            .authorize(&bad, Some(&session), ConsentDecision::NotAsked, &client())
            .await;
        assert!(
            matches!(
                outcome,
                Err(AuthError::OAuth(OAuthError::UntrustedRedirect(_)))
            ),
            "{spelling}: {outcome:?}"
        );
    }
    let mut missing = request(&app, "openid");
    missing.redirect_uri = None;
    assert!(auth
        .authorize(
            &missing,
            Some(&session),
            ConsentDecision::NotAsked,
            &client()
        )
        .await
        .is_err());
    for client_id in [
        None,
        Some("nobody"),
        Some("00000000-0000-0000-0000-000000000000"),
    ] {
        let mut unknown = request(&app, "openid");
        unknown.client_id = client_id.map(str::to_owned);
        assert!(matches!(
            auth.authorize(
                &unknown,
                Some(&session),
                ConsentDecision::NotAsked,
                &client()
            )
            .await,
            Err(AuthError::OAuth(OAuthError::UntrustedRedirect(_)))
        ));
    }
}

async fn pkce_is_required_and_checked(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let app = add_client(&auth, true, true).await;
    let session = signed_in(&auth, "dave").await;
    for (method, challenge_value) in [
        (None, Some(challenge(VERIFIER))),
        (Some("plain"), Some(VERIFIER.to_owned())),
        (Some("S256"), None),
        (Some("S256"), Some("short".to_owned())),
    ] {
        let mut downgraded = request(&app, "openid");
        downgraded.code_challenge_method = method.map(str::to_owned);
        downgraded.code_challenge = challenge_value;
        let outcome = auth
            .authorize(
                &downgraded,
                Some(&session),
                ConsentDecision::NotAsked,
                &client(),
            )
            .await
            .unwrap();
        let AuthorizeOutcome::Redirect(location) = outcome else {
            panic!()
        };
        assert_eq!(
            param(&location, "error").as_deref(),
            Some("invalid_request"),
            "{method:?}"
        );
        assert_eq!(param(&location, "code"), None);
    }
    let mut no_openid = request(&app, "profile");
    no_openid.scope = Some("profile".into());
    let AuthorizeOutcome::Redirect(location) = auth
        .authorize(
            &no_openid,
            Some(&session),
            ConsentDecision::NotAsked,
            &client(),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(param(&location, "error").as_deref(), Some("invalid_scope"));
    // A wrong verifier, the challenge itself, or none: invalid_grant, and the code is spent.
    let code = code_for(&auth, &app, &session, "openid").await;
    for verifier in [
        "another-verifier-of-forty-three-characters-abcdef",
        &challenge(VERIFIER),
        "",
    ] {
        let wrong = auth
            .exchange_code(&credentials(&app), &code, REDIRECT, verifier, &client())
            .await;
        assert!(invalid_grant(wrong), "{verifier}");
    }
    assert!(invalid_grant(exchange(&auth, &app, &code).await));
    // A different redirect_uri at the token endpoint: invalid_grant.
    let code = code_for(&auth, &app, &session, "openid").await;
    let elsewhere = auth
        .exchange_code(
            &credentials(&app),
            &code,
            "https://app.example/other",
            VERIFIER,
            &client(),
        )
        .await;
    assert!(invalid_grant(elsewhere));
}

async fn a_replayed_code_revokes_what_it_gave(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let app = add_client(&auth, false, true).await;
    let session = signed_in(&auth, "erin").await;
    let code = code_for(&auth, &app, &session, "openid offline_access").await;
    let tokens = exchange(&auth, &app, &code).await.unwrap();
    assert!(token_works(&auth, &tokens.access_token).await);
    assert!(invalid_grant(exchange(&auth, &app, &code).await));
    assert!(!token_works(&auth, &tokens.access_token).await);
    let refresh = tokens.refresh_token.unwrap();
    assert!(invalid_grant(
        auth.refresh_tokens(&credentials(&app), &refresh, None, &client())
            .await
    ));
}

async fn a_code_is_good_for_sixty_seconds_and_for_its_client_only(db: TestDb) {
    let (auth, clock) = open(&db).await;
    let app = add_client(&auth, false, true).await;
    let other = add_client(&auth, false, true).await;
    let session = signed_in(&auth, "frank").await;
    let code = code_for(&auth, &app, &session, "openid").await;
    // Another client presenting it gets nothing, and the code stays good.
    let stolen = auth
        .exchange_code(&credentials(&other), &code, REDIRECT, VERIFIER, &client())
        .await;
    assert!(invalid_grant(stolen));
    clock.advance(59);
    let tokens = exchange(&auth, &app, &code).await.unwrap();
    // Another client's refresh and access tokens are not this one's.
    let code = code_for(&auth, &app, &session, "openid").await;
    clock.advance(61);
    assert!(invalid_grant(exchange(&auth, &app, &code).await));
    // The access token dies with its lifetime.
    clock.advance(600);
    assert!(!token_works(&auth, &tokens.access_token).await);
}

async fn a_code_exchanged_twice_at_once_has_one_winner(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let app = add_client(&auth, false, true).await;
    let session = signed_in(&auth, "gina").await;
    for _ in 0..3 {
        let code = code_for(&auth, &app, &session, "openid").await;
        let racers: Vec<_> = (0..4)
            .map(|_| {
                let (auth, app, code) = (auth.clone(), app.clone(), code.clone());
                tokio::spawn(async move { exchange(&auth, &app, &code).await })
            })
            .collect();
        let mut winners = Vec::new();
        for racer in racers {
            match racer.await.unwrap() {
                Ok(tokens) => winners.push(tokens),
                Err(AuthError::OAuth(OAuthError::InvalidGrant(_))) => {}
                Err(other) => panic!("unexpected: {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1);
        // The others presented a used code: the winner's tokens are revoked.
        assert!(!token_works(&auth, &winners[0].access_token).await);
    }
}

async fn a_refresh_token_used_twice_at_once_has_one_winner_then_the_grant_dies(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let app = add_client(&auth, false, true).await;
    let session = signed_in(&auth, "hank").await;
    let code = code_for(&auth, &app, &session, "openid offline_access").await;
    let refresh = exchange(&auth, &app, &code)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    let racers: Vec<_> = (0..4)
        .map(|_| {
            let (auth, app, refresh) = (auth.clone(), app.clone(), refresh.clone());
            tokio::spawn(async move {
                auth.refresh_tokens(&credentials(&app), &refresh, None, &client())
                    .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for racer in racers {
        match racer.await.unwrap() {
            Ok(tokens) => winners.push(tokens),
            Err(AuthError::OAuth(OAuthError::InvalidGrant(_))) => {}
            Err(other) => panic!("unexpected: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1);
    assert!(!token_works(&auth, &winners[0].access_token).await);
    assert!(invalid_grant(
        auth.refresh_tokens(
            &credentials(&app),
            winners[0].refresh_token.as_deref().unwrap(),
            None,
            &client()
        )
        .await
    ));
}

async fn revocation_follows_the_account(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let app = add_client(&auth, false, true).await;
    let session = signed_in(&auth, "ivy").await;
    let issue = |session: String| {
        let (auth, app) = (auth.clone(), app.clone());
        async move {
            let code = code_for(&auth, &app, &session, "openid offline_access").await;
            exchange(&auth, &app, &code).await.unwrap()
        }
    };
    let dead = |tokens: TokenResponse| {
        let (auth, app) = (auth.clone(), app.clone());
        async move {
            assert!(!token_works(&auth, &tokens.access_token).await);
            assert!(invalid_grant(
                auth.refresh_tokens(
                    &credentials(&app),
                    tokens.refresh_token.as_deref().unwrap(),
                    None,
                    &client()
                )
                .await
            ));
        }
    };
    // A password change.
    let tokens = issue(session.clone()).await;
    let changed = auth
        .change_password(&session, &pw(GOOD), &pw(OTHER), &client())
        .await
        .unwrap();
    dead(tokens).await;
    let session = changed.token.expose().to_owned();
    // "End all other sessions".
    let tokens = issue(session.clone()).await;
    auth.end_oidc_grants(&session).await.unwrap();
    dead(tokens).await;
    // An operator's mfa-reset.
    let tokens = issue(session.clone()).await;
    auth.mfa_reset(&Identifier::Username("ivy".into()), &client())
        .await
        .unwrap();
    dead(tokens).await;
    // A password reset with a reset token.
    let session = login(&auth, "ivy", OTHER)
        .await
        .unwrap()
        .token
        .expose()
        .to_owned();
    let tokens = issue(session).await;
    let ivy = Identifier::Username("ivy".into());
    let (_, reset) = auth
        .get_reset_password_token(&ivy, &client())
        .await
        .unwrap();
    let third = "a third pass phrase for ivy";
    auth.update_password(&ivy, reset.expose(), &pw(third), &client())
        .await
        .unwrap();
    dead(tokens).await;
    // An operator's password set.
    let session = login(&auth, "ivy", third)
        .await
        .unwrap()
        .token
        .expose()
        .to_owned();
    let tokens = issue(session.clone()).await;
    auth.set_password(&Identifier::Username("ivy".into()), &pw(GOOD), &client())
        .await
        .unwrap();
    dead(tokens).await;
    // The account's deletion.
    let session = login(&auth, "ivy", GOOD)
        .await
        .unwrap()
        .token
        .expose()
        .to_owned();
    let tokens = issue(session).await;
    auth.delete_user(&Identifier::Username("ivy".into()), &client())
        .await
        .unwrap();
    dead(tokens).await;
    // A client's deletion.
    let session = signed_in(&auth, "jack").await;
    let tokens = issue(session).await;
    auth.delete_client(&app.client.id, &client()).await.unwrap();
    assert!(!token_works(&auth, &tokens.access_token).await);
}

async fn clients_authenticate_and_see_only_their_tokens(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let app = add_client(&auth, false, true).await;
    let other = add_client(&auth, false, true).await;
    let public = add_client(&auth, true, true).await;
    assert!(public.secret.is_none());
    let session = signed_in(&auth, "kate").await;
    let code = code_for(&auth, &app, &session, "openid offline_access").await;
    // A wrong secret, no secret, a secret for a public client: invalid_client.
    for presented in [
        ClientAuth {
            client_id: app.client.id.clone(),
            secret: Some("wrong".into()),
        },
        ClientAuth {
            client_id: app.client.id.clone(),
            secret: None,
        },
        ClientAuth {
            client_id: public.client.id.clone(),
            secret: Some("x".into()),
        },
        ClientAuth {
            client_id: "nobody".into(),
            secret: None,
        },
    ] {
        let refused = auth
            .exchange_code(&presented, &code, REDIRECT, VERIFIER, &client())
            .await;
        assert!(matches!(
            refused,
            Err(AuthError::OAuth(OAuthError::InvalidClient))
        ));
    }
    let tokens = exchange(&auth, &app, &code).await.unwrap();
    let mine = auth
        .introspect(&credentials(&app), &tokens.access_token)
        .await
        .unwrap();
    assert_eq!(mine["active"], true);
    assert_eq!(mine["client_id"], app.client.id.as_str());
    let theirs = auth
        .introspect(&credentials(&other), &tokens.access_token)
        .await
        .unwrap();
    assert_eq!(theirs, serde_json::json!({"active": false}));
    assert!(auth
        .introspect(&credentials(&public), &tokens.access_token)
        .await
        .is_err());
    // Another client's refresh token is refused and not revoked.
    let refresh = tokens.refresh_token.clone().unwrap();
    assert!(invalid_grant(
        auth.refresh_tokens(&credentials(&other), &refresh, None, &client())
            .await
    ));
    auth.revoke_token(&credentials(&other), &refresh, &client())
        .await
        .unwrap();
    assert!(token_works(&auth, &tokens.access_token).await);
    // Its own revocation ends the grant.
    auth.revoke_token(&credentials(&app), &refresh, &client())
        .await
        .unwrap();
    assert!(!token_works(&auth, &tokens.access_token).await);
    assert!(invalid_grant(
        auth.refresh_tokens(&credentials(&app), &refresh, None, &client())
            .await
    ));
    // The secret rotates: the old one stops working.
    let rotated = auth.rotate_client_secret(&app.client.id).await.unwrap();
    assert!(auth.introspect(&credentials(&app), "x").await.is_err());
    assert!(auth.introspect(&credentials(&rotated), "x").await.is_ok());
}

async fn a_rotated_key_is_published_first_and_signs_after_the_delay(db: TestDb) {
    let (auth, clock) = open(&db).await;
    let app = add_client(&auth, false, true).await;
    let session = signed_in(&auth, "liam").await;
    let kid_of = |token: &str| {
        let header = token.split('.').next().unwrap();
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        header["kid"].as_str().unwrap().to_owned()
    };
    let code = code_for(&auth, &app, &session, "openid").await;
    let first = kid_of(&exchange(&auth, &app, &code).await.unwrap().id_token);
    let second = auth.rotate_signing_key(SigningAlg::Es256).await.unwrap();
    let mut published: Vec<String> = auth
        .published_keys()
        .await
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    published.sort();
    let mut both = vec![first.clone(), second.clone()];
    both.sort();
    assert_eq!(published, both);
    let code = code_for(&auth, &app, &session, "openid").await;
    assert_eq!(
        kid_of(&exchange(&auth, &app, &code).await.unwrap().id_token),
        first
    );
    clock.advance(3600);
    let session = login(&auth, "liam", GOOD)
        .await
        .unwrap()
        .token
        .expose()
        .to_owned();
    let code = code_for(&auth, &app, &session, "openid").await;
    let token = exchange(&auth, &app, &code).await.unwrap().id_token;
    assert_eq!(kid_of(&token), second);
    let header = token.split('.').next().unwrap();
    assert!(String::from_utf8(URL_SAFE_NO_PAD.decode(header).unwrap())
        .unwrap()
        .contains("ES256"));
    // The old key stays published while tokens it signed may live.
    assert_eq!(auth.published_keys().await.unwrap().len(), 2);
    clock.advance(3600);
    let published = auth.published_keys().await.unwrap();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0]["kid"], second.as_str());
}

async fn logout_redirects_only_to_the_hinted_clients_registered_uri(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let app = add_client(&auth, false, true).await;
    let other = auth
        .add_client(
            NewClient {
                name: "Other".into(),
                redirect_uris: vec![REDIRECT.into()],
                post_logout_redirect_uris: vec!["https://other.example/bye".into()],
                ..NewClient::default()
            },
            &client(),
        )
        .await
        .unwrap();
    let session = signed_in(&auth, "mia").await;
    let code = code_for(&auth, &app, &session, "openid").await;
    let hint = exchange(&auth, &app, &code).await.unwrap().id_token;
    // The other client's URI with this client's hint: no redirect.
    let outcome = auth
        .oidc_logout(
            Some(&hint),
            Some("https://other.example/bye"),
            Some("s"),
            None,
            &client(),
        )
        .await
        .unwrap();
    assert_eq!(outcome, auth_core::LogoutOutcome::SignedOut);
    // A hint whose claims were changed to name the other client: no redirect.
    let parts: Vec<&str> = hint.split('.').collect();
    let mut claims = claims_of(&hint);
    claims["aud"] = serde_json::json!(other.client.id);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    let outcome = auth
        .oidc_logout(
            Some(&forged),
            Some("https://other.example/bye"),
            None,
            None,
            &client(),
        )
        .await
        .unwrap();
    assert_eq!(outcome, auth_core::LogoutOutcome::SignedOut);
    let outcome = auth
        .oidc_logout(
            Some(&forged),
            Some("https://app.example/bye"),
            None,
            None,
            &client(),
        )
        .await
        .unwrap();
    assert_eq!(outcome, auth_core::LogoutOutcome::SignedOut);
    // Its own registered URI: redirect with state, and the session ends.
    let outcome = auth
        .oidc_logout(
            Some(&hint),
            Some("https://app.example/bye"),
            Some("s 1"),
            Some(&session),
            &client(),
        )
        .await
        .unwrap();
    assert_eq!(
        outcome,
        auth_core::LogoutOutcome::Redirect("https://app.example/bye?state=s+1".into())
    );
    assert_eq!(signed_in_as(&auth, &session).await, None);
}

async fn amr_says_how_the_session_was_signed_in(db: TestDb) {
    use auth_core::{totp_code, Clock, TOTP_STEP_SECS};
    let (auth, clock) = open(&db).await;
    let app = add_client(&auth, false, true).await;
    let session = signed_in(&auth, "nora").await;
    let amr_of = |session: String| {
        let (auth, app) = (auth.clone(), app.clone());
        async move {
            let code = code_for(&auth, &app, &session, "openid").await;
            claims_of(&exchange(&auth, &app, &code).await.unwrap().id_token)["amr"].clone()
        }
    };
    assert_eq!(amr_of(session.clone()).await, serde_json::json!(["pwd"]));
    // An authenticator app: the password, then a code.
    let enrolment = auth.begin_totp(&session).await.unwrap();
    let secret = data_encoding::BASE32_NOPAD
        .decode(enrolment.secret.as_bytes())
        .unwrap();
    auth.confirm_totp(&session, &totp_code(&secret, clock.now()), &client())
        .await
        .unwrap();
    clock.advance(TOTP_STEP_SECS);
    let mfa_token = match login(&auth, "nora", GOOD).await {
        Err(AuthError::MfaRequired { mfa_token, .. }) => mfa_token,
        other => panic!("expected a second step, got {other:?}"),
    };
    let second = auth
        .complete_mfa(
            mfa_token.expose(),
            &totp_code(&secret, clock.now()),
            None,
            &client(),
        )
        .await
        .unwrap();
    assert_eq!(
        amr_of(second.token.expose().to_owned()).await,
        serde_json::json!(["pwd", "otp", "mfa"])
    );
}
