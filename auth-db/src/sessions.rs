//! The `sessions` table.

use diesel::prelude::*;

use crate::error::DbResult;
use crate::on_each_backend;
use crate::schema::{sessions, users};
use crate::users::UserRow;
use crate::DbConnection;

/// One login session as stored; the token itself is never stored.
#[derive(Queryable, Selectable, Insertable, Identifiable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    /// UUID of the session (what `/sessions/{id}` names).
    pub id: String,
    /// Hex SHA-256 of the session token.
    pub token_hash: String,
    /// The account.
    pub user_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last refresh (refreshed at most once a minute).
    pub last_seen_at: i64,
    /// Unix seconds after which the session is dead, used or not.
    pub expires_at: i64,
    /// The `User-Agent` of the login, for the session list.
    pub user_agent: Option<String>,
    /// Unix seconds when the login completed a second factor; `None` for a
    /// password-only login.
    pub second_factor_at: Option<i64>,
    /// How the session was signed in (RFC 8176 methods, space-separated).
    pub amr: Option<String>,
}

/// The times that decide whether a session is alive.
#[derive(Clone, Copy, Debug)]
pub struct Liveness {
    /// Now, in Unix seconds.
    pub now: i64,
    /// Sessions last seen before this are idle and dead.
    pub idle_cutoff: i64,
}

impl SessionRow {
    /// Stores a new session.
    pub fn create(conn: &mut DbConnection, row: &SessionRow) -> DbResult<()> {
        diesel::insert_into(sessions::table)
            .values(row)
            .execute(conn)?;
        Ok(())
    }

    /// How a session was signed in (`None` for an unknown session or one
    /// older than the record).
    pub fn amr_of(conn: &mut DbConnection, id: &str) -> DbResult<Option<String>> {
        Ok(sessions::table
            .find(id)
            .select(sessions::amr)
            .get_result::<Option<String>>(conn)
            .optional()?
            .flatten())
    }

    /// Whether a session with this id exists (live or not yet purged).
    pub fn exists(conn: &mut DbConnection, id: &str) -> DbResult<bool> {
        Ok(diesel::select(diesel::dsl::exists(sessions::table.find(id))).get_result(conn)?)
    }

    /// The live session with this token hash, with its account. Every
    /// session check runs it, so it is issued per backend, where the
    /// prepared statement is cached.
    // No `.first()` here or anywhere in this crate: its `LIMIT ?` makes
    // SQLite (3.53) re-prepare the statement at every run, since a bound
    // limit may change the plan; that parse was most of a session check's
    // CPU. Each lookup is by a unique key, so `get_result` reads at most one row.
    pub fn find_live_with_user(
        conn: &mut DbConnection,
        token_hash: &str,
        live: Liveness,
    ) -> DbResult<Option<(SessionRow, UserRow)>> {
        Ok(on_each_backend!(conn, |c| sessions::table
            .inner_join(users::table)
            .filter(sessions::token_hash.eq(token_hash))
            .filter(sessions::expires_at.gt(live.now))
            .filter(sessions::last_seen_at.ge(live.idle_cutoff))
            .filter(users::disabled_at.is_null())
            .select((SessionRow::as_select(), UserRow::as_select()))
            .get_result(c)
            .optional())?)
    }

    /// Refreshes `last_seen_at` unless it is newer than `refresh_before`, so a
    /// busy session costs at most one write a minute.
    pub fn touch(
        conn: &mut DbConnection,
        id: &str,
        now: i64,
        refresh_before: i64,
    ) -> DbResult<usize> {
        Ok(diesel::update(
            sessions::table
                .find(id)
                .filter(sessions::last_seen_at.lt(refresh_before)),
        )
        .set(sessions::last_seen_at.eq(now))
        .execute(conn)?)
    }

    /// Ends the session with this token hash; returns how many ended (0 or 1).
    pub fn delete_by_token_hash(conn: &mut DbConnection, token_hash: &str) -> DbResult<usize> {
        Ok(
            diesel::delete(sessions::table.filter(sessions::token_hash.eq(token_hash)))
                .execute(conn)?,
        )
    }

    /// Ends one session of one user; returns how many ended (0 or 1).
    pub fn delete_for_user(conn: &mut DbConnection, id: &str, user_id: &str) -> DbResult<usize> {
        Ok(diesel::delete(
            sessions::table
                .find(id)
                .filter(sessions::user_id.eq(user_id)),
        )
        .execute(conn)?)
    }

    /// Ends every session of a user, except `keep` if given.
    pub fn delete_all_for_user(
        conn: &mut DbConnection,
        user_id: &str,
        keep: Option<&str>,
    ) -> DbResult<usize> {
        let query = sessions::table.filter(sessions::user_id.eq(user_id));
        Ok(match keep {
            Some(keep) => diesel::delete(query.filter(sessions::id.ne(keep))).execute(conn)?,
            None => diesel::delete(query).execute(conn)?,
        })
    }

    /// The live sessions of a user, newest first.
    pub fn list_live_for_user(
        conn: &mut DbConnection,
        user_id: &str,
        live: Liveness,
    ) -> DbResult<Vec<SessionRow>> {
        Ok(sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::expires_at.gt(live.now))
            .filter(sessions::last_seen_at.ge(live.idle_cutoff))
            .order((sessions::created_at.desc(), sessions::id))
            .select(SessionRow::as_select())
            .load(conn)?)
    }

    /// Deletes every dead session; returns how many.
    pub fn purge_dead(conn: &mut DbConnection, live: Liveness) -> DbResult<usize> {
        Ok(diesel::delete(
            sessions::table.filter(
                sessions::expires_at
                    .le(live.now)
                    .or(sessions::last_seen_at.lt(live.idle_cutoff)),
            ),
        )
        .execute(conn)?)
    }

    /// Every session, live or dead, for a dump: ordered by creation, then id.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<SessionRow>> {
        Ok(sessions::table
            .order((sessions::created_at, sessions::id))
            .select(SessionRow::as_select())
            .load(conn)?)
    }
}

impl SessionRow {
    /// Whether the account has a session signed in or used since `since`
    /// (Unix seconds) from this user agent: what "a device seen before"
    /// means for the notice of a new sign-in (docs/contract/10-email.md).
    pub fn user_agent_seen(
        conn: &mut DbConnection,
        user_id: &str,
        user_agent: Option<&str>,
        since: i64,
    ) -> DbResult<bool> {
        let recent = sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::last_seen_at.ge(since));
        Ok(match user_agent {
            Some(ua) => diesel::select(diesel::dsl::exists(
                recent.filter(sessions::user_agent.eq(ua)),
            ))
            .get_result(conn)?,
            None => diesel::select(diesel::dsl::exists(
                recent.filter(sessions::user_agent.is_null()),
            ))
            .get_result(conn)?,
        })
    }
}
