//! Redirect URIs, PKCE, replays and races: what an attacker tries.

use super::*;

on_both_backends! {
    unregistered_redirects_and_unknown_clients_are_never_redirected => unregistered_redirects_and_unknown_clients_are_never_redirected_sqlite, unregistered_redirects_and_unknown_clients_are_never_redirected_postgres;
    pkce_is_required_and_checked => pkce_is_required_and_checked_sqlite, pkce_is_required_and_checked_postgres;
    a_replayed_code_revokes_what_it_gave => a_replayed_code_revokes_what_it_gave_sqlite, a_replayed_code_revokes_what_it_gave_postgres;
    a_code_is_good_for_sixty_seconds_and_for_its_client_only => a_code_is_good_for_sixty_seconds_and_for_its_client_only_sqlite, a_code_is_good_for_sixty_seconds_and_for_its_client_only_postgres;
    a_code_exchanged_twice_at_once_has_one_winner => a_code_exchanged_twice_at_once_has_one_winner_sqlite, a_code_exchanged_twice_at_once_has_one_winner_postgres;
    a_refresh_token_used_twice_at_once_has_one_winner_then_the_grant_dies => a_refresh_token_used_twice_at_once_has_one_winner_then_the_grant_dies_sqlite, a_refresh_token_used_twice_at_once_has_one_winner_then_the_grant_dies_postgres;
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
