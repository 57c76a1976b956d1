//! Passkeys (docs/contract/7-second-factor.md) on both backends, with a software authenticator:
//! adding one, signing in with it alone, ceremonies finished on another
//! server, single use and expiry of a ceremony, counters that go backwards,
//! a passkey as the second step after a password, and what an operator's
//! reset and a password reset do to passkeys.

use crate::common;

use auth_core::{
    Auth, AuthError, Identifier, LoginSuccess, MfaMethod, PasskeyChallenge, CEREMONY_TTL_SECS,
    MAX_PASSKEYS_PER_ACCOUNT,
};
use common::authenticator::TestAuthenticator;
use common::*;

on_both_backends! {
    add_a_passkey_and_sign_in_with_it_alone => add_a_passkey_and_sign_in_with_it_alone_sqlite, add_a_passkey_and_sign_in_with_it_alone_postgres;
    a_ceremony_finishes_on_another_server => a_ceremony_finishes_on_another_server_sqlite, a_ceremony_finishes_on_another_server_postgres;
    ceremonies_are_single_use_and_expire => ceremonies_are_single_use_and_expire_sqlite, ceremonies_are_single_use_and_expire_postgres;
    counters_that_go_backwards_are_refused => counters_that_go_backwards_are_refused_sqlite, counters_that_go_backwards_are_refused_postgres;
    a_passkey_as_the_second_step => a_passkey_as_the_second_step_sqlite, a_passkey_as_the_second_step_postgres;
    resets_and_removal => resets_and_removal_sqlite, resets_and_removal_postgres;
    one_registration_in_progress_per_session => one_registration_in_progress_per_session_sqlite, one_registration_in_progress_per_session_postgres;
    an_account_holds_a_bounded_number_of_passkeys => an_account_holds_a_bounded_number_of_passkeys_sqlite, an_account_holds_a_bounded_number_of_passkeys_postgres;
    ceremonies_across_accounts_and_deleted_ones => ceremonies_across_accounts_and_deleted_ones_sqlite, ceremonies_across_accounts_and_deleted_ones_postgres;
    credential_ids_longer_than_webauthn_allows_are_refused => credential_ids_longer_than_webauthn_allows_are_refused_sqlite, credential_ids_longer_than_webauthn_allows_are_refused_postgres;
    one_ceremony_finished_by_racing_requests => one_ceremony_finished_by_racing_requests_sqlite, one_ceremony_finished_by_racing_requests_postgres;
}

/// The origin of the pages in these tests.
const ORIGIN: &str = "http://localhost:5000";

/// Adds a passkey to a signed-in user's account; returns its authenticator.
async fn add_passkey(auth: &Auth, session: &LoginSuccess, name: &str) -> TestAuthenticator {
    let challenge = auth
        .begin_passkey_registration(session.token.expose(), &pw(GOOD), ORIGIN, &client())
        .await
        .unwrap();
    let (authenticator, answer) = TestAuthenticator::register(&challenge.options, ORIGIN, true);
    let info = auth
        .finish_passkey_registration(
            session.token.expose(),
            challenge.ceremony.expose(),
            &answer,
            Some(name),
            &client(),
        )
        .await
        .unwrap();
    assert_eq!(info.name, name);
    authenticator
}

/// A user with one passkey; returns it.
async fn with_passkey(auth: &Auth, name: &str) -> TestAuthenticator {
    register(auth, name, GOOD).await;
    let session = login(auth, name, GOOD).await.unwrap();
    add_passkey(auth, &session, "Laptop").await
}

/// One sign-in with the passkey alone at the authenticator's counter.
async fn sign_in(
    auth: &Auth,
    authenticator: &TestAuthenticator,
) -> Result<LoginSuccess, AuthError> {
    let challenge = auth.begin_passkey_login(ORIGIN).await.unwrap();
    let answer = authenticator.assert(&challenge.options, ORIGIN);
    auth.finish_passkey_login(challenge.ceremony.expose(), &answer, None, &client())
        .await
}

/// The first step of a login with the password; returns the mfa_token.
async fn first_step(auth: &Auth, name: &str) -> String {
    match login(auth, name, GOOD).await {
        Err(AuthError::MfaRequired { mfa_token, methods }) => {
            assert_eq!(methods, vec![MfaMethod::Passkey]);
            mfa_token.expose().to_owned()
        }
        other => panic!("expected mfa_required, got {other:?}"),
    }
}

async fn second_step(
    auth: &Auth,
    token: &str,
    authenticator: &TestAuthenticator,
) -> Result<LoginSuccess, AuthError> {
    let challenge: PasskeyChallenge = auth.begin_passkey_second_step(token, ORIGIN).await?;
    let answer = authenticator.assert(&challenge.options, ORIGIN);
    auth.complete_mfa_passkey(token, challenge.ceremony.expose(), &answer, None, &client())
        .await
}

fn void_ceremony(result: &Result<LoginSuccess, AuthError>) -> bool {
    matches!(
        result,
        Err(AuthError::InvalidField {
            field: "ceremony",
            ..
        })
    )
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
    let again = auth
        .begin_passkey_registration(session.token.expose(), &pw(GOOD), ORIGIN, &client())
        .await
        .unwrap();
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
        auth.finish_passkey_login(challenge.ceremony.expose(), &other_site, None, &client())
            .await,
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

async fn a_ceremony_finishes_on_another_server(db: TestDb) {
    let (one, _) = open(&db).await;
    let (two, _) = open(&db).await;
    let user = register(&one, "kvothe", GOOD).await;
    let session = login(&one, "kvothe", GOOD).await.unwrap();

    // Added: started on one, finished on two.
    let challenge = one
        .begin_passkey_registration(session.token.expose(), &pw(GOOD), ORIGIN, &client())
        .await
        .unwrap();
    let (mut key, answer) = TestAuthenticator::register(&challenge.options, ORIGIN, true);
    two.finish_passkey_registration(
        session.token.expose(),
        challenge.ceremony.expose(),
        &answer,
        None,
        &client(),
    )
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
    let signed_in = one
        .finish_passkey_login(challenge.ceremony.expose(), &answer, None, &client())
        .await
        .unwrap();
    assert_eq!(signed_in.user.id, user.id);

    // Another session of the same account cannot finish what this one began.
    let challenge = one
        .begin_passkey_registration(session.token.expose(), &pw(GOOD), ORIGIN, &client())
        .await
        .unwrap();
    let (_, answer) = TestAuthenticator::register(&challenge.options, ORIGIN, true);
    assert!(matches!(
        two.finish_passkey_registration(
            signed_in.token.expose(),
            challenge.ceremony.expose(),
            &answer,
            None,
            &client(),
        )
        .await,
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
    auth.finish_passkey_login(challenge.ceremony.expose(), &answer, None, &client())
        .await
        .unwrap();
    let replay = auth
        .finish_passkey_login(challenge.ceremony.expose(), &answer, None, &client())
        .await;
    assert!(void_ceremony(&replay), "{replay:?}");

    // Racing finishes of one ceremony (each with a counter that would do on
    // its own): exactly one session.
    for round in 0..3u32 {
        let challenge = auth.begin_passkey_login(ORIGIN).await.unwrap();
        let racers: Vec<_> = (0..6u32)
            .map(|i| {
                key.counter = 10 + round * 10 + i;
                let answer = key.assert(&challenge.options, ORIGIN);
                let (auth, ceremony) = (auth.clone(), challenge.ceremony.expose().to_owned());
                tokio::spawn(async move {
                    auth.finish_passkey_login(&ceremony, &answer, None, &client())
                        .await
                })
            })
            .collect();
        let mut won = 0;
        for racer in racers {
            match racer.await.unwrap() {
                Ok(_) => won += 1,
                Err(AuthError::InvalidField {
                    field: "ceremony", ..
                }) => {}
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!(won, 1, "round {round}: one ceremony, one session");
    }

    // Five minutes, then void.
    key.counter = 100;
    let challenge = auth.begin_passkey_login(ORIGIN).await.unwrap();
    clock.advance(CEREMONY_TTL_SECS);
    let answer = key.assert(&challenge.options, ORIGIN);
    let late = auth
        .finish_passkey_login(challenge.ceremony.expose(), &answer, None, &client())
        .await;
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
        &auth
            .begin_passkey_registration(signed_in.token.expose(), &pw(GOOD), ORIGIN, &client())
            .await
            .unwrap()
            .options,
        ORIGIN,
        true,
    );
    assert!(matches!(
        auth.finish_passkey_registration(
            signed_in.token.expose(),
            challenge.ceremony.expose(),
            &answer,
            None,
            &client(),
        )
        .await,
        Err(AuthError::InvalidField {
            field: "ceremony",
            ..
        })
    ));
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
        .map(|challenge| {
            let answer = key.assert(&challenge.options, ORIGIN);
            let (auth, ceremony) = (auth.clone(), challenge.ceremony.expose().to_owned());
            tokio::spawn(async move {
                auth.finish_passkey_login(&ceremony, &answer, None, &client())
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Ok(_) => won += 1,
            Err(AuthError::InvalidCredentials) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
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
    let challenge = auth
        .begin_passkey_registration(session.token.expose(), &pw(GOOD), ORIGIN, &client())
        .await
        .unwrap();
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
    let options = auth
        .begin_passkey_second_step(&token, ORIGIN)
        .await
        .unwrap();
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
    auth.complete_mfa_passkey(&token, options.ceremony.expose(), &answer, None, &client())
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
    let challenge = auth
        .begin_passkey_second_step(&first, ORIGIN)
        .await
        .unwrap();
    key.counter = 4;
    let answer = key.assert(&challenge.options, ORIGIN);
    assert!(matches!(
        auth.complete_mfa_passkey(
            &second,
            challenge.ceremony.expose(),
            &answer,
            None,
            &client()
        )
        .await,
        Err(AuthError::InvalidCode)
    ));

    // The token expires after five minutes.
    let token = first_step(&auth, "kvothe").await;
    let challenge = auth
        .begin_passkey_second_step(&token, ORIGIN)
        .await
        .unwrap();
    clock.advance(auth_core::MFA_TOKEN_TTL_SECS);
    let answer = key.assert(&challenge.options, ORIGIN);
    assert!(matches!(
        auth.complete_mfa_passkey(
            &token,
            challenge.ceremony.expose(),
            &answer,
            None,
            &client()
        )
        .await,
        Err(AuthError::InvalidCode)
    ));

    // A password changed after the first step voids it.
    let token = first_step(&auth, "kvothe").await;
    let challenge = auth
        .begin_passkey_second_step(&token, ORIGIN)
        .await
        .unwrap();
    auth.set_password(&Identifier::Username("kvothe".into()), &pw(GOOD), &client())
        .await
        .unwrap();
    key.counter = 5;
    let answer = key.assert(&challenge.options, ORIGIN);
    assert!(matches!(
        auth.complete_mfa_passkey(
            &token,
            challenge.ceremony.expose(),
            &answer,
            None,
            &client()
        )
        .await,
        Err(AuthError::InvalidCode)
    ));

    // Wrong assertions count toward the throttle like wrong codes: the
    // fifth starts a delay, and then even a right one waits.
    let token = first_step(&auth, "kvothe").await;
    for attempt in 0..5 {
        let challenge = auth
            .begin_passkey_second_step(&token, ORIGIN)
            .await
            .unwrap();
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
    let pending_challenge = auth
        .begin_passkey_second_step(&pending, ORIGIN)
        .await
        .unwrap();
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
        auth.complete_mfa_passkey(
            &pending,
            pending_challenge.ceremony.expose(),
            &answer,
            None,
            &client()
        )
        .await,
        Err(AuthError::InvalidCode)
    ));
    login(&auth, "denna", GOOD)
        .await
        .expect("factors gone: one step");
}

/// Finishes a registration ceremony with a fresh software authenticator.
async fn finish_with_new_key(
    auth: &Auth,
    session: &LoginSuccess,
    challenge: &PasskeyChallenge,
) -> Result<auth_core::PasskeyInfo, AuthError> {
    let (_, answer) = TestAuthenticator::register(&challenge.options, ORIGIN, true);
    auth.finish_passkey_registration(
        session.token.expose(),
        challenge.ceremony.expose(),
        &answer,
        None,
        &client(),
    )
    .await
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
        let challenge = auth
            .begin_passkey_registration(one.token.expose(), &pw(GOOD), ORIGIN, &client())
            .await
            .unwrap();
        finish_with_new_key(&auth, &one, &challenge).await.unwrap();
    }
    // One place left, two ceremonies started for it.
    let a = auth
        .begin_passkey_registration(one.token.expose(), &pw(GOOD), ORIGIN, &client())
        .await
        .unwrap();
    let b = auth
        .begin_passkey_registration(two.token.expose(), &pw(GOOD), ORIGIN, &client())
        .await
        .unwrap();
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
    let challenge = auth
        .begin_passkey_second_step(&token, ORIGIN)
        .await
        .unwrap();
    denna.counter = 1;
    let answer = denna.assert(&challenge.options, ORIGIN);
    assert!(matches!(
        auth.complete_mfa_passkey(
            &token,
            challenge.ceremony.expose(),
            &answer,
            None,
            &client()
        )
        .await,
        Err(AuthError::InvalidCode)
    ));
    assert_eq!(auth.count_events("passkey_failed").await.unwrap(), 1);
    // A sign-in ceremony is no second-step ceremony: void, not counted.
    let sign_in_challenge = auth.begin_passkey_login(ORIGIN).await.unwrap();
    kvothe.counter = 1;
    let answer = kvothe.assert(&sign_in_challenge.options, ORIGIN);
    assert!(matches!(
        auth.complete_mfa_passkey(
            &token,
            sign_in_challenge.ceremony.expose(),
            &answer,
            None,
            &client()
        )
        .await,
        Err(AuthError::InvalidCode)
    ));
    // Nor is a second-step ceremony a sign-in one.
    let challenge = auth
        .begin_passkey_second_step(&token, ORIGIN)
        .await
        .unwrap();
    let answer = kvothe.assert(&challenge.options, ORIGIN);
    assert!(void_ceremony(
        &auth
            .finish_passkey_login(challenge.ceremony.expose(), &answer, None, &client())
            .await
    ));
    assert_eq!(auth.count_events("passkey_failed").await.unwrap(), 1);
    let kvothe_session = second_step(&auth, &token, &kvothe).await.unwrap();

    // Kvothe's registration ceremony finished by Denna's session: void.
    denna.counter = 2;
    let denna_session = sign_in(&auth, &denna).await.unwrap();
    let challenge = auth
        .begin_passkey_registration(kvothe_session.token.expose(), &pw(GOOD), ORIGIN, &client())
        .await
        .unwrap();
    assert!(matches!(
        finish_with_new_key(&auth, &denna_session, &challenge).await,
        Err(AuthError::InvalidField {
            field: "ceremony",
            ..
        })
    ));

    // Denna's passkey removed while her second step is in flight.
    let denna_token = first_step(&auth, "denna").await;
    let challenge = auth
        .begin_passkey_second_step(&denna_token, ORIGIN)
        .await
        .unwrap();
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
        auth.complete_mfa_passkey(
            &denna_token,
            challenge.ceremony.expose(),
            &answer,
            None,
            &client()
        )
        .await,
        Err(AuthError::InvalidCode)
    ));

    // Kvothe's account deleted with a sign-in and a registration in flight.
    let sign_in_challenge = auth.begin_passkey_login(ORIGIN).await.unwrap();
    let registration = auth
        .begin_passkey_registration(kvothe_session.token.expose(), &pw(GOOD), ORIGIN, &client())
        .await
        .unwrap();
    auth.delete_user(&Identifier::Username("kvothe".into()), &client())
        .await
        .unwrap();
    kvothe.counter = 10;
    let answer = kvothe.assert(&sign_in_challenge.options, ORIGIN);
    assert!(matches!(
        auth.finish_passkey_login(
            sign_in_challenge.ceremony.expose(),
            &answer,
            None,
            &client()
        )
        .await,
        Err(AuthError::InvalidCredentials)
    ));
    assert!(matches!(
        finish_with_new_key(&auth, &kvothe_session, &registration).await,
        Err(AuthError::NotAuthenticated | AuthError::InvalidField { .. })
    ));
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
        let challenge = auth
            .begin_passkey_registration(session.token.expose(), &pw(GOOD), ORIGIN, &client())
            .await
            .unwrap();
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

/// One ceremony and one right answer sent by several requests at once (a
/// replayed request racing the real one): one sign-in, one passkey added.
async fn one_ceremony_finished_by_racing_requests(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let mut key = with_passkey(&auth, "kvothe").await;
    let challenge = auth.begin_passkey_login(ORIGIN).await.unwrap();
    key.counter = 1;
    let answer = key.assert(&challenge.options, ORIGIN);
    let racers: Vec<_> = (0..6)
        .map(|_| {
            let (auth, answer) = (auth.clone(), answer.clone());
            let ceremony = challenge.ceremony.expose().to_owned();
            tokio::spawn(async move {
                auth.finish_passkey_login(&ceremony, &answer, None, &client())
                    .await
            })
        })
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
    let challenge = auth
        .begin_passkey_registration(session.token.expose(), &pw(GOOD), ORIGIN, &client())
        .await
        .unwrap();
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
    let mut added = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Ok(_) => added += 1,
            Err(AuthError::InvalidField {
                field: "ceremony", ..
            }) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(added, 1);
    assert_eq!(
        auth.list_passkeys(session.token.expose())
            .await
            .unwrap()
            .len(),
        1
    );
}
