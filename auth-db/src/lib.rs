#![doc = include_str!("../README.md")]

pub mod access_tokens;
mod connection;
pub mod dump;
pub mod email_tokens;
mod error;
pub mod events;
pub mod machines;
pub mod oidc;
pub mod passkeys;
pub mod reset_tokens;
pub mod schema;
pub mod second_factors;
pub mod sessions;
pub mod sites;
pub mod store_key;
#[cfg(feature = "test-support")]
pub mod test_support;
pub mod throttle;
pub mod users;

pub use access_tokens::AccessTokenRow;
pub use connection::{
    libpq_url, open_pool, redact_url, run_migrations, ConnectionManager, DatabaseUrl, DbConnection,
    DbPool, PooledConnection, MIGRATIONS, MIGRATION_LOCK_KEY,
};
pub use dump::Snapshot;
pub use email_tokens::{
    claim_verified_address, lock_address, mark_email_verified, AddressClaim, BreachedLoginRow,
    EmailTokenRow,
};
pub use error::{DbError, DbResult};
pub use events::EventRow;
pub use machines::MachineRow;
pub use oidc::{
    OidcAccessTokenRow, OidcClientRow, OidcCodeRow, OidcConsentRow, OidcGrantRow,
    OidcRefreshTokenRow, OidcSigningKeyRow,
};
pub use passkeys::{CeremonyRow, PasskeyRow};
pub use reset_tokens::ResetTokenRow;
pub use second_factors::{MfaTokenRow, RecoveryCodeRow, TotpRow};
pub use sessions::{Liveness, SessionRow};
pub use sites::{SiteMember, SiteRow, SiteUserRow};
pub use store_key::{holds_accounts, store_exists, KeyFingerprintRow};
pub use throttle::{AttemptRow, SlotClaim, SlotRequest, ThrottleRow};
pub use users::{IdentifierRow, NewUserRow, UserChanges, UserLookup, UserRow};

/// Checks that the database answers.
pub fn ping(conn: &mut DbConnection) -> DbResult<()> {
    use diesel::connection::SimpleConnection;
    conn.batch_execute("SELECT 1").map_err(DbError::from)
}

/// Runs a closure that writes inside one transaction that holds the write
/// lock from its first statement: `BEGIN IMMEDIATE` on SQLite, so a
/// read-then-write never finds its snapshot outdated when it comes to write;
/// on PostgreSQL an ordinary transaction, whose writers lock rows explicitly.
pub fn write_transaction<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> DbResult<T>,
) -> DbResult<T> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    use diesel::Connection;
    // Nested in another transaction this is a savepoint, as Diesel's own.
    let DbConnection::Sqlite(sqlite) = conn else {
        return conn.transaction::<T, DbError, _>(f);
    };
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    let result = f(conn);
    if let DbConnection::Sqlite(sqlite) = conn {
        match &result {
            Ok(_) => AnsiTransactionManager::commit_transaction(sqlite)?,
            Err(_) => AnsiTransactionManager::rollback_transaction(sqlite)?,
        }
    }
    result
}

/// Runs a closure inside one database transaction.
pub fn transaction<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> DbResult<T>,
) -> DbResult<T> {
    use diesel::Connection;
    conn.transaction::<T, DbError, _>(f)
}
