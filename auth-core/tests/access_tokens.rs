//! Personal access tokens, disabled accounts and the admin listings
//! (docs/contract/11-access-tokens-and-admin-api.md), on both backends.

use crate::common;

use std::collections::HashSet;

use auth_core::{
    AccountChanges, Auth, AuthError, Identifier, MachineOutcome, NewAccessToken, Scope,
};
use common::*;

on_both_backends! {
    tokens_are_scoped_and_die_with_their_account_events => tokens_are_scoped_and_die_with_their_account_events_sqlite, tokens_are_scoped_and_die_with_their_account_events_postgres;
    expired_and_revoked_tokens_are_refused => expired_and_revoked_tokens_are_refused_sqlite, expired_and_revoked_tokens_are_refused_postgres;
    racing_revocation_and_use_never_lets_a_use_through_after => racing_revocation_and_use_never_lets_a_use_through_after_sqlite, racing_revocation_and_use_never_lets_a_use_through_after_postgres;
    a_disabled_account_signs_in_by_no_route_and_loses_what_it_had => a_disabled_account_signs_in_by_no_route_and_loses_what_it_had_sqlite, a_disabled_account_signs_in_by_no_route_and_loses_what_it_had_postgres;
    a_disabled_login_takes_as_long_as_a_wrong_password => a_disabled_login_takes_as_long_as_a_wrong_password_sqlite, a_disabled_login_takes_as_long_as_a_wrong_password_postgres;
    paging_is_stable_under_inserts_and_deletes => paging_is_stable_under_inserts_and_deletes_sqlite, paging_is_stable_under_inserts_and_deletes_postgres;
    forged_cursors_are_refused => forged_cursors_are_refused_sqlite, forged_cursors_are_refused_postgres;
    admin_changes_name_their_actor => admin_changes_name_their_actor_sqlite, admin_changes_name_their_actor_postgres;
}

fn any(name: &str) -> Identifier {
    Identifier::Any(name.into())
}

async fn token(auth: &Auth, name: &str, scopes: &[Scope], expires: Option<i64>) -> String {
    let new = NewAccessToken {
        scopes: scopes.to_vec(),
        name: None,
        expires_in_secs: expires,
    };
    let (_, secret) = auth
        .add_access_token(&any(name), new, &client())
        .await
        .unwrap();
    secret.expose().to_owned()
}

async fn refused(auth: &Auth, token: &str) -> bool {
    matches!(
        auth.check_access_token(token, Scope::Profile).await,
        Err(AuthError::InvalidToken)
    )
}

async fn tokens_are_scoped_and_die_with_their_account_events(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    register(&auth, "alice", GOOD).await;
    let profile = token(&auth, "alice", &[Scope::Profile], None).await;
    let holder = auth
        .check_access_token(&profile, Scope::Profile)
        .await
        .unwrap();
    assert_eq!(holder.user.username.as_deref(), Some("alice"));
    assert!(matches!(
        auth.check_access_token(&profile, Scope::AdminRead).await,
        Err(AuthError::InsufficientScope("admin:read"))
    ));
    // Any other spelling of a token is no token.
    for forged in [
        profile.to_uppercase(),
        format!("{profile} "),
        profile.replace("authd_pat_", "authd_pat"),
        {
            let last = if profile.ends_with('A') { "B" } else { "A" };
            format!("{}{last}", &profile[..profile.len() - 1])
        },
    ] {
        assert!(refused(&auth, &forged).await, "{forged}");
    }

    // mfa-reset by an operator ends the tokens.
    let t = token(&auth, "alice", &[Scope::Profile], None).await;
    auth.mfa_reset(&any("alice"), &client()).await.unwrap();
    assert!(refused(&auth, &t).await && refused(&auth, &profile).await);

    // A password reset ends them.
    let t = token(&auth, "alice", &[Scope::Profile], None).await;
    let (_, reset) = auth
        .get_reset_password_token(&any("alice"), &client())
        .await
        .unwrap();
    auth.update_password(&any("alice"), reset.expose(), &pw(OTHER), &client())
        .await
        .unwrap();
    assert!(refused(&auth, &t).await);

    // The account's deletion ends them, and a token of a deleted account
    // is not one of the next account of that name.
    let t = token(&auth, "alice", &[Scope::AdminRead], None).await;
    auth.delete_user(&any("alice"), &client()).await.unwrap();
    register(&auth, "alice", GOOD).await;
    assert!(matches!(
        auth.check_access_token(&t, Scope::AdminRead).await,
        Err(AuthError::InvalidToken)
    ));
    assert!(auth
        .list_access_tokens(&any("alice"))
        .await
        .unwrap()
        .is_empty());
}

async fn expired_and_revoked_tokens_are_refused(db: TestDb) {
    let (auth, clock) = open(&db).await;
    register(&auth, "bob", GOOD).await;
    let short = token(&auth, "bob", &[Scope::Profile], Some(60)).await;
    let long = token(&auth, "bob", &[Scope::Profile], None).await;
    assert!(!refused(&auth, &short).await);
    clock.advance(60);
    assert!(refused(&auth, &short).await, "expired at its expiry");
    assert!(!refused(&auth, &long).await);

    let listed = auth.list_access_tokens(&any("BOB")).await.unwrap();
    assert_eq!(listed.len(), 2);
    let id = listed
        .iter()
        .find(|t| t.expires_at.is_none())
        .unwrap()
        .id
        .clone();
    auth.revoke_access_token(&id, &client()).await.unwrap();
    assert!(refused(&auth, &long).await);
    assert!(matches!(
        auth.revoke_access_token(&id, &client()).await,
        Err(AuthError::NotFound)
    ));
    assert!(matches!(
        auth.revoke_access_token("not-a-uuid", &client()).await,
        Err(AuthError::NotFound)
    ));
}

async fn racing_revocation_and_use_never_lets_a_use_through_after(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    register(&auth, "carol", GOOD).await;
    let secret = token(&auth, "carol", &[Scope::AdminRead], None).await;
    let id = auth.list_access_tokens(&any("carol")).await.unwrap()[0]
        .id
        .clone();
    let users: Vec<_> = (0..16)
        .map(|_| {
            let (auth, secret) = (auth.clone(), secret.clone());
            tokio::spawn(async move { auth.check_access_token(&secret, Scope::AdminRead).await })
        })
        .collect();
    let revoking = {
        let auth = auth.clone();
        tokio::spawn(async move { auth.revoke_access_token(&id, &client()).await })
    };
    revoking.await.unwrap().unwrap();
    // Uses that raced the revocation went either way; every use after it is refused.
    for used in users {
        let outcome = used.await.unwrap();
        assert!(
            matches!(outcome, Ok(_) | Err(AuthError::InvalidToken)),
            "{outcome:?}"
        );
    }
    for _ in 0..4 {
        assert!(matches!(
            auth.check_access_token(&secret, Scope::AdminRead).await,
            Err(AuthError::InvalidToken)
        ));
    }
}

async fn a_disabled_account_signs_in_by_no_route_and_loses_what_it_had(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    register(&auth, "dora", GOOD).await;
    let session = login(&auth, "dora", GOOD).await.unwrap().token;
    let secret = token(&auth, "dora", &[Scope::Profile], None).await;
    let machine = "machine-of-dora-0001";
    let bound = auth
        .check_machine("dora", &pw(GOOD), machine, &client())
        .await
        .unwrap();
    assert_eq!(bound.outcome, MachineOutcome::Bound);

    let user = auth
        .set_disabled(&any("Dora"), true, &client())
        .await
        .unwrap();
    assert!(user.disabled_at.is_some());
    assert_eq!(signed_in_as(&auth, session.expose()).await, None);
    assert!(refused(&auth, &secret).await);
    assert!(matches!(
        login(&auth, "dora", GOOD).await,
        Err(AuthError::InvalidCredentials)
    ));
    assert!(matches!(
        auth.valid_login(&any("dora"), &pw(GOOD), &client()).await,
        Err(AuthError::InvalidCredentials)
    ));
    // The device check's cache does not let it through either.
    assert!(matches!(
        auth.check_machine("dora", &pw(GOOD), machine, &client())
            .await,
        Err(AuthError::InvalidCredentials)
    ));
    assert!(auth
        .list_access_tokens(&any("dora"))
        .await
        .unwrap()
        .is_empty());

    // Enabling gives back the login, not the sessions or tokens.
    auth.set_disabled(&any("dora"), false, &client())
        .await
        .unwrap();
    assert_eq!(signed_in_as(&auth, session.expose()).await, None);
    assert!(refused(&auth, &secret).await);
    let again = login(&auth, "dora", GOOD).await.unwrap().token;
    assert!(signed_in_as(&auth, again.expose()).await.is_some());
    let checked = auth
        .check_machine("dora", &pw(GOOD), machine, &client())
        .await
        .unwrap();
    assert_eq!(checked.outcome, MachineOutcome::Known);
}

/// A disabled account's right password fails as a wrong password does, and
/// takes as long: the two are sampled in turn (one account each, so the
/// throttle's delays never start), at a cost where a hash takes
/// milliseconds, and their medians compared with a generous bound (an
/// answer that skipped the hash would be some hundred times faster).
async fn a_disabled_login_takes_as_long_as_a_wrong_password(db: TestDb) {
    use std::time::Instant;
    const SAMPLES: usize = 9;
    let config = auth_core::Config {
        bcrypt_cost: 9,
        ..common::config()
    };
    let (auth, _clock) = open_with(&db, config).await;
    for i in 0..SAMPLES {
        register(&auth, &format!("off-{i}"), GOOD).await;
        register(&auth, &format!("on-{i}"), GOOD).await;
        auth.set_disabled(&any(&format!("off-{i}")), true, &client())
            .await
            .unwrap();
    }
    let (mut disabled, mut wrong) = (Vec::new(), Vec::new());
    for i in 0..SAMPLES {
        for (name, password, times) in [
            (format!("off-{i}"), GOOD, &mut disabled),
            (format!("on-{i}"), OTHER, &mut wrong),
        ] {
            let started = Instant::now();
            let outcome = login(&auth, &name, password).await;
            times.push(started.elapsed());
            assert!(
                matches!(outcome, Err(AuthError::InvalidCredentials)),
                "{name}: {outcome:?}"
            );
        }
    }
    disabled.sort();
    wrong.sort();
    let (disabled, wrong) = (disabled[SAMPLES / 2], wrong[SAMPLES / 2]);
    let ratio = disabled.as_secs_f64() / wrong.as_secs_f64();
    assert!(
        (0.5..2.0).contains(&ratio),
        "disabled account: {disabled:?}, wrong password: {wrong:?}"
    );
}

async fn paging_is_stable_under_inserts_and_deletes(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    for i in 0..12 {
        register(&auth, &format!("user-{i:02}"), GOOD).await;
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut deleted = HashSet::new();
    let mut round = 0;
    loop {
        let page = auth
            .page_users(None, after.as_deref(), Some(3))
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|u| u.username.clone().unwrap()));
        // Between pages: a new account, and one not seen yet deleted.
        register(&auth, &format!("late-{round}"), GOOD).await;
        let all = auth.page_users(None, None, Some(200)).await.unwrap().items;
        if let Some(victim) = all.iter().find(|u| {
            let name = u.username.clone().unwrap();
            name.starts_with("user-") && !seen.contains(&name) && !deleted.contains(&name)
        }) {
            let name = victim.username.clone().unwrap();
            auth.delete_user(&any(&name), &client()).await.unwrap();
            deleted.insert(name);
        }
        round += 1;
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "an account was listed twice: {seen:?}"
    );
    for i in 0..12 {
        let name = format!("user-{i:02}");
        assert!(
            unique.contains(&name) || deleted.contains(&name),
            "{name} was never listed: {seen:?}"
        );
    }
    // `q` matches a part of the username or e-mail, in any case, and `%` is literal.
    let found = auth.page_users(Some("USER-0"), None, None).await.unwrap();
    assert!(found
        .items
        .iter()
        .all(|u| u.username.as_deref().unwrap().starts_with("user-0")));
    assert!(auth
        .page_users(Some("%"), None, None)
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(matches!(
        auth.page_users(None, None, Some(0)).await,
        Err(AuthError::InvalidField { field: "limit", .. })
    ));
}

async fn forged_cursors_are_refused(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    for i in 0..3 {
        register(&auth, &format!("f-{i}"), GOOD).await;
    }
    let next = auth
        .page_users(None, None, Some(1))
        .await
        .unwrap()
        .next
        .unwrap();
    let (position, mac) = next.split_once('.').unwrap();
    let moved = format!("{}.{mac}", &position[..position.len() - 2]);
    let events_next = auth.page_events(None, Some(1)).await.unwrap().next.unwrap();
    for forged in [
        String::new(),
        "garbage".into(),
        "a.b.c".into(),
        "////.////".into(),
        moved,
        format!("{position}."),
        // A cursor of one listing is not one of another.
        events_next.clone(),
        "é.é".into(),
    ] {
        assert!(
            matches!(
                auth.page_users(None, Some(&forged), None).await,
                Err(AuthError::InvalidCursor)
            ),
            "{forged:?}"
        );
    }
    assert!(matches!(
        auth.page_events(Some(&next), None).await,
        Err(AuthError::InvalidCursor)
    ));
    assert!(auth.page_events(Some(&events_next), None).await.is_ok());
}

async fn admin_changes_name_their_actor(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    register(&auth, "root", GOOD).await;
    register(&auth, "erin", GOOD).await;
    register(&auth, "taken@example.test", GOOD).await;
    let secret = token(&auth, "root", &[Scope::AdminWrite], None).await;
    let holder = auth
        .check_access_token(&secret, Scope::AdminWrite)
        .await
        .unwrap();
    let mut acting = holder.acting(client());
    acting.request_id = Some("req-42".into());
    let changes = AccountChanges {
        full_name: Some(Some("Erin E.".into())),
        email: Some(Some("Erin@Example.test".into())),
        disabled: Some(true),
        ..AccountChanges::default()
    };
    let user = auth
        .update_account(&any("erin"), changes, &acting)
        .await
        .unwrap();
    assert_eq!(user.full_name.as_deref(), Some("Erin E."));
    // The new e-mail is a name of the account, in any spelling.
    let found = auth
        .find_user(&any("erin@example.TEST"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, user.id);
    // A taken e-mail is refused and nothing changes.
    let taken = AccountChanges {
        email: Some(Some("TAKEN@example.test".into())),
        ..AccountChanges::default()
    };
    assert!(matches!(
        auth.update_account(&any("erin"), taken, &acting).await,
        Err(AuthError::AlreadyRegistered(_))
    ));
    assert!(auth
        .find_user(&any("erin@example.test"))
        .await
        .unwrap()
        .is_some());
    assert!(matches!(
        auth.update_account(&any("erin"), AccountChanges::default(), &acting)
            .await,
        Err(AuthError::InvalidField { .. })
    ));
    assert!(matches!(
        auth.set_disabled(&any("nobody"), true, &acting).await,
        Err(AuthError::UnknownAccount)
    ));
    let events = auth.page_events(None, Some(200)).await.unwrap().items;
    let actor = format!("token:{}", holder.token.id);
    for kind in ["user_updated", "user_disabled"] {
        let row = events.iter().find(|e| e.kind == kind).unwrap();
        assert_eq!(row.actor.as_deref(), Some(actor.as_str()), "{kind}");
        assert_eq!(row.request_id.as_deref(), Some("req-42"), "{kind}");
        assert_eq!(row.user_id.as_deref(), Some(user.id.as_str()), "{kind}");
    }
}
