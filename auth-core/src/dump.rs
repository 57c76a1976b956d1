//! `authd dump`: the whole data store as plain SQL, one `INSERT` per row,
//! the same text for either backend.

use std::fmt::Write as _;
use std::io::Write;

use auth_db::{KeyFingerprintRow, Snapshot};

use crate::error::{AuthError, AuthResult};
use crate::service::Auth;

mod email_tables;
mod oidc_tables;

/// The tables of a dump, in the order they are written (an account before
/// the rows that refer to it).
pub const DUMP_TABLES: [&str; 26] = [
    "key_fingerprints",
    "users",
    "identifiers",
    "sessions",
    "reset_tokens",
    "machines",
    "login_throttle",
    "login_attempts",
    "events",
    "totp_factors",
    "recovery_codes",
    "mfa_tokens",
    "passkeys",
    "webauthn_ceremonies",
    "protected_sites",
    "site_users",
    "oidc_clients",
    "oidc_grants",
    "oidc_codes",
    "oidc_consents",
    "oidc_refresh_tokens",
    "oidc_access_tokens",
    "oidc_signing_keys",
    "access_tokens",
    "email_tokens",
    "breached_logins",
];

/// How many rows of one table a dump wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableCount {
    /// The table.
    pub table: &'static str,
    /// Its rows.
    pub rows: usize,
}

/// One SQL value.
enum Value<'a> {
    Text(&'a str),
    Integer(i64),
    /// `TRUE` or `FALSE`, which SQLite (3.23+) and PostgreSQL both read.
    Bool(bool),
    Null,
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(text: &'a str) -> Self {
        Value::Text(text)
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(text: &'a String) -> Self {
        Value::Text(text)
    }
}

impl<'a> From<&'a Option<String>> for Value<'a> {
    fn from(text: &'a Option<String>) -> Self {
        text.as_deref().map_or(Value::Null, Value::Text)
    }
}

impl From<bool> for Value<'_> {
    fn from(flag: bool) -> Self {
        Value::Bool(flag)
    }
}

impl From<Option<i64>> for Value<'_> {
    fn from(number: Option<i64>) -> Self {
        number.map_or(Value::Null, Value::Integer)
    }
}

impl From<i64> for Value<'_> {
    fn from(number: i64) -> Self {
        Value::Integer(number)
    }
}

/// `'it''s'`, `NULL`, `42`: standard SQL literals that SQLite and
/// PostgreSQL (with `standard_conforming_strings`, its default) read alike.
fn push_literal(out: &mut String, value: &Value<'_>) {
    match value {
        Value::Text(text) => {
            out.push('\'');
            out.push_str(&text.replace('\'', "''"));
            out.push('\'');
        }
        Value::Integer(number) => {
            let _ = write!(out, "{number}");
        }
        Value::Bool(true) => out.push_str("TRUE"),
        Value::Bool(false) => out.push_str("FALSE"),
        Value::Null => out.push_str("NULL"),
    }
}

/// Collects the `INSERT` statements of a dump.
struct Statements {
    text: String,
    counts: Vec<TableCount>,
}

impl Statements {
    fn table<R>(
        &mut self,
        table: &'static str,
        columns: &[&str],
        rows: &[R],
        values: impl Fn(&R) -> Vec<Value<'_>>,
    ) {
        let head = format!("INSERT INTO {table} ({}) VALUES (", columns.join(", "));
        for row in rows {
            let values = values(row);
            debug_assert_eq!(values.len(), columns.len(), "{table}");
            self.text.push_str(&head);
            for (i, value) in values.iter().enumerate() {
                if i > 0 {
                    self.text.push_str(", ");
                }
                push_literal(&mut self.text, value);
            }
            self.text.push_str(");\n");
        }
        self.counts.push(TableCount {
            table,
            rows: rows.len(),
        });
    }
}

impl Statements {
    /// The fingerprint of the store's secret key, first. Every hash and
    /// sealed secret below is bound to that key, so a store restored from the
    /// dump must refuse any other key, as the store it came from does. Each
    /// row is inserted only where that same fingerprint is not on record
    /// yet: an empty store takes it, a store set up with this key is left as
    /// it is, and a store set up with another key fails on this statement
    /// (its one row is taken), before any account is written.
    fn key_fingerprints(&mut self, rows: &[KeyFingerprintRow]) {
        for row in rows {
            let (mut name, mut fingerprint) = (String::new(), String::new());
            push_literal(&mut name, &Value::from(&row.name));
            push_literal(&mut fingerprint, &Value::from(&row.fingerprint));
            let _ = writeln!(
                self.text,
                "INSERT INTO key_fingerprints (name, fingerprint, created_at) \
                 SELECT {name}, {fingerprint}, {created_at} WHERE NOT EXISTS \
                 (SELECT 1 FROM key_fingerprints WHERE name = {name} AND fingerprint = {fingerprint});",
                created_at = row.created_at,
            );
        }
        self.counts.push(TableCount {
            table: "key_fingerprints",
            rows: rows.len(),
        });
    }
}

/// The statements of a snapshot, table after table.
fn render(snapshot: &Snapshot) -> Statements {
    let mut out = Statements {
        text: String::new(),
        counts: Vec::with_capacity(DUMP_TABLES.len()),
    };
    out.key_fingerprints(&snapshot.key_fingerprints);
    out.table(
        "users",
        &[
            "id",
            "username",
            "username_key",
            "email",
            "email_key",
            "full_name",
            "mothers_favorite_search_engine",
            "password_hash",
            "credential_version",
            "created_at",
            "updated_at",
            "email_verified_at",
            "disabled_at",
        ],
        &snapshot.users,
        |u| {
            vec![
                (&u.id).into(),
                (&u.username).into(),
                (&u.username_key).into(),
                (&u.email).into(),
                (&u.email_key).into(),
                (&u.full_name).into(),
                (&u.mothers_favorite_search_engine).into(),
                (&u.password_hash).into(),
                u.credential_version.into(),
                u.created_at.into(),
                u.updated_at.into(),
                u.email_verified_at.into(),
                u.disabled_at.into(),
            ]
        },
    );
    out.table(
        "identifiers",
        &["name_key", "user_id"],
        &snapshot.identifiers,
        |n| vec![(&n.name_key).into(), (&n.user_id).into()],
    );
    out.table(
        "sessions",
        &[
            "id",
            "token_hash",
            "user_id",
            "created_at",
            "last_seen_at",
            "expires_at",
            "user_agent",
            "second_factor_at",
            "amr",
        ],
        &snapshot.sessions,
        |s| {
            vec![
                (&s.id).into(),
                (&s.token_hash).into(),
                (&s.user_id).into(),
                s.created_at.into(),
                s.last_seen_at.into(),
                s.expires_at.into(),
                (&s.user_agent).into(),
                s.second_factor_at.into(),
                (&s.amr).into(),
            ]
        },
    );
    out.table(
        "reset_tokens",
        &["user_id", "token_hash", "created_at", "expires_at"],
        &snapshot.reset_tokens,
        |r| {
            vec![
                (&r.user_id).into(),
                (&r.token_hash).into(),
                r.created_at.into(),
                r.expires_at.into(),
            ]
        },
    );
    out.table(
        "machines",
        &["machine_id", "user_id", "bound_at"],
        &snapshot.machines,
        |m| {
            vec![
                (&m.machine_id).into(),
                (&m.user_id).into(),
                m.bound_at.into(),
            ]
        },
    );
    out.table(
        "login_throttle",
        &[
            "account_key",
            "failures",
            "last_failure_ms",
            "locked_until_ms",
        ],
        &snapshot.login_throttle,
        |t| {
            vec![
                (&t.account_key).into(),
                t.failures.into(),
                t.last_failure_ms.into(),
                t.locked_until_ms.into(),
            ]
        },
    );
    out.table(
        "login_attempts",
        &["id", "account_key", "expires_ms"],
        &snapshot.login_attempts,
        |a| vec![(&a.id).into(), (&a.account_key).into(), a.expires_ms.into()],
    );
    out.table(
        "events",
        &[
            "id",
            "occurred_at",
            "kind",
            "user_id",
            "client_addr",
            "request_id",
            "actor",
        ],
        &snapshot.events,
        |e| {
            vec![
                (&e.id).into(),
                e.occurred_at.into(),
                (&e.kind).into(),
                (&e.user_id).into(),
                (&e.client_addr).into(),
                (&e.request_id).into(),
                (&e.actor).into(),
            ]
        },
    );
    // TOTP secrets stay sealed: the dump holds what the database holds.
    out.table(
        "totp_factors",
        &[
            "user_id",
            "secret_sealed",
            "created_at",
            "confirmed_at",
            "last_step",
        ],
        &snapshot.totp_factors,
        |t| {
            vec![
                (&t.user_id).into(),
                (&t.secret_sealed).into(),
                t.created_at.into(),
                t.confirmed_at.map_or(Value::Null, Value::Integer),
                t.last_step.into(),
            ]
        },
    );
    out.table(
        "recovery_codes",
        &["code_hash", "user_id", "created_at"],
        &snapshot.recovery_codes,
        |r| {
            vec![
                (&r.code_hash).into(),
                (&r.user_id).into(),
                r.created_at.into(),
            ]
        },
    );
    out.table(
        "mfa_tokens",
        &[
            "token_hash",
            "user_id",
            "credential_version",
            "created_at",
            "expires_at",
        ],
        &snapshot.mfa_tokens,
        |m| {
            vec![
                (&m.token_hash).into(),
                (&m.user_id).into(),
                m.credential_version.into(),
                m.created_at.into(),
                m.expires_at.into(),
            ]
        },
    );
    // A passkey row holds a public key, nothing that signs in by itself.
    out.table(
        "passkeys",
        &[
            "id",
            "user_id",
            "name",
            "credential_id",
            "credential",
            "counter",
            "created_at",
            "last_used_at",
        ],
        &snapshot.passkeys,
        |p| {
            vec![
                (&p.id).into(),
                (&p.user_id).into(),
                (&p.name).into(),
                (&p.credential_id).into(),
                (&p.credential).into(),
                p.counter.into(),
                p.created_at.into(),
                p.last_used_at.map_or(Value::Null, Value::Integer),
            ]
        },
    );
    out.table(
        "webauthn_ceremonies",
        &[
            "id_hash",
            "kind",
            "user_id",
            "binding",
            "origin",
            "state",
            "created_at",
            "expires_at",
        ],
        &snapshot.webauthn_ceremonies,
        |c| {
            vec![
                (&c.id_hash).into(),
                (&c.kind).into(),
                (&c.user_id).into(),
                (&c.binding).into(),
                (&c.origin).into(),
                (&c.state).into(),
                c.created_at.into(),
                c.expires_at.into(),
            ]
        },
    );
    // The rules version is not dumped: a restored store starts at the
    // migration's, and servers already running reload at the next change.
    out.table(
        "protected_sites",
        &["host", "second_factor", "allow", "created_at"],
        &snapshot.protected_sites,
        |p| {
            vec![
                (&p.host).into(),
                (&p.second_factor).into(),
                (&p.allow).into(),
                p.created_at.into(),
            ]
        },
    );
    out.table(
        "site_users",
        &["host", "user_id"],
        &snapshot.site_users,
        |u| vec![(&u.host).into(), (&u.user_id).into()],
    );
    oidc_tables::render(&mut out, snapshot);
    out.table(
        "access_tokens",
        &[
            "id",
            "token_hash",
            "user_id",
            "name",
            "scopes",
            "created_at",
            "expires_at",
        ],
        &snapshot.access_tokens,
        |t| {
            vec![
                (&t.id).into(),
                (&t.token_hash).into(),
                (&t.user_id).into(),
                (&t.name).into(),
                (&t.scopes).into(),
                t.created_at.into(),
                t.expires_at.into(),
            ]
        },
    );
    email_tables::render(&mut out, snapshot);
    out
}

impl Auth {
    /// Writes the whole data store as plain SQL: one `INSERT INTO <table>
    /// (<columns>) VALUES (…);` line per row, table after table in the order
    /// of [`DUMP_TABLES`], each table in a fixed order, read in one
    /// transaction; the key's fingerprint comes first, as an `INSERT …
    /// SELECT … WHERE NOT EXISTS` that a store set up with another key
    /// refuses. It holds what the database holds, hashes included, and
    /// no secret the database does not keep (no password, no raw token).
    /// Returns the row count of each table.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn dump(&self, mut writer: impl Write) -> AuthResult<Vec<TableCount>> {
        let snapshot = self.db_unbounded(Snapshot::load).await?;
        let Statements { text, counts } = render(&snapshot);
        writer
            .write_all(text.as_bytes())
            .and_then(|()| writer.flush())
            .map_err(|e| {
                tracing::error!(error = %e, "could not write the dump");
                AuthError::Internal(format!("writing the dump: {e}"))
            })?;
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_standard_sql() {
        let mut out = String::new();
        for value in [
            Value::Text("it's"),
            Value::Null,
            Value::Integer(-42),
            Value::Text(""),
        ] {
            push_literal(&mut out, &value);
            out.push(' ');
        }
        assert_eq!(out, "'it''s' NULL -42 '' ");
    }

    #[test]
    fn an_empty_store_dumps_nothing_but_counts_every_table() {
        let statements = render(&Snapshot::default());
        assert_eq!(statements.text, "");
        let tables: Vec<&str> = statements.counts.iter().map(|c| c.table).collect();
        assert_eq!(tables, DUMP_TABLES);
    }

    #[test]
    fn the_key_fingerprint_comes_first_and_yields_to_the_same_one() {
        let snapshot = Snapshot {
            key_fingerprints: vec![KeyFingerprintRow {
                name: "secret_key".into(),
                fingerprint: "ab'c".into(),
                created_at: 9,
            }],
            machines: vec![auth_db::MachineRow {
                machine_id: "m1".into(),
                user_id: "u1".into(),
                bound_at: 7,
            }],
            ..Snapshot::default()
        };
        let text = render(&snapshot).text;
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "INSERT INTO key_fingerprints (name, fingerprint, created_at) SELECT 'secret_key', 'ab''c', 9 \
             WHERE NOT EXISTS (SELECT 1 FROM key_fingerprints WHERE name = 'secret_key' AND fingerprint = 'ab''c');"
        );
        assert!(lines[1].starts_with("INSERT INTO machines "), "{text}");
    }

    #[test]
    fn one_line_per_row() {
        let snapshot = Snapshot {
            machines: vec![auth_db::MachineRow {
                machine_id: "m'1".into(),
                user_id: "u1".into(),
                bound_at: 7,
            }],
            ..Snapshot::default()
        };
        assert_eq!(
            render(&snapshot).text,
            "INSERT INTO machines (machine_id, user_id, bound_at) VALUES ('m''1', 'u1', 7);\n"
        );
    }
}
