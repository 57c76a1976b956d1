//! The operator's account administration, shared by the command line and
//! the admin API (docs/contract/11-access-tokens-and-admin-api.md): disabled
//! accounts, profile changes, ending sessions, and pages of accounts and
//! audit rows behind opaque cursors.

use auth_db::{AccessTokenRow, EventRow, SessionRow, UserChanges, UserLookup, UserRow};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::access_tokens::AccessTokenInfo;
use crate::account::{
    clean_profile_field, name_key, validate_email, ClientInfo, Identifier, User,
    MAX_FULL_NAME_CHARS, MAX_SEARCH_ENGINE_CHARS,
};
use crate::audit::{event, log_event};
use crate::error::{AuthError, AuthResult, IdentifierKind};
use crate::service::{user_lookup, Auth};

/// The most rows one page holds; the default is [`DEFAULT_PAGE_SIZE`].
pub const MAX_PAGE_SIZE: i64 = 200;
/// Rows in a page when the caller names no limit.
pub const DEFAULT_PAGE_SIZE: i64 = 50;

/// A page of rows and the cursor of the next one (`None`: the last page).
#[derive(Clone, Debug)]
pub struct Page<T> {
    /// The rows, in the listing's order.
    pub items: Vec<T>,
    /// Pass as `after` for the next page.
    pub next: Option<String>,
}

/// One audit row as the admin API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// UUID of the row.
    pub id: String,
    /// Unix seconds.
    pub occurred_at: i64,
    /// What happened (`login_failed`, `user_disabled`, …).
    pub kind: String,
    /// The account concerned, when one is known.
    pub user_id: Option<String>,
    /// The client's address.
    pub client_addr: Option<String>,
    /// The request's id.
    pub request_id: Option<String>,
    /// Who acted for the account (`token:<id>`), when not its own user.
    pub actor: Option<String>,
}

/// Profile changes by an operator; `None` leaves a field as it is, and
/// `Some(None)` clears an optional one.
#[derive(Clone, Debug, Default)]
pub struct AccountChanges {
    /// A new e-mail address, or none.
    pub email: Option<Option<String>>,
    /// A new full name, or none.
    pub full_name: Option<Option<String>>,
    /// A new search engine, or none.
    pub mothers_favorite_search_engine: Option<Option<String>>,
    /// Disable (`true`) or enable (`false`).
    pub disabled: Option<bool>,
}

impl AccountChanges {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.full_name.is_none()
            && self.mothers_favorite_search_engine.is_none()
            && self.disabled.is_none()
    }
}

/// Everything an operator sees of one account.
#[derive(Clone, Debug)]
pub struct AccountDetails {
    /// The account.
    pub user: User,
    /// Its bound machine, if any.
    pub machine: Option<String>,
    /// Its second factors.
    pub factors: crate::second_factors::FactorStatus,
    /// Its passkeys.
    pub passkeys: Vec<crate::passkeys::PasskeyInfo>,
    /// Its personal access tokens.
    pub tokens: Vec<AccessTokenInfo>,
}

impl Auth {
    /// Disables or enables an account. Disabling ends its sessions, OIDC
    /// grants and access tokens in the same transaction; enabling gives back
    /// the login, not what disabling ended. `UnknownAccount` if none.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn set_disabled(
        &self,
        identifier: &Identifier,
        disabled: bool,
        client: &ClientInfo,
    ) -> AuthResult<User> {
        self.update_account(
            identifier,
            AccountChanges {
                disabled: Some(disabled),
                ..AccountChanges::default()
            },
            client,
        )
        .await
    }

    /// Changes an account as an operator: profile fields, e-mail, disabled.
    /// One transaction, one audit row per kind of change.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn update_account(
        &self,
        identifier: &Identifier,
        changes: AccountChanges,
        client: &ClientInfo,
    ) -> AuthResult<User> {
        if changes.is_empty() {
            return Err(AuthError::InvalidField {
                field: "body",
                message: "name at least one field to change".into(),
            });
        }
        let full_name = changes
            .full_name
            .map(|v| clean_profile_field("full_name", v, MAX_FULL_NAME_CHARS))
            .transpose()?;
        let engine = changes
            .mothers_favorite_search_engine
            .map(|v| {
                clean_profile_field("mothers_favorite_search_engine", v, MAX_SEARCH_ENGINE_CHARS)
            })
            .transpose()?;
        let email = match changes.email {
            Some(Some(email)) if !email.is_empty() => {
                validate_email(&email)?;
                let key = name_key(&email);
                Some(Some((email, key)))
            }
            Some(_) => Some(None),
            None => None,
        };
        let (kind, key) = (identifier.clone(), identifier.key());
        let now = self.now();
        let disabled = changes.disabled;
        let events = (
            self.event(event::USER_UPDATED, None, client),
            self.event(event::USER_DISABLED, None, client),
            self.event(event::USER_ENABLED, None, client),
        );
        let profile_changed = full_name.is_some() || engine.is_some() || email.is_some();
        let address_given = matches!(email, Some(Some(_)));
        let updated = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    let Some(user) = UserRow::find_user_by(conn, user_lookup(&kind, &key))? else {
                        return Ok(Err(AuthError::UnknownAccount));
                    };
                    if let Some(email) = &email {
                        let (email, key) = match email {
                            Some((email, key)) => (Some(email.as_str()), Some(key.as_str())),
                            None => (None, None),
                        };
                        match UserRow::change_email(conn, &user.id, email, key, now) {
                            Ok(_) => {}
                            Err(e) if e.is_unique_violation() => {
                                return Ok(Err(AuthError::AlreadyRegistered(
                                    IdentifierKind::Email,
                                )));
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    if full_name.is_some() || engine.is_some() {
                        let changes = UserChanges {
                            full_name: full_name.as_ref().map(|v| v.as_deref()),
                            mothers_favorite_search_engine: engine.as_ref().map(|v| v.as_deref()),
                            updated_at: Some(now),
                        };
                        UserRow::update_user(conn, &user.id, &changes)?;
                    }
                    let (updated_event, disabled_event, enabled_event) = events;
                    let with_user = |row: EventRow| EventRow {
                        user_id: Some(user.id.clone()),
                        ..row
                    };
                    if profile_changed {
                        EventRow::record(conn, &with_user(updated_event))?;
                    }
                    match disabled {
                        Some(true) => {
                            UserRow::set_disabled(conn, &user.id, Some(now))?;
                            end_everything(conn, &user.id)?;
                            EventRow::record(conn, &with_user(disabled_event))?;
                        }
                        Some(false) => {
                            UserRow::set_disabled(conn, &user.id, None)?;
                            EventRow::record(conn, &with_user(enabled_event))?;
                        }
                        None => {}
                    }
                    let user = UserRow::find_user_by(conn, UserLookup::Id(&user.id))?;
                    Ok(user.map(User::from_row).ok_or(AuthError::UnknownAccount))
                })
            })
            .await??;
        if profile_changed {
            log_event(event::USER_UPDATED, Some(&updated.id), client);
        }
        match disabled {
            Some(true) => log_event(event::USER_DISABLED, Some(&updated.id), client),
            Some(false) => log_event(event::USER_ENABLED, Some(&updated.id), client),
            None => {}
        }
        // docs/contract/10-email.md: an address an operator gives gets its
        // link like any other; it is not verified until the link is used.
        if let (true, false, Some(address)) =
            (address_given, updated.email_verified, updated.email.clone())
        {
            if let Err(error) = self
                .start_email_verification(&updated, &address, client)
                .await
            {
                tracing::warn!(user_id = %updated.id, %error, "e-mail verification link not made");
            }
        }
        Ok(updated)
    }

    /// Adds an account as an operator without a password: it gets a random
    /// one nobody knows, and a reset link is sent to set one (the admin
    /// API's `POST /admin/users` without `password`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn register_with_reset_link(
        &self,
        mut registration: crate::account::Registration,
        client: &ClientInfo,
    ) -> AuthResult<User> {
        registration.password = crate::secret::Password::new(crate::token::random_token());
        let user = self.register_user(registration, client).await?;
        // The operator vouches for the address of an account they make: its
        // first reset link goes to it, verified or not (a reset asked by
        // anyone else goes only to a verified one, docs/contract/10-email.md).
        self.deliver_password_reset(&Identifier::Any(user.id_name()), client)
            .await?;
        Ok(user)
    }

    /// Ends every session of an account, as an operator; returns how many ended.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn end_sessions_of(
        &self,
        identifier: &Identifier,
        client: &ClientInfo,
    ) -> AuthResult<usize> {
        let (kind, key) = (identifier.clone(), identifier.key());
        let ended_event = self.event(event::SESSIONS_ENDED, None, client);
        let (user_id, ended) = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    let Some(user) = UserRow::find_user_by(conn, user_lookup(&kind, &key))? else {
                        return Ok(None);
                    };
                    let ended = SessionRow::delete_all_for_user(conn, &user.id, None)?;
                    EventRow::record(
                        conn,
                        &EventRow {
                            user_id: Some(user.id.clone()),
                            ..ended_event
                        },
                    )?;
                    Ok(Some((user.id, ended)))
                })
            })
            .await?
            .ok_or(AuthError::UnknownAccount)?;
        log_event(event::SESSIONS_ENDED, Some(&user_id), client);
        Ok(ended)
    }

    /// Everything an operator sees of one account.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn account_details(&self, identifier: &Identifier) -> AuthResult<AccountDetails> {
        let user = self
            .find_user(identifier)
            .await?
            .ok_or(AuthError::UnknownAccount)?;
        let machine = self.machine_of(&user).await?;
        let factors = self.second_factors(&user.id).await?;
        let passkeys = self.passkeys_of(&user.id).await?;
        let user_id = user.id.clone();
        let tokens = self
            .db(move |conn| AccessTokenRow::list_for_user(conn, &user_id))
            .await?
            .into_iter()
            .map(AccessTokenInfo::from_row)
            .collect();
        Ok(AccountDetails {
            user,
            machine,
            factors,
            passkeys,
            tokens,
        })
    }

    /// A page of accounts, by id; `query` keeps those whose username or
    /// e-mail contains it (any case), `after` is the previous page's `next`.
    /// Each account present throughout a paging is listed once, whatever is
    /// added or deleted meanwhile.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn page_users(
        &self,
        query: Option<&str>,
        after: Option<&str>,
        limit: Option<i64>,
    ) -> AuthResult<Page<User>> {
        let limit = page_size(limit)?;
        let after = after.map(|c| self.open_cursor("users", c)).transpose()?;
        let pattern = query.filter(|q| !q.is_empty()).map(name_key);
        let rows = self
            .db(move |conn| UserRow::page(conn, pattern.as_deref(), after.as_deref(), limit + 1))
            .await?;
        let mut items: Vec<User> = rows.into_iter().map(User::from_row).collect();
        let next = (items.len() as i64 > limit).then(|| {
            items.truncate(limit as usize);
            items.last().map(|last| self.seal_cursor("users", &last.id))
        });
        Ok(Page {
            items,
            next: next.flatten(),
        })
    }

    /// A page of audit rows, oldest first (by time, then id).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn page_events(
        &self,
        after: Option<&str>,
        limit: Option<i64>,
    ) -> AuthResult<Page<AuditEvent>> {
        let limit = page_size(limit)?;
        let after = match after {
            Some(cursor) => {
                let position = self.open_cursor("events", cursor)?;
                let (at, id) = position.split_once(' ').ok_or(AuthError::InvalidCursor)?;
                let at: i64 = at.parse().map_err(|_| AuthError::InvalidCursor)?;
                Some((at, id.to_owned()))
            }
            None => None,
        };
        let rows = self
            .db(move |conn| {
                let after = after.as_ref().map(|(at, id)| (*at, id.as_str()));
                EventRow::page(conn, after, limit + 1)
            })
            .await?;
        let mut items: Vec<AuditEvent> = rows
            .into_iter()
            .map(|r| AuditEvent {
                id: r.id,
                occurred_at: r.occurred_at,
                kind: r.kind,
                user_id: r.user_id,
                client_addr: r.client_addr,
                request_id: r.request_id,
                actor: r.actor,
            })
            .collect();
        let next = (items.len() as i64 > limit).then(|| {
            items.truncate(limit as usize);
            items.last().map(|last| {
                self.seal_cursor("events", &format!("{} {}", last.occurred_at, last.id))
            })
        });
        Ok(Page {
            items,
            next: next.flatten(),
        })
    }

    /// An opaque cursor: the position, and a MAC under the deployment key so
    /// that a forged one is refused rather than read.
    fn seal_cursor(&self, listing: &str, position: &str) -> String {
        let mac =
            self.inner
                .key
                .mac(&[b"admin-cursor v1", listing.as_bytes(), position.as_bytes()]);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(position),
            URL_SAFE_NO_PAD.encode(&mac[..16])
        )
    }

    /// The position of a cursor this server made; `InvalidCursor` otherwise.
    fn open_cursor(&self, listing: &str, cursor: &str) -> AuthResult<String> {
        let (position, mac) = cursor.split_once('.').ok_or(AuthError::InvalidCursor)?;
        let position = URL_SAFE_NO_PAD
            .decode(position)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or(AuthError::InvalidCursor)?;
        let mac = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| AuthError::InvalidCursor)?;
        let expected =
            self.inner
                .key
                .mac(&[b"admin-cursor v1", listing.as_bytes(), position.as_bytes()]);
        use subtle::ConstantTimeEq as _;
        if mac.len() != 16 || !bool::from(mac.ct_eq(&expected[..16])) {
            return Err(AuthError::InvalidCursor);
        }
        Ok(position)
    }
}

/// Ends what a disabled account had: sessions, OIDC grants, access tokens,
/// reset tokens and second steps in flight.
fn end_everything(conn: &mut auth_db::DbConnection, user_id: &str) -> auth_db::DbResult<()> {
    SessionRow::delete_all_for_user(conn, user_id, None)?;
    auth_db::OidcGrantRow::delete_for_user(conn, user_id)?;
    AccessTokenRow::delete_for_user(conn, user_id)?;
    auth_db::ResetTokenRow::delete_for_user(conn, user_id)?;
    Ok(())
}

/// A page size from the caller's `limit`: 1 to [`MAX_PAGE_SIZE`].
fn page_size(limit: Option<i64>) -> AuthResult<i64> {
    match limit {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
        Some(_) => Err(AuthError::InvalidField {
            field: "limit",
            message: format!("must be 1 to {MAX_PAGE_SIZE}"),
        }),
    }
}
