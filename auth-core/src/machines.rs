//! The device check: a user's first verified check binds their machine for
//! good, and later checks must come from it. Also the operator's command that
//! frees a machine.

use std::sync::atomic::Ordering;

use auth_db::{EventRow, MachineRow, ThrottleRow, UserRow};

use crate::account::{ClientInfo, Identifier, User};
use crate::audit::{event, log_event};
use crate::check_cache::CachedCheck;
pub use crate::check_cache::CHECK_CACHE_SECS;
use crate::error::{AuthError, AuthResult};
use crate::password_check::Claimant;
use crate::password_rules::normalize;
use crate::secret::Password;
use crate::service::Auth;

/// Shortest and longest machine ID.
pub const MACHINE_ID_CHARS: std::ops::RangeInclusive<usize> = 16..=128;

/// What a successful device check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MachineOutcome {
    /// The machine was free and the user had none: it is now theirs, for good.
    Bound,
    /// The user's own machine.
    Known,
}

/// A successful device check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineCheck {
    /// The username as registered.
    pub username: String,
    /// Bound now, or known.
    pub outcome: MachineOutcome,
}

/// Where a user and a machine stand.
enum Binding {
    Known,
    Bound,
    Mismatch,
    Taken,
}

impl Auth {
    /// The device check (docs/contract/5-device-check.md): the password must be right, then the
    /// machine must be the user's own, or be free while the user has none (it
    /// is then bound to them for good). A wrong password counts toward the
    /// login throttle; a refused machine does not (the password was right).
    ///
    /// A verified triple is remembered for [`CHECK_CACHE_SECS`]; a hit costs no
    /// bcrypt hash but still confirms in the database that the user's
    /// credential version and binding are unchanged, so a password change or an
    /// unbind on any server takes effect at once.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn check_machine(
        &self,
        username: &str,
        password: &Password,
        machine_id: &str,
        client: &ClientInfo,
    ) -> AuthResult<MachineCheck> {
        if !valid_machine_id(machine_id) {
            return Err(AuthError::InvalidField {
                field: "machine_id",
                message: "must be 16 to 128 characters of A-Z a-z 0-9 - _ .".into(),
            });
        }
        let identifier = Identifier::Username(username.to_owned());
        let cache_key = self.inner.key.mac(&[
            b"check-cache",
            identifier.key().as_bytes(),
            normalize(password).as_bytes(),
            machine_id.as_bytes(),
        ]);
        let now = self.now();
        if let Some(cached) = self.inner.check_cache.get(&cache_key, now) {
            if let Some(check) = self.confirm_cached(&cached).await? {
                self.inner.check_cache.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(check);
            }
            self.inner.check_cache.forget(&cache_key);
        }

        let verified = self
            .check_password(Claimant::Name(&identifier), password, client)
            .await?;
        let machine = machine_id.to_owned();
        let bound_event = self.event(event::MACHINE_BOUND, Some(&verified.user.id), client);
        // Bound only if the password is still the account's when the binding is written.
        let (binding, user) = self
            .commit_verified_step(verified, None, client, move |conn, user| {
                let binding = bind_or_check(conn, &user.id, &machine, now)?;
                if matches!(binding, Binding::Bound) {
                    EventRow::record(conn, &bound_event)?;
                }
                let completed = !crate::second_factors::has_second_factor(conn, &user.id)?;
                Ok((binding, completed))
            })
            .await?;
        let outcome = match binding {
            Binding::Known => MachineOutcome::Known,
            Binding::Bound => {
                log_event(event::MACHINE_BOUND, Some(&user.id), client);
                MachineOutcome::Bound
            }
            Binding::Mismatch => return Err(AuthError::MachineMismatch),
            Binding::Taken => return Err(AuthError::MachineTaken),
        };
        let username = user.username.clone().unwrap_or_default();
        self.inner.check_cache.put(
            cache_key,
            CachedCheck {
                user_id: user.id,
                username: username.clone(),
                credential_version: user.credential_version,
                machine_id: machine_id.to_owned(),
                verified_at: now,
            },
        );
        Ok(MachineCheck { username, outcome })
    }

    /// Device checks answered from the cache since start.
    pub fn check_cache_hits(&self) -> u64 {
        self.inner.check_cache.hits.load(Ordering::Relaxed)
    }

    /// A cached triple still holds if the credential and the binding are
    /// unchanged in the database; a running login delay is still honoured.
    async fn confirm_cached(&self, cached: &CachedCheck) -> AuthResult<Option<MachineCheck>> {
        let throttle_key = self.account_throttle_key(&cached.user_id);
        let user_id = cached.user_id.clone();
        let (version, binding, throttle) = self
            .db_read(move |conn| {
                Ok((
                    UserRow::credential_version(conn, &user_id)?,
                    MachineRow::find_by_user(conn, &user_id)?,
                    ThrottleRow::find(conn, &throttle_key)?,
                ))
            })
            .await?;
        let now_ms = self.now_ms();
        if let Some(t) = throttle.filter(|t| t.locked_until_ms > now_ms) {
            let wait_ms = u64::try_from(t.locked_until_ms - now_ms).unwrap_or(0);
            return Err(AuthError::Throttled {
                retry_after: std::time::Duration::from_millis(wait_ms),
            });
        }
        let unchanged = version == Some(cached.credential_version)
            && binding.is_some_and(|b| b.machine_id == cached.machine_id);
        Ok(unchanged.then(|| MachineCheck {
            username: cached.username.clone(),
            outcome: MachineOutcome::Known,
        }))
    }

    /// Frees a user's machine so they can bind a new one; the old machine is
    /// free again. Returns whether the user had one.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn unbind_machine(
        &self,
        identifier: &Identifier,
        client: &ClientInfo,
    ) -> AuthResult<bool> {
        let user = self
            .find_user(identifier)
            .await?
            .ok_or(AuthError::UnknownAccount)?;
        let unbound_event = self.event(event::MACHINE_UNBOUND, Some(&user.id), client);
        let user_id = user.id.clone();
        let unbound = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    let unbound = MachineRow::unbind_user(conn, &user_id)?;
                    if unbound > 0 {
                        EventRow::record(conn, &unbound_event)?;
                    }
                    Ok(unbound > 0)
                })
            })
            .await?;
        if unbound {
            log_event(event::MACHINE_UNBOUND, Some(&user.id), client);
        }
        Ok(unbound)
    }

    /// The machine a user is bound to, if any.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn machine_of(&self, user: &User) -> AuthResult<Option<String>> {
        let user_id = user.id.clone();
        Ok(self
            .db(move |conn| MachineRow::find_by_user(conn, &user_id))
            .await?
            .map(|m| m.machine_id))
    }
}

/// Whether a machine ID is 16–128 characters of `A-Z a-z 0-9 - _ .`.
pub fn valid_machine_id(machine_id: &str) -> bool {
    MACHINE_ID_CHARS.contains(&machine_id.len())
        && machine_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Decides the binding; a new binding is one insert whose unique constraints
/// settle a race (two users on one machine, or one user on two machines).
fn bind_or_check(
    conn: &mut auth_db::DbConnection,
    user_id: &str,
    machine_id: &str,
    now: i64,
) -> auth_db::DbResult<Binding> {
    let standing = |conn: &mut auth_db::DbConnection| -> auth_db::DbResult<Option<Binding>> {
        if let Some(mine) = MachineRow::find_by_user(conn, user_id)? {
            return Ok(Some(if mine.machine_id == machine_id {
                Binding::Known
            } else {
                Binding::Mismatch
            }));
        }
        Ok(MachineRow::find_by_machine(conn, machine_id)?.map(|_| Binding::Taken))
    };
    if let Some(binding) = standing(conn)? {
        return Ok(binding);
    }
    let row = MachineRow {
        machine_id: machine_id.to_owned(),
        user_id: user_id.to_owned(),
        bound_at: now,
    };
    // In a savepoint of its own: on PostgreSQL a failed statement would
    // otherwise abort the whole transaction it runs in.
    match auth_db::transaction(conn, |conn| MachineRow::bind(conn, &row)) {
        Ok(()) => Ok(Binding::Bound),
        // Someone else's insert won: the constraints say how things now stand.
        Err(e) if e.is_unique_violation() => Ok(standing(conn)?.unwrap_or(Binding::Taken)),
        Err(e) => Err(e),
    }
}
