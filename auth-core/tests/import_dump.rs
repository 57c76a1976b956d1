//! `Auth::import` of the seed data and `Auth::dump`, on both backends.

use crate::common;

use std::collections::BTreeMap;

use auth_core::{
    Auth, Identifier, ImportOutcome, ImportReport, ImportRow, TableCount, DUMP_TABLES,
    MALFORMED_ROW,
};
use common::*;
use diesel::connection::SimpleConnection;

/// The seed test data, with its odd rows.
const SEED_CSV: &[u8] = include_bytes!("../../examples/seed-users.csv");

/// (username, password) of the rows the default policy accepts.
const ACCEPTED: [(&str, &str); 2] = [
    ("kvothe", "3##Heel7sa*9-zRwT"),
    ("tpratchett", "Thats Sir Terry to you!"),
];

on_both_backends! {
    seed_rows_are_judged_by_the_sign_up_rules => seed_rows_are_judged_by_the_sign_up_rules_sqlite, seed_rows_are_judged_by_the_sign_up_rules_postgres;
    malformed_lines_and_repeated_names => malformed_lines_and_repeated_names_sqlite, malformed_lines_and_repeated_names_postgres;
    dump_has_one_insert_per_row_and_no_secret => dump_has_one_insert_per_row_and_no_secret_sqlite, dump_has_one_insert_per_row_and_no_secret_postgres;
    dump_loads_back_into_an_empty_store => dump_loads_back_into_an_empty_store_sqlite, dump_loads_back_into_an_empty_store_postgres;
}

fn seed_rows() -> Vec<ImportRow> {
    ImportRow::read_csv(SEED_CSV).expect("the seed file is in memory")
}

/// username → rejection code, or "accepted".
fn verdicts(report: &ImportReport) -> BTreeMap<String, String> {
    report
        .rows
        .iter()
        .map(|r| {
            (
                r.username.clone().unwrap_or_default(),
                r.rejection_code().unwrap_or("accepted").to_owned(),
            )
        })
        .collect()
}

fn expected(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(u, v)| (u.to_string(), v.to_string()))
        .collect()
}

async fn seed_rows_are_judged_by_the_sign_up_rules(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    assert_eq!(auth.config().password_min_length, 15, "the default policy");
    let mut progress = Vec::new();
    let report = auth.import(seed_rows(), |r| progress.push(r.line)).await;
    progress.sort_unstable();
    assert_eq!(progress, [1, 2, 3, 4, 5], "one progress call per row");
    assert_eq!(
        report.rows.iter().map(|r| r.line).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5],
        "the report is in file order"
    );
    assert_eq!(
        verdicts(&report),
        expected(&[
            ("gh0st", "password_empty"),
            ("jet-setter", "password_too_short"),
            ("kvothe", "accepted"),
            ("tpratchett", "accepted"),
            // "null" is an ordinary 4-character string, not a missing value.
            ("lmb", "password_too_short"),
        ])
    );
    assert_eq!(
        report.rows[0].to_string(),
        "line 1 gh0st: rejected: password_empty (password must not be empty)"
    );
    assert_eq!(
        report.rows[4].to_string(),
        "line 5 lmb: rejected: password_too_short (password must be at least 15 characters long)"
    );
    assert_eq!(report.summary(), "2 of 5 rows imported, 3 rejected");
    assert!(!report.all_accepted());

    // The profile fields are trimmed by the sign-up rules.
    let ImportOutcome::Accepted(kvothe) = &report.rows[2].outcome else {
        panic!("kvothe was accepted");
    };
    assert_eq!(kvothe.full_name.as_deref(), Some("Patrick Rothfuss"));
    assert_eq!(
        kvothe.mothers_favorite_search_engine.as_deref(),
        Some("Duck Duck Go")
    );
    let found = auth
        .find_user(&Identifier::Username("tpratchett".into()))
        .await
        .unwrap()
        .expect("tpratchett exists");
    assert_eq!(
        found.mothers_favorite_search_engine.as_deref(),
        Some("Google")
    );
    assert!(auth
        .find_user(&Identifier::Username("gh0st".into()))
        .await
        .unwrap()
        .is_none());

    // The imported users log in with their passwords, every byte of them.
    for (username, password) in ACCEPTED {
        let success = login(&auth, username, password)
            .await
            .unwrap_or_else(|e| panic!("{username} logs in: {e:?}"));
        assert_eq!(
            signed_in_as(&auth, success.token.expose()).await,
            Some(success.user.id)
        );
    }

    // Again: every row is rejected; the accepted ones are now taken.
    let again = auth.import(seed_rows(), |_| {}).await;
    assert_eq!(again.accepted().count(), 0);
    assert_eq!(
        verdicts(&again),
        expected(&[
            ("gh0st", "password_empty"),
            ("jet-setter", "password_too_short"),
            ("kvothe", "already_registered"),
            ("tpratchett", "already_registered"),
            ("lmb", "password_too_short"),
        ])
    );
    assert_eq!(
        again.rows[2].to_string(),
        "line 3 kvothe: rejected: already_registered (username already registered)"
    );
    assert_eq!(auth.list_users().await.unwrap().len(), 2);
}

async fn malformed_lines_and_repeated_names(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let csv = format!(
        "only,three,fields\n\
         Dup,First,{GOOD},Bing\n\
         \"unterminated,x,y,z\n"
    );
    let mut rows = ImportRow::read_csv(csv.as_bytes()).unwrap();
    // Two more rows of one name (any case), after the first, and one whose
    // first row is rejected: the later acceptable one wins.
    rows.push(ImportRow::new(10, "dup", "Second", OTHER, ""));
    rows.push(ImportRow::new(11, "twice", "", "short", ""));
    rows.push(ImportRow::new(12, "TWICE", "", OTHER, ""));
    rows.push(ImportRow::new(13, "", "No Name", GOOD, ""));
    rows.push(ImportRow::new(14, "bad name", "", GOOD, ""));
    let report = auth.import(rows, |_| {}).await;
    let got: Vec<(u64, Option<&str>, &str)> = report
        .rows
        .iter()
        .map(|r| {
            (
                r.line,
                r.username.as_deref(),
                r.rejection_code().unwrap_or("accepted"),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, None, MALFORMED_ROW),
            (2, Some("Dup"), "accepted"),
            (3, None, MALFORMED_ROW),
            (10, Some("dup"), "already_registered"),
            (11, Some("twice"), "password_too_short"),
            (12, Some("TWICE"), "accepted"),
            (13, Some(""), "missing_field"),
            (14, Some("bad name"), "invalid_username"),
        ]
    );
    assert_eq!(
        report.rows[0].to_string(),
        "line 1: rejected: malformed_row (expected 4 fields (username, full name, password, \
         mother's favorite search engine), found 3)"
    );
    login(&auth, "dup", GOOD)
        .await
        .expect("the first Dup row won");
}

/// Imports the seed data, logs both accepted users in, and puts one row in
/// each of the other tables. Returns every secret handed out.
async fn populate(auth: &Auth) -> Vec<String> {
    let report = auth.import(seed_rows(), |_| {}).await;
    assert_eq!(report.accepted().count(), 2);
    let mut secrets = Vec::new();
    for (username, password) in ACCEPTED {
        let success = login(auth, username, password).await.unwrap();
        secrets.push(success.token.expose().to_owned());
    }
    let (_, reset) = auth
        .get_reset_password_token(&Identifier::Username("kvothe".into()), &client())
        .await
        .unwrap();
    secrets.push(reset.expose().to_owned());
    auth.check_machine(
        "tpratchett",
        &pw(ACCEPTED[1].1),
        "machine-0123456789abcdef",
        &client(),
    )
    .await
    .unwrap();
    assert!(login(auth, "nobody", "wrong password here").await.is_err());
    secrets
}

/// (table, INSERT count), in the order the lines stand.
fn tables_of(dump: &str) -> Vec<(String, usize)> {
    let mut tables: Vec<(String, usize)> = Vec::new();
    for line in dump.lines() {
        let table = line
            .strip_prefix("INSERT INTO ")
            .and_then(|rest| rest.split_once(' '))
            .map(|(table, _)| table)
            .unwrap_or_else(|| panic!("not an INSERT line: {line}"));
        assert!(line.ends_with(");"), "{line}");
        match tables.last_mut() {
            Some((last, count)) if last == table => *count += 1,
            _ => tables.push((table.to_owned(), 1)),
        }
    }
    tables
}

async fn dump_has_one_insert_per_row_and_no_secret(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let mut empty = Vec::new();
    let counts = auth.dump(&mut empty).await.unwrap();
    assert!(empty.is_empty(), "an empty store dumps no statement");
    assert!(counts.iter().all(|c| c.rows == 0));

    let secrets = populate(&auth).await;
    let mut out = Vec::new();
    let counts = auth.dump(&mut out).await.unwrap();
    let dump = String::from_utf8(out).expect("the dump is UTF-8");

    let expected_counts = [
        // Auth::open checks no key; the binary's start-up records it.
        ("key_fingerprints", 0),
        ("users", 2),
        // one username each (the seed rows have no e-mail)
        ("identifiers", 2),
        ("sessions", 2),
        ("reset_tokens", 1),
        ("machines", 1),
        ("login_throttle", 1),
        ("login_attempts", 0),
        // two sign-ups, two logins, a reset request, a machine bound, a failed login
        ("events", 7),
        ("totp_factors", 0),
        ("recovery_codes", 0),
        ("mfa_tokens", 0),
        ("passkeys", 0),
        ("webauthn_ceremonies", 0),
        ("protected_sites", 0),
        ("site_users", 0),
        ("oidc_clients", 0),
        ("oidc_grants", 0),
        ("oidc_codes", 0),
        ("oidc_consents", 0),
        ("oidc_refresh_tokens", 0),
        ("oidc_access_tokens", 0),
        ("oidc_signing_keys", 0),
        ("access_tokens", 0),
        ("email_tokens", 0),
        ("breached_logins", 0),
    ];
    assert_eq!(
        counts,
        expected_counts
            .iter()
            .map(|&(table, rows)| TableCount { table, rows })
            .collect::<Vec<_>>()
    );
    assert_eq!(
        counts.iter().map(|c| c.table).collect::<Vec<_>>(),
        DUMP_TABLES
    );
    assert_eq!(
        tables_of(&dump),
        expected_counts
            .iter()
            .filter(|&&(_, n)| n > 0)
            .map(|&(t, n)| (t.to_owned(), n))
            .collect::<Vec<_>>(),
        "one INSERT per row, one table after another:\n{dump}"
    );
    assert!(dump.starts_with(
        "INSERT INTO users (id, username, username_key, email, email_key, full_name, \
         mothers_favorite_search_engine, password_hash, credential_version, created_at, updated_at, \
         email_verified_at, disabled_at) VALUES ("
    ));
    assert!(dump.contains(", 'kvothe', 'kvothe', NULL, NULL, 'Patrick Rothfuss', 'Duck Duck Go', 'hmac-sha256-bcrypt$2b$04$"));

    for (_, password) in ACCEPTED {
        assert!(!dump.contains(password), "a password is in the dump");
    }
    for row in seed_rows() {
        let password = row.parsed.unwrap().password;
        let password = password.expose();
        if !password.is_empty() {
            assert!(!dump.contains(&format!("'{password}'")));
        }
    }
    for secret in &secrets {
        assert!(!dump.contains(secret.as_str()), "a token is in the dump");
    }
}

async fn dump_loads_back_into_an_empty_store(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    populate(&auth).await;
    let mut first = Vec::new();
    auth.dump(&mut first).await.unwrap();
    let first = String::from_utf8(first).unwrap();

    // A second store of the same backend, migrated and empty, takes the dump
    // as it is and then dumps the same text.
    let copy = if db.url.starts_with("sqlite://") {
        TestDb::sqlite()
    } else {
        TestDb::postgres().expect("the PostgreSQL variant runs only when it is set")
    };
    let (restored, _clock) = open(&copy).await;
    let url = auth_db::DatabaseUrl::parse(&copy.url).unwrap();
    let mut conn = url.establish().unwrap();
    conn.batch_execute(&first).expect("the dump loads");
    drop(conn);
    let mut second = Vec::new();
    restored.dump(&mut second).await.unwrap();
    assert_eq!(String::from_utf8(second).unwrap(), first);

    // The restored accounts work: same key, same hashes.
    let (username, password) = ACCEPTED[0];
    login(&restored, username, password)
        .await
        .expect("a restored account logs in");
}
