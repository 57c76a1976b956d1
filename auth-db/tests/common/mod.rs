//! The test harness: `TestDb` (from auth-db's `test-support` feature) and a
//! macro that writes each scenario for both backends.

pub use auth_db::test_support::*;

/// Writes a `_sqlite` test and an ignored `_postgres` test (run with
/// `--include-ignored` and `AUTHD_TEST_POSTGRES_URL` set) for each scenario (a `fn(TestDb)`).
macro_rules! on_both_backends {
    ($($scenario:ident => $sqlite:ident, $postgres:ident;)*) => {$(
        #[test]
        fn $sqlite() {
            $scenario($crate::common::TestDb::sqlite());
        }

        #[test]
        #[ignore = "needs AUTHD_TEST_POSTGRES_URL"]
        fn $postgres() {
            $scenario($crate::common::TestDb::postgres().expect(
                "AUTHD_TEST_POSTGRES_URL must name a PostgreSQL server to run the PostgreSQL variants",
            ));
        }
    )*};
}
