//! Personal access tokens (docs/contract/11-access-tokens-and-admin-api.md):
//! `authd_pat_` and 32 random bytes, kept as a SHA-256 only, scoped,
//! expiring and revocable. A bearer check is one indexed lookup of the hash,
//! the cost of a session check.

use std::fmt;

use auth_db::{AccessTokenRow, EventRow, UserLookup, UserRow};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::account::{ClientInfo, Identifier, User};
use crate::audit::{event, log_event};
use crate::error::{AuthError, AuthResult};
use crate::service::{user_lookup, Auth};

/// What every personal access token starts with, so that a leaked one is
/// recognisable (secret scanners look for such prefixes).
pub const ACCESS_TOKEN_PREFIX: &str = "authd_pat_";

/// Longest token name, in characters.
pub const MAX_TOKEN_NAME_CHARS: usize = 100;

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// `profile`: read the account's own profile (`GET /profile`).
    Profile,
    /// `admin:read`: the admin API's reads.
    AdminRead,
    /// `admin:write`: the admin API's changes.
    AdminWrite,
}

impl Scope {
    /// Every scope, in the contract's order.
    pub const ALL: [Scope; 3] = [Scope::Profile, Scope::AdminRead, Scope::AdminWrite];

    /// The scope as the contract spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Profile => "profile",
            Scope::AdminRead => "admin:read",
            Scope::AdminWrite => "admin:write",
        }
    }

    /// A scope by its exact name; `None` for anything else.
    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A personal access token's secret, shown once when it is made.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonalAccessToken(String);

impl PersonalAccessToken {
    fn generate() -> Self {
        PersonalAccessToken(format!(
            "{ACCESS_TOKEN_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(crate::token::random_bytes())
        ))
    }

    /// A token as presented; `None` when it cannot be one of ours, so
    /// garbage never reaches the database.
    pub fn parse(presented: &str) -> Option<Self> {
        let rest = presented.strip_prefix(ACCESS_TOKEN_PREFIX)?;
        let plausible = rest.len() == 43
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        plausible.then(|| PersonalAccessToken(presented.to_owned()))
    }

    /// The token itself, to show its owner once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

impl fmt::Debug for PersonalAccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersonalAccessToken([redacted])")
    }
}

/// A token as lists show it (never its secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessTokenInfo {
    /// UUID of the token: what revocation names, and the audit's actor.
    pub id: String,
    /// The account it acts for.
    pub user_id: String,
    /// The name its maker gave it.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; `None` never expires.
    pub expires_at: Option<i64>,
}

impl AccessTokenInfo {
    pub(crate) fn from_row(row: AccessTokenRow) -> Self {
        AccessTokenInfo {
            scopes: parse_scopes(&row.scopes),
            id: row.id,
            user_id: row.user_id,
            name: row.name,
            created_at: row.created_at,
            expires_at: row.expires_at,
        }
    }
}

/// What a new token is for.
#[derive(Clone, Debug, Default)]
pub struct NewAccessToken {
    /// Its scopes (at least one).
    pub scopes: Vec<Scope>,
    /// A name for lists; empty names it after its scopes.
    pub name: Option<String>,
    /// Lifetime in seconds; `None` never expires.
    pub expires_in_secs: Option<i64>,
}

/// Who a live bearer token acts for.
#[derive(Clone, Debug)]
pub struct TokenHolder {
    /// The token's account.
    pub user: User,
    /// The token (its id names the actor in audit rows).
    pub token: AccessTokenInfo,
}

impl TokenHolder {
    /// The client of a change made with this token: its audit rows name the
    /// token as the actor.
    pub fn acting(&self, mut client: ClientInfo) -> ClientInfo {
        client.actor = Some(format!("token:{}", self.token.id));
        client
    }
}

fn parse_scopes(stored: &str) -> Vec<Scope> {
    stored.split(' ').filter_map(Scope::parse).collect()
}

impl Auth {
    /// Makes a personal access token for an account, as an operator (any
    /// scope). The secret is returned once; only its hash is kept.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn add_access_token(
        &self,
        identifier: &Identifier,
        new: NewAccessToken,
        client: &ClientInfo,
    ) -> AuthResult<(AccessTokenInfo, PersonalAccessToken)> {
        let user = self
            .find_user(identifier)
            .await?
            .ok_or(AuthError::UnknownAccount)?;
        self.store_access_token(&user.id, new, client).await
    }

    /// Makes a token of scope `profile` for the signed-in user of a session
    /// (the `/me/tokens` page).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn add_own_access_token(
        &self,
        session_token: &str,
        name: Option<String>,
        client: &ClientInfo,
    ) -> AuthResult<(AccessTokenInfo, PersonalAccessToken)> {
        let signed_in = self.get_user_from_session_id(session_token).await?;
        let new = NewAccessToken {
            scopes: vec![Scope::Profile],
            name,
            expires_in_secs: None,
        };
        self.store_access_token(&signed_in.user.id, new, client)
            .await
    }

    async fn store_access_token(
        &self,
        user_id: &str,
        new: NewAccessToken,
        client: &ClientInfo,
    ) -> AuthResult<(AccessTokenInfo, PersonalAccessToken)> {
        let mut scopes = new.scopes;
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() {
            return Err(AuthError::InvalidField {
                field: "scope",
                message: "at least one of profile, admin:read, admin:write".into(),
            });
        }
        let name = crate::account::clean_profile_field("name", new.name, MAX_TOKEN_NAME_CHARS)?
            .unwrap_or_else(|| {
                let names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
                names.join(" ")
            });
        if let Some(secs) = new.expires_in_secs {
            if secs <= 0 {
                return Err(AuthError::InvalidField {
                    field: "expires",
                    message: "must be a positive duration".into(),
                });
            }
        }
        let now = self.now();
        let token = PersonalAccessToken::generate();
        let names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        let row = AccessTokenRow {
            id: uuid::Uuid::new_v4().to_string(),
            token_hash: token.hash(),
            user_id: user_id.to_owned(),
            name,
            scopes: names.join(" "),
            created_at: now,
            expires_at: new.expires_in_secs.map(|secs| now.saturating_add(secs)),
        };
        let added = self.event(event::ACCESS_TOKEN_ADDED, Some(user_id), client);
        let stored = row.clone();
        let user_id = user_id.to_owned();
        let created = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    // The account may have gone (or been disabled) since it was read.
                    let live = UserRow::find_user_by(conn, UserLookup::Id(&user_id))?
                        .is_some_and(|u| u.disabled_at.is_none());
                    if !live {
                        return Ok(false);
                    }
                    AccessTokenRow::create(conn, &stored)?;
                    EventRow::record(conn, &added)?;
                    Ok(true)
                })
            })
            .await?;
        if !created {
            return Err(AuthError::UnknownAccount);
        }
        log_event(event::ACCESS_TOKEN_ADDED, Some(&row.user_id), client);
        Ok((AccessTokenInfo::from_row(row), token))
    }

    /// The tokens of an account, newest first.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn list_access_tokens(
        &self,
        identifier: &Identifier,
    ) -> AuthResult<Vec<AccessTokenInfo>> {
        let (kind, key) = (identifier.clone(), identifier.key());
        let rows = self
            .db(move |conn| {
                let Some(user) = UserRow::find_user_by(conn, user_lookup(&kind, &key))? else {
                    return Ok(None);
                };
                AccessTokenRow::list_for_user(conn, &user.id).map(Some)
            })
            .await?
            .ok_or(AuthError::UnknownAccount)?;
        Ok(rows.into_iter().map(AccessTokenInfo::from_row).collect())
    }

    /// The tokens of a session's user, newest first.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn list_own_access_tokens(
        &self,
        session_token: &str,
    ) -> AuthResult<Vec<AccessTokenInfo>> {
        let user_id = self.get_user_from_session_id(session_token).await?.user.id;
        let rows = self
            .db(move |conn| AccessTokenRow::list_for_user(conn, &user_id))
            .await?;
        Ok(rows.into_iter().map(AccessTokenInfo::from_row).collect())
    }

    /// Revokes a token by id, as an operator; `NotFound` if there is none.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn revoke_access_token(&self, id: &str, client: &ClientInfo) -> AuthResult<()> {
        self.delete_access_token(id, None, client).await
    }

    /// Revokes one of the session user's tokens; `NotFound` if it is not theirs.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn revoke_own_access_token(
        &self,
        session_token: &str,
        id: &str,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        let user_id = self.get_user_from_session_id(session_token).await?.user.id;
        self.delete_access_token(id, Some(user_id), client).await
    }

    async fn delete_access_token(
        &self,
        id: &str,
        owner: Option<String>,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(AuthError::NotFound);
        }
        let (id, client_info) = (id.to_owned(), client.clone());
        let this = self.clone();
        let revoked = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    let Some(row) = AccessTokenRow::find(conn, &id)? else {
                        return Ok(None);
                    };
                    if AccessTokenRow::delete(conn, &id, owner.as_deref())? == 0 {
                        return Ok(None);
                    }
                    let revoked = this.event(
                        event::ACCESS_TOKEN_REVOKED,
                        Some(&row.user_id),
                        &client_info,
                    );
                    EventRow::record(conn, &revoked)?;
                    Ok(Some(row.user_id))
                })
            })
            .await?
            .ok_or(AuthError::NotFound)?;
        log_event(event::ACCESS_TOKEN_REVOKED, Some(&revoked), client);
        Ok(())
    }

    /// The holder of a bearer token that has `needed`: `InvalidToken` unless
    /// it is a live token of an enabled account, `InsufficientScope` when it
    /// lacks the scope. One indexed lookup of the token's hash.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn check_access_token(
        &self,
        presented: &str,
        needed: Scope,
    ) -> AuthResult<TokenHolder> {
        let token = PersonalAccessToken::parse(presented).ok_or(AuthError::InvalidToken)?;
        let (hash, now) = (token.hash(), self.now());
        let (row, user) = self
            .db_read(move |conn| AccessTokenRow::find_live_with_user(conn, &hash, now))
            .await?
            .ok_or(AuthError::InvalidToken)?;
        let token = AccessTokenInfo::from_row(row);
        if !token.scopes.contains(&needed) {
            return Err(AuthError::InsufficientScope(needed.as_str()));
        }
        Ok(TokenHolder {
            user: User::from_row(user),
            token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_the_prefix_and_43_characters_and_parse_back() {
        let token = PersonalAccessToken::generate();
        assert!(token.expose().starts_with(ACCESS_TOKEN_PREFIX));
        assert_eq!(token.expose().len(), ACCESS_TOKEN_PREFIX.len() + 43);
        assert_eq!(
            PersonalAccessToken::parse(token.expose()),
            Some(token.clone())
        );
        assert_ne!(token, PersonalAccessToken::generate());
        assert_eq!(format!("{token:?}"), "PersonalAccessToken([redacted])");
    }

    #[test]
    fn garbage_is_not_a_token() {
        let body = "A".repeat(43);
        for bad in [
            String::new(),
            body.clone(),
            format!("AUTHD_PAT_{body}"),
            format!("authd_pat_{}", "A".repeat(42)),
            format!("authd_pat_{body}A"),
            format!("authd_pat_{}=", "A".repeat(42)),
            format!("authd_pat_{}", "é".repeat(43)),
        ] {
            assert!(PersonalAccessToken::parse(&bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn scopes_are_spelled_exactly() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
        for bad in ["Profile", "admin", "admin:*", " profile", ""] {
            assert_eq!(Scope::parse(bad), None);
        }
        assert_eq!(
            parse_scopes("admin:read profile bogus"),
            [Scope::AdminRead, Scope::Profile]
        );
    }
}
