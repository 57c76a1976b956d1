//! The password check behind the per-account throttle, failures that
//! take the same time whatever was wrong, and the commit of whatever a right
//! password decides (a session, a device check, a password change) only if
//! that password is still the account's.
//!
//! The throttle (docs/contract/3-json-api.md) counts failures per account (an unknown name has a
//! count of its own that behaves the same), in the database so that every
//! server sees it. A password check takes a slot first: at most as many checks
//! run at once as failures are still free before the next delay, so parallel
//! guesses cannot outrun the count. A check that finds every slot taken waits
//! for one instead of being refused, so right passwords in parallel all get
//! through; only a running delay refuses an attempt.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use auth_db::{
    DbConnection, DbResult, EventRow, SlotClaim, SlotRequest, ThrottleRow, UserLookup, UserRow,
};

use crate::account::{Authenticated, ClientInfo, Identifier};
use crate::audit::{event, log_event};
use crate::error::{AuthError, AuthResult};
use crate::password_rules::normalize;
use crate::secret::Password;
use crate::service::{user_lookup, Auth};
use crate::throttle::{delay_after, FORGET_AFTER_SECS, FREE_FAILURES};

/// How long an attempt's slot stays taken if its server never frees it
/// (it died mid-check): longer than any check takes.
const SLOT_LEASE_MS: i64 = 60_000;
/// How often an attempt waiting for a slot looks again, in case a slot was
/// freed by another server (this server's own frees wake it at once).
const SLOT_POLL: Duration = Duration::from_millis(100);
/// The longest an attempt waits for a slot before the service says it is
/// too busy (503).
const SLOT_WAIT_MAX: Duration = Duration::from_secs(30);

/// Which account a password check is for.
pub(crate) enum Claimant<'a> {
    /// A name a client typed.
    Name(&'a Identifier),
    /// A signed-in user, by account id and session id: the check is
    /// refused (`NotAuthenticated`) once that session has ended.
    Session {
        /// The account's id.
        user_id: &'a str,
        /// The session's id.
        session_id: &'a str,
    },
    /// An account by id, for a second step after a right password.
    Account(&'a str),
}

/// A password found right, whose decision is not committed yet: it holds its
/// throttle slot until [`Auth::commit_verified`] settles it, or frees the
/// slot when dropped.
pub(crate) struct VerifiedPassword {
    /// The account as it was read before the check: its credential version is
    /// the one the check proved.
    pub(crate) user: UserRow,
    slot: AttemptSlot,
    /// The password again, when its stored hash should be remade at the
    /// configured cost.
    rehash: Option<Password>,
}

/// One attempt's slot in `login_attempts`.
pub(crate) struct AttemptSlot {
    auth: Auth,
    pub(crate) id: String,
    pub(crate) throttle_key: String,
    pub(crate) settled: bool,
}

impl Drop for AttemptSlot {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        // The request went away mid-check (or failed): free the slot now
        // rather than at the end of its lease.
        let (auth, id) = (self.auth.clone(), std::mem::take(&mut self.id));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = auth
                    .db(move |conn| auth_db::AttemptRow::release(conn, &id))
                    .await
                {
                    tracing::warn!(%error, "could not free a login attempt slot");
                }
                auth.inner.slot_freed.notify_waiters();
            });
        }
    }
}

/// What committing a verified password found.
enum Committed<T> {
    /// The decision is written.
    Done(T),
    /// The password changed since it was read: the check counts as failed.
    Stale(ThrottleRow),
    /// The session the decision needed has ended meanwhile.
    SessionGone,
}

impl Auth {
    /// The throttle key of an account: a keyed hash of its id, so every name
    /// of the account shares one count.
    pub(crate) fn account_throttle_key(&self, user_id: &str) -> String {
        hex::encode(
            self.inner
                .key
                .mac(&[b"login-throttle-account", user_id.as_bytes()]),
        )
    }

    /// Checks a password behind the throttle. A right one comes back still
    /// holding its slot, for [`Auth::commit_verified`]; a wrong one is
    /// counted and answered no sooner than a check at the configured cost
    /// takes.
    pub(crate) async fn check_password(
        &self,
        claimant: Claimant<'_>,
        password: &Password,
        client: &ClientInfo,
    ) -> AuthResult<VerifiedPassword> {
        let (found, slot) = self.take_slot(&claimant, client).await?;
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
            // A disabled account fails as a wrong password does, after the
            // same work (docs/contract/11-access-tokens-and-admin-api.md).
            Some(user) if verification.matches && user.disabled_at.is_none() => {
                Ok(VerifiedPassword {
                    user,
                    slot,
                    rehash: verification.needs_rehash.then(|| password.clone()),
                })
            }
            found => {
                // Unknown name, wrong password, a hash made at another cost:
                // each failure takes at least as long as a check at the
                // configured cost, so its timing tells none of them apart.
                let floor = self.inner.hasher.typical_compute();
                if let Some(rest) = floor.checked_sub(verification.compute) {
                    tokio::time::sleep(rest).await;
                }
                let user_id = found.map(|u| u.id);
                self.count_failure(slot, user_id.as_deref(), client).await?;
                Err(AuthError::InvalidCredentials)
            }
        }
    }

    /// Finds the account and takes an attempt slot for it, waiting while
    /// every slot is taken; refuses while a delay holds.
    pub(crate) async fn take_slot(
        &self,
        claimant: &Claimant<'_>,
        client: &ClientInfo,
    ) -> AuthResult<(Option<UserRow>, AttemptSlot)> {
        let (lookup_key, by_id) = match claimant {
            Claimant::Name(identifier) => (identifier.key(), None),
            Claimant::Session {
                user_id,
                session_id,
            } => (
                String::new(),
                Some(((*user_id).to_owned(), Some((*session_id).to_owned()))),
            ),
            Claimant::Account(user_id) => (String::new(), Some(((*user_id).to_owned(), None))),
        };
        let kind = match claimant {
            Claimant::Name(identifier) => Some((*identifier).clone()),
            Claimant::Session { .. } | Claimant::Account(_) => None,
        };
        let unknown_name_key = self.name_throttle_key(&lookup_key);
        let waiting_since = Instant::now();
        loop {
            let attempt_id = uuid::Uuid::new_v4().to_string();
            let now_ms = self.now_ms();
            // Registered before the claim, so a slot freed between the claim
            // and the wait still wakes this attempt.
            let freed = self.inner.slot_freed.notified();
            let (auth, kind, by_id, lookup_key, unknown_name_key, id) = (
                self.clone(),
                kind.clone(),
                by_id.clone(),
                lookup_key.clone(),
                unknown_name_key.clone(),
                attempt_id.clone(),
            );
            let claimed = self
                .db(move |conn| {
                    auth_db::write_transaction(conn, |conn| {
                        let found = match (&kind, &by_id) {
                            (Some(identifier), _) => {
                                UserRow::find_user_by(conn, user_lookup(identifier, &lookup_key))?
                            }
                            (None, Some((user_id, session_id))) => {
                                let found = UserRow::find_user_by(conn, UserLookup::Id(user_id))?;
                                // Read after the account: a password change that
                                // ended the session is seen here whenever the
                                // account was read after it.
                                if let Some(session_id) = session_id {
                                    if !auth_db::SessionRow::exists(conn, session_id)? {
                                        return Ok(None);
                                    }
                                }
                                found
                            }
                            (None, None) => None,
                        };
                        let throttle_key = found
                            .as_ref()
                            .map_or(unknown_name_key, |u| auth.account_throttle_key(&u.id));
                        let claim = ThrottleRow::claim_slot(
                            conn,
                            SlotRequest {
                                account_key: &throttle_key,
                                attempt_id: &id,
                                now_ms,
                                forget_before_ms: now_ms - FORGET_AFTER_SECS * 1000,
                                lease_until_ms: now_ms + SLOT_LEASE_MS,
                                free_failures: FREE_FAILURES,
                            },
                        )?;
                        Ok(Some((found, throttle_key, claim)))
                    })
                })
                .await?;
            let Some((found, throttle_key, claim)) = claimed else {
                return Err(AuthError::NotAuthenticated);
            };
            match claim {
                SlotClaim::Granted => {
                    let slot = AttemptSlot {
                        auth: self.clone(),
                        id: attempt_id,
                        throttle_key,
                        settled: false,
                    };
                    return Ok((found, slot));
                }
                SlotClaim::Locked { until_ms } => {
                    self.inner.logins.throttled.fetch_add(1, Ordering::Relaxed);
                    let user_id = found.map(|u| u.id);
                    self.record_event(event::LOGIN_THROTTLED, user_id.as_deref(), client)
                        .await;
                    let wait_ms = u64::try_from(until_ms - now_ms).unwrap_or(0);
                    return Err(AuthError::Throttled {
                        retry_after: Duration::from_millis(wait_ms),
                    });
                }
                SlotClaim::Busy => {
                    if waiting_since.elapsed() > SLOT_WAIT_MAX {
                        tracing::warn!("a login waited too long for its turn");
                        return Err(AuthError::Unavailable);
                    }
                    let _ = tokio::time::timeout(SLOT_POLL, freed).await;
                }
            }
        }
    }

    /// The throttle key of a name that belongs to no account.
    fn name_throttle_key(&self, name_key: &str) -> String {
        hex::encode(
            self.inner
                .key
                .mac(&[b"login-throttle", name_key.as_bytes()]),
        )
    }

    /// Counts a failed check: frees its slot, adds the failure (maybe
    /// starting a delay) and records it, in one transaction.
    async fn count_failure(
        &self,
        mut slot: AttemptSlot,
        user_id: Option<&str>,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        self.inner.logins.failed.fetch_add(1, Ordering::Relaxed);
        let now_ms = self.now_ms();
        let failed = self.event(event::LOGIN_FAILED, user_id, client);
        let locked = self.event(event::LOGIN_LOCKED, user_id, client);
        let (key, id) = (slot.throttle_key.clone(), slot.id.clone());
        let counted = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    let counted = record_failure(conn, &key, &id, now_ms)?;
                    EventRow::record(conn, &failed)?;
                    if counted.locked_until_ms > now_ms {
                        EventRow::record(conn, &locked)?;
                    }
                    Ok(counted)
                })
            })
            .await?;
        slot.settled = true;
        self.inner.slot_freed.notify_waiters();
        self.log_failure(&counted, user_id, client, now_ms);
        Ok(())
    }

    pub(crate) fn log_failure(
        &self,
        counted: &ThrottleRow,
        user_id: Option<&str>,
        client: &ClientInfo,
        now_ms: i64,
    ) {
        log_event(event::LOGIN_FAILED, user_id, client);
        if counted.locked_until_ms > now_ms {
            log_event(event::LOGIN_LOCKED, user_id, client);
            tracing::warn!(
                target: "authd::security",
                event = event::LOGIN_LOCKED,
                user_id,
                failures = counted.failures,
                delay_ms = counted.locked_until_ms - now_ms,
                "login delayed after repeated failures"
            );
        }
    }

    /// Commits what a right password decides, in one transaction that first
    /// confirms the password is still the account's (its credential version
    /// unchanged, the row locked until the commit) and, with `session_id`,
    /// that this session still lives. Then the throttle count is cleared, the
    /// slot freed and `write` runs. A password changed meanwhile makes the
    /// check a failure (`InvalidCredentials`); a session ended meanwhile
    /// makes it `NotAuthenticated`.
    pub(crate) async fn commit_verified<T: Send + 'static>(
        &self,
        verified: VerifiedPassword,
        session_id: Option<String>,
        client: &ClientInfo,
        write: impl FnOnce(&mut DbConnection, &UserRow) -> DbResult<T> + Send + 'static,
    ) -> AuthResult<(T, UserRow)> {
        self.commit_verified_step(verified, session_id, client, move |conn, row| {
            Ok((write(conn, row)?, true))
        })
        .await
    }

    /// [`Auth::commit_verified`], where `write` also says whether the
    /// password completed the login (clearing the throttle count) or only
    /// opened a second step (the count stays: a right password alone never
    /// buys more guesses at the code).
    pub(crate) async fn commit_verified_step<T: Send + 'static>(
        &self,
        verified: VerifiedPassword,
        session_id: Option<String>,
        client: &ClientInfo,
        write: impl FnOnce(&mut DbConnection, &UserRow) -> DbResult<(T, bool)> + Send + 'static,
    ) -> AuthResult<(T, UserRow)> {
        let VerifiedPassword {
            user,
            mut slot,
            rehash,
        } = verified;
        let now_ms = self.now_ms();
        let failed = self.event(event::LOGIN_FAILED, Some(&user.id), client);
        let (key, id, row) = (slot.throttle_key.clone(), slot.id.clone(), user.clone());
        let committed = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    // The row lock first: whatever a concurrent change did
                    // is committed by the time the reads below run.
                    let current = UserRow::lock_credential_version(conn, &row.id)?;
                    if let Some(session_id) = &session_id {
                        if !auth_db::SessionRow::exists(conn, session_id)? {
                            auth_db::AttemptRow::release(conn, &id)?;
                            return Ok(Committed::SessionGone);
                        }
                    }
                    if current != Some(row.credential_version) {
                        let counted = record_failure(conn, &key, &id, now_ms)?;
                        EventRow::record(conn, &failed)?;
                        return Ok(Committed::Stale(counted));
                    }
                    auth_db::AttemptRow::release(conn, &id)?;
                    let (value, completed) = write(conn, &row)?;
                    if completed {
                        ThrottleRow::clear(conn, &key)?;
                    }
                    Ok(Committed::Done(value))
                })
            })
            .await?;
        slot.settled = true;
        self.inner.slot_freed.notify_waiters();
        match committed {
            Committed::Done(value) => {
                self.inner.logins.succeeded.fetch_add(1, Ordering::Relaxed);
                if let Some(password) = rehash {
                    self.upgrade_hash(&user, &password).await;
                }
                Ok((value, user))
            }
            Committed::Stale(counted) => {
                self.inner.logins.failed.fetch_add(1, Ordering::Relaxed);
                self.log_failure(&counted, Some(&user.id), client, now_ms);
                Err(AuthError::InvalidCredentials)
            }
            Committed::SessionGone => Err(AuthError::NotAuthenticated),
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

/// A signed-in user who has just typed their password again: the session,
/// and the password found right but not committed yet (see
/// [`Auth::reauthenticate`]).
pub(crate) struct Reauthenticated {
    /// The session the request came with.
    pub(crate) signed_in: Authenticated,
    /// The password check, holding its throttle slot.
    pub(crate) verified: VerifiedPassword,
}

impl Auth {
    /// The first half of every change a signed-in user makes with their
    /// password (turning off the app, new recovery codes, adding or
    /// removing a passkey): the session must be live, and the password is
    /// checked as a login checks it, throttle included, so a stolen session
    /// cannot guess it faster. Commit what it decides with
    /// [`Auth::commit_verified`] or [`Auth::commit_audited_change`].
    pub(crate) async fn reauthenticate(
        &self,
        session_token: &str,
        password: &Password,
        client: &ClientInfo,
    ) -> AuthResult<Reauthenticated> {
        let signed_in = self.get_user_from_session_id(session_token).await?;
        let claimant = Claimant::Session {
            user_id: &signed_in.user.id,
            session_id: &signed_in.session.id,
        };
        let verified = self.check_password(claimant, password, client).await?;
        Ok(Reauthenticated {
            signed_in,
            verified,
        })
    }

    /// Commits a change decided on a re-entered password: `change` runs in
    /// the transaction that checks the session and the credential version
    /// are still the ones the password proved, the audit row of `kind` is
    /// written beside it when it changed something, and the security log
    /// line follows. `NotFound` when `change` found nothing to change.
    pub(crate) async fn commit_audited_change(
        &self,
        reauthenticated: Reauthenticated,
        kind: &'static str,
        client: &ClientInfo,
        change: impl FnOnce(&mut DbConnection, &UserRow) -> DbResult<bool> + Send + 'static,
    ) -> AuthResult<()> {
        let Reauthenticated {
            signed_in,
            verified,
        } = reauthenticated;
        let audit_row = self.event(kind, Some(&signed_in.user.id), client);
        let (changed, _) = self
            .commit_verified(
                verified,
                Some(signed_in.session.id.clone()),
                client,
                move |conn, user| {
                    let changed = change(conn, user)?;
                    if changed {
                        EventRow::record(conn, &audit_row)?;
                    }
                    Ok(changed)
                },
            )
            .await?;
        if !changed {
            return Err(AuthError::NotFound);
        }
        log_event(kind, Some(&signed_in.user.id), client);
        Ok(())
    }
}

/// Adds one failure to a key's count, with the delay the count asks for.
pub(crate) fn record_failure(
    conn: &mut DbConnection,
    throttle_key: &str,
    attempt_id: &str,
    now_ms: i64,
) -> DbResult<ThrottleRow> {
    ThrottleRow::record_failure(conn, throttle_key, attempt_id, now_ms, |failures| {
        delay_after(failures) * 1000
    })
}
