//! What accounts do: the login throttle, machine bindings, sessions, and
//! the audit events.

use super::*;

on_both_backends! { sync:
    throttle_counts_and_forgets => throttle_counts_and_forgets_sqlite, throttle_counts_and_forgets_postgres;
    machines_bind_one_to_one => machines_bind_one_to_one_sqlite, machines_bind_one_to_one_postgres;
    sessions_live_touch_and_end => sessions_live_touch_and_end_sqlite, sessions_live_touch_and_end_postgres;
    events_are_counted_and_listed => events_are_counted_and_listed_sqlite, events_are_counted_and_listed_postgres;
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

fn events_are_counted_and_listed(db: TestDb) {
    let mut conn = db.migrated();
    let event = |id: &str, at: i64, kind: &str| EventRow {
        id: id.into(),
        occurred_at: at,
        kind: kind.into(),
        user_id: Some("u-gone".into()),
        client_addr: Some("192.0.2.1".into()),
        request_id: Some(format!("req-{id}")),
        actor: None,
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
