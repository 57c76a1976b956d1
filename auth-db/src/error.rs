//! The one error type of the data layer.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// What went wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database URL is not one this build understands.
    #[error("unsupported database URL (expected sqlite://PATH or postgres://…): {0}")]
    UnsupportedUrl(String),
    /// A connection could not be opened; the message is the driver's own,
    /// on one line and without the URL's password.
    #[error("could not connect to the database: {0}")]
    Connect(String),
    /// No pooled connection could be had in time (the database is down or overloaded).
    #[error("no database connection available: {0}")]
    Pool(#[from] r2d2::Error),
    /// A statement failed.
    #[error("database statement failed: {0}")]
    Query(#[from] DieselError),
    /// Applying the embedded migrations failed.
    #[error("database migration failed: {0}")]
    Migration(String),
}

impl DbError {
    /// True when the statement broke a unique constraint (a race another writer won).
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            DbError::Query(DieselError::DatabaseError(
                DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }

    /// True when the database itself could not be reached, as opposed to a bad statement.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            DbError::Connect(_)
                | DbError::Pool(_)
                | DbError::Query(DieselError::DatabaseError(
                    DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                    _,
                ))
        )
    }
}

/// Shorthand for results of this crate.
pub type DbResult<T> = Result<T, DbError>;
