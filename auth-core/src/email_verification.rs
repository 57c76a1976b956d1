//! Owning an e-mail address (docs/contract/10-email.md): verification
//! tokens on the reset-token pattern (random, hashed at rest, single use,
//! `email_token_ttl`), the change of address, the operator's vouching, and
//! the notices of security events sent to a verified address.

use auth_db::{
    claim_verified_address, AddressClaim, BreachedLoginRow, EmailTokenRow, EventRow, ResetTokenRow,
    UserLookup, UserRow,
};
use tracing::Instrument as _;

use crate::account::{name_key, validate_email, ClientInfo, Identifier, User};
use crate::audit::{event, log_event};
use crate::delivery::{NoticeMessage, VerificationMessage};
use crate::error::{AuthError, AuthResult, IdentifierKind};
use crate::notices::NoticeEvent;
use crate::password_check::Claimant;
use crate::secret::Password;
use crate::service::Auth;
use crate::token::EmailToken;

/// What `/me` and `GET /profile` show about an account's address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EmailStatus {
    /// A new address waiting for its link to be used, if any.
    pub pending: Option<String>,
    /// Whether the last login used a password found in a breach list.
    pub password_breached: bool,
}

impl Auth {
    /// Makes a verification token for `address` (the account's own, or a new
    /// one), voiding the account's earlier one, and sends the link in the
    /// background. Nothing is made for an account that is gone.
    pub(crate) async fn start_email_verification(
        &self,
        user: &User,
        address: &str,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        let token = EmailToken::generate();
        let now = self.now();
        let row = EmailTokenRow {
            token_hash: token.hash(),
            user_id: user.id.clone(),
            email: address.to_owned(),
            email_key: name_key(address),
            created_at: now,
            expires_at: now + self.config().email_token_ttl.as_secs() as i64,
        };
        let requested = self.event(event::EMAIL_VERIFICATION_SENT, Some(&user.id), client);
        self.db(move |conn| {
            auth_db::write_transaction(conn, |conn| {
                EmailTokenRow::replace(conn, &row)?;
                EventRow::record(conn, &requested)
            })
        })
        .await?;
        log_event(event::EMAIL_VERIFICATION_SENT, Some(&user.id), client);
        let auth = self.clone();
        let (user_id, account, address) = (
            user.id.clone(),
            user.display_name().to_owned(),
            address.to_owned(),
        );
        let deliver = async move {
            let notifier = auth.config().notifier.clone();
            // The notifier logs its own outcome.
            let _ = notifier
                .deliver_verification(VerificationMessage {
                    user_id: &user_id,
                    account: &account,
                    address: &address,
                    token: &token,
                    ttl: auth.config().email_token_ttl,
                })
                .await;
        };
        if self.config().notifier.needs_address() {
            // A mail server may be slow: the request does not wait for it.
            tokio::spawn(deliver.instrument(tracing::Span::current()));
        } else {
            // The log line is written at once, also by a command that exits
            // right after (`authd user add --email`).
            deliver.await;
        }
        Ok(())
    }

    /// Sends a notice of `event` to the account's verified address, in the
    /// background; an account without one gets nothing.
    pub(crate) fn notify(&self, user: &User, event: NoticeEvent, client: &ClientInfo) {
        if let (true, Some(address)) = (user.email_verified, &user.email) {
            self.notify_address(user, address.clone(), event, client);
        }
    }

    /// Sends a notice of `event` to `address` in the background.
    pub(crate) fn notify_address(
        &self,
        user: &User,
        address: String,
        event: NoticeEvent,
        client: &ClientInfo,
    ) {
        let auth = self.clone();
        let (user_id, account) = (user.id.clone(), user.display_name().to_owned());
        let (at, client_addr, user_agent) = (self.now(), client.addr, client.user_agent.clone());
        tokio::spawn(
            async move {
                let notifier = auth.config().notifier.clone();
                let _ = notifier
                    .deliver_notice(NoticeMessage {
                        user_id: &user_id,
                        account: &account,
                        address: &address,
                        event: &event,
                        at,
                        client_addr,
                        user_agent: user_agent.as_deref(),
                    })
                    .await;
            }
            .instrument(tracing::Span::current()),
        );
    }

    /// `/me`'s resend: a new link for the pending new address if there is
    /// one, else for the account's own address if it is not verified yet.
    /// Returns the address the link went to (`None`: nothing to verify).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn resend_email_verification(
        &self,
        session_token: &str,
        client: &ClientInfo,
    ) -> AuthResult<Option<String>> {
        let signed_in = self.get_user_from_session_id(session_token).await?;
        let user = signed_in.user;
        let status = self.email_status(&user).await?;
        let address = match (status.pending, &user.email, user.email_verified) {
            (Some(pending), _, _) => pending,
            (None, Some(email), false) => email.clone(),
            _ => return Ok(None),
        };
        self.start_email_verification(&user, &address, client)
            .await?;
        Ok(Some(address))
    }

    /// The account and address a verification link is live for, without
    /// using it (the GET of the link: mail scanners open links).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn email_token_holder(&self, token: &str) -> AuthResult<Option<(User, String)>> {
        let Some(token) = EmailToken::parse(token) else {
            return Ok(None);
        };
        let (hash, now) = (token.hash(), self.now());
        let found = self
            .db(move |conn| {
                let Some(row) = EmailTokenRow::find_live(conn, &hash, now)? else {
                    return Ok(None);
                };
                Ok(UserRow::find_user_by(conn, UserLookup::Id(&row.user_id))?
                    .map(|user| (user, row.email)))
            })
            .await?;
        Ok(found.map(|(user, email)| (User::from_row(user), email)))
    }

    /// Uses a verification link: the address becomes the account's, verified.
    /// The token works once (of two racing uses one wins); an address another
    /// account holds verified, or as its only name, is
    /// [`AuthError::AlreadyRegistered`]; unverified claims of it by other
    /// accounts are released. A changed address sends a notice to the old one.
    /// Whoever is signed in does not matter: the link names its account.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn verify_email(&self, token: &str, client: &ClientInfo) -> AuthResult<User> {
        let token = EmailToken::parse(token).ok_or(AuthError::InvalidEmailToken)?;
        let (hash, now) = (token.hash(), self.now());
        let client_row = client.clone();
        let auth = self.clone();
        let outcome = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    let Some(row) = EmailTokenRow::take(conn, &hash, now)? else {
                        return Ok(Err(AuthError::InvalidEmailToken));
                    };
                    let before = UserRow::find_user_by(conn, UserLookup::Id(&row.user_id))?;
                    let Some(before) = before else {
                        return Ok(Err(AuthError::InvalidEmailToken));
                    };
                    match claim_verified_address(
                        conn,
                        &row.user_id,
                        &row.email,
                        &row.email_key,
                        now,
                    )? {
                        AddressClaim::Verified => {}
                        AddressClaim::Taken => {
                            return Ok(Err(AuthError::AlreadyRegistered(IdentifierKind::Email)))
                        }
                        AddressClaim::Stale => return Ok(Err(AuthError::InvalidEmailToken)),
                    }
                    EmailTokenRow::release_address(conn, &row.email_key, &row.user_id)?;
                    // A reset link sent to the old address dies with it.
                    if before.email_key.as_deref() != Some(row.email_key.as_str()) {
                        ResetTokenRow::delete_for_user(conn, &row.user_id)?;
                    }
                    let verified =
                        auth.event(event::EMAIL_VERIFIED, Some(&row.user_id), &client_row);
                    EventRow::record(conn, &verified)?;
                    let after = UserRow::find_user_by(conn, UserLookup::Id(&row.user_id))?;
                    Ok(Ok((before, after)))
                })
            })
            .await?;
        let (before, after) = outcome?;
        let after = User::from_row(after.ok_or(AuthError::InvalidEmailToken)?);
        log_event(event::EMAIL_VERIFIED, Some(&after.id), client);
        let before = User::from_row(before);
        if before.email_key_differs(&after) {
            if let (Some(old), true) = (before.email.clone(), before.email_verified) {
                let new_address = after.email.clone().unwrap_or_default();
                self.notify_address(
                    &after,
                    old,
                    NoticeEvent::EmailChanged { new_address },
                    client,
                );
            }
        }
        Ok(after)
    }

    /// `/me/email` and `POST /email`: with the current password, starts a
    /// change of address. The new address gets a verification link and
    /// becomes the account's only when it is used. Asking for the account's
    /// own unverified address sends its link again.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn change_email(
        &self,
        session_token: &str,
        current_password: &Password,
        new_email: &str,
        client: &ClientInfo,
    ) -> AuthResult<User> {
        let signed_in = self.get_user_from_session_id(session_token).await?;
        validate_email(new_email)?;
        let verified = self
            .check_password(
                Claimant::Session {
                    user_id: &signed_in.user.id,
                    session_id: &signed_in.session.id,
                },
                current_password,
                client,
            )
            .await?;
        let key = name_key(new_email);
        let user_id = signed_in.user.id.clone();
        // The password was right: the check's slot is released and the count cleared.
        let (taken, user) = self
            .commit_verified(verified, Some(signed_in.session.id.clone()), client, {
                let key = key.clone();
                move |conn, _| {
                    Ok(
                        match UserRow::find_user_by(conn, UserLookup::UsernameOrEmailKey(&key))? {
                            Some(holder) if holder.id == user_id => false,
                            // Held verified, or as a username: taken. An unverified
                            // claim may still be released by the verification.
                            Some(holder) => {
                                holder.username_key.as_deref() == Some(key.as_str())
                                    || holder.email_verified_at.is_some()
                                    || holder.username_key.is_none()
                            }
                            None => false,
                        },
                    )
                }
            })
            .await?;
        if taken {
            return Err(AuthError::AlreadyRegistered(IdentifierKind::Email));
        }
        let user = User::from_row(user);
        if user.email.as_deref().map(name_key).as_deref() == Some(key.as_str())
            && user.email_verified
        {
            // Already the account's verified address: nothing to prove.
            return Ok(user);
        }
        self.start_email_verification(&user, new_email, client)
            .await?;
        Ok(user)
    }

    /// The operator's `authd user verify-email`: marks the account's current
    /// address verified (they vouch for it), releasing other accounts'
    /// pending claims of it.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn mark_email_verified(
        &self,
        identifier: &Identifier,
        client: &ClientInfo,
    ) -> AuthResult<User> {
        let user = self
            .find_user(identifier)
            .await?
            .ok_or(AuthError::UnknownAccount)?;
        let Some(email) = user.email.clone() else {
            return Err(AuthError::InvalidField {
                field: "email",
                message: "the account has no e-mail address".into(),
            });
        };
        let (user_id, key, now) = (user.id.clone(), name_key(&email), self.now());
        let verified = self.event(event::EMAIL_VERIFIED, Some(&user.id), client);
        let row = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    auth_db::lock_address(conn, &key)?;
                    if auth_db::mark_email_verified(conn, &user_id, &key, now)? != 1 {
                        return Ok(None);
                    }
                    EmailTokenRow::release_address(conn, &key, &user_id)?;
                    EventRow::record(conn, &verified)?;
                    UserRow::find_user_by(conn, UserLookup::Id(&user_id))
                })
            })
            .await?;
        let user = User::from_row(row.ok_or(AuthError::UnknownAccount)?);
        log_event(event::EMAIL_VERIFIED, Some(&user.id), client);
        Ok(user)
    }

    /// What `/me` and `GET /profile` show beside the account.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn email_status(&self, user: &User) -> AuthResult<EmailStatus> {
        let (user_id, now) = (user.id.clone(), self.now());
        let (pending, breached) = self
            .db(move |conn| {
                let pending = EmailTokenRow::for_user(conn, &user_id, now)?;
                let breached = BreachedLoginRow::is_flagged(conn, &user_id)?;
                Ok((pending, breached))
            })
            .await?;
        let own_key = user.email.as_deref().map(name_key);
        Ok(EmailStatus {
            // A link for the account's own address is no change of address.
            pending: pending
                .filter(|row| own_key.as_deref() != Some(row.email_key.as_str()))
                .map(|row| row.email),
            password_breached: breached,
        })
    }
}

impl User {
    /// Whether `other` has another address than this (compared as keys).
    fn email_key_differs(&self, other: &User) -> bool {
        self.email.as_deref().map(name_key) != other.email.as_deref().map(name_key)
    }
}

impl Auth {
    /// [`AuthError::PasswordRejected`] with [`PasswordRule::Breached`](crate::password_rules::PasswordRule::Breached) for a
    /// password of a breach list (`nfc`: the password after NFC).
    pub(crate) async fn reject_breached(&self, nfc: &str) -> crate::error::AuthResult<()> {
        if self.config().breached_passwords.is_breached(nfc).await {
            return Err(crate::error::AuthError::PasswordRejected(
                crate::password_rules::PasswordRule::Breached,
            ));
        }
        Ok(())
    }
}
