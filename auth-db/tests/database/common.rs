//! The test harness: `TestDb` and `on_both_backends!`, from auth-db's
//! `test-support` feature.

pub use auth_db::on_both_backends;
pub use auth_db::test_support::*;
