//! The second step of a login, in one room: the token a right password
//! leaves, and its completion with an authenticator-app code, a recovery code
//! or a passkey, committed in one transaction with the throttle count and the
//! new session.

use auth_db::{
    DbConnection, DbResult, EventRow, MfaTokenRow, RecoveryCodeRow, SessionRow, ThrottleRow,
    TotpRow, UserRow,
};

use crate::account::{ClientInfo, LoginSuccess, Session};
use crate::audit::{event, log_event};
use crate::error::{AuthError, AuthResult};
use crate::mfa_method::MfaMethod;
use crate::passkeys::Assertion;
use crate::password_check::{record_failure, AttemptSlot, Claimant};
use crate::second_factors::{factor_status, matching_step, unseal, Code, MFA_TOKEN_TTL_SECS};
use crate::service::Auth;
use crate::token::{MfaToken, SessionToken};

/// What the second step found, inside its transaction.
enum SecondStep {
    /// The token is unknown, used, expired, or its password has changed.
    TokenVoid,
    /// The code is wrong or already used; the failure is counted.
    Wrong(ThrottleRow),
    /// Done: the session is written, with the method that passed, and
    /// whether its user agent had no session in 90 days (a new device).
    Passed(MfaMethod, bool),
}

impl Auth {
    /// The second step of a login with a passkey: the assertion of a
    /// ceremony started for this `mfa_token`. Success gives what a login
    /// gives; an assertion that does not verify, or whose counter does not
    /// move forward, is `InvalidCode` and counts toward the account's
    /// throttle as a wrong code does; a used or expired token or ceremony is
    /// `InvalidCode` too.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn complete_mfa_passkey(
        &self,
        mfa_token: &str,
        ceremony: &str,
        credential: &str,
        presented: Option<&str>,
        client: &ClientInfo,
    ) -> AuthResult<LoginSuccess> {
        let opened = self.open_pending_step(mfa_token, client).await?;
        let assertion = self
            .verify_second_step_passkey(
                &opened.token_hash,
                &opened.pending.user_id,
                ceremony,
                credential,
            )
            .await?;
        self.commit_second_step(opened, Proof::Passkey(assertion), presented, client)
            .await
    }

    /// Inside a login's commit: when the account has a second factor, stores
    /// a new second-step token for the credential version just proved and
    /// returns its methods; otherwise `None` and nothing is written.
    pub(crate) fn open_second_step(
        conn: &mut DbConnection,
        user: &UserRow,
        token_hash: &str,
        now: i64,
    ) -> DbResult<Option<Vec<MfaMethod>>> {
        let status = factor_status(conn, &user.id)?;
        if !status.any() {
            return Ok(None);
        }
        MfaTokenRow::create(
            conn,
            &MfaTokenRow {
                token_hash: token_hash.to_owned(),
                user_id: user.id.clone(),
                credential_version: user.credential_version,
                created_at: now,
                expires_at: now + MFA_TOKEN_TTL_SECS,
            },
        )?;
        Ok(Some(status.methods()))
    }

    /// The second step of a login: a TOTP or recovery code for the account
    /// of `mfa_token`. Success gives what a login gives; a wrong code is
    /// `InvalidCode` and counts toward the account's throttle (429 after);
    /// a used or expired token, or one whose password has changed since,
    /// is `InvalidCode`. A token presented as a session is ended.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn complete_mfa(
        &self,
        mfa_token: &str,
        code: &str,
        presented: Option<&str>,
        client: &ClientInfo,
    ) -> AuthResult<LoginSuccess> {
        let opened = self.open_pending_step(mfa_token, client).await?;
        let code = Code::parse(code);
        let recovery_hash = match &code {
            Some(Code::Recovery(typed)) => {
                Some(self.recovery_code_hash(&opened.pending.user_id, typed))
            }
            _ => None,
        };
        self.commit_second_step(
            opened,
            Proof::Code {
                code,
                recovery_hash,
            },
            presented,
            client,
        )
        .await
    }

    /// The methods a live second step accepts (what its page offers); empty
    /// for a used or expired token.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn second_step_methods(&self, mfa_token: &str) -> AuthResult<Vec<MfaMethod>> {
        let Some(token) = MfaToken::parse(mfa_token) else {
            return Ok(Vec::new());
        };
        let (hash, now) = (token.hash(), self.now());
        self.db(move |conn| {
            Ok(match MfaTokenRow::find_live(conn, &hash, now)? {
                Some(live) => factor_status(conn, &live.user_id)?.methods(),
                None => Vec::new(),
            })
        })
        .await
    }

    /// The first half of a second step: the live token and a throttle slot
    /// for its account (429 while a delay holds).
    pub(crate) async fn open_pending_step(
        &self,
        mfa_token: &str,
        client: &ClientInfo,
    ) -> AuthResult<PendingStep> {
        let token = MfaToken::parse(mfa_token).ok_or(AuthError::InvalidCode)?;
        let token_hash = token.hash();
        let now = self.now();
        let lookup = token_hash.clone();
        let pending = self
            .db(move |conn| MfaTokenRow::find_live(conn, &lookup, now))
            .await?
            .ok_or(AuthError::InvalidCode)?;
        let (found, slot) = self
            .take_slot(&Claimant::Account(&pending.user_id), client)
            .await?;
        let Some(found) = found else {
            return Err(AuthError::InvalidCode);
        };
        Ok(PendingStep {
            token_hash,
            pending,
            user: found,
            slot,
        })
    }

    /// The second half: checks the proof, in one transaction with the token
    /// (still live, still for the credential version the password proved),
    /// the throttle count and the new session. A wrong proof is counted.
    pub(crate) async fn commit_second_step(
        &self,
        opened: PendingStep,
        proof: Proof,
        presented: Option<&str>,
        client: &ClientInfo,
    ) -> AuthResult<LoginSuccess> {
        let PendingStep {
            token_hash,
            pending,
            user: found,
            mut slot,
        } = opened;
        let (now, now_ms, key) = (self.now(), self.now_ms(), self.seal_key());
        let user_id = pending.user_id.clone();
        let amr = match proof {
            Proof::Code { .. } => "pwd otp mfa",
            Proof::Passkey(_) => "pwd hwk mfa",
        };
        let (session, session_token) = self.new_session_row(&user_id, client, amr);
        let old_hash = presented.and_then(SessionToken::parse).map(|t| t.hash());
        let user_agent = client.user_agent.clone();
        let since = now - crate::notices::NEW_DEVICE_AFTER_SECS;
        let failed_kind = match proof {
            Proof::Code { .. } => event::MFA_CODE_FAILED,
            Proof::Passkey(_) => event::PASSKEY_FAILED,
        };
        let events = (
            self.event(failed_kind, Some(&user_id), client),
            self.event(event::MFA_FACTOR_USED, Some(&user_id), client),
            self.event(event::RECOVERY_CODE_USED, Some(&user_id), client),
            self.event(event::PASSKEY_USED, Some(&user_id), client),
            self.event(event::LOGIN_SUCCEEDED, Some(&user_id), client),
            self.event(event::LOGIN_LOCKED, Some(&user_id), client),
        );
        let (attempt_id, throttle_key) = (slot.id.clone(), slot.throttle_key.clone());
        let stored = session.clone();
        let outcome = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    let (failed, used, recovery_used, passkey_used, succeeded, locked) = events;
                    // The row lock first, as every commit of a password
                    // decision: a concurrent change is committed by now.
                    let current = UserRow::lock_credential_version(conn, &user_id)?;
                    let live = MfaTokenRow::find_live(conn, &token_hash, now)?;
                    let Some(live) = live.filter(|t| Some(t.credential_version) == current) else {
                        auth_db::AttemptRow::release(conn, &attempt_id)?;
                        return Ok(SecondStep::TokenVoid);
                    };
                    let passed = match &proof {
                        Proof::Code {
                            code: Some(Code::Totp(typed)),
                            ..
                        } => {
                            let totp = TotpRow::find(conn, &live.user_id)?
                                .filter(|t| t.confirmed_at.is_some());
                            let step = totp
                                .and_then(|t| unseal(&key, &live.user_id, &t.secret_sealed))
                                .and_then(|secret| matching_step(&secret, typed, now));
                            match step {
                                Some(step) if TotpRow::use_step(conn, &live.user_id, step)? => {
                                    Some(MfaMethod::Totp)
                                }
                                _ => None,
                            }
                        }
                        Proof::Code {
                            code: Some(Code::Recovery(_)),
                            recovery_hash,
                        } => {
                            let hash = recovery_hash.as_deref().unwrap_or_default();
                            RecoveryCodeRow::consume(conn, &live.user_id, hash)?
                                .then_some(MfaMethod::RecoveryCode)
                        }
                        Proof::Code { code: None, .. } | Proof::Passkey(None) => None,
                        Proof::Passkey(Some(assertion)) => (assertion.user_id == live.user_id
                            && crate::passkeys::accept(conn, assertion, now)?)
                        .then_some(MfaMethod::Passkey),
                    };
                    let Some(method) = passed else {
                        let counted = record_failure(conn, &throttle_key, &attempt_id, now_ms)?;
                        EventRow::record(conn, &failed)?;
                        if counted.locked_until_ms > now_ms {
                            EventRow::record(conn, &locked)?;
                        }
                        return Ok(SecondStep::Wrong(counted));
                    };
                    if !MfaTokenRow::consume(conn, &token_hash, now)? {
                        auth_db::AttemptRow::release(conn, &attempt_id)?;
                        return Ok(SecondStep::TokenVoid);
                    }
                    ThrottleRow::clear(conn, &throttle_key)?;
                    auth_db::AttemptRow::release(conn, &attempt_id)?;
                    let seen = SessionRow::user_agent_seen(
                        conn,
                        &live.user_id,
                        user_agent.as_deref(),
                        since,
                    )?;
                    if let Some(old_hash) = &old_hash {
                        SessionRow::delete_by_token_hash(conn, old_hash)?;
                    }
                    SessionRow::create(conn, &stored)?;
                    EventRow::record(
                        conn,
                        &match method {
                            MfaMethod::Totp => used,
                            MfaMethod::RecoveryCode => recovery_used,
                            MfaMethod::Passkey => passkey_used,
                        },
                    )?;
                    EventRow::record(conn, &succeeded)?;
                    Ok(SecondStep::Passed(method, !seen))
                })
            })
            .await;
        slot.settled = outcome.is_ok();
        let outcome = outcome?;
        self.inner.slot_freed.notify_waiters();
        match outcome {
            SecondStep::TokenVoid => Err(AuthError::InvalidCode),
            SecondStep::Wrong(counted) => {
                log_event(failed_kind, Some(&pending.user_id), client);
                self.log_failure(&counted, Some(&pending.user_id), client, now_ms);
                Err(AuthError::InvalidCode)
            }
            SecondStep::Passed(method, new_device) => {
                log_event(
                    match method {
                        MfaMethod::Totp => event::MFA_FACTOR_USED,
                        MfaMethod::RecoveryCode => event::RECOVERY_CODE_USED,
                        MfaMethod::Passkey => event::PASSKEY_USED,
                    },
                    Some(&pending.user_id),
                    client,
                );
                log_event(event::LOGIN_SUCCEEDED, Some(&pending.user_id), client);
                let user = crate::account::User::from_row(found);
                // docs/contract/10-email.md: the second step is where such a
                // login signs in, so it is where a new device is told.
                if new_device {
                    self.notify(&user, crate::notices::NoticeEvent::NewDevice, client);
                }
                Ok(LoginSuccess {
                    user,
                    session: Session::from_row(session, self.idle_secs()),
                    token: session_token,
                })
            }
        }
    }
}

/// A second step opened by its token, holding a throttle slot.
pub(crate) struct PendingStep {
    /// Hex SHA-256 of the `mfa_token`.
    pub(crate) token_hash: String,
    /// The token's row as read before the step.
    pub(crate) pending: MfaTokenRow,
    /// The account.
    pub(crate) user: UserRow,
    pub(crate) slot: AttemptSlot,
}

/// What a second step offers as proof.
pub(crate) enum Proof {
    /// A typed code, told apart by shape (`None`: neither shape).
    Code {
        code: Option<Code>,
        recovery_hash: Option<String>,
    },
    /// A passkey assertion, verified (`None`: it did not verify).
    Passkey(Option<Assertion>),
}
