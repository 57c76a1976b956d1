//! Values that must never reach a log: passwords, tokens and the server key.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A password as typed; its `Debug` prints `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Password(password.into())
    }

    /// The password itself, for checking and hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Password {
    fn from(value: String) -> Self {
        Password(value)
    }
}

impl From<&str> for Password {
    fn from(value: &str) -> Self {
        Password(value.to_owned())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// The deployment's 32-byte secret: the password pepper and the key of every
/// keyed hash the server makes. Its `Debug` prints `[redacted]`.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

/// Why a secret key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SecretKeyError {
    /// The key file could not be read or created.
    #[error("secret key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The reason.
        source: io::Error,
    },
    /// The key is not 32 bytes (raw, or 64 hex digits).
    #[error("secret key {0} is not 32 bytes (raw, or 64 hex digits)")]
    BadLength(String),
}

impl SecretKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SecretKey(bytes)
    }

    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        SecretKey(crate::token::random_bytes())
    }

    /// A key from 64 hex digits (as `AUTHD_SECRET_KEY` gives it).
    pub fn from_hex(hex_digits: &str) -> Result<Self, SecretKeyError> {
        let bytes = hex::decode(hex_digits.trim())
            .map_err(|_| SecretKeyError::BadLength("given in hex".into()))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| SecretKeyError::BadLength("given in hex".into()))?;
        Ok(SecretKey(bytes))
    }

    /// Reads the key file; `None` when it does not exist.
    pub fn load(path: &Path) -> Result<Option<Self>, SecretKeyError> {
        match fs::read(path) {
            Ok(contents) => Self::from_file_contents(&contents)
                .map(Some)
                .ok_or_else(|| SecretKeyError::BadLength(format!("in {}", path.display()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(SecretKeyError::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Reads the key file, or creates it with 32 random bytes and mode 0600 when
    /// it does not exist. Returns the key and whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), SecretKeyError> {
        let io_error = |source| SecretKeyError::Io {
            path: path.display().to_string(),
            source,
        };
        match fs::read(path) {
            Ok(contents) => Self::from_file_contents(&contents)
                .map(|key| (key, false))
                .ok_or_else(|| SecretKeyError::BadLength(format!("in {}", path.display()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Written whole to a file of our own, then linked into place:
                // a server starting beside this one reads a whole key or none.
                let key = Self::generate();
                let staging = path.with_file_name(format!(
                    ".{}.{}",
                    path.file_name()
                        .map_or_else(|| "authd.key".into(), |n| n.to_string_lossy()),
                    hex::encode(&crate::token::random_bytes()[..8])
                ));
                let mut options = OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    options.mode(0o600);
                }
                let written = options.open(&staging).and_then(|mut file| {
                    file.write_all(&key.0)?;
                    file.sync_all()
                });
                let linked = written.and_then(|()| fs::hard_link(&staging, path));
                let _ = fs::remove_file(&staging);
                match linked {
                    Ok(()) => Ok((key, true)),
                    // Another server of the deployment created it first: use theirs.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        Self::load_or_create(path)
                    }
                    Err(e) => Err(io_error(e)),
                }
            }
            Err(e) => Err(io_error(e)),
        }
    }

    fn from_file_contents(contents: &[u8]) -> Option<Self> {
        if let Ok(bytes) = <[u8; 32]>::try_from(contents) {
            return Some(SecretKey(bytes));
        }
        let text = std::str::from_utf8(contents).ok()?;
        Self::from_hex(text).ok()
    }

    /// HMAC-SHA256 of the parts under this key, each part length-prefixed so
    /// that ("ab", "c") and ("a", "bc") differ.
    #[allow(
        clippy::expect_used,
        reason = "HMAC takes a key of any length: new_from_slice cannot fail"
    )]
    pub(crate) fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// HMAC-SHA256 of one message under this key, with no framing.
    #[allow(
        clippy::expect_used,
        reason = "HMAC takes a key of any length: new_from_slice cannot fail"
    )]
    pub(crate) fn mac_raw(&self, message: &[u8]) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(message);
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

/// A key that seals secrets at rest (TOTP secrets, OIDC signing keys):
/// derived from the deployment's secret key under a label of its own, so it
/// serves nothing else.
pub(crate) type SealKey = [u8; 32];

#[allow(
    clippy::expect_used,
    reason = "no secret may be sealed without randomness; ChaCha20-Poly1305 takes any message this short"
)]
pub(crate) fn seal(key: &SealKey, aad: &str, secret: &[u8]) -> String {
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).expect("the operating system's random source failed");
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: secret,
                aad: aad.as_bytes(),
            },
        )
        .expect("ChaCha20-Poly1305 seals any message this short");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    hex::encode(out)
}

/// The secret of a sealed value; `None` if it was not sealed for this
/// associated data (an account id, a key id) under this key (a row copied
/// from another account or deployment).
pub(crate) fn unseal(key: &SealKey, aad: &str, sealed: &str) -> Option<Vec<u8>> {
    let bytes = hex::decode(sealed).ok()?;
    if bytes.len() < 12 {
        return None;
    }
    let (nonce, ciphertext) = bytes.split_at(12);
    ChaCha20Poly1305::new(Key::from_slice(key))
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: aad.as_bytes(),
            },
        )
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_secrets() {
        assert_eq!(
            format!("{:?}", Password::new("hunter2")),
            "Password([redacted])"
        );
        assert_eq!(
            format!("{:?}", SecretKey::from_bytes([7; 32])),
            "SecretKey([redacted])"
        );
    }

    #[test]
    fn key_file_is_created_once_with_mode_0600_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("authd.key");
        let (first, created) = SecretKey::load_or_create(&path).unwrap();
        assert!(created);
        let (second, created_again) = SecretKey::load_or_create(&path).unwrap();
        assert!(!created_again);
        assert_eq!(first.0, second.0);
        assert_eq!(fs::read(&path).unwrap().len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn key_file_of_the_wrong_size_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("authd.key");
        fs::write(&path, b"short").unwrap();
        assert!(matches!(
            SecretKey::load_or_create(&path),
            Err(SecretKeyError::BadLength(_))
        ));
    }

    #[test]
    fn hex_keys_must_be_64_digits() {
        assert!(SecretKey::from_hex(&"ab".repeat(32)).is_ok());
        assert!(SecretKey::from_hex("abcd").is_err());
        assert!(SecretKey::from_hex(&"zz".repeat(32)).is_err());
    }
}
