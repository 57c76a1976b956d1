//! Opening a data store safely: migrations under the database's lock, and
//! the rules that keep a deployment's secret key and its store together
//! (docs/contract/1-server.md, "Safety of the store and the key").

use std::path::{Path, PathBuf};

use auth_db::{DatabaseUrl, DbError, KeyFingerprintRow};

use crate::secret::{SecretKey, SecretKeyError};

/// The message whose HMAC under the key is the store's fingerprint of it.
const FINGERPRINT_LABEL: &[u8] = b"authd secret key fingerprint v1";

/// Where the deployment's secret key comes from.
#[derive(Debug)]
pub enum KeySource {
    /// Given whole (from `AUTHD_SECRET_KEY`); `origin` names it in messages.
    Given {
        /// The key.
        key: SecretKey,
        /// Where it came from, e.g. `AUTHD_SECRET_KEY`.
        origin: String,
    },
    /// A key file, created only for a store that holds no account.
    File(PathBuf),
}

impl KeySource {
    fn location(&self) -> String {
        match self {
            KeySource::Given { origin, .. } => origin.clone(),
            KeySource::File(path) => std::path::absolute(path)
                .unwrap_or_else(|_| path.clone())
                .display()
                .to_string(),
        }
    }
}

/// What a command may do to the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreAccess {
    /// `serve`, `migrate`, `import`, `user add`: the database, its tables and
    /// the key are created when missing (the key only for a store without accounts).
    Create,
    /// The commands that only read or change existing data: nothing is created.
    ExistingOnly,
}

/// A store ready to be opened with [`crate::Auth::open`].
#[derive(Debug)]
pub struct PreparedStore {
    /// The deployment's key, checked against the store's fingerprint.
    pub key: SecretKey,
    /// How many migrations this call applied.
    pub migrations_applied: usize,
    /// Whether the key file was created by this call.
    pub key_created: bool,
}

/// Why a store was refused.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A SQLite file that does not exist, for a command that creates nothing.
    #[error("no database at {0}")]
    NoDatabase(String),
    /// The database exists but holds no authd tables.
    #[error("no authd data store in {0} (`authd migrate` creates one)")]
    NotAStore(String),
    /// The key is missing, and making one would lock every account out.
    #[error("no secret key at {location}: {why}")]
    KeyMissing {
        /// Where the key was looked for.
        location: String,
        /// Why no key may be created.
        why: &'static str,
    },
    /// The key does not match the one the store was created with.
    #[error(
        "the secret key from {location} is not this store's key (its fingerprint differs); \
         give the deployment's key with --secret-key-file or AUTHD_SECRET_KEY"
    )]
    KeyMismatch {
        /// Where the key came from.
        location: String,
    },
    /// The key file could not be read or written.
    #[error(transparent)]
    Key(#[from] SecretKeyError),
    /// The database failed; the message is the database layer's.
    #[error("{0}")]
    Database(String),
    /// The blocking task failed.
    #[error("database start-up task failed: {0}")]
    Task(String),
}

/// Opens the store at `database_url` on one connection: applies pending
/// migrations under the database's lock, then finds the key and checks it
/// against the store's fingerprint (recording the fingerprint the first time).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn prepare_store(
    database_url: &str,
    key_source: KeySource,
    access: StoreAccess,
) -> Result<PreparedStore, StoreError> {
    let url = DatabaseUrl::parse(database_url).map_err(database)?;
    tokio::task::spawn_blocking(move || prepare_blocking(&url, key_source, access))
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
}

fn prepare_blocking(
    url: &DatabaseUrl,
    key_source: KeySource,
    access: StoreAccess,
) -> Result<PreparedStore, StoreError> {
    if access == StoreAccess::ExistingOnly {
        if let Some(path) = url.sqlite_path() {
            if !Path::new(path).exists() {
                return Err(StoreError::NoDatabase(path.to_owned()));
            }
        }
    }
    let mut conn = url.establish().map_err(database)?;
    if access == StoreAccess::ExistingOnly && !auth_db::store_exists(&mut conn).map_err(database)? {
        return Err(StoreError::NotAStore(describe(url)));
    }
    let migrations_applied = auth_db::run_migrations(&mut conn).map_err(database)?;

    let location = key_source.location();
    let (key, created_file) = match key_source {
        KeySource::Given { key, .. } => (key, None),
        KeySource::File(path) => match SecretKey::load(&path)? {
            Some(key) => (key, None),
            None => {
                let why = if auth_db::holds_accounts(&mut conn).map_err(database)? {
                    Some(
                        "the store holds accounts, and a new key would make every password wrong; \
                         restore the deployment's key file, or give it with --secret-key-file or AUTHD_SECRET_KEY",
                    )
                } else if KeyFingerprintRow::find(&mut conn)
                    .map_err(database)?
                    .is_some()
                {
                    Some(
                        "the store was set up with a key, and a new one would not match it; \
                         restore the deployment's key file, or give it with --secret-key-file or AUTHD_SECRET_KEY",
                    )
                } else if access == StoreAccess::ExistingOnly {
                    Some("this command never makes a key (`authd migrate` or `authd serve` does)")
                } else {
                    None
                };
                // A server starting beside this one links its new key file
                // before it records the fingerprint: a fingerprint seen now
                // may be that key's, whose file is there by now.
                match (why, SecretKey::load(&path)?) {
                    (_, Some(key)) => (key, None),
                    (Some(why), None) => return Err(StoreError::KeyMissing { location, why }),
                    (None, None) => {
                        let (key, created) = SecretKey::load_or_create(&path)?;
                        (key, created.then_some(path))
                    }
                }
            }
        },
    };

    let fingerprint = hex::encode(key.mac_raw(FINGERPRINT_LABEL));
    let on_record = match KeyFingerprintRow::find(&mut conn).map_err(database)? {
        Some(on_record) => on_record,
        None => KeyFingerprintRow::record_first(&mut conn, &fingerprint, unix_now())
            .map_err(database)?,
    };
    if on_record != fingerprint {
        if let Some(path) = &created_file {
            // Another server recorded its own new key first: this one is of no use.
            let _ = std::fs::remove_file(path);
        }
        return Err(StoreError::KeyMismatch { location });
    }
    if let Some(path) = &created_file {
        tracing::info!(path = %path.display(), "created a new secret key file");
    }
    Ok(PreparedStore {
        key,
        migrations_applied,
        key_created: created_file.is_some(),
    })
}

/// The store's error for a database's (no auth-db type in the public API).
fn database(error: DbError) -> StoreError {
    StoreError::Database(error.to_string())
}

/// The database as messages name it, without a password.
fn describe(url: &DatabaseUrl) -> String {
    match url {
        DatabaseUrl::Sqlite(path) => path.clone(),
        DatabaseUrl::Postgres(url) => auth_db::redact_url(url),
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
