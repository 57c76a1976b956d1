//! The connection type over both backends, the r2d2 manager and the pool.

use std::time::Duration;

use std::time::Instant;

use diesel::connection::{CacheSize, Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::{DbError, DbResult};

/// The migrations of `migrations/`, compiled into the binary.
// auth-db/migrations is a link to the top-level folder, so that a packaged
// auth-db carries its migrations (`cargo package` follows the link).
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// A connection to either backend; every query in this crate runs on it.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// PostgreSQL, for several servers sharing one database.
    Postgres(PgConnection),
    /// Embedded SQLite, the default.
    Sqlite(SqliteConnection),
}

/// Which backend a URL names, decided from its scheme. Its `Debug` hides
/// the password, as [`redact_url`] does.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://PATH`: a file path (relative to the working directory unless absolute).
    Sqlite(String),
    /// `postgres://…` or `postgresql://…`, passed to libpq as it is, except
    /// authd's own parameter `prepared_statements=off`, taken out.
    Postgres(String),
}

/// authd's own query parameter of a PostgreSQL URL (libpq refuses unknown
/// ones, so it is removed before libpq sees the URL): `off` sends every
/// statement unprepared (parse, plan and run in one round trip), for a pooler
/// in transaction mode that cannot keep prepared statements (PgBouncer before
/// 1.21, or without `max_prepared_statements`).
pub const PREPARED_STATEMENTS_PARAM: &str = "prepared_statements";

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            DatabaseUrl::Postgres(url) => {
                f.debug_tuple("Postgres").field(&redact_url(url)).finish()
            }
        }
    }
}

impl DatabaseUrl {
    /// Parses `sqlite://PATH`, `postgres://…` or `postgresql://…`.
    ///
    /// ```
    /// use auth_db::DatabaseUrl;
    ///
    /// let url = DatabaseUrl::parse("sqlite://data/auth.db")?;
    /// assert_eq!(url.sqlite_path(), Some("data/auth.db"));
    /// let url = DatabaseUrl::parse("postgres://authd@db.internal/authd")?;
    /// assert_eq!(url.sqlite_path(), None);
    /// assert!(DatabaseUrl::parse("mysql://db").is_err());
    /// # Ok::<(), auth_db::DbError>(())
    /// ```
    pub fn parse(url: &str) -> DbResult<Self> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() || path.contains(":memory:") {
                return Err(DbError::UnsupportedUrl(
                    "sqlite:// needs a file path (an in-memory database is not shared between connections)".into(),
                ));
            }
            Ok(DatabaseUrl::Sqlite(path.to_owned()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            if let Some((_, query)) = url.split_once('?') {
                for param in query.split('&') {
                    if let Some(("prepared_statements", value)) = param.split_once('=') {
                        if !matches!(value, "on" | "off") {
                            return Err(DbError::UnsupportedUrl(format!(
                                "{PREPARED_STATEMENTS_PARAM}={value}: expected on or off"
                            )));
                        }
                    }
                }
            }
            Ok(DatabaseUrl::Postgres(url.to_owned()))
        } else {
            Err(DbError::UnsupportedUrl(redact_url(url)))
        }
    }

    /// The file path of a SQLite database, if this is one.
    pub fn sqlite_path(&self) -> Option<&str> {
        match self {
            DatabaseUrl::Sqlite(path) => Some(path),
            DatabaseUrl::Postgres(_) => None,
        }
    }

    /// Opens one connection, with the SQLite settings applied.
    pub fn establish(&self) -> DbResult<DbConnection> {
        match self {
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path)
                    .map_err(|e| DbError::Connect(one_line(&e.to_string())))?;
                // WAL lets readers run beside the one writer; busy_timeout makes a
                // writer wait for the lock instead of failing at once.
                while_locked(|| {
                    conn.batch_execute(
                        "PRAGMA busy_timeout = 5000; \
                         PRAGMA journal_mode = WAL; \
                         PRAGMA foreign_keys = ON; \
                         PRAGMA synchronous = NORMAL;",
                    )
                    .map_err(DbError::from)
                })?;
                Ok(DbConnection::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => {
                // libpq initialises OpenSSL without OPENSSL_INIT_NO_ATEXIT,
                // so OpenSSL freed its state at process exit while an r2d2
                // worker could still be in a TLS handshake: a segfault of
                // `r2d2-worker-2` in CI, and `authd user list` failing with
                // nothing on standard error. rust-openssl's init, when it is
                // the first, opts out of that clean-up for the process.
                openssl::init();
                // libpq quotes parts of the URL in some of its messages (a
                // bad percent-escape in the password, for one): the message
                // loses every password of the URL before it goes anywhere.
                let (libpq_url, prepared) = split_prepared_statements(url);
                let mut conn = PgConnection::establish(&libpq_url)
                    .map_err(|e| DbError::Connect(scrub(&e.to_string(), url)))?;
                if !prepared {
                    // Diesel then sends each statement with its parameters in
                    // one PQsendQueryParams: nothing outlives the statement.
                    conn.set_prepared_statement_cache_size(CacheSize::Disabled);
                }
                conn.set_instrumentation(LinkWatch::default());
                Ok(DbConnection::Postgres(conn))
            }
        }
    }
}

/// A PostgreSQL URL as libpq (`psql`, `pg_dump`) takes it: authd's own
/// `prepared_statements` parameter taken out.
///
/// ```
/// assert_eq!(
///     auth_db::libpq_url("postgres://db/authd?prepared_statements=off&sslmode=require"),
///     "postgres://db/authd?sslmode=require"
/// );
/// ```
pub fn libpq_url(url: &str) -> String {
    split_prepared_statements(url).0
}

/// The URL for libpq (without authd's own parameter), and whether
/// statements are prepared and kept (the default).
fn split_prepared_statements(url: &str) -> (String, bool) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), true);
    };
    let mut prepared = true;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|param| match param.split_once('=') {
            Some((PREPARED_STATEMENTS_PARAM, value)) => {
                prepared = value != "off";
                false
            }
            _ => true,
        })
        .collect();
    if kept.is_empty() {
        (base.to_owned(), prepared)
    } else {
        (format!("{base}?{}", kept.join("&")), prepared)
    }
}

/// What a PostgreSQL connection has seen of its link to the server, from
/// Diesel's instrumentation: when a statement last succeeded, and whether
/// one failed because the connection itself is gone.
#[derive(Debug)]
struct LinkWatch {
    last_ok: Instant,
    broken: bool,
}

impl Default for LinkWatch {
    fn default() -> Self {
        LinkWatch {
            last_ok: Instant::now(),
            broken: false,
        }
    }
}

impl Instrumentation for LinkWatch {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::FinishQuery { error, .. } = event {
            match error {
                None => self.last_ok = Instant::now(),
                Some(error) if link_lost(error) => self.broken = true,
                Some(_) => {}
            }
        }
    }
}

/// True for the errors after which a connection is of no further use: the
/// server closed it, or it could not be written to, or an unclassified
/// failure (an administrator's termination, a restart).
fn link_lost(error: &DieselError) -> bool {
    matches!(
        error,
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection
                | DatabaseErrorKind::UnableToSendCommand
                | DatabaseErrorKind::Unknown,
            _
        )
    )
}

/// A PostgreSQL connection used successfully this recently is not tested
/// with a query at checkout: under load every checkout would otherwise pay a
/// round trip for `SELECT 1`, and a dead link still shows at its next
/// statement (then [`LinkWatch`] drops it).
const CHECKOUT_TEST_AFTER_IDLE: Duration = Duration::from_secs(1);

/// The [`LinkWatch`] of a PostgreSQL connection.
fn link_watch(conn: &mut DbConnection) -> Option<&LinkWatch> {
    match conn {
        DbConnection::Postgres(c) => c.instrumentation().downcast_ref::<LinkWatch>(),
        DbConnection::Sqlite(_) => None,
    }
}

/// `message` on one line (libpq adds hints on lines of their own), with every
/// password of `url` replaced by `[redacted]`, as it is written and as
/// percent-decoded.
pub fn scrub(message: &str, url: &str) -> String {
    let mut scrubbed = one_line(message);
    for password in url_passwords(url) {
        if password.is_empty() {
            continue;
        }
        let decoded = percent_decode(&password);
        for secret in [password, decoded] {
            if !secret.is_empty() {
                scrubbed = scrubbed.replace(&secret, "[redacted]");
            }
        }
    }
    scrubbed
}

/// The lines of `message`, trimmed and joined by spaces.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The passwords a URL holds, as written: in `user:password@` and in any
/// `password=` query parameter.
fn url_passwords(url: &str) -> Vec<String> {
    let mut passwords = Vec::new();
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return passwords;
    };
    let after_scheme = &url[scheme_end..];
    let authority_len = after_scheme.find('/').unwrap_or(after_scheme.len());
    if let Some(at) = after_scheme[..authority_len].rfind('@') {
        if let Some((_user, password)) = after_scheme[..at].split_once(':') {
            passwords.push(password.to_owned());
        }
    }
    if let Some((_, query)) = url.split_once('?') {
        for param in query.split('&') {
            if let Some((name, value)) = param.split_once('=') {
                if name.eq_ignore_ascii_case("password") {
                    passwords.push(value.to_owned());
                }
            }
        }
    }
    passwords
}

/// `%XX` escapes decoded where they are valid; anything else kept as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escape {
            Some(byte) => {
                decoded.push(byte);
                i += 3;
            }
            None => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// Hides the passwords of a URL before it goes into a message: the one in
/// `user:password@` and the value of any `password=` query parameter.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let (scheme, after_scheme) = url.split_at(scheme_end);
    // libpq reads the user information up to an `@` before the first `/`.
    let authority_len = after_scheme.find('/').unwrap_or(after_scheme.len());
    let (userinfo, rest) = match after_scheme[..authority_len].rfind('@') {
        Some(at) => after_scheme.split_at(at),
        None => ("", after_scheme),
    };
    let mut redacted = String::with_capacity(url.len());
    redacted.push_str(scheme);
    match userinfo.split_once(':') {
        Some((user, _password)) => {
            redacted.push_str(user);
            redacted.push_str(":[redacted]");
        }
        None => redacted.push_str(userinfo),
    }
    match rest.split_once('?') {
        Some((before, query)) => {
            redacted.push_str(before);
            redacted.push('?');
            let params: Vec<String> = query
                .split('&')
                .map(|param| match param.split_once('=') {
                    Some((name, _)) if name.eq_ignore_ascii_case("password") => {
                        format!("{name}=[redacted]")
                    }
                    _ => param.to_owned(),
                })
                .collect();
            redacted.push_str(&params.join("&"));
        }
        None => redacted.push_str(rest),
    }
    redacted
}

/// An r2d2 manager that picks the backend from the URL itself, so a refused
/// connection is reported with the driver's own reason.
#[derive(Debug)]
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = DbError;

    fn connect(&self) -> Result<DbConnection, DbError> {
        self.url.establish()
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        if link_watch(conn).is_some_and(|watch| watch.last_ok.elapsed() < CHECKOUT_TEST_AFTER_IDLE)
        {
            return Ok(());
        }
        conn.batch_execute("SELECT 1").map_err(DbError::from)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        link_watch(conn).is_some_and(|watch| watch.broken)
    }
}

/// A pool of connections to one database.
pub type DbPool = r2d2::Pool<ConnectionManager>;

/// A connection checked out of the pool.
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// Opens a pool on `url`, failing at once if the database does not answer.
///
/// `max_size` connections at most; `timeout` is how long a checkout waits.
/// The [crate page](crate) opens one on a SQLite file and runs queries on it.
pub fn open_pool(url: &DatabaseUrl, max_size: u32, timeout: Duration) -> DbResult<DbPool> {
    // Connect once by hand first: r2d2's own error after a failed build only
    // says it timed out, while this keeps the driver's reason for the operator.
    drop(url.establish()?);
    let pool = r2d2::Pool::builder()
        .max_size(max_size)
        .min_idle(Some(1))
        // A SQLite connection is an open file of this process: it cannot be
        // dropped by a server or a network the way a PostgreSQL one can, so
        // it is not tested at checkout. A PostgreSQL one is tested only after
        // a second unused (see `is_valid`).
        .test_on_check_out(matches!(url, DatabaseUrl::Postgres(_)))
        .connection_timeout(timeout)
        .error_handler(Box::new(LogErrorHandler))
        .build(ConnectionManager { url: url.clone() })?;
    Ok(pool)
}

/// Sends r2d2's background connection errors to the log instead of stderr.
#[derive(Debug)]
struct LogErrorHandler;

impl r2d2::HandleError<DbError> for LogErrorHandler {
    fn handle_error(&self, error: DbError) {
        tracing::warn!(%error, "database connection failed");
    }
}

/// The key of the PostgreSQL advisory lock that migrations run under: a
/// fixed number ("authd mi" in ASCII), the same for every server.
pub const MIGRATION_LOCK_KEY: i64 = 0x6175_7468_6420_6d69;

/// Applies every pending embedded migration under a database-wide lock, so
/// that servers starting at once on one fresh database do not race to create
/// the same tables; returns how many ran (0 for the ones that waited).
///
/// PostgreSQL: one transaction, under a transaction-level advisory lock on
/// [`MIGRATION_LOCK_KEY`] (so it holds through PgBouncer in transaction mode). SQLite: one `BEGIN IMMEDIATE`
/// transaction (the database's write lock) around them all.
pub fn run_migrations(conn: &mut DbConnection) -> DbResult<usize> {
    let migration_error =
        |e: Box<dyn std::error::Error + Send + Sync>| DbError::Migration(e.to_string());
    match conn {
        DbConnection::Sqlite(c) => while_locked(|| {
            c.immediate_transaction(|c| {
                c.run_pending_migrations(MIGRATIONS)
                    .map(|applied| applied.len())
                    .map_err(migration_error)
            })
        }),
        // One transaction holding a transaction-level advisory lock: behind
        // PgBouncer in transaction mode a session-level lock would be taken
        // on one server connection and the migrations run on others, so it
        // would hold nothing; a transaction stays on one server connection.
        // PostgreSQL's DDL is transactional, so a failed migration leaves
        // nothing half-made (each one is a savepoint inside).
        DbConnection::Postgres(c) => c.transaction(|c| {
            c.batch_execute(&format!(
                "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
            ))?;
            c.run_pending_migrations(MIGRATIONS)
                .map(|applied| applied.len())
                .map_err(migration_error)
        }),
    }
}

/// How long start-up work on SQLite keeps trying while other processes hold
/// the database (several servers or commands starting at once on a busy
/// machine), beyond each statement's own `busy_timeout`.
const STARTUP_LOCK_PATIENCE: Duration = Duration::from_secs(30);

/// Runs `work` again while SQLite answers "database is locked" (switching to
/// WAL, or a migration waiting longer than `busy_timeout` behind another
/// process's), for at most [`STARTUP_LOCK_PATIENCE`].
fn while_locked<T>(mut work: impl FnMut() -> DbResult<T>) -> DbResult<T> {
    let started = std::time::Instant::now();
    loop {
        match work() {
            Err(error)
                if error.to_string().contains("database is locked")
                    && started.elapsed() < STARTUP_LOCK_PATIENCE =>
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            done => return done,
        }
    }
}

/// Runs the same Diesel statement on whichever backend `conn` is: for the
/// statements (upserts) that the multi-backend connection cannot express, and
/// for the hot reads, because the multi-backend connection builds and
/// prepares its SQL anew at every call while each backend's own connection
/// keeps the prepared statement.
#[macro_export]
#[doc(hidden)]
macro_rules! on_each_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::DbConnection::Sqlite($c) => $body,
            $crate::DbConnection::Postgres($c) => $body,
        }
    };
}
