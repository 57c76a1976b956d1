//! Second factors (docs/contract/7-second-factor.md) on both backends: enrolment, the second step
//! of a login, replay, drift, recovery codes, the second-step token's life,
//! the throttle on wrong codes, the credential-version rule, and the
//! operator's reset.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use auth_core::{
    totp_code, Auth, AuthError, FactorStatus, Identifier, LoginSuccess, ManualClock, MfaMethod,
    MfaToken, TOTP_STEP_SECS,
};
use common::*;
use data_encoding::BASE32_NOPAD;

on_both_backends! {
    a_second_step_from_a_new_device_sends_its_notice => a_second_step_from_a_new_device_sends_its_notice_sqlite, a_second_step_from_a_new_device_sends_its_notice_postgres;
    enrol_then_log_in_in_two_steps => enrol_then_log_in_in_two_steps_sqlite, enrol_then_log_in_in_two_steps_postgres;
    codes_work_once_with_one_step_of_drift => codes_work_once_with_one_step_of_drift_sqlite, codes_work_once_with_one_step_of_drift_postgres;
    recovery_codes_are_single_use_and_replaceable => recovery_codes_are_single_use_and_replaceable_sqlite, recovery_codes_are_single_use_and_replaceable_postgres;
    mfa_tokens_expire_and_work_once => mfa_tokens_expire_and_work_once_sqlite, mfa_tokens_expire_and_work_once_postgres;
    wrong_codes_feed_the_account_throttle => wrong_codes_feed_the_account_throttle_sqlite, wrong_codes_feed_the_account_throttle_postgres;
    a_password_change_voids_the_second_step => a_password_change_voids_the_second_step_sqlite, a_password_change_voids_the_second_step_postgres;
    a_token_takes_only_its_own_accounts_codes => a_token_takes_only_its_own_accounts_codes_sqlite, a_token_takes_only_its_own_accounts_codes_postgres;
    racing_second_steps_with_one_token => racing_second_steps_with_one_token_sqlite, racing_second_steps_with_one_token_postgres;
    removing_and_resetting_factors => removing_and_resetting_factors_sqlite, removing_and_resetting_factors_postgres;
    secrets_are_sealed_in_the_dump => secrets_are_sealed_in_the_dump_sqlite, secrets_are_sealed_in_the_dump_postgres;
    racing_enrolments_each_get_a_secret => racing_enrolments_each_get_a_secret_sqlite, racing_enrolments_each_get_a_secret_postgres;
}

fn now(clock: &ManualClock) -> i64 {
    use auth_core::Clock;
    clock.now()
}

/// Enrols an authenticator app for a signed-in user; returns the secret and
/// the recovery codes.
async fn enrol(auth: &Auth, clock: &ManualClock, session: &LoginSuccess) -> (Vec<u8>, Vec<String>) {
    let enrolment = auth.begin_totp(session.token.expose()).await.unwrap();
    assert!(enrolment.otpauth_uri.starts_with("otpauth://totp/authd%3A"));
    assert!(enrolment
        .otpauth_uri
        .contains(&format!("secret={}", enrolment.secret)));
    let secret = BASE32_NOPAD.decode(enrolment.secret.as_bytes()).unwrap();
    let codes = auth
        .confirm_totp(
            session.token.expose(),
            &totp_code(&secret, now(clock)),
            &client(),
        )
        .await
        .unwrap();
    assert_eq!(codes.0.len(), 10);
    (secret, codes.0)
}

/// Logs in with the password and expects a second step; returns its token.
async fn first_step(auth: &Auth, name: &str) -> String {
    match login(auth, name, GOOD).await {
        Err(AuthError::MfaRequired { mfa_token, methods }) => {
            assert!(methods.contains(&MfaMethod::Totp), "{methods:?}");
            mfa_token.expose().to_owned()
        }
        other => panic!("expected mfa_required, got {other:?}"),
    }
}

async fn second_step(auth: &Auth, token: &str, code: &str) -> Result<LoginSuccess, AuthError> {
    auth.complete_mfa(token, code, None, &client()).await
}

/// A user with an authenticator app, signed in once; the clock moved to the
/// next step so the confirming code's step is behind.
async fn enrolled(auth: &Auth, clock: &ManualClock, name: &str) -> (Vec<u8>, Vec<String>) {
    register(auth, name, GOOD).await;
    let session = login(auth, name, GOOD).await.unwrap();
    let enrolled = enrol(auth, clock, &session).await;
    clock.advance(TOTP_STEP_SECS);
    enrolled
}

async fn enrol_then_log_in_in_two_steps(db: TestDb) {
    let (auth, clock) = open(&db).await;
    let user = register(&auth, "kvothe", GOOD).await;
    let session = login(&auth, "kvothe", GOOD).await.unwrap();
    assert_eq!(
        auth.second_factors(&user.id).await.unwrap(),
        FactorStatus::default()
    );

    // A wrong first code enables nothing.
    let enrolment = auth.begin_totp(session.token.expose()).await.unwrap();
    let secret = BASE32_NOPAD.decode(enrolment.secret.as_bytes()).unwrap();
    let wrong = totp_code(&secret, now(&clock) + 5 * TOTP_STEP_SECS);
    assert!(matches!(
        auth.confirm_totp(session.token.expose(), &wrong, &client())
            .await,
        Err(AuthError::InvalidCode)
    ));
    assert!(auth.second_factors(&user.id).await.unwrap().totp_pending);
    login(&auth, "kvothe", GOOD)
        .await
        .expect("a pending enrolment is no factor yet");

    // Restarting replaces the pending secret.
    let (secret, codes) = enrol(&auth, &clock, &session).await;
    let status = auth.second_factors(&user.id).await.unwrap();
    assert!(status.totp && !status.totp_pending);
    assert_eq!(status.recovery_codes_left, 10);
    assert_eq!(auth.count_events("mfa_factor_added").await.unwrap(), 1);
    assert!(codes.iter().all(|c| c.len() == 19), "{codes:?}");

    // Enabled: a second enrolment is refused until this one is removed.
    assert!(matches!(
        auth.begin_totp(session.token.expose()).await,
        Err(AuthError::InvalidField { field: "totp", .. })
    ));

    // The confirming code counts as used.
    let token = match login(&auth, "kvothe", GOOD).await {
        Err(AuthError::MfaRequired { mfa_token, methods }) => {
            assert_eq!(methods, [MfaMethod::Totp, MfaMethod::RecoveryCode]);
            mfa_token
        }
        other => panic!("{other:?}"),
    };
    assert!(matches!(
        second_step(&auth, token.expose(), &totp_code(&secret, now(&clock))).await,
        Err(AuthError::InvalidCode)
    ));
    clock.advance(TOTP_STEP_SECS);
    let done = second_step(&auth, token.expose(), &totp_code(&secret, now(&clock)))
        .await
        .unwrap();
    assert_eq!(done.user.id, user.id);
    assert_eq!(
        signed_in_as(&auth, done.token.expose()).await,
        Some(user.id)
    );
    assert_eq!(auth.count_events("mfa_factor_used").await.unwrap(), 1);
}

async fn codes_work_once_with_one_step_of_drift(db: TestDb) {
    let (auth, clock) = open(&db).await;
    let (secret, _) = enrolled(&auth, &clock, "kvothe").await;

    // A code of the next step (the phone's clock runs fast) is accepted ...
    clock.advance(TOTP_STEP_SECS);
    let token = first_step(&auth, "kvothe").await;
    let ahead = totp_code(&secret, now(&clock) + TOTP_STEP_SECS);
    second_step(&auth, &token, &ahead).await.unwrap();
    // ... once: a replay within its window is refused, and so is an older
    // step once a newer one was used.
    let token = first_step(&auth, "kvothe").await;
    assert!(matches!(
        second_step(&auth, &token, &ahead).await,
        Err(AuthError::InvalidCode)
    ));
    assert!(matches!(
        second_step(&auth, &token, &totp_code(&secret, now(&clock))).await,
        Err(AuthError::InvalidCode)
    ));
    // Two steps of drift are too many.
    clock.advance(3 * TOTP_STEP_SECS);
    let too_far = totp_code(&secret, now(&clock) + 2 * TOTP_STEP_SECS);
    assert!(matches!(
        second_step(&auth, &token, &too_far).await,
        Err(AuthError::InvalidCode)
    ));
    // One step behind (the phone's clock runs slow) is accepted.
    let behind = totp_code(&secret, now(&clock) - TOTP_STEP_SECS);
    second_step(&auth, &token, &behind).await.unwrap();
}

async fn recovery_codes_are_single_use_and_replaceable(db: TestDb) {
    let (auth, clock) = open(&db).await;
    let (_, codes) = enrolled(&auth, &clock, "kvothe").await;
    let user = auth
        .find_user(&Identifier::Username("kvothe".into()))
        .await
        .unwrap()
        .unwrap();

    let token = first_step(&auth, "kvothe").await;
    // Any case, with or without the dashes.
    let typed = codes[0].to_uppercase().replace('-', " ");
    second_step(&auth, &token, &typed).await.unwrap();
    assert_eq!(
        auth.second_factors(&user.id)
            .await
            .unwrap()
            .recovery_codes_left,
        9
    );
    assert_eq!(auth.count_events("recovery_code_used").await.unwrap(), 1);
    let token = first_step(&auth, "kvothe").await;
    assert!(matches!(
        second_step(&auth, &token, &codes[0]).await,
        Err(AuthError::InvalidCode)
    ));

    // Replacing them needs the password and voids the old ones.
    let session = second_step(&auth, &token, &codes[1]).await.unwrap();
    assert!(matches!(
        auth.replace_recovery_codes(session.token.expose(), &pw(OTHER), &client())
            .await,
        Err(AuthError::InvalidCredentials)
    ));
    let fresh = auth
        .replace_recovery_codes(session.token.expose(), &pw(GOOD), &client())
        .await
        .unwrap();
    assert_eq!(
        auth.count_events("recovery_codes_replaced").await.unwrap(),
        1
    );
    assert_eq!(
        auth.second_factors(&user.id)
            .await
            .unwrap()
            .recovery_codes_left,
        10
    );
    let token = first_step(&auth, "kvothe").await;
    assert!(matches!(
        second_step(&auth, &token, &codes[2]).await,
        Err(AuthError::InvalidCode)
    ));
    second_step(&auth, &token, &fresh.0[0]).await.unwrap();
}

async fn mfa_tokens_expire_and_work_once(db: TestDb) {
    let (auth, clock) = open(&db).await;
    let (secret, codes) = enrolled(&auth, &clock, "kvothe").await;

    let token = first_step(&auth, "kvothe").await;
    second_step(&auth, &token, &codes[0]).await.unwrap();
    assert!(
        matches!(
            second_step(&auth, &token, &codes[1]).await,
            Err(AuthError::InvalidCode)
        ),
        "good for one success"
    );

    let token = first_step(&auth, "kvothe").await;
    clock.advance(301);
    assert!(matches!(
        second_step(&auth, &token, &totp_code(&secret, now(&clock))).await,
        Err(AuthError::InvalidCode)
    ));
    assert_eq!(auth.purge_expired().await.unwrap(), 1);

    // Garbage and tokens never issued are the same answer.
    for bogus in [
        "",
        "short",
        MfaToken::parse(&"A".repeat(43)).unwrap().expose(),
    ] {
        assert!(matches!(
            second_step(&auth, bogus, &codes[1]).await,
            Err(AuthError::InvalidCode)
        ));
    }
}

async fn wrong_codes_feed_the_account_throttle(db: TestDb) {
    let (auth, clock) = open(&db).await;
    let (secret, _) = enrolled(&auth, &clock, "kvothe").await;
    let wrong = totp_code(&secret, now(&clock) + 10 * TOTP_STEP_SECS);

    let token = first_step(&auth, "kvothe").await;
    for _ in 0..5 {
        assert!(matches!(
            second_step(&auth, &token, &wrong).await,
            Err(AuthError::InvalidCode)
        ));
    }
    assert_eq!(auth.count_events("mfa_code_failed").await.unwrap(), 5);
    assert_eq!(auth.count_events("login_locked").await.unwrap(), 1);
    // The fifth failure started a delay: the right code waits too, and so
    // does the right password.
    let right = totp_code(&secret, now(&clock));
    assert!(matches!(
        second_step(&auth, &token, &right).await,
        Err(AuthError::Throttled { retry_after }) if retry_after == Duration::from_secs(1)
    ));
    assert!(matches!(
        login(&auth, "kvothe", GOOD).await,
        Err(AuthError::Throttled { .. })
    ));
    clock.advance(1);
    // A right password alone does not clear the count: the next wrong code
    // doubles the delay.
    let token = first_step(&auth, "kvothe").await;
    assert!(matches!(
        second_step(&auth, &token, &wrong).await,
        Err(AuthError::InvalidCode)
    ));
    assert!(matches!(
        second_step(&auth, &token, &right).await,
        Err(AuthError::Throttled { retry_after }) if retry_after == Duration::from_secs(2)
    ));
    assert!(matches!(
        second_step(&auth, &token, "not a code").await,
        Err(AuthError::Throttled { .. })
    ));
    clock.advance(2);
    // Neither does a right password at the device check or valid_login.
    let name = Identifier::Username("kvothe".into());
    auth.check_machine("kvothe", &pw(GOOD), "machine-of-kvothe-0001", &client())
        .await
        .unwrap();
    auth.valid_login(&name, &pw(GOOD), &client()).await.unwrap();
    assert!(matches!(
        second_step(&auth, &token, &wrong).await,
        Err(AuthError::InvalidCode)
    ));
    assert!(matches!(
        second_step(&auth, &token, &right).await,
        Err(AuthError::Throttled { retry_after }) if retry_after == Duration::from_secs(4)
    ));
    clock.advance(4);
    // A completed login clears it: five failures are free again.
    second_step(&auth, &token, &right).await.unwrap();
    let token = first_step(&auth, "kvothe").await;
    for _ in 0..4 {
        assert!(matches!(
            second_step(&auth, &token, &wrong).await,
            Err(AuthError::InvalidCode)
        ));
    }
    clock.advance(TOTP_STEP_SECS);
    second_step(&auth, &token, &totp_code(&secret, now(&clock)))
        .await
        .unwrap();
}

async fn a_password_change_voids_the_second_step(db: TestDb) {
    let (auth, clock) = open(&db).await;
    let (secret, _) = enrolled(&auth, &clock, "kvothe").await;
    let token = first_step(&auth, "kvothe").await;
    let name = Identifier::Username("kvothe".into());
    auth.set_password(&name, &pw(OTHER), &client())
        .await
        .unwrap();
    assert!(matches!(
        second_step(&auth, &token, &totp_code(&secret, now(&clock))).await,
        Err(AuthError::InvalidCode)
    ));
    // A reset keeps the factors: the new password still needs the code.
    match login(&auth, "kvothe", OTHER).await {
        Err(AuthError::MfaRequired { mfa_token, .. }) => {
            second_step(&auth, mfa_token.expose(), &totp_code(&secret, now(&clock)))
                .await
                .unwrap();
        }
        other => panic!("{other:?}"),
    }
}

async fn a_token_takes_only_its_own_accounts_codes(db: TestDb) {
    let (auth, clock) = open(&db).await;
    let (_, alice_codes) = enrolled(&auth, &clock, "alice").await;
    let (bob_secret, _) = enrolled(&auth, &clock, "bob").await;
    let alice = first_step(&auth, "alice").await;
    assert!(matches!(
        second_step(&auth, &alice, &totp_code(&bob_secret, now(&clock))).await,
        Err(AuthError::InvalidCode)
    ));
    let bob = first_step(&auth, "bob").await;
    assert!(matches!(
        second_step(&auth, &bob, &alice_codes[0]).await,
        Err(AuthError::InvalidCode)
    ));
    // Bob's code is still unused for Bob.
    second_step(&auth, &bob, &totp_code(&bob_secret, now(&clock)))
        .await
        .unwrap();
}

async fn racing_second_steps_with_one_token(db: TestDb) {
    let (auth, clock) = open(&db).await;
    let (secret, codes) = enrolled(&auth, &clock, "kvothe").await;
    let auth = Arc::new(auth);
    for round in 0..3 {
        clock.advance(TOTP_STEP_SECS);
        let token = first_step(&auth, "kvothe").await;
        // The same right TOTP code, or two different recovery codes.
        let codes = if round == 0 {
            vec![totp_code(&secret, now(&clock)); 4]
        } else {
            codes[round * 2..round * 2 + 2].to_vec()
        };
        let racers: Vec<_> = codes
            .into_iter()
            .map(|code| {
                let (auth, token) = (auth.clone(), token.clone());
                tokio::spawn(async move { second_step(&auth, &token, &code).await })
            })
            .collect();
        let mut won = 0;
        for racer in racers {
            match racer.await.unwrap() {
                Ok(_) => won += 1,
                Err(AuthError::InvalidCode) => {}
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!(won, 1, "round {round}: one token, one session");
    }
}

/// Enrolments started at once (two tabs, a double click) each get a secret,
/// and the last one written is the one a code confirms: none is told that an
/// app is already enabled while none is.
async fn racing_enrolments_each_get_a_secret(db: TestDb) {
    let (auth, clock) = open(&db).await;
    register(&auth, "kvothe", GOOD).await;
    let session = login(&auth, "kvothe", GOOD).await.unwrap();
    let auth = Arc::new(auth);
    for round in 0..5 {
        let racers: Vec<_> = (0..4)
            .map(|_| {
                let (auth, token) = (auth.clone(), session.token.expose().to_owned());
                tokio::spawn(async move { auth.begin_totp(&token).await })
            })
            .collect();
        for racer in racers {
            if let Err(error) = racer.await.unwrap() {
                panic!("round {round}: an enrolment racing others failed: {error:?}");
            }
        }
    }
    // One pending enrolment is left, and a code of the last secret handed
    // out confirms it.
    let last = auth.begin_totp(session.token.expose()).await.unwrap();
    let secret = BASE32_NOPAD.decode(last.secret.as_bytes()).unwrap();
    auth.confirm_totp(
        session.token.expose(),
        &totp_code(&secret, now(&clock)),
        &client(),
    )
    .await
    .unwrap();
}

async fn removing_and_resetting_factors(db: TestDb) {
    let (auth, clock) = open(&db).await;
    let (secret, _) = enrolled(&auth, &clock, "kvothe").await;
    let token = first_step(&auth, "kvothe").await;
    let session = second_step(&auth, &token, &totp_code(&secret, now(&clock)))
        .await
        .unwrap();
    assert!(matches!(
        auth.remove_totp(session.token.expose(), &pw(OTHER), &client())
            .await,
        Err(AuthError::InvalidCredentials)
    ));
    auth.remove_totp(session.token.expose(), &pw(GOOD), &client())
        .await
        .unwrap();
    assert!(matches!(
        auth.remove_totp(session.token.expose(), &pw(GOOD), &client())
            .await,
        Err(AuthError::NotFound)
    ));
    assert_eq!(auth.count_events("mfa_factor_removed").await.unwrap(), 1);
    login(&auth, "kvothe", GOOD)
        .await
        .expect("no factor, one step");

    // The operator's reset: factors gone, every session ended.
    let session = login(&auth, "kvothe", GOOD).await.unwrap();
    enrol(&auth, &clock, &session).await;
    let pending = first_step(&auth, "kvothe").await;
    let name = Identifier::Username("kvothe".into());
    auth.mfa_reset(&name, &client()).await.unwrap();
    assert_eq!(signed_in_as(&auth, session.token.expose()).await, None);
    let user = auth.find_user(&name).await.unwrap().unwrap();
    assert_eq!(
        auth.second_factors(&user.id).await.unwrap(),
        FactorStatus::default()
    );
    clock.advance(TOTP_STEP_SECS);
    assert!(matches!(
        second_step(&auth, &pending, &totp_code(&secret, now(&clock))).await,
        Err(AuthError::InvalidCode)
    ));
    login(&auth, "kvothe", GOOD).await.unwrap();
    assert!(matches!(
        auth.mfa_reset(&Identifier::Username("nobody".into()), &client())
            .await,
        Err(AuthError::UnknownAccount)
    ));
}

async fn secrets_are_sealed_in_the_dump(db: TestDb) {
    let (auth, clock) = open(&db).await;
    let (secret, codes) = enrolled(&auth, &clock, "kvothe").await;
    let token = first_step(&auth, "kvothe").await;
    let mut out = Vec::new();
    let counts = auth.dump(&mut out).await.unwrap();
    let dump = String::from_utf8(out).unwrap();
    let count = |table: &str| counts.iter().find(|c| c.table == table).unwrap().rows;
    assert_eq!(
        (
            count("totp_factors"),
            count("recovery_codes"),
            count("mfa_tokens")
        ),
        (1, 10, 1)
    );
    for secret_text in [
        BASE32_NOPAD.encode(&secret),
        hex::encode(&secret),
        token.clone(),
    ]
    .iter()
    .chain(codes.iter())
    {
        assert!(!dump.contains(secret_text.as_str()), "{secret_text} leaked");
        assert!(!dump.contains(&secret_text.to_uppercase().replace('-', "")));
    }
}

/// docs/contract/10-email.md: an account with a second factor signs in at
/// its second step, so that is where a new device gets its notice (once).
async fn a_second_step_from_a_new_device_sends_its_notice(db: TestDb) {
    let recorder = Arc::new(crate::email::Recorder::default());
    let (auth, clock) = open_with(
        &db,
        auth_core::Config {
            notifier: recorder.clone(),
            ..config()
        },
    )
    .await;
    let registration = auth_core::Registration {
        username: Some("bob".into()),
        email: Some("bob@example.com".into()),
        password: pw(GOOD),
        ..auth_core::Registration::default()
    };
    auth.register_user(registration, &client()).await.unwrap();
    for _ in 0..200 {
        if !recorder.links.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let link = recorder.link_for("bob@example.com");
    auth.verify_email(&link, &client()).await.unwrap();
    let session = login(&auth, "bob", GOOD).await.unwrap();
    let (_, codes) = enrol(&auth, &clock, &session).await;
    clock.advance(TOTP_STEP_SECS);
    let new_devices = || {
        recorder
            .notices()
            .iter()
            .filter(|(_, kind)| kind == "new_device")
            .count()
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = new_devices();
    let phone = auth_core::ClientInfo {
        user_agent: Some("Phone/1.0".into()),
        ..client()
    };
    let bob = Identifier::Username("bob".into());
    for code in &codes[..2] {
        let token = match auth.login(&bob, &pw(GOOD), None, &phone).await {
            Err(AuthError::MfaRequired { mfa_token, .. }) => mfa_token.expose().to_owned(),
            other => panic!("expected mfa_required, got {other:?}"),
        };
        auth.complete_mfa(&token, code, None, &phone).await.unwrap();
    }
    for _ in 0..200 {
        if new_devices() > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(new_devices(), before + 1, "{:?}", recorder.notices());
}
