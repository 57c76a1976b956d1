//! The password rules (NIST SP 800-63B-4) and the peppered bcrypt hash.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use tokio::sync::Semaphore;
use unicode_normalization::UnicodeNormalization;

use crate::error::AuthError;
use crate::secret::{Password, SecretKey};

/// Longest password accepted, in UTF-8 bytes after NFC.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// The scheme tag in front of every stored hash: bcrypt over
/// base64(HMAC-SHA256(secret key, NFC password)).
const SCHEME: &str = "hmac-sha256-bcrypt";

/// A rule that a proposed password breaks; each has a stable error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordRule {
    /// The password is empty.
    Empty,
    /// Fewer code points (after NFC) than the configured minimum.
    TooShort {
        /// The configured minimum.
        min: usize,
    },
    /// More than [`MAX_PASSWORD_BYTES`] bytes.
    TooLong,
    /// On the bundled list of commonly used passwords.
    TooCommon,
    /// Contains NUL or another control character.
    InvalidCharacters,
    /// Equal to the account's username or e-mail.
    MatchesIdentifier,
}

impl PasswordRule {
    /// The contract's error code.
    pub fn code(&self) -> &'static str {
        match self {
            PasswordRule::Empty => "password_empty",
            PasswordRule::TooShort { .. } => "password_too_short",
            PasswordRule::TooLong => "password_too_long",
            PasswordRule::TooCommon => "password_too_common",
            PasswordRule::InvalidCharacters => "password_invalid_characters",
            PasswordRule::MatchesIdentifier => "password_matches_identifier",
        }
    }

    /// A sentence for people.
    pub fn message(&self) -> String {
        match self {
            PasswordRule::Empty => "password must not be empty".into(),
            PasswordRule::TooShort { min } => {
                format!("password must be at least {min} characters long")
            }
            PasswordRule::TooLong => {
                format!("password must be at most {MAX_PASSWORD_BYTES} bytes long")
            }
            PasswordRule::TooCommon => {
                "password is too common; choose one that is harder to guess".into()
            }
            PasswordRule::InvalidCharacters => {
                "password must not contain control characters".into()
            }
            PasswordRule::MatchesIdentifier => {
                "password must not be the same as the username or e-mail".into()
            }
        }
    }
}

/// The NFC form of a password: what is measured, compared and hashed.
pub(crate) fn normalize(password: &Password) -> String {
    password.expose().nfc().collect()
}

/// Judges a new password by every rule; `identifiers` are the account's
/// username and e-mail. Returns the NFC form to hash.
pub(crate) fn check_new_password(
    password: &Password,
    min_length: usize,
    identifiers: &[Option<&str>],
) -> Result<String, PasswordRule> {
    let nfc = normalize(password);
    if nfc.is_empty() {
        return Err(PasswordRule::Empty);
    }
    if nfc.chars().any(char::is_control) {
        return Err(PasswordRule::InvalidCharacters);
    }
    if nfc.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordRule::TooLong);
    }
    if nfc.chars().count() < min_length {
        return Err(PasswordRule::TooShort { min: min_length });
    }
    let folded = nfc.to_lowercase();
    if is_common(&folded) {
        return Err(PasswordRule::TooCommon);
    }
    if identifiers
        .iter()
        .flatten()
        .any(|identifier| identifier.to_lowercase() == folded)
    {
        return Err(PasswordRule::MatchesIdentifier);
    }
    Ok(nfc)
}

/// Whether a (lowercased) password is on the bundled list.
fn is_common(folded: &str) -> bool {
    static LIST: OnceLock<Vec<&'static str>> = OnceLock::new();
    let list = LIST.get_or_init(|| {
        let mut words: Vec<&'static str> = include_str!("../data/common-passwords.txt")
            .lines()
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .collect();
        words.sort_unstable();
        words.dedup();
        words
    });
    list.binary_search(&folded).is_ok()
}

/// What verifying a password against a stored hash found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Verification {
    /// The password is right.
    pub matches: bool,
    /// The hash was made with another cost or scheme and should be remade.
    pub needs_rehash: bool,
}

/// Peppered bcrypt on tokio's blocking pool, at most one hash per CPU at a
/// time so that a storm of logins cannot take every thread.
#[derive(Debug)]
pub(crate) struct PasswordHasher {
    key: SecretKey,
    cost: u32,
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    hashes_done: AtomicUsize,
}

impl PasswordHasher {
    pub(crate) fn new(key: SecretKey, cost: u32) -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        PasswordHasher {
            key,
            cost,
            permits: Arc::new(Semaphore::new(cpus)),
            waiting: AtomicUsize::new(0),
            hashes_done: AtomicUsize::new(0),
        }
    }

    /// Hashes waiting for a free CPU right now.
    pub(crate) fn queue_length(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// bcrypt computations done since start.
    pub(crate) fn hashes_done(&self) -> usize {
        self.hashes_done.load(Ordering::Relaxed)
    }

    /// The bcrypt input: base64 of HMAC-SHA256(key, NFC password), 44 bytes, so
    /// every byte of a long password counts and the key is needed to crack it.
    fn prehash(&self, nfc_password: &str) -> String {
        STANDARD.encode(self.key.mac_raw(nfc_password.as_bytes()))
    }

    /// Hashes an NFC password for storage.
    pub(crate) async fn hash(&self, nfc_password: String) -> Result<String, AuthError> {
        let prehashed = self.prehash(&nfc_password);
        let cost = self.cost;
        let bcrypt_hash = self
            .run(move || bcrypt::hash(prehashed, cost))
            .await?
            .map_err(|e| AuthError::Internal(format!("bcrypt failed: {e}")))?;
        Ok(format!("{SCHEME}{bcrypt_hash}"))
    }

    /// Checks an NFC password against a stored hash. An unreadable stored hash
    /// never matches.
    pub(crate) async fn verify(
        &self,
        nfc_password: String,
        stored: String,
    ) -> Result<Verification, AuthError> {
        let Some(bcrypt_hash) = stored.strip_prefix(SCHEME).map(str::to_owned) else {
            tracing::error!("stored password hash has an unknown scheme");
            return Ok(Verification {
                matches: false,
                needs_rehash: false,
            });
        };
        let needs_rehash = stored_cost(&bcrypt_hash) != Some(self.cost);
        let prehashed = self.prehash(&nfc_password);
        let matches = self
            .run(move || bcrypt::verify(prehashed, &bcrypt_hash))
            .await?
            .unwrap_or(false);
        Ok(Verification {
            matches,
            needs_rehash,
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let permit = self.permits.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        let permit = permit.map_err(|_| AuthError::Internal("password hasher closed".into()))?;
        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| AuthError::Internal(format!("password hashing task failed: {e}")))?;
        self.hashes_done.fetch_add(1, Ordering::Relaxed);
        Ok(result)
    }
}

/// The cost of a bcrypt hash (`$2b$12$…` → 12).
fn stored_cost(bcrypt_hash: &str) -> Option<u32> {
    bcrypt_hash.split('$').nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(password: &str, min: usize) -> Result<String, PasswordRule> {
        check_new_password(
            &Password::new(password),
            min,
            &[Some("kvothe"), Some("kvothe@example.com")],
        )
    }

    #[test]
    fn each_rule_has_its_code() {
        assert_eq!(check("", 15).unwrap_err().code(), "password_empty");
        assert_eq!(check("null", 15).unwrap_err().code(), "password_too_short");
        assert_eq!(check("null", 4).unwrap_err().code(), "password_too_common");
        assert_eq!(
            check("Password1", 4).unwrap_err().code(),
            "password_too_common"
        );
        assert_eq!(
            check("a\0bcdefghijklmnopq", 4).unwrap_err().code(),
            "password_invalid_characters"
        );
        assert_eq!(
            check("tab\tinside-the-password", 4).unwrap_err().code(),
            "password_invalid_characters"
        );
        assert_eq!(
            check(&"x".repeat(1025), 15).unwrap_err().code(),
            "password_too_long"
        );
        assert_eq!(
            check("KVOTHE", 4).unwrap_err().code(),
            "password_matches_identifier"
        );
        assert_eq!(
            check("Kvothe@Example.com", 4).unwrap_err().code(),
            "password_matches_identifier"
        );
        assert!(check("correct horse battery staple", 15).is_ok());
    }

    #[test]
    fn length_is_counted_in_code_points_after_nfc() {
        // "é" as e + combining accent is two code points before NFC, one after.
        let decomposed = "e\u{301}".repeat(8);
        assert_eq!(
            check(&decomposed, 9).unwrap_err(),
            PasswordRule::TooShort { min: 9 }
        );
        assert_eq!(check(&decomposed, 8).unwrap(), "\u{e9}".repeat(8));
        // 1024 bytes of two-byte characters is accepted, one more byte is not.
        assert!(check(&"é".repeat(512), 15).is_ok());
        assert_eq!(
            check(&format!("{}a", "é".repeat(512)), 15).unwrap_err(),
            PasswordRule::TooLong
        );
    }

    #[test]
    fn the_stored_cost_is_read_back() {
        assert_eq!(stored_cost("$2b$04$abcdefghijklmnopqrstuv"), Some(4));
        assert_eq!(stored_cost("garbage"), None);
    }

    #[tokio::test]
    async fn hashes_are_peppered_and_self_describing() {
        let hasher = PasswordHasher::new(SecretKey::from_bytes([1; 32]), 4);
        let stored = hasher.hash("a password".into()).await.unwrap();
        assert!(stored.starts_with("hmac-sha256-bcrypt$2b$04$"), "{stored}");
        assert!(
            hasher
                .verify("a password".into(), stored.clone())
                .await
                .unwrap()
                .matches
        );
        assert!(
            !hasher
                .verify("a passworD".into(), stored.clone())
                .await
                .unwrap()
                .matches
        );
        let other_key = PasswordHasher::new(SecretKey::from_bytes([2; 32]), 4);
        assert!(
            !other_key
                .verify("a password".into(), stored.clone())
                .await
                .unwrap()
                .matches
        );
        let stronger = PasswordHasher::new(SecretKey::from_bytes([1; 32]), 5);
        let found = stronger.verify("a password".into(), stored).await.unwrap();
        assert!(found.matches && found.needs_rehash);
    }

    #[tokio::test]
    async fn bytes_after_the_72nd_still_count() {
        let hasher = PasswordHasher::new(SecretKey::from_bytes([3; 32]), 4);
        let long = "ü".repeat(40); // 80 bytes
        let stored = hasher.hash(long.clone()).await.unwrap();
        let differs_late = format!("{}ö", "ü".repeat(39));
        assert_eq!(long.as_bytes()[..72], differs_late.as_bytes()[..72]);
        assert!(!hasher.verify(differs_late, stored).await.unwrap().matches);
    }
}
