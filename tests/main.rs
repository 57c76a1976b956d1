//! The end-to-end tests as one test binary (`autotests = false` in
//! Cargo.toml): every file of tests/ is a module of it, so they are compiled
//! and linked once. A new test file needs one `#[path] mod` pair here; its own
//! `mod common;` finds tests/common/ as before.

// Each file keeps its own `mod common;` (as it had when it was a test binary
// of its own), so tests/common/ is loaded once per file: on purpose.
#![allow(clippy::duplicate_mod)]
// Helpers outside #[test] functions panic on purpose too: a failed step is
// the test failing, with its message (clippy.toml covers the tests themselves).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "bounded.rs"]
mod bounded;
#[path = "browser.rs"]
mod browser;
#[path = "cli.rs"]
mod cli;
#[path = "client.rs"]
mod client;
#[path = "crash.rs"]
mod crash;
#[path = "device.rs"]
mod device;
#[path = "examples.rs"]
mod examples;
#[path = "holberton.rs"]
mod holberton;
#[path = "hostile.rs"]
mod hostile;
#[path = "import_dump.rs"]
mod import_dump;
#[path = "logs.rs"]
mod logs;
#[path = "mfa.rs"]
mod mfa;
#[path = "postgres.rs"]
mod postgres;
#[path = "postgres_tls.rs"]
mod postgres_tls;
#[path = "request_ids.rs"]
mod request_ids;
#[path = "smtp_reset.rs"]
mod smtp_reset;
#[path = "store_safety.rs"]
mod store_safety;
#[path = "tls.rs"]
mod tls;
