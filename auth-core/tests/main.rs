//! auth-core's integration tests as one test binary (`autotests = false` in
//! Cargo.toml): every file of tests/ is a module of it, compiled and linked
//! once. A new test file needs one `#[path] mod` pair here.

// Each file keeps its own `mod common;` (as it had when it was a test binary
// of its own), so tests/common/ is loaded once per file: on purpose.
#![allow(clippy::duplicate_mod)]
// Helpers outside #[test] functions panic on purpose too: a failed step is
// the test failing, with its message (clippy.toml covers the tests themselves).
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The scenario macros of each file name `$crate::common`.
#[macro_use]
#[allow(unused_macros)]
mod common;

#[path = "accounts.rs"]
mod accounts;
#[path = "dump_key.rs"]
mod dump_key;
#[path = "import_dump.rs"]
mod import_dump;
#[path = "machines.rs"]
mod machines;
#[path = "passkeys.rs"]
mod passkeys;
#[path = "passwords.rs"]
mod passwords;
#[path = "races.rs"]
mod races;
#[path = "second_factors.rs"]
mod second_factors;
#[path = "sessions.rs"]
mod sessions;
#[path = "throttle.rs"]
mod throttle;
