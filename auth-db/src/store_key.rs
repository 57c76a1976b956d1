//! The `key_fingerprints` table, and what the key rules ask of a store:
//! whether it exists and whether it holds accounts.

use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::error::DbResult;
use crate::schema::{key_fingerprints, users};
use crate::{on_each_backend, DbConnection};

/// The name of the one row that holds the secret key's fingerprint.
const SECRET_KEY_ROW: &str = "secret_key";

/// The stored fingerprint of the deployment's secret key.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = key_fingerprints)]
pub struct KeyFingerprintRow {
    /// Which key (`secret_key`).
    pub name: String,
    /// Hex HMAC of a fixed label under the key.
    pub fingerprint: String,
    /// Unix seconds.
    pub created_at: i64,
}

impl KeyFingerprintRow {
    /// The fingerprint on record, if any.
    pub fn find(conn: &mut DbConnection) -> DbResult<Option<String>> {
        Ok(key_fingerprints::table
            .find(SECRET_KEY_ROW)
            .select(key_fingerprints::fingerprint)
            .first::<String>(conn)
            .optional()?)
    }

    /// Every fingerprint on record, for a dump (one row today), by name.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<KeyFingerprintRow>> {
        Ok(key_fingerprints::table
            .order(key_fingerprints::name)
            .select(KeyFingerprintRow::as_select())
            .load(conn)?)
    }

    /// Records `fingerprint` unless one is on record already (another server
    /// may have been first), then returns the one on record.
    pub fn record_first(conn: &mut DbConnection, fingerprint: &str, now: i64) -> DbResult<String> {
        let row = KeyFingerprintRow {
            name: SECRET_KEY_ROW.to_owned(),
            fingerprint: fingerprint.to_owned(),
            created_at: now,
        };
        on_each_backend!(conn, |c| diesel::insert_into(key_fingerprints::table)
            .values(&row)
            .on_conflict(key_fingerprints::name)
            .do_nothing()
            .execute(c))?;
        Ok(Self::find(conn)?.unwrap_or(row.fingerprint))
    }
}

/// True when the store holds at least one account.
pub fn holds_accounts(conn: &mut DbConnection) -> DbResult<bool> {
    Ok(users::table
        .select(users::id)
        .first::<String>(conn)
        .optional()?
        .is_some())
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// True when authd's tables exist in this database (the `users` table is
/// there), without creating anything.
pub fn store_exists(conn: &mut DbConnection) -> DbResult<bool> {
    let count = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'users'",
        )
        .get_result::<Count>(c)?,
        DbConnection::Postgres(c) => diesel::sql_query(
            "SELECT COUNT(*) AS n FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = 'users'",
        )
        .get_result::<Count>(c)?,
    };
    Ok(count.n > 0)
}
