//! The OpenID Connect provider's rules and races (docs/contract/8-openid-connect.md),
//! on both backends, through `Auth` alone.

use crate::common;

mod attacks;
mod email_verified;
mod flow;
mod revocation;

use auth_core::{
    Auth, AuthError, AuthorizationRequest, AuthorizeOutcome, ClientAuth, ConsentDecision,
    Identifier, NewClient, OAuthError, RegisteredClient, SigningAlg, TokenResponse,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use sha2::{Digest, Sha256};

const REDIRECT: &str = "https://app.example/callback";
const VERIFIER: &str = "a-verifier-of-forty-three-characters-or-more-1234";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

async fn add_client(auth: &Auth, public: bool, trusted: bool) -> RegisteredClient {
    auth.add_client(
        NewClient {
            name: "Example app".into(),
            redirect_uris: vec![REDIRECT.into()],
            post_logout_redirect_uris: vec!["https://app.example/bye".into()],
            public,
            trusted,
        },
        &client(),
    )
    .await
    .unwrap()
}

fn credentials(app: &RegisteredClient) -> ClientAuth {
    ClientAuth {
        client_id: app.client.id.clone(),
        secret: app.secret.as_ref().map(|s| s.expose().to_owned()),
    }
}

fn request(app: &RegisteredClient, scope: &str) -> AuthorizationRequest {
    AuthorizationRequest {
        response_type: Some("code".into()),
        client_id: Some(app.client.id.clone()),
        redirect_uri: Some(REDIRECT.into()),
        scope: Some(scope.into()),
        state: Some("st&te".into()),
        nonce: Some("n-0S6_WzA2Mj".into()),
        code_challenge: Some(challenge(VERIFIER)),
        code_challenge_method: Some("S256".into()),
        ..AuthorizationRequest::default()
    }
}

/// The query parameters of a redirect.
fn params(location: &str) -> Vec<(String, String)> {
    let query = location.split_once('?').map_or("", |(_, q)| q);
    url_pairs(query)
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| percent_decode(&s.replace('+', " "));
            (decode(name), decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn param(location: &str, name: &str) -> Option<String> {
    params(location)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

/// Signs in a new account and consents: the session token and a code.
async fn signed_in(auth: &Auth, name: &str) -> String {
    register(auth, name, GOOD).await;
    login(auth, name, GOOD)
        .await
        .unwrap()
        .token
        .expose()
        .to_owned()
}

/// The code of an authorization the user allows.
async fn code_for(auth: &Auth, app: &RegisteredClient, session: &str, scope: &str) -> String {
    let outcome = auth
        .authorize(
            &request(app, scope),
            Some(session),
            ConsentDecision::Allowed,
            &client(),
        )
        .await
        .unwrap();
    let AuthorizeOutcome::Redirect(location) = outcome else {
        panic!("expected a redirect, got {outcome:?}");
    };
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(param(&location, "state").as_deref(), Some("st&te"));
    assert_eq!(
        param(&location, "iss").as_deref(),
        Some(auth.config().oidc_issuer.as_str())
    );
    param(&location, "code").expect("a code")
}

async fn exchange(
    auth: &Auth,
    app: &RegisteredClient,
    code: &str,
) -> Result<TokenResponse, AuthError> {
    auth.exchange_code(&credentials(app), code, REDIRECT, VERIFIER, &client())
        .await
}

fn invalid_grant(result: Result<TokenResponse, AuthError>) -> bool {
    matches!(result, Err(AuthError::OAuth(OAuthError::InvalidGrant(_))))
}

async fn token_works(auth: &Auth, access_token: &str) -> bool {
    match auth.userinfo(access_token).await {
        Ok(_) => true,
        Err(AuthError::OAuth(OAuthError::InvalidToken)) => false,
        Err(other) => panic!("userinfo failed unexpectedly: {other:?}"),
    }
}

fn claims_of(id_token: &str) -> serde_json::Value {
    let payload = id_token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}
