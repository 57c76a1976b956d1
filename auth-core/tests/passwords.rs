//! Password resets and password changes, on both backends.

use crate::common;

use auth_core::{
    Auth, AuthError, Identifier, IdentifierKind, PasswordRule, Registration, ResetToken,
};
use common::*;

on_both_backends! {
    reset_token_lifecycle => reset_token_lifecycle_sqlite, reset_token_lifecycle_postgres;
    reset_ends_sessions_and_clears_the_throttle => reset_ends_sessions_and_clears_the_throttle_sqlite, reset_ends_sessions_and_clears_the_throttle_postgres;
    change_password_replaces_every_session => change_password_replaces_every_session_sqlite, change_password_replaces_every_session_postgres;
    change_password_of_a_mail_only_account => change_password_of_a_mail_only_account_sqlite, change_password_of_a_mail_only_account_postgres;
}

fn user(name: &str) -> Identifier {
    Identifier::Username(name.into())
}

/// A reset token for the named account.
async fn reset_token(auth: &Auth, name: &str) -> ResetToken {
    let (_, token) = auth
        .get_reset_password_token(&user(name), &client())
        .await
        .unwrap();
    token
}

/// Asserts that this token no longer (or never did) reset the account's password.
async fn assert_reset_refused(auth: &Auth, name: &str, token: &str, what: &str) {
    let refused = auth
        .update_password(&user(name), token, &pw(GOOD), &client())
        .await;
    assert!(
        matches!(refused, Err(AuthError::InvalidResetToken)),
        "{what}: {refused:?}"
    );
}

async fn reset_token_lifecycle(db: TestDb) {
    let (auth, clock) = open(&db).await;
    let kate = register(&auth, "kate", GOOD).await;
    register(&auth, "liam", GOOD).await;

    let unknown = auth
        .get_reset_password_token(&user("nobody"), &client())
        .await;
    assert!(
        matches!(unknown, Err(AuthError::UnknownAccount)),
        "{unknown:?}"
    );

    // Works exactly once.
    let (found, token) = auth
        .get_reset_password_token(&user("KATE"), &client())
        .await
        .unwrap();
    assert_eq!(found.id, kate.id);
    assert_eq!(token.expose().len(), 43);
    auth.update_password(&user("kate"), token.expose(), &pw(OTHER), &client())
        .await
        .unwrap();
    assert_reset_refused(&auth, "kate", token.expose(), "twice").await;
    login(&auth, "kate", OTHER).await.unwrap();

    // Expires.
    let token = reset_token(&auth, "kate").await;
    clock.advance(auth.config().reset_token_ttl.as_secs() as i64);
    assert_reset_refused(&auth, "kate", token.expose(), "expired").await;

    // A newer token voids the older one.
    let old = reset_token(&auth, "kate").await;
    let new = reset_token(&auth, "kate").await;
    assert_ne!(old.expose(), new.expose());
    assert_reset_refused(&auth, "kate", old.expose(), "superseded").await;

    // Another account's token, an unknown account and garbage are refused.
    let liams = reset_token(&auth, "liam").await;
    for (name, presented) in [
        ("kate", liams.expose()),
        ("nobody", new.expose()),
        ("kate", "garbage"),
    ] {
        assert_reset_refused(&auth, name, presented, name).await;
    }

    // A new password that breaks a rule changes nothing and leaves the token usable.
    let weak = auth
        .update_password(&user("kate"), new.expose(), &pw("short"), &client())
        .await;
    assert!(
        matches!(
            weak,
            Err(AuthError::PasswordRejected(PasswordRule::TooShort {
                min: 15
            }))
        ),
        "{weak:?}"
    );
    let common = auth
        .update_password(
            &user("liam"),
            liams.expose(),
            &pw("qwerty123456789"),
            &client(),
        )
        .await;
    assert!(
        matches!(
            common,
            Err(AuthError::PasswordRejected(PasswordRule::TooCommon))
        ),
        "{common:?}"
    );
    auth.update_password(&user("kate"), new.expose(), &pw(GOOD), &client())
        .await
        .unwrap();
    login(&auth, "kate", GOOD).await.unwrap();
    auth.update_password(&user("liam"), liams.expose(), &pw(OTHER), &client())
        .await
        .unwrap();
    login(&auth, "liam", OTHER).await.unwrap();
}

async fn reset_ends_sessions_and_clears_the_throttle(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let registration = Registration {
        username: Some("mia".into()),
        email: Some("mia@example.com".into()),
        password: pw(GOOD),
        ..Registration::default()
    };
    auth.register_user(registration, &client()).await.unwrap();
    let neighbour = register(&auth, "noah", GOOD).await;
    let first = login(&auth, "mia", GOOD).await.unwrap();
    let second = login(&auth, "mia", GOOD).await.unwrap();
    let noahs = login(&auth, "noah", GOOD).await.unwrap();
    // Locked out by five failures, whichever name each one used: one account, one count.
    for attempt in 0..5 {
        let result = if attempt % 2 == 0 {
            login(&auth, "mia", OTHER).await
        } else {
            login_by_email(&auth, "mia@example.com", OTHER).await
        };
        assert!(matches!(result, Err(AuthError::InvalidCredentials)));
    }
    assert!(matches!(
        login(&auth, "mia", GOOD).await,
        Err(AuthError::Throttled { .. })
    ));
    let by_mail_throttled = login_by_email(&auth, "MIA@EXAMPLE.COM", GOOD).await;
    assert!(matches!(
        by_mail_throttled,
        Err(AuthError::Throttled { .. })
    ));

    let by_mail = Identifier::Email("MIA@example.com".into());
    let (_, token) = auth
        .get_reset_password_token(&by_mail, &client())
        .await
        .unwrap();
    auth.update_password(&by_mail, token.expose(), &pw(OTHER), &client())
        .await
        .unwrap();

    assert_eq!(signed_in_as(&auth, first.token.expose()).await, None);
    assert_eq!(signed_in_as(&auth, second.token.expose()).await, None);
    assert_eq!(
        signed_in_as(&auth, noahs.token.expose()).await,
        Some(neighbour.id)
    );
    let old = login_by_email(&auth, "mia@example.com", GOOD).await;
    assert!(matches!(old, Err(AuthError::InvalidCredentials)), "{old:?}");
    login(&auth, "mia", OTHER).await.unwrap();
    // The count under the username was cleared too: five more plain failures.
    for _ in 0..5 {
        assert!(matches!(
            login(&auth, "mia", GOOD).await,
            Err(AuthError::InvalidCredentials)
        ));
    }
    assert!(matches!(
        login(&auth, "mia", OTHER).await,
        Err(AuthError::Throttled { .. })
    ));
}

async fn change_password_replaces_every_session(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    register(&auth, "olga", GOOD).await;
    let neighbour = register(&auth, "pete", GOOD).await;
    let current = login(&auth, "olga", GOOD).await.unwrap();
    let elsewhere = login(&auth, "olga", GOOD).await.unwrap();
    let petes = login(&auth, "pete", GOOD).await.unwrap();
    let token = current.token.expose();

    let wrong = auth
        .change_password(token, &pw(OTHER), &pw(OTHER), &client())
        .await;
    assert!(
        matches!(wrong, Err(AuthError::InvalidCredentials)),
        "{wrong:?}"
    );
    let weak = auth
        .change_password(token, &pw(GOOD), &pw(""), &client())
        .await;
    assert!(
        matches!(weak, Err(AuthError::PasswordRejected(PasswordRule::Empty))),
        "{weak:?}"
    );
    let common = auth
        .change_password(token, &pw(GOOD), &pw("qwerty123456789"), &client())
        .await;
    assert!(
        matches!(
            common,
            Err(AuthError::PasswordRejected(PasswordRule::TooCommon))
        ),
        "{common:?}"
    );
    // A rejected change leaves everything as it was.
    assert!(signed_in_as(&auth, token).await.is_some());
    assert!(signed_in_as(&auth, elsewhere.token.expose())
        .await
        .is_some());

    // An outstanding reset token dies with the old password.
    let reset = reset_token(&auth, "olga").await;

    let changed = auth
        .change_password(token, &pw(GOOD), &pw(OTHER), &client())
        .await
        .unwrap();
    assert_ne!(changed.token.expose(), token);
    assert_eq!(
        signed_in_as(&auth, changed.token.expose()).await,
        Some(changed.user.id.clone())
    );
    assert_eq!(signed_in_as(&auth, token).await, None);
    assert_eq!(signed_in_as(&auth, elsewhere.token.expose()).await, None);
    assert_eq!(
        signed_in_as(&auth, petes.token.expose()).await,
        Some(neighbour.id)
    );
    let (_, sessions) = auth.list_sessions(changed.token.expose()).await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].id, changed.session.id);

    let old = login(&auth, "olga", GOOD).await;
    assert!(matches!(old, Err(AuthError::InvalidCredentials)), "{old:?}");
    login(&auth, "olga", OTHER).await.unwrap();

    assert_reset_refused(&auth, "olga", reset.expose(), "stale_reset").await;

    let dead = auth
        .change_password(token, &pw(OTHER), &pw(GOOD), &client())
        .await;
    assert!(matches!(dead, Err(AuthError::NotAuthenticated)), "{dead:?}");
}

/// An account known only by its e-mail can change its password; and a name
/// belongs to one account whichever field holds it, so a login field that
/// takes either can never find two accounts.
async fn change_password_of_a_mail_only_account(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    register(&auth, "quinn@example.com", OTHER).await;
    let same_name_as_email = mailed("Quinn@Example.com", GOOD);
    let taken = auth.register_user(same_name_as_email, &client()).await;
    assert!(
        matches!(
            taken,
            Err(AuthError::AlreadyRegistered(IdentifierKind::Email))
        ),
        "{taken:?}"
    );
    let rae = mailed("rae@example.com", GOOD);
    auth.register_user(rae, &client()).await.unwrap();
    let same_email_as_name = named("RAE@example.com", GOOD);
    let taken = auth.register_user(same_email_as_name, &client()).await;
    assert!(
        matches!(
            taken,
            Err(AuthError::AlreadyRegistered(IdentifierKind::Username))
        ),
        "{taken:?}"
    );

    let mail_only = mailed("solo@example.com", GOOD);
    let quinn = auth.register_user(mail_only, &client()).await.unwrap();
    let session = login_by_email(&auth, "solo@example.com", GOOD)
        .await
        .unwrap();
    assert_eq!(session.user.id, quinn.id);
    let changed = auth
        .change_password(
            session.token.expose(),
            &pw(GOOD),
            &pw("a brand new passphrase"),
            &client(),
        )
        .await
        .unwrap();
    assert_eq!(changed.user.id, quinn.id);
    let after = login_by_email(&auth, "solo@example.com", "a brand new passphrase")
        .await
        .unwrap();
    assert_eq!(after.user.id, quinn.id);
    // The other account is untouched.
    login(&auth, "quinn@example.com", OTHER).await.unwrap();
}
