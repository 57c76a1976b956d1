//! The device check's machine binding, on both backends.

use crate::common;

use auth_core::{AuthError, Identifier, MachineOutcome};
use common::*;

on_both_backends! {
    the_first_check_binds_and_later_ones_know => the_first_check_binds_and_later_ones_know_sqlite, the_first_check_binds_and_later_ones_know_postgres;
    another_machine_is_a_mismatch_and_a_bound_machine_is_taken => another_machine_is_a_mismatch_and_a_bound_machine_is_taken_sqlite, another_machine_is_a_mismatch_and_a_bound_machine_is_taken_postgres;
    wrong_passwords_count_toward_the_throttle_refusals_do_not => wrong_passwords_count_toward_the_throttle_refusals_do_not_sqlite, wrong_passwords_count_toward_the_throttle_refusals_do_not_postgres;
    eight_users_racing_for_one_machine_leave_one_owner => eight_users_racing_for_one_machine_leave_one_owner_sqlite, eight_users_racing_for_one_machine_leave_one_owner_postgres;
    the_cache_answers_without_a_hash_until_something_changes => the_cache_answers_without_a_hash_until_something_changes_sqlite, the_cache_answers_without_a_hash_until_something_changes_postgres;
    unbinding_frees_both_sides => unbinding_frees_both_sides_sqlite, unbinding_frees_both_sides_postgres;
}

const LAPTOP: &str = "laptop-0123456789abcdef";
const DESKTOP: &str = "desktop-0123456789abcdef";

async fn check(
    auth: &auth_core::Auth,
    username: &str,
    password: &str,
    machine: &str,
) -> Result<MachineOutcome, AuthError> {
    auth.check_machine(username, &pw(password), machine, &client())
        .await
        .map(|c| {
            assert_eq!(c.username, username);
            c.outcome
        })
}

/// Asserts that each `(username, password, machine)` check is refused as
/// `expected` says.
async fn assert_refused(
    auth: &auth_core::Auth,
    cases: &[(&str, &str, &str)],
    expected: fn(&AuthError) -> bool,
) {
    for &(username, password, machine) in cases {
        let result = check(auth, username, password, machine).await;
        assert!(
            matches!(&result, Err(error) if expected(error)),
            "{username} with {password:?} on {machine}: {result:?}"
        );
    }
}

fn mismatch(error: &AuthError) -> bool {
    matches!(error, AuthError::MachineMismatch)
}

fn taken(error: &AuthError) -> bool {
    matches!(error, AuthError::MachineTaken)
}

fn invalid(error: &AuthError) -> bool {
    matches!(error, AuthError::InvalidCredentials)
}

async fn the_first_check_binds_and_later_ones_know(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    register(&auth, "kvothe", GOOD).await;
    assert_eq!(
        check(&auth, "kvothe", GOOD, LAPTOP).await.unwrap(),
        MachineOutcome::Bound
    );
    assert_eq!(
        check(&auth, "kvothe", GOOD, LAPTOP).await.unwrap(),
        MachineOutcome::Known
    );
    // Names are case-insensitive; the answer names the account as registered.
    let checked = auth
        .check_machine("KVOTHE", &pw(GOOD), LAPTOP, &client())
        .await
        .unwrap();
    assert_eq!(
        (checked.username.as_str(), checked.outcome),
        ("kvothe", MachineOutcome::Known)
    );
    // A bad machine ID never reaches the database.
    assert!(matches!(
        auth.check_machine("kvothe", &pw(GOOD), "short", &client())
            .await,
        Err(AuthError::InvalidField {
            field: "machine_id",
            ..
        })
    ));
}

async fn another_machine_is_a_mismatch_and_a_bound_machine_is_taken(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    register(&auth, "kvothe", GOOD).await;
    register(&auth, "denna", GOOD).await;
    check(&auth, "kvothe", GOOD, LAPTOP).await.unwrap();
    assert_refused(&auth, &[("kvothe", GOOD, DESKTOP)], mismatch).await;
    assert_refused(&auth, &[("denna", GOOD, LAPTOP)], taken).await;
    // The machine rules are only revealed to a caller who proved the password.
    assert_refused(
        &auth,
        &[
            ("denna", OTHER, LAPTOP),
            ("kvothe", OTHER, DESKTOP),
            ("nobody", GOOD, DESKTOP),
        ],
        invalid,
    )
    .await;
    // denna may still bind a machine of her own.
    assert_eq!(
        check(&auth, "denna", GOOD, DESKTOP).await.unwrap(),
        MachineOutcome::Bound
    );
}

async fn wrong_passwords_count_toward_the_throttle_refusals_do_not(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    register(&auth, "kvothe", GOOD).await;
    register(&auth, "denna", GOOD).await;
    check(&auth, "kvothe", GOOD, LAPTOP).await.unwrap();
    for _ in 0..10 {
        assert_refused(&auth, &[("kvothe", GOOD, DESKTOP)], mismatch).await;
        assert_refused(&auth, &[("denna", GOOD, LAPTOP)], taken).await;
    }
    login(&auth, "kvothe", GOOD)
        .await
        .expect("refusals did not throttle kvothe");
    login(&auth, "denna", GOOD)
        .await
        .expect("refusals did not throttle denna");
    for _ in 0..5 {
        assert_refused(&auth, &[("kvothe", OTHER, LAPTOP)], invalid).await;
    }
    // The same per-account count as the login's.
    assert!(matches!(
        login(&auth, "kvothe", GOOD).await,
        Err(AuthError::Throttled { .. })
    ));
    assert!(matches!(
        check(&auth, "kvothe", GOOD, LAPTOP).await,
        Err(AuthError::Throttled { .. })
    ));
}

async fn eight_users_racing_for_one_machine_leave_one_owner(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    for i in 0..8 {
        register(&auth, &format!("racer{i}"), GOOD).await;
    }
    let racers = (0..8).map(|i| {
        let auth = auth.clone();
        tokio::spawn(async move {
            auth.check_machine(&format!("racer{i}"), &pw(GOOD), LAPTOP, &client())
                .await
        })
    });
    let mut bound = 0;
    let mut taken = 0;
    for racer in racers.collect::<Vec<_>>() {
        match racer.await.unwrap() {
            Ok(check) if check.outcome == MachineOutcome::Bound => bound += 1,
            Err(AuthError::MachineTaken) => taken += 1,
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!((bound, taken), (1, 7));
}

async fn the_cache_answers_without_a_hash_until_something_changes(db: TestDb) {
    let (auth, clock) = open(&db).await;
    register(&auth, "kvothe", GOOD).await;
    check(&auth, "kvothe", GOOD, LAPTOP).await.unwrap();
    let hashes = auth.hashes_done();
    for _ in 0..5 {
        assert_eq!(
            check(&auth, "kvothe", GOOD, LAPTOP).await.unwrap(),
            MachineOutcome::Known
        );
    }
    assert_eq!(auth.hashes_done(), hashes, "cache hits cost no hash");
    assert_eq!(auth.check_cache_hits(), 5);
    // A wrong password is never answered from the cache.
    assert_refused(&auth, &[("kvothe", OTHER, LAPTOP)], invalid).await;

    // After 60 seconds the triple is verified again.
    clock.advance(60);
    check(&auth, "kvothe", GOOD, LAPTOP).await.unwrap();
    assert!(auth.hashes_done() > hashes + 1);

    // A password change forgets it at once, from any Auth on the database.
    let (other_server, _) = open(&db).await;
    other_server
        .set_password(
            &Identifier::Username("kvothe".into()),
            &pw(OTHER),
            &client(),
        )
        .await
        .unwrap();
    assert_refused(&auth, &[("kvothe", GOOD, LAPTOP)], invalid).await;
    assert_eq!(
        check(&auth, "kvothe", OTHER, LAPTOP).await.unwrap(),
        MachineOutcome::Known
    );
}

async fn unbinding_frees_both_sides(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    register(&auth, "kvothe", GOOD).await;
    register(&auth, "denna", GOOD).await;
    check(&auth, "kvothe", GOOD, LAPTOP).await.unwrap();
    check(&auth, "kvothe", GOOD, LAPTOP).await.unwrap(); // now cached
    let kvothe = Identifier::Username("kvothe".into());
    assert!(auth.unbind_machine(&kvothe, &client()).await.unwrap());
    assert!(!auth.unbind_machine(&kvothe, &client()).await.unwrap());
    // The cached triple no longer holds: the laptop is free, and binds anew.
    assert_eq!(
        check(&auth, "denna", GOOD, LAPTOP).await.unwrap(),
        MachineOutcome::Bound
    );
    assert_refused(&auth, &[("kvothe", GOOD, LAPTOP)], taken).await;
    assert_eq!(
        check(&auth, "kvothe", GOOD, DESKTOP).await.unwrap(),
        MachineOutcome::Bound
    );
    assert!(matches!(
        auth.unbind_machine(&Identifier::Username("nobody".into()), &client())
            .await,
        Err(AuthError::UnknownAccount)
    ));
}
