//! Owning an e-mail address (docs/contract/10-email.md), on both backends:
//! single-use links, one verified owner per address when two accounts race,
//! unverified claims released, resets only to verified addresses, the
//! change of address racing a reset, notices, breached passwords at login.

use crate::common;

use std::sync::{Arc, Mutex};

use auth_core::{
    Auth, AuthError, Config, Delivery, Identifier, IdentifierKind, NoticeMessage, Notifier,
    Registration, ResetMessage, VerificationMessage,
};
use common::*;

on_both_backends! {
    a_link_verifies_once_even_when_used_twice_at_once => a_link_verifies_once_even_when_used_twice_at_once_sqlite, a_link_verifies_once_even_when_used_twice_at_once_postgres;
    two_accounts_racing_for_one_address_make_one_owner => two_accounts_racing_for_one_address_make_one_owner_sqlite, two_accounts_racing_for_one_address_make_one_owner_postgres;
    a_pre_registered_address_is_released_to_its_owner => a_pre_registered_address_is_released_to_its_owner_sqlite, a_pre_registered_address_is_released_to_its_owner_postgres;
    resets_go_only_to_verified_addresses => resets_go_only_to_verified_addresses_sqlite, resets_go_only_to_verified_addresses_postgres;
    a_change_of_address_voids_a_reset_link_of_the_old_one => a_change_of_address_voids_a_reset_link_of_the_old_one_sqlite, a_change_of_address_voids_a_reset_link_of_the_old_one_postgres;
    logins_wait_for_verification_when_required => logins_wait_for_verification_when_required_sqlite, logins_wait_for_verification_when_required_postgres;
    notices_go_to_the_verified_address_once => notices_go_to_the_verified_address_once_sqlite, notices_go_to_the_verified_address_once_postgres;
    the_operator_vouches_for_an_address => the_operator_vouches_for_an_address_sqlite, the_operator_vouches_for_an_address_postgres;
}

/// What a notifier was given: verification tokens by address, notices by
/// (address, kind), reset tokens by account.
#[derive(Debug, Default)]
pub struct Recorder {
    pub links: Mutex<Vec<(String, String)>>,
    pub notices: Mutex<Vec<(String, String)>>,
    pub resets: Mutex<Vec<String>>,
}

impl Recorder {
    /// The last verification token sent to `address`.
    pub fn link_for(&self, address: &str) -> String {
        self.links
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(to, _)| to == address)
            .map(|(_, token)| token.clone())
            .unwrap_or_else(|| panic!("no link for {address}"))
    }

    pub fn notices(&self) -> Vec<(String, String)> {
        self.notices.lock().unwrap().clone()
    }
}

impl Notifier for Recorder {
    fn needs_address(&self) -> bool {
        true
    }

    fn deliver_reset<'a>(&'a self, message: ResetMessage<'a>) -> Delivery<'a> {
        self.resets.lock().unwrap().push(message.account.to_owned());
        Box::pin(std::future::ready(Ok(())))
    }

    fn deliver_verification<'a>(&'a self, message: VerificationMessage<'a>) -> Delivery<'a> {
        self.links.lock().unwrap().push((
            message.address.to_owned(),
            message.token.expose().to_owned(),
        ));
        Box::pin(std::future::ready(Ok(())))
    }

    fn deliver_notice<'a>(&'a self, message: NoticeMessage<'a>) -> Delivery<'a> {
        self.notices
            .lock()
            .unwrap()
            .push((message.address.to_owned(), message.event.kind().to_owned()));
        Box::pin(std::future::ready(Ok(())))
    }
}

async fn open_recorded(db: &TestDb, config: Config) -> (Auth, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let (auth, _clock) = open_with(
        db,
        Config {
            notifier: recorder.clone(),
            ..config
        },
    )
    .await;
    (auth, recorder)
}

/// Background deliveries are spawned: wait until `done` holds.
async fn settle(done: impl Fn() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the background delivery did not happen");
}

fn both(username: &str, email: &str) -> Registration {
    Registration {
        username: Some(username.into()),
        email: Some(email.into()),
        password: pw(GOOD),
        ..Registration::default()
    }
}

async fn a_link_verifies_once_even_when_used_twice_at_once(db: TestDb) {
    let (auth, recorder) = open_recorded(&db, config()).await;
    let user = auth
        .register_user(both("bob", "Bob@Example.com"), &client())
        .await
        .unwrap();
    assert!(!user.email_verified);
    settle(|| !recorder.links.lock().unwrap().is_empty()).await;
    let token = recorder.link_for("Bob@Example.com");
    // A GET of the link finds it without using it.
    let (holder, address) = auth.email_token_holder(&token).await.unwrap().unwrap();
    assert_eq!(
        (holder.id.as_str(), address.as_str()),
        (user.id.as_str(), "Bob@Example.com")
    );
    let c = client();
    let (a, b) = tokio::join!(auth.verify_email(&token, &c), auth.verify_email(&token, &c));
    let wins = [&a, &b].iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "{a:?} {b:?}");
    for result in [a, b] {
        match result {
            Ok(user) => assert!(user.email_verified),
            Err(error) => assert!(matches!(error, AuthError::InvalidEmailToken), "{error:?}"),
        }
    }
    // Used: gone, also for a GET; garbage is no token.
    assert!(auth.email_token_holder(&token).await.unwrap().is_none());
    assert!(matches!(
        auth.verify_email(&token, &client()).await,
        Err(AuthError::InvalidEmailToken)
    ));
    assert!(matches!(
        auth.verify_email("not a token", &client()).await,
        Err(AuthError::InvalidEmailToken)
    ));
    let found = auth
        .find_user(&Identifier::Username("bob".into()))
        .await
        .unwrap()
        .unwrap();
    assert!(found.email_verified);
}

async fn two_accounts_racing_for_one_address_make_one_owner(db: TestDb) {
    let (auth, recorder) = open_recorded(&db, config()).await;
    for round in 0..4 {
        let (a, b) = (format!("ann{round}"), format!("ben{round}"));
        let address = format!("shared{round}@example.com");
        register(&auth, &a, GOOD).await;
        register(&auth, &b, GOOD).await;
        let sa = login(&auth, &a, GOOD).await.unwrap();
        let sb = login(&auth, &b, GOOD).await.unwrap();
        // Both ask for the address, in two spellings of it.
        auth.change_email(sa.token.expose(), &pw(GOOD), &address, &client())
            .await
            .unwrap();
        let ta = recorder_token(&recorder, &address).await;
        auth.change_email(
            sb.token.expose(),
            &pw(GOOD),
            &address.to_uppercase(),
            &client(),
        )
        .await
        .unwrap();
        let tb = recorder_token(&recorder, &address.to_uppercase()).await;
        let c = client();
        let (ra, rb) = tokio::join!(auth.verify_email(&ta, &c), auth.verify_email(&tb, &c));
        let owners: Vec<_> = [&ra, &rb]
            .into_iter()
            .filter_map(|r| r.as_ref().ok())
            .collect();
        assert!(owners.len() <= 1, "round {round}: {ra:?} {rb:?}");
        assert_eq!(
            owners.len(),
            1,
            "round {round}: one of them wins: {ra:?} {rb:?}"
        );
        for result in [&ra, &rb] {
            if let Err(error) = result {
                assert!(
                    matches!(
                        error,
                        AuthError::AlreadyRegistered(IdentifierKind::Email)
                            | AuthError::InvalidEmailToken
                    ),
                    "{error:?}"
                );
            }
        }
        let found = auth
            .find_user(&Identifier::Email(address.clone()))
            .await
            .unwrap()
            .unwrap();
        assert!(found.email_verified);
        assert_eq!(found.id, owners[0].id);
    }
}

async fn recorder_token(recorder: &Recorder, address: &str) -> String {
    settle(|| {
        recorder
            .links
            .lock()
            .unwrap()
            .iter()
            .any(|(to, _)| to == address)
    })
    .await;
    recorder.link_for(address)
}

async fn a_pre_registered_address_is_released_to_its_owner(db: TestDb) {
    let (auth, recorder) = open_recorded(&db, config()).await;
    // Mallory signs up with the victim's address first.
    auth.register_user(both("mallory", "victim@example.com"), &client())
        .await
        .unwrap();
    // It reaches nothing: no reset, no verified claim.
    let before = recorder.resets.lock().unwrap().len();
    auth.send_password_reset(&Identifier::Username("mallory".into()), &client())
        .await
        .unwrap();
    assert_eq!(
        recorder.resets.lock().unwrap().len(),
        before,
        "no reset mail"
    );
    // The victim cannot sign up with it while it is claimed ...
    assert!(matches!(
        auth.register_user(both("victim", "victim@example.com"), &client())
            .await,
        Err(AuthError::AlreadyRegistered(IdentifierKind::Email))
    ));
    // ... but can take it with a username account and the link.
    register(&auth, "victim", GOOD).await;
    let session = login(&auth, "victim", GOOD).await.unwrap();
    auth.change_email(
        session.token.expose(),
        &pw(GOOD),
        "VICTIM@example.com",
        &client(),
    )
    .await
    .unwrap();
    let token = recorder_token(&recorder, "VICTIM@example.com").await;
    let victim = auth.verify_email(&token, &client()).await.unwrap();
    assert!(victim.email_verified);
    assert_eq!(victim.email.as_deref(), Some("VICTIM@example.com"));
    let mallory = auth
        .find_user(&Identifier::Username("mallory".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mallory.email, None, "the unverified claim is released");
    // Mallory's old link for the address is void too.
    let mallory_link = recorder.link_for("victim@example.com");
    assert!(auth.verify_email(&mallory_link, &client()).await.is_err());
    // A verified address cannot be claimed by a sign-up, nor a change.
    assert!(matches!(
        auth.register_user(both("eve", "victim@example.com"), &client())
            .await,
        Err(AuthError::AlreadyRegistered(IdentifierKind::Email))
    ));
    let mallory_session = login(&auth, "mallory", GOOD).await.unwrap();
    assert!(matches!(
        auth.change_email(
            mallory_session.token.expose(),
            &pw(GOOD),
            "victim@EXAMPLE.com",
            &client()
        )
        .await,
        Err(AuthError::AlreadyRegistered(IdentifierKind::Email))
    ));
}

async fn resets_go_only_to_verified_addresses(db: TestDb) {
    let (auth, recorder) = open_recorded(&db, config()).await;
    auth.register_user(both("bob", "bob@example.com"), &client())
        .await
        .unwrap();
    let unverified = auth
        .send_password_reset(&Identifier::Email("bob@example.com".into()), &client())
        .await
        .unwrap();
    assert_eq!(unverified.username.as_deref(), Some("bob"));
    assert!(recorder.resets.lock().unwrap().is_empty());
    let token = recorder_token(&recorder, "bob@example.com").await;
    auth.verify_email(&token, &client()).await.unwrap();
    auth.send_password_reset(&Identifier::Email("bob@example.com".into()), &client())
        .await
        .unwrap();
    assert_eq!(recorder.resets.lock().unwrap().as_slice(), ["bob"]);
}

async fn a_change_of_address_voids_a_reset_link_of_the_old_one(db: TestDb) {
    let (auth, recorder) = open_recorded(&db, config()).await;
    auth.register_user(both("bob", "old@example.com"), &client())
        .await
        .unwrap();
    let token = recorder_token(&recorder, "old@example.com").await;
    auth.verify_email(&token, &client()).await.unwrap();
    let session = login(&auth, "bob", GOOD).await.unwrap();
    // A reset token goes to the old address; then the address changes.
    let (_, reset) = auth
        .get_reset_password_token(&Identifier::Username("bob".into()), &client())
        .await
        .unwrap();
    auth.change_email(
        session.token.expose(),
        &pw(GOOD),
        "new@example.com",
        &client(),
    )
    .await
    .unwrap();
    // Until the new address is verified, the old one is still the account's.
    let still = auth
        .find_user(&Identifier::Username("bob".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.email.as_deref(), Some("old@example.com"));
    assert!(still.email_verified);
    let link = recorder_token(&recorder, "new@example.com").await;
    // The reset and the verification race: either the reset lands first
    // (then the link still works), or the change lands first and the reset
    // token of the old address is void. Never both a new address and an
    // old-address reset afterwards.
    let (c, bob, other) = (client(), Identifier::Username("bob".into()), pw(OTHER));
    let (reset_result, verify_result) = tokio::join!(
        auth.update_password(&bob, reset.expose(), &other, &c),
        auth.verify_email(&link, &c)
    );
    let changed = verify_result.expect("the link works either way");
    assert_eq!(changed.email.as_deref(), Some("new@example.com"));
    if reset_result.is_ok() {
        assert!(login(&auth, "bob", OTHER).await.is_ok());
    } else {
        assert!(matches!(reset_result, Err(AuthError::InvalidResetToken)));
    }
    // After the change, the old address's reset token never works.
    assert!(auth
        .update_password(
            &Identifier::Username("bob".into()),
            reset.expose(),
            &pw("yet another long password"),
            &client()
        )
        .await
        .is_err());
    // The old address was told.
    settle(|| {
        recorder
            .notices()
            .contains(&("old@example.com".into(), "email_changed".into()))
    })
    .await;
}

async fn logins_wait_for_verification_when_required(db: TestDb) {
    let (auth, recorder) = open_recorded(
        &db,
        Config {
            require_verified_email: true,
            ..config()
        },
    )
    .await;
    auth.register_user(both("bob", "bob@example.com"), &client())
        .await
        .unwrap();
    settle(|| recorder.links.lock().unwrap().len() == 1).await;
    // A wrong password is the usual answer; a right one says why.
    assert!(matches!(
        login(&auth, "bob", OTHER).await,
        Err(AuthError::InvalidCredentials)
    ));
    assert!(matches!(
        login(&auth, "bob", GOOD).await,
        Err(AuthError::EmailUnverified)
    ));
    // ... and a new link went out with it.
    settle(|| recorder.links.lock().unwrap().len() == 2).await;
    let token = recorder.link_for("bob@example.com");
    auth.verify_email(&token, &client()).await.unwrap();
    assert!(login(&auth, "bob", GOOD).await.is_ok());
    // An account without an address has nothing to verify.
    register(&auth, "kvothe", GOOD).await;
    assert!(login(&auth, "kvothe", GOOD).await.is_ok());
}

async fn notices_go_to_the_verified_address_once(db: TestDb) {
    let (auth, recorder) = open_recorded(&db, config()).await;
    auth.register_user(both("bob", "bob@example.com"), &client())
        .await
        .unwrap();
    // Unverified: a password change tells nobody.
    let session = login(&auth, "bob", GOOD).await.unwrap();
    let session = auth
        .change_password(session.token.expose(), &pw(GOOD), &pw(OTHER), &client())
        .await
        .unwrap();
    let token = recorder_token(&recorder, "bob@example.com").await;
    auth.verify_email(&token, &client()).await.unwrap();
    auth.change_password(session.token.expose(), &pw(OTHER), &pw(GOOD), &client())
        .await
        .unwrap();
    // A login from a user agent the account has no session of is a new device.
    let phone = auth_core::ClientInfo {
        user_agent: Some("Phone/1.0".into()),
        ..client()
    };
    auth.login(&Identifier::Username("bob".into()), &pw(GOOD), None, &phone)
        .await
        .unwrap();
    auth.login(&Identifier::Username("bob".into()), &pw(GOOD), None, &phone)
        .await
        .unwrap();
    settle(|| recorder.notices().len() >= 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        recorder.notices(),
        [
            ("bob@example.com".to_owned(), "password_changed".to_owned()),
            ("bob@example.com".to_owned(), "new_device".to_owned()),
        ]
    );
}

async fn the_operator_vouches_for_an_address(db: TestDb) {
    let (auth, recorder) = open_recorded(&db, config()).await;
    auth.register_user(both("bob", "bob@example.com"), &client())
        .await
        .unwrap();
    let token = recorder_token(&recorder, "bob@example.com").await;
    let user = auth
        .mark_email_verified(&Identifier::Any("BOB".into()), &client())
        .await
        .unwrap();
    assert!(user.email_verified);
    // The link still works once (it proves the same address).
    assert!(auth.verify_email(&token, &client()).await.is_ok());
    register(&auth, "kvothe", GOOD).await;
    assert!(matches!(
        auth.mark_email_verified(&Identifier::Any("kvothe".into()), &client())
            .await,
        Err(AuthError::InvalidField { field: "email", .. })
    ));
    assert!(matches!(
        auth.mark_email_verified(&Identifier::Any("nobody".into()), &client())
            .await,
        Err(AuthError::UnknownAccount)
    ));
}
