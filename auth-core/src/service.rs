//! `Auth`: the one way to the accounts, sessions and resets.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use auth_db::{
    DatabaseUrl, DbConnection, DbError, DbPool, DbResult, ResetTokenRow, SessionRow, ThrottleRow,
    UserLookup, UserRow,
};

use crate::account::{Identifier, User};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::error::{AuthError, AuthResult};
use crate::hasher::PasswordHasher;
use crate::secret::SecretKey;
use crate::throttle::FORGET_AFTER_SECS;

/// Why an `Auth` could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// A setting is out of range; the message names it.
    #[error("{0}")]
    Config(String),
    /// A start-up task or thread failed; the message says which.
    #[error("{0}")]
    Start(String),
    /// The database could not be opened or migrated; the message is the
    /// database layer's (a refused connection, a wrong password, a failed
    /// migration).
    #[error("{0}")]
    Database(String),
}

impl OpenError {
    fn database(error: DbError) -> Self {
        OpenError::Database(error.to_string())
    }
}

/// The authentication service. Cheap to clone: every clone shares one pool,
/// one key and one hasher.
///
/// Open one with [`Auth::open`]; the [crate page](crate) walks through
/// sign-up, login, the session check and a password reset.
#[derive(Clone, Debug)]
pub struct Auth {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) pool: DbPool,
    pub(crate) config: Config,
    pub(crate) key: SecretKey,
    pub(crate) hasher: PasswordHasher,
    /// Verified against when the account does not exist, so that a wrong name
    /// costs the same time as a wrong password.
    pub(crate) dummy_hash: String,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) check_cache: crate::check_cache::CheckCache,
    /// This server's copy of the forward-authentication site rules.
    pub(crate) site_rules: crate::site_rules::RulesCache,
    /// Woken whenever this server frees a login attempt slot, so attempts
    /// waiting for one retry at once rather than at their next poll.
    pub(crate) slot_freed: tokio::sync::Notify,
    pub(crate) logins: LoginCounters,
    /// One permit per pooled connection: database work waits here, as a task,
    /// rather than as a blocking thread parked inside the pool.
    pub(crate) db_permits: Arc<tokio::sync::Semaphore>,
    /// Whether short reads may run on the calling task's thread: true for
    /// SQLite, whose indexed read costs microseconds, false for PostgreSQL,
    /// where every statement is a network round trip.
    pub(crate) inline_reads: bool,
}

/// Password checks by outcome since start (logins, password changes and
/// device checks that needed a hash).
#[derive(Debug, Default)]
pub(crate) struct LoginCounters {
    pub(crate) succeeded: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) throttled: AtomicU64,
}

/// Password checks by outcome since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoginCounts {
    /// Right password.
    pub succeeded: u64,
    /// Wrong password or unknown account.
    pub failed: u64,
    /// Refused during a delay, without a check.
    pub throttled: u64,
}

impl Auth {
    /// Opens the database at `database_url` (`sqlite://PATH` or `postgres://…`),
    /// applies pending migrations and prepares the hasher.
    ///
    /// A SQLite file is created if missing. Every server on one database
    /// must open it with the same `key`; a store made with another key is
    /// refused at start (see [`prepare_store`](crate::prepare_store) for the
    /// checks a server runs first).
    ///
    /// ```
    /// use auth_core::{Auth, Config, SecretKey};
    ///
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let url = format!("sqlite://{}", dir.path().join("auth.db").display());
    /// // The default cost is 12; 4 is the lowest, for tests and examples.
    /// let config = Config { bcrypt_cost: 4, ..Config::default() };
    /// let auth = Auth::open(&url, SecretKey::generate(), config).await?;
    /// assert!(auth.health().await);
    ///
    /// // A URL of another kind is refused with its reason.
    /// let refused = Auth::open("mysql://db", SecretKey::generate(), Config::default()).await;
    /// assert!(refused.is_err());
    /// # Ok(())
    /// # }
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn open(
        database_url: &str,
        key: SecretKey,
        config: Config,
    ) -> Result<Auth, OpenError> {
        Self::open_with_clock(database_url, key, config, Arc::new(SystemClock)).await
    }

    /// Like [`Auth::open`], reading the time from `clock` (tests move it by hand).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn open_with_clock(
        database_url: &str,
        key: SecretKey,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Auth, OpenError> {
        config.validate().map_err(OpenError::Config)?;
        let url = DatabaseUrl::parse(database_url).map_err(OpenError::database)?;
        let (pool_size, timeout) = (config.pool_size, config.database_timeout);
        let inline_reads = url.sqlite_path().is_some();
        let pool = tokio::task::spawn_blocking(move || -> DbResult<DbPool> {
            let pool = auth_db::open_pool(&url, pool_size, timeout)?;
            let applied = auth_db::run_migrations(&mut *pool.get()?)?;
            if applied > 0 {
                tracing::info!(applied, "database migrations applied");
            }
            Ok(pool)
        })
        .await
        .map_err(|e| OpenError::Start(format!("database start-up task failed: {e}")))?
        .map_err(OpenError::database)?;
        let hasher = PasswordHasher::new(key.clone(), config.bcrypt_cost)
            .map(|hasher| hasher.with_queue_limit(config.hash_queue_limit))
            .map_err(|e| {
                OpenError::Start(format!("cannot start the password hashing threads: {e}"))
            })?;
        let dummy_password = hex::encode(crate::token::random_bytes());
        let dummy_hash = hasher
            .hash(dummy_password)
            .await
            .map_err(|e| OpenError::Start(e.to_string()))?;
        Ok(Auth {
            inner: Arc::new(Inner {
                slot_freed: tokio::sync::Notify::new(),
                pool,
                config,
                key,
                hasher,
                dummy_hash,
                clock,
                check_cache: Default::default(),
                site_rules: Default::default(),
                logins: LoginCounters::default(),
                db_permits: Arc::new(tokio::sync::Semaphore::new(pool_size as usize)),
                inline_reads,
            }),
        })
    }

    /// The settings this service runs with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Password hashes waiting for a CPU right now.
    pub fn hash_queue_length(&self) -> usize {
        self.inner.hasher.queue_length()
    }

    /// Password checks by outcome since start.
    pub fn login_counts(&self) -> LoginCounts {
        let counters = &self.inner.logins;
        LoginCounts {
            succeeded: counters.succeeded.load(Ordering::Relaxed),
            failed: counters.failed.load(Ordering::Relaxed),
            throttled: counters.throttled.load(Ordering::Relaxed),
        }
    }

    /// bcrypt computations done since start (a cache hit does none).
    pub fn hashes_done(&self) -> usize {
        self.inner.hasher.hashes_done()
    }

    /// Whether the database answers, within [`Config::database_timeout`]
    /// (a health check is asked often and must answer soon).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn health(&self) -> bool {
        self.db_within(Some(self.inner.config.database_timeout), auth_db::ping)
            .await
            .is_ok()
    }

    /// Finds an account.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn find_user(&self, identifier: &Identifier) -> AuthResult<Option<User>> {
        let (kind, key) = (identifier.clone(), identifier.key());
        Ok(self
            .db(move |conn| UserRow::find_user_by(conn, user_lookup(&kind, &key)))
            .await?
            .map(User::from_row))
    }

    /// Deletes dead sessions, expired reset tokens and forgotten failure
    /// counts; returns how many rows went.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn purge_expired(&self) -> AuthResult<usize> {
        let (now, now_ms) = (self.now(), self.now_ms());
        let live = self.liveness(now);
        self.db(move |conn| {
            Ok(SessionRow::purge_dead(conn, live)?
                + ResetTokenRow::purge_expired(conn, now)?
                + auth_db::MfaTokenRow::purge_expired(conn, now)?
                + auth_db::EmailTokenRow::purge_expired(conn, now)?
                + Auth::purge_ceremonies(conn, now)?
                + auth_db::OidcAccessTokenRow::purge_expired(conn, now)?
                + auth_db::OidcCodeRow::purge_expired(conn, now - USED_CODES_KEPT_SECS)?
                + ThrottleRow::purge(conn, now_ms - FORGET_AFTER_SECS * 1000, now_ms)?)
        })
        .await
    }

    /// HMAC-SHA256 under this deployment's secret key of `purpose` and
    /// `parts`, each length-prefixed (so `["ab", "c"]` and `["a", "bc"]`
    /// differ): a value only servers with this key can make, for a caller's
    /// own tokens (the web layer's CSRF tokens are one). A value made for one
    /// `purpose` is never one of another's, nor any value the service derives
    /// from the key for itself (such as the key that seals authenticator
    /// secrets). Compare results in constant time.
    pub fn keyed_mac(&self, purpose: &str, parts: &[&[u8]]) -> [u8; 32] {
        let mut framed: Vec<&[u8]> = Vec::with_capacity(parts.len() + 2);
        framed.push(CALLER_MAC_LABEL);
        framed.push(purpose.as_bytes());
        framed.extend_from_slice(parts);
        self.inner.key.mac(&framed)
    }

    // ----- helpers -----

    /// Runs blocking database work on tokio's blocking pool, at most one task
    /// per pooled connection at a time, and waits for its answer at most
    /// [`Config::database_answer_timeout`].
    pub(crate) async fn db<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> DbResult<T> + Send + 'static,
    ) -> AuthResult<T> {
        self.db_within(Some(self.inner.config.database_answer_timeout), work)
            .await
    }

    /// [`Auth::db`] without a bound on the answer, for work whose length
    /// grows with the store (a whole dump).
    pub(crate) async fn db_unbounded<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> DbResult<T> + Send + 'static,
    ) -> AuthResult<T> {
        self.db_within(None, work).await
    }

    async fn db_within<T: Send + 'static>(
        &self,
        answer_within: Option<std::time::Duration>,
        work: impl FnOnce(&mut DbConnection) -> DbResult<T> + Send + 'static,
    ) -> AuthResult<T> {
        // Without the permit every waiting request would hold a blocking
        // thread of its own: 64 connections made 150 to 340 threads, and the
        // scheduling cost more than the queries.
        let permit = tokio::time::timeout(
            self.inner.config.database_timeout,
            Arc::clone(&self.inner.db_permits).acquire_owned(),
        )
        .await;
        let Ok(Ok(permit)) = permit else {
            tracing::warn!("no database connection became free in time");
            return Err(AuthError::Unavailable);
        };
        let pool = self.inner.pool.clone();
        // The request's span goes with the work, so a slow query's log line
        // carries the request id.
        let span = tracing::Span::current();
        let task = tokio::task::spawn_blocking(move || {
            // Work cut off by the answer bound keeps its permit until it
            // ends, so stuck statements never take more threads than the
            // pool has connections.
            let _permit = permit;
            let _entered = span.enter();
            let started = std::time::Instant::now();
            let mut conn = pool.get()?;
            let result = work(&mut conn);
            let elapsed_ms = started.elapsed().as_millis();
            if elapsed_ms >= SLOW_DATABASE_WORK_MS {
                tracing::warn!(elapsed_ms, "slow database work");
            } else {
                tracing::trace!(elapsed_ms, "database work done");
            }
            result
        });
        let joined = match answer_within {
            Some(bound) => match tokio::time::timeout(bound, task).await {
                Ok(joined) => joined,
                Err(_) => {
                    tracing::warn!(
                        waited_ms = bound.as_millis(),
                        "the database did not answer in time"
                    );
                    return Err(AuthError::Unavailable);
                }
            },
            None => task.await,
        };
        let result =
            joined.map_err(|e| AuthError::Internal(format!("database task failed: {e}")))?;
        result.map_err(log_db_error)
    }

    /// Runs a short read-only statement. On SQLite, with a connection idle in
    /// the pool, it runs right here: an indexed read in WAL mode takes a few
    /// microseconds and never waits for the writer, far less than handing it
    /// to another thread. Otherwise it goes the way of [`Auth::db`].
    pub(crate) async fn db_read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> DbResult<T> + Send + 'static,
    ) -> AuthResult<T> {
        if self.inner.inline_reads {
            if let Some(mut conn) = self.inner.pool.try_get() {
                return work(&mut conn).map_err(log_db_error);
            }
        }
        self.db(work).await
    }

    /// Now, in Unix seconds.
    pub(crate) fn now(&self) -> i64 {
        self.inner.clock.now()
    }

    /// Now, in Unix milliseconds.
    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }
}

/// How long an expired OIDC authorization code is kept, so that a second
/// use of it is still recognised (and revokes what the first gave) for the
/// lifetime of an ID token.
const USED_CODES_KEPT_SECS: i64 = 60 * 60;

/// Database work (waiting for a connection included) that takes this long
/// is logged as a warning, with the request's id from its span.
const SLOW_DATABASE_WORK_MS: u128 = 500;

/// The first part of every [`Auth::keyed_mac`]: the service's own uses of
/// the key start with other labels, so no caller can compute one of them.
const CALLER_MAC_LABEL: &[u8] = b"caller keyed_mac v1";

/// How an identifier is looked up: by its key, in the field it names.
pub(crate) fn user_lookup<'a>(identifier: &Identifier, key: &'a str) -> UserLookup<'a> {
    match identifier {
        Identifier::Username(_) => UserLookup::UsernameKey(key),
        Identifier::Email(_) => UserLookup::EmailKey(key),
        Identifier::Any(_) => UserLookup::UsernameOrEmailKey(key),
    }
}

/// Turns a database error into the service's, logging what the caller will not see.
fn log_db_error(error: DbError) -> AuthError {
    let error = AuthError::from_db(error);
    if let AuthError::Internal(detail) = &error {
        tracing::error!(error = %detail, "database error");
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keyed_mac_never_gives_a_value_the_service_derives_for_itself() {
        let dir = tempfile::TempDir::new().unwrap();
        let url = format!("sqlite://{}", dir.path().join("auth.db").display());
        let config = Config {
            bcrypt_cost: 4,
            ..Config::default()
        };
        let auth = Auth::open(&url, SecretKey::generate(), config)
            .await
            .unwrap();
        let key = &auth.inner.key;
        // The key that seals authenticator secrets at rest, and a caller's
        // every way of spelling its label.
        let seal = key.mac(&[b"totp-secret-seal v1"]);
        for (purpose, parts) in [
            ("totp-secret-seal v1", &[][..]),
            ("", &[&b"totp-secret-seal v1"[..]][..]),
        ] {
            assert_ne!(auth.keyed_mac(purpose, parts), seal);
        }
        // Purposes and parts do not run into each other.
        assert_ne!(
            auth.keyed_mac("csrf", &[b"session", b"s1"]),
            auth.keyed_mac("csrfsession", &[b"s1"])
        );
        assert_ne!(
            auth.keyed_mac("csrf", &[b"ab", b"c"]),
            auth.keyed_mac("csrf", &[b"a", b"bc"])
        );
        assert_eq!(
            auth.keyed_mac("csrf", &[b"session", b"s1"]),
            auth.keyed_mac("csrf", &[b"session", b"s1"])
        );
    }
}
