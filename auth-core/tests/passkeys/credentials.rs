//! The stored passkeys: counters that go backwards, one registration in
//! progress per session, a bounded number per account, credential ids
//! longer than WebAuthn allows, and what resets and removal do to them.

use crate::common::authenticator::TestAuthenticator;
use crate::common::*;
use auth_core::{AuthError, Identifier, LoginSuccess, MAX_PASSKEYS_PER_ACCOUNT};

use super::*;

on_both_backends! {
    counters_that_go_backwards_are_refused => counters_that_go_backwards_are_refused_sqlite, counters_that_go_backwards_are_refused_postgres;
    resets_and_removal => resets_and_removal_sqlite, resets_and_removal_postgres;
    one_registration_in_progress_per_session => one_registration_in_progress_per_session_sqlite, one_registration_in_progress_per_session_postgres;
    an_account_holds_a_bounded_number_of_passkeys => an_account_holds_a_bounded_number_of_passkeys_sqlite, an_account_holds_a_bounded_number_of_passkeys_postgres;
    credential_ids_longer_than_webauthn_allows_are_refused => credential_ids_longer_than_webauthn_allows_are_refused_sqlite, credential_ids_longer_than_webauthn_allows_are_refused_postgres;
}

async fn counters_that_go_backwards_are_refused(db: TestDb) {
    let (auth, _) = open(&db).await;
    let mut key = with_passkey(&auth, "kvothe").await;
    key.counter = 5;
    sign_in(&auth, &key).await.unwrap();
    // The same counter again (a cloned authenticator, a replay) and a lower one.
    for counter in [5, 4, 0] {
        key.counter = counter;
        assert!(
            matches!(
                sign_in(&auth, &key).await,
                Err(AuthError::InvalidCredentials)
            ),
            "counter {counter} after 5"
        );
    }
    key.counter = 6;
    sign_in(&auth, &key).await.unwrap();

    // Racing assertions with one counter value: at most one is taken.
    let challenges = [
        auth.begin_passkey_login(ORIGIN).await.unwrap(),
        auth.begin_passkey_login(ORIGIN).await.unwrap(),
        auth.begin_passkey_login(ORIGIN).await.unwrap(),
    ];
    key.counter = 7;
    let racers: Vec<_> = challenges
        .iter()
        .map(|challenge| race_sign_in(&auth, challenge, key.assert(&challenge.options, ORIGIN)))
        .collect();
    let won = winners(racers, |e| matches!(e, AuthError::InvalidCredentials)).await;
    assert_eq!(won, 1, "one counter value, one sign-in");

    // An authenticator that keeps no counter (always 0) signs in each time.
    let mut counterless = with_passkey(&auth, "denna").await;

    // A user handle that is not the credential's account signs no one in,
    // neither the account named nor the credential's.
    key.counter = 8;
    let own_handle = std::mem::replace(&mut key.user_handle, counterless.user_handle.clone());
    assert!(matches!(
        sign_in(&auth, &key).await,
        Err(AuthError::InvalidCredentials)
    ));
    key.user_handle = own_handle;

    counterless.counter = 0;
    sign_in(&auth, &counterless).await.unwrap();
    sign_in(&auth, &counterless).await.unwrap();
    // Once it shows a counter, 0 is going backwards.
    counterless.counter = 1;
    sign_in(&auth, &counterless).await.unwrap();
    counterless.counter = 0;
    assert!(matches!(
        sign_in(&auth, &counterless).await,
        Err(AuthError::InvalidCredentials)
    ));
}

async fn resets_and_removal(db: TestDb) {
    let (auth, _) = open(&db).await;
    let mut key = with_passkey(&auth, "kvothe").await;
    let name = Identifier::Username("kvothe".into());
    let user = auth.find_user(&name).await.unwrap().unwrap();

    // A password reset keeps the passkey.
    let (_, reset) = auth
        .get_reset_password_token(&name, &client())
        .await
        .unwrap();
    auth.update_password(&name, reset.expose(), &pw(OTHER), &client())
        .await
        .unwrap();
    assert_eq!(auth.second_factors(&user.id).await.unwrap().passkeys, 1);
    key.counter = 1;
    let session = sign_in(&auth, &key).await.unwrap();

    // Removing one needs the password; another account's id is not found.
    let passkey = auth
        .list_passkeys(session.token.expose())
        .await
        .unwrap()
        .remove(0);
    assert!(matches!(
        auth.remove_passkey(session.token.expose(), &passkey.id, &pw(GOOD), &client())
            .await,
        Err(AuthError::InvalidCredentials)
    ));
    let mut other = with_passkey(&auth, "denna").await;
    other.counter = 1;
    let theirs = sign_in(&auth, &other).await.unwrap();
    assert!(matches!(
        auth.remove_passkey(theirs.token.expose(), &passkey.id, &pw(GOOD), &client())
            .await,
        Err(AuthError::NotFound)
    ));
    assert!(matches!(
        auth.remove_passkey(session.token.expose(), "not-a-uuid", &pw(OTHER), &client())
            .await,
        Err(AuthError::NotFound)
    ));
    auth.remove_passkey(session.token.expose(), &passkey.id, &pw(OTHER), &client())
        .await
        .unwrap();
    assert_eq!(auth.count_events("passkey_removed").await.unwrap(), 1);
    key.counter = 2;
    assert!(matches!(
        sign_in(&auth, &key).await,
        Err(AuthError::InvalidCredentials)
    ));
    login(&auth, "kvothe", OTHER)
        .await
        .expect("no factor left: one step");

    // The operator's reset removes passkeys and ends every session.
    let denna = auth
        .find_user(&Identifier::Username("denna".into()))
        .await
        .unwrap()
        .unwrap();
    let pending = first_step(&auth, "denna").await;
    let pending_challenge = begin_second_step(&auth, &pending).await;
    auth.mfa_reset(&Identifier::Username("denna".into()), &client())
        .await
        .unwrap();
    assert_eq!(signed_in_as(&auth, theirs.token.expose()).await, None);
    assert_eq!(auth.second_factors(&denna.id).await.unwrap().passkeys, 0);
    other.counter = 2;
    assert!(matches!(
        sign_in(&auth, &other).await,
        Err(AuthError::InvalidCredentials)
    ));
    let answer = other.assert(&pending_challenge.options, ORIGIN);
    assert!(matches!(
        finish_second_step(&auth, &pending, &pending_challenge, &answer).await,
        Err(AuthError::InvalidCode)
    ));
    login(&auth, "denna", GOOD)
        .await
        .expect("factors gone: one step");
}

/// The registration options route has no per-address limit: a session
/// starting ceremonies in a loop must not grow the table without end, so a
/// new one voids the session's earlier one (not another session's).
async fn one_registration_in_progress_per_session(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    register(&auth, "kvothe", GOOD).await;
    let one = login(&auth, "kvothe", GOOD).await.unwrap();
    let two = login(&auth, "kvothe", GOOD).await.unwrap();
    let begin = |session: &LoginSuccess| {
        let token = session.token.expose().to_owned();
        let auth = auth.clone();
        async move {
            auth.begin_passkey_registration(&token, &pw(GOOD), ORIGIN, &client())
                .await
                .unwrap()
        }
    };
    let first = begin(&one).await;
    let of_two = begin(&two).await;
    for _ in 0..50 {
        begin(&one).await;
    }
    let last = begin(&one).await;
    assert!(matches!(
        finish_with_new_key(&auth, &one, &first).await,
        Err(AuthError::InvalidField {
            field: "ceremony",
            ..
        })
    ));
    finish_with_new_key(&auth, &one, &last).await.unwrap();
    finish_with_new_key(&auth, &two, &of_two).await.unwrap();
}

/// Each passkey is a row kept for good and a credential listed in every
/// later ceremony of the account: a signed-in client cannot add them without
/// end, also when two registrations finish together at the limit.
async fn an_account_holds_a_bounded_number_of_passkeys(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    register(&auth, "kvothe", GOOD).await;
    let one = login(&auth, "kvothe", GOOD).await.unwrap();
    let two = login(&auth, "kvothe", GOOD).await.unwrap();
    for _ in 1..MAX_PASSKEYS_PER_ACCOUNT {
        let challenge = begin_registration(&auth, &one).await;
        finish_with_new_key(&auth, &one, &challenge).await.unwrap();
    }
    // One place left, two ceremonies started for it.
    let a = begin_registration(&auth, &one).await;
    let b = begin_registration(&auth, &two).await;
    let (first, second) = tokio::join!(
        finish_with_new_key(&auth, &one, &a),
        finish_with_new_key(&auth, &two, &b)
    );
    let refused = |r: &Result<auth_core::PasskeyInfo, AuthError>| {
        matches!(
            r,
            Err(AuthError::InvalidField {
                field: "credential",
                ..
            })
        )
    };
    assert_eq!(
        [first.is_ok(), second.is_ok()]
            .iter()
            .filter(|ok| **ok)
            .count(),
        1,
        "{first:?} {second:?}"
    );
    assert!(refused(&first) || refused(&second));
    let listed = auth.list_passkeys(one.token.expose()).await.unwrap();
    assert_eq!(listed.len() as i64, MAX_PASSKEYS_PER_ACCOUNT);
    // Full: no ceremony is started either.
    assert!(matches!(
        auth.begin_passkey_registration(one.token.expose(), &pw(GOOD), ORIGIN, &client())
            .await,
        Err(AuthError::InvalidField {
            field: "credential",
            ..
        })
    ));
    assert_eq!(
        auth.count_events("passkey_added").await.unwrap(),
        MAX_PASSKEYS_PER_ACCOUNT
    );
}

/// WebAuthn credential ids are at most 1023 bytes. A client that makes up
/// its own (a script, not a browser) must not store a longer one: on
/// PostgreSQL a unique index entry of more than 2704 bytes is an error, so
/// an id of 3000 bytes (its request still inside the 16 KiB body) was a 500.
async fn credential_ids_longer_than_webauthn_allows_are_refused(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    register(&auth, "kvothe", GOOD).await;
    let session = login(&auth, "kvothe", GOOD).await.unwrap();
    for (len, accepted) in [(1024, false), (3000, false), (1023, true)] {
        let challenge = begin_registration(&auth, &session).await;
        let (mut key, answer) =
            TestAuthenticator::register_with_id_len(&challenge.options, ORIGIN, true, len);
        let added = auth
            .finish_passkey_registration(
                session.token.expose(),
                challenge.ceremony.expose(),
                &answer,
                None,
                &client(),
            )
            .await;
        if accepted {
            added.unwrap();
            key.counter = 1;
            sign_in(&auth, &key).await.unwrap();
        } else {
            assert!(
                matches!(
                    added,
                    Err(AuthError::InvalidField {
                        field: "credential",
                        ..
                    })
                ),
                "{len}: {added:?}"
            );
        }
    }
    assert_eq!(
        auth.list_passkeys(session.token.expose())
            .await
            .unwrap()
            .len(),
        1
    );
}
