//! The data layer's queries on both backends, and its URL handling: one
//! test binary (`--test database`), a module per concern; `common` is the
//! harness they share.

// Helpers outside #[test] functions panic on purpose too: a failed step is
// the test failing, with its message (clippy.toml covers the tests themselves).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod activity;
mod connection;
mod users;

use std::time::Duration;

use auth_db::schema::{reset_tokens, sessions};
use auth_db::{
    AttemptRow, DatabaseUrl, DbConnection, DbError, DbResult, EventRow, Liveness, MachineRow,
    NewUserRow, ResetTokenRow, SessionRow, SlotClaim, SlotRequest, ThrottleRow, UserChanges,
    UserLookup, UserRow,
};
use common::{on_both_backends, TestDb};
use diesel::prelude::*;

fn add_user(
    conn: &mut DbConnection,
    id: &str,
    username: Option<&str>,
    email: Option<&str>,
) -> DbResult<UserRow> {
    let username_key = username.map(str::to_lowercase);
    let email_key = email.map(str::to_lowercase);
    let new = NewUserRow {
        id,
        username,
        username_key: username_key.as_deref(),
        email,
        email_key: email_key.as_deref(),
        full_name: None,
        mothers_favorite_search_engine: None,
        password_hash: "hash-1",
        created_at: 100,
        updated_at: 100,
    };
    UserRow::add_user(conn, &new)
}

fn session(id: &str, user_id: &str, last_seen_at: i64, expires_at: i64) -> SessionRow {
    SessionRow {
        amr: None,
        id: id.into(),
        token_hash: format!("token-of-{id}"),
        user_id: user_id.into(),
        created_at: last_seen_at,
        last_seen_at,
        expires_at,
        user_agent: None,
        second_factor_at: None,
    }
}

fn reset_token(user_id: &str, token_hash: &str, expires_at: i64) -> ResetTokenRow {
    ResetTokenRow {
        user_id: user_id.into(),
        token_hash: token_hash.into(),
        created_at: 0,
        expires_at,
    }
}
