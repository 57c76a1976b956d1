//! The token endpoint's two grants. A code is taken once by a conditional
//! UPDATE; presenting it again revokes what its first use made. A refresh
//! token is rotated the same way; presenting a used one revokes its grant.

use auth_db::{
    DbConnection, DbResult, EventRow, OidcCodeRow, OidcGrantRow, OidcRefreshTokenRow, UserLookup,
    UserRow,
};

use super::issue::oauth;
use super::rules::{pkce_matches, scopes_within};
use super::{ClientAuth, OAuthError, TokenResponse};
use crate::account::{ClientInfo, User};
use crate::audit::{event, log_event};
use crate::error::AuthResult;
use crate::service::Auth;
use crate::token::{AuthorizationCode, RefreshToken};

/// How one exchange ended inside its transaction.
enum Exchanged {
    /// Tokens stored: the grant, its account and the code's nonce.
    Issued(Box<(OidcGrantRow, UserRow, Option<String>)>),
    /// Wrong, expired or another client's: `invalid_grant`.
    Invalid(&'static str),
    /// Used before: the grant of its first use was revoked.
    Replayed,
    /// `scope` asks for more than the grant has.
    ScopeTooWide,
}

fn invalid_grant(message: &str) -> crate::error::AuthError {
    oauth(OAuthError::InvalidGrant(message.into()))
}

/// Revokes the grant a used code or refresh token belongs to.
fn revoke_grant(conn: &mut DbConnection, grant_id: Option<&str>) -> DbResult<()> {
    if let Some(id) = grant_id.filter(|id| !id.is_empty()) {
        OidcGrantRow::delete(conn, id)?;
    }
    Ok(())
}

impl Auth {
    /// `grant_type=authorization_code`: the code, the redirect URI it was
    /// issued for and the PKCE verifier, from the client it was issued to.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn exchange_code(
        &self,
        presented: &ClientAuth,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
        client: &ClientInfo,
    ) -> AuthResult<TokenResponse> {
        let app = self.authenticate_client(presented).await?;
        let code = AuthorizationCode::parse(code).ok_or_else(|| invalid_grant("unknown code"))?;
        let (code_hash, now) = (code.hash(), self.now());
        let (redirect_uri, verifier) = (redirect_uri.to_owned(), code_verifier.to_owned());
        let (issued, reused) = (
            self.event(event::OIDC_TOKEN_ISSUED, None, client),
            self.event(event::OIDC_REUSE_DETECTED, None, client),
        );
        let this = self.clone();
        let outcome = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    let Some(row) = OidcCodeRow::find(conn, &code_hash)? else {
                        return Ok((Exchanged::Invalid("unknown code"), None));
                    };
                    if row.grant_id.is_some() {
                        revoke_grant(conn, row.grant_id.as_deref())?;
                        EventRow::record(conn, &reused)?;
                        return Ok((Exchanged::Replayed, None));
                    }
                    if row.client_id != app.id {
                        return Ok((
                            Exchanged::Invalid("the code was issued to another client"),
                            None,
                        ));
                    }
                    if row.expires_at <= now {
                        return Ok((Exchanged::Invalid("the code has expired"), None));
                    }
                    if row.redirect_uri != redirect_uri {
                        OidcCodeRow::spend(conn, &code_hash)?;
                        return Ok((
                            Exchanged::Invalid("redirect_uri differs from the request's"),
                            None,
                        ));
                    }
                    if !pkce_matches(&verifier, &row.code_challenge) {
                        OidcCodeRow::spend(conn, &code_hash)?;
                        return Ok((Exchanged::Invalid("code_verifier does not match"), None));
                    }
                    let grant = OidcGrantRow {
                        id: uuid::Uuid::new_v4().to_string(),
                        client_id: row.client_id.clone(),
                        user_id: row.user_id.clone(),
                        scope: row.scope.clone(),
                        auth_time: row.auth_time,
                        amr: row.amr.clone(),
                        sid: row.sid.clone(),
                        created_at: now,
                        last_used_at: now,
                    };
                    if OidcCodeRow::take(conn, &code_hash, &grant.id, now)? == 0 {
                        // Another exchange took it first: this is a second use.
                        let first = OidcCodeRow::find(conn, &code_hash)?.and_then(|r| r.grant_id);
                        revoke_grant(conn, first.as_deref())?;
                        EventRow::record(conn, &reused)?;
                        return Ok((Exchanged::Replayed, None));
                    }
                    let Some(user) = UserRow::find_user_by(conn, UserLookup::Id(&row.user_id))?
                        .filter(|user| user.disabled_at.is_none())
                    else {
                        return Ok((Exchanged::Invalid("the account is gone"), None));
                    };
                    OidcGrantRow::create(conn, &grant)?;
                    let minted = this.mint(&grant, now);
                    minted.store(conn)?;
                    EventRow::record(
                        conn,
                        &EventRow {
                            user_id: Some(grant.user_id.clone()),
                            ..issued
                        },
                    )?;
                    Ok((
                        Exchanged::Issued(Box::new((grant, user, row.nonce))),
                        Some(minted),
                    ))
                })
            })
            .await?;
        self.finish_exchange(outcome, client, now).await
    }

    /// `grant_type=refresh_token`: rotates the token (the new one comes
    /// back); a used one revokes its whole grant.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn refresh_tokens(
        &self,
        presented: &ClientAuth,
        refresh_token: &str,
        scope: Option<&str>,
        client: &ClientInfo,
    ) -> AuthResult<TokenResponse> {
        let app = self.authenticate_client(presented).await?;
        let token = RefreshToken::parse(refresh_token)
            .ok_or_else(|| invalid_grant("unknown refresh token"))?;
        let (hash, now) = (token.hash(), self.now());
        let ttl = self.refresh_token_ttl();
        let scope = scope.map(str::to_owned);
        let (issued, reused) = (
            self.event(event::OIDC_TOKEN_ISSUED, None, client),
            self.event(event::OIDC_REUSE_DETECTED, None, client),
        );
        let this = self.clone();
        let outcome = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    let Some(row) = OidcRefreshTokenRow::find(conn, &hash)? else {
                        return Ok((Exchanged::Invalid("unknown refresh token"), None));
                    };
                    // Locked first: racing uses of the grant wait here
                    // (PostgreSQL), then find its token used or the grant gone.
                    let Some(grant) = OidcGrantRow::find_locked(conn, &row.grant_id)? else {
                        return Ok((Exchanged::Invalid("unknown refresh token"), None));
                    };
                    if grant.client_id != app.id {
                        return Ok((Exchanged::Invalid("unknown refresh token"), None));
                    }
                    if scope
                        .as_deref()
                        .is_some_and(|wanted| !scopes_within(wanted, &grant.scope))
                    {
                        return Ok((Exchanged::ScopeTooWide, None));
                    }
                    // An expired token is refused; a used one, expired or
                    // not, is a replay (below).
                    if row.used_at.is_none() && row.created_at + ttl <= now {
                        return Ok((Exchanged::Invalid("the refresh token has expired"), None));
                    }
                    if row.used_at.is_some() || OidcRefreshTokenRow::take(conn, &hash, now)? == 0 {
                        revoke_grant(conn, Some(&grant.id))?;
                        EventRow::record(
                            conn,
                            &EventRow {
                                user_id: Some(grant.user_id.clone()),
                                ..reused
                            },
                        )?;
                        return Ok((Exchanged::Replayed, None));
                    }
                    let Some(user) = UserRow::find_user_by(conn, UserLookup::Id(&grant.user_id))?
                        .filter(|user| user.disabled_at.is_none())
                    else {
                        return Ok((Exchanged::Invalid("the account is gone"), None));
                    };
                    OidcGrantRow::touch(conn, &grant.id, now)?;
                    let minted = this.mint(&grant, now);
                    minted.store(conn)?;
                    EventRow::record(
                        conn,
                        &EventRow {
                            user_id: Some(grant.user_id.clone()),
                            ..issued
                        },
                    )?;
                    Ok((
                        Exchanged::Issued(Box::new((grant, user, None))),
                        Some(minted),
                    ))
                })
            })
            .await?;
        self.finish_exchange(outcome, client, now).await
    }

    async fn finish_exchange(
        &self,
        outcome: (Exchanged, Option<super::issue::Minted>),
        client: &ClientInfo,
        now: i64,
    ) -> AuthResult<TokenResponse> {
        match outcome {
            (Exchanged::Issued(issued), Some(minted)) => {
                let (grant, user, nonce) = *issued;
                log_event(event::OIDC_TOKEN_ISSUED, Some(&grant.user_id), client);
                let user = User::from_row(user);
                self.token_response(minted, &grant, &user, nonce.as_deref(), now)
                    .await
            }
            (Exchanged::Replayed, _) => {
                log_event(event::OIDC_REUSE_DETECTED, None, client);
                Err(invalid_grant(
                    "this grant was already used; every token issued from it is revoked",
                ))
            }
            (Exchanged::ScopeTooWide, _) => Err(oauth(OAuthError::InvalidScope(
                "scope exceeds the granted scopes".into(),
            ))),
            (Exchanged::Invalid(message), _) => Err(invalid_grant(message)),
            (Exchanged::Issued(_), None) => Err(crate::error::AuthError::Internal(
                "tokens issued without their values".into(),
            )),
        }
    }
}
