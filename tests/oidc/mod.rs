//! The OpenID Connect provider through the real binary (docs/contract/8-openid-connect.md):
//! a relying party's whole code flow, from discovery to logout, over a real
//! socket, with the login and consent forms posted as a browser posts them;
//! then the attacks a hostile page or client would try.

use crate::common;

mod flow;
mod hostile;
mod revocation;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{sqlite_url, Run, Server};
use reqwest::header::{AUTHORIZATION, COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::Value;

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const BYE: &str = "http://127.0.0.1:9/bye";
const PASSWORD: &str = "correct horse battery staple";
const VERIFIER: &str = "e2e-verifier-of-at-least-forty-three-characters-0123";

/// A registered client: its id and secret (none when public).
struct App {
    id: String,
    secret: Option<String>,
}

/// Where the command line finds a deployment's store: its folder, its
/// database and its global options (the key file).
struct Store {
    dir: std::path::PathBuf,
    database: String,
    global: Vec<String>,
}

impl Store {
    /// The SQLite store of a server started by `Server::start`.
    fn of(server: &Server) -> Store {
        Store {
            dir: server.dir.clone(),
            database: sqlite_url(&server.dir),
            global: Vec::new(),
        }
    }

    fn authd(&self, args: &[&str]) -> Run {
        Run::authd()
            .current_dir(&self.dir)
            .args(["--database", self.database.as_str(), "--bcrypt-cost", "4"])
            .args(&self.global)
            .args(args)
    }
}

/// Registers a client with the CLI and reads what it printed.
fn add_client(server: &Server, extra: &[&str]) -> App {
    add_client_to(&Store::of(server), extra)
}

/// Registers a client in a store with the CLI and reads what it printed.
fn add_client_to(store: &Store, extra: &[&str]) -> App {
    let mut args = vec![
        "client",
        "add",
        "Test app",
        "--redirect-uri",
        REDIRECT,
        "--post-logout-redirect-uri",
        BYE,
    ];
    args.extend_from_slice(extra);
    let out = store.authd(&args).output();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
    };
    App {
        id: field("client_id:").expect("client_id printed"),
        secret: field("client_secret:"),
    }
}

/// A server with one account, `alice`.
fn server_with_alice() -> Server {
    let server = Server::start(&["--password-min-length", "8"]);
    add_alice(&Store::of(&server));
    server
}

fn add_alice(store: &Store) {
    let out = store
        .authd(&["user", "add", "alice", "--password-stdin"])
        .stdin(format!("{PASSWORD}\n"))
        .output();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn challenge() -> String {
    use sha2::Digest;
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(VERIFIER.as_bytes()))
}

fn authorize_query(app: &App, extra: &[(&str, &str)]) -> String {
    let challenge = challenge();
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", app.id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile email offline_access"),
        ("state", "xyz/1"),
        ("nonce", "n-0S6"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    for (name, value) in extra {
        pairs.retain(|(n, _)| n != name);
        if !value.is_empty() {
            pairs.push((name, value));
        }
    }
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        query.append_pair(name, value);
    }
    query.finish()
}

/// The value of a cookie a response sets.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

/// The value of a hidden field of a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("no Location in a {}", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

/// Goes from an authorization request through the login page (and the
/// consent page when asked) to the code, as a browser does; returns the
/// code and the session cookie.
async fn sign_in_for_code(server: &Server, app: &App, consent: bool) -> (String, String) {
    sign_in_for_code_at(server, &server.base_url, app, consent).await
}

/// [`sign_in_for_code`] on a server of a deployment whose issuer is `issuer`.
async fn sign_in_for_code_at(
    server: &Server,
    issuer: &str,
    app: &App,
    consent: bool,
) -> (String, String) {
    let start = server.url(&format!("/oauth/authorize?{}", authorize_query(app, &[])));
    let (redirect, session) = browse(server, &start, consent).await;
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("xyz/1"));
    assert_eq!(query_param(&redirect, "iss").as_deref(), Some(issuer));
    (query_param(&redirect, "code").unwrap(), session)
}

/// What a browser does with an authorization URL: sent to the login page,
/// logs in there, comes back, allows the client when asked. Returns where
/// authd sent it at last (the client's redirect URI) and its session.
async fn browse(server: &Server, start: &str, consent: bool) -> (String, String) {
    let http = common::client();
    let start = http.get(start).send().await.unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let login_at = location(&start);
    assert!(login_at.starts_with("/login?next="), "{login_at}");
    let next = query_param(&login_at, "next").unwrap();
    assert!(next.starts_with("/oauth/authorize?"), "{next}");
    let page = http.get(server.url(&login_at)).send().await.unwrap();
    let nonce = set_cookie(&page, "authd_csrf").unwrap();
    let html = page.text().await.unwrap();
    let csrf = hidden(&html, "csrf_token");
    assert!(
        html.contains("name=\"next\""),
        "the login form carries next"
    );
    let logged_in = http
        .post(server.url("/login"))
        .header(COOKIE, format!("authd_csrf={nonce}"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("username", "alice"),
            ("password", PASSWORD),
            ("next", next.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(logged_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&logged_in),
        next,
        "the login goes back to the request"
    );
    let session = set_cookie(&logged_in, "session_id").unwrap();
    let back = http
        .get(server.url(&next))
        .header(COOKIE, format!("session_id={session}"))
        .send()
        .await
        .unwrap();
    let redirect = if consent {
        assert_eq!(back.status(), StatusCode::OK);
        let html = back.text().await.unwrap();
        assert!(
            html.contains("Test app"),
            "the consent page names the client"
        );
        assert!(html.contains("openid"), "and the scopes");
        let form = consent_form(&html, "allow");
        let allowed = http
            .post(server.url("/oauth/consent"))
            .header(COOKIE, format!("session_id={session}"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(allowed.status(), StatusCode::SEE_OTHER);
        location(&allowed)
    } else {
        assert_eq!(back.status(), StatusCode::SEE_OTHER);
        location(&back)
    };
    assert!(redirect.starts_with(REDIRECT), "{redirect}");
    (redirect, session)
}

/// The consent form's fields with the answer.
fn consent_form(html: &str, decision: &str) -> Vec<(String, String)> {
    let mut form: Vec<(String, String)> = [
        "csrf_token",
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
    ]
    .iter()
    .map(|name| (name.to_string(), unescape(&hidden(html, name))))
    .collect();
    form.push(("decision".into(), decision.into()));
    form
}

/// Undoes askama's HTML escaping of attribute values.
fn unescape(value: &str) -> String {
    value
        .replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

async fn token_request(server: &Server, app: &App, form: &[(&str, &str)]) -> reqwest::Response {
    let mut request = common::client().post(server.url("/oauth/token")).form(form);
    if let Some(secret) = &app.secret {
        request = request.basic_auth(&app.id, Some(secret));
    }
    request.send().await.unwrap()
}

async fn exchange(server: &Server, app: &App, code: &str) -> (StatusCode, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    if app.secret.is_none() {
        form.push(("client_id", app.id.as_str()));
    }
    common::status_and_body(token_request(server, app, &form).await).await
}

async fn refresh(server: &Server, app: &App, token: &str) -> (StatusCode, Value) {
    let form = [("grant_type", "refresh_token"), ("refresh_token", token)];
    common::status_and_body(token_request(server, app, &form).await).await
}

async fn userinfo(server: &Server, token: &str) -> reqwest::Response {
    common::client()
        .get(server.url("/oauth/userinfo"))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .send()
        .await
        .unwrap()
}

/// Checks an ID token's RS256 signature against the server's JWKS and
/// returns its claims.
async fn verified_claims(server: &Server, id_token: &str) -> Value {
    let jwks: Value = common::client()
        .get(server.url("/oauth/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let parts: Vec<&str> = id_token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "RS256");
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the token's key is published");
    let number = |name: &str| {
        openssl::bn::BigNum::from_slice(
            &URL_SAFE_NO_PAD.decode(key[name].as_str().unwrap()).unwrap(),
        )
        .unwrap()
    };
    let rsa = openssl::rsa::Rsa::from_public_components(number("n"), number("e")).unwrap();
    let public = openssl::pkey::PKey::from_rsa(rsa).unwrap();
    let mut verifier =
        openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &public).unwrap();
    verifier
        .update(format!("{}.{}", parts[0], parts[1]).as_bytes())
        .unwrap();
    assert!(verifier
        .verify(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap())
        .unwrap());
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
}
