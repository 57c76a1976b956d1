//! Second factors: `totp_factors`, `recovery_codes` and `mfa_tokens`.

use diesel::prelude::*;

use crate::error::DbResult;
use crate::schema::{mfa_tokens, recovery_codes, totp_factors};
use crate::{on_each_backend, DbConnection};

/// An account's authenticator app (TOTP), confirmed or waiting for its first code.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = totp_factors)]
pub struct TotpRow {
    /// The account.
    pub user_id: String,
    /// Hex of nonce and ciphertext of the shared secret.
    pub secret_sealed: String,
    /// Unix seconds of the enrolment.
    pub created_at: i64,
    /// Unix seconds of the confirming code; `None` while pending.
    pub confirmed_at: Option<i64>,
    /// The last 30-second step a code was accepted for.
    pub last_step: i64,
}

/// One unused recovery code, hashed.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = recovery_codes)]
pub struct RecoveryCodeRow {
    /// Hex keyed hash of the code.
    pub code_hash: String,
    /// The account.
    pub user_id: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// A token between a right password and the second step, hashed.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = mfa_tokens)]
pub struct MfaTokenRow {
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// The account.
    pub user_id: String,
    /// The credential version the password proved.
    pub credential_version: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds after which the token is void.
    pub expires_at: i64,
}

impl TotpRow {
    /// The account's TOTP row, pending or confirmed.
    pub fn find(conn: &mut DbConnection, user_id: &str) -> DbResult<Option<TotpRow>> {
        Ok(totp_factors::table
            .find(user_id)
            .select(TotpRow::as_select())
            .get_result(conn)
            .optional()?)
    }

    /// Stores a pending enrolment, replacing a pending one; a confirmed
    /// factor is left alone. Returns the rows written (0: one is confirmed).
    pub fn upsert_pending(conn: &mut DbConnection, row: &TotpRow) -> DbResult<usize> {
        diesel::delete(
            totp_factors::table
                .find(&row.user_id)
                .filter(totp_factors::confirmed_at.is_null()),
        )
        .execute(conn)?;
        Ok(on_each_backend!(conn, |c| diesel::insert_into(
            totp_factors::table
        )
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?)
    }

    /// Marks the pending factor confirmed with the step of its first code:
    /// one conditional update, so two confirmations cannot both win.
    pub fn confirm(conn: &mut DbConnection, user_id: &str, step: i64, now: i64) -> DbResult<bool> {
        let updated = diesel::update(
            totp_factors::table
                .find(user_id)
                .filter(totp_factors::confirmed_at.is_null()),
        )
        .set((
            totp_factors::confirmed_at.eq(now),
            totp_factors::last_step.eq(step),
        ))
        .execute(conn)?;
        Ok(updated == 1)
    }

    /// Uses a step of a confirmed factor: succeeds only for a step later than
    /// every step used before, so a code is accepted at most once.
    pub fn use_step(conn: &mut DbConnection, user_id: &str, step: i64) -> DbResult<bool> {
        let updated = diesel::update(
            totp_factors::table
                .find(user_id)
                .filter(totp_factors::confirmed_at.is_not_null())
                .filter(totp_factors::last_step.lt(step)),
        )
        .set(totp_factors::last_step.eq(step))
        .execute(conn)?;
        Ok(updated == 1)
    }

    /// Removes the account's factor, pending or confirmed.
    pub fn delete(conn: &mut DbConnection, user_id: &str) -> DbResult<usize> {
        Ok(diesel::delete(totp_factors::table.find(user_id)).execute(conn)?)
    }

    /// Every row, for a dump: by account.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<TotpRow>> {
        Ok(totp_factors::table
            .order(totp_factors::user_id)
            .select(TotpRow::as_select())
            .load(conn)?)
    }
}

impl RecoveryCodeRow {
    /// Replaces every code of the account with these.
    pub fn replace_all(
        conn: &mut DbConnection,
        user_id: &str,
        rows: &[RecoveryCodeRow],
    ) -> DbResult<()> {
        Self::delete_for_user(conn, user_id)?;
        for row in rows {
            diesel::insert_into(recovery_codes::table)
                .values(row)
                .execute(conn)?;
        }
        Ok(())
    }

    /// Uses a code: one conditional delete, so only one caller can win.
    pub fn consume(conn: &mut DbConnection, user_id: &str, code_hash: &str) -> DbResult<bool> {
        let deleted = diesel::delete(
            recovery_codes::table
                .find(code_hash)
                .filter(recovery_codes::user_id.eq(user_id)),
        )
        .execute(conn)?;
        Ok(deleted == 1)
    }

    /// How many unused codes the account has.
    pub fn count_for_user(conn: &mut DbConnection, user_id: &str) -> DbResult<i64> {
        Ok(recovery_codes::table
            .filter(recovery_codes::user_id.eq(user_id))
            .count()
            .get_result(conn)?)
    }

    /// Deletes every code of the account.
    pub fn delete_for_user(conn: &mut DbConnection, user_id: &str) -> DbResult<usize> {
        Ok(
            diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
                .execute(conn)?,
        )
    }

    /// Every row, for a dump: by account, then hash.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<RecoveryCodeRow>> {
        Ok(recovery_codes::table
            .order((recovery_codes::user_id, recovery_codes::code_hash))
            .select(RecoveryCodeRow::as_select())
            .load(conn)?)
    }
}

impl MfaTokenRow {
    /// Stores a token.
    pub fn create(conn: &mut DbConnection, row: &MfaTokenRow) -> DbResult<()> {
        diesel::insert_into(mfa_tokens::table)
            .values(row)
            .execute(conn)?;
        Ok(())
    }

    /// The live token with this hash.
    pub fn find_live(
        conn: &mut DbConnection,
        token_hash: &str,
        now: i64,
    ) -> DbResult<Option<MfaTokenRow>> {
        Ok(mfa_tokens::table
            .find(token_hash)
            .filter(mfa_tokens::expires_at.gt(now))
            .select(MfaTokenRow::as_select())
            .get_result(conn)
            .optional()?)
    }

    /// Uses a live token: one conditional delete, so only one caller can win.
    pub fn consume(conn: &mut DbConnection, token_hash: &str, now: i64) -> DbResult<bool> {
        let deleted = diesel::delete(
            mfa_tokens::table
                .find(token_hash)
                .filter(mfa_tokens::expires_at.gt(now)),
        )
        .execute(conn)?;
        Ok(deleted == 1)
    }

    /// Voids every token of the account.
    pub fn delete_for_user(conn: &mut DbConnection, user_id: &str) -> DbResult<usize> {
        Ok(
            diesel::delete(mfa_tokens::table.filter(mfa_tokens::user_id.eq(user_id)))
                .execute(conn)?,
        )
    }

    /// Deletes expired tokens; returns how many.
    pub fn purge_expired(conn: &mut DbConnection, now: i64) -> DbResult<usize> {
        Ok(
            diesel::delete(mfa_tokens::table.filter(mfa_tokens::expires_at.le(now)))
                .execute(conn)?,
        )
    }

    /// Every token, for a dump: by creation, then hash.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<MfaTokenRow>> {
        Ok(mfa_tokens::table
            .order((mfa_tokens::created_at, mfa_tokens::token_hash))
            .select(MfaTokenRow::as_select())
            .load(conn)?)
    }
}
