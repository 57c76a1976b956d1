//! Passkeys: `passkeys` and the `webauthn_ceremonies` in progress.

use diesel::prelude::*;

use crate::error::DbResult;
use crate::schema::{passkeys, webauthn_ceremonies};
use crate::{on_each_backend, DbConnection};

/// One passkey of an account.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = passkeys)]
pub struct PasskeyRow {
    /// UUID of the passkey.
    pub id: String,
    /// The account.
    pub user_id: String,
    /// The name its owner gave it.
    pub name: String,
    /// Base64url of the WebAuthn credential id (unique across accounts).
    pub credential_id: String,
    /// The serialized credential (public key and flags), as webauthn-rs keeps it.
    pub credential: String,
    /// The last signature counter accepted.
    pub counter: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last accepted assertion.
    pub last_used_at: Option<i64>,
}

/// A WebAuthn ceremony in progress.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = webauthn_ceremonies)]
pub struct CeremonyRow {
    /// Hex SHA-256 of the ceremony id the client holds.
    pub id_hash: String,
    /// What the ceremony does (registration, sign-in, second step).
    pub kind: String,
    /// The account, when known at the start.
    pub user_id: Option<String>,
    /// What else it belongs to (a session id, an mfa_token hash).
    pub binding: Option<String>,
    /// The web origin it was started for.
    pub origin: String,
    /// The serialized ceremony state (the challenge and what it allows).
    pub state: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds after which it is void.
    pub expires_at: i64,
}

impl PasskeyRow {
    /// Stores a new passkey; 0 when its credential id is already registered
    /// (to any account): the unique index settles a race.
    pub fn create(conn: &mut DbConnection, row: &PasskeyRow) -> DbResult<usize> {
        Ok(on_each_backend!(conn, |c| diesel::insert_into(
            passkeys::table
        )
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?)
    }

    /// The account's passkeys, oldest first.
    pub fn list_for_user(conn: &mut DbConnection, user_id: &str) -> DbResult<Vec<PasskeyRow>> {
        Ok(passkeys::table
            .filter(passkeys::user_id.eq(user_id))
            .order((passkeys::created_at, passkeys::id))
            .select(PasskeyRow::as_select())
            .load(conn)?)
    }

    /// How many passkeys the account has.
    pub fn count_for_user(conn: &mut DbConnection, user_id: &str) -> DbResult<i64> {
        Ok(passkeys::table
            .filter(passkeys::user_id.eq(user_id))
            .count()
            .get_result(conn)?)
    }

    /// The passkey with this credential id.
    pub fn find_by_credential_id(
        conn: &mut DbConnection,
        credential_id: &str,
    ) -> DbResult<Option<PasskeyRow>> {
        Ok(passkeys::table
            .filter(passkeys::credential_id.eq(credential_id))
            .select(PasskeyRow::as_select())
            .get_result(conn)
            .optional()?)
    }

    /// Takes an assertion's signature counter: one conditional update that
    /// succeeds only if the counter moves forward, or stays 0 for an
    /// authenticator that keeps none. A counter that goes backwards or stays
    /// put (a cloned authenticator, a replay) changes nothing, and two
    /// assertions racing with one counter value cannot both win.
    pub fn accept_assertion(
        conn: &mut DbConnection,
        id: &str,
        counter: i64,
        credential: &str,
        now: i64,
    ) -> DbResult<bool> {
        let forward = passkeys::counter.lt(counter).or(passkeys::counter
            .eq(0)
            .and(counter.into_sql::<diesel::sql_types::BigInt>().eq(0)));
        let updated = diesel::update(passkeys::table.find(id).filter(forward))
            .set((
                passkeys::counter.eq(counter),
                passkeys::credential.eq(credential),
                passkeys::last_used_at.eq(now),
            ))
            .execute(conn)?;
        Ok(updated == 1)
    }

    /// Removes one passkey of the account; returns the rows removed.
    pub fn delete_for_user(conn: &mut DbConnection, id: &str, user_id: &str) -> DbResult<usize> {
        Ok(diesel::delete(
            passkeys::table
                .find(id)
                .filter(passkeys::user_id.eq(user_id)),
        )
        .execute(conn)?)
    }

    /// Removes every passkey of the account.
    pub fn delete_all_for_user(conn: &mut DbConnection, user_id: &str) -> DbResult<usize> {
        Ok(diesel::delete(passkeys::table.filter(passkeys::user_id.eq(user_id))).execute(conn)?)
    }

    /// Every row, for a dump: by account, then creation, then id.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<PasskeyRow>> {
        Ok(passkeys::table
            .order((passkeys::user_id, passkeys::created_at, passkeys::id))
            .select(PasskeyRow::as_select())
            .load(conn)?)
    }
}

impl CeremonyRow {
    /// Stores a started ceremony.
    pub fn create(conn: &mut DbConnection, row: &CeremonyRow) -> DbResult<()> {
        diesel::insert_into(webauthn_ceremonies::table)
            .values(row)
            .execute(conn)?;
        Ok(())
    }

    /// Takes a live ceremony of this kind, once: reads it and deletes it in
    /// one transaction, and only the caller whose delete removed the row gets
    /// it. A second finish of the same ceremony, racing or later, gets `None`.
    pub fn take(
        conn: &mut DbConnection,
        id_hash: &str,
        kind: &str,
        now: i64,
    ) -> DbResult<Option<CeremonyRow>> {
        crate::write_transaction(conn, |conn| {
            let live = webauthn_ceremonies::table
                .find(id_hash)
                .filter(webauthn_ceremonies::kind.eq(kind))
                .filter(webauthn_ceremonies::expires_at.gt(now))
                .select(CeremonyRow::as_select())
                .get_result(conn)
                .optional()?;
            let Some(live) = live else {
                return Ok(None);
            };
            let deleted = diesel::delete(
                webauthn_ceremonies::table
                    .find(id_hash)
                    .filter(webauthn_ceremonies::expires_at.gt(now)),
            )
            .execute(conn)?;
            Ok((deleted == 1).then_some(live))
        })
    }

    /// Voids the account's ceremonies of one kind bound to `binding` (a
    /// session's earlier registrations when it starts another); the account
    /// is named so that the delete goes by its index, not the whole table.
    pub fn delete_for_binding(
        conn: &mut DbConnection,
        user_id: &str,
        kind: &str,
        binding: &str,
    ) -> DbResult<usize> {
        Ok(diesel::delete(
            webauthn_ceremonies::table
                .filter(webauthn_ceremonies::user_id.eq(user_id))
                .filter(webauthn_ceremonies::kind.eq(kind))
                .filter(webauthn_ceremonies::binding.eq(binding)),
        )
        .execute(conn)?)
    }

    /// Voids every ceremony of the account.
    pub fn delete_for_user(conn: &mut DbConnection, user_id: &str) -> DbResult<usize> {
        Ok(diesel::delete(
            webauthn_ceremonies::table.filter(webauthn_ceremonies::user_id.eq(user_id)),
        )
        .execute(conn)?)
    }

    /// Deletes expired ceremonies; returns how many.
    pub fn purge_expired(conn: &mut DbConnection, now: i64) -> DbResult<usize> {
        Ok(diesel::delete(
            webauthn_ceremonies::table.filter(webauthn_ceremonies::expires_at.le(now)),
        )
        .execute(conn)?)
    }

    /// Every ceremony, for a dump: by creation, then hash.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<CeremonyRow>> {
        Ok(webauthn_ceremonies::table
            .order((
                webauthn_ceremonies::created_at,
                webauthn_ceremonies::id_hash,
            ))
            .select(CeremonyRow::as_select())
            .load(conn)?)
    }
}
