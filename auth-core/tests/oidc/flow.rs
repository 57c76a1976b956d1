//! The code flow, consent, the clients and the keys.

use super::*;

on_both_backends! {
    the_code_flow_gives_tokens_claims_and_rotating_refresh => the_code_flow_gives_tokens_claims_and_rotating_refresh_sqlite, the_code_flow_gives_tokens_claims_and_rotating_refresh_postgres;
    consent_is_asked_once_remembered_and_asked_again_on_prompt => consent_is_asked_once_remembered_and_asked_again_on_prompt_sqlite, consent_is_asked_once_remembered_and_asked_again_on_prompt_postgres;
    clients_authenticate_and_see_only_their_tokens => clients_authenticate_and_see_only_their_tokens_sqlite, clients_authenticate_and_see_only_their_tokens_postgres;
    a_rotated_key_is_published_first_and_signs_after_the_delay => a_rotated_key_is_published_first_and_signs_after_the_delay_sqlite, a_rotated_key_is_published_first_and_signs_after_the_delay_postgres;
    amr_says_how_the_session_was_signed_in => amr_says_how_the_session_was_signed_in_sqlite, amr_says_how_the_session_was_signed_in_postgres;
    a_refresh_token_lives_its_own_lifetime_from_its_rotation => a_refresh_token_lives_its_own_lifetime_from_its_rotation_sqlite, a_refresh_token_lives_its_own_lifetime_from_its_rotation_postgres;
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
    let rotated = auth
        .rotate_client_secret(&app.client.id, &auth_core::ClientInfo::default())
        .await
        .unwrap();
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
    // The one record of the login decides both: with "mfa" the session
    // completed a second factor, as forward authentication's sites ask.
    assert_eq!(second.session.second_factor_at, Some(clock.now()));
}

/// A refresh token is good for `oidc_refresh_token_ttl` (30 days by
/// default) after it was issued: each rotation starts a new one, and an
/// expired one is refused (and no longer active at introspection) without
/// revoking the grant's access tokens.
async fn a_refresh_token_lives_its_own_lifetime_from_its_rotation(db: TestDb) {
    let (auth, clock) = open(&db).await;
    let ttl = auth.config().oidc_refresh_token_ttl.as_secs() as i64;
    assert_eq!(ttl, 30 * 24 * 3600);
    let app = add_client(&auth, false, true).await;
    let session = signed_in(&auth, "rowan").await;
    let code = code_for(&auth, &app, &session, "openid offline_access").await;
    let tokens = exchange(&auth, &app, &code).await.unwrap();
    // Just before the end of its life: it rotates.
    clock.advance(ttl - 1);
    let rotated = auth
        .refresh_tokens(
            &credentials(&app),
            tokens.refresh_token.as_deref().unwrap(),
            None,
            &client(),
        )
        .await
        .unwrap();
    let next = rotated.refresh_token.clone().unwrap();
    // The new token has a whole lifetime of its own.
    clock.advance(ttl - 1);
    let introspected = auth.introspect(&credentials(&app), &next).await.unwrap();
    assert_eq!(introspected["active"], true, "{introspected}");
    assert_eq!(introspected["token_type"], "refresh_token");
    clock.advance(1);
    let introspected = auth.introspect(&credentials(&app), &next).await.unwrap();
    assert_eq!(introspected, serde_json::json!({"active": false}));
    assert!(invalid_grant(
        auth.refresh_tokens(&credentials(&app), &next, None, &client())
            .await
    ));
}
