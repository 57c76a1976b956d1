//! A dump carries the store's key fingerprint (issue 21): a store restored
//! from it refuses any other key, as the store it came from does, and a store
//! set up with another key refuses the dump before any row is written.

use crate::common;

use auth_core::{prepare_store, KeySource, SecretKey, StoreAccess, StoreError};
use common::*;
use diesel::connection::SimpleConnection;

on_both_backends! {
    a_restored_store_refuses_another_key => a_restored_store_refuses_another_key_sqlite, a_restored_store_refuses_another_key_postgres;
    a_store_of_another_key_refuses_the_dump_whole => a_store_of_another_key_refuses_the_dump_whole_sqlite, a_store_of_another_key_refuses_the_dump_whole_postgres;
    a_store_of_the_same_key_takes_the_dump => a_store_of_the_same_key_takes_the_dump_sqlite, a_store_of_the_same_key_takes_the_dump_postgres;
}

fn given(key: SecretKey) -> KeySource {
    KeySource::Given {
        key,
        origin: "AUTHD_SECRET_KEY".into(),
    }
}

fn other_key() -> SecretKey {
    SecretKey::from_bytes([9; 32])
}

/// Another empty database of the same backend as `db`.
fn sibling(db: &TestDb) -> TestDb {
    if db.url.starts_with("sqlite://") {
        TestDb::sqlite()
    } else {
        TestDb::postgres().expect("the PostgreSQL variant runs only when it is set")
    }
}

/// A store set up as the binary sets one up (its key's fingerprint on
/// record), with an account in it; returns its dump.
async fn dump_of_a_keyed_store(db: &TestDb) -> String {
    prepare_store(&db.url, given(key()), StoreAccess::Create)
        .await
        .expect("a new store takes its key");
    let (auth, _clock) = open(db).await;
    register(&auth, "kvothe", GOOD).await;
    let mut out = Vec::new();
    let counts = auth.dump(&mut out).await.unwrap();
    assert_eq!(counts[0].table, "key_fingerprints");
    assert_eq!(counts[0].rows, 1, "the fingerprint is dumped");
    String::from_utf8(out).unwrap()
}

fn load(db: &TestDb, dump: &str) -> Result<(), String> {
    let url = auth_db::DatabaseUrl::parse(&db.url).unwrap();
    let mut conn = url.establish().unwrap();
    conn.batch_execute(dump).map_err(|e| e.to_string())
}

/// The tables only, as `authd migrate` would leave them before any key.
fn migrated(db: &TestDb) {
    let url = auth_db::DatabaseUrl::parse(&db.url).unwrap();
    auth_db::run_migrations(&mut url.establish().unwrap()).unwrap();
}

async fn a_restored_store_refuses_another_key(db: TestDb) {
    let dump = dump_of_a_keyed_store(&db).await;
    let copy = sibling(&db);
    migrated(&copy);
    load(&copy, &dump).expect("an empty store takes the dump");

    // Before the fix the copy had no fingerprint, and took whichever key
    // opened it first: every password then failed.
    let refused = prepare_store(&copy.url, given(other_key()), StoreAccess::ExistingOnly).await;
    assert!(
        matches!(refused, Err(StoreError::KeyMismatch { .. })),
        "{refused:?}"
    );
    let opened = prepare_store(&copy.url, given(key()), StoreAccess::ExistingOnly)
        .await
        .expect("the store's own key opens the copy");
    assert_eq!(opened.migrations_applied, 0);
    let (restored, _clock) = open(&copy).await;
    let mut again = Vec::new();
    restored.dump(&mut again).await.unwrap();
    assert_eq!(
        String::from_utf8(again).unwrap(),
        dump,
        "the copy dumps the same text"
    );
    login(&restored, "kvothe", GOOD)
        .await
        .expect("a restored account logs in with the store's key");
}

async fn a_store_of_another_key_refuses_the_dump_whole(db: TestDb) {
    let dump = dump_of_a_keyed_store(&db).await;
    let copy = sibling(&db);
    prepare_store(&copy.url, given(other_key()), StoreAccess::Create)
        .await
        .expect("a new store takes its own key");
    let error = load(&copy, &dump).expect_err("a store of another key refuses the dump");
    assert!(error.contains("key_fingerprints"), "{error}");
    let (auth, _clock) = open(&copy).await;
    let mut out = Vec::new();
    let counts = auth.dump(&mut out).await.unwrap();
    let rows: Vec<(&str, usize)> = counts
        .iter()
        .filter(|c| c.rows > 0)
        .map(|c| (c.table, c.rows))
        .collect();
    assert_eq!(
        rows,
        [("key_fingerprints", 1)],
        "nothing of the dump was written"
    );
    assert!(!String::from_utf8(out).unwrap().contains("kvothe"));
}

async fn a_store_of_the_same_key_takes_the_dump(db: TestDb) {
    let dump = dump_of_a_keyed_store(&db).await;
    let copy = sibling(&db);
    // `authd migrate` with the deployment's key records the same fingerprint.
    prepare_store(&copy.url, given(key()), StoreAccess::Create)
        .await
        .expect("a new store takes the key");
    load(&copy, &dump).expect("a store of the same key takes the dump");
    let (restored, _clock) = open(&copy).await;
    login(&restored, "kvothe", GOOD)
        .await
        .expect("a restored account logs in");
}
