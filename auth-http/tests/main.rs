//! auth-http's integration tests as one test binary (`autotests = false` in
//! Cargo.toml): every file of tests/ is a module of it, compiled and linked
//! once. A new test file needs one `#[path] mod` pair here.

// Each file keeps its own `mod common;` (as it had when it was a test binary
// of its own), so tests/common/ is loaded once per file: on purpose.
#![allow(clippy::duplicate_mod)]
// Helpers outside #[test] functions panic on purpose too: a failed step is
// the test failing, with its message (clippy.toml covers the tests themselves).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "ambiguity.rs"]
mod ambiguity;
#[path = "api.rs"]
mod api;
#[path = "mfa.rs"]
mod mfa;
#[path = "openapi.rs"]
mod openapi;
#[path = "passkeys.rs"]
mod passkeys;
#[path = "web.rs"]
mod web;
#[path = "web_account.rs"]
mod web_account;
#[path = "wire.rs"]
mod wire;
