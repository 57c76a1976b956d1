//! The OpenID Connect provider's tables: clients, codes, consents, grants,
//! refresh and access tokens, signing keys.

use diesel::prelude::*;

use crate::error::DbResult;
use crate::schema::{
    oidc_access_tokens, oidc_clients, oidc_codes, oidc_consents, oidc_grants, oidc_refresh_tokens,
    oidc_signing_keys,
};
use crate::DbConnection;

/// A registered client.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = oidc_clients)]
pub struct OidcClientRow {
    /// UUID (the `client_id`).
    pub id: String,
    /// Shown on the consent page.
    pub name: String,
    /// Hex SHA-256 of the secret; `None` for a public client.
    pub secret_hash: Option<String>,
    /// JSON array of redirect URIs.
    pub redirect_uris: String,
    /// JSON array of post-logout redirect URIs.
    pub post_logout_redirect_uris: String,
    /// First-party: no consent asked.
    pub trusted: bool,
    /// Unix seconds.
    pub created_at: i64,
}

impl OidcClientRow {
    /// Stores a new client.
    pub fn create(conn: &mut DbConnection, row: &OidcClientRow) -> DbResult<()> {
        diesel::insert_into(oidc_clients::table)
            .values(row)
            .execute(conn)?;
        Ok(())
    }

    /// The client with this id.
    pub fn find(conn: &mut DbConnection, id: &str) -> DbResult<Option<OidcClientRow>> {
        Ok(oidc_clients::table
            .find(id)
            .select(OidcClientRow::as_select())
            .get_result(conn)
            .optional()?)
    }

    /// Every client, oldest first.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<OidcClientRow>> {
        Ok(oidc_clients::table
            .order((oidc_clients::created_at, oidc_clients::id))
            .select(OidcClientRow::as_select())
            .load(conn)?)
    }

    /// Deletes a client (its codes, consents, grants and tokens go with it);
    /// returns how many went (0 or 1).
    pub fn delete(conn: &mut DbConnection, id: &str) -> DbResult<usize> {
        Ok(diesel::delete(oidc_clients::table.find(id)).execute(conn)?)
    }

    /// Replaces a confidential client's secret hash; returns how many
    /// changed (0 when unknown or public).
    pub fn set_secret_hash(conn: &mut DbConnection, id: &str, hash: &str) -> DbResult<usize> {
        Ok(diesel::update(
            oidc_clients::table
                .find(id)
                .filter(oidc_clients::secret_hash.is_not_null()),
        )
        .set(oidc_clients::secret_hash.eq(hash))
        .execute(conn)?)
    }
}

/// An authorization code as stored.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = oidc_codes)]
pub struct OidcCodeRow {
    /// Hex SHA-256 of the code.
    pub code_hash: String,
    /// The client.
    pub client_id: String,
    /// The account.
    pub user_id: String,
    /// The request's redirect URI.
    pub redirect_uri: String,
    /// Space-separated scopes.
    pub scope: String,
    /// The request's nonce.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// Unix seconds of the login.
    pub auth_time: i64,
    /// Space-separated methods of the login.
    pub amr: String,
    /// The authd session id.
    pub sid: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// The grant its exchange made; `None` while unused.
    pub grant_id: Option<String>,
}

impl OidcCodeRow {
    /// Every row, for a dump: by creation, then key.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<OidcCodeRow>> {
        Ok(oidc_codes::table
            .order((oidc_codes::created_at, oidc_codes::code_hash))
            .select(OidcCodeRow::as_select())
            .load(conn)?)
    }

    /// Stores a new code.
    pub fn create(conn: &mut DbConnection, row: &OidcCodeRow) -> DbResult<()> {
        diesel::insert_into(oidc_codes::table)
            .values(row)
            .execute(conn)?;
        Ok(())
    }

    /// The code with this hash, used or not.
    pub fn find(conn: &mut DbConnection, code_hash: &str) -> DbResult<Option<OidcCodeRow>> {
        Ok(oidc_codes::table
            .find(code_hash)
            .select(OidcCodeRow::as_select())
            .get_result(conn)
            .optional()?)
    }

    /// Takes an unused, unexpired code for `grant_id`: the one conditional
    /// UPDATE whose row count (0 or 1) decides who won.
    pub fn take(
        conn: &mut DbConnection,
        code_hash: &str,
        grant_id: &str,
        now: i64,
    ) -> DbResult<usize> {
        Ok(diesel::update(
            oidc_codes::table
                .find(code_hash)
                .filter(oidc_codes::grant_id.is_null())
                .filter(oidc_codes::expires_at.gt(now)),
        )
        .set(oidc_codes::grant_id.eq(grant_id))
        .execute(conn)?)
    }

    /// Marks an unused code spent without a grant (a failed exchange), so
    /// that it cannot be tried again; returns how many (0 or 1).
    pub fn spend(conn: &mut DbConnection, code_hash: &str) -> DbResult<usize> {
        Ok(diesel::update(
            oidc_codes::table
                .find(code_hash)
                .filter(oidc_codes::grant_id.is_null()),
        )
        .set(oidc_codes::grant_id.eq(""))
        .execute(conn)?)
    }

    /// Deletes codes expired before `before`; returns how many.
    pub fn purge_expired(conn: &mut DbConnection, before: i64) -> DbResult<usize> {
        Ok(
            diesel::delete(oidc_codes::table.filter(oidc_codes::expires_at.le(before)))
                .execute(conn)?,
        )
    }
}

/// A remembered consent.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = oidc_consents)]
pub struct OidcConsentRow {
    /// The account.
    pub user_id: String,
    /// The client.
    pub client_id: String,
    /// Space-separated scopes.
    pub scope: String,
    /// Unix seconds.
    pub created_at: i64,
}

impl OidcConsentRow {
    /// Every row, for a dump: by creation, then key.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<OidcConsentRow>> {
        Ok(oidc_consents::table
            .order((
                oidc_consents::created_at,
                oidc_consents::user_id,
                oidc_consents::client_id,
            ))
            .select(OidcConsentRow::as_select())
            .load(conn)?)
    }

    /// The consent of an account for a client.
    pub fn find(
        conn: &mut DbConnection,
        user_id: &str,
        client_id: &str,
    ) -> DbResult<Option<OidcConsentRow>> {
        Ok(oidc_consents::table
            .find((user_id, client_id))
            .select(OidcConsentRow::as_select())
            .get_result(conn)
            .optional()?)
    }

    /// Stores or replaces a consent.
    pub fn put(conn: &mut DbConnection, row: &OidcConsentRow) -> DbResult<()> {
        diesel::delete(oidc_consents::table.find((&row.user_id, &row.client_id))).execute(conn)?;
        diesel::insert_into(oidc_consents::table)
            .values(row)
            .execute(conn)?;
        Ok(())
    }

    /// Forgets a consent; returns how many (0 or 1).
    pub fn delete(conn: &mut DbConnection, user_id: &str, client_id: &str) -> DbResult<usize> {
        Ok(diesel::delete(oidc_consents::table.find((user_id, client_id))).execute(conn)?)
    }

    /// The consents of an account.
    pub fn list_for_user(conn: &mut DbConnection, user_id: &str) -> DbResult<Vec<OidcConsentRow>> {
        Ok(oidc_consents::table
            .filter(oidc_consents::user_id.eq(user_id))
            .order(oidc_consents::client_id)
            .select(OidcConsentRow::as_select())
            .load(conn)?)
    }
}

/// One family of tokens.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = oidc_grants)]
pub struct OidcGrantRow {
    /// UUID.
    pub id: String,
    /// The client.
    pub client_id: String,
    /// The account.
    pub user_id: String,
    /// Space-separated scopes.
    pub scope: String,
    /// Unix seconds of the login.
    pub auth_time: i64,
    /// Space-separated methods of the login.
    pub amr: String,
    /// The authd session id.
    pub sid: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last token issued.
    pub last_used_at: i64,
}

impl OidcGrantRow {
    /// Every row, for a dump: by creation, then key.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<OidcGrantRow>> {
        Ok(oidc_grants::table
            .order((oidc_grants::created_at, oidc_grants::id))
            .select(OidcGrantRow::as_select())
            .load(conn)?)
    }

    /// Stores a new grant.
    pub fn create(conn: &mut DbConnection, row: &OidcGrantRow) -> DbResult<()> {
        diesel::insert_into(oidc_grants::table)
            .values(row)
            .execute(conn)?;
        Ok(())
    }

    /// The grant with this id.
    pub fn find(conn: &mut DbConnection, id: &str) -> DbResult<Option<OidcGrantRow>> {
        Ok(oidc_grants::table
            .find(id)
            .select(OidcGrantRow::as_select())
            .get_result(conn)
            .optional()?)
    }

    /// [`OidcGrantRow::find`], locking the row until the transaction ends
    /// (PostgreSQL; SQLite's write transaction already holds the database),
    /// so that two uses of one grant's refresh token take their turns
    /// instead of deadlocking on its token rows.
    pub fn find_locked(conn: &mut DbConnection, id: &str) -> DbResult<Option<OidcGrantRow>> {
        Ok(match conn {
            DbConnection::Postgres(c) => oidc_grants::table
                .find(id)
                .select(OidcGrantRow::as_select())
                .for_update()
                .get_result(c)
                .optional()?,
            DbConnection::Sqlite(c) => oidc_grants::table
                .find(id)
                .select(OidcGrantRow::as_select())
                .get_result(c)
                .optional()?,
        })
    }

    /// Records a use.
    pub fn touch(conn: &mut DbConnection, id: &str, now: i64) -> DbResult<usize> {
        Ok(diesel::update(oidc_grants::table.find(id))
            .set(oidc_grants::last_used_at.eq(now))
            .execute(conn)?)
    }

    /// Revokes a grant: deletes it and, by cascade, its tokens.
    pub fn delete(conn: &mut DbConnection, id: &str) -> DbResult<usize> {
        Ok(diesel::delete(oidc_grants::table.find(id)).execute(conn)?)
    }

    /// Revokes every grant of an account (and their tokens).
    pub fn delete_for_user(conn: &mut DbConnection, user_id: &str) -> DbResult<usize> {
        Ok(
            diesel::delete(oidc_grants::table.filter(oidc_grants::user_id.eq(user_id)))
                .execute(conn)?,
        )
    }

    /// Revokes every grant of an account for one client.
    pub fn delete_for_user_and_client(
        conn: &mut DbConnection,
        user_id: &str,
        client_id: &str,
    ) -> DbResult<usize> {
        Ok(diesel::delete(
            oidc_grants::table
                .filter(oidc_grants::user_id.eq(user_id))
                .filter(oidc_grants::client_id.eq(client_id)),
        )
        .execute(conn)?)
    }

    /// The grants of an account.
    pub fn list_for_user(conn: &mut DbConnection, user_id: &str) -> DbResult<Vec<OidcGrantRow>> {
        Ok(oidc_grants::table
            .filter(oidc_grants::user_id.eq(user_id))
            .order((oidc_grants::created_at, oidc_grants::id))
            .select(OidcGrantRow::as_select())
            .load(conn)?)
    }
}

/// A refresh token as stored.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = oidc_refresh_tokens)]
pub struct OidcRefreshTokenRow {
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// The grant.
    pub grant_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of its one use.
    pub used_at: Option<i64>,
}

impl OidcRefreshTokenRow {
    /// Every row, for a dump: by creation, then key.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<OidcRefreshTokenRow>> {
        Ok(oidc_refresh_tokens::table
            .order((
                oidc_refresh_tokens::created_at,
                oidc_refresh_tokens::token_hash,
            ))
            .select(OidcRefreshTokenRow::as_select())
            .load(conn)?)
    }

    /// Stores a new refresh token.
    pub fn create(conn: &mut DbConnection, row: &OidcRefreshTokenRow) -> DbResult<()> {
        diesel::insert_into(oidc_refresh_tokens::table)
            .values(row)
            .execute(conn)?;
        Ok(())
    }

    /// The refresh token with this hash, used or not.
    pub fn find(conn: &mut DbConnection, hash: &str) -> DbResult<Option<OidcRefreshTokenRow>> {
        Ok(oidc_refresh_tokens::table
            .find(hash)
            .select(OidcRefreshTokenRow::as_select())
            .get_result(conn)
            .optional()?)
    }

    /// Marks an unused token used: the conditional UPDATE whose row count
    /// (0 or 1) decides which of two racing refreshes wins.
    pub fn take(conn: &mut DbConnection, hash: &str, now: i64) -> DbResult<usize> {
        Ok(diesel::update(
            oidc_refresh_tokens::table
                .find(hash)
                .filter(oidc_refresh_tokens::used_at.is_null()),
        )
        .set(oidc_refresh_tokens::used_at.eq(now))
        .execute(conn)?)
    }
}

/// An access token as stored.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = oidc_access_tokens)]
pub struct OidcAccessTokenRow {
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// The grant.
    pub grant_id: String,
    /// The client.
    pub client_id: String,
    /// The account.
    pub user_id: String,
    /// Space-separated scopes.
    pub scope: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

impl OidcAccessTokenRow {
    /// Every row, for a dump: by creation, then key.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<OidcAccessTokenRow>> {
        Ok(oidc_access_tokens::table
            .order((
                oidc_access_tokens::created_at,
                oidc_access_tokens::token_hash,
            ))
            .select(OidcAccessTokenRow::as_select())
            .load(conn)?)
    }

    /// Stores a new access token.
    pub fn create(conn: &mut DbConnection, row: &OidcAccessTokenRow) -> DbResult<()> {
        diesel::insert_into(oidc_access_tokens::table)
            .values(row)
            .execute(conn)?;
        Ok(())
    }

    /// The unexpired access token with this hash.
    pub fn find_live(
        conn: &mut DbConnection,
        hash: &str,
        now: i64,
    ) -> DbResult<Option<OidcAccessTokenRow>> {
        Ok(oidc_access_tokens::table
            .find(hash)
            .filter(oidc_access_tokens::expires_at.gt(now))
            .select(OidcAccessTokenRow::as_select())
            .get_result(conn)
            .optional()?)
    }

    /// Deletes one access token; returns how many (0 or 1).
    pub fn delete(conn: &mut DbConnection, hash: &str) -> DbResult<usize> {
        Ok(diesel::delete(oidc_access_tokens::table.find(hash)).execute(conn)?)
    }

    /// Deletes expired access tokens; returns how many.
    pub fn purge_expired(conn: &mut DbConnection, now: i64) -> DbResult<usize> {
        Ok(
            diesel::delete(
                oidc_access_tokens::table.filter(oidc_access_tokens::expires_at.le(now)),
            )
            .execute(conn)?,
        )
    }
}

/// An ID-token signing key as stored.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = oidc_signing_keys)]
pub struct OidcSigningKeyRow {
    /// The key id.
    pub kid: String,
    /// `RS256` or `ES256`.
    pub alg: String,
    /// The sealed DER private key (hex).
    pub private_key_sealed: String,
    /// The public JWK (JSON).
    pub public_jwk: String,
    /// Unix seconds: published from then.
    pub created_at: i64,
    /// Unix seconds: signs from then.
    pub use_after: i64,
}

impl OidcSigningKeyRow {
    /// Stores a new key.
    pub fn create(conn: &mut DbConnection, row: &OidcSigningKeyRow) -> DbResult<()> {
        diesel::insert_into(oidc_signing_keys::table)
            .values(row)
            .execute(conn)?;
        Ok(())
    }

    /// Every key, oldest first.
    pub fn load_all(conn: &mut DbConnection) -> DbResult<Vec<OidcSigningKeyRow>> {
        Ok(oidc_signing_keys::table
            .order((oidc_signing_keys::created_at, oidc_signing_keys::kid))
            .select(OidcSigningKeyRow::as_select())
            .load(conn)?)
    }
}
