//! The data layer's queries on both backends, and its URL handling.

// Helpers outside #[test] functions panic on purpose too: a failed step is
// the test failing, with its message (clippy.toml covers the tests themselves).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use auth_db::schema::{reset_tokens, sessions};
use auth_db::{
    AttemptRow, DatabaseUrl, DbConnection, DbError, DbResult, EventRow, Liveness, MachineRow,
    NewUserRow, ResetTokenRow, SessionRow, SlotClaim, SlotRequest, ThrottleRow, UserChanges,
    UserLookup, UserRow,
};
use common::{on_both_backends, TestDb};
use diesel::prelude::*;

on_both_backends! { sync:
    migrations_apply_once => migrations_apply_once_sqlite, migrations_apply_once_postgres;
    users_are_found_by_their_keys => users_are_found_by_their_keys_sqlite, users_are_found_by_their_keys_postgres;
    taken_names_are_unique_violations => taken_names_are_unique_violations_sqlite, taken_names_are_unique_violations_postgres;
    passwords_and_profiles_change => passwords_and_profiles_change_sqlite, passwords_and_profiles_change_postgres;
    one_reset_token_per_user_used_once => one_reset_token_per_user_used_once_sqlite, one_reset_token_per_user_used_once_postgres;
    throttle_counts_and_forgets => throttle_counts_and_forgets_sqlite, throttle_counts_and_forgets_postgres;
    machines_bind_one_to_one => machines_bind_one_to_one_sqlite, machines_bind_one_to_one_postgres;
    sessions_live_touch_and_end => sessions_live_touch_and_end_sqlite, sessions_live_touch_and_end_postgres;
    deleting_a_user_deletes_what_is_theirs => deleting_a_user_deletes_what_is_theirs_sqlite, deleting_a_user_deletes_what_is_theirs_postgres;
    events_are_counted_and_listed => events_are_counted_and_listed_sqlite, events_are_counted_and_listed_postgres;
    the_pool_connects_and_pings => the_pool_connects_and_pings_sqlite, the_pool_connects_and_pings_postgres;
}

fn add_user(
    conn: &mut DbConnection,
    id: &str,
    username: Option<&str>,
    email: Option<&str>,
) -> DbResult<UserRow> {
    let username_key = username.map(str::to_lowercase);
    let email_key = email.map(str::to_lowercase);
    let new = NewUserRow {
        id,
        username,
        username_key: username_key.as_deref(),
        email,
        email_key: email_key.as_deref(),
        full_name: None,
        mothers_favorite_search_engine: None,
        password_hash: "hash-1",
        created_at: 100,
        updated_at: 100,
    };
    UserRow::add_user(conn, &new)
}

fn session(id: &str, user_id: &str, last_seen_at: i64, expires_at: i64) -> SessionRow {
    SessionRow {
        id: id.into(),
        token_hash: format!("token-of-{id}"),
        user_id: user_id.into(),
        created_at: last_seen_at,
        last_seen_at,
        expires_at,
        user_agent: None,
    }
}

fn reset_token(user_id: &str, token_hash: &str, expires_at: i64) -> ResetTokenRow {
    ResetTokenRow {
        user_id: user_id.into(),
        token_hash: token_hash.into(),
        created_at: 0,
        expires_at,
    }
}

fn migrations_apply_once(db: TestDb) {
    let mut conn = db.connect();
    let applied = auth_db::run_migrations(&mut conn).unwrap();
    assert!(applied > 0, "a fresh database gets every migration");
    assert_eq!(auth_db::run_migrations(&mut conn).unwrap(), 0);
    let mut other = db.connect();
    assert_eq!(auth_db::run_migrations(&mut other).unwrap(), 0);
    add_user(&mut other, "u1", Some("alice"), None).unwrap();
    assert_eq!(UserRow::list(&mut conn).unwrap().len(), 1);
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

fn throttle_counts_and_forgets(db: TestDb) {
    let mut conn = db.migrated();
    let delay = |failures: i64| if failures >= 3 { 10 * failures } else { 0 };
    let claim = |conn: &mut DbConnection, id: &str, now_ms: i64, forget_before_ms: i64| {
        auth_db::write_transaction(conn, |conn| {
            ThrottleRow::claim_slot(
                conn,
                SlotRequest {
                    account_key: "key-a",
                    attempt_id: id,
                    now_ms,
                    forget_before_ms,
                    lease_until_ms: now_ms + 500,
                    free_failures: 3,
                },
            )
        })
        .unwrap()
    };
    let fail = |conn: &mut DbConnection, id: &str, now_ms: i64| {
        auth_db::write_transaction(conn, |conn| {
            ThrottleRow::record_failure(conn, "key-a", id, now_ms, delay)
        })
        .unwrap()
    };
    // Three failures are free: three checks may run at once, a fourth waits.
    for id in ["a1", "a2", "a3"] {
        assert_eq!(claim(&mut conn, id, 1000, 0), SlotClaim::Granted);
    }
    assert_eq!(claim(&mut conn, "a4", 1000, 0), SlotClaim::Busy);
    let row = fail(&mut conn, "a1", 1001);
    assert_eq!((row.failures, row.locked_until_ms), (1, 0));
    // One failure counted: two remain free and two checks run, so still busy.
    assert_eq!(claim(&mut conn, "a4", 1002, 0), SlotClaim::Busy);
    // A freed slot (a success, a cancelled request) lets the next one in.
    assert!(AttemptRow::release(&mut conn, "a2").unwrap());
    assert!(!AttemptRow::release(&mut conn, "a2").unwrap());
    assert_eq!(claim(&mut conn, "a4", 1003, 0), SlotClaim::Granted);
    fail(&mut conn, "a3", 1004);
    let row = fail(&mut conn, "a4", 1005);
    assert_eq!(
        (row.failures, row.last_failure_ms, row.locked_until_ms),
        (3, 1005, 1035)
    );
    assert_eq!(
        ThrottleRow::find(&mut conn, "key-a").unwrap(),
        Some(row.clone())
    );
    assert_eq!(ThrottleRow::find(&mut conn, "key-b").unwrap(), None);

    // During the delay an attempt changes nothing, to the millisecond.
    assert_eq!(
        claim(&mut conn, "a5", 1034, 0),
        SlotClaim::Locked { until_ms: 1035 }
    );
    assert_eq!(ThrottleRow::find(&mut conn, "key-a").unwrap(), Some(row));
    // After it, one check at a time (no failure is free any more).
    assert_eq!(claim(&mut conn, "a6", 1035, 0), SlotClaim::Granted);
    assert_eq!(claim(&mut conn, "a7", 1035, 0), SlotClaim::Busy);
    let row = fail(&mut conn, "a6", 1036);
    assert_eq!((row.failures, row.locked_until_ms), (4, 1076));

    // A slot whose lease ran out (its server died) is free again.
    assert_eq!(
        claim(&mut conn, "a8", 2000, 0),
        SlotClaim::Granted,
        "a7 never held one; a8 does"
    );
    assert_eq!(claim(&mut conn, "a9", 2499, 0), SlotClaim::Busy);
    assert_eq!(claim(&mut conn, "a9", 2500, 0), SlotClaim::Granted);
    AttemptRow::release(&mut conn, "a9").unwrap();

    // A count whose last failure is older than `forget_before` starts again,
    // and its delay goes with it.
    assert_eq!(claim(&mut conn, "b1", 5000, 1077), SlotClaim::Granted);
    let row = fail(&mut conn, "b1", 5000);
    assert_eq!(
        (row.failures, row.last_failure_ms, row.locked_until_ms),
        (1, 5000, 0)
    );

    auth_db::write_transaction(&mut conn, |conn| {
        ThrottleRow::record_failure(conn, "key-b", "none", 100, delay)
    })
    .unwrap();
    assert_eq!(ThrottleRow::purge(&mut conn, 101, 0).unwrap(), 1);
    assert_eq!(ThrottleRow::find(&mut conn, "key-b").unwrap(), None);
    assert_eq!(ThrottleRow::clear(&mut conn, "key-a").unwrap(), 1);
    assert_eq!(ThrottleRow::find(&mut conn, "key-a").unwrap(), None);
    assert_eq!(ThrottleRow::clear(&mut conn, "key-a").unwrap(), 0);
}

fn machines_bind_one_to_one(db: TestDb) {
    let mut conn = db.migrated();
    add_user(&mut conn, "u1", Some("alice"), None).unwrap();
    add_user(&mut conn, "u2", Some("bob"), None).unwrap();
    let bind = |machine: &str, user: &str| MachineRow {
        machine_id: machine.into(),
        user_id: user.into(),
        bound_at: 10,
    };
    MachineRow::bind(&mut conn, &bind("m1", "u1")).unwrap();
    let same_machine = MachineRow::bind(&mut conn, &bind("m1", "u2")).unwrap_err();
    assert!(same_machine.is_unique_violation(), "{same_machine:?}");
    let same_user = MachineRow::bind(&mut conn, &bind("m2", "u1")).unwrap_err();
    assert!(same_user.is_unique_violation(), "{same_user:?}");
    let unknown_user = MachineRow::bind(&mut conn, &bind("m3", "u9")).unwrap_err();
    assert!(
        !unknown_user.is_unique_violation(),
        "a foreign key, not uniqueness: {unknown_user:?}"
    );

    assert_eq!(
        MachineRow::find_by_machine(&mut conn, "m1").unwrap(),
        Some(bind("m1", "u1"))
    );
    assert_eq!(
        MachineRow::find_by_user(&mut conn, "u1").unwrap(),
        Some(bind("m1", "u1"))
    );
    assert_eq!(MachineRow::find_by_user(&mut conn, "u2").unwrap(), None);
    assert_eq!(MachineRow::unbind_user(&mut conn, "u1").unwrap(), 1);
    assert_eq!(MachineRow::unbind_user(&mut conn, "u1").unwrap(), 0);
    MachineRow::bind(&mut conn, &bind("m1", "u2")).unwrap();
    assert_eq!(
        MachineRow::find_by_machine(&mut conn, "m1")
            .unwrap()
            .unwrap()
            .user_id,
        "u2"
    );
}

fn sessions_live_touch_and_end(db: TestDb) {
    let mut conn = db.migrated();
    add_user(&mut conn, "u1", Some("alice"), None).unwrap();
    add_user(&mut conn, "u2", Some("bob"), None).unwrap();
    SessionRow::create(&mut conn, &session("s1", "u1", 100, 1000)).unwrap();
    SessionRow::create(&mut conn, &session("s2", "u1", 200, 1000)).unwrap();
    SessionRow::create(&mut conn, &session("s3", "u2", 100, 1000)).unwrap();
    let duplicate = SessionRow::create(&mut conn, &session("s1", "u2", 100, 1000)).unwrap_err();
    assert!(duplicate.is_unique_violation(), "{duplicate:?}");

    let live = |now, idle_cutoff| Liveness { now, idle_cutoff };
    let find = |conn: &mut DbConnection, hash: &str, liveness| {
        SessionRow::find_live_with_user(conn, hash, liveness).unwrap()
    };
    let (found, user) = find(&mut conn, "token-of-s1", live(150, 100)).unwrap();
    assert_eq!((found.id.as_str(), user.id.as_str()), ("s1", "u1"));
    assert!(
        find(&mut conn, "token-of-s1", live(150, 101)).is_none(),
        "idle"
    );
    assert!(
        find(&mut conn, "token-of-s1", live(1000, 0)).is_none(),
        "too old"
    );
    assert!(find(&mut conn, "token-of-nothing", live(150, 0)).is_none());

    // A touch writes only when the last one is older than the cutoff.
    assert_eq!(SessionRow::touch(&mut conn, "s1", 150, 100).unwrap(), 0);
    assert_eq!(
        find(&mut conn, "token-of-s1", live(150, 0))
            .unwrap()
            .0
            .last_seen_at,
        100
    );
    assert_eq!(SessionRow::touch(&mut conn, "s1", 150, 101).unwrap(), 1);
    assert_eq!(
        find(&mut conn, "token-of-s1", live(150, 0))
            .unwrap()
            .0
            .last_seen_at,
        150
    );

    let listed: Vec<String> = SessionRow::list_live_for_user(&mut conn, "u1", live(250, 0))
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, ["s2", "s1"], "newest first, only the user's");
    assert_eq!(
        SessionRow::list_live_for_user(&mut conn, "u1", live(250, 160))
            .unwrap()
            .len(),
        1
    );

    assert_eq!(
        SessionRow::delete_for_user(&mut conn, "s3", "u1").unwrap(),
        0,
        "not alice's"
    );
    assert_eq!(
        SessionRow::delete_all_for_user(&mut conn, "u1", Some("s2")).unwrap(),
        1
    );
    assert!(find(&mut conn, "token-of-s2", live(250, 0)).is_some());
    assert_eq!(
        SessionRow::delete_by_token_hash(&mut conn, "token-of-s2").unwrap(),
        1
    );
    assert_eq!(
        SessionRow::delete_by_token_hash(&mut conn, "token-of-s2").unwrap(),
        0
    );

    SessionRow::create(&mut conn, &session("s4", "u2", 600, 2000)).unwrap();
    SessionRow::create(&mut conn, &session("s5", "u2", 650, 700)).unwrap();
    // At 700 with a 150-second idle timeout: s3 is idle, s5 is too old, s4 lives.
    assert_eq!(
        SessionRow::purge_dead(&mut conn, live(700, 550)).unwrap(),
        2
    );
    let left: Vec<String> = sessions::table
        .select(sessions::id)
        .load(&mut conn)
        .unwrap();
    assert_eq!(left, ["s4"]);
    assert_eq!(
        SessionRow::delete_for_user(&mut conn, "s4", "u2").unwrap(),
        1
    );
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

fn events_are_counted_and_listed(db: TestDb) {
    let mut conn = db.migrated();
    let event = |id: &str, at: i64, kind: &str| EventRow {
        id: id.into(),
        occurred_at: at,
        kind: kind.into(),
        user_id: Some("u-gone".into()),
        client_addr: Some("192.0.2.1".into()),
        request_id: Some(format!("req-{id}")),
    };
    EventRow::record(&mut conn, &event("e1", 10, "login_failed")).unwrap();
    EventRow::record(&mut conn, &event("e2", 30, "login_failed")).unwrap();
    EventRow::record(&mut conn, &event("e3", 20, "login_succeeded")).unwrap();
    assert_eq!(EventRow::count_kind(&mut conn, "login_failed").unwrap(), 2);
    assert_eq!(
        EventRow::count_kind(&mut conn, "login_succeeded").unwrap(),
        1
    );
    assert_eq!(
        EventRow::count_kind(&mut conn, "password_reset").unwrap(),
        0
    );
    let recent: Vec<String> = EventRow::recent(&mut conn, 2)
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(recent, ["e2", "e3"]);
    assert_eq!(
        EventRow::recent(&mut conn, 10).unwrap()[2],
        event("e1", 10, "login_failed")
    );
}

fn the_pool_connects_and_pings(db: TestDb) {
    let url = DatabaseUrl::parse(&db.url).unwrap();
    let pool = auth_db::open_pool(&url, 2, Duration::from_secs(5)).unwrap();
    let mut conn = pool.get().unwrap();
    auth_db::ping(&mut conn).unwrap();
    auth_db::run_migrations(&mut conn).unwrap();
    // A failed transaction leaves nothing behind.
    let failed: DbResult<()> = auth_db::transaction(&mut conn, |conn| {
        add_user(conn, "u1", Some("alice"), None)?;
        add_user(conn, "u2", Some("ALICE"), None)?;
        Ok(())
    });
    assert!(failed.unwrap_err().is_unique_violation());
    assert!(UserRow::list(&mut conn).unwrap().is_empty());
}

#[test]
fn urls_name_their_backend() {
    assert_eq!(
        DatabaseUrl::parse("sqlite:///var/lib/authd/auth.db").unwrap(),
        DatabaseUrl::Sqlite("/var/lib/authd/auth.db".into())
    );
    assert_eq!(
        DatabaseUrl::parse("sqlite://auth.db")
            .unwrap()
            .sqlite_path(),
        Some("auth.db")
    );
    for url in ["postgres://u@h/db", "postgresql://u@h/db?sslmode=disable"] {
        assert_eq!(
            DatabaseUrl::parse(url).unwrap(),
            DatabaseUrl::Postgres(url.into())
        );
        assert_eq!(DatabaseUrl::parse(url).unwrap().sqlite_path(), None);
    }
    for url in [
        "mysql://x",
        "sqlite://",
        "sqlite://:memory:",
        "",
        "auth.db",
        "sqlite:auth.db",
    ] {
        let err = DatabaseUrl::parse(url).unwrap_err();
        assert!(
            matches!(err, DbError::UnsupportedUrl(_)),
            "{url:?}: {err:?}"
        );
    }
    let err = DatabaseUrl::parse("mysql://root:hunter2@db.example.com/authd").unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn redact_url_hides_the_password() {
    assert_eq!(
        auth_db::redact_url("postgres://authd:s3cr%40t@db.example.com:5432/authd"),
        "postgres://authd:[redacted]@db.example.com:5432/authd"
    );
    assert_eq!(
        auth_db::redact_url("postgres://authd@db.example.com/authd"),
        "postgres://authd@db.example.com/authd"
    );
    assert_eq!(
        auth_db::redact_url("sqlite:///tmp/a.db"),
        "sqlite:///tmp/a.db"
    );
    assert_eq!(
        auth_db::redact_url("postgres://h:5432"),
        "postgres://h:5432"
    );
    assert_eq!(
        auth_db::redact_url("postgres://u:pw@h"),
        "postgres://u:[redacted]@h"
    );
    assert_eq!(
        auth_db::redact_url(
            "postgres://u@h/db?sslmode=require&PASSWORD=pw&options=-csearch_path%3Dx"
        ),
        "postgres://u@h/db?sslmode=require&PASSWORD=[redacted]&options=-csearch_path%3Dx"
    );
    for url in [
        "postgres://authd:p@ss@db.example.com/authd",
        "postgres://authd@db.example.com/authd?password=s3cret&sslmode=require",
        "postgres://db.example.com/authd?sslmode=require&password=s3cret",
        "postgres://authd:s3cret@db.example.com/authd?application_name=a@b",
    ] {
        let redacted = auth_db::redact_url(url);
        assert!(
            !redacted.contains("s3cret") && !redacted.contains("ss@"),
            "{url} -> {redacted}"
        );
        assert!(redacted.contains("db.example.com"), "{url} -> {redacted}");
    }
}

#[test]
fn a_refused_connection_is_reported_as_unavailable() {
    let url = DatabaseUrl::parse("postgres://authd:s3cret@127.0.0.1:1/authd").unwrap();
    let err = auth_db::open_pool(&url, 1, Duration::from_secs(1)).unwrap_err();
    assert!(matches!(err, DbError::Connect(_)), "{err:?}");
    assert!(err.is_unavailable());
    assert!(!err.to_string().contains("s3cret"), "{err}");
}
