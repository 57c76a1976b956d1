//! authd as an OpenID Connect provider (docs/contract/8-openid-connect.md).
//!
//! Leaves: [`jws`] (keys and signatures), [`rules`] (redirect URIs, scopes,
//! PKCE, claims). Plumbing the flows share: [`keys`] (the signing set in the
//! database), [`issue`] (client authentication, minting tokens). Flows:
//! [`clients`] (the operator's registry), [`authorize`] (the authorization
//! request, consent and codes), [`exchange`] (the token endpoint's grants),
//! [`grants`] (userinfo, introspection, revocation, logout, the account's apps).

mod authorize;
mod clients;
mod exchange;
mod grants;
mod issue;
mod jws;
mod keys;
mod rules;

pub use crate::error::OAuthError;
pub use jws::SigningAlg;
pub use rules::{valid_redirect_uri, SUPPORTED_CLAIMS, SUPPORTED_SCOPES};

/// How long an authorization code lives.
pub const CODE_TTL_SECS: i64 = 60;
/// How long an ID token lives (and a retired key stays published after it
/// stopped signing).
pub const ID_TOKEN_TTL_SECS: i64 = 60 * 60;

/// A registered application, as the operator sees it (never its secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcClient {
    /// The `client_id`.
    pub id: String,
    /// Its name, shown on the consent page.
    pub name: String,
    /// A public client (no secret; PKCE alone).
    pub public: bool,
    /// First-party: its users are not asked for consent.
    pub trusted: bool,
    /// The registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// The registered post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// What the operator registers.
#[derive(Clone, Debug, Default)]
pub struct NewClient {
    /// Its name.
    pub name: String,
    /// At least one redirect URI.
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// A public client.
    pub public: bool,
    /// First-party: no consent page.
    pub trusted: bool,
}

/// A client just registered (or whose secret was rotated), with its secret
/// when confidential: shown once, stored only hashed.
#[derive(Clone, Debug)]
pub struct RegisteredClient {
    /// The client.
    pub client: OidcClient,
    /// Its secret (confidential clients).
    pub secret: Option<crate::token::ClientSecret>,
}

/// How a client authenticated at the token, introspection or revocation
/// endpoint: its id and, for a confidential client, its secret.
#[derive(Clone, Default)]
pub struct ClientAuth {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`, from HTTP Basic or the form.
    pub secret: Option<String>,
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAuth")
            .field("client_id", &self.client_id)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// The parameters of an authorization request, as sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthorizationRequest {
    /// Must be `code`.
    pub response_type: Option<String>,
    /// The client.
    pub client_id: Option<String>,
    /// One of the client's redirect URIs, character for character.
    pub redirect_uri: Option<String>,
    /// Space-separated; must include `openid`.
    pub scope: Option<String>,
    /// Returned as sent.
    pub state: Option<String>,
    /// Put in the ID token.
    pub nonce: Option<String>,
    /// PKCE challenge (base64url SHA-256 of the verifier).
    pub code_challenge: Option<String>,
    /// Must be `S256`.
    pub code_challenge_method: Option<String>,
    /// `none`, `login`, `consent` (space-separated).
    pub prompt: Option<String>,
    /// Seconds: a login older than this must be made again.
    pub max_age: Option<String>,
    /// A hint of the account (shown in the login form's field).
    pub login_hint: Option<String>,
}

/// What the user said on the consent page, if they were asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsentDecision {
    /// Not asked (a plain authorization request).
    NotAsked,
    /// They allowed the client.
    Allowed,
    /// They refused.
    Denied,
}

/// The next step of an authorization request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizeOutcome {
    /// Send the browser to this URL (the client's redirect URI with a code,
    /// or with an error).
    Redirect(String),
    /// Nobody (or not recently enough) is signed in: go through the login
    /// page and come back.
    Login,
    /// Ask the user whether this client may have these scopes.
    Consent {
        /// The client's name.
        client_name: String,
        /// The scopes asked for.
        scopes: Vec<String>,
    },
}

/// What the token endpoint answers.
#[derive(Clone, Debug, serde::Serialize, PartialEq, Eq)]
pub struct TokenResponse {
    /// The opaque access token.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: &'static str,
    /// Seconds.
    pub expires_in: i64,
    /// The signed ID token.
    pub id_token: String,
    /// The granted scopes.
    pub scope: String,
    /// With `offline_access`: the next refresh token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// An application an account has authorized (`/me/apps`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizedApp {
    /// The client.
    pub client_id: String,
    /// Its name.
    pub name: String,
    /// The consented (or granted) scopes.
    pub scopes: Vec<String>,
    /// Unix seconds of the last token issued, if any.
    pub last_used_at: Option<i64>,
}

/// What `/oauth/logout` does after ending the session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogoutOutcome {
    /// Redirect to this registered post-logout URI (with `state`).
    Redirect(String),
    /// Show a signed-out page.
    SignedOut,
}
