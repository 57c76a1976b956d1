//! The OpenID Connect provider through the real binary (docs/contract/8-openid-connect.md):
//! a relying party's whole code flow, from discovery to logout, over a real
//! socket, with the login and consent forms posted as a browser posts them;
//! then the attacks a hostile page or client would try.

use crate::common;

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

#[tokio::test]
async fn a_relying_party_signs_a_user_in_refreshes_and_logs_out() {
    let server = server_with_alice();
    let app = add_client(&server, &[]);
    assert!(app.secret.is_some());
    // Discovery.
    let (status, discovery) = common::status_and_body(
        common::client()
            .get(server.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(discovery["issuer"], server.base_url.as_str());
    assert_eq!(
        discovery["token_endpoint"],
        server.url("/oauth/token").as_str()
    );
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"][0],
        "RS256"
    );
    assert_eq!(
        discovery["authorization_response_iss_parameter_supported"],
        true
    );

    // The browser's part, then the client's.
    let (code, session) = sign_in_for_code(&server, &app, true).await;
    let response = token_request(
        &server,
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    let (status, tokens) = common::status_and_body(response).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 600);
    let claims = verified_claims(&server, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["iss"], server.base_url.as_str());
    assert_eq!(claims["aud"], app.id.as_str());
    assert_eq!(claims["nonce"], "n-0S6");
    assert_eq!(claims["preferred_username"], "alice");
    let access = tokens["access_token"].as_str().unwrap();
    let info = userinfo(&server, access).await;
    assert_eq!(info.status(), StatusCode::OK);
    let info: Value = info.json().await.unwrap();
    assert_eq!(info["sub"], claims["sub"]);
    assert_ne!(info["sub"], "alice", "sub is not the username");

    // Refresh rotates; the old refresh token again revokes the grant.
    let first = tokens["refresh_token"].as_str().unwrap();
    let (status, second) = refresh(&server, &app, first).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let (status, reused) = refresh(&server, &app, first).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(reused["error"], "invalid_grant");
    let dead = userinfo(&server, second["access_token"].as_str().unwrap()).await;
    assert_eq!(dead.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        dead.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );

    // A second sign-in needs no consent (remembered); the code replayed is refused.
    let (code, session) = {
        let http = common::client();
        let again = http
            .get(server.url(&format!("/oauth/authorize?{}", authorize_query(&app, &[]))))
            .header(COOKIE, format!("session_id={session}"))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::SEE_OTHER);
        (query_param(&location(&again), "code").unwrap(), session)
    };
    let (status, tokens) = exchange(&server, &app, &code).await;
    assert_eq!(status, StatusCode::OK);
    let (status, replayed) = exchange(&server, &app, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(replayed["error"], "invalid_grant");
    let revoked = userinfo(&server, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);

    // RP-initiated logout: back to the registered URI, and the session is over.
    let hint = tokens["id_token"].as_str().unwrap();
    let mut logout = url::form_urlencoded::Serializer::new(String::new());
    logout
        .append_pair("id_token_hint", hint)
        .append_pair("post_logout_redirect_uri", BYE)
        .append_pair("state", "bye1");
    let out = common::client()
        .get(server.url(&format!("/oauth/logout?{}", logout.finish())))
        .header(COOKIE, format!("session_id={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&out), format!("{BYE}?state=bye1"));
    let me = common::client()
        .get(server.url("/me"))
        .header(COOKIE, format!("session_id={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&me), "/login");
}

#[tokio::test]
async fn hostile_requests_are_refused_without_a_redirect_or_a_token() {
    let server = server_with_alice();
    let app = add_client(&server, &[]);
    let public = add_client(&server, &["--public", "--trusted"]);
    let http = common::client();
    // Every other spelling of the redirect URI: an error page, no Location.
    for spelling in [
        "http://127.0.0.1:9/callback/",
        "http://127.0.0.1:9/callbac",
        "http://127.0.0.1:9/callbackx",
        "http://127.0.0.1:9/CALLBACK",
        "http://127.0.0.1:9/callback?x=1",
        "http://127.0.0.1:9/callback#x",
        "http://evil@127.0.0.1:9/callback",
        "http://127.0.0.1:10/callback",
        "http://127.0.0.1/callback",
        "https://127.0.0.1:9/callback",
        "http://localhost:9/callback",
    ] {
        let query = authorize_query(&app, &[("redirect_uri", spelling)]);
        let page = http
            .get(server.url(&format!("/oauth/authorize?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::BAD_REQUEST, "{spelling}");
        assert!(page.headers().get(LOCATION).is_none(), "{spelling}");
    }
    let unknown = authorize_query(
        &App {
            id: "someone-else".into(),
            secret: None,
        },
        &[],
    );
    let page = http
        .get(server.url(&format!("/oauth/authorize?{unknown}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(page.headers().get(LOCATION).is_none());
    // PKCE downgrades and prompt=none go back to the client with an error.
    for (extra, error) in [
        (&[("code_challenge_method", "plain")][..], "invalid_request"),
        (&[("code_challenge_method", "")][..], "invalid_request"),
        (&[("code_challenge", "")][..], "invalid_request"),
        (&[("prompt", "none")][..], "login_required"),
    ] {
        let query = authorize_query(&app, extra);
        let back = http
            .get(server.url(&format!("/oauth/authorize?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(back.status(), StatusCode::SEE_OTHER, "{extra:?}");
        let to = location(&back);
        assert!(to.starts_with(REDIRECT), "{to}");
        assert_eq!(
            query_param(&to, "error").as_deref(),
            Some(error),
            "{extra:?}"
        );
        assert_eq!(query_param(&to, "code"), None);
    }
    // The token endpoint: a wrong secret is 401 with WWW-Authenticate.
    let wrong = App {
        id: app.id.clone(),
        secret: Some("wrong".into()),
    };
    let response = token_request(
        &server,
        &wrong,
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    assert_eq!(
        common::status_and_body(response).await.1["error"],
        "invalid_client"
    );
    // A code of the public client used by the confidential one: invalid_grant.
    let (code, session) = sign_in_for_code(&server, &public, false).await;
    let (status, body) = exchange(&server, &app, &code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // Consent: another origin, or no CSRF token, is refused.
    let consent = http
        .get(server.url(&format!("/oauth/authorize?{}", authorize_query(&app, &[]))))
        .header(COOKIE, format!("session_id={session}"))
        .send()
        .await
        .unwrap();
    let html = consent.text().await.unwrap();
    let form = consent_form(&html, "allow");
    let cross_site = http
        .post(server.url("/oauth/consent"))
        .header(COOKIE, format!("session_id={session}"))
        .header("Origin", "https://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    let no_token: Vec<_> = form
        .iter()
        .filter(|(n, _)| n != "csrf_token")
        .cloned()
        .collect();
    let forged = http
        .post(server.url("/oauth/consent"))
        .header(COOKIE, format!("session_id={session}"))
        .form(&no_token)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // A login's next that is not an authorization request goes to /me.
    let page = http
        .get(server.url("/login?next=https://evil.example/"))
        .send()
        .await
        .unwrap();
    let nonce = set_cookie(&page, "authd_csrf").unwrap();
    let html = page.text().await.unwrap();
    assert!(!html.contains("name=\"next\""));
    let logged_in = http
        .post(server.url("/login"))
        .header(COOKIE, format!("authd_csrf={nonce}"))
        .form(&[
            ("csrf_token", hidden(&html, "csrf_token").as_str()),
            ("username", "alice"),
            ("password", PASSWORD),
            ("next", "//evil.example/oauth/authorize"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&logged_in), "/me");
}

#[test]
fn bad_client_registrations_and_an_insecure_issuer_are_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let database = sqlite_url(dir.path());
    for uri in [
        "http://app.example/cb",
        "https://app.example/cb#x",
        "/cb",
        "https://APP.example/cb",
    ] {
        let out = Run::authd()
            .current_dir(dir.path())
            .args([
                "--database",
                &database,
                "client",
                "add",
                "x",
                "--redirect-uri",
                uri,
            ])
            .output();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{uri}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{uri}: {stderr}");
        assert!(stderr.contains("--redirect-uri"), "{uri}: {stderr}");
    }
    let out = Run::authd()
        .current_dir(dir.path())
        .args([
            "--database",
            &database,
            "serve",
            "--public-url",
            "http://auth.example.com",
        ])
        .output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--public-url"), "{stderr}");
}

#[tokio::test]
#[ignore = "needs AUTHD_TEST_POSTGRES_URL"]
async fn two_servers_on_one_postgres_finish_what_the_other_started() {
    let schema = auth_db::test_support::TestDb::postgres()
        .expect("AUTHD_TEST_POSTGRES_URL must name a PostgreSQL server for this test");
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("shared.key").display().to_string();
    // One issuer for the deployment, as behind a load balancer.
    let issuer = "http://localhost:8443";
    let options = [
        "--secret-key-file",
        key.as_str(),
        "--public-url",
        issuer,
        "--ip-rate-limit",
        "off",
    ];
    let a = Server::start_with(dir.path(), &schema.url, &options);
    let b = Server::start_with(dir.path(), &schema.url, &options);
    let store = Store {
        dir: dir.path().to_path_buf(),
        database: schema.url.clone(),
        global: vec!["--secret-key-file".into(), key.clone()],
    };
    add_alice(&store);
    let app = add_client_to(&store, &[]);
    // The login and consent on A, the code exchanged on B.
    let (code, _session) = sign_in_for_code_at(&a, issuer, &app, true).await;
    let (status, tokens) = exchange(&b, &app, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    // Signed by B, verified with A's key set: one set of keys.
    let claims = verified_claims(&a, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["iss"], issuer);
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&a, access).await.status(), StatusCode::OK);
    // The code again on A: refused, and what B gave is revoked.
    let (status, _) = exchange(&a, &app, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        userinfo(&b, access).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

/// The CSRF token of a signed-in page.
async fn page_csrf(server: &Server, session: &str, path: &str) -> String {
    let page = common::client()
        .get(server.url(path))
        .header(COOKIE, format!("session_id={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK, "{path}");
    hidden(&page.text().await.unwrap(), "csrf_token")
}

/// Authorizes the client again (through the consent page when it asks)
/// and exchanges the code.
async fn consent_again(server: &Server, app: &App, session: &str) -> Value {
    let http = common::client();
    let page = http
        .get(server.url(&format!("/oauth/authorize?{}", authorize_query(app, &[]))))
        .header(COOKIE, format!("session_id={session}"))
        .send()
        .await
        .unwrap();
    let redirect = if page.status() == StatusCode::OK {
        let form = consent_form(&page.text().await.unwrap(), "allow");
        let allowed = http
            .post(server.url("/oauth/consent"))
            .header(COOKIE, format!("session_id={session}"))
            .form(&form)
            .send()
            .await
            .unwrap();
        location(&allowed)
    } else {
        location(&page)
    };
    let code = query_param(&redirect, "code").unwrap();
    let (status, tokens) = exchange(server, app, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

#[tokio::test]
async fn users_and_operators_end_what_they_allowed() {
    let server = server_with_alice();
    let app = add_client(&server, &[]);
    let http = common::client();
    let (code, session) = sign_in_for_code(&server, &app, true).await;
    let (_, tokens) = exchange(&server, &app, &code).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();

    // /me/apps lists the application; its button revokes tokens and consent.
    let page = http
        .get(server.url("/me/apps"))
        .header(COOKIE, format!("session_id={session}"))
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("Test app"), "{html}");
    let csrf = hidden(&html, "csrf_token");
    let revoked = http
        .post(server.url(&format!("/me/apps/{}/revoke", app.id)))
        .header(COOKIE, format!("session_id={session}"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        userinfo(&server, &access).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // "End all other sessions" ends the account's tokens too.
    let tokens = consent_again(&server, &app, &session).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo(&server, &access).await.status(), StatusCode::OK);
    let csrf = page_csrf(&server, &session, "/me/sessions").await;
    let ended = http
        .post(server.url("/me/sessions/end-others"))
        .header(COOKIE, format!("session_id={session}"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        userinfo(&server, &access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = refresh(&server, &app, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // The operator's commands.
    let store = Store::of(&server);
    let text = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let listed = text(store.authd(&["client", "list"]).output());
    assert!(
        listed.contains(&app.id) && listed.contains("Test app (confidential)"),
        "{listed}"
    );
    let shown = text(store.authd(&["client", "show", &app.id]).output());
    assert!(
        shown.contains(&format!("redirect_uri: {REDIRECT}")),
        "{shown}"
    );
    assert!(
        !shown.contains("secret"),
        "the secret is never shown again: {shown}"
    );
    let rotated = text(store.authd(&["client", "rotate-secret", &app.id]).output());
    let secret = rotated
        .lines()
        .find_map(|l| l.strip_prefix("client_secret: "))
        .unwrap()
        .to_owned();
    let tokens = consent_again(
        &server,
        &App {
            id: app.id.clone(),
            secret: Some(secret.clone()),
        },
        &session,
    )
    .await;
    let (status, _) = refresh(&server, &app, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the old secret no longer works"
    );
    let keys = text(
        store
            .authd(&["oidc", "rotate-key", "--alg", "ES256"])
            .output(),
    );
    assert!(keys.starts_with("added signing key "), "{keys}");
    let jwks: Value = http
        .get(server.url("/oauth/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    text(store.authd(&["client", "delete", &app.id]).output());
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        userinfo(&server, access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let out = store.authd(&["client", "show", &app.id]).output();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such client"));
}

#[tokio::test]
async fn the_token_endpoint_counts_toward_the_per_address_limit() {
    let server = Server::start(&["--ip-rate-limit", "2/min"]);
    let http = common::client();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = http
            .post(server.url("/oauth/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "x"),
                ("client_id", "x"),
            ])
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
    }
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}

/// A certified relying party library, `openidconnect`, with nothing but the
/// issuer, the client id and the secret: discovery, the code flow with PKCE,
/// the ID token checked against the key set (signature, nonce, at_hash),
/// userinfo, and refresh with rotation.
#[tokio::test]
async fn the_openidconnect_crate_signs_in_reads_userinfo_and_refreshes() {
    use openidconnect::core::{
        CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
    };
    use openidconnect::{
        AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
        OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
    };
    let server = server_with_alice();
    let app = add_client(&server, &[]);
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let issuer = IssuerUrl::new(server.base_url.clone()).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(app.id.clone()),
        app.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();
    let (redirect, _session) = browse(&server, url.as_str(), true).await;
    assert_eq!(
        query_param(&redirect, "state").as_deref(),
        Some(state.secret().as_str())
    );
    let code = AuthorizationCode::new(query_param(&redirect, "code").unwrap());
    let tokens = client
        .exchange_code(code)
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    let id_verifier = client.id_token_verifier();
    let claims = id_token.claims(&id_verifier, &nonce).unwrap();
    let at_hash = claims.access_token_hash().expect("at_hash");
    let computed = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(&computed, at_hash);
    assert_eq!(
        claims.preferred_username().map(|name| name.as_str()),
        Some("alice")
    );
    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().to_owned(), None)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(info.subject(), claims.subject());
    let refresh = tokens
        .refresh_token()
        .expect("offline_access gives a refresh token");
    let refreshed = client
        .exchange_refresh_token(refresh)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        refresh.secret()
    );
    let reused = client
        .exchange_refresh_token(refresh)
        .unwrap()
        .request_async(&http)
        .await;
    assert!(reused.is_err(), "a rotated refresh token is refused");
}
