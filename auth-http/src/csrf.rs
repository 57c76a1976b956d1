//! The CSRF tokens of the web forms: a MAC under the deployment's secret key
//! (through [`auth_core::Auth::keyed_mac`], purpose `csrf`) of what the form
//! is bound to, so that any server of the deployment accepts a token another
//! one made, and no page of another site can make one.

use auth_core::Auth;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;

/// What a CSRF token is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CsrfScope {
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

/// A CSRF token for a form, bound to `binding`: the browser's pre-session
/// nonce before login, the session id after.
pub(crate) fn token(auth: &Auth, scope: CsrfScope, binding: &str) -> String {
    URL_SAFE_NO_PAD.encode(auth.keyed_mac("csrf", &[scope.label(), binding.as_bytes()]))
}

/// Checks a form's CSRF token in constant time.
pub(crate) fn verify(auth: &Auth, scope: CsrfScope, binding: &str, token: &str) -> bool {
    let expected = self::token(auth, scope, binding);
    bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_token_holds_only_for_its_scope_binding_and_key() {
        let dir = tempfile::TempDir::new().unwrap();
        let url = format!("sqlite://{}", dir.path().join("auth.db").display());
        let config = auth_core::Config {
            bcrypt_cost: 4,
            ..auth_core::Config::default()
        };
        let key = auth_core::SecretKey::generate();
        let auth = Auth::open(&url, key.clone(), config.clone()).await.unwrap();
        let made = token(&auth, CsrfScope::Session, "s1");
        assert!(verify(&auth, CsrfScope::Session, "s1", &made));
        assert!(!verify(&auth, CsrfScope::PreSession, "s1", &made));
        assert!(!verify(&auth, CsrfScope::Session, "s2", &made));
        assert!(!verify(
            &auth,
            CsrfScope::Session,
            "s1",
            &made[..made.len() - 1]
        ));
        assert!(!verify(&auth, CsrfScope::Session, "s1", ""));
        // Another server of the deployment (the same key) accepts it; a
        // server with another key does not.
        let twin = Auth::open(&url, key, config.clone()).await.unwrap();
        assert!(verify(&twin, CsrfScope::Session, "s1", &made));
        let other_dir = tempfile::TempDir::new().unwrap();
        let other_url = format!("sqlite://{}", other_dir.path().join("auth.db").display());
        let stranger = Auth::open(&other_url, auth_core::SecretKey::generate(), config)
            .await
            .unwrap();
        assert!(!verify(&stranger, CsrfScope::Session, "s1", &made));
    }
}
