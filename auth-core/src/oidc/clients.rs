//! The operator's registry of OIDC clients (`authd client …`).

use auth_db::{EventRow, OidcClientRow};

use super::issue::client_of;
use super::rules::valid_redirect_uri;
use super::{NewClient, OidcClient, RegisteredClient};
use crate::account::ClientInfo;
use crate::audit::{event, log_event};
use crate::error::{AuthError, AuthResult};
use crate::service::Auth;
use crate::token::ClientSecret;

/// The longest client name.
const MAX_CLIENT_NAME_CHARS: usize = 100;

fn invalid(field: &'static str, message: String) -> AuthError {
    AuthError::InvalidField { field, message }
}

impl Auth {
    /// Registers a client; a confidential one gets a secret, returned once.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn add_client(
        &self,
        new: NewClient,
        client: &ClientInfo,
    ) -> AuthResult<RegisteredClient> {
        let name = new.name.trim().to_owned();
        if name.is_empty()
            || name.chars().count() > MAX_CLIENT_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(invalid(
                "name",
                format!("must be 1 to {MAX_CLIENT_NAME_CHARS} characters, no control characters"),
            ));
        }
        if new.redirect_uris.is_empty() {
            return Err(invalid("redirect_uri", "at least one is required".into()));
        }
        for uri in &new.redirect_uris {
            valid_redirect_uri(uri).map_err(|m| invalid("redirect_uri", m))?;
        }
        for uri in &new.post_logout_redirect_uris {
            valid_redirect_uri(uri).map_err(|m| invalid("post_logout_redirect_uri", m))?;
        }
        let secret = (!new.public).then(ClientSecret::generate);
        let row = OidcClientRow {
            id: uuid::Uuid::new_v4().to_string(),
            name,
            secret_hash: secret.as_ref().map(ClientSecret::hash),
            redirect_uris: serde_json::Value::from(new.redirect_uris).to_string(),
            post_logout_redirect_uris: serde_json::Value::from(new.post_logout_redirect_uris)
                .to_string(),
            trusted: new.trusted,
            created_at: self.now(),
        };
        let added = self.event(event::OIDC_CLIENT_ADDED, None, client);
        let stored = row.clone();
        self.db(move |conn| {
            auth_db::write_transaction(conn, |conn| {
                OidcClientRow::create(conn, &stored)?;
                EventRow::record(conn, &added)
            })
        })
        .await?;
        log_event(event::OIDC_CLIENT_ADDED, None, client);
        Ok(RegisteredClient {
            client: client_of(&row),
            secret,
        })
    }

    /// Every registered client, oldest first.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn list_clients(&self) -> AuthResult<Vec<OidcClient>> {
        Ok(self
            .db(OidcClientRow::load_all)
            .await?
            .iter()
            .map(client_of)
            .collect())
    }

    /// One client; `NotFound` if unknown.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn find_client(&self, id: &str) -> AuthResult<OidcClient> {
        let id = id.to_owned();
        self.db(move |conn| OidcClientRow::find(conn, &id))
            .await?
            .as_ref()
            .map(client_of)
            .ok_or(AuthError::NotFound)
    }

    /// Deletes a client; its codes, consents, grants and tokens go with it.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn delete_client(&self, id: &str, client: &ClientInfo) -> AuthResult<()> {
        let id = id.to_owned();
        let deleted = self.event(event::OIDC_CLIENT_DELETED, None, client);
        let count = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    let count = OidcClientRow::delete(conn, &id)?;
                    if count > 0 {
                        EventRow::record(conn, &deleted)?;
                    }
                    Ok(count)
                })
            })
            .await?;
        if count == 0 {
            return Err(AuthError::NotFound);
        }
        log_event(event::OIDC_CLIENT_DELETED, None, client);
        Ok(())
    }

    /// Gives a confidential client a new secret (the old one stops
    /// working), audited as `oidc_client_secret_rotated`; `NotFound` for an
    /// unknown or public client.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn rotate_client_secret(
        &self,
        id: &str,
        client: &ClientInfo,
    ) -> AuthResult<RegisteredClient> {
        let secret = ClientSecret::generate();
        let (id, hash) = (id.to_owned(), secret.hash());
        let rotated = self.event(event::OIDC_CLIENT_SECRET_ROTATED, None, client);
        let row = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    if OidcClientRow::set_secret_hash(conn, &id, &hash)? == 0 {
                        return Ok(None);
                    }
                    EventRow::record(conn, &rotated)?;
                    OidcClientRow::find(conn, &id)
                })
            })
            .await?
            .ok_or(AuthError::NotFound)?;
        log_event(event::OIDC_CLIENT_SECRET_ROTATED, None, client);
        Ok(RegisteredClient {
            client: client_of(&row),
            secret: Some(secret),
        })
    }
}
