//! Adding a passkey and signing in with it alone; a passkey as the second
//! step after a password.

use crate::common::authenticator::TestAuthenticator;
use crate::common::*;
use auth_core::{AuthError, Identifier};

use super::*;

on_both_backends! {
    add_a_passkey_and_sign_in_with_it_alone => add_a_passkey_and_sign_in_with_it_alone_sqlite, add_a_passkey_and_sign_in_with_it_alone_postgres;
    a_passkey_as_the_second_step => a_passkey_as_the_second_step_sqlite, a_passkey_as_the_second_step_postgres;
}

async fn add_a_passkey_and_sign_in_with_it_alone(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let user = register(&auth, "kvothe", GOOD).await;
    let session = login(&auth, "kvothe", GOOD).await.unwrap();
    assert!(auth
        .list_passkeys(session.token.expose())
        .await
        .unwrap()
        .is_empty());
    let mut key = add_passkey(&auth, &session, "Laptop").await;
    let listed = auth.list_passkeys(session.token.expose()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].name.as_str(), listed[0].last_used_at),
        ("Laptop", None)
    );
    let status = auth.second_factors(&user.id).await.unwrap();
    assert_eq!((status.passkeys, status.any()), (1, true));
    assert_eq!(auth.count_events("passkey_added").await.unwrap(), 1);

    // The options: this site's RP id, user verification preferred when
    // adding, a discoverable credential asked for, the account's own
    // passkeys excluded from a second registration.
    let again = begin_registration(&auth, &session).await;
    let public_key = &again.options["publicKey"];
    assert_eq!(public_key["rp"]["id"], "localhost");
    assert_eq!(
        public_key["authenticatorSelection"]["userVerification"],
        "preferred"
    );
    assert_eq!(
        public_key["authenticatorSelection"]["residentKey"],
        "preferred"
    );
    assert_eq!(
        public_key["excludeCredentials"].as_array().unwrap().len(),
        1
    );
    assert!(public_key.get("hints").is_none());
    assert!(public_key["extensions"]
        .get("credentialProtectionPolicy")
        .is_none());

    // Sign in with the passkey alone: a completed login.
    key.counter = 1;
    let signed_in = sign_in(&auth, &key).await.unwrap();
    assert_eq!(signed_in.user.id, user.id);
    assert_eq!(
        signed_in_as(&auth, signed_in.token.expose()).await,
        Some(user.id.clone())
    );
    assert_eq!(auth.count_events("passkey_used").await.unwrap(), 1);
    let listed = auth.list_passkeys(session.token.expose()).await.unwrap();
    assert!(listed[0].last_used_at.is_some());

    // Signing in alone requires user verification.
    key.counter = 2;
    key.user_verified = false;
    assert!(matches!(
        sign_in(&auth, &key).await,
        Err(AuthError::InvalidCredentials)
    ));
    key.user_verified = true;

    // The options of a sign-in: no account named, verification required.
    let challenge = auth.begin_passkey_login(ORIGIN).await.unwrap();
    let public_key = &challenge.options["publicKey"];
    assert_eq!(public_key["userVerification"], "required");
    assert_eq!(
        public_key["allowCredentials"].as_array().map(Vec::len),
        Some(0)
    );
    assert!(challenge.options.get("mediation").is_none());

    // An assertion made for another site, or garbage, signs no one in.
    let other_site = key.assert_for(&challenge.options, "http://evil.test", "evil.test");
    assert!(matches!(
        finish_sign_in(&auth, &challenge, &other_site).await,
        Err(AuthError::InvalidCredentials)
    ));
    let challenge = auth.begin_passkey_login(ORIGIN).await.unwrap();
    assert!(matches!(
        auth.finish_passkey_login(challenge.ceremony.expose(), "{\"id\": 5}", None, &client())
            .await,
        Err(AuthError::InvalidField {
            field: "credential",
            ..
        })
    ));

    // A completed passkey login clears the account's failure count: four
    // failures, the passkey, four more, and still no delay.
    for _ in 0..4 {
        assert!(matches!(
            login(&auth, "kvothe", OTHER).await,
            Err(AuthError::InvalidCredentials)
        ));
    }
    key.counter = 3;
    sign_in(&auth, &key).await.unwrap();
    for _ in 0..4 {
        assert!(matches!(
            login(&auth, "kvothe", OTHER).await,
            Err(AuthError::InvalidCredentials)
        ));
    }
    assert!(matches!(
        login(&auth, "kvothe", GOOD).await,
        Err(AuthError::MfaRequired { .. })
    ));

    // An IP address is no relying party.
    assert!(matches!(
        auth.begin_passkey_login("http://127.0.0.1:5000").await,
        Err(AuthError::InvalidField {
            field: "origin",
            ..
        })
    ));

    // The dump holds the passkey (a public key) and no ceremony secret.
    let mut out = Vec::new();
    let counts = auth.dump(&mut out).await.unwrap();
    let count = |table: &str| counts.iter().find(|c| c.table == table).unwrap().rows;
    assert_eq!(count("passkeys"), 1);
    let dump = String::from_utf8(out).unwrap();
    assert!(!dump.contains(challenge.ceremony.expose()));
}

async fn a_passkey_as_the_second_step(db: TestDb) {
    let (auth, clock) = open(&db).await;
    let mut key = with_passkey(&auth, "kvothe").await;

    // Password, then the passkey: one success per token.
    let token = first_step(&auth, "kvothe").await;
    key.counter = 1;
    let session = second_step(&auth, &token, &key).await.unwrap();
    assert!(signed_in_as(&auth, session.token.expose()).await.is_some());
    key.counter = 2;
    assert!(matches!(
        second_step(&auth, &token, &key).await,
        Err(AuthError::InvalidCode)
    ));
    assert_eq!(auth.count_events("passkey_used").await.unwrap(), 1);

    // A passkey added without user verification (a security key without a
    // PIN) does as a second step, where the password is the other factor,
    // but cannot sign in alone. One added with verification keeps needing it.
    register(&auth, "denna", GOOD).await;
    let session = login(&auth, "denna", GOOD).await.unwrap();
    let challenge = begin_registration(&auth, &session).await;
    let (mut plain, answer) = TestAuthenticator::register(&challenge.options, ORIGIN, false);
    auth.finish_passkey_registration(
        session.token.expose(),
        challenge.ceremony.expose(),
        &answer,
        Some("Security key"),
        &client(),
    )
    .await
    .unwrap();
    let token = first_step(&auth, "denna").await;
    let options = begin_second_step(&auth, &token).await;
    assert_eq!(
        options.options["publicKey"]["userVerification"],
        "preferred"
    );
    assert_eq!(
        options.options["publicKey"]["allowCredentials"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    plain.counter = 1;
    let answer = plain.assert(&options.options, ORIGIN);
    finish_second_step(&auth, &token, &options, &answer)
        .await
        .unwrap();
    plain.counter = 2;
    assert!(matches!(
        sign_in(&auth, &plain).await,
        Err(AuthError::InvalidCredentials)
    ));
    let token = first_step(&auth, "kvothe").await;
    key.user_verified = false;
    key.counter = 3;
    assert!(matches!(
        second_step(&auth, &token, &key).await,
        Err(AuthError::InvalidCode)
    ));
    key.user_verified = true;

    // A ceremony belongs to its token: another token cannot finish it.
    let first = first_step(&auth, "kvothe").await;
    let second = first_step(&auth, "kvothe").await;
    let challenge = begin_second_step(&auth, &first).await;
    key.counter = 4;
    let answer = key.assert(&challenge.options, ORIGIN);
    assert!(matches!(
        finish_second_step(&auth, &second, &challenge, &answer).await,
        Err(AuthError::InvalidCode)
    ));

    // The token expires after five minutes.
    let token = first_step(&auth, "kvothe").await;
    let challenge = begin_second_step(&auth, &token).await;
    clock.advance(auth_core::MFA_TOKEN_TTL_SECS);
    let answer = key.assert(&challenge.options, ORIGIN);
    assert!(matches!(
        finish_second_step(&auth, &token, &challenge, &answer).await,
        Err(AuthError::InvalidCode)
    ));

    // A password changed after the first step voids it.
    let token = first_step(&auth, "kvothe").await;
    let challenge = begin_second_step(&auth, &token).await;
    auth.set_password(&Identifier::Username("kvothe".into()), &pw(GOOD), &client())
        .await
        .unwrap();
    key.counter = 5;
    let answer = key.assert(&challenge.options, ORIGIN);
    assert!(matches!(
        finish_second_step(&auth, &token, &challenge, &answer).await,
        Err(AuthError::InvalidCode)
    ));

    // Wrong assertions count toward the throttle like wrong codes: the
    // fifth starts a delay, and then even a right one waits.
    let token = first_step(&auth, "kvothe").await;
    for attempt in 0..5 {
        let challenge = begin_second_step(&auth, &token).await;
        let wrong = key.assert_for(&challenge.options, ORIGIN, "evil.test");
        let result = auth
            .complete_mfa_passkey(&token, challenge.ceremony.expose(), &wrong, None, &client())
            .await;
        assert!(
            matches!(result, Err(AuthError::InvalidCode)),
            "{attempt}: {result:?}"
        );
    }
    // (and the one without user verification above)
    assert_eq!(auth.count_events("passkey_failed").await.unwrap(), 6);
    key.counter = 6;
    assert!(matches!(
        second_step(&auth, &token, &key).await,
        Err(AuthError::Throttled { .. })
    ));
    clock.advance(2);
    let session = second_step(&auth, &token, &key).await.unwrap();
    assert!(signed_in_as(&auth, session.token.expose()).await.is_some());

    // A counter that goes backwards fails the second step too.
    let token = first_step(&auth, "kvothe").await;
    key.counter = 6;
    assert!(matches!(
        second_step(&auth, &token, &key).await,
        Err(AuthError::InvalidCode)
    ));
}
