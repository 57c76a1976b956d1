//! OIDC's `email_verified` (docs/contract/10-email.md): false for a claimed
//! address, true once the account proved it owns it.

use super::*;

on_both_backends! {
    email_verified_tells_the_truth => email_verified_tells_the_truth_sqlite, email_verified_tells_the_truth_postgres;
}

async fn email_verified_tells_the_truth(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let app = add_client(&auth, false, false).await;
    let registration = auth_core::Registration {
        username: Some("alice".into()),
        email: Some("alice@example.com".into()),
        password: pw(GOOD),
        ..auth_core::Registration::default()
    };
    auth.register_user(registration, &client()).await.unwrap();
    let session = login(&auth, "alice", GOOD).await.unwrap();
    let session = session.token.expose().to_owned();
    let claims_now = |auth: Auth, app: RegisteredClient, session: String| async move {
        let code = code_for(&auth, &app, &session, "openid email").await;
        let tokens = exchange(&auth, &app, &code).await.unwrap();
        let info = auth.userinfo(&tokens.access_token).await.unwrap();
        (claims_of(&tokens.id_token), info)
    };
    let (claims, info) = claims_now(auth.clone(), app.clone(), session.clone()).await;
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], false);
    assert_eq!(info["email_verified"], false);
    auth.mark_email_verified(&Identifier::Username("alice".into()), &client())
        .await
        .unwrap();
    let (claims, info) = claims_now(auth.clone(), app.clone(), session).await;
    assert_eq!(claims["email_verified"], true);
    assert_eq!(info["email_verified"], true);
}
