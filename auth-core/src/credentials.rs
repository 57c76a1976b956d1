//! Passwords changing hands: a reset with a token, a change by the signed-in
//! user, and the operator's set. All three end in [`replace_password`], one
//! transaction that bumps the credential version, ends every session, voids
//! any reset token and clears the throttle, so that no decision taken on the
//! old password can be committed after it.

use auth_db::{
    BreachedLoginRow, DbConnection, DbResult, EventRow, ResetTokenRow, SessionRow, ThrottleRow,
    UserRow,
};

use crate::account::{ClientInfo, Identifier, LoginSuccess, Session, User};
use crate::audit::{event, log_event};
use crate::error::{AuthError, AuthResult};
use crate::notices::NoticeEvent;
use crate::password_check::Claimant;
use crate::password_rules::check_new_password;
use crate::secret::Password;
use crate::service::Auth;
use crate::token::ResetToken;

/// Replaces an account's password: bumps its credential version (only if it
/// is still `expected`, when given), ends every session and OIDC grant, voids the reset
/// token and clears the failure count. Returns false, having written
/// nothing, if the version had moved on.
fn replace_password(
    conn: &mut DbConnection,
    user_id: &str,
    expected: Option<i64>,
    new_hash: &str,
    now: i64,
    throttle_key: &str,
) -> DbResult<bool> {
    if UserRow::set_password(conn, user_id, expected, new_hash, now)? == 0 {
        return Ok(false);
    }
    SessionRow::delete_all_for_user(conn, user_id, None)?;
    // OIDC refresh and access tokens follow the sessions (docs/contract/8-openid-connect.md).
    auth_db::OidcGrantRow::delete_for_user(conn, user_id)?;
    ResetTokenRow::delete_for_user(conn, user_id)?;
    ThrottleRow::clear(conn, throttle_key)?;
    BreachedLoginRow::clear(conn, user_id)?;
    Ok(true)
}

impl Auth {
    /// Makes a reset token for an account, voiding any earlier one (the
    /// Holberton `get_reset_password_token`). Delivering it is the caller's job.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn get_reset_password_token(
        &self,
        identifier: &Identifier,
        client: &ClientInfo,
    ) -> AuthResult<(User, ResetToken)> {
        let user = self
            .find_user(identifier)
            .await?
            .ok_or(AuthError::UnknownAccount)?;
        let token = ResetToken::generate();
        let now = self.now();
        let row = ResetTokenRow {
            user_id: user.id.clone(),
            token_hash: token.hash(),
            created_at: now,
            expires_at: now + self.inner.config.reset_token_ttl.as_secs() as i64,
        };
        let requested = self.event(event::RESET_REQUESTED, Some(&user.id), client);
        self.db(move |conn| {
            auth_db::write_transaction(conn, |conn| {
                ResetTokenRow::replace(conn, &row)?;
                EventRow::record(conn, &requested)
            })
        })
        .await?;
        log_event(event::RESET_REQUESTED, Some(&user.id), client);
        Ok((user, token))
    }

    /// The account a reset token is live for, if it is: a reset page checks
    /// its link with this, without using the token up (mail scanners open
    /// links too).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn reset_token_holder(&self, reset_token: &str) -> AuthResult<Option<User>> {
        let Some(token) = ResetToken::parse(reset_token) else {
            return Ok(None);
        };
        let (hash, now) = (token.hash(), self.now());
        let holder = self
            .db(move |conn| {
                let Some(user_id) = ResetTokenRow::holder(conn, &hash, now)? else {
                    return Ok(None);
                };
                UserRow::find_user_by(conn, auth_db::UserLookup::Id(&user_id))
            })
            .await?;
        Ok(holder.map(User::from_row))
    }

    /// Sets a new password with a reset token (the Holberton `update_password`):
    /// the token is used up, every session of the user ends and the failed-login
    /// count is cleared. A password that breaks a rule leaves the token usable.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn update_password(
        &self,
        identifier: &Identifier,
        reset_token: &str,
        new_password: &Password,
        client: &ClientInfo,
    ) -> AuthResult<User> {
        let token = ResetToken::parse(reset_token).ok_or(AuthError::InvalidResetToken)?;
        let user = self
            .find_user(identifier)
            .await?
            .ok_or(AuthError::InvalidResetToken)?;
        let now = self.now();
        let (user_id, token_hash) = (user.id.clone(), token.hash());
        let valid = self
            .db(move |conn| ResetTokenRow::is_valid(conn, &user_id, &token_hash, now))
            .await?;
        if !valid {
            return Err(AuthError::InvalidResetToken);
        }
        let nfc = check_new_password(
            new_password,
            self.inner.config.password_min_length,
            &[user.username.as_deref(), user.email.as_deref()],
        )
        .map_err(AuthError::PasswordRejected)?;
        self.reject_breached(&nfc).await?;
        let new_hash = self.inner.hasher.hash(nfc).await?;
        let reset = self.event(event::PASSWORD_RESET, Some(&user.id), client);
        let throttle_key = self.account_throttle_key(&user.id);
        let (user_id, token_hash) = (user.id.clone(), token.hash());
        let used = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    if !ResetTokenRow::consume(conn, &user_id, &token_hash, now)? {
                        return Ok(false);
                    }
                    // The token proves the right to set the password whatever it was.
                    if !replace_password(conn, &user_id, None, &new_hash, now, &throttle_key)? {
                        return Ok(false);
                    }
                    // A reset may follow a leak: the account's access tokens
                    // end too (docs/contract/11-access-tokens-and-admin-api.md).
                    auth_db::AccessTokenRow::delete_for_user(conn, &user_id)?;
                    EventRow::record(conn, &reset)?;
                    Ok(true)
                })
            })
            .await?;
        if !used {
            return Err(AuthError::InvalidResetToken);
        }
        log_event(event::PASSWORD_RESET, Some(&user.id), client);
        self.notify(&user, NoticeEvent::PasswordReset, client);
        Ok(user)
    }

    /// Changes the password of a signed-in user who knows the current one.
    /// Every session of the user ends, this one included; the returned session
    /// replaces it. Of concurrent changes on one session exactly one
    /// succeeds: the others find their session ended (`NotAuthenticated`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn change_password(
        &self,
        token: &str,
        current_password: &Password,
        new_password: &Password,
        client: &ClientInfo,
    ) -> AuthResult<LoginSuccess> {
        let signed_in = self.get_user_from_session_id(token).await?;
        let nfc = check_new_password(
            new_password,
            self.inner.config.password_min_length,
            &[
                signed_in.user.username.as_deref(),
                signed_in.user.email.as_deref(),
            ],
        )
        .map_err(AuthError::PasswordRejected)?;
        self.reject_breached(&nfc).await?;
        // The same check as a login, throttle included, so a stolen session
        // cannot be used to guess the password faster.
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
        let new_hash = self.inner.hasher.hash(nfc).await?;
        let now = self.now();
        let (session_row, new_token) = self.new_session_row(&signed_in.user.id, client, "pwd");
        let changed = self.event(event::PASSWORD_CHANGED, Some(&signed_in.user.id), client);
        let throttle_key = self.account_throttle_key(&signed_in.user.id);
        let stored = session_row.clone();
        let (replaced, user) = self
            .commit_verified(
                verified,
                Some(signed_in.session.id.clone()),
                client,
                move |conn, user| {
                    let version = Some(user.credential_version);
                    if !replace_password(conn, &user.id, version, &new_hash, now, &throttle_key)? {
                        return Ok(false);
                    }
                    SessionRow::create(conn, &stored)?;
                    EventRow::record(conn, &changed)?;
                    Ok(true)
                },
            )
            .await?;
        if !replaced {
            // The version was confirmed under lock in the same transaction,
            // so this cannot happen; answered as a lost race all the same.
            return Err(AuthError::NotAuthenticated);
        }
        log_event(event::PASSWORD_CHANGED, Some(&user.id), client);
        let user = User::from_row(user);
        self.notify(&user, NoticeEvent::PasswordChanged, client);
        Ok(LoginSuccess {
            user,
            session: Session::from_row(session_row, self.idle_secs()),
            token: new_token,
        })
    }

    /// Sets a user's password as an operator: the rules still apply, every
    /// session of the user ends and an outstanding reset token is void.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn set_password(
        &self,
        identifier: &Identifier,
        new_password: &Password,
        client: &ClientInfo,
    ) -> AuthResult<User> {
        let user = self
            .find_user(identifier)
            .await?
            .ok_or(AuthError::UnknownAccount)?;
        let nfc = check_new_password(
            new_password,
            self.config().password_min_length,
            &[user.username.as_deref(), user.email.as_deref()],
        )
        .map_err(AuthError::PasswordRejected)?;
        let new_hash = self.inner.hasher.hash(nfc).await?;
        let now = self.now();
        let throttle_key = self.account_throttle_key(&user.id);
        let set = self.event(event::PASSWORD_SET, Some(&user.id), client);
        let user_id = user.id.clone();
        let replaced = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    let replaced =
                        replace_password(conn, &user_id, None, &new_hash, now, &throttle_key)?;
                    if replaced {
                        EventRow::record(conn, &set)?;
                    }
                    Ok(replaced)
                })
            })
            .await?;
        if !replaced {
            // Deleted between the lookup and the write.
            return Err(AuthError::UnknownAccount);
        }
        log_event(event::PASSWORD_SET, Some(&user.id), client);
        Ok(user)
    }
}
