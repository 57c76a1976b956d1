//! The ID-token signing keys, kept in the database so that every server of a
//! deployment signs and verifies with the same set: the private half sealed
//! under the deployment's secret key, the public half as a JWK.
//!
//! The first key is made when one is first needed and signs at once; a key
//! added by [`Auth::rotate_signing_key`] is published at once and signs
//! after `oidc_key_publish_delay`. A key stays published until its
//! successor has signed for [`ID_TOKEN_TTL_SECS`], so every token it signed
//! has expired when it goes.

use auth_db::OidcSigningKeyRow;
use serde_json::Value;

use super::jws::{self, SigningAlg};
use super::ID_TOKEN_TTL_SECS;
use crate::error::{AuthError, AuthResult};
use crate::secret::{seal, unseal, SealKey};
use crate::service::Auth;

/// The key that signs now, unsealed.
pub(crate) struct ActiveKey {
    pub(crate) alg: SigningAlg,
    pub(crate) kid: String,
    pub(crate) private_der: Vec<u8>,
}

impl Auth {
    fn oidc_seal_key(&self) -> SealKey {
        self.inner.key.mac(&[b"oidc-signing-key-seal v1"])
    }

    /// Adds a signing key of `alg`: published at once, signing after the
    /// publish delay (at once when it is the first). Returns its `kid`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn rotate_signing_key(&self, alg: SigningAlg) -> AuthResult<String> {
        let delay = self.inner.config.oidc_key_publish_delay.as_secs() as i64;
        self.add_signing_key(alg, delay).await
    }

    async fn add_signing_key(&self, alg: SigningAlg, delay: i64) -> AuthResult<String> {
        let kid = uuid::Uuid::new_v4().simple().to_string();
        let generated = {
            let kid = kid.clone();
            tokio::task::spawn_blocking(move || jws::generate(alg, &kid))
                .await
                .map_err(|e| AuthError::Internal(format!("key generation task failed: {e}")))?
                .map_err(|e| AuthError::Internal(e.to_string()))?
        };
        let now = self.now();
        let row = OidcSigningKeyRow {
            kid: kid.clone(),
            alg: alg.name().to_owned(),
            private_key_sealed: seal(&self.oidc_seal_key(), &kid, &generated.private_der),
            public_jwk: generated.public_jwk.to_string(),
            created_at: now,
            use_after: now,
        };
        self.db(move |conn| {
            let first = OidcSigningKeyRow::load_all(conn)?.is_empty();
            let row = OidcSigningKeyRow {
                use_after: if first { now } else { now + delay },
                ..row
            };
            OidcSigningKeyRow::create(conn, &row)
        })
        .await?;
        tracing::info!(kid = %kid, alg = alg.name(), "OIDC signing key added");
        Ok(kid)
    }

    /// Every key, making the first one (RS256) if there is none.
    async fn signing_keys(&self) -> AuthResult<Vec<OidcSigningKeyRow>> {
        let keys = self.db_read(OidcSigningKeyRow::load_all).await?;
        if !keys.is_empty() {
            return Ok(keys);
        }
        self.add_signing_key(SigningAlg::Rs256, 0).await?;
        self.db(OidcSigningKeyRow::load_all).await
    }

    /// The public JWKs of every published key (the JWKS's `keys`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn published_keys(&self) -> AuthResult<Vec<Value>> {
        let (keys, now) = (self.signing_keys().await?, self.now());
        Ok(keys
            .iter()
            .filter(|key| {
                !keys.iter().any(|later| {
                    later.use_after > key.use_after && later.use_after <= now - ID_TOKEN_TTL_SECS
                })
            })
            .filter_map(|key| serde_json::from_str(&key.public_jwk).ok())
            .collect())
    }

    /// The key that signs now: the latest whose publish delay has passed.
    pub(crate) async fn active_key(&self) -> AuthResult<ActiveKey> {
        let (keys, now) = (self.signing_keys().await?, self.now());
        let row = keys
            .iter()
            .filter(|key| key.use_after <= now)
            .max_by_key(|key| (key.use_after, key.created_at))
            .ok_or_else(|| AuthError::Internal("no OIDC signing key is in force".into()))?;
        let alg = SigningAlg::from_name(&row.alg)
            .ok_or_else(|| AuthError::Internal(format!("unknown key algorithm {}", row.alg)))?;
        let private_der = unseal(&self.oidc_seal_key(), &row.kid, &row.private_key_sealed)
            .ok_or_else(|| {
                AuthError::Internal("an OIDC signing key does not open with this secret key".into())
            })?;
        Ok(ActiveKey {
            alg,
            kid: row.kid.clone(),
            private_der,
        })
    }
}
