//! The OpenID Connect provider's loads (issue 22): a registered client, a
//! consent given once, then the requests a relying party makes. The
//! refresh grants and the code flows carry state from one request to the
//! next (a rotated refresh token, a fresh code), so they are their own loads.

use std::sync::Mutex;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, COOKIE, LOCATION};
use reqwest::{Client, StatusCode, Url};
use sha2::Digest;

/// The redirect URI of the bench's client (nothing listens there: the code
/// is read off the redirect).
pub const REDIRECT: &str = "http://127.0.0.1:9/callback";
/// The PKCE verifier of every request.
const VERIFIER: &str = "bench-verifier-of-at-least-forty-three-characters-0123";
/// Scopes consented to at setup and asked by the grants kept for refreshes.
const GRANT_SCOPE: &str = "openid profile offline_access";
/// Scopes of the code-flow phase: a subset of the consent, no refresh token.
const FLOW_SCOPE: &str = "openid profile";
const FORM: HeaderValue = HeaderValue::from_static("application/x-www-form-urlencoded");

/// A registered confidential client: its id and its `Authorization: Basic`.
#[derive(Clone)]
pub struct OidcClient {
    /// `client_id`.
    pub id: String,
    /// `Basic base64(id:secret)`.
    pub basic: HeaderValue,
}

impl OidcClient {
    /// The client of `authd client add`'s id and secret.
    pub fn new(id: &str, secret: &str) -> anyhow::Result<OidcClient> {
        let basic = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
        Ok(OidcClient {
            id: id.to_owned(),
            basic: HeaderValue::from_str(&basic)?,
        })
    }
}

/// The authorization request of `scope`, as a path and query.
fn authorize_path(client: &OidcClient, scope: &str) -> String {
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(VERIFIER.as_bytes()));
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", &client.id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", scope)
        .append_pair("state", "bench")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    format!("/oauth/authorize?{}", query.finish())
}

/// The form body exchanging `code`.
fn exchange_body(code: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("code_verifier", VERIFIER)
        .finish()
}

/// A whole code flow, the load of the code-flow phase: `GET
/// /oauth/authorize` with a live session and an existing consent (a 303 to
/// the redirect URI with a code), then the code at the token endpoint.
pub struct CodeFlow {
    client: OidcClient,
    authorize: Url,
    token: Url,
    cookie: HeaderValue,
}

impl CodeFlow {
    /// The flow of `client` on the server at `base`, signed in with `cookie`.
    pub fn new(base: &Url, client: &OidcClient, cookie: &HeaderValue) -> anyhow::Result<CodeFlow> {
        Ok(CodeFlow {
            client: client.clone(),
            authorize: base.join(&authorize_path(client, FLOW_SCOPE))?,
            token: base.join("/oauth/token")?,
            cookie: cookie.clone(),
        })
    }

    /// One flow: the code, then its tokens.
    pub async fn run(&self, http: &Client) -> Result<(), String> {
        let code = code_of(http, &self.authorize, &self.cookie).await?;
        let answer = http
            .post(self.token.clone())
            .header(AUTHORIZATION, self.client.basic.clone())
            .header(CONTENT_TYPE, FORM)
            .body(exchange_body(&code))
            .send()
            .await;
        ok_body(answer).await.map(|_| ())
    }
}

/// Refresh-token grants, the load of the refresh phase: connection `i`
/// rotates grant `i`'s token and keeps the new one for its next request.
pub struct Refreshes {
    client: OidcClient,
    token: Url,
    slots: Vec<Mutex<String>>,
}

impl Refreshes {
    /// One refresh token per connection, at the server's token endpoint.
    pub fn new(base: &Url, client: &OidcClient, tokens: Vec<String>) -> anyhow::Result<Refreshes> {
        Ok(Refreshes {
            client: client.clone(),
            token: base.join("/oauth/token")?,
            slots: tokens.into_iter().map(Mutex::new).collect(),
        })
    }

    /// How many connections it can feed (one grant each: two at once on
    /// one grant would be a reuse, which revokes it).
    pub fn connections(&self) -> usize {
        self.slots.len()
    }

    /// One rotation on connection `task`'s grant.
    pub async fn run(&self, http: &Client, task: usize) -> Result<(), String> {
        let slot = &self.slots[task % self.slots.len()];
        let current = slot.lock().map_err(|_| "a poisoned slot")?.clone();
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", &current)
            .finish();
        let answer = http
            .post(self.token.clone())
            .header(AUTHORIZATION, self.client.basic.clone())
            .header(CONTENT_TYPE, FORM)
            .body(body)
            .send()
            .await;
        let tokens = ok_body(answer).await?;
        let next = field(&tokens, "refresh_token")?;
        *slot.lock().map_err(|_| "a poisoned slot")? = next;
        Ok(())
    }
}

/// The body of a 200 answer, or what the answer was instead.
async fn ok_body(answer: reqwest::Result<reqwest::Response>) -> Result<String, String> {
    let response = answer.map_err(|e| format!("request failed: {e}"))?;
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|e| format!("{status}: body: {e}"))?;
    if status == StatusCode::OK {
        Ok(body)
    } else {
        Err(format!("{status}: {}", &body[..body.len().min(120)]))
    }
}

/// A string member of a JSON object.
fn field(json: &str, name: &str) -> Result<String, String> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    value[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no {name} in {json}"))
}

/// `GET authorize` signed in: the code of its 303 to the redirect URI.
async fn code_of(http: &Client, authorize: &Url, cookie: &HeaderValue) -> Result<String, String> {
    let response = http
        .get(authorize.clone())
        .header(COOKIE, cookie.clone())
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = response.status();
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let _ = response.bytes().await;
    let location = match (status, location) {
        (StatusCode::SEE_OTHER, Some(location)) => location,
        (status, location) => return Err(format!("authorize: {status}, Location {location:?}")),
    };
    Url::parse(&location)
        .ok()
        .and_then(|url| {
            url.query_pairs()
                .find(|(name, _)| name == "code")
                .map(|(_, code)| code.into_owned())
        })
        .ok_or_else(|| format!("no code in {location}"))
}

/// What the OIDC phases start from: an access token (userinfo,
/// introspection) and one refresh token per connection.
pub struct Tokens {
    /// A live access token of the consented grant.
    pub access_token: String,
    /// The refresh tokens of `grants` grants.
    pub refresh_tokens: Vec<String>,
}

/// Allows the client on the consent page once (as a browser posts it), then
/// makes `grants` grants with refresh tokens.
pub async fn setup(
    http: &Client,
    base: &Url,
    client: &OidcClient,
    cookie: &HeaderValue,
    grants: usize,
) -> anyhow::Result<Tokens> {
    let authorize = base.join(&authorize_path(client, GRANT_SCOPE))?;
    let page = http
        .get(authorize.clone())
        .header(COOKIE, cookie.clone())
        .send()
        .await?;
    anyhow::ensure!(
        page.status() == StatusCode::OK,
        "consent page: {}",
        page.status()
    );
    let html = page.text().await?;
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for name in [
        "csrf_token",
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
    ] {
        form.append_pair(name, &hidden(&html, name)?);
    }
    form.append_pair("decision", "allow");
    let allowed = http
        .post(base.join("/oauth/consent")?)
        .header(COOKIE, cookie.clone())
        .header(CONTENT_TYPE, FORM)
        .body(form.finish())
        .send()
        .await?;
    anyhow::ensure!(
        allowed.status() == StatusCode::SEE_OTHER,
        "consent: {}",
        allowed.status()
    );
    let token_url = base.join("/oauth/token")?;
    let mut refresh_tokens = Vec::new();
    let mut access_token = String::new();
    for _ in 0..grants.max(1) {
        let code = code_of(http, &authorize, cookie)
            .await
            .map_err(anyhow::Error::msg)?;
        let answer = http
            .post(token_url.clone())
            .header(AUTHORIZATION, client.basic.clone())
            .header(CONTENT_TYPE, FORM)
            .body(exchange_body(&code))
            .send()
            .await;
        let tokens = ok_body(answer).await.map_err(anyhow::Error::msg)?;
        access_token = field(&tokens, "access_token").map_err(anyhow::Error::msg)?;
        refresh_tokens.push(field(&tokens, "refresh_token").map_err(anyhow::Error::msg)?);
    }
    Ok(Tokens {
        access_token,
        refresh_tokens,
    })
}

/// The value of a hidden field of a page, its HTML escapes undone.
fn hidden(html: &str, name: &str) -> anyhow::Result<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .ok_or_else(|| anyhow::anyhow!("no {name} on the consent page"))?
        + marker.len();
    let value = html[start..].split('"').next().unwrap_or_default();
    Ok(value
        .replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&"))
}
