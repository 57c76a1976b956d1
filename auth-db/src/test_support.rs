//! What the tests of auth-db and auth-core share (feature `test-support`,
//! for their dev-dependencies only): a fresh database for every test, on
//! SQLite and, when `AUTHD_TEST_POSTGRES_URL` is set, on PostgreSQL too.

// Test harness: a database that cannot be made is a failed test, with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

use crate::{DatabaseUrl, DbConnection};

/// The variable that names the PostgreSQL server of the tests.
pub const POSTGRES_ENV: &str = "AUTHD_TEST_POSTGRES_URL";

/// When set, each test gets a database of its own instead of a schema: a
/// pooler such as PgBouncer drops the `options` parameter that picks a
/// schema. The URL may then carry authd's own `prepared_statements=off`,
/// which is left out of the tests' own libpq connections.
pub const DATABASE_PER_TEST_ENV: &str = "AUTHD_TEST_POSTGRES_DATABASE_PER_TEST";

/// One test's own database; dropping it deletes the database.
pub struct TestDb {
    /// The URL to open it with (`sqlite://…` or `postgres://…?options=…`).
    pub url: String,
    _keep: Keep,
}

/// What a test database is deleted with: held only for its `Drop`.
enum Keep {
    Dir { _dir: tempfile::TempDir },
    Schema { _schema: PgSchema },
}

/// Drops the test's schema (or database) when the test ends, passed or failed.
struct PgSchema {
    base_url: String,
    name: String,
    /// A database of its own rather than a schema (see [`DATABASE_PER_TEST_ENV`]).
    database: bool,
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let dropped = PgConnection::establish(&self.base_url)
            .map_err(|e| e.to_string())
            .and_then(|mut c| {
                let drop = if self.database {
                    format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)
                } else {
                    format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name)
                };
                c.batch_execute(&drop).map_err(|e| e.to_string())
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
            _keep: Keep::Dir { _dir: dir },
        }
    }

    /// A fresh schema on the server of `AUTHD_TEST_POSTGRES_URL`, or `None`
    /// when the variable is unset (the PostgreSQL variants are ignored tests
    /// that fail then). A server that does not answer fails the test.
    pub fn postgres() -> Option<TestDb> {
        let base_url = std::env::var(POSTGRES_ENV).ok()?;
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        if std::env::var_os(DATABASE_PER_TEST_ENV).is_some() {
            return Some(TestDb::postgres_database(&base_url, name));
        }
        let mut conn = PgConnection::establish(&base_url).unwrap_or_else(|e| {
            panic!(
                "{POSTGRES_ENV} is set to {} but PostgreSQL does not answer: {e}",
                crate::redact_url(&base_url)
            )
        });
        conn.batch_execute(&format!("CREATE SCHEMA {name}"))
            .unwrap_or_else(|e| panic!("could not create test schema {name}: {e}"));
        let separator = if base_url.contains('?') { '&' } else { '?' };
        let url = format!("{base_url}{separator}options=-csearch_path%3D{name}");
        Some(TestDb {
            url,
            _keep: Keep::Schema {
                _schema: PgSchema {
                    base_url,
                    name,
                    database: false,
                },
            },
        })
    }

    /// A database `name` of its own on the server of `base_url`.
    fn postgres_database(base_url: &str, name: String) -> TestDb {
        let libpq_base = crate::libpq_url(base_url);
        PgConnection::establish(&libpq_base)
            .unwrap_or_else(|e| {
                panic!(
                    "{POSTGRES_ENV} is set to {} but PostgreSQL does not answer: {e}",
                    crate::redact_url(&libpq_base)
                )
            })
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("could not create test database {name}: {e}"));
        let (before_query, query) = base_url.split_once('?').unwrap_or((base_url, ""));
        let server = before_query
            .rfind('/')
            .map_or(before_query, |at| &before_query[..at]);
        let url = match query {
            "" => format!("{server}/{name}"),
            query => format!("{server}/{name}?{query}"),
        };
        TestDb {
            url,
            _keep: Keep::Schema {
                _schema: PgSchema {
                    base_url: libpq_base,
                    name,
                    database: true,
                },
            },
        }
    }

    /// A new connection, without migrations.
    pub fn connect(&self) -> DbConnection {
        DatabaseUrl::parse(&self.url)
            .and_then(|url| url.establish())
            .unwrap_or_else(|e| panic!("connect to {}: {e}", crate::redact_url(&self.url)))
    }

    /// A new connection to the migrated database.
    pub fn migrated(&self) -> DbConnection {
        let mut conn = self.connect();
        crate::run_migrations(&mut conn).expect("apply the migrations");
        conn
    }
}

/// Writes a `_sqlite` test and an ignored `_postgres` test (run with
/// `--include-ignored` and `AUTHD_TEST_POSTGRES_URL` set) for each scenario,
/// the one macro of every crate's both-backend tests. A scenario is an
/// `async fn(TestDb)`, run on a two-thread tokio runtime (the caller's
/// tests depend on tokio), or after `sync:` a plain `fn(TestDb)`.
#[macro_export]
macro_rules! on_both_backends {
    (sync: $($scenario:ident => $sqlite:ident, $postgres:ident;)*) => {$(
        #[test]
        fn $sqlite() {
            $scenario($crate::test_support::TestDb::sqlite());
        }

        #[test]
        #[ignore = "needs AUTHD_TEST_POSTGRES_URL"]
        fn $postgres() {
            $scenario($crate::test_support::TestDb::postgres().expect(
                "AUTHD_TEST_POSTGRES_URL must name a PostgreSQL server to run the PostgreSQL variants",
            ));
        }
    )*};
    ($($scenario:ident => $sqlite:ident, $postgres:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            $scenario($crate::test_support::TestDb::sqlite()).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[ignore = "needs AUTHD_TEST_POSTGRES_URL"]
        async fn $postgres() {
            $scenario($crate::test_support::TestDb::postgres().expect(
                "AUTHD_TEST_POSTGRES_URL must name a PostgreSQL server to run the PostgreSQL variants",
            )).await;
        }
    )*};
}
