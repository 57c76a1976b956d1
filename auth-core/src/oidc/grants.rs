//! What happens to tokens and grants after they are issued: userinfo,
//! introspection (RFC 7662), revocation (RFC 7009), RP-initiated logout, and
//! the applications an account has authorized.

use auth_db::{
    EventRow, OidcAccessTokenRow, OidcClientRow, OidcConsentRow, OidcGrantRow, OidcRefreshTokenRow,
    UserLookup, UserRow,
};
use serde_json::{json, Map, Value};

use super::issue::{client_of, oauth};
use super::rules::{user_claims, with_query};
use super::{jws, AuthorizedApp, ClientAuth, LogoutOutcome, OAuthError};
use crate::account::{ClientInfo, User};
use crate::audit::{event, log_event};
use crate::error::{AuthError, AuthResult};
use crate::service::Auth;
use crate::token::{AccessToken, RefreshToken};

impl Auth {
    /// The claims of an access token's scopes (`/oauth/userinfo`);
    /// `InvalidToken` for a wrong, expired or revoked token.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn userinfo(&self, access_token: &str) -> AuthResult<Map<String, Value>> {
        let token = AccessToken::parse(access_token).ok_or(oauth(OAuthError::InvalidToken))?;
        let (hash, now) = (token.hash(), self.now());
        let found = self
            .db_read(move |conn| {
                let Some(row) = OidcAccessTokenRow::find_live(conn, &hash, now)? else {
                    return Ok(None);
                };
                // A disabled account's tokens answer as if gone (docs/contract/11-access-tokens-and-admin-api.md).
                let user = UserRow::find_user_by(conn, UserLookup::Id(&row.user_id))?
                    .filter(|user| user.disabled_at.is_none());
                Ok(user.map(|user| (row, user)))
            })
            .await?;
        let (row, user) = found.ok_or(oauth(OAuthError::InvalidToken))?;
        Ok(user_claims(&User::from_row(user), &row.scope))
    }

    /// RFC 7662: what a token is, for the confidential client it was issued
    /// to; `{"active": false}` for any other token.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn introspect(&self, presented: &ClientAuth, token: &str) -> AuthResult<Value> {
        let app = self.authenticate_client(presented).await?;
        if app.secret_hash.is_none() {
            return Err(oauth(OAuthError::InvalidClient));
        }
        let (now, issuer) = (self.now(), self.issuer().to_owned());
        let refresh_ttl = self.refresh_token_ttl();
        let access = AccessToken::parse(token).map(|t| t.hash());
        let refresh = RefreshToken::parse(token).map(|t| t.hash());
        self.db_read(move |conn| {
            if let Some(hash) = &access {
                if let Some(row) = OidcAccessTokenRow::find_live(conn, hash, now)? {
                    if row.client_id == app.id {
                        return Ok(json!({
                            "active": true, "scope": row.scope, "client_id": row.client_id,
                            "sub": row.user_id, "exp": row.expires_at, "iat": row.created_at,
                            "iss": issuer, "aud": row.client_id, "token_type": "Bearer",
                        }));
                    }
                }
            }
            if let Some(hash) = &refresh {
                if let Some(row) = OidcRefreshTokenRow::find(conn, hash)? {
                    if let Some(grant) = OidcGrantRow::find(conn, &row.grant_id)? {
                        let exp = row.created_at + refresh_ttl;
                        if row.used_at.is_none() && exp > now && grant.client_id == app.id {
                            return Ok(json!({
                                "active": true, "scope": grant.scope, "client_id": grant.client_id,
                                "sub": grant.user_id, "exp": exp, "iat": row.created_at,
                                "iss": issuer, "token_type": "refresh_token",
                            }));
                        }
                    }
                }
            }
            Ok(json!({ "active": false }))
        })
        .await
    }

    /// RFC 7009: revokes an access token, or a refresh token with its whole
    /// grant, of the authenticated client. Any other token is ignored.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn revoke_token(
        &self,
        presented: &ClientAuth,
        token: &str,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        let app = self.authenticate_client(presented).await?;
        let access = AccessToken::parse(token).map(|t| t.hash());
        let refresh = RefreshToken::parse(token).map(|t| t.hash());
        let revoked = self.event(event::OIDC_REVOKED, None, client);
        let count = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    let mut count = 0;
                    if let Some(hash) = &access {
                        if let Some(row) = OidcAccessTokenRow::find_live(conn, hash, i64::MIN)? {
                            if row.client_id == app.id {
                                count += OidcAccessTokenRow::delete(conn, hash)?;
                            }
                        }
                    }
                    if let Some(hash) = &refresh {
                        if let Some(row) = OidcRefreshTokenRow::find(conn, hash)? {
                            if let Some(grant) = OidcGrantRow::find(conn, &row.grant_id)? {
                                if grant.client_id == app.id {
                                    count += OidcGrantRow::delete(conn, &grant.id)?;
                                }
                            }
                        }
                    }
                    if count > 0 {
                        EventRow::record(conn, &revoked)?;
                    }
                    Ok(count)
                })
            })
            .await?;
        if count > 0 {
            log_event(event::OIDC_REVOKED, None, client);
        }
        Ok(())
    }

    /// RP-initiated logout: ends the browser's session (if any), and
    /// redirects to `post_logout_redirect_uri` only when an ID token of
    /// ours (`id_token_hint`) names a client that registered it.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn oidc_logout(
        &self,
        id_token_hint: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
        state: Option<&str>,
        session_token: Option<&str>,
        client: &ClientInfo,
    ) -> AuthResult<LogoutOutcome> {
        if let Some(token) = session_token {
            match self.destroy_session(token, client).await {
                Ok(()) | Err(AuthError::NotAuthenticated) => {}
                Err(other) => return Err(other),
            }
        }
        let (Some(hint), Some(uri)) = (id_token_hint, post_logout_redirect_uri) else {
            return Ok(LogoutOutcome::SignedOut);
        };
        let keys = self.published_keys().await?;
        let Some(claims) = jws::verify(hint, &keys) else {
            return Ok(LogoutOutcome::SignedOut);
        };
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer()) {
            return Ok(LogoutOutcome::SignedOut);
        }
        let Some(client_id) = claims.get("aud").and_then(Value::as_str).map(str::to_owned) else {
            return Ok(LogoutOutcome::SignedOut);
        };
        let app = self
            .db_read(move |conn| OidcClientRow::find(conn, &client_id))
            .await?;
        match app.map(|row| client_of(&row)) {
            Some(app) if app.post_logout_redirect_uris.iter().any(|u| u == uri) => {
                let params: Vec<(&str, &str)> = state.map(|s| ("state", s)).into_iter().collect();
                Ok(LogoutOutcome::Redirect(with_query(uri, &params)))
            }
            _ => Ok(LogoutOutcome::SignedOut),
        }
    }

    /// The applications the signed-in account has authorized (a consent or
    /// a live grant), by name.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn authorized_apps(&self, session_token: &str) -> AuthResult<Vec<AuthorizedApp>> {
        let user_id = self.get_user_from_session_id(session_token).await?.user.id;
        let mut apps = self
            .db(move |conn| {
                let consents = OidcConsentRow::list_for_user(conn, &user_id)?;
                let grants = OidcGrantRow::list_for_user(conn, &user_id)?;
                let mut apps: Vec<AuthorizedApp> = Vec::new();
                for row in OidcClientRow::load_all(conn)? {
                    let consent = consents.iter().find(|c| c.client_id == row.id);
                    let mine: Vec<&OidcGrantRow> =
                        grants.iter().filter(|g| g.client_id == row.id).collect();
                    if consent.is_none() && mine.is_empty() {
                        continue;
                    }
                    let scope = consent
                        .map(|c| c.scope.clone())
                        .or_else(|| mine.last().map(|g| g.scope.clone()))
                        .unwrap_or_default();
                    apps.push(AuthorizedApp {
                        client_id: row.id.clone(),
                        name: row.name.clone(),
                        scopes: scope.split(' ').map(str::to_owned).collect(),
                        last_used_at: mine.iter().map(|g| g.last_used_at).max(),
                    });
                }
                Ok(apps)
            })
            .await?;
        apps.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(apps)
    }

    /// Revokes one application of the signed-in account: its tokens and
    /// its consent. `NotFound` if it had none.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn revoke_app(
        &self,
        session_token: &str,
        client_id: &str,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        let user_id = self.get_user_from_session_id(session_token).await?.user.id;
        let revoked = self.event(event::OIDC_REVOKED, Some(&user_id), client);
        let (user, app) = (user_id.clone(), client_id.to_owned());
        let count = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    let count = OidcGrantRow::delete_for_user_and_client(conn, &user, &app)?
                        + OidcConsentRow::delete(conn, &user, &app)?;
                    if count > 0 {
                        EventRow::record(conn, &revoked)?;
                    }
                    Ok(count)
                })
            })
            .await?;
        if count == 0 {
            return Err(AuthError::NotFound);
        }
        log_event(event::OIDC_REVOKED, Some(&user_id), client);
        Ok(())
    }

    /// Ends every OIDC grant (refresh and access tokens) of the signed-in
    /// account, as "End all other sessions" does with its sessions.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn end_oidc_grants(&self, session_token: &str) -> AuthResult<usize> {
        let user_id = self.get_user_from_session_id(session_token).await?.user.id;
        self.db(move |conn| OidcGrantRow::delete_for_user(conn, &user_id))
            .await
    }
}
