//! Requests racing each other, on both backends (docs/contract/3-json-api.md "Consistency under
//! concurrency"). Each scenario asserts outcomes, never timings.
//!
//! To put a password change inside a login's password check every time, the
//! account's hash is made at a higher bcrypt cost than the racing change
//! needs: the login's check then takes tens of milliseconds while the change
//! (a hash at cost 4) commits in a few.

use crate::common;

use std::time::Duration;

use auth_core::{Auth, AuthError, Config, Identifier, MachineOutcome, Registration};
use common::*;

on_both_backends! {
    right_passwords_in_parallel_all_succeed => right_passwords_in_parallel_all_succeed_sqlite, right_passwords_in_parallel_all_succeed_postgres;
    wrong_passwords_in_parallel_get_five_hashes => wrong_passwords_in_parallel_get_five_hashes_sqlite, wrong_passwords_in_parallel_get_five_hashes_postgres;
    a_login_racing_a_reset_leaves_no_session => a_login_racing_a_reset_leaves_no_session_sqlite, a_login_racing_a_reset_leaves_no_session_postgres;
    a_login_racing_a_change_leaves_no_session => a_login_racing_a_change_leaves_no_session_sqlite, a_login_racing_a_change_leaves_no_session_postgres;
    a_login_racing_an_operator_set_leaves_no_session => a_login_racing_an_operator_set_leaves_no_session_sqlite, a_login_racing_an_operator_set_leaves_no_session_postgres;
    a_device_check_racing_a_reset_binds_nothing => a_device_check_racing_a_reset_binds_nothing_sqlite, a_device_check_racing_a_reset_binds_nothing_postgres;
    concurrent_changes_on_one_session_one_wins => concurrent_changes_on_one_session_one_wins_sqlite, concurrent_changes_on_one_session_one_wins_postgres;
    racing_sign_ups_across_fields_make_one_account => racing_sign_ups_across_fields_make_one_account_sqlite, racing_sign_ups_across_fields_make_one_account_postgres;
}

/// The cost of the racing account's hash: slow enough that a change at cost 4
/// always commits while the login's check still runs.
const SLOW_COST: u32 = 11;

/// A service whose hashes take long (for registering the racing account).
async fn slow(db: &TestDb) -> Auth {
    open_with(
        db,
        Config {
            bcrypt_cost: SLOW_COST,
            ..config()
        },
    )
    .await
    .0
}

/// Runs `change` a moment after a login with `GOOD` has started its check,
/// and returns the login's outcome.
async fn login_during<F>(auth: &Auth, name: &str, change: F) -> Result<String, AuthError>
where
    F: std::future::Future<Output = ()>,
{
    let login = {
        let (auth, name) = (auth.clone(), name.to_owned());
        tokio::spawn(async move { login(&auth, &name, GOOD).await })
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    change.await;
    login
        .await
        .unwrap()
        .map(|success| success.token.expose().to_owned())
}

/// Whatever the login answered, no session made with the old password works.
async fn assert_no_working_session(auth: &Auth, outcome: Result<String, AuthError>) {
    match outcome {
        Ok(token) => assert_eq!(
            signed_in_as(auth, &token).await,
            None,
            "a login with the old password left a working session"
        ),
        Err(error) => assert!(
            matches!(error, AuthError::InvalidCredentials),
            "the stale login should fail as a wrong password does: {error:?}"
        ),
    }
    assert!(matches!(
        login(auth, "racer", GOOD).await,
        Err(AuthError::InvalidCredentials)
    ));
}

async fn right_passwords_in_parallel_all_succeed(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    register(&auth, "busy", GOOD).await;
    let logins: Vec<_> = (0..16)
        .map(|i| {
            let auth = auth.clone();
            // Every spelling of the name is the same account.
            let name = if i % 2 == 0 { "busy" } else { "BUSY" };
            tokio::spawn(async move { login(&auth, name, GOOD).await })
        })
        .collect();
    for login in logins {
        let outcome = login.await.unwrap();
        assert!(outcome.is_ok(), "a right password was refused: {outcome:?}");
    }
}

async fn wrong_passwords_in_parallel_get_five_hashes(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    register(&auth, "target", GOOD).await;
    let hashes_before = auth.hashes_done();
    let guesses: Vec<_> = (0..20)
        .map(|i| {
            let auth = auth.clone();
            tokio::spawn(async move {
                let identifier = if i % 2 == 0 {
                    Identifier::Username("target".into())
                } else {
                    Identifier::Any("TARGET".into())
                };
                auth.login(&identifier, &pw(&format!("{OTHER} {i}")), None, &client())
                    .await
            })
        })
        .collect();
    let (mut wrong, mut throttled) = (0, 0);
    for guess in guesses {
        match guess.await.unwrap() {
            Err(AuthError::InvalidCredentials) => wrong += 1,
            Err(AuthError::Throttled { .. }) => throttled += 1,
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!((wrong, throttled), (5, 15));
    assert_eq!(
        auth.hashes_done() - hashes_before,
        5,
        "five guesses checked"
    );
}

async fn a_login_racing_a_reset_leaves_no_session(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    register(&slow(&db).await, "racer", GOOD).await;
    let racer = Identifier::Username("racer".into());
    let (_, token) = auth
        .get_reset_password_token(&racer, &client())
        .await
        .unwrap();
    let outcome = login_during(&auth, "racer", async {
        auth.update_password(&racer, token.expose(), &pw(OTHER), &client())
            .await
            .unwrap();
    })
    .await;
    assert_no_working_session(&auth, outcome).await;
    login(&auth, "racer", OTHER).await.unwrap();
}

async fn a_login_racing_a_change_leaves_no_session(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let slow = slow(&db).await;
    register(&slow, "racer", GOOD).await;
    // Signed in on the slow server, which keeps the slow hash (a login on
    // the cost-4 one would rehash it at cost 4).
    let session = login(&slow, "racer", GOOD).await.unwrap();
    // The change checks the current (slow) password too, so it starts first
    // and the login joins while that check runs: the change then commits
    // while the login's own check is still under way.
    let change = {
        let (auth, token) = (auth.clone(), session.token.expose().to_owned());
        tokio::spawn(async move {
            auth.change_password(&token, &pw(GOOD), &pw(OTHER), &client())
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let outcome = login(&auth, "racer", GOOD)
        .await
        .map(|success| success.token.expose().to_owned());
    change.await.unwrap().unwrap();
    assert_no_working_session(&auth, outcome).await;
    login(&auth, "racer", OTHER).await.unwrap();
}

async fn a_login_racing_an_operator_set_leaves_no_session(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    register(&slow(&db).await, "racer", GOOD).await;
    let outcome = login_during(&auth, "racer", async {
        auth.set_password(&Identifier::Username("racer".into()), &pw(OTHER), &client())
            .await
            .unwrap();
    })
    .await;
    assert_no_working_session(&auth, outcome).await;
    login(&auth, "racer", OTHER).await.unwrap();
}

async fn a_device_check_racing_a_reset_binds_nothing(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    register(&slow(&db).await, "racer", GOOD).await;
    let racer = Identifier::Username("racer".into());
    let (_, token) = auth
        .get_reset_password_token(&racer, &client())
        .await
        .unwrap();
    let check = {
        let auth = auth.clone();
        tokio::spawn(async move {
            auth.check_machine("racer", &pw(GOOD), "machine-of-racer-01", &client())
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    auth.update_password(&racer, token.expose(), &pw(OTHER), &client())
        .await
        .unwrap();
    let outcome = check.await.unwrap();
    assert!(
        matches!(outcome, Err(AuthError::InvalidCredentials)),
        "a check with the old password must fail: {outcome:?}"
    );
    // Nothing was bound or remembered: the old password fails, the new one binds.
    let again = auth
        .check_machine("racer", &pw(GOOD), "machine-of-racer-01", &client())
        .await;
    assert!(matches!(again, Err(AuthError::InvalidCredentials)));
    let user = auth.find_user(&racer).await.unwrap().unwrap();
    assert_eq!(auth.machine_of(&user).await.unwrap(), None);
    let check = auth
        .check_machine("racer", &pw(OTHER), "machine-of-racer-01", &client())
        .await
        .unwrap();
    assert_eq!(check.outcome, MachineOutcome::Bound);
}

async fn concurrent_changes_on_one_session_one_wins(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    register(&auth, "changer", GOOD).await;
    let session = login(&auth, "changer", GOOD).await.unwrap();
    let new_passwords: Vec<String> = (0..5).map(|i| format!("{OTHER} number {i}")).collect();
    let changes: Vec<_> = new_passwords
        .iter()
        .map(|new| {
            let (auth, token, new) = (auth.clone(), session.token.expose().to_owned(), new.clone());
            tokio::spawn(async move {
                auth.change_password(&token, &pw(GOOD), &pw(&new), &client())
                    .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for (i, change) in changes.into_iter().enumerate() {
        match change.await.unwrap() {
            Ok(_) => winners.push(i),
            Err(AuthError::NotAuthenticated) => {}
            other => panic!("a losing change must find its session ended: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one change succeeds");
    for (i, new) in new_passwords.iter().enumerate() {
        let works = login(&auth, "changer", new).await.is_ok();
        assert_eq!(works, winners.contains(&i), "password {i}");
    }
}

async fn racing_sign_ups_across_fields_make_one_account(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    // The same name as a username and as an e-mail, in other case and
    // with the accent composed or not.
    let spellings = [
        (Some("x@ex.com"), None),
        (None, Some("X@EX.COM")),
        (Some("X@ex.com"), Some("other@ex.com")),
        (None, Some("x@EX.com")),
    ];
    let accented = [
        (None, Some("j\u{e9}r\u{f4}me@ex.com")),
        (None, Some("JE\u{301}RO\u{302}ME@EX.COM")),
    ];
    for round in [&spellings[..], &accented[..]] {
        let sign_ups: Vec<_> = round
            .iter()
            .map(|&(username, email)| {
                let auth = auth.clone();
                let registration = Registration {
                    username: username.map(str::to_owned),
                    email: email.map(str::to_owned),
                    password: pw(GOOD),
                    ..Registration::default()
                };
                tokio::spawn(async move { auth.register_user(registration, &client()).await })
            })
            .collect();
        let mut made = 0;
        for sign_up in sign_ups {
            match sign_up.await.unwrap() {
                Ok(_) => made += 1,
                Err(AuthError::AlreadyRegistered(_)) => {}
                other => panic!("unexpected outcome {other:?}"),
            }
        }
        assert_eq!(made, 1, "one name, one account");
    }
    assert_eq!(auth.list_users().await.unwrap().len(), 2);
}
