//! The `email_tokens` and `breached_logins` tables, and the writes that
//! give an account its e-mail address (docs/contract/10-email.md).

use diesel::prelude::*;

use crate::error::DbResult;
use crate::schema::{breached_logins, email_tokens, identifiers, users};
use crate::DbConnection;

/// A live e-mail verification token, hashed.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = email_tokens)]
pub struct EmailTokenRow {
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// The account.
    pub user_id: String,
    /// The address the token proves, as typed.
    pub email: String,
    /// The address, lowercased and NFC.
    pub email_key: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds after which the token is void.
    pub expires_at: i64,
}

impl EmailTokenRow {
    /// Stores the account's token, voiding any earlier one (one live token per account).
    pub fn replace(conn: &mut DbConnection, row: &EmailTokenRow) -> DbResult<()> {
        crate::transaction(conn, |conn| {
            diesel::delete(email_tokens::table.filter(email_tokens::user_id.eq(&row.user_id)))
                .execute(conn)?;
            diesel::insert_into(email_tokens::table)
                .values(row)
                .execute(conn)?;
            Ok(())
        })
    }

    /// The live token with this hash, without using it (a GET of the link).
    pub fn find_live(
        conn: &mut DbConnection,
        token_hash: &str,
        now: i64,
    ) -> DbResult<Option<EmailTokenRow>> {
        Ok(email_tokens::table
            .find(token_hash)
            .filter(email_tokens::expires_at.gt(now))
            .select(EmailTokenRow::as_select())
            .get_result(conn)
            .optional()?)
    }

    /// Uses the token: one conditional delete decides, so of two callers
    /// racing with one token only one gets the row.
    pub fn take(
        conn: &mut DbConnection,
        token_hash: &str,
        now: i64,
    ) -> DbResult<Option<EmailTokenRow>> {
        let Some(row) = Self::find_live(conn, token_hash, now)? else {
            return Ok(None);
        };
        // Before this token's row is locked: verifications of one address
        // take turns, so none waits for a token row another one holds.
        lock_address(conn, &row.email_key)?;
        let deleted = diesel::delete(
            email_tokens::table
                .find(token_hash)
                .filter(email_tokens::expires_at.gt(now)),
        )
        .execute(conn)?;
        Ok((deleted == 1).then_some(row))
    }

    /// The account's pending token, if any (what `/me` shows as a pending change).
    pub fn for_user(
        conn: &mut DbConnection,
        user_id: &str,
        now: i64,
    ) -> DbResult<Option<EmailTokenRow>> {
        Ok(email_tokens::table
            .filter(email_tokens::user_id.eq(user_id))
            .filter(email_tokens::expires_at.gt(now))
            .select(EmailTokenRow::as_select())
            .get_result(conn)
            .optional()?)
    }

    /// Voids the account's token, if any.
    pub fn delete_for_user(conn: &mut DbConnection, user_id: &str) -> DbResult<usize> {
        Ok(
            diesel::delete(email_tokens::table.filter(email_tokens::user_id.eq(user_id)))
                .execute(conn)?,
        )
    }

    /// Voids every other account's token for this address: it now belongs to `owner`.
    pub fn release_address(
        conn: &mut DbConnection,
        email_key: &str,
        owner: &str,
    ) -> DbResult<usize> {
        Ok(diesel::delete(
            email_tokens::table
                .filter(email_tokens::email_key.eq(email_key))
                .filter(email_tokens::user_id.ne(owner)),
        )
        .execute(conn)?)
    }

    /// Deletes expired tokens; returns how many.
    pub fn purge_expired(conn: &mut DbConnection, now: i64) -> DbResult<usize> {
        Ok(
            diesel::delete(email_tokens::table.filter(email_tokens::expires_at.le(now)))
                .execute(conn)?,
        )
    }

    /// Every token, for a dump: ordered by creation, then hash.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<EmailTokenRow>> {
        Ok(email_tokens::table
            .order((email_tokens::created_at, email_tokens::token_hash))
            .select(EmailTokenRow::as_select())
            .load(conn)?)
    }
}

/// Makes the transaction's other verifications of `email_key` wait for it
/// (PostgreSQL: an advisory lock until the transaction ends; SQLite's write
/// transaction already holds the whole database). Without it two accounts
/// verifying one address could deadlock: each holds its own token row and
/// waits for the other's name or token.
pub fn lock_address(conn: &mut DbConnection, email_key: &str) -> DbResult<()> {
    if let DbConnection::Postgres(c) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1)::bigint)")
            .bind::<diesel::sql_types::Text, _>(email_key)
            .execute(c)?;
    }
    Ok(())
}

/// How giving an account an address ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressClaim {
    /// The address is now the account's, verified.
    Verified,
    /// Another account holds the address (verified, or as its only name).
    Taken,
    /// The account is gone, or its address changed since the token was made.
    Stale,
}

/// The account that holds this name (username or e-mail key), if any.
fn name_holder(conn: &mut DbConnection, key: &str) -> DbResult<Option<String>> {
    Ok(identifiers::table
        .find(key)
        .select(identifiers::user_id)
        .get_result(conn)
        .optional()?)
}

/// Marks the account's current address verified, if it is still `email_key`.
pub fn mark_email_verified(
    conn: &mut DbConnection,
    user_id: &str,
    email_key: &str,
    now: i64,
) -> DbResult<usize> {
    Ok(diesel::update(
        users::table
            .find(user_id)
            .filter(users::email_key.eq(email_key)),
    )
    .set((users::email_verified_at.eq(now), users::updated_at.eq(now)))
    .execute(conn)?)
}

/// Makes `email` the verified address of `user_id`, in the caller's write
/// transaction. The `identifiers` primary key settles a race: of two
/// accounts verifying one address at once, one insert wins and the other is
/// [`AddressClaim::Taken`]. An unverified claim of the address by another
/// account that has a username is released (its address is cleared); an
/// account whose only name is the address keeps it, and the address is taken.
pub fn claim_verified_address(
    conn: &mut DbConnection,
    user_id: &str,
    email: &str,
    email_key: &str,
    now: i64,
) -> DbResult<AddressClaim> {
    let Some((old_key, username_key)) = users::table
        .find(user_id)
        .select((users::email_key, users::username_key))
        .get_result::<(Option<String>, Option<String>)>(conn)
        .optional()?
    else {
        return Ok(AddressClaim::Stale);
    };
    if old_key.as_deref() == Some(email_key) {
        return Ok(match mark_email_verified(conn, user_id, email_key, now)? {
            1 => AddressClaim::Verified,
            _ => AddressClaim::Stale,
        });
    }
    match name_holder(conn, email_key)? {
        Some(holder) if holder == user_id => {}
        Some(holder) => {
            // Released only while unverified and not the holder's only name;
            // the conditional update decides against a racing verification.
            let released = diesel::update(
                users::table
                    .find(&holder)
                    .filter(users::email_key.eq(email_key))
                    .filter(users::email_verified_at.is_null())
                    .filter(users::username_key.is_not_null())
                    .filter(users::username_key.ne(email_key)),
            )
            .set((
                users::email.eq(None::<String>),
                users::email_key.eq(None::<String>),
                users::updated_at.eq(now),
            ))
            .execute(conn)?;
            if released != 1 {
                return Ok(AddressClaim::Taken);
            }
            diesel::delete(identifiers::table.find(email_key)).execute(conn)?;
        }
        None => {}
    }
    let inserted = crate::transaction(conn, |conn| {
        if name_holder(conn, email_key)?.is_none() {
            diesel::insert_into(identifiers::table)
                .values((
                    identifiers::name_key.eq(email_key),
                    identifiers::user_id.eq(user_id),
                ))
                .execute(conn)?;
        }
        Ok(())
    });
    match inserted {
        Ok(()) => {}
        Err(e) if e.is_unique_violation() => return Ok(AddressClaim::Taken),
        Err(e) => return Err(e),
    }
    // The old address is no longer a name of the account, unless it is also
    // its username.
    if let Some(old_key) = old_key {
        if username_key.as_deref() != Some(old_key.as_str()) {
            diesel::delete(
                identifiers::table
                    .find(&old_key)
                    .filter(identifiers::user_id.eq(user_id)),
            )
            .execute(conn)?;
        }
    }
    let changed = diesel::update(users::table.find(user_id))
        .set((
            users::email.eq(email),
            users::email_key.eq(email_key),
            users::email_verified_at.eq(now),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(if changed == 1 {
        AddressClaim::Verified
    } else {
        AddressClaim::Stale
    })
}

/// An account whose last login used a breached password.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = breached_logins)]
pub struct BreachedLoginRow {
    /// The account.
    pub user_id: String,
    /// Unix seconds.
    pub flagged_at: i64,
}

impl BreachedLoginRow {
    /// Flags the account (again).
    pub fn flag(conn: &mut DbConnection, user_id: &str, now: i64) -> DbResult<()> {
        crate::on_each_backend!(conn, |c| diesel::insert_into(breached_logins::table)
            .values(BreachedLoginRow {
                user_id: user_id.to_owned(),
                flagged_at: now,
            })
            .on_conflict(breached_logins::user_id)
            .do_update()
            .set(breached_logins::flagged_at.eq(now))
            .execute(c))?;
        Ok(())
    }

    /// Clears the flag (the password changed, or a login used a clean one).
    pub fn clear(conn: &mut DbConnection, user_id: &str) -> DbResult<usize> {
        Ok(diesel::delete(breached_logins::table.find(user_id)).execute(conn)?)
    }

    /// Whether the account is flagged.
    pub fn is_flagged(conn: &mut DbConnection, user_id: &str) -> DbResult<bool> {
        Ok(
            diesel::select(diesel::dsl::exists(breached_logins::table.find(user_id)))
                .get_result(conn)?,
        )
    }

    /// Every flag, for a dump: ordered by account.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<BreachedLoginRow>> {
        Ok(breached_logins::table
            .order(breached_logins::user_id)
            .select(BreachedLoginRow::as_select())
            .load(conn)?)
    }
}
