//! `Auth`: the one way to the accounts, sessions and resets.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;

use auth_db::{
    Claim, DatabaseUrl, DbConnection, DbError, DbPool, DbResult, EventRow, Liveness, NewUserRow,
    ResetTokenRow, SessionRow, ThrottleRow, UserLookup, UserRow,
};

use crate::account::{
    clean_profile_field, validate_email, validate_username, Authenticated, ClientInfo, Identifier,
    LoginSuccess, Registration, Session, User, MAX_FULL_NAME_CHARS, MAX_SEARCH_ENGINE_CHARS,
};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::error::{AuthError, AuthResult, IdentifierKind};
use crate::password::{check_new_password, normalize, PasswordHasher};
use crate::secret::{Password, SecretKey};
use crate::throttle::{delay_after, FORGET_AFTER_SECS};
use crate::token::{ResetToken, SessionToken};

/// Why an `Auth` could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// A setting is out of range; the message names it.
    #[error("{0}")]
    Config(String),
    /// A start-up task or thread failed; the message says which.
    #[error("{0}")]
    Start(String),
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Database(#[from] DbError),
}

/// The authentication service. Cheap to clone: every clone shares one pool,
/// one key and one hasher.
#[derive(Clone, Debug)]
pub struct Auth {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) pool: DbPool,
    pub(crate) config: Config,
    pub(crate) key: SecretKey,
    pub(crate) hasher: PasswordHasher,
    /// Verified against when the account does not exist, so that a wrong name
    /// costs the same time as a wrong password.
    pub(crate) dummy_hash: String,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) check_cache: crate::device::CheckCache,
    pub(crate) logins: LoginCounters,
    /// One permit per pooled connection: database work waits here, as a task,
    /// rather than as a blocking thread parked inside the pool.
    pub(crate) db_permits: tokio::sync::Semaphore,
    /// Whether short reads may run on the calling task's thread: true for
    /// SQLite, whose indexed read costs microseconds, false for PostgreSQL,
    /// where every statement is a network round trip.
    pub(crate) inline_reads: bool,
}

/// Password checks by outcome since start (logins, password changes and
/// device checks that needed a hash).
#[derive(Debug, Default)]
pub(crate) struct LoginCounters {
    succeeded: AtomicU64,
    failed: AtomicU64,
    throttled: AtomicU64,
}

/// Password checks by outcome since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoginCounts {
    /// Right password.
    pub succeeded: u64,
    /// Wrong password or unknown account.
    pub failed: u64,
    /// Refused during a delay, without a check.
    pub throttled: u64,
}

/// What a CSRF token is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsrfScope {
    /// A browser's pre-session nonce (the sign-up and login forms).
    PreSession,
    /// A session id (forms of a signed-in user).
    Session,
}

impl CsrfScope {
    fn label(self) -> &'static [u8] {
        match self {
            CsrfScope::PreSession => b"pre-session",
            CsrfScope::Session => b"session",
        }
    }
}

/// Kinds of audit event.
pub(crate) mod event {
    pub(crate) const USER_REGISTERED: &str = "user_registered";
    pub(crate) const LOGIN_SUCCEEDED: &str = "login_succeeded";
    pub(crate) const LOGIN_FAILED: &str = "login_failed";
    pub(crate) const LOGIN_LOCKED: &str = "login_locked";
    pub(crate) const LOGIN_THROTTLED: &str = "login_throttled";
    pub(crate) const SESSION_ENDED: &str = "session_ended";
    pub(crate) const RESET_REQUESTED: &str = "reset_requested";
    pub(crate) const PASSWORD_RESET: &str = "password_reset";
    pub(crate) const PASSWORD_CHANGED: &str = "password_changed";
    pub(crate) const PASSWORD_SET: &str = "password_set";
    pub(crate) const MACHINE_BOUND: &str = "machine_bound";
    pub(crate) const MACHINE_UNBOUND: &str = "machine_unbound";
    pub(crate) const USER_DELETED: &str = "user_deleted";
}

impl Auth {
    /// Opens the database at `database_url` (`sqlite://PATH` or `postgres://…`),
    /// applies pending migrations and prepares the hasher.
    pub async fn open(
        database_url: &str,
        key: SecretKey,
        config: Config,
    ) -> Result<Auth, OpenError> {
        Self::open_with_clock(database_url, key, config, Arc::new(SystemClock)).await
    }

    /// Like [`Auth::open`], reading the time from `clock` (tests move it by hand).
    pub async fn open_with_clock(
        database_url: &str,
        key: SecretKey,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Auth, OpenError> {
        config.validate().map_err(OpenError::Config)?;
        let url = DatabaseUrl::parse(database_url)?;
        let (pool_size, timeout) = (config.pool_size, config.database_timeout);
        let inline_reads = url.sqlite_path().is_some();
        let pool = tokio::task::spawn_blocking(move || -> DbResult<DbPool> {
            let pool = auth_db::open_pool(&url, pool_size, timeout)?;
            let applied = auth_db::run_migrations(&mut *pool.get()?)?;
            if applied > 0 {
                tracing::info!(applied, "database migrations applied");
            }
            Ok(pool)
        })
        .await
        .map_err(|e| OpenError::Start(format!("database start-up task failed: {e}")))??;
        let hasher = PasswordHasher::new(key.clone(), config.bcrypt_cost).map_err(|e| {
            OpenError::Start(format!("cannot start the password hashing threads: {e}"))
        })?;
        let dummy_password = hex::encode(crate::token::random_bytes());
        let dummy_hash = hasher
            .hash(dummy_password)
            .await
            .map_err(|e| OpenError::Start(e.to_string()))?;
        Ok(Auth {
            inner: Arc::new(Inner {
                pool,
                config,
                key,
                hasher,
                dummy_hash,
                clock,
                check_cache: Default::default(),
                logins: LoginCounters::default(),
                db_permits: tokio::sync::Semaphore::new(pool_size as usize),
                inline_reads,
            }),
        })
    }

    /// The settings this service runs with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Password hashes waiting for a CPU right now.
    pub fn hash_queue_length(&self) -> usize {
        self.inner.hasher.queue_length()
    }

    /// Password checks by outcome since start.
    pub fn login_counts(&self) -> LoginCounts {
        let counters = &self.inner.logins;
        LoginCounts {
            succeeded: counters.succeeded.load(Ordering::Relaxed),
            failed: counters.failed.load(Ordering::Relaxed),
            throttled: counters.throttled.load(Ordering::Relaxed),
        }
    }

    /// bcrypt computations done since start (a cache hit does none).
    pub fn hashes_done(&self) -> usize {
        self.inner.hasher.hashes_done()
    }

    /// Whether the database answers.
    pub async fn health(&self) -> bool {
        self.db(auth_db::ping).await.is_ok()
    }

    /// Creates an account (the Holberton `register_user`).
    pub async fn register_user(
        &self,
        registration: Registration,
        client: &ClientInfo,
    ) -> AuthResult<User> {
        let Registration {
            username,
            email,
            password,
            full_name,
            mothers_favorite_search_engine,
        } = registration;
        let username = username.filter(|u| !u.is_empty());
        let email = email.filter(|e| !e.is_empty());
        if username.is_none() && email.is_none() {
            return Err(AuthError::MissingIdentifier);
        }
        if let Some(username) = &username {
            validate_username(username)?;
        }
        if let Some(email) = &email {
            validate_email(email)?;
        }
        let full_name = clean_profile_field("full_name", full_name, MAX_FULL_NAME_CHARS)?;
        let search_engine = clean_profile_field(
            "mothers_favorite_search_engine",
            mothers_favorite_search_engine,
            MAX_SEARCH_ENGINE_CHARS,
        )?;
        let username_key = username.as_deref().map(str::to_lowercase);
        let email_key = email.as_deref().map(str::to_lowercase);

        let keys = (username_key.clone(), email_key.clone());
        if let Some(kind) = self
            .db(move |conn| taken_identifier(conn, &keys.0, &keys.1))
            .await?
        {
            return Err(AuthError::AlreadyRegistered(kind));
        }
        let nfc = check_new_password(
            &password,
            self.inner.config.password_min_length,
            &[username.as_deref(), email.as_deref()],
        )
        .map_err(AuthError::PasswordRejected)?;
        let password_hash = self.inner.hasher.hash(nfc).await?;

        let now = self.now();
        let id = uuid::Uuid::new_v4().to_string();
        let event = self.event(event::USER_REGISTERED, Some(&id), client);
        let inserted = self
            .db(move |conn| {
                let new = NewUserRow {
                    id: &id,
                    username: username.as_deref(),
                    username_key: username_key.as_deref(),
                    email: email.as_deref(),
                    email_key: email_key.as_deref(),
                    full_name: full_name.as_deref(),
                    mothers_favorite_search_engine: search_engine.as_deref(),
                    password_hash: &password_hash,
                    created_at: now,
                    updated_at: now,
                };
                match UserRow::add_user(conn, &new) {
                    Ok(row) => {
                        EventRow::record(conn, &event)?;
                        Ok(Ok(row))
                    }
                    // Another sign-up won the race for a name: say which one.
                    Err(e) if e.is_unique_violation() => {
                        let taken = taken_identifier(conn, &username_key, &email_key)?;
                        Ok(Err(taken.unwrap_or(IdentifierKind::Username)))
                    }
                    Err(e) => Err(e),
                }
            })
            .await?;
        let user = User::from(inserted.map_err(AuthError::AlreadyRegistered)?);
        log_event(event::USER_REGISTERED, Some(&user.id), client);
        Ok(user)
    }

    /// Checks a login, with the per-account throttle (the Holberton `valid_login`).
    pub async fn valid_login(
        &self,
        identifier: &Identifier,
        password: &Password,
        client: &ClientInfo,
    ) -> AuthResult<User> {
        self.check_password(identifier, password, client)
            .await
            .map(User::from)
    }

    /// `valid_login`, returning the row as it was when its hash was read (the
    /// device check caches its credential version).
    pub(crate) async fn check_password(
        &self,
        identifier: &Identifier,
        password: &Password,
        client: &ClientInfo,
    ) -> AuthResult<UserRow> {
        let now = self.now();
        let throttle_key = self.throttle_key(&identifier.key());
        let lookup_key = identifier.key();
        let lookup_kind = identifier.clone();
        let key = throttle_key.clone();
        let (claim, found) = self
            .db(move |conn| {
                let found = UserRow::find_user_by(conn, user_lookup(&lookup_kind, &lookup_key))?;
                let claim = ThrottleRow::claim_attempt(
                    conn,
                    &key,
                    now,
                    now - FORGET_AFTER_SECS,
                    delay_after,
                )?;
                Ok((claim, found))
            })
            .await?;
        let user_id = found.as_ref().map(|u| u.id.clone());
        let counted = match claim {
            Claim::Locked { until } => {
                self.inner.logins.throttled.fetch_add(1, Ordering::Relaxed);
                self.record_event(event::LOGIN_THROTTLED, user_id.as_deref(), client)
                    .await;
                return Err(AuthError::Throttled {
                    retry_after: Duration::from_secs((until - now) as u64),
                });
            }
            Claim::Counted(row) => row,
        };

        let stored = found.as_ref().map_or_else(
            || self.inner.dummy_hash.clone(),
            |u| u.password_hash.clone(),
        );
        let verification = self
            .inner
            .hasher
            .verify(normalize(password), stored)
            .await?;

        match found {
            Some(user) if verification.matches => {
                self.inner.logins.succeeded.fetch_add(1, Ordering::Relaxed);
                self.db(move |conn| ThrottleRow::clear(conn, &throttle_key))
                    .await?;
                if verification.needs_rehash {
                    self.upgrade_hash(&user, password).await;
                }
                Ok(user)
            }
            _ => {
                self.inner.logins.failed.fetch_add(1, Ordering::Relaxed);
                let locked = counted.locked_until > now;
                self.record_event(event::LOGIN_FAILED, user_id.as_deref(), client)
                    .await;
                if locked {
                    self.record_event(event::LOGIN_LOCKED, user_id.as_deref(), client)
                        .await;
                    tracing::warn!(
                        target: "authd::security",
                        event = event::LOGIN_LOCKED,
                        user_id = user_id.as_deref(),
                        failures = counted.failures,
                        delay_secs = counted.locked_until - now,
                        "login delayed after repeated failures"
                    );
                }
                Err(AuthError::InvalidCredentials)
            }
        }
    }

    /// Logs in: checks the password and opens a new session. A token presented
    /// with the login is ended, never reused.
    pub async fn login(
        &self,
        identifier: &Identifier,
        password: &Password,
        presented: Option<&str>,
        client: &ClientInfo,
    ) -> AuthResult<LoginSuccess> {
        let user = self.valid_login(identifier, password, client).await?;
        if let Some(old) = presented.and_then(SessionToken::parse) {
            let old_hash = old.hash();
            self.db(move |conn| SessionRow::delete_by_token_hash(conn, &old_hash))
                .await?;
        }
        let (session, token) = self.create_session(&user.id, client).await?;
        Ok(LoginSuccess {
            user,
            session,
            token,
        })
    }

    /// Opens a new session for an account (the Holberton `create_session`).
    pub async fn create_session(
        &self,
        user_id: &str,
        client: &ClientInfo,
    ) -> AuthResult<(Session, SessionToken)> {
        let row = self.new_session_row(user_id, client);
        let event = self.event(event::LOGIN_SUCCEEDED, Some(user_id), client);
        let stored = row.0.clone();
        self.db(move |conn| {
            SessionRow::create(conn, &stored)?;
            EventRow::record(conn, &event)
        })
        .await?;
        log_event(event::LOGIN_SUCCEEDED, Some(user_id), client);
        Ok((Session::from_row(row.0, self.idle_secs()), row.1))
    }

    /// The signed-in user of a session token (the Holberton
    /// `get_user_from_session_id`); `NotAuthenticated` unless the session lives.
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
            user: user.into(),
            session: Session::from_row(session, self.idle_secs()),
        })
    }

    /// Ends the session of a token (the Holberton `destroy_session`).
    pub async fn destroy_session(&self, token: &str, client: &ClientInfo) -> AuthResult<()> {
        let signed_in = self.get_user_from_session_id(token).await?;
        let event = self.event(event::SESSION_ENDED, Some(&signed_in.user.id), client);
        let session_id = signed_in.session.id.clone();
        self.db(move |conn| {
            SessionRow::delete_for_user(
                conn,
                &session_id,
                &event.user_id.clone().unwrap_or_default(),
            )?;
            EventRow::record(conn, &event)
        })
        .await?;
        log_event(event::SESSION_ENDED, Some(&signed_in.user.id), client);
        Ok(())
    }

    /// The live sessions of the token's user, newest first.
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
        let event = self.event(event::SESSION_ENDED, Some(&signed_in.user.id), client);
        let (session_id, user_id) = (session_id.to_owned(), signed_in.user.id.clone());
        let ended = self
            .db(move |conn| {
                let ended = SessionRow::delete_for_user(conn, &session_id, &user_id)?;
                if ended > 0 {
                    EventRow::record(conn, &event)?;
                }
                Ok(ended)
            })
            .await?;
        if ended == 0 {
            return Err(AuthError::NotFound);
        }
        log_event(event::SESSION_ENDED, Some(&signed_in.user.id), client);
        Ok(())
    }

    /// Makes a reset token for an account, voiding any earlier one (the
    /// Holberton `get_reset_password_token`). Delivering it is the caller's job.
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
        let event = self.event(event::RESET_REQUESTED, Some(&user.id), client);
        self.db(move |conn| {
            ResetTokenRow::replace(conn, &row)?;
            EventRow::record(conn, &event)
        })
        .await?;
        log_event(event::RESET_REQUESTED, Some(&user.id), client);
        Ok((user, token))
    }

    /// Sets a new password with a reset token (the Holberton `update_password`):
    /// the token is used up, every session of the user ends and the failed-login
    /// count is cleared. A password that breaks a rule leaves the token usable.
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
        let new_hash = self.inner.hasher.hash(nfc).await?;
        let event = self.event(event::PASSWORD_RESET, Some(&user.id), client);
        let throttle_keys = self.throttle_keys_of(&user);
        let (user_id, token_hash) = (user.id.clone(), token.hash());
        let used = self
            .db(move |conn| {
                auth_db::transaction(conn, |conn| {
                    if !ResetTokenRow::consume(conn, &user_id, &token_hash, now)? {
                        return Ok(false);
                    }
                    UserRow::set_password(conn, &user_id, &new_hash, now)?;
                    SessionRow::delete_all_for_user(conn, &user_id, None)?;
                    for key in &throttle_keys {
                        ThrottleRow::clear(conn, key)?;
                    }
                    EventRow::record(conn, &event)?;
                    Ok(true)
                })
            })
            .await?;
        if !used {
            return Err(AuthError::InvalidResetToken);
        }
        log_event(event::PASSWORD_RESET, Some(&user.id), client);
        Ok(user)
    }

    /// Changes the password of a signed-in user who knows the current one.
    /// Every session of the user ends, this one included; the returned session
    /// replaces it.
    pub async fn change_password(
        &self,
        token: &str,
        current_password: &Password,
        new_password: &Password,
        client: &ClientInfo,
    ) -> AuthResult<LoginSuccess> {
        let signed_in = self.get_user_from_session_id(token).await?;
        // By the kind of name the account has: `Any` would look the name up as
        // a username first, and an e-mail-only account's address may be
        // another account's username.
        let identifier = match signed_in.user.username.clone() {
            Some(username) => Identifier::Username(username),
            None => Identifier::Email(signed_in.user.email.clone().unwrap_or_default()),
        };
        // The same check as a login, throttle included, so a stolen session
        // cannot be used to guess the password faster.
        let user = self
            .valid_login(&identifier, current_password, client)
            .await?;
        if user.id != signed_in.user.id {
            return Err(AuthError::InvalidCredentials);
        }
        let nfc = check_new_password(
            new_password,
            self.inner.config.password_min_length,
            &[user.username.as_deref(), user.email.as_deref()],
        )
        .map_err(AuthError::PasswordRejected)?;
        let new_hash = self.inner.hasher.hash(nfc).await?;
        let now = self.now();
        let (session_row, new_token) = self.new_session_row(&user.id, client);
        let event = self.event(event::PASSWORD_CHANGED, Some(&user.id), client);
        let stored = session_row.clone();
        let user_id = user.id.clone();
        self.db(move |conn| {
            auth_db::transaction(conn, |conn| {
                UserRow::set_password(conn, &user_id, &new_hash, now)?;
                SessionRow::delete_all_for_user(conn, &user_id, None)?;
                // A reset token asked for before the change is void with the old password.
                ResetTokenRow::delete_for_user(conn, &user_id)?;
                SessionRow::create(conn, &stored)?;
                EventRow::record(conn, &event)
            })
        })
        .await?;
        log_event(event::PASSWORD_CHANGED, Some(&user.id), client);
        Ok(LoginSuccess {
            user,
            session: Session::from_row(session_row, self.idle_secs()),
            token: new_token,
        })
    }

    /// Finds an account.
    pub async fn find_user(&self, identifier: &Identifier) -> AuthResult<Option<User>> {
        let (kind, key) = (identifier.clone(), identifier.key());
        Ok(self
            .db(move |conn| UserRow::find_user_by(conn, user_lookup(&kind, &key)))
            .await?
            .map(User::from))
    }

    /// Deletes dead sessions, expired reset tokens and forgotten failure
    /// counts; returns how many rows went.
    pub async fn purge_expired(&self) -> AuthResult<usize> {
        let now = self.now();
        let live = self.liveness(now);
        self.db(move |conn| {
            Ok(SessionRow::purge_dead(conn, live)?
                + ResetTokenRow::purge_expired(conn, now)?
                + ThrottleRow::purge(conn, now - FORGET_AFTER_SECS)?)
        })
        .await
    }

    /// Counts audit events of one kind (for operators and tests).
    pub async fn count_events(&self, kind: &str) -> AuthResult<i64> {
        let kind = kind.to_owned();
        self.db(move |conn| EventRow::count_kind(conn, &kind)).await
    }

    /// A CSRF token for a form, bound to `binding`: the browser's pre-session
    /// nonce before login, the session id after. Only this deployment's key
    /// can make one.
    pub fn csrf_token(&self, scope: CsrfScope, binding: &str) -> String {
        URL_SAFE_NO_PAD.encode(
            self.inner
                .key
                .mac(&[b"csrf", scope.label(), binding.as_bytes()]),
        )
    }

    /// Checks a form's CSRF token in constant time.
    pub fn verify_csrf_token(&self, scope: CsrfScope, binding: &str, token: &str) -> bool {
        let expected = self.csrf_token(scope, binding);
        bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
    }

    // ----- helpers -----

    /// Runs blocking database work on tokio's blocking pool, at most one task
    /// per pooled connection at a time.
    pub(crate) async fn db<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> DbResult<T> + Send + 'static,
    ) -> AuthResult<T> {
        // Without the permit every waiting request would hold a blocking
        // thread of its own: 64 connections made 150 to 340 threads, and the
        // scheduling cost more than the queries.
        let permit = tokio::time::timeout(
            self.inner.config.database_timeout,
            self.inner.db_permits.acquire(),
        )
        .await;
        let Ok(Ok(_permit)) = permit else {
            tracing::warn!("no database connection became free in time");
            return Err(AuthError::Unavailable);
        };
        let pool = self.inner.pool.clone();
        let result = tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await
        .map_err(|e| AuthError::Internal(format!("database task failed: {e}")))?;
        result.map_err(log_db_error)
    }

    /// Runs a short read-only statement. On SQLite, with a connection idle in
    /// the pool, it runs right here: an indexed read in WAL mode takes a few
    /// microseconds and never waits for the writer, far less than handing it
    /// to another thread. Otherwise it goes the way of [`Auth::db`].
    pub(crate) async fn db_read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> DbResult<T> + Send + 'static,
    ) -> AuthResult<T> {
        if self.inner.inline_reads {
            if let Some(mut conn) = self.inner.pool.try_get() {
                return work(&mut conn).map_err(log_db_error);
            }
        }
        self.db(work).await
    }

    pub(crate) fn now(&self) -> i64 {
        self.inner.clock.now()
    }

    fn idle_secs(&self) -> i64 {
        self.inner.config.session_idle_timeout.as_secs() as i64
    }

    fn liveness(&self, now: i64) -> Liveness {
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

    fn new_session_row(&self, user_id: &str, client: &ClientInfo) -> (SessionRow, SessionToken) {
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
        };
        (row, token)
    }

    /// The throttle row key of an account name: a keyed hash, so the table
    /// holds no names (people type passwords into the name field).
    pub(crate) fn throttle_key(&self, lowercase_name: &str) -> String {
        hex::encode(
            self.inner
                .key
                .mac(&[b"login-throttle", lowercase_name.as_bytes()]),
        )
    }

    pub(crate) fn throttle_keys_of(&self, user: &User) -> Vec<String> {
        [user.username.as_deref(), user.email.as_deref()]
            .into_iter()
            .flatten()
            .map(|name| self.throttle_key(&name.to_lowercase()))
            .collect()
    }

    pub(crate) fn event(&self, kind: &str, user_id: Option<&str>, client: &ClientInfo) -> EventRow {
        EventRow {
            id: uuid::Uuid::new_v4().to_string(),
            occurred_at: self.now(),
            kind: kind.to_owned(),
            user_id: user_id.map(str::to_owned),
            client_addr: client.addr.map(|a| a.to_string()),
            request_id: client.request_id.clone(),
        }
    }

    pub(crate) async fn record_event(
        &self,
        kind: &str,
        user_id: Option<&str>,
        client: &ClientInfo,
    ) {
        let row = self.event(kind, user_id, client);
        log_event(kind, user_id, client);
        if let Err(error) = self.db(move |conn| EventRow::record(conn, &row)).await {
            tracing::warn!(%error, "could not record audit event");
        }
    }

    /// Rehashes a password whose stored hash has another cost; a failure only
    /// leaves the old hash in place.
    async fn upgrade_hash(&self, user: &UserRow, password: &Password) {
        let new_hash = match self.inner.hasher.hash(normalize(password)).await {
            Ok(hash) => hash,
            Err(error) => {
                tracing::warn!(%error, "could not rehash password");
                return;
            }
        };
        let (id, old_hash) = (user.id.clone(), user.password_hash.clone());
        match self
            .db(move |conn| UserRow::replace_hash(conn, &id, &old_hash, &new_hash))
            .await
        {
            Ok(_) => {
                tracing::info!(user_id = %user.id, cost = self.inner.config.bcrypt_cost, "password rehashed")
            }
            Err(error) => tracing::warn!(%error, "could not store rehashed password"),
        }
    }
}

/// Which identifier of the two is already taken, username first. A name
/// counts as taken in either field, so that a login field that accepts both
/// can never find two accounts.
fn taken_identifier(
    conn: &mut DbConnection,
    username_key: &Option<String>,
    email_key: &Option<String>,
) -> DbResult<Option<IdentifierKind>> {
    if let Some(key) = username_key {
        if UserRow::name_taken(conn, key)? {
            return Ok(Some(IdentifierKind::Username));
        }
    }
    if let Some(key) = email_key {
        if UserRow::name_taken(conn, key)? {
            return Ok(Some(IdentifierKind::Email));
        }
    }
    Ok(None)
}

fn user_lookup<'a>(identifier: &Identifier, key: &'a str) -> UserLookup<'a> {
    match identifier {
        Identifier::Username(_) => UserLookup::UsernameKey(key),
        Identifier::Email(_) => UserLookup::EmailKey(key),
        Identifier::Any(_) => UserLookup::UsernameOrEmailKey(key),
    }
}

/// One log line per security event; never a secret.
pub(crate) fn log_event(kind: &str, user_id: Option<&str>, client: &ClientInfo) {
    tracing::info!(
        target: "authd::security",
        event = kind,
        user_id,
        client = client.addr.map(|a| a.to_string()).as_deref(),
        "security event"
    );
}

/// Turns a database error into the service's, logging what the caller will not see.
fn log_db_error(error: DbError) -> AuthError {
    let error = AuthError::from(error);
    if let AuthError::Internal(detail) = &error {
        tracing::error!(error = %detail, "database error");
    }
    error
}
