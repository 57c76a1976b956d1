//! The `access_tokens` table: personal access tokens, hashed
//! (docs/contract/11-access-tokens-and-admin-api.md).

use diesel::prelude::*;

use crate::error::DbResult;
use crate::schema::{access_tokens, users};
use crate::{on_each_backend, DbConnection, UserRow};

/// One personal access token as stored.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = access_tokens)]
pub struct AccessTokenRow {
    /// UUID of the token.
    pub id: String,
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// The account it acts for.
    pub user_id: String,
    /// The name its maker gave it.
    pub name: String,
    /// Space-separated scopes.
    pub scopes: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; `None` never expires.
    pub expires_at: Option<i64>,
}

impl AccessTokenRow {
    /// Stores a new token.
    pub fn create(conn: &mut DbConnection, row: &AccessTokenRow) -> DbResult<()> {
        diesel::insert_into(access_tokens::table)
            .values(row)
            .execute(conn)?;
        Ok(())
    }

    /// The live token of a hash with its account, in one indexed lookup: not
    /// expired at `now`, and its account not disabled.
    pub fn find_live_with_user(
        conn: &mut DbConnection,
        token_hash: &str,
        now: i64,
    ) -> DbResult<Option<(AccessTokenRow, UserRow)>> {
        Ok(on_each_backend!(conn, |c| access_tokens::table
            .inner_join(users::table)
            .filter(access_tokens::token_hash.eq(token_hash))
            .filter(
                access_tokens::expires_at
                    .is_null()
                    .or(access_tokens::expires_at.gt(now))
            )
            .filter(users::disabled_at.is_null())
            .select((AccessTokenRow::as_select(), UserRow::as_select()))
            .get_result(c)
            .optional())?)
    }

    /// The tokens of an account, newest first.
    pub fn list_for_user(conn: &mut DbConnection, user_id: &str) -> DbResult<Vec<AccessTokenRow>> {
        Ok(access_tokens::table
            .filter(access_tokens::user_id.eq(user_id))
            .order((access_tokens::created_at.desc(), access_tokens::id))
            .select(AccessTokenRow::as_select())
            .load(conn)?)
    }

    /// One token by id.
    pub fn find(conn: &mut DbConnection, id: &str) -> DbResult<Option<AccessTokenRow>> {
        Ok(access_tokens::table
            .find(id)
            .select(AccessTokenRow::as_select())
            .get_result(conn)
            .optional()?)
    }

    /// Deletes one token; with `user_id`, only if it is that account's.
    /// Returns the number of rows deleted.
    pub fn delete(conn: &mut DbConnection, id: &str, user_id: Option<&str>) -> DbResult<usize> {
        let query = access_tokens::table.filter(access_tokens::id.eq(id));
        Ok(match user_id {
            Some(user_id) => {
                diesel::delete(query.filter(access_tokens::user_id.eq(user_id))).execute(conn)?
            }
            None => diesel::delete(query).execute(conn)?,
        })
    }

    /// Deletes every token of an account.
    pub fn delete_for_user(conn: &mut DbConnection, user_id: &str) -> DbResult<usize> {
        Ok(
            diesel::delete(access_tokens::table.filter(access_tokens::user_id.eq(user_id)))
                .execute(conn)?,
        )
    }

    /// Deletes tokens expired before `now`.
    pub fn purge_expired(conn: &mut DbConnection, now: i64) -> DbResult<usize> {
        Ok(
            diesel::delete(access_tokens::table.filter(access_tokens::expires_at.le(now)))
                .execute(conn)?,
        )
    }

    /// Every token, for a dump: by creation, then id.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<AccessTokenRow>> {
        Ok(access_tokens::table
            .order((access_tokens::created_at, access_tokens::id))
            .select(AccessTokenRow::as_select())
            .load(conn)?)
    }
}
