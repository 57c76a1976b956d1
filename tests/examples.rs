//! The committed `examples/seed-dump.sql` is what `cargo run --example
//! seed_data` makes: the same tables and row counts as a fresh run (ids,
//! hashes and times differ run to run), and nothing secret.

#[allow(dead_code)]
#[path = "../examples/seed_data.rs"]
mod seed_data;

use auth_core::ImportRow;

/// (table, rows) in the order the INSERT lines stand.
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

/// Whether a quoted SQL literal has the shape of a session or reset token:
/// 43 characters of unpadded base64url.
fn has_token_shaped_literal(dump: &str) -> bool {
    dump.split('\'').skip(1).step_by(2).any(|literal| {
        literal.len() == 43
            && literal
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

fn seed_passwords() -> Vec<String> {
    let csv = std::fs::read(seed_data::SEED_CSV).expect("the seed CSV is in examples/");
    ImportRow::read_csv(csv.as_slice())
        .unwrap()
        .into_iter()
        .filter_map(|row| row.parsed.ok())
        .map(|fields| fields.password.expose().to_owned())
        .filter(|password| !password.is_empty())
        .collect()
}

/// A password is in `text` as a whole quoted value, or (when it is long
/// enough not to turn up by chance inside a hash) anywhere.
fn contains_password(text: &str, password: &str) -> bool {
    text.contains(&format!("'{password}'")) || (password.len() >= 6 && text.contains(password))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_committed_seed_dump_matches_a_fresh_run_and_holds_no_secret() {
    let committed = std::fs::read_to_string(seed_data::SEED_DUMP)
        .expect("examples/seed-dump.sql is committed: run `cargo run --example seed_data -- examples/seed-dump.sql`");

    let dir = tempfile::tempdir().unwrap();
    let fresh = seed_data::seed(dir.path()).await.expect("seeding runs");

    // The seed rows: two accepted (and logged in), three rejected.
    let accepted: Vec<&str> = fresh
        .report
        .accepted()
        .filter_map(|r| r.username.as_deref())
        .collect();
    assert_eq!(accepted, ["kvothe", "tpratchett"]);
    assert_eq!(fresh.session_tokens.len(), seed_data::LOGINS);

    // What a fresh run dumps: two users with one name each, their two
    // sessions, and the audit events of two sign-ups and two logins; the
    // other tables stay empty.
    let expected = vec![
        ("users".to_owned(), 2),
        ("identifiers".to_owned(), 2),
        ("sessions".to_owned(), 2),
        ("events".to_owned(), 4),
    ];
    assert_eq!(tables_of(&fresh.dump), expected, "{}", fresh.dump);
    assert_eq!(
        tables_of(&committed),
        expected,
        "examples/seed-dump.sql is out of date: run `cargo run --example seed_data -- examples/seed-dump.sql`"
    );
    let counts: Vec<(&str, usize)> = fresh.counts.iter().map(|c| (c.table, c.rows)).collect();
    assert_eq!(
        counts,
        [
            ("key_fingerprints", 0),
            ("users", 2),
            ("identifiers", 2),
            ("sessions", 2),
            ("reset_tokens", 0),
            ("machines", 0),
            ("login_throttle", 0),
            ("login_attempts", 0),
            ("events", 4),
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
            ("breached_logins", 0)
        ]
    );
    for name in ["'kvothe'", "'tpratchett'"] {
        assert!(committed.contains(name), "{name} is in the committed dump");
    }

    // Nothing secret: no password of the CSV, no session token (the cookie
    // value), in the dump or in what the example prints.
    let transcript = fresh.transcript.join("\n");
    for password in seed_passwords() {
        for (what, text) in [
            ("committed dump", &committed),
            ("fresh dump", &fresh.dump),
            ("transcript", &transcript),
        ] {
            assert!(
                !contains_password(text, &password),
                "a password is in the {what}"
            );
        }
    }
    for token in &fresh.session_tokens {
        assert!(
            !fresh.dump.contains(token.as_str()),
            "a session token is in the dump"
        );
        assert!(
            !transcript.contains(token.as_str()),
            "a session token is printed"
        );
        assert!(!committed.contains(token.as_str()));
    }
    assert!(
        !has_token_shaped_literal(&committed),
        "a token-shaped value is in the committed dump"
    );
    assert!(!has_token_shaped_literal(&fresh.dump));
}
