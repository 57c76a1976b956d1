//! The test harness: `TestDb` (from auth-db's `test-support` feature) and a
//! macro that writes each scenario for both backends.

pub use auth_db::test_support::*;

/// Writes a `_sqlite` and a `_postgres` test for each scenario (a `fn(TestDb)`).
macro_rules! on_both_backends {
    ($($scenario:ident => $sqlite:ident, $postgres:ident;)*) => {$(
        #[test]
        fn $sqlite() {
            $scenario($crate::common::TestDb::sqlite());
        }

        #[test]
        fn $postgres() {
            if let Some(db) = $crate::common::TestDb::postgres() {
                $scenario(db);
            }
        }
    )*};
}
