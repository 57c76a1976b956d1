//! auth-http's routes mounted under `/auth` inside a larger warp app that has
//! a route of its own. The example binds 127.0.0.1:0, makes a few real
//! requests to itself, prints what came back and stops.
//!
//!     cargo run --example embed_routes
//!
//! The JSON API works under any prefix. The web pages (`/signup`, `/login`,
//! `/me`) redirect to absolute paths and are meant to be served at the root.

use auth_core::{Auth, Config, SecretKey};
use auth_http::HttpConfig;
use serde_json::{json, Value};
use warp::Filter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("auth.db").display());
    let config = Config {
        bcrypt_cost: 4,
        ..Config::default()
    };
    let auth = Auth::open(&url, SecretKey::generate(), config).await?;

    // The host application's own route…
    let hello = warp::path!("hello")
        .and(warp::get())
        .map(|| warp::reply::json(&json!({"message": "hello from the host app"})));
    // …and authd's, under /auth. They go last: their fallback answers every
    // path under the prefix (404 or 405 as JSON).
    let auth_routes = warp::path("auth").and(auth_http::routes(auth, HttpConfig::default()));
    let app = hello
        .map(warp::Reply::into_response)
        .or(auth_routes)
        .unify()
        .boxed();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // auth-http's connection layer serves any warp filter: header and idle
    // timeouts, a connection limit, and TLS with `ServeOptions::tls`.
    let server = tokio::spawn(auth_http::server::serve(
        listener,
        app,
        auth_http::server::ServeOptions::default(),
        async {
            let _ = stopped.await;
        },
    ));
    println!("serving on http://{addr}");

    let base = format!("http://{addr}");
    let http = reqwest::Client::new();

    let response = http.get(format!("{base}/hello")).send().await?;
    show("GET /hello", response.status(), &response.text().await?);

    let response = http.get(format!("{base}/auth/")).send().await?;
    show("GET /auth/", response.status(), &response.text().await?);

    let credentials = json!({"username": "kvothe", "password": "correct horse battery staple"});
    let response = http
        .post(format!("{base}/auth/users"))
        .json(&credentials)
        .send()
        .await?;
    show(
        "POST /auth/users",
        response.status(),
        &response.text().await?,
    );

    let response = http
        .post(format!("{base}/auth/sessions"))
        .json(&credentials)
        .send()
        .await?;
    let status = response.status();
    // The cookie value is a secret: it is used, never printed.
    let cookie = response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.split(';').next().filter(|c| c.starts_with("session_id=")))
        .map(str::to_owned);
    show("POST /auth/sessions", status, &response.text().await?);
    let cookie = cookie.ok_or_else(|| anyhow::anyhow!("the login set no session cookie"))?;
    println!("  (got a session_id cookie)");

    let response = http
        .get(format!("{base}/auth/profile"))
        .header(reqwest::header::COOKIE, &cookie)
        .send()
        .await?;
    show(
        "GET /auth/profile",
        response.status(),
        &response.text().await?,
    );

    let response = http.get(format!("{base}/auth/profile")).send().await?;
    show(
        "GET /auth/profile without the cookie",
        response.status(),
        &response.text().await?,
    );

    let response = http.get(format!("{base}/auth/no-such-page")).send().await?;
    show(
        "GET /auth/no-such-page",
        response.status(),
        &response.text().await?,
    );

    let _ = stop.send(());
    server.await?;
    println!("stopped");
    Ok(())
}

fn show(request: &str, status: reqwest::StatusCode, body: &str) {
    let body =
        serde_json::from_str::<Value>(body).map_or_else(|_| body.to_owned(), |v| v.to_string());
    println!("{request} -> {status} {body}");
}
