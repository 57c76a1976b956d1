//! The test harness: a fresh database for every test, on SQLite and, when
//! `AUTHD_TEST_POSTGRES_URL` is set, on PostgreSQL too.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use auth_core::{
    Auth, AuthError, AuthResult, ClientInfo, Config, Identifier, LoginSuccess, ManualClock,
    Password, Registration, SecretKey, User,
};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

/// The variable that names the PostgreSQL server of the tests.
pub const POSTGRES_ENV: &str = "AUTHD_TEST_POSTGRES_URL";

/// One test's own database; dropping it deletes the database.
pub struct TestDb {
    pub url: String,
    _keep: Keep,
}

enum Keep {
    Dir(tempfile::TempDir),
    Schema(PgSchema),
}

/// Drops the test's schema when the test ends, passed or failed.
struct PgSchema {
    base_url: String,
    name: String,
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let dropped = PgConnection::establish(&self.base_url)
            .map_err(|e| e.to_string())
            .and_then(|mut c| {
                c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name))
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = dropped {
            eprintln!("could not drop test schema {}: {e}", self.name);
        }
    }
}

impl TestDb {
    /// A SQLite file in a fresh temporary directory.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::TempDir::new().expect("create a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("auth.db").display());
        TestDb {
            url,
            _keep: Keep::Dir(dir),
        }
    }

    /// A fresh schema on the server of `AUTHD_TEST_POSTGRES_URL`, or `None`
    /// (the test is skipped) when the variable is unset. A server that does
    /// not answer fails the test.
    pub fn postgres() -> Option<TestDb> {
        let Ok(base_url) = std::env::var(POSTGRES_ENV) else {
            eprintln!("skipped: {POSTGRES_ENV} is not set, so the PostgreSQL variant does not run");
            return None;
        };
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::establish(&base_url).unwrap_or_else(|e| {
            panic!(
                "{POSTGRES_ENV} is set to {} but PostgreSQL does not answer: {e}",
                auth_db::redact_url(&base_url)
            )
        });
        conn.batch_execute(&format!("CREATE SCHEMA {name}"))
            .unwrap_or_else(|e| panic!("could not create test schema {name}: {e}"));
        let separator = if base_url.contains('?') { '&' } else { '?' };
        let url = format!("{base_url}{separator}options=-csearch_path%3D{name}");
        Some(TestDb {
            url,
            _keep: Keep::Schema(PgSchema { base_url, name }),
        })
    }
}

/// Writes a `_sqlite` and a `_postgres` test for each scenario
/// (an `async fn(TestDb)`).
macro_rules! on_both_backends {
    ($($scenario:ident => $sqlite:ident, $postgres:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            $scenario($crate::common::TestDb::sqlite()).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            if let Some(db) = $crate::common::TestDb::postgres() {
                $scenario(db).await;
            }
        }
    )*};
}

/// The one key of every test service, so a database can be reopened.
pub fn key() -> SecretKey {
    SecretKey::from_bytes([7; 32])
}

/// The test settings: bcrypt cost 4, a small pool.
pub fn config() -> Config {
    Config {
        bcrypt_cost: 4,
        pool_size: 4,
        ..Config::default()
    }
}

/// A service on the test database with the given settings and a clock that
/// moves only when told.
pub async fn open_with(db: &TestDb, config: Config) -> (Auth, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new());
    let auth = Auth::open_with_clock(&db.url, key(), config, clock.clone())
        .await
        .unwrap_or_else(|e| panic!("open Auth on {}: {e}", auth_db::redact_url(&db.url)));
    (auth, clock)
}

/// A service with the test settings.
pub async fn open(db: &TestDb) -> (Auth, Arc<ManualClock>) {
    open_with(db, config()).await
}

pub fn client() -> ClientInfo {
    ClientInfo::default()
}

pub fn pw(password: &str) -> Password {
    Password::new(password)
}

pub fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

/// A sign-up with a username and a password only.
pub fn named(username: &str, password: &str) -> Registration {
    Registration {
        username: Some(username.into()),
        password: pw(password),
        ..Registration::default()
    }
}

/// Registers a username, panicking on failure.
pub async fn register(auth: &Auth, username: &str, password: &str) -> User {
    auth.register_user(named(username, password), &client())
        .await
        .unwrap_or_else(|e| panic!("register {username}: {e:?}"))
}

/// Logs in by username without presenting an old token.
pub async fn login(auth: &Auth, username: &str, password: &str) -> AuthResult<LoginSuccess> {
    auth.login(
        &Identifier::Username(username.into()),
        &pw(password),
        None,
        &client(),
    )
    .await
}

/// Whether a session token still signs someone in (and which account).
pub async fn signed_in_as(auth: &Auth, token: &str) -> Option<String> {
    match auth.get_user_from_session_id(token).await {
        Ok(signed_in) => Some(signed_in.user.id),
        Err(AuthError::NotAuthenticated) => None,
        Err(other) => panic!("session check failed unexpectedly: {other:?}"),
    }
}

/// A password that passes every rule at the default minimum length.
pub const GOOD: &str = "correct horse battery staple";
/// Another one.
pub const OTHER: &str = "purple monkey dishwasher 42";
