//! Ceremonies: finished on another server, single use and expiry, across
//! accounts and deleted ones, and finished by racing requests.

use crate::common::authenticator::TestAuthenticator;
use crate::common::*;
use auth_core::{AuthError, Identifier, CEREMONY_TTL_SECS};

use super::*;

on_both_backends! {
    a_ceremony_finishes_on_another_server => a_ceremony_finishes_on_another_server_sqlite, a_ceremony_finishes_on_another_server_postgres;
    ceremonies_are_single_use_and_expire => ceremonies_are_single_use_and_expire_sqlite, ceremonies_are_single_use_and_expire_postgres;
    ceremonies_across_accounts_and_deleted_ones => ceremonies_across_accounts_and_deleted_ones_sqlite, ceremonies_across_accounts_and_deleted_ones_postgres;
    one_ceremony_finished_by_racing_requests => one_ceremony_finished_by_racing_requests_sqlite, one_ceremony_finished_by_racing_requests_postgres;
}

async fn a_ceremony_finishes_on_another_server(db: TestDb) {
    let (one, _) = open(&db).await;
    let (two, _) = open(&db).await;
    let user = register(&one, "kvothe", GOOD).await;
    let session = login(&one, "kvothe", GOOD).await.unwrap();

    // Added: started on one, finished on two.
    let challenge = begin_registration(&one, &session).await;
    let (mut key, answer) = TestAuthenticator::register(&challenge.options, ORIGIN, true);
    finish_registration(&two, &session, &challenge, &answer)
        .await
        .unwrap();
    assert_eq!(
        one.list_passkeys(session.token.expose()).await.unwrap()[0].name,
        "Passkey"
    );

    // Signed in: started on two, finished on one.
    let challenge = two.begin_passkey_login(ORIGIN).await.unwrap();
    key.counter = 1;
    let answer = key.assert(&challenge.options, ORIGIN);
    let signed_in = finish_sign_in(&one, &challenge, &answer).await.unwrap();
    assert_eq!(signed_in.user.id, user.id);

    // Another session of the same account cannot finish what this one began.
    let challenge = begin_registration(&one, &session).await;
    let (_, answer) = TestAuthenticator::register(&challenge.options, ORIGIN, true);
    assert!(matches!(
        finish_registration(&two, &signed_in, &challenge, &answer).await,
        Err(AuthError::InvalidField {
            field: "ceremony",
            ..
        })
    ));
}

async fn ceremonies_are_single_use_and_expire(db: TestDb) {
    let (auth, clock) = open(&db).await;
    let mut key = with_passkey(&auth, "kvothe").await;

    // Used once, even by the same right answer.
    let challenge = auth.begin_passkey_login(ORIGIN).await.unwrap();
    key.counter = 1;
    let answer = key.assert(&challenge.options, ORIGIN);
    finish_sign_in(&auth, &challenge, &answer).await.unwrap();
    let replay = finish_sign_in(&auth, &challenge, &answer).await;
    assert!(void_ceremony(&replay), "{replay:?}");

    // Racing finishes of one ceremony (each with a counter that would do on
    // its own): exactly one session.
    for round in 0..3u32 {
        let challenge = auth.begin_passkey_login(ORIGIN).await.unwrap();
        let racers: Vec<_> = (0..6u32)
            .map(|i| {
                key.counter = 10 + round * 10 + i;
                race_sign_in(&auth, &challenge, key.assert(&challenge.options, ORIGIN))
            })
            .collect();
        let won = winners(racers, void).await;
        assert_eq!(won, 1, "round {round}: one ceremony, one session");
    }

    // Five minutes, then void.
    key.counter = 100;
    let challenge = auth.begin_passkey_login(ORIGIN).await.unwrap();
    clock.advance(CEREMONY_TTL_SECS);
    let answer = key.assert(&challenge.options, ORIGIN);
    let late = finish_sign_in(&auth, &challenge, &answer).await;
    assert!(void_ceremony(&late), "{late:?}");
    assert!(auth.purge_expired().await.unwrap() >= 1);

    // A ceremony of one kind does not finish another kind.
    let session = login(&auth, "kvothe", GOOD).await;
    assert!(matches!(session, Err(AuthError::MfaRequired { .. })));
    let challenge = auth.begin_passkey_login(ORIGIN).await.unwrap();
    let signed_in = sign_in(&auth, &{
        key.counter = 101;
        key
    })
    .await
    .unwrap();
    let (_, answer) = TestAuthenticator::register(
        &begin_registration(&auth, &signed_in).await.options,
        ORIGIN,
        true,
    );
    assert!(matches!(
        finish_registration(&auth, &signed_in, &challenge, &answer).await,
        Err(AuthError::InvalidField {
            field: "ceremony",
            ..
        })
    ));
}

/// Ceremonies of one account finished with another's key, session or
/// ceremony kind, and passkeys removed or accounts deleted while a ceremony
/// is in flight: none signs anyone in or adds anything.
async fn ceremonies_across_accounts_and_deleted_ones(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let mut kvothe = with_passkey(&auth, "kvothe").await;
    let mut denna = with_passkey(&auth, "denna").await;

    // Denna's key answers kvothe's second step (her own credential, this
    // site, user verified): refused, and counted as a wrong answer.
    let token = first_step(&auth, "kvothe").await;
    let challenge = begin_second_step(&auth, &token).await;
    denna.counter = 1;
    let answer = denna.assert(&challenge.options, ORIGIN);
    assert!(matches!(
        finish_second_step(&auth, &token, &challenge, &answer).await,
        Err(AuthError::InvalidCode)
    ));
    assert_eq!(auth.count_events("passkey_failed").await.unwrap(), 1);
    // A sign-in ceremony is no second-step ceremony: void, not counted.
    let sign_in_challenge = auth.begin_passkey_login(ORIGIN).await.unwrap();
    kvothe.counter = 1;
    let answer = kvothe.assert(&sign_in_challenge.options, ORIGIN);
    assert!(matches!(
        finish_second_step(&auth, &token, &sign_in_challenge, &answer).await,
        Err(AuthError::InvalidCode)
    ));
    // Nor is a second-step ceremony a sign-in one.
    let challenge = begin_second_step(&auth, &token).await;
    let answer = kvothe.assert(&challenge.options, ORIGIN);
    assert!(void_ceremony(
        &finish_sign_in(&auth, &challenge, &answer).await
    ));
    assert_eq!(auth.count_events("passkey_failed").await.unwrap(), 1);
    let kvothe_session = second_step(&auth, &token, &kvothe).await.unwrap();

    // Kvothe's registration ceremony finished by Denna's session: void.
    denna.counter = 2;
    let denna_session = sign_in(&auth, &denna).await.unwrap();
    let challenge = begin_registration(&auth, &kvothe_session).await;
    assert!(matches!(
        finish_with_new_key(&auth, &denna_session, &challenge).await,
        Err(AuthError::InvalidField {
            field: "ceremony",
            ..
        })
    ));

    // Denna's passkey removed while her second step is in flight.
    let denna_token = first_step(&auth, "denna").await;
    let challenge = begin_second_step(&auth, &denna_token).await;
    let id = auth
        .list_passkeys(denna_session.token.expose())
        .await
        .unwrap()
        .remove(0)
        .id;
    auth.remove_passkey(denna_session.token.expose(), &id, &pw(GOOD), &client())
        .await
        .unwrap();
    denna.counter = 3;
    let answer = denna.assert(&challenge.options, ORIGIN);
    assert!(matches!(
        finish_second_step(&auth, &denna_token, &challenge, &answer).await,
        Err(AuthError::InvalidCode)
    ));

    // Kvothe's account deleted with a sign-in and a registration in flight.
    let sign_in_challenge = auth.begin_passkey_login(ORIGIN).await.unwrap();
    let registration = begin_registration(&auth, &kvothe_session).await;
    auth.delete_user(&Identifier::Username("kvothe".into()), &client())
        .await
        .unwrap();
    kvothe.counter = 10;
    let answer = kvothe.assert(&sign_in_challenge.options, ORIGIN);
    assert!(matches!(
        finish_sign_in(&auth, &sign_in_challenge, &answer).await,
        Err(AuthError::InvalidCredentials)
    ));
    assert!(matches!(
        finish_with_new_key(&auth, &kvothe_session, &registration).await,
        Err(AuthError::NotAuthenticated | AuthError::InvalidField { .. })
    ));
}

/// One ceremony and one right answer sent by several requests at once (a
/// replayed request racing the real one): one sign-in, one passkey added.
async fn one_ceremony_finished_by_racing_requests(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let mut key = with_passkey(&auth, "kvothe").await;
    let challenge = auth.begin_passkey_login(ORIGIN).await.unwrap();
    key.counter = 1;
    let answer = key.assert(&challenge.options, ORIGIN);
    let racers: Vec<_> = (0..6)
        .map(|_| race_sign_in(&auth, &challenge, answer.clone()))
        .collect();
    let mut won = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Ok(_) => won += 1,
            other => assert!(void_ceremony(&other), "{other:?}"),
        }
    }
    assert_eq!(won, 1);

    register(&auth, "denna", GOOD).await;
    let session = login(&auth, "denna", GOOD).await.unwrap();
    let challenge = begin_registration(&auth, &session).await;
    let (_, answer) = TestAuthenticator::register(&challenge.options, ORIGIN, true);
    let racers: Vec<_> = (0..6)
        .map(|_| {
            let (auth, answer) = (auth.clone(), answer.clone());
            let (token, ceremony) = (
                session.token.expose().to_owned(),
                challenge.ceremony.expose().to_owned(),
            );
            tokio::spawn(async move {
                auth.finish_passkey_registration(&token, &ceremony, &answer, None, &client())
                    .await
            })
        })
        .collect();
    let added = winners(racers, void).await;
    assert_eq!(added, 1);
    assert_eq!(
        auth.list_passkeys(session.token.expose())
            .await
            .unwrap()
            .len(),
        1
    );
}
