//! A software WebAuthn authenticator for tests without a browser: one P-256
//! credential, "none" attestation, a signature counter the test sets, user
//! verification on or off, and a user handle (so it is a discoverable
//! credential). webauthn-authenticator-rs's SoftPasskey keeps no user handle
//! and no resident key, so it cannot sign in without a name typed.

#![allow(dead_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::bn::BigNumContext;
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::Private;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// User present, user verified, attested credential data included.
const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

/// One credential on a software authenticator.
pub struct TestAuthenticator {
    key: EcKey<Private>,
    /// The credential id.
    pub credential_id: Vec<u8>,
    /// The account's user handle, as the authenticator returns it.
    pub user_handle: Vec<u8>,
    rp_id: String,
    /// The signature counter the next assertion carries (0: none kept).
    pub counter: u32,
    /// Whether assertions say the user was verified.
    pub user_verified: bool,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .expect("base64url in the options")
}

/// The CBOR head of a major type with a length or value.
fn cbor_head(out: &mut Vec<u8>, major: u8, value: usize) {
    let major = major << 5;
    match value {
        0..=23 => out.push(major | value as u8),
        24..=255 => out.extend([major | 24, value as u8]),
        _ => {
            out.push(major | 25);
            out.extend((value as u16).to_be_bytes());
        }
    }
}

fn cbor_int(out: &mut Vec<u8>, value: i64) {
    if value >= 0 {
        cbor_head(out, 0, value as usize);
    } else {
        cbor_head(out, 1, (-1 - value) as usize);
    }
}

fn cbor_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    cbor_head(out, 2, bytes.len());
    out.extend_from_slice(bytes);
}

fn cbor_text(out: &mut Vec<u8>, text: &str) {
    cbor_head(out, 3, text.len());
    out.extend_from_slice(text.as_bytes());
}

fn client_data(kind: &str, challenge: &str, origin: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": kind,
        "challenge": challenge,
        "origin": origin,
        "crossOrigin": false,
    }))
    .unwrap()
}

impl TestAuthenticator {
    /// Answers `navigator.credentials.create` options (`{"publicKey": …}`)
    /// as a page of `origin`: a new credential and the browser's JSON.
    pub fn register(options: &Value, origin: &str, user_verified: bool) -> (Self, String) {
        Self::register_with_id_len(options, origin, user_verified, 32)
    }

    /// [`TestAuthenticator::register`] with a credential id of `id_len`
    /// random bytes (WebAuthn allows at most 1023).
    pub fn register_with_id_len(
        options: &Value,
        origin: &str,
        user_verified: bool,
        id_len: usize,
    ) -> (Self, String) {
        let public_key = &options["publicKey"];
        let rp_id = public_key["rp"]["id"].as_str().expect("rp.id").to_owned();
        let challenge = public_key["challenge"].as_str().expect("challenge");
        let user_handle = unb64(public_key["user"]["id"].as_str().expect("user.id"));
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = EcKey::generate(&group).unwrap();
        let mut credential_id = vec![0u8; id_len];
        openssl::rand::rand_bytes(&mut credential_id).unwrap();
        let authenticator = TestAuthenticator {
            key,
            credential_id,
            user_handle,
            rp_id,
            counter: 0,
            user_verified,
        };

        let (mut x, mut y) = (
            openssl::bn::BigNum::new().unwrap(),
            openssl::bn::BigNum::new().unwrap(),
        );
        let mut ctx = BigNumContext::new().unwrap();
        authenticator
            .key
            .public_key()
            .affine_coordinates(&group, &mut x, &mut y, &mut ctx)
            .unwrap();
        let mut cose = Vec::new();
        cbor_head(&mut cose, 5, 5);
        cbor_int(&mut cose, 1);
        cbor_int(&mut cose, 2); // kty: EC2
        cbor_int(&mut cose, 3);
        cbor_int(&mut cose, -7); // alg: ES256
        cbor_int(&mut cose, -1);
        cbor_int(&mut cose, 1); // crv: P-256
        cbor_int(&mut cose, -2);
        cbor_bytes(&mut cose, &x.to_vec_padded(32).unwrap());
        cbor_int(&mut cose, -3);
        cbor_bytes(&mut cose, &y.to_vec_padded(32).unwrap());

        let mut auth_data = authenticator.auth_data_head(AT);
        auth_data.extend([0u8; 16]); // AAGUID
        auth_data.extend((authenticator.credential_id.len() as u16).to_be_bytes());
        auth_data.extend(&authenticator.credential_id);
        auth_data.extend(cose);

        let mut attestation = Vec::new();
        cbor_head(&mut attestation, 5, 3);
        cbor_text(&mut attestation, "fmt");
        cbor_text(&mut attestation, "none");
        cbor_text(&mut attestation, "attStmt");
        cbor_head(&mut attestation, 5, 0);
        cbor_text(&mut attestation, "authData");
        cbor_bytes(&mut attestation, &auth_data);

        let id = b64(&authenticator.credential_id);
        let answer = json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "attestationObject": b64(&attestation),
                "clientDataJSON": b64(&client_data("webauthn.create", challenge, origin)),
            },
            "extensions": {},
        });
        (authenticator, answer.to_string())
    }

    /// rpIdHash, flags and the counter.
    fn auth_data_head(&self, extra_flags: u8) -> Vec<u8> {
        let mut data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        let uv = if self.user_verified { UV } else { 0 };
        data.push(UP | uv | extra_flags);
        data.extend(self.counter.to_be_bytes());
        data
    }

    /// Answers `navigator.credentials.get` options as a page of `origin`,
    /// with the current counter.
    pub fn assert(&self, options: &Value, origin: &str) -> String {
        self.assert_for(options, origin, &self.rp_id.clone())
    }

    /// [`TestAuthenticator::assert`], signing for another RP id.
    pub fn assert_for(&self, options: &Value, origin: &str, rp_id: &str) -> String {
        let challenge = options["publicKey"]["challenge"]
            .as_str()
            .expect("challenge");
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        let uv = if self.user_verified { UV } else { 0 };
        auth_data.push(UP | uv);
        auth_data.extend(self.counter.to_be_bytes());
        let client_data = client_data("webauthn.get", challenge, origin);
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature = EcdsaSig::sign(&Sha256::digest(&signed), &self.key)
            .unwrap()
            .to_der()
            .unwrap();
        let id = b64(&self.credential_id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(&signature),
                "userHandle": b64(&self.user_handle),
            },
            "extensions": {},
        })
        .to_string()
    }
}
