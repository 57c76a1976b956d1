//! authd's data layer: the Diesel schema, row types with their queries, the
//! connection pool over SQLite and PostgreSQL, and the embedded migrations.
//!
//! Only `auth-core` depends on this crate.

mod connection;
pub mod dump;
mod error;
pub mod events;
pub mod machines;
pub mod reset_tokens;
pub mod schema;
pub mod sessions;
pub mod store_key;
#[cfg(feature = "test-support")]
pub mod test_support;
pub mod throttle;
pub mod users;

pub use connection::{
    open_pool, redact_url, run_migrations, ConnectionManager, DatabaseUrl, DbConnection, DbPool,
    PooledConnection, MIGRATIONS, MIGRATION_LOCK_KEY,
};
pub use dump::Snapshot;
pub use error::{DbError, DbResult};
pub use events::EventRow;
pub use machines::MachineRow;
pub use reset_tokens::ResetTokenRow;
pub use sessions::{Liveness, SessionRow};
pub use store_key::{holds_accounts, store_exists, KeyFingerprintRow};
pub use throttle::{Claim, ThrottleRow};
pub use users::{NewUserRow, UserChanges, UserLookup, UserRow};

/// Checks that the database answers.
pub fn ping(conn: &mut DbConnection) -> DbResult<()> {
    use diesel::connection::SimpleConnection;
    conn.batch_execute("SELECT 1").map_err(DbError::from)
}

/// Runs a closure inside one database transaction.
pub fn transaction<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> DbResult<T>,
) -> DbResult<T> {
    use diesel::Connection;
    conn.transaction::<T, DbError, _>(f)
}
