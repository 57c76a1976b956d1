//! Sessions: opening one at login, checking, listing and ending them.

use auth_db::{BreachedLoginRow, EventRow, Liveness, SessionRow};

use crate::account::{Authenticated, ClientInfo, Identifier, LoginSuccess, Session, User};
use crate::audit::{event, log_event};
use crate::error::{AuthError, AuthResult};
use crate::notices::{NoticeEvent, NEW_DEVICE_AFTER_SECS};
use crate::password_check::Claimant;
use crate::secret::Password;
use crate::service::Auth;
use crate::token::{MfaToken, SessionToken};

/// Where a right password leads at login.
enum LoginStep {
    /// `--require-verified-email`, and the address is not verified.
    Unverified,
    /// The account has a second factor.
    Second(Vec<crate::mfa_method::MfaMethod>),
    /// Signed in; `new_device`: its user agent had no session in 90 days.
    Done { new_device: bool },
}

impl Auth {
    /// Checks a login, with the per-account throttle (the Holberton `valid_login`).
    ///
    /// Opens no session: pair it with [`Auth::create_session`], or use
    /// [`Auth::login`], which does both and asks for the second step of an
    /// account with a second factor. Any wrong name or password is the one
    /// [`AuthError::InvalidCredentials`](crate::AuthError::InvalidCredentials),
    /// in the same time; repeated failures get
    /// [`AuthError::Throttled`](crate::AuthError::Throttled).
    ///
    /// ```
    /// # use auth_core::{Auth, ClientInfo, Config, Identifier, Password, Registration, SecretKey};
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let url = format!("sqlite://{}", dir.path().join("auth.db").display());
    /// # let auth = Auth::open(&url, SecretKey::generate(), Config { bcrypt_cost: 4, ..Config::default() }).await?;
    /// # let client = ClientInfo::default();
    /// # let password = Password::new("correct horse battery staple");
    /// # let registration = Registration { username: Some("kvothe".into()), password: password.clone(), ..Registration::default() };
    /// # let user = auth.register_user(registration, &client).await?;
    /// use auth_core::AuthError;
    ///
    /// let kvothe = Identifier::Username("Kvothe".into());
    /// let checked = auth.valid_login(&kvothe, &password, &client).await?;
    /// assert_eq!(checked.id, user.id);
    ///
    /// let wrong = Password::new("not the password at all");
    /// assert!(matches!(
    ///     auth.valid_login(&kvothe, &wrong, &client).await,
    ///     Err(AuthError::InvalidCredentials)
    /// ));
    /// # Ok(())
    /// # }
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn valid_login(
        &self,
        identifier: &Identifier,
        password: &Password,
        client: &ClientInfo,
    ) -> AuthResult<User> {
        let verified = self
            .check_password(Claimant::Name(identifier), password, client)
            .await?;
        let (_, user) = self
            .commit_verified_step(verified, None, client, |conn, user| {
                // Only a completed login clears the count of an account with
                // a second factor.
                Ok((
                    (),
                    !crate::second_factors::has_second_factor(conn, &user.id)?,
                ))
            })
            .await?;
        Ok(User::from_row(user))
    }

    /// Logs in: checks the password and opens a new session, only if the
    /// password is still the account's when the session is written. A token
    /// presented with the login is ended, never reused.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn login(
        &self,
        identifier: &Identifier,
        password: &Password,
        presented: Option<&str>,
        client: &ClientInfo,
    ) -> AuthResult<LoginSuccess> {
        let verified = self
            .check_password(Claimant::Name(identifier), password, client)
            .await?;
        // docs/contract/10-email.md: a right password from a breach list
        // signs in, and the account is flagged until the password changes.
        let breached = match &self.config().breached_passwords {
            crate::BreachedPasswords::Off => None,
            list => Some(
                list.is_breached(&crate::password_rules::normalize(password))
                    .await,
            ),
        };
        let require_verified = self.config().require_verified_email;
        let user_agent = client.user_agent.clone();
        let since = self.now() - NEW_DEVICE_AFTER_SECS;
        let (row, token) = self.new_session_row(&verified.user.id, client, "pwd");
        let succeeded = self.event(event::LOGIN_SUCCEEDED, Some(&verified.user.id), client);
        let old_hash = presented.and_then(SessionToken::parse).map(|t| t.hash());
        let stored = row.clone();
        let mfa_token = MfaToken::generate();
        let (mfa_hash, now) = (mfa_token.hash(), self.now());
        let (step, user) = self
            .commit_verified_step(verified, None, client, move |conn, user| {
                if require_verified && user.email.is_some() && user.email_verified_at.is_none() {
                    return Ok((LoginStep::Unverified, false));
                }
                // Without a list, a flag stays until the password changes.
                match breached {
                    Some(true) => BreachedLoginRow::flag(conn, &user.id, now)?,
                    Some(false) => {
                        BreachedLoginRow::clear(conn, &user.id)?;
                    }
                    None => {}
                }
                // An account with a second factor gets a second step, and its
                // failure count stays until the login completes.
                if let Some(methods) = Auth::open_second_step(conn, user, &mfa_hash, now)? {
                    return Ok((LoginStep::Second(methods), false));
                }
                let seen =
                    SessionRow::user_agent_seen(conn, &user.id, user_agent.as_deref(), since)?;
                if let Some(old_hash) = &old_hash {
                    SessionRow::delete_by_token_hash(conn, old_hash)?;
                }
                SessionRow::create(conn, &stored)?;
                EventRow::record(conn, &succeeded)?;
                Ok((LoginStep::Done { new_device: !seen }, true))
            })
            .await?;
        let new_device = match step {
            LoginStep::Unverified => {
                // The password was right: the owner gets a new link, so the
                // page can say where to find it.
                let user = User::from_row(user);
                if let Some(email) = user.email.clone() {
                    if let Err(error) = self.start_email_verification(&user, &email, client).await {
                        tracing::warn!(user_id = %user.id, %error, "e-mail verification link not made");
                    }
                }
                return Err(AuthError::EmailUnverified);
            }
            LoginStep::Second(methods) => {
                return Err(AuthError::MfaRequired { mfa_token, methods })
            }
            LoginStep::Done { new_device } => new_device,
        };
        log_event(event::LOGIN_SUCCEEDED, Some(&user.id), client);
        let user = User::from_row(user);
        if new_device {
            self.notify(&user, NoticeEvent::NewDevice, client);
        }
        Ok(LoginSuccess {
            user,
            session: Session::from_row(row, self.idle_secs()),
            token,
        })
    }

    /// Opens a new session for an account (the Holberton `create_session`).
    ///
    /// It checks nothing: call it after [`Auth::valid_login`] (or use
    /// [`Auth::login`]). The token is handed out once and only its hash is
    /// stored; [`Auth::get_user_from_session_id`] shows both in an example.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
    pub async fn create_session(
        &self,
        user_id: &str,
        client: &ClientInfo,
    ) -> AuthResult<(Session, SessionToken)> {
        let (row, token) = self.new_session_row(user_id, client, "pwd");
        let succeeded = self.event(event::LOGIN_SUCCEEDED, Some(user_id), client);
        let stored = row.clone();
        self.db(move |conn| {
            auth_db::write_transaction(conn, |conn| {
                SessionRow::create(conn, &stored)?;
                EventRow::record(conn, &succeeded)
            })
        })
        .await?;
        log_event(event::LOGIN_SUCCEEDED, Some(user_id), client);
        Ok((Session::from_row(row, self.idle_secs()), token))
    }

    /// The signed-in user of a session token (the Holberton
    /// `get_user_from_session_id`); `NotAuthenticated` unless the session lives.
    ///
    /// A session ends when it has been idle too long, grows too old, is
    /// destroyed, or its user's password changes.
    ///
    /// ```
    /// # use auth_core::{Auth, ClientInfo, Config, Identifier, Password, Registration, SecretKey};
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let url = format!("sqlite://{}", dir.path().join("auth.db").display());
    /// # let auth = Auth::open(&url, SecretKey::generate(), Config { bcrypt_cost: 4, ..Config::default() }).await?;
    /// # let client = ClientInfo::default();
    /// # let password = Password::new("correct horse battery staple");
    /// # let registration = Registration { username: Some("kvothe".into()), password: password.clone(), ..Registration::default() };
    /// # let user = auth.register_user(registration, &client).await?;
    /// use auth_core::AuthError;
    ///
    /// let (session, token) = auth.create_session(&user.id, &client).await?;
    /// // The token goes to the client (a cookie); only its hash is stored.
    /// let signed_in = auth.get_user_from_session_id(token.expose()).await?;
    /// assert_eq!((signed_in.user.id, signed_in.session.id), (user.id, session.id));
    ///
    /// auth.destroy_session(token.expose(), &client).await?;
    /// assert!(matches!(
    ///     auth.get_user_from_session_id(token.expose()).await,
    ///     Err(AuthError::NotAuthenticated)
    /// ));
    /// # Ok(())
    /// # }
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn get_user_from_session_id(&self, token: &str) -> AuthResult<Authenticated> {
        let token = SessionToken::parse(token).ok_or(AuthError::NotAuthenticated)?;
        let now = self.now();
        let live = self.liveness(now);
        let refresh = self.refresh_interval();
        let hash = token.hash();
        let found = self
            .db_read(move |conn| SessionRow::find_live_with_user(conn, &hash, live))
            .await?;
        let (mut session, user) = found.ok_or(AuthError::NotAuthenticated)?;
        if session.last_seen_at < now - refresh {
            // The write goes to the blocking pool: it may wait for the writer lock.
            let id = session.id.clone();
            self.db(move |conn| SessionRow::touch(conn, &id, now, now - refresh))
                .await?;
            session.last_seen_at = now;
        }
        Ok(Authenticated {
            user: User::from_row(user),
            session: Session::from_row(session, self.idle_secs()),
        })
    }

    /// Ends the session of a token (the Holberton `destroy_session`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn destroy_session(&self, token: &str, client: &ClientInfo) -> AuthResult<()> {
        let signed_in = self.get_user_from_session_id(token).await?;
        let session_id = signed_in.session.id.clone();
        match self.end_session_of(&signed_in, session_id, client).await {
            // Ended meanwhile by another request: it is over either way.
            Err(AuthError::NotFound) => Ok(()),
            other => other,
        }
    }

    /// The live sessions of the token's user, newest first.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn list_sessions(&self, token: &str) -> AuthResult<(Authenticated, Vec<Session>)> {
        let signed_in = self.get_user_from_session_id(token).await?;
        let live = self.liveness(self.now());
        let user_id = signed_in.user.id.clone();
        let rows = self
            .db(move |conn| SessionRow::list_live_for_user(conn, &user_id, live))
            .await?;
        let idle = self.idle_secs();
        Ok((
            signed_in,
            rows.into_iter()
                .map(|r| Session::from_row(r, idle))
                .collect(),
        ))
    }

    /// Ends one session of the token's user; `NotFound` if the user has no such session.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn end_session(
        &self,
        token: &str,
        session_id: &str,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        let signed_in = self.get_user_from_session_id(token).await?;
        if uuid::Uuid::parse_str(session_id).is_err() {
            return Err(AuthError::NotFound);
        }
        self.end_session_of(&signed_in, session_id.to_owned(), client)
            .await
    }

    /// Ends a session of the signed-in user and records it, in one
    /// transaction; `NotFound` if it was not theirs or has already ended.
    async fn end_session_of(
        &self,
        signed_in: &Authenticated,
        session_id: String,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        let ended_event = self.event(event::SESSION_ENDED, Some(&signed_in.user.id), client);
        let user_id = signed_in.user.id.clone();
        let ended = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    let ended = SessionRow::delete_for_user(conn, &session_id, &user_id)?;
                    if ended > 0 {
                        EventRow::record(conn, &ended_event)?;
                    }
                    Ok(ended)
                })
            })
            .await?;
        if ended == 0 {
            return Err(AuthError::NotFound);
        }
        log_event(event::SESSION_ENDED, Some(&signed_in.user.id), client);
        Ok(())
    }

    /// The idle timeout in seconds.
    pub(crate) fn idle_secs(&self) -> i64 {
        self.inner.config.session_idle_timeout.as_secs() as i64
    }

    /// What makes a session live at `now`.
    pub(crate) fn liveness(&self, now: i64) -> Liveness {
        Liveness {
            now,
            idle_cutoff: now - self.idle_secs(),
        }
    }

    /// How stale `last_seen_at` may get before a session check writes it: a
    /// minute, or less with short idle timeouts so a used session never looks idle.
    fn refresh_interval(&self) -> i64 {
        (self.idle_secs() / 4).min(60)
    }

    /// A new session row for an account and its token (not yet stored);
    /// `amr` names how it was signed in (RFC 8176 methods, space-separated),
    /// and decides `second_factor_at` too: a login whose methods include
    /// `mfa` (the second step, a passkey that verified its user) completed
    /// a second factor, which forward authentication's sites may require.
    pub(crate) fn new_session_row(
        &self,
        user_id: &str,
        client: &ClientInfo,
        amr: &str,
    ) -> (SessionRow, SessionToken) {
        let token = SessionToken::generate();
        let now = self.now();
        let row = SessionRow {
            id: uuid::Uuid::new_v4().to_string(),
            token_hash: token.hash(),
            user_id: user_id.to_owned(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + self.inner.config.session_max_age.as_secs() as i64,
            user_agent: client
                .user_agent
                .as_deref()
                .map(|ua| ua.chars().take(256).collect()),
            second_factor_at: completed_second_factor(amr).then_some(now),
            amr: Some(amr.to_owned()),
        };
        (row, token)
    }
}

/// Whether a login with these methods (RFC 8176, space-separated) completed
/// a second factor: they include `mfa`.
fn completed_second_factor(amr: &str) -> bool {
    amr.split(' ').any(|method| method == "mfa")
}
