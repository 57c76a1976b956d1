//! auth-core's integration tests as one test binary (`autotests = false` in
//! Cargo.toml): every file of tests/ is a module of it, compiled and linked
//! once. A new test file needs one `mod` line here; tests/common is the
//! one module they share.

// Helpers outside #[test] functions panic on purpose too: a failed step is
// the test failing, with its message (clippy.toml covers the tests themselves).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod access_tokens;
mod accounts;
mod admin_email;
mod breached;
mod dump_key;
mod email;
mod forward_auth;
mod import_dump;
mod machines;
mod oidc;
mod passkeys;
mod passwords;
mod races;
mod second_factors;
mod sessions;
mod spans;
mod throttle;
