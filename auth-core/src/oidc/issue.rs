//! What the OIDC flows share: clients as stored, client authentication, and
//! minting a grant's tokens and ID token.

use auth_db::{
    DbConnection, DbResult, OidcAccessTokenRow, OidcClientRow, OidcGrantRow, OidcRefreshTokenRow,
};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::rules::{at_hash, user_claims};
use super::{jws, ClientAuth, OAuthError, OidcClient, TokenResponse, ID_TOKEN_TTL_SECS};
use crate::account::User;
use crate::error::{AuthError, AuthResult};
use crate::service::Auth;
use crate::token::{AccessToken, ClientSecret, RefreshToken};

/// The client of a stored row.
pub(crate) fn client_of(row: &OidcClientRow) -> OidcClient {
    OidcClient {
        id: row.id.clone(),
        name: row.name.clone(),
        public: row.secret_hash.is_none(),
        trusted: row.trusted,
        redirect_uris: serde_json::from_str(&row.redirect_uris).unwrap_or_default(),
        post_logout_redirect_uris: serde_json::from_str(&row.post_logout_redirect_uris)
            .unwrap_or_default(),
        created_at: row.created_at,
    }
}

/// An OAuth error as the service's.
pub(crate) fn oauth(error: OAuthError) -> AuthError {
    AuthError::OAuth(error)
}

/// The tokens of one issue, made before the transaction that stores them.
pub(crate) struct Minted {
    pub(crate) access: AccessToken,
    pub(crate) refresh: Option<RefreshToken>,
    pub(crate) access_row: OidcAccessTokenRow,
    pub(crate) refresh_row: Option<OidcRefreshTokenRow>,
}

impl Minted {
    /// Stores the rows (inside the caller's transaction).
    pub(crate) fn store(&self, conn: &mut DbConnection) -> DbResult<()> {
        OidcAccessTokenRow::create(conn, &self.access_row)?;
        if let Some(row) = &self.refresh_row {
            OidcRefreshTokenRow::create(conn, row)?;
        }
        Ok(())
    }
}

impl Auth {
    /// The client a token, introspection or revocation request names, if
    /// it authenticated: a confidential client by its secret (compared in
    /// constant time), a public one by its id alone, sending no secret.
    pub(crate) async fn authenticate_client(
        &self,
        presented: &ClientAuth,
    ) -> AuthResult<OidcClientRow> {
        if uuid::Uuid::parse_str(&presented.client_id).is_err() {
            return Err(oauth(OAuthError::InvalidClient));
        }
        let id = presented.client_id.clone();
        let row = self
            .db_read(move |conn| OidcClientRow::find(conn, &id))
            .await?
            .ok_or(oauth(OAuthError::InvalidClient))?;
        let authenticated = match (&row.secret_hash, &presented.secret) {
            (None, None) => true,
            (Some(stored), Some(secret)) => ClientSecret::parse(secret).is_some_and(|secret| {
                bool::from(secret.hash().as_bytes().ct_eq(stored.as_bytes()))
            }),
            _ => false,
        };
        if authenticated {
            Ok(row)
        } else {
            Err(oauth(OAuthError::InvalidClient))
        }
    }

    /// A new access token (and refresh token when the grant has
    /// `offline_access`) for a grant.
    pub(crate) fn mint(&self, grant: &OidcGrantRow, now: i64) -> Minted {
        let access = AccessToken::generate();
        let offline = grant.scope.split(' ').any(|s| s == "offline_access");
        let refresh = offline.then(RefreshToken::generate);
        let access_row = OidcAccessTokenRow {
            token_hash: access.hash(),
            grant_id: grant.id.clone(),
            client_id: grant.client_id.clone(),
            user_id: grant.user_id.clone(),
            scope: grant.scope.clone(),
            created_at: now,
            expires_at: now + self.access_token_ttl(),
        };
        let refresh_row = refresh.as_ref().map(|token| OidcRefreshTokenRow {
            token_hash: token.hash(),
            grant_id: grant.id.clone(),
            created_at: now,
            used_at: None,
        });
        Minted {
            access,
            refresh,
            access_row,
            refresh_row,
        }
    }

    pub(crate) fn access_token_ttl(&self) -> i64 {
        self.inner.config.oidc_access_token_ttl.as_secs() as i64
    }

    /// Seconds a refresh token stays good after it was issued.
    pub(crate) fn refresh_token_ttl(&self) -> i64 {
        self.inner.config.oidc_refresh_token_ttl.as_secs() as i64
    }

    pub(crate) fn issuer(&self) -> &str {
        &self.inner.config.oidc_issuer
    }

    /// The token endpoint's answer for stored tokens: the ID token signed now.
    pub(crate) async fn token_response(
        &self,
        minted: Minted,
        grant: &OidcGrantRow,
        user: &User,
        nonce: Option<&str>,
        now: i64,
    ) -> AuthResult<TokenResponse> {
        let mut claims = user_claims(user, &grant.scope);
        let amr: Vec<&str> = grant.amr.split(' ').filter(|m| !m.is_empty()).collect();
        let fixed = json!({
            "iss": self.issuer(),
            "aud": grant.client_id,
            "azp": grant.client_id,
            "exp": now + ID_TOKEN_TTL_SECS,
            "iat": now,
            "auth_time": grant.auth_time,
            "at_hash": at_hash(minted.access.expose()),
            "sid": grant.sid,
            "amr": amr,
        });
        if let Value::Object(fixed) = fixed {
            claims.extend(fixed);
        }
        if let Some(nonce) = nonce {
            claims.insert("nonce".into(), json!(nonce));
        }
        let key = self.active_key().await?;
        let id_token = jws::sign(key.alg, &key.kid, &key.private_der, &Value::Object(claims))
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        Ok(TokenResponse {
            access_token: minted.access.expose().to_owned(),
            token_type: "Bearer",
            expires_in: self.access_token_ttl(),
            id_token,
            scope: grant.scope.clone(),
            refresh_token: minted.refresh.map(|token| token.expose().to_owned()),
        })
    }
}
