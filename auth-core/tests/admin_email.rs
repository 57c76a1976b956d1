//! Where the admin API (docs/contract/11-access-tokens-and-admin-api.md)
//! meets owning an address (docs/contract/10-email.md), on both backends:
//! an address an operator sets starts unverified and gets its link; an
//! account an operator makes without a password gets its reset link.

use crate::common;
use crate::email::Recorder;

use std::sync::Arc;

use auth_core::{AccountChanges, Auth, Config, Identifier, Registration};
use common::*;

on_both_backends! {
    an_address_set_by_an_operator_starts_unverified => an_address_set_by_an_operator_starts_unverified_sqlite, an_address_set_by_an_operator_starts_unverified_postgres;
    an_account_made_by_an_operator_gets_its_reset_link => an_account_made_by_an_operator_gets_its_reset_link_sqlite, an_account_made_by_an_operator_gets_its_reset_link_postgres;
}

async fn open_recorded(db: &TestDb) -> (Auth, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let (auth, _clock) = open_with(
        db,
        Config {
            notifier: recorder.clone(),
            ..config()
        },
    )
    .await;
    (auth, recorder)
}

async fn settle(done: impl Fn() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the background delivery did not happen");
}

fn new_address(email: &str) -> AccountChanges {
    AccountChanges {
        email: Some(Some(email.into())),
        ..AccountChanges::default()
    }
}

async fn an_address_set_by_an_operator_starts_unverified(db: TestDb) {
    let (auth, recorder) = open_recorded(&db).await;
    let registration = Registration {
        username: Some("bob".into()),
        email: Some("bob@old.example".into()),
        password: pw(GOOD),
        ..Registration::default()
    };
    auth.register_user(registration, &client()).await.unwrap();
    settle(|| !recorder.links.lock().unwrap().is_empty()).await;
    let token = recorder.link_for("bob@old.example");
    assert!(
        auth.verify_email(&token, &client())
            .await
            .unwrap()
            .email_verified
    );
    let bob = Identifier::Any("bob".into());

    // Another spelling of the same address keeps it verified.
    let same = auth
        .update_account(&bob, new_address("BOB@old.example"), &client())
        .await
        .unwrap();
    assert!(same.email_verified, "a change of case is the same address");

    // Another address is not proved by the old one's link.
    let moved = auth
        .update_account(&bob, new_address("bob@new.example"), &client())
        .await
        .unwrap();
    assert_eq!(moved.email.as_deref(), Some("bob@new.example"));
    assert!(
        !moved.email_verified,
        "an operator's address starts unverified"
    );
    let shown = auth.find_user(&bob).await.unwrap().unwrap();
    assert!(!shown.email_verified);
    settle(|| {
        recorder
            .links
            .lock()
            .unwrap()
            .iter()
            .any(|(to, _)| to == "bob@new.example")
    })
    .await;
    let token = recorder.link_for("bob@new.example");
    let verified = auth.verify_email(&token, &client()).await.unwrap();
    assert_eq!(verified.email.as_deref(), Some("bob@new.example"));
    assert!(verified.email_verified);
}

async fn an_account_made_by_an_operator_gets_its_reset_link(db: TestDb) {
    let (auth, recorder) = open_recorded(&db).await;
    let registration = Registration {
        username: Some("carol".into()),
        email: Some("carol@example.com".into()),
        ..Registration::default()
    };
    let carol = auth
        .register_with_reset_link(registration, &client())
        .await
        .unwrap();
    assert!(!carol.email_verified);
    assert_eq!(
        recorder.resets.lock().unwrap().len(),
        1,
        "the operator's reset link went out"
    );
    // Anyone else asking for a reset of the unverified address gets nothing sent.
    auth.send_password_reset(&Identifier::Any("carol".into()), &client())
        .await
        .unwrap();
    assert_eq!(recorder.resets.lock().unwrap().len(), 1);
}
