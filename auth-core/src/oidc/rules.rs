//! The protocol's small rules, with no state: what a redirect URI may be,
//! which scopes and claims exist, PKCE, `at_hash`, and the redirect back
//! to a client. A leaf.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::account::User;

/// The scopes authd grants, in the order it shows them.
pub const SUPPORTED_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

/// The claims an ID token or userinfo answer may carry.
pub const SUPPORTED_CLAIMS: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "sid",
    "amr",
    "preferred_username",
    "name",
    "email",
    "email_verified",
];

/// Whether a redirect URI may be registered: an absolute `https://` URL, or
/// `http://` on a loopback host, with no fragment and no user info, written
/// as the URL standard writes it (so that the character-for-character
/// comparison at authorization is the only one). `Err` says why not.
pub fn valid_redirect_uri(uri: &str) -> Result<(), String> {
    let parsed =
        url::Url::parse(uri).map_err(|e| format!("{uri:?} is not an absolute URL: {e}"))?;
    if parsed.fragment().is_some() {
        return Err(format!("{uri:?} has a fragment (#…)"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("{uri:?} has user information (…@)"));
    }
    let loopback = match parsed.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" if parsed.host().is_some() => {}
        "http" if loopback => {}
        _ => {
            return Err(format!(
                "{uri:?} must be https://, or http:// on a loopback host"
            ))
        }
    }
    if parsed.as_str() != uri {
        return Err(format!("{uri:?} must be written as {:?}", parsed.as_str()));
    }
    Ok(())
}

/// The known scopes of a request, in the server's order, without repeats;
/// unknown ones are ignored (OpenID Connect Core §3.1.2.1). `None` when
/// `openid` is missing.
pub(crate) fn parse_scopes(scope: &str) -> Option<Vec<&'static str>> {
    let asked: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    if !asked.contains(&"openid") {
        return None;
    }
    Some(
        SUPPORTED_SCOPES
            .iter()
            .copied()
            .filter(|known| asked.contains(known))
            .collect(),
    )
}

/// Whether every scope of `wanted` is in `granted` (both space-separated).
pub(crate) fn scopes_within(wanted: &str, granted: &str) -> bool {
    let granted: Vec<&str> = granted.split(' ').collect();
    wanted
        .split(' ')
        .filter(|s| !s.is_empty())
        .all(|s| granted.contains(&s))
}

/// Whether a PKCE challenge has the shape RFC 7636 gives an S256 one: 43
/// base64url characters.
pub(crate) fn plausible_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `verifier` (43 to 128 unreserved characters) hashes to `challenge`.
pub(crate) fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let shaped = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    shaped && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

/// `at_hash`: the left half of the access token's SHA-256, base64url.
pub(crate) fn at_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(access_token.as_bytes())[..16])
}

/// The claims of the granted scopes about an account (userinfo, and the
/// ID token's profile part).
pub(crate) fn user_claims(user: &User, scope: &str) -> Map<String, Value> {
    let scopes: Vec<&str> = scope.split(' ').collect();
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user.id));
    if scopes.contains(&"profile") {
        claims.insert(
            "preferred_username".into(),
            json!(user.username.as_deref().unwrap_or(user.display_name())),
        );
        claims.insert(
            "name".into(),
            json!(user.full_name.as_deref().unwrap_or(user.display_name())),
        );
    }
    if scopes.contains(&"email") {
        if let Some(email) = &user.email {
            claims.insert("email".into(), json!(email));
            // True only once the account proved it owns the address
            // (docs/contract/10-email.md).
            claims.insert("email_verified".into(), json!(user.email_verified));
        }
    }
    claims
}

/// `base` with these query parameters added (after any it has).
pub(crate) fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    if params.is_empty() {
        return base.to_owned();
    }
    match url::Url::parse(base) {
        Ok(mut url) => {
            {
                let mut pairs = url.query_pairs_mut();
                for (name, value) in params {
                    pairs.append_pair(name, value);
                }
            }
            url.to_string()
        }
        // Registered URIs always parse; nothing else is ever given.
        Err(_) => base.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_https_or_loopback_http_in_standard_spelling() {
        for good in [
            "https://app.example/cb",
            "https://app.example:8443/cb?x=1",
            "http://127.0.0.1:9000/cb",
            "http://localhost/cb",
            "http://[::1]:8000/cb",
        ] {
            assert_eq!(valid_redirect_uri(good), Ok(()), "{good}");
        }
        for bad in [
            "http://app.example/cb",
            "https://app.example/cb#frag",
            "https://user@app.example/cb",
            "/cb",
            "app.example/cb",
            "https://APP.example/cb",
            "https://app.example",
            "javascript:alert(1)",
            "ftp://app.example/cb",
        ] {
            assert!(valid_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(challenge, challenge));
        assert!(!pkce_matches("short", challenge));
        assert!(plausible_challenge(challenge));
        assert!(!plausible_challenge(verifier.split_at(10).0));
    }

    #[test]
    fn scopes_need_openid_and_unknown_ones_are_dropped() {
        assert_eq!(parse_scopes("profile"), None);
        assert_eq!(
            parse_scopes("email  openid admin openid"),
            Some(vec!["openid", "email"])
        );
        assert!(scopes_within("openid email", "openid profile email"));
        assert!(!scopes_within("openid offline_access", "openid email"));
    }
}
