//! What ends tokens: the account's credentials, the user, the operator,
//! and logout.

use super::*;

on_both_backends! {
    revocation_follows_the_account => revocation_follows_the_account_sqlite, revocation_follows_the_account_postgres;
    logout_redirects_only_to_the_hinted_clients_registered_uri => logout_redirects_only_to_the_hinted_clients_registered_uri_sqlite, logout_redirects_only_to_the_hinted_clients_registered_uri_postgres;
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
