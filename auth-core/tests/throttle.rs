//! The per-account login throttle, on both backends, with a hand-moved clock.

use crate::common;

use std::time::Duration;

use auth_core::{Auth, AuthError, Identifier, FORGET_AFTER_SECS, MAX_DELAY_SECS};
use common::*;

on_both_backends! {
    delays_start_at_the_fifth_failure_and_double => delays_start_at_the_fifth_failure_and_double_sqlite, delays_start_at_the_fifth_failure_and_double_postgres;
    attempts_during_a_delay_neither_count_nor_extend => attempts_during_a_delay_neither_count_nor_extend_sqlite, attempts_during_a_delay_neither_count_nor_extend_postgres;
    unknown_names_are_throttled_alike => unknown_names_are_throttled_alike_sqlite, unknown_names_are_throttled_alike_postgres;
    counts_are_forgotten_after_a_day => counts_are_forgotten_after_a_day_sqlite, counts_are_forgotten_after_a_day_postgres;
    delays_stop_at_fifteen_minutes => delays_stop_at_fifteen_minutes_sqlite, delays_stop_at_fifteen_minutes_postgres;
    parallel_attempts_cannot_slip_past_a_delay => parallel_attempts_cannot_slip_past_a_delay_sqlite, parallel_attempts_cannot_slip_past_a_delay_postgres;
    every_name_of_an_account_shares_one_count => every_name_of_an_account_shares_one_count_sqlite, every_name_of_an_account_shares_one_count_postgres;
    delays_are_kept_to_the_millisecond => delays_are_kept_to_the_millisecond_sqlite, delays_are_kept_to_the_millisecond_postgres;
    failures_take_as_long_whatever_was_wrong => failures_take_as_long_whatever_was_wrong_sqlite, failures_take_as_long_whatever_was_wrong_postgres;
}

async fn assert_wrong(auth: &Auth, name: &str, password: &str) {
    let result = login(auth, name, password).await;
    assert!(
        matches!(result, Err(AuthError::InvalidCredentials)),
        "{name}: {result:?}"
    );
}

async fn assert_throttled(auth: &Auth, name: &str, password: &str, seconds: u64) {
    let result = login(auth, name, password).await;
    assert!(
        matches!(result, Err(AuthError::Throttled { retry_after }) if retry_after == Duration::from_secs(seconds)),
        "{name}: expected a {seconds}s delay, got {result:?}"
    );
}

async fn delays_start_at_the_fifth_failure_and_double(db: TestDb) {
    let (auth, clock) = open(&db).await;
    register(&auth, "alice", GOOD).await;

    for _ in 0..5 {
        assert_wrong(&auth, "alice", OTHER).await;
    }
    // During the delay even the right password is refused, in any spelling of the name.
    assert_throttled(&auth, "alice", GOOD, 1).await;
    assert_throttled(&auth, "ALICE", GOOD, 1).await;

    clock.advance(1);
    assert_wrong(&auth, "alice", OTHER).await;
    assert_throttled(&auth, "alice", OTHER, 2).await;
    clock.advance(1);
    assert_throttled(&auth, "alice", GOOD, 1).await;
    clock.advance(1);
    assert_wrong(&auth, "alice", OTHER).await;
    assert_throttled(&auth, "alice", GOOD, 4).await;
    clock.advance(3);
    assert_throttled(&auth, "alice", GOOD, 1).await;
    clock.advance(1);

    // A success clears the count: the next failure is a plain one, and it
    // takes five again to start a delay.
    login(&auth, "alice", GOOD).await.unwrap();
    for _ in 0..5 {
        assert_wrong(&auth, "alice", OTHER).await;
    }
    assert_throttled(&auth, "alice", GOOD, 1).await;

    // Another account is not affected.
    register(&auth, "bob", GOOD).await;
    login(&auth, "bob", GOOD).await.unwrap();
}

async fn attempts_during_a_delay_neither_count_nor_extend(db: TestDb) {
    let (auth, clock) = open(&db).await;
    register(&auth, "carol", GOOD).await;
    for _ in 0..5 {
        assert_wrong(&auth, "carol", OTHER).await;
    }
    clock.advance(1);
    assert_wrong(&auth, "carol", OTHER).await; // the sixth failure: 2 seconds
    for _ in 0..10 {
        assert_throttled(&auth, "carol", OTHER, 2).await;
    }
    clock.advance(1);
    assert_throttled(&auth, "carol", OTHER, 1).await;
    clock.advance(1);
    // Had the refused attempts counted, this failure would start a far longer delay.
    assert_wrong(&auth, "carol", OTHER).await;
    assert_throttled(&auth, "carol", OTHER, 4).await;
}

async fn unknown_names_are_throttled_alike(db: TestDb) {
    let (auth, clock) = open(&db).await;
    for _ in 0..5 {
        assert_wrong(&auth, "nobody", OTHER).await;
    }
    assert_throttled(&auth, "nobody", OTHER, 1).await;
    clock.advance(1);
    assert_wrong(&auth, "nobody", OTHER).await;
    assert_throttled(&auth, "Nobody", GOOD, 2).await;
    // Each name has its own count.
    assert_wrong(&auth, "somebody-else", OTHER).await;
}

async fn counts_are_forgotten_after_a_day(db: TestDb) {
    let (auth, clock) = open(&db).await;
    register(&auth, "dave", GOOD).await;
    for name in ["dave", "ghost"] {
        for _ in 0..5 {
            assert_wrong(&auth, name, OTHER).await;
        }
        assert_throttled(&auth, name, OTHER, 1).await;
    }
    clock.advance(FORGET_AFTER_SECS + 1);
    for name in ["dave", "ghost"] {
        for _ in 0..5 {
            assert_wrong(&auth, name, OTHER).await;
        }
        assert_throttled(&auth, name, OTHER, 1).await;
    }
    // Within the day the count stands: the next failure doubles the delay.
    clock.advance(1);
    assert_wrong(&auth, "dave", OTHER).await;
    assert_throttled(&auth, "dave", GOOD, 2).await;
}

async fn delays_stop_at_fifteen_minutes(db: TestDb) {
    let (auth, clock) = open(&db).await;
    register(&auth, "erin", GOOD).await;
    for _ in 0..5 {
        assert_wrong(&auth, "erin", OTHER).await;
    }
    let mut delay = 1;
    for _ in 0..12 {
        assert_throttled(&auth, "erin", OTHER, delay).await;
        clock.advance(delay as i64);
        assert_wrong(&auth, "erin", OTHER).await;
        delay = (delay * 2).min(MAX_DELAY_SECS as u64);
    }
    assert_eq!(delay, 900);
    assert_throttled(&auth, "erin", GOOD, 900).await;
    clock.advance(900);
    login(&auth, "erin", GOOD).await.unwrap();
}

/// Twenty wrong attempts at once, right as a delay ends: no failure is free
/// any more, so one slot: exactly one is checked, and its failure starts the
/// next delay, which refuses the rest.
async fn parallel_attempts_cannot_slip_past_a_delay(db: TestDb) {
    let (auth, clock) = open(&db).await;
    register(&auth, "dave", GOOD).await;
    for _ in 0..5 {
        assert_wrong(&auth, "dave", OTHER).await;
    }
    clock.advance(1);
    let hashes_before = auth.hashes_done();
    let attempts = (0..20).map(|i| {
        let auth = auth.clone();
        tokio::spawn(async move { login(&auth, "dave", &format!("{OTHER} {i}")).await })
    });
    let mut checked = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        match attempt.await.unwrap() {
            Err(AuthError::Throttled { .. }) => {}
            Err(AuthError::InvalidCredentials) => checked += 1,
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(checked, 1, "only one attempt may be checked per delay");
    assert_eq!(auth.hashes_done() - hashes_before, 1);
}

/// A username and an e-mail of one account are one count: five wrong
/// guesses spread over every spelling start the delay for all of them.
async fn every_name_of_an_account_shares_one_count(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let registration = auth_core::Registration {
        username: Some("frank".into()),
        email: Some("Frank@Example.com".into()),
        password: pw(GOOD),
        ..Default::default()
    };
    auth.register_user(registration, &client()).await.unwrap();
    let spellings = [
        Identifier::Username("frank".into()),
        Identifier::Email("frank@example.com".into()),
        Identifier::Any("FRANK".into()),
        Identifier::Any("FRANK@EXAMPLE.COM".into()),
        Identifier::Email("frank@EXAMPLE.com".into()),
    ];
    for name in &spellings {
        let result = auth.login(name, &pw(OTHER), None, &client()).await;
        assert!(
            matches!(result, Err(AuthError::InvalidCredentials)),
            "{name:?}: {result:?}"
        );
    }
    for name in &spellings {
        let result = auth.login(name, &pw(GOOD), None, &client()).await;
        assert!(
            matches!(result, Err(AuthError::Throttled { .. })),
            "{name:?}: {result:?}"
        );
    }
}

/// A delay lasts its stated length to the millisecond: one millisecond
/// before its end the right password is still refused.
async fn delays_are_kept_to_the_millisecond(db: TestDb) {
    let (auth, clock) = open(&db).await;
    register(&auth, "gina", GOOD).await;
    for _ in 0..5 {
        assert_wrong(&auth, "gina", OTHER).await;
    }
    clock.advance_ms(999);
    let result = login(&auth, "gina", GOOD).await;
    assert!(
        matches!(result, Err(AuthError::Throttled { retry_after }) if retry_after == Duration::from_millis(1)),
        "{result:?}"
    );
    clock.advance_ms(1);
    login(&auth, "gina", GOOD).await.unwrap();
}

/// A failure for an unknown name and one for an account whose hash was made
/// at a far lower cost take about as long: the server never answers a
/// failure sooner than a hash at its own cost takes. The two kinds are
/// sampled in turn, so a busy spell of the machine falls on both, and their
/// medians are compared with a generous bound (without the floor the
/// account's failures are some thirty times faster, far outside it).
async fn failures_take_as_long_whatever_was_wrong(db: TestDb) {
    use std::time::Instant;
    const SAMPLES: usize = 9;
    let (cheap, _clock) = open(&db).await;
    for i in 0..SAMPLES {
        register(&cheap, &format!("cheap-{i}"), GOOD).await;
    }
    let config = auth_core::Config {
        bcrypt_cost: 9,
        ..common::config()
    };
    let (auth, _clock) = open_with(&db, config).await;
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..SAMPLES {
        for (name, times) in [
            (format!("cheap-{i}"), &mut known),
            (format!("nobody-{i}"), &mut unknown),
        ] {
            let started = Instant::now();
            assert_wrong(&auth, &name, OTHER).await;
            times.push(started.elapsed());
        }
    }
    known.sort();
    unknown.sort();
    let (known, unknown) = (known[SAMPLES / 2], unknown[SAMPLES / 2]);
    let ratio = known.as_secs_f64() / unknown.as_secs_f64();
    assert!(
        (0.25..4.0).contains(&ratio),
        "wrong password at another cost: {known:?}, unknown name: {unknown:?}"
    );
}
