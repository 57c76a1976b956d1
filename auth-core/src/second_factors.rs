//! Second factors (docs/contract/7-second-factor.md): an authenticator app (TOTP, RFC 6238),
//! single-use recovery codes, and the second step of a login.
//!
//! The TOTP secret is kept only sealed (ChaCha20-Poly1305 under a key derived
//! from the deployment's secret key, the account id as associated data), so
//! a copy of the database alone cannot mint codes. Recovery codes are kept as
//! keyed hashes. The second step is a token (`mfa_token`) that a right
//! password opens: hashed, five minutes, one success, and tied to the
//! credential version the password proved. Wrong codes count toward the
//! account's login throttle; only a completed login clears the count.

use std::fmt;

use auth_db::{
    DbConnection, DbResult, EventRow, MfaTokenRow, RecoveryCodeRow, SessionRow, TotpRow, UserRow,
};
use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::account::{ClientInfo, Identifier};
use crate::audit::{event, log_event};
use crate::error::{AuthError, AuthResult};
pub use crate::mfa_method::MfaMethod;
use crate::notices::NoticeEvent;
pub(crate) use crate::secret::unseal;
use crate::secret::{seal, Password, SealKey};
use crate::service::Auth;

/// Length of a TOTP step, in seconds (RFC 6238's default).
pub const TOTP_STEP_SECS: i64 = 30;
/// Digits of a TOTP code.
const TOTP_DIGITS: u32 = 6;
/// Steps of clock drift accepted either way.
const TOTP_DRIFT_STEPS: i64 = 1;
/// Bytes of a TOTP secret (160 bits, RFC 4226's recommendation for HMAC-SHA1).
const TOTP_SECRET_BYTES: usize = 20;
/// How long an `mfa_token` lives, in seconds.
pub const MFA_TOKEN_TTL_SECS: i64 = 300;
/// Recovery codes per account.
pub const RECOVERY_CODE_COUNT: usize = 10;
/// Random bytes of a recovery code: 80 bits, 16 base32 characters.
const RECOVERY_CODE_BYTES: usize = 10;
/// What the issuer of an authenticator-app entry is called.
const TOTP_ISSUER: &str = "authd";

/// A started authenticator-app enrolment: what the app needs. `Debug` hides it.
#[derive(Clone)]
pub struct TotpEnrolment {
    /// The shared secret in base32 (no padding), as apps take it typed in.
    pub secret: String,
    /// The `otpauth://totp/…` URI, as apps take it from a QR code.
    pub otpauth_uri: String,
}

impl fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpEnrolment([redacted])")
    }
}

/// Fresh recovery codes, shown once. `Debug` hides them.
#[derive(Clone)]
pub struct RecoveryCodes(pub Vec<String>);

impl fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecoveryCodes([{} redacted])", self.0.len())
    }
}

/// Which second factors an account has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FactorStatus {
    /// An authenticator app is enabled.
    pub totp: bool,
    /// An authenticator-app enrolment waits for its first code.
    pub totp_pending: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: i64,
    /// Passkeys.
    pub passkeys: i64,
}

impl FactorStatus {
    /// Whether a login needs a second step.
    pub fn any(&self) -> bool {
        self.totp || self.passkeys > 0
    }

    /// The methods the second step accepts.
    pub fn methods(&self) -> Vec<MfaMethod> {
        let mut methods = Vec::new();
        if self.totp {
            methods.push(MfaMethod::Totp);
            if self.recovery_codes_left > 0 {
                methods.push(MfaMethod::RecoveryCode);
            }
        }
        if self.passkeys > 0 {
            methods.push(MfaMethod::Passkey);
        }
        methods
    }
}

/// The TOTP code (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps from the
/// Unix epoch) of a secret at a Unix time.
pub fn totp_code(secret: &[u8], unix_secs: i64) -> String {
    hotp(secret, unix_secs.div_euclid(TOTP_STEP_SECS))
}

/// HOTP (RFC 4226) of one counter value, as six digits.
#[allow(
    clippy::expect_used,
    reason = "HMAC takes a key of any length: new_from_slice cannot fail"
)]
fn hotp(secret: &[u8], counter: i64) -> String {
    let mut mac =
        <Hmac<Sha1> as Mac>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    format!(
        "{:0width$}",
        binary % 10u32.pow(TOTP_DIGITS),
        width = TOTP_DIGITS as usize
    )
}

/// The step of `now` whose code this is, within one step of drift, if any.
pub(crate) fn matching_step(secret: &[u8], code: &str, now: i64) -> Option<i64> {
    let current = now.div_euclid(TOTP_STEP_SECS);
    // Every candidate is compared, in constant time, so the timing says
    // nothing about which step (if any) matched.
    let mut found = None;
    for step in (current - TOTP_DRIFT_STEPS)..=(current + TOTP_DRIFT_STEPS) {
        if bool::from(hotp(secret, step).as_bytes().ct_eq(code.as_bytes())) {
            found = Some(step);
        }
    }
    found
}

/// A code as typed, told apart: six digits are a TOTP code, 16 base32
/// characters a recovery code; spaces and dashes are ignored, case too.
pub(crate) enum Code {
    Totp(String),
    Recovery(String),
}

impl Code {
    pub(crate) fn parse(typed: &str) -> Option<Code> {
        let compact: String = typed
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if compact.len() == TOTP_DIGITS as usize && compact.bytes().all(|b| b.is_ascii_digit()) {
            return Some(Code::Totp(compact));
        }
        let upper = compact.to_ascii_uppercase();
        let recovery_len = BASE32_NOPAD.encode_len(RECOVERY_CODE_BYTES);
        (upper.len() == recovery_len && BASE32_NOPAD.decode(upper.as_bytes()).is_ok())
            .then_some(Code::Recovery(upper))
    }
}

/// The factors of an account as the database holds them.
pub(crate) fn factor_status(conn: &mut DbConnection, user_id: &str) -> DbResult<FactorStatus> {
    let totp = TotpRow::find(conn, user_id)?;
    Ok(FactorStatus {
        totp: totp.as_ref().is_some_and(|t| t.confirmed_at.is_some()),
        totp_pending: totp.as_ref().is_some_and(|t| t.confirmed_at.is_none()),
        recovery_codes_left: RecoveryCodeRow::count_for_user(conn, user_id)?,
        passkeys: auth_db::PasskeyRow::count_for_user(conn, user_id)?,
    })
}

/// Whether an account has a second factor: then a right password alone
/// (a device check, a password-only verification) must not clear the
/// throttle count, or knowing the password would buy more guesses at the code.
pub(crate) fn has_second_factor(conn: &mut DbConnection, user_id: &str) -> DbResult<bool> {
    Ok(factor_status(conn, user_id)?.any())
}

/// Removes the authenticator app and the recovery codes that stand in for
/// it, and voids the account's second steps.
fn remove_factors(conn: &mut DbConnection, user_id: &str) -> DbResult<usize> {
    let removed = TotpRow::delete(conn, user_id)?;
    RecoveryCodeRow::delete_for_user(conn, user_id)?;
    MfaTokenRow::delete_for_user(conn, user_id)?;
    Ok(removed)
}

impl Auth {
    pub(crate) fn seal_key(&self) -> SealKey {
        self.inner.key.mac(&[b"totp-secret-seal v1"])
    }

    /// The keyed hash of a recovery code (normalised) of an account.
    pub(crate) fn recovery_code_hash(&self, user_id: &str, code: &str) -> String {
        hex::encode(
            self.inner
                .key
                .mac(&[b"recovery-code", user_id.as_bytes(), code.as_bytes()]),
        )
    }

    /// Ten fresh codes (as shown) and their rows (as stored).
    fn new_recovery_codes(&self, user_id: &str, now: i64) -> (RecoveryCodes, Vec<RecoveryCodeRow>) {
        let mut shown = Vec::with_capacity(RECOVERY_CODE_COUNT);
        let mut rows = Vec::with_capacity(RECOVERY_CODE_COUNT);
        for _ in 0..RECOVERY_CODE_COUNT {
            let random = &crate::token::random_bytes()[..RECOVERY_CODE_BYTES];
            let code = BASE32_NOPAD.encode(random);
            rows.push(RecoveryCodeRow {
                code_hash: self.recovery_code_hash(user_id, &code),
                user_id: user_id.to_owned(),
                created_at: now,
            });
            let lower = code.to_ascii_lowercase();
            let groups: Vec<&str> = (0..lower.len())
                .step_by(4)
                .map(|i| &lower[i..(i + 4).min(lower.len())])
                .collect();
            shown.push(groups.join("-"));
        }
        (RecoveryCodes(shown), rows)
    }

    /// Which second factors an account has.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
    pub async fn second_factors(&self, user_id: &str) -> AuthResult<FactorStatus> {
        let user_id = user_id.to_owned();
        self.db(move |conn| factor_status(conn, &user_id)).await
    }

    /// Starts (or restarts) an authenticator-app enrolment for the signed-in
    /// user. Refused while one is already enabled: remove it first.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn begin_totp(&self, session_token: &str) -> AuthResult<TotpEnrolment> {
        let signed_in = self.get_user_from_session_id(session_token).await?;
        let mut secret = [0u8; TOTP_SECRET_BYTES];
        secret.copy_from_slice(&crate::token::random_bytes()[..TOTP_SECRET_BYTES]);
        let user_id = signed_in.user.id.clone();
        let row = TotpRow {
            secret_sealed: seal(&self.seal_key(), &user_id, &secret),
            user_id,
            created_at: self.now(),
            confirmed_at: None,
            last_step: i64::MIN,
        };
        let written = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    // Enrolments of one account take turns on its row: on
                    // PostgreSQL two at once would both delete nothing, and
                    // the second insert would find the first one's pending
                    // row and be told an app is already enabled.
                    UserRow::lock_credential_version(conn, &row.user_id)?;
                    TotpRow::upsert_pending(conn, &row)
                })
            })
            .await?;
        if written == 0 {
            return Err(AuthError::InvalidField {
                field: "totp",
                message: "an authenticator app is already enabled; remove it first".into(),
            });
        }
        let secret = BASE32_NOPAD.encode(&secret);
        let label = format!("{TOTP_ISSUER}:{}", signed_in.user.display_name());
        let encode = |text: &str| {
            percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC)
                .to_string()
        };
        let otpauth_uri = format!(
            "otpauth://totp/{}?secret={secret}&issuer={}&algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_STEP_SECS}",
            encode(&label),
            encode(TOTP_ISSUER),
        );
        Ok(TotpEnrolment {
            secret,
            otpauth_uri,
        })
    }

    /// Enables the pending authenticator app with its first code (which
    /// counts as used) and hands out ten recovery codes, shown once.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn confirm_totp(
        &self,
        session_token: &str,
        code: &str,
        client: &ClientInfo,
    ) -> AuthResult<RecoveryCodes> {
        let signed_in = self.get_user_from_session_id(session_token).await?;
        let Some(Code::Totp(code)) = Code::parse(code) else {
            return Err(AuthError::InvalidCode);
        };
        let (user_id, now, key) = (signed_in.user.id.clone(), self.now(), self.seal_key());
        let (codes, rows) = self.new_recovery_codes(&user_id, now);
        let added = self.event(event::MFA_FACTOR_ADDED, Some(&user_id), client);
        let confirmed = self
            .db(move |conn| {
                auth_db::write_transaction(conn, |conn| {
                    let Some(pending) = TotpRow::find(conn, &user_id)? else {
                        return Ok(false);
                    };
                    if pending.confirmed_at.is_some() {
                        return Ok(false);
                    }
                    let step = unseal(&key, &user_id, &pending.secret_sealed)
                        .and_then(|secret| matching_step(&secret, &code, now));
                    let Some(step) = step else {
                        return Ok(false);
                    };
                    if !TotpRow::confirm(conn, &user_id, step, now)? {
                        return Ok(false);
                    }
                    RecoveryCodeRow::replace_all(conn, &user_id, &rows)?;
                    EventRow::record(conn, &added)?;
                    Ok(true)
                })
            })
            .await?;
        if !confirmed {
            return Err(AuthError::InvalidCode);
        }
        log_event(event::MFA_FACTOR_ADDED, Some(&signed_in.user.id), client);
        let factor = "An authenticator app".to_owned();
        self.notify(&signed_in.user, NoticeEvent::FactorAdded { factor }, client);
        Ok(codes)
    }

    /// Removes the signed-in user's authenticator app (and with it the
    /// recovery codes, which only stand in for it), given the password.
    /// `NotFound` if there is none.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn remove_totp(
        &self,
        session_token: &str,
        password: &Password,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        let signed_in = self.get_user_from_session_id(session_token).await?;
        let reauthenticated = self.reauthenticate(session_token, password, client).await?;
        self.commit_audited_change(
            reauthenticated,
            event::MFA_FACTOR_REMOVED,
            client,
            |conn, user| Ok(remove_factors(conn, &user.id)? > 0),
        )
        .await?;
        let factor = "The authenticator app".to_owned();
        self.notify(
            &signed_in.user,
            NoticeEvent::FactorRemoved { factor },
            client,
        );
        Ok(())
    }

    /// Replaces every recovery code of the signed-in user, given the
    /// password. `NotFound` without an enabled authenticator app.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn replace_recovery_codes(
        &self,
        session_token: &str,
        password: &Password,
        client: &ClientInfo,
    ) -> AuthResult<RecoveryCodes> {
        let reauthenticated = self.reauthenticate(session_token, password, client).await?;
        let (codes, rows) = self.new_recovery_codes(&reauthenticated.signed_in.user.id, self.now());
        self.commit_audited_change(
            reauthenticated,
            event::RECOVERY_CODES_REPLACED,
            client,
            move |conn, user| {
                if !factor_status(conn, &user.id)?.totp {
                    return Ok(false);
                }
                RecoveryCodeRow::replace_all(conn, &user.id, &rows)?;
                Ok(true)
            },
        )
        .await?;
        Ok(codes)
    }

    /// Removes every second factor of a user, as an operator (a lost
    /// phone), and ends every session and OIDC grant of the user.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn mfa_reset(&self, identifier: &Identifier, client: &ClientInfo) -> AuthResult<()> {
        let user = self
            .find_user(identifier)
            .await?
            .ok_or(AuthError::UnknownAccount)?;
        let reset_event = self.event(event::MFA_RESET, Some(&user.id), client);
        let user_id = user.id.clone();
        self.db(move |conn| {
            auth_db::write_transaction(conn, |conn| {
                remove_factors(conn, &user_id)?;
                auth_db::PasskeyRow::delete_all_for_user(conn, &user_id)?;
                auth_db::CeremonyRow::delete_for_user(conn, &user_id)?;
                SessionRow::delete_all_for_user(conn, &user_id, None)?;
                auth_db::OidcGrantRow::delete_for_user(conn, &user_id)?;
                auth_db::AccessTokenRow::delete_for_user(conn, &user_id)?;
                EventRow::record(conn, &reset_event)
            })
        })
        .await?;
        log_event(event::MFA_RESET, Some(&user.id), client);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, the SHA1 rows (8 digits there; the last six
    /// here, which is what truncation to 6 digits gives).
    #[test]
    fn rfc_6238_sha1_vectors() {
        let secret = b"12345678901234567890";
        for (time, eight_digits) in [
            (59, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ] {
            assert_eq!(totp_code(secret, time), eight_digits[2..], "T = {time}");
        }
    }

    #[test]
    fn one_step_of_drift_either_way_and_no_more() {
        let secret = b"12345678901234567890";
        let now = 1_111_111_111;
        let step = now / TOTP_STEP_SECS;
        for drift in -1..=1 {
            let code = totp_code(secret, now + drift * TOTP_STEP_SECS);
            assert_eq!(matching_step(secret, &code, now), Some(step + drift));
        }
        for drift in [-2, 2] {
            let code = totp_code(secret, now + drift * TOTP_STEP_SECS);
            assert_eq!(matching_step(secret, &code, now), None);
        }
    }

    #[test]
    fn sealed_secrets_open_only_for_their_account_and_key() {
        let (key, other_key) = ([1u8; 32], [2u8; 32]);
        let sealed = seal(&key, "alice", b"secret bytes");
        assert!(!sealed.contains(&hex::encode(b"secret bytes")));
        assert_eq!(
            unseal(&key, "alice", &sealed).as_deref(),
            Some(&b"secret bytes"[..])
        );
        assert_eq!(unseal(&key, "bob", &sealed), None);
        assert_eq!(unseal(&other_key, "alice", &sealed), None);
        assert_ne!(
            sealed,
            seal(&key, "alice", b"secret bytes"),
            "a fresh nonce each time"
        );
    }

    #[test]
    fn codes_are_told_apart_by_shape() {
        assert!(matches!(Code::parse(" 123 456 "), Some(Code::Totp(c)) if c == "123456"));
        assert!(
            matches!(Code::parse("abcd-efgh-ijkl-mnop"), Some(Code::Recovery(c)) if c == "ABCDEFGHIJKLMNOP")
        );
        for bad in ["", "12345", "1234567", "abcd-efgh-ijkl-mno1", "١٢٣٤٥٦"] {
            assert!(Code::parse(bad).is_none(), "{bad:?}");
        }
    }
}
