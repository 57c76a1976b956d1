//! Accounts: found by their keys, taken names, password and profile
//! changes, reset tokens, and what deleting one deletes.

use super::*;

on_both_backends! { sync:
    users_are_found_by_their_keys => users_are_found_by_their_keys_sqlite, users_are_found_by_their_keys_postgres;
    taken_names_are_unique_violations => taken_names_are_unique_violations_sqlite, taken_names_are_unique_violations_postgres;
    passwords_and_profiles_change => passwords_and_profiles_change_sqlite, passwords_and_profiles_change_postgres;
    one_reset_token_per_user_used_once => one_reset_token_per_user_used_once_sqlite, one_reset_token_per_user_used_once_postgres;
    deleting_a_user_deletes_what_is_theirs => deleting_a_user_deletes_what_is_theirs_sqlite, deleting_a_user_deletes_what_is_theirs_postgres;
}

fn users_are_found_by_their_keys(db: TestDb) {
    let mut conn = db.migrated();
    let alice = add_user(&mut conn, "u1", Some("Alice"), Some("Alice@Example.com")).unwrap();
    assert_eq!(alice.username.as_deref(), Some("Alice"));
    assert_eq!(alice.username_key.as_deref(), Some("alice"));
    assert_eq!(alice.credential_version, 1);
    // "bob@example.com" is a username here, and "carol" has only an e-mail.
    add_user(&mut conn, "u2", Some("bob@example.com"), None).unwrap();
    add_user(&mut conn, "u3", None, Some("carol@example.com")).unwrap();

    let find = |conn: &mut DbConnection, lookup| {
        UserRow::find_user_by(conn, lookup).unwrap().map(|u| u.id)
    };
    assert_eq!(find(&mut conn, UserLookup::Id("u1")), Some("u1".into()));
    assert_eq!(
        find(&mut conn, UserLookup::UsernameKey("alice")),
        Some("u1".into())
    );
    assert_eq!(
        find(&mut conn, UserLookup::UsernameKey("Alice")),
        None,
        "keys are matched as given"
    );
    assert_eq!(
        find(&mut conn, UserLookup::EmailKey("alice@example.com")),
        Some("u1".into())
    );
    assert_eq!(find(&mut conn, UserLookup::EmailKey("alice")), None);
    assert_eq!(
        find(&mut conn, UserLookup::UsernameOrEmailKey("alice")),
        Some("u1".into())
    );
    assert_eq!(
        find(
            &mut conn,
            UserLookup::UsernameOrEmailKey("carol@example.com")
        ),
        Some("u3".into())
    );
    assert_eq!(
        find(&mut conn, UserLookup::UsernameOrEmailKey("bob@example.com")),
        Some("u2".into())
    );
    assert_eq!(
        find(&mut conn, UserLookup::UsernameOrEmailKey("nobody")),
        None
    );
    assert_eq!(find(&mut conn, UserLookup::Id("u9")), None);

    // A name is taken whichever field holds it.
    assert!(UserRow::name_taken(&mut conn, "alice").unwrap());
    assert!(UserRow::name_taken(&mut conn, "bob@example.com").unwrap());
    assert!(UserRow::name_taken(&mut conn, "carol@example.com").unwrap());
    assert!(!UserRow::name_taken(&mut conn, "carol").unwrap());
    let ids: Vec<String> = UserRow::list(&mut conn)
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(ids, ["u1", "u2", "u3"]);
}

fn taken_names_are_unique_violations(db: TestDb) {
    let mut conn = db.migrated();
    add_user(&mut conn, "u1", Some("alice"), Some("alice@example.com")).unwrap();
    for (id, username, email) in [
        ("u2", Some("ALICE"), None),
        ("u3", None, Some("Alice@example.com")),
        ("u1", Some("other"), None),
    ] {
        let err = add_user(&mut conn, id, username, email).unwrap_err();
        assert!(err.is_unique_violation(), "{id}: {err:?}");
        assert!(!err.is_unavailable(), "{err:?}");
    }
    // An account with no name breaks a CHECK, not a unique constraint.
    let err = add_user(&mut conn, "u4", None, None).unwrap_err();
    assert!(matches!(err, DbError::Query(_)), "{err:?}");
    assert!(!err.is_unique_violation(), "{err:?}");
    assert_eq!(UserRow::list(&mut conn).unwrap().len(), 1);
}

fn passwords_and_profiles_change(db: TestDb) {
    let mut conn = db.migrated();
    add_user(&mut conn, "u1", Some("alice"), None).unwrap();
    let changes = UserChanges {
        full_name: Some(Some("Alice Liddell")),
        mothers_favorite_search_engine: None,
        updated_at: Some(200),
    };
    assert_eq!(UserRow::update_user(&mut conn, "u1", &changes).unwrap(), 1);
    assert_eq!(UserRow::update_user(&mut conn, "u9", &changes).unwrap(), 0);
    let alice = UserRow::find_user_by(&mut conn, UserLookup::Id("u1"))
        .unwrap()
        .unwrap();
    assert_eq!(alice.full_name.as_deref(), Some("Alice Liddell"));
    assert_eq!(alice.updated_at, 200);
    let clear = UserChanges {
        full_name: Some(None),
        ..UserChanges::default()
    };
    UserRow::update_user(&mut conn, "u1", &clear).unwrap();
    let alice = UserRow::find_user_by(&mut conn, UserLookup::Id("u1"))
        .unwrap()
        .unwrap();
    assert_eq!(alice.full_name, None);

    // A rehash only lands over the hash it replaces, and keeps the credential version.
    assert_eq!(
        UserRow::replace_hash(&mut conn, "u1", "stale", "hash-x").unwrap(),
        0
    );
    assert_eq!(
        UserRow::replace_hash(&mut conn, "u1", "hash-1", "hash-2").unwrap(),
        1
    );
    assert_eq!(
        UserRow::credential_version(&mut conn, "u1").unwrap(),
        Some(1)
    );
    // A new password bumps it.
    assert_eq!(
        UserRow::set_password(&mut conn, "u1", None, "hash-3", 300).unwrap(),
        1
    );
    // With an expected version, only over that version.
    assert_eq!(
        UserRow::set_password(&mut conn, "u1", Some(1), "hash-x", 350).unwrap(),
        0
    );
    assert_eq!(
        UserRow::set_password(&mut conn, "u1", Some(2), "hash-4", 400).unwrap(),
        1
    );
    let alice = UserRow::find_user_by(&mut conn, UserLookup::Id("u1"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            alice.password_hash.as_str(),
            alice.credential_version,
            alice.updated_at
        ),
        ("hash-4", 3, 400)
    );
    assert_eq!(UserRow::credential_version(&mut conn, "u9").unwrap(), None);
}

fn one_reset_token_per_user_used_once(db: TestDb) {
    let mut conn = db.migrated();
    add_user(&mut conn, "u1", Some("alice"), None).unwrap();
    add_user(&mut conn, "u2", Some("bob"), None).unwrap();
    let count =
        |conn: &mut DbConnection| reset_tokens::table.count().get_result::<i64>(conn).unwrap();

    ResetTokenRow::replace(&mut conn, &reset_token("u1", "first", 100)).unwrap();
    ResetTokenRow::replace(&mut conn, &reset_token("u1", "second", 100)).unwrap();
    assert_eq!(count(&mut conn), 1);
    assert!(!ResetTokenRow::is_valid(&mut conn, "u1", "first", 50).unwrap());
    assert!(ResetTokenRow::is_valid(&mut conn, "u1", "second", 50).unwrap());
    assert!(!ResetTokenRow::is_valid(&mut conn, "u2", "second", 50).unwrap());
    assert!(!ResetTokenRow::consume(&mut conn, "u1", "first", 50).unwrap());
    assert!(
        !ResetTokenRow::consume(&mut conn, "u2", "second", 50).unwrap(),
        "another user's token"
    );
    assert!(ResetTokenRow::consume(&mut conn, "u1", "second", 50).unwrap());
    assert!(
        !ResetTokenRow::consume(&mut conn, "u1", "second", 50).unwrap(),
        "used once"
    );
    assert_eq!(count(&mut conn), 0);

    ResetTokenRow::replace(&mut conn, &reset_token("u1", "third", 100)).unwrap();
    ResetTokenRow::replace(&mut conn, &reset_token("u2", "fourth", 200)).unwrap();
    assert!(
        !ResetTokenRow::consume(&mut conn, "u1", "third", 100).unwrap(),
        "expired"
    );
    assert_eq!(ResetTokenRow::purge_expired(&mut conn, 100).unwrap(), 1);
    assert_eq!(ResetTokenRow::delete_for_user(&mut conn, "u2").unwrap(), 1);
    assert_eq!(count(&mut conn), 0);
}

fn deleting_a_user_deletes_what_is_theirs(db: TestDb) {
    let mut conn = db.migrated();
    add_user(&mut conn, "u1", Some("alice"), None).unwrap();
    add_user(&mut conn, "u2", Some("bob"), None).unwrap();
    for user in ["u1", "u2"] {
        SessionRow::create(&mut conn, &session(&format!("s-{user}"), user, 100, 1000)).unwrap();
        ResetTokenRow::replace(&mut conn, &reset_token(user, &format!("r-{user}"), 1000)).unwrap();
        let machine = MachineRow {
            machine_id: format!("m-{user}"),
            user_id: user.into(),
            bound_at: 1,
        };
        MachineRow::bind(&mut conn, &machine).unwrap();
    }
    assert_eq!(UserRow::delete(&mut conn, "u1").unwrap(), 1);
    assert_eq!(UserRow::delete(&mut conn, "u1").unwrap(), 0);
    let sessions_left: Vec<String> = sessions::table
        .select(sessions::user_id)
        .load(&mut conn)
        .unwrap();
    assert_eq!(sessions_left, ["u2"]);
    let tokens_left: Vec<String> = reset_tokens::table
        .select(reset_tokens::user_id)
        .load(&mut conn)
        .unwrap();
    assert_eq!(tokens_left, ["u2"]);
    assert_eq!(
        MachineRow::find_by_machine(&mut conn, "m-u1").unwrap(),
        None
    );
    assert!(MachineRow::find_by_machine(&mut conn, "m-u2")
        .unwrap()
        .is_some());
}
