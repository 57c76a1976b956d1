//! Sign-up, the password rules, login and hashing, on both backends.

use crate::common;

use auth_core::{
    AuthError, Config, Identifier, IdentifierKind, PasswordRule, Registration, MAX_PASSWORD_BYTES,
};
use auth_db::{UserLookup, UserRow};
use common::*;

on_both_backends! {
    register_login_session_round_trip => register_login_session_round_trip_sqlite, register_login_session_round_trip_postgres;
    every_password_rule_has_its_code => every_password_rule_has_its_code_sqlite, every_password_rule_has_its_code_postgres;
    identifiers_are_validated => identifiers_are_validated_sqlite, identifiers_are_validated_postgres;
    nfc_and_nfd_passwords_are_the_same => nfc_and_nfd_passwords_are_the_same_sqlite, nfc_and_nfd_passwords_are_the_same_postgres;
    bytes_after_the_72nd_count => bytes_after_the_72nd_count_sqlite, bytes_after_the_72nd_count_postgres;
    cost_change_rehashes_at_login => cost_change_rehashes_at_login_sqlite, cost_change_rehashes_at_login_postgres;
    concurrent_sign_ups_of_one_name => concurrent_sign_ups_of_one_name_sqlite, concurrent_sign_ups_of_one_name_postgres;
    names_are_case_insensitive_username_first => names_are_case_insensitive_username_first_sqlite, names_are_case_insensitive_username_first_postgres;
    audit_events_are_recorded => audit_events_are_recorded_sqlite, audit_events_are_recorded_postgres;
    unknown_user_costs_one_bcrypt => unknown_user_costs_one_bcrypt_sqlite, unknown_user_costs_one_bcrypt_postgres;
}

async fn register_login_session_round_trip(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let registration = Registration {
        username: Some("Kvothe".into()),
        email: Some("Kvothe@Example.com".into()),
        password: pw(GOOD),
        full_name: Some("  Kvothe the Arcane  ".into()),
        mothers_favorite_search_engine: Some(" Duck Duck Go ".into()),
    };
    let user = auth.register_user(registration, &client()).await.unwrap();
    assert_eq!(user.username.as_deref(), Some("Kvothe"));
    assert_eq!(user.email.as_deref(), Some("Kvothe@Example.com"));
    assert_eq!(user.full_name.as_deref(), Some("Kvothe the Arcane"));
    assert_eq!(
        user.mothers_favorite_search_engine.as_deref(),
        Some("Duck Duck Go")
    );
    assert_eq!(user.display_name(), "Kvothe");

    // An e-mail-only account shows its e-mail; a blank profile field is unset.
    let mail_only = Registration {
        email: Some("denna@example.com".into()),
        password: pw(GOOD),
        full_name: Some("   ".into()),
        ..Registration::default()
    };
    let denna = auth.register_user(mail_only, &client()).await.unwrap();
    assert_eq!(denna.display_name(), "denna@example.com");
    assert_eq!(denna.username, None);
    assert_eq!(denna.full_name, None);

    // Every kind of identifier, in any case, finds the account.
    for identifier in [
        Identifier::Username("kVOTHE".into()),
        Identifier::Email("kvothe@example.COM".into()),
        Identifier::Any("KVOTHE".into()),
        Identifier::Any("kvothe@example.com".into()),
    ] {
        let found = auth.valid_login(&identifier, &pw(GOOD), &client()).await;
        assert_eq!(found.unwrap().id, user.id, "{identifier:?}");
    }
    // A username is not an e-mail and the other way round.
    let wrong_kind = auth
        .valid_login(&Identifier::Email("kvothe".into()), &pw(GOOD), &client())
        .await;
    assert!(
        matches!(wrong_kind, Err(AuthError::InvalidCredentials)),
        "{wrong_kind:?}"
    );

    let session = login(&auth, "kvothe", GOOD).await.unwrap();
    assert_eq!(session.user, user);
    assert_eq!(session.session.user_id, user.id);
    let token = session.token.expose().to_owned();
    let signed_in = auth.get_user_from_session_id(&token).await.unwrap();
    assert_eq!(signed_in.user, user);
    assert_eq!(signed_in.session.id, session.session.id);

    auth.destroy_session(&token, &client()).await.unwrap();
    let after = auth.get_user_from_session_id(&token).await;
    assert!(
        matches!(after, Err(AuthError::NotAuthenticated)),
        "{after:?}"
    );
    let again = auth.destroy_session(&token, &client()).await;
    assert!(
        matches!(again, Err(AuthError::NotAuthenticated)),
        "{again:?}"
    );
    for garbage in ["", "not a token", &"A".repeat(43)] {
        let found = auth.get_user_from_session_id(garbage).await;
        assert!(
            matches!(found, Err(AuthError::NotAuthenticated)),
            "{garbage:?}: {found:?}"
        );
    }

    let wrong = login(&auth, "kvothe", OTHER).await;
    assert!(
        matches!(wrong, Err(AuthError::InvalidCredentials)),
        "{wrong:?}"
    );
}

async fn every_password_rule_has_its_code(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let rejected = |result: Result<_, AuthError>| match result {
        Err(AuthError::PasswordRejected(rule)) => rule,
        other => panic!("expected a password rule, got {other:?}"),
    };
    let cases: [(&str, PasswordRule, &str); 9] = [
        ("", PasswordRule::Empty, "password_empty"),
        (
            "null",
            PasswordRule::TooShort { min: 15 },
            "password_too_short",
        ),
        (
            "fourteen chars",
            PasswordRule::TooShort { min: 15 },
            "password_too_short",
        ),
        (
            &"x".repeat(MAX_PASSWORD_BYTES + 1),
            PasswordRule::TooLong,
            "password_too_long",
        ),
        (
            "correct horse\0battery staple",
            PasswordRule::InvalidCharacters,
            "password_invalid_characters",
        ),
        (
            "correct horse\u{7f}battery staple",
            PasswordRule::InvalidCharacters,
            "password_invalid_characters",
        ),
        (
            "qwerty123456789",
            PasswordRule::TooCommon,
            "password_too_common",
        ),
        (
            "QWERTY123456789",
            PasswordRule::TooCommon,
            "password_too_common",
        ),
        (
            "Kvothe-The-Arcane",
            PasswordRule::MatchesIdentifier,
            "password_matches_identifier",
        ),
    ];
    for (password, rule, code) in cases {
        let result = auth
            .register_user(named("kvothe-the-arcane", password), &client())
            .await;
        let found = rejected(result);
        assert_eq!(found, rule, "{password:?}");
        assert_eq!(found.code(), code);
    }
    let by_mail = mailed("someone.long@example.com", "SOMEONE.LONG@example.com");
    let found = rejected(auth.register_user(by_mail, &client()).await);
    assert_eq!(found, PasswordRule::MatchesIdentifier);
    // 1024 bytes is the limit, not a byte less.
    let longest = "é".repeat(MAX_PASSWORD_BYTES / 2);
    auth.register_user(named("longest", &longest), &client())
        .await
        .unwrap();
    // Nothing was stored by the rejected attempts.
    register(&auth, "kvothe-the-arcane", GOOD).await;

    // "null" at a lower minimum is judged as the common word it is.
    let (short_ok, _clock) = open_with(
        &db,
        Config {
            password_min_length: 4,
            ..config()
        },
    )
    .await;
    let null = rejected(
        short_ok
            .register_user(named("nullable", "null"), &client())
            .await,
    );
    assert_eq!(null, PasswordRule::TooCommon);
    assert_eq!(null.code(), "password_too_common");
    short_ok
        .register_user(named("shorty", "x7#q"), &client())
        .await
        .unwrap();
}

async fn identifiers_are_validated(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let missing = auth
        .register_user(
            Registration {
                password: pw(GOOD),
                ..Registration::default()
            },
            &client(),
        )
        .await;
    assert!(
        matches!(missing, Err(AuthError::MissingIdentifier)),
        "{missing:?}"
    );
    let bad_name = auth
        .register_user(named("has space", GOOD), &client())
        .await;
    assert!(
        matches!(bad_name, Err(AuthError::InvalidUsername)),
        "{bad_name:?}"
    );
    let bad_mail = mailed("no-at-sign", GOOD);
    let bad_mail = auth.register_user(bad_mail, &client()).await;
    assert!(
        matches!(bad_mail, Err(AuthError::InvalidEmail)),
        "{bad_mail:?}"
    );
    let long_name = Registration {
        username: Some("fine".into()),
        full_name: Some("x".repeat(201)),
        password: pw(GOOD),
        ..Registration::default()
    };
    let long_name = auth.register_user(long_name, &client()).await;
    assert!(
        matches!(
            long_name,
            Err(AuthError::InvalidField {
                field: "full_name",
                ..
            })
        ),
        "{long_name:?}"
    );
}

async fn nfc_and_nfd_passwords_are_the_same(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let composed = "r\u{e9}sum\u{e9} of the caf\u{e9}";
    let decomposed = "re\u{301}sume\u{301} of the cafe\u{301}";
    assert_ne!(composed.as_bytes(), decomposed.as_bytes());

    register(&auth, "composer", composed).await;
    login(&auth, "composer", decomposed).await.unwrap();
    login(&auth, "composer", composed).await.unwrap();

    register(&auth, "decomposer", decomposed).await;
    login(&auth, "decomposer", composed).await.unwrap();
    login(&auth, "decomposer", decomposed).await.unwrap();

    let unaccented = login(&auth, "composer", "resume of the cafe").await;
    assert!(
        matches!(unaccented, Err(AuthError::InvalidCredentials)),
        "{unaccented:?}"
    );
}

async fn bytes_after_the_72nd_count(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let stored = "ü".repeat(40); // 80 bytes
    let differs_late = format!("{}ö", "ü".repeat(39));
    assert_eq!(stored.as_bytes()[..72], differs_late.as_bytes()[..72]);
    register(&auth, "umlaut", &stored).await;
    let refused = login(&auth, "umlaut", &differs_late).await;
    assert!(
        matches!(refused, Err(AuthError::InvalidCredentials)),
        "{refused:?}"
    );
    login(&auth, "umlaut", &stored).await.unwrap();
}

fn stored_hash(db: &TestDb, username: &str) -> String {
    let mut conn = auth_db::DatabaseUrl::parse(&db.url)
        .unwrap()
        .establish()
        .unwrap();
    UserRow::find_user_by(&mut conn, UserLookup::UsernameKey(username))
        .unwrap()
        .expect("the user is stored")
        .password_hash
}

async fn cost_change_rehashes_at_login(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    register(&auth, "rehash", GOOD).await;
    let before = stored_hash(&db, "rehash");
    assert!(before.starts_with("hmac-sha256-bcrypt$2b$04$"), "{before}");
    drop(auth);

    let (stronger, _clock) = open_with(
        &db,
        Config {
            bcrypt_cost: 5,
            ..config()
        },
    )
    .await;
    let wrong = login(&stronger, "rehash", OTHER).await;
    assert!(
        matches!(wrong, Err(AuthError::InvalidCredentials)),
        "{wrong:?}"
    );
    assert_eq!(
        stored_hash(&db, "rehash"),
        before,
        "a wrong password rehashes nothing"
    );

    login(&stronger, "rehash", GOOD).await.unwrap();
    let after = stored_hash(&db, "rehash");
    assert!(after.starts_with("hmac-sha256-bcrypt$2b$05$"), "{after}");
    login(&stronger, "rehash", GOOD).await.unwrap();
    assert_eq!(
        stored_hash(&db, "rehash"),
        after,
        "a hash at the current cost stays"
    );
    let wrong = login(&stronger, "rehash", OTHER).await;
    assert!(
        matches!(wrong, Err(AuthError::InvalidCredentials)),
        "{wrong:?}"
    );
}

async fn concurrent_sign_ups_of_one_name(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let auth = auth.clone();
        tasks.push(tokio::spawn(async move {
            let registration = Registration {
                username: Some("racer".into()),
                email: Some(format!("racer{i}@example.com")),
                password: pw(GOOD),
                ..Registration::default()
            };
            auth.register_user(registration, &client()).await
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(user) => {
                won += 1;
                assert_eq!(user.username.as_deref(), Some("racer"));
            }
            Err(AuthError::AlreadyRegistered(IdentifierKind::Username)) => {}
            Err(other) => panic!("unexpected sign-up outcome: {other:?}"),
        }
    }
    assert_eq!(won, 1);

    // The same race for one e-mail under different usernames.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let auth = auth.clone();
        tasks.push(tokio::spawn(async move {
            let registration = Registration {
                username: Some(format!("mailer{i}")),
                email: Some("shared@example.com".into()),
                password: pw(GOOD),
                ..Registration::default()
            };
            auth.register_user(registration, &client()).await
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => won += 1,
            Err(AuthError::AlreadyRegistered(IdentifierKind::Email)) => {}
            Err(other) => panic!("unexpected sign-up outcome: {other:?}"),
        }
    }
    assert_eq!(won, 1);
}

async fn names_are_case_insensitive_username_first(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    register(&auth, "Bob", GOOD).await;
    let again = auth.register_user(named("bob", GOOD), &client()).await;
    assert!(
        matches!(
            again,
            Err(AuthError::AlreadyRegistered(IdentifierKind::Username))
        ),
        "{again:?}"
    );
    let with = |username: &str, email: &str| Registration {
        username: Some(username.into()),
        email: Some(email.into()),
        password: pw(GOOD),
        ..Registration::default()
    };
    auth.register_user(with("carl", "carl@example.com"), &client())
        .await
        .unwrap();
    let both = auth
        .register_user(with("CARL", "Carl@Example.com"), &client())
        .await;
    assert!(
        matches!(
            both,
            Err(AuthError::AlreadyRegistered(IdentifierKind::Username))
        ),
        "{both:?}"
    );
    assert_eq!(both.unwrap_err().to_string(), "username already registered");
    let mail = auth
        .register_user(with("carla", "CARL@example.com"), &client())
        .await;
    assert!(
        matches!(
            mail,
            Err(AuthError::AlreadyRegistered(IdentifierKind::Email))
        ),
        "{mail:?}"
    );
    assert_eq!(mail.unwrap_err().to_string(), "email already registered");
}

async fn audit_events_are_recorded(db: TestDb) {
    let (auth, clock) = open(&db).await;
    let count = |kind: &'static str| {
        let auth = auth.clone();
        async move { auth.count_events(kind).await.unwrap() }
    };
    register(&auth, "audited", GOOD).await;
    assert_eq!(count("user_registered").await, 1);
    assert_eq!(count("login_failed").await, 0);

    let session = login(&auth, "audited", GOOD).await.unwrap();
    assert_eq!(count("login_succeeded").await, 1);
    for _ in 0..5 {
        assert!(login(&auth, "audited", OTHER).await.is_err());
    }
    assert!(login(&auth, "nobody", OTHER).await.is_err());
    assert_eq!(count("login_failed").await, 6);
    assert_eq!(count("login_locked").await, 1);
    assert!(matches!(
        login(&auth, "audited", GOOD).await,
        Err(AuthError::Throttled { .. })
    ));
    assert_eq!(count("login_throttled").await, 1);
    assert_eq!(
        count("login_failed").await,
        6,
        "a throttled attempt is not a failure"
    );

    auth.destroy_session(session.token.expose(), &client())
        .await
        .unwrap();
    assert_eq!(count("session_ended").await, 1);

    let name = Identifier::Username("audited".into());
    let (_, reset) = auth
        .get_reset_password_token(&name, &client())
        .await
        .unwrap();
    assert_eq!(count("reset_requested").await, 1);
    auth.update_password(&name, reset.expose(), &pw(OTHER), &client())
        .await
        .unwrap();
    assert_eq!(count("password_reset").await, 1);

    clock.advance(1);
    let session = login(&auth, "audited", OTHER).await.unwrap();
    auth.change_password(session.token.expose(), &pw(OTHER), &pw(GOOD), &client())
        .await
        .unwrap();
    assert_eq!(count("password_changed").await, 1);
    assert_eq!(count("no_such_kind").await, 0);
}

async fn unknown_user_costs_one_bcrypt(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    register(&auth, "known", GOOD).await;

    let before = auth.hashes_done();
    assert!(matches!(
        login(&auth, "unknown", GOOD).await,
        Err(AuthError::InvalidCredentials)
    ));
    assert_eq!(
        auth.hashes_done(),
        before + 1,
        "an unknown name costs one bcrypt"
    );

    let before = auth.hashes_done();
    assert!(matches!(
        login(&auth, "known", OTHER).await,
        Err(AuthError::InvalidCredentials)
    ));
    assert_eq!(
        auth.hashes_done(),
        before + 1,
        "a wrong password costs one bcrypt"
    );

    let before = auth.hashes_done();
    login(&auth, "known", GOOD).await.unwrap();
    assert_eq!(
        auth.hashes_done(),
        before + 1,
        "a right password at the current cost costs one bcrypt"
    );
}
