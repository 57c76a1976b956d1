//! Signing keys and compact JWS (RFC 7515) with OpenSSL: RS256 (RSA 2048,
//! PKCS#1 v1.5, SHA-256) and ES256 (P-256, SHA-256, `r || s`). A leaf: it
//! knows no flow and no table.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::{Signer, Verifier};
use serde_json::{json, Value};

/// The algorithms an ID token may be signed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (the default every client supports).
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
}

impl SigningAlg {
    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            SigningAlg::Rs256 => "RS256",
            SigningAlg::Es256 => "ES256",
        }
    }

    /// The algorithm of a JOSE name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(SigningAlg::Rs256),
            "ES256" => Some(SigningAlg::Es256),
            _ => None,
        }
    }
}

/// A fresh key: its DER private key (to be sealed) and public JWK.
pub(crate) struct GeneratedKey {
    pub(crate) private_der: Vec<u8>,
    pub(crate) public_jwk: Value,
}

/// Why a key could not be made or used (OpenSSL's message).
#[derive(Debug, thiserror::Error)]
#[error("signing key: {0}")]
pub(crate) struct KeyError(String);

impl From<openssl::error::ErrorStack> for KeyError {
    fn from(error: openssl::error::ErrorStack) -> Self {
        KeyError(error.to_string())
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Generates a key pair for `alg` with id `kid`.
pub(crate) fn generate(alg: SigningAlg, kid: &str) -> Result<GeneratedKey, KeyError> {
    let pkey = match alg {
        SigningAlg::Rs256 => PKey::from_rsa(Rsa::generate(2048)?)?,
        SigningAlg::Es256 => {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
            PKey::from_ec_key(EcKey::generate(&group)?)?
        }
    };
    let public_jwk = public_jwk(&pkey, alg, kid)?;
    Ok(GeneratedKey {
        private_der: pkey.private_key_to_der()?,
        public_jwk,
    })
}

fn public_jwk(pkey: &PKey<Private>, alg: SigningAlg, kid: &str) -> Result<Value, KeyError> {
    Ok(match alg {
        SigningAlg::Rs256 => {
            let rsa = pkey.rsa()?;
            json!({
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                "n": b64(&rsa.n().to_vec()), "e": b64(&rsa.e().to_vec()),
            })
        }
        SigningAlg::Es256 => {
            let ec = pkey.ec_key()?;
            let (mut x, mut y) = (BigNum::new()?, BigNum::new()?);
            let mut ctx = BigNumContext::new()?;
            ec.public_key()
                .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)?;
            json!({
                "kty": "EC", "use": "sig", "alg": "ES256", "kid": kid, "crv": "P-256",
                "x": b64(&x.to_vec_padded(32)?), "y": b64(&y.to_vec_padded(32)?),
            })
        }
    })
}

/// Signs `claims` as a compact JWS with the DER private key.
pub(crate) fn sign(
    alg: SigningAlg,
    kid: &str,
    private_der: &[u8],
    claims: &Value,
) -> Result<String, KeyError> {
    let pkey = PKey::private_key_from_der(private_der)?;
    let header = json!({ "alg": alg.name(), "typ": "JWT", "kid": kid });
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut signer = Signer::new(MessageDigest::sha256(), &pkey)?;
    signer.update(signing_input.as_bytes())?;
    let der_or_raw = signer.sign_to_vec()?;
    let signature = match alg {
        SigningAlg::Rs256 => der_or_raw,
        SigningAlg::Es256 => {
            let sig = EcdsaSig::from_der(&der_or_raw)?;
            let mut raw = sig.r().to_vec_padded(32)?;
            raw.extend(sig.s().to_vec_padded(32)?);
            raw
        }
    };
    Ok(format!("{signing_input}.{}", b64(&signature)))
}

/// The header and claims of a compact JWS whose signature one of `keys`
/// (public JWKs) verifies; `None` otherwise. Expiry is not checked here.
pub(crate) fn verify(token: &str, keys: &[Value]) -> Option<Value> {
    let mut parts = token.split('.');
    let (header, claims, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header_json: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    let kid = header_json.get("kid")?.as_str()?;
    let alg = SigningAlg::from_name(header_json.get("alg")?.as_str()?)?;
    let jwk = keys
        .iter()
        .find(|k| k.get("kid").and_then(Value::as_str) == Some(kid))?;
    if jwk.get("alg").and_then(Value::as_str) != Some(alg.name()) {
        return None;
    }
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    let public = public_key_of(jwk, alg).ok()?;
    let signature = match alg {
        SigningAlg::Rs256 => signature,
        SigningAlg::Es256 => {
            if signature.len() != 64 {
                return None;
            }
            let r = BigNum::from_slice(&signature[..32]).ok()?;
            let s = BigNum::from_slice(&signature[32..]).ok()?;
            EcdsaSig::from_private_components(r, s)
                .ok()?
                .to_der()
                .ok()?
        }
    };
    let mut verifier = Verifier::new(MessageDigest::sha256(), &public).ok()?;
    verifier
        .update(format!("{header}.{claims}").as_bytes())
        .ok()?;
    if !verifier.verify(&signature).ok()? {
        return None;
    }
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).ok()?).ok()
}

fn public_key_of(jwk: &Value, alg: SigningAlg) -> Result<PKey<openssl::pkey::Public>, KeyError> {
    let field = |name: &str| -> Result<BigNum, KeyError> {
        let text = jwk
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| KeyError(format!("JWK without {name}")))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|e| KeyError(e.to_string()))?;
        Ok(BigNum::from_slice(&bytes)?)
    };
    Ok(match alg {
        SigningAlg::Rs256 => {
            PKey::from_rsa(Rsa::from_public_components(field("n")?, field("e")?)?)?
        }
        SigningAlg::Es256 => {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
            let (x, y) = (field("x")?, field("y")?);
            let key = EcKey::from_public_key_affine_coordinates(&group, &x, &y)?;
            PKey::from_ec_key(key)?
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_algorithms_sign_and_verify_and_refuse_a_changed_token() {
        for alg in [SigningAlg::Rs256, SigningAlg::Es256] {
            let key = generate(alg, "k1").unwrap();
            let claims = json!({"sub": "u1", "aud": "c1"});
            let token = sign(alg, "k1", &key.private_der, &claims).unwrap();
            let keys = vec![key.public_jwk.clone()];
            assert_eq!(verify(&token, &keys), Some(claims));
            let mut tampered = token.clone();
            tampered.insert(token.find('.').unwrap() + 2, 'A');
            assert_eq!(verify(&tampered, &keys), None);
            let other = generate(alg, "k1").unwrap();
            assert_eq!(verify(&token, &[other.public_jwk]), None);
        }
    }
}
