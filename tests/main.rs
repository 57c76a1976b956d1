//! The end-to-end tests as one test binary (`autotests = false` in
//! Cargo.toml): every file of tests/ is a module of it, so they are compiled
//! and linked once. A new test file needs one `mod` line here; tests/common is the one
//! module they share.

// Helpers outside #[test] functions panic on purpose too: a failed step is
// the test failing, with its message (clippy.toml covers the tests themselves).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod admin_api;
mod admin_attacks;
mod admin_cli;
mod admin_clients;
mod admin_sites;
mod bounded;
mod browser;
mod cli;
mod client;
mod crash;
mod device;
mod email;
mod examples;
mod forward_auth;
mod holberton;
mod hostile;
mod import_dump;
mod login_next;
mod logs;
mod mfa;
mod oidc;
mod postgres;
mod postgres_outage;
mod postgres_tls;
mod proxies;
mod request_ids;
mod smtp_reset;
mod store_safety;
mod tls;
