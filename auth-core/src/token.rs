//! Session and reset tokens: 32 bytes from the OS random source, base64url
//! without padding; only their SHA-256 is stored.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// Length of an encoded token: 32 bytes in unpadded base64url.
const ENCODED_LEN: usize = 43;

/// 32 bytes from the operating system's random source.
#[allow(
    clippy::expect_used,
    reason = "no token may be made without randomness; the source was proved at start"
)]
pub(crate) fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    // Start-up already proved the source works; a failure later means the OS
    // cannot give randomness at all, and no token may be made without it.
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes
}

/// A fresh random value (32 bytes, base64url): for nonces the HTTP layer
/// hands to browsers.
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes())
}

macro_rules! token_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// A new random token.
            pub(crate) fn generate() -> Self {
                $name(URL_SAFE_NO_PAD.encode(random_bytes()))
            }

            /// A token as a client presented it; `None` when it cannot be one of
            /// ours, so garbage never reaches the database.
            pub fn parse(presented: &str) -> Option<Self> {
                let plausible = presented.len() == ENCODED_LEN
                    && presented
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                plausible.then(|| $name(presented.to_owned()))
            }

            /// The token itself, to hand to the client.
            pub fn expose(&self) -> &str {
                &self.0
            }

            /// Hex SHA-256 of the token: what the database keeps.
            pub(crate) fn hash(&self) -> String {
                hex::encode(Sha256::digest(self.0.as_bytes()))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

token_type!(
    /// The secret of one login session (the cookie value).
    SessionToken
);
token_type!(
    /// A single-use password-reset token.
    ResetToken
);
token_type!(
    /// A single-use e-mail verification token (docs/contract/10-email.md).
    EmailToken
);
token_type!(
    /// The token between a right password and the second step (docs/contract/7-second-factor.md).
    MfaToken
);
token_type!(
    /// The id of a WebAuthn ceremony in progress (a passkey added, a sign-in).
    CeremonyToken
);
token_type!(
    /// An OAuth authorization code (docs/contract/8-openid-connect.md): 60 s, single use.
    AuthorizationCode
);
token_type!(
    /// An opaque OAuth access token (a bearer token for `/oauth/userinfo`).
    AccessToken
);
token_type!(
    /// An OAuth refresh token, rotated at every use.
    RefreshToken
);
token_type!(
    /// A confidential OIDC client's secret, shown once at registration.
    ClientSecret
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_url_safe_characters_and_differ() {
        let a = SessionToken::generate();
        let b = SessionToken::generate();
        assert_eq!(a.expose().len(), 43);
        assert_ne!(a, b);
        assert_eq!(SessionToken::parse(a.expose()), Some(a.clone()));
        assert_eq!(URL_SAFE_NO_PAD.decode(a.expose()).unwrap().len(), 32);
    }

    #[test]
    fn the_stored_hash_is_sha256_hex_of_the_token() {
        let token = ResetToken::parse("A".repeat(43).as_str()).unwrap();
        assert_eq!(
            token.hash(),
            hex::encode(Sha256::digest("A".repeat(43).as_bytes()))
        );
        assert_eq!(token.hash().len(), 64);
    }

    #[test]
    fn garbage_is_not_a_token() {
        for bad in [
            "",
            "short",
            &"A".repeat(44),
            &format!("{}=", "A".repeat(42)),
            &"é".repeat(43),
        ] {
            assert!(SessionToken::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn debug_hides_the_token() {
        assert_eq!(
            format!("{:?}", SessionToken::generate()),
            "SessionToken([redacted])"
        );
    }
}
