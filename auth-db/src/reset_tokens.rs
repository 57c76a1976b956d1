//! The `reset_tokens` table.

use diesel::prelude::*;

use crate::error::DbResult;
use crate::on_each_backend;
use crate::schema::reset_tokens;
use crate::DbConnection;

/// The live password-reset token of one user, hashed.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = reset_tokens)]
pub struct ResetTokenRow {
    /// The account.
    pub user_id: String,
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds after which the token is void.
    pub expires_at: i64,
}

impl ResetTokenRow {
    /// Stores the user's token, voiding any earlier one in the same statement.
    pub fn replace(conn: &mut DbConnection, row: &ResetTokenRow) -> DbResult<()> {
        on_each_backend!(conn, |c| diesel::insert_into(reset_tokens::table)
            .values(row)
            .on_conflict(reset_tokens::user_id)
            .do_update()
            .set((
                reset_tokens::token_hash.eq(&row.token_hash),
                reset_tokens::created_at.eq(row.created_at),
                reset_tokens::expires_at.eq(row.expires_at),
            ))
            .execute(c))?;
        Ok(())
    }

    /// Whether this user's live token has this hash (without using it).
    pub fn is_valid(
        conn: &mut DbConnection,
        user_id: &str,
        token_hash: &str,
        now: i64,
    ) -> DbResult<bool> {
        Ok(diesel::select(diesel::dsl::exists(
            reset_tokens::table
                .find(user_id)
                .filter(reset_tokens::token_hash.eq(token_hash))
                .filter(reset_tokens::expires_at.gt(now)),
        ))
        .get_result(conn)?)
    }

    /// The account whose live token has this hash, if any (without using it).
    pub fn holder(conn: &mut DbConnection, token_hash: &str, now: i64) -> DbResult<Option<String>> {
        Ok(reset_tokens::table
            .filter(reset_tokens::token_hash.eq(token_hash))
            .filter(reset_tokens::expires_at.gt(now))
            .select(reset_tokens::user_id)
            .get_result(conn)
            .optional()?)
    }

    /// Uses the token: one conditional delete, so only one caller can win.
    pub fn consume(
        conn: &mut DbConnection,
        user_id: &str,
        token_hash: &str,
        now: i64,
    ) -> DbResult<bool> {
        let deleted = diesel::delete(
            reset_tokens::table
                .find(user_id)
                .filter(reset_tokens::token_hash.eq(token_hash))
                .filter(reset_tokens::expires_at.gt(now)),
        )
        .execute(conn)?;
        Ok(deleted == 1)
    }

    /// Voids the user's token, if any.
    pub fn delete_for_user(conn: &mut DbConnection, user_id: &str) -> DbResult<usize> {
        Ok(diesel::delete(reset_tokens::table.find(user_id)).execute(conn)?)
    }

    /// Deletes expired tokens; returns how many.
    pub fn purge_expired(conn: &mut DbConnection, now: i64) -> DbResult<usize> {
        Ok(
            diesel::delete(reset_tokens::table.filter(reset_tokens::expires_at.le(now)))
                .execute(conn)?,
        )
    }

    /// Every reset token, expired or not, for a dump: ordered by creation, then user.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<ResetTokenRow>> {
        Ok(reset_tokens::table
            .order((reset_tokens::created_at, reset_tokens::user_id))
            .select(ResetTokenRow::as_select())
            .load(conn)?)
    }
}
