//! Scale-out on one PostgreSQL database (issue 26): 1, 2, then 4 `authd
//! serve` on the same database and key, the connections spread over them,
//! and the statements one request sends, counted through a proxy.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;

use reqwest::header::HeaderValue;
use reqwest::{Client, StatusCode, Url};

use crate::client::{self, Users};
use crate::load::{phase, targets, Load, Phase, Watch};
use crate::postgres::{BenchDatabase, Monitor};
use crate::server::{self, Launch, Server};
use crate::single::LOGIN_WINDOW_FACTOR;
use crate::wire::{self, Counts, Reading};
use crate::Args;

/// A fixed key for `--postgres-in-place`, so that a database kept from an
/// earlier run (whose fingerprint is this key's) is taken again.
const IN_PLACE_KEY_HEX: &str = "62656e63682d6b65792d6f662d61757468642d62656e63682d72756e732d2d2d";

/// Session checks and logins measured with one number of servers.
pub struct ScaleRow {
    /// How many servers shared the load.
    pub servers: usize,
    /// The session-check phase.
    pub checks: Phase,
    /// The logins phase.
    pub logins: Phase,
}

/// Statements and round trips per request of one kind.
#[derive(Clone, Copy, Debug, Default)]
pub struct PerRequest {
    /// Requests counted.
    pub requests: u64,
    /// Statements (`Q` and `E` messages) per request.
    pub statements: f64,
    /// Round trips (`Q` and `S` messages) per request.
    pub round_trips: f64,
    /// Database connections opened meanwhile.
    pub connections: u64,
}

/// What the PostgreSQL part of the run measured.
pub struct ScaleReport {
    /// `SHOW server_version`.
    pub version: String,
    /// Which database the servers used.
    pub database: String,
    /// One row per server count, in the order run.
    pub rows: Vec<ScaleRow>,
    /// Session checks per request, if they could be counted.
    pub check_statements: Option<PerRequest>,
    /// Logins per request, if they could be counted.
    pub login_statements: Option<PerRequest>,
    /// Why the statements were not counted, if they were not.
    pub counting_note: Option<String>,
    /// Setup requests not answered 200.
    pub setup_unexpected: u64,
    /// What the servers wrote to stderr.
    pub stderr: Vec<String>,
}

/// Makes the database, migrates it once, then measures each server count of
/// `--servers` (servers are added, not restarted) and counts statements.
pub fn run_postgres(
    args: &Args,
    authd: &Path,
    given: &str,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<ScaleReport> {
    let database = BenchDatabase::create(given, args.postgres_in_place)?;
    let dir = tempfile::tempdir()?;
    let key_file = dir.path().join("authd.key");
    if args.postgres_in_place {
        std::fs::write(&key_file, IN_PLACE_KEY_HEX)?;
    }
    let launch = Launch {
        authd: authd.to_owned(),
        dir: dir.path().to_owned(),
        database: database.url.clone(),
        bcrypt_cost: args.bcrypt_cost,
        key_file: Some(key_file),
    };
    eprintln!("bench: PostgreSQL: authd migrate on {}", database.name());
    server::migrate(&launch)?;
    let monitor = Arc::new(Monitor::connect(&database.url)?);
    let users = Users::new(args.users);
    let client = client::keep_alive().build()?;
    let mut servers: Vec<Server> = Vec::new();
    let mut rows = Vec::new();
    let mut cookie = None;
    let mut setup_unexpected = 0;
    let mut counts: Vec<usize> = args.servers.iter().map(|&n| n.max(1)).collect();
    counts.sort_unstable();
    counts.dedup();
    for &count in &counts {
        while servers.len() < count {
            servers.push(Server::start(&launch, &[])?);
        }
        let serving: Vec<&Server> = servers[..count].iter().collect();
        if cookie.is_none() {
            let (made, unexpected) = runtime.block_on(set_up(&client, &serving, &users))?;
            setup_unexpected += unexpected;
            cookie = Some(made);
        }
        let session = cookie.clone().expect("set up above");
        let watch = Watch {
            servers: serving,
            database: Some(Arc::clone(&monitor)),
        };
        rows.push(runtime.block_on(measure(args, &client, &watch, &users, session)));
    }
    let mut stderr = server::stop_all(servers);

    eprintln!("bench: PostgreSQL: counting statements per request through a proxy");
    let counted = match upstream_of(&database.url) {
        Ok(upstream) => runtime.block_on(count_statements(&launch, upstream, &users, &client)),
        Err(e) => Err(e),
    };
    let (check_statements, login_statements, counting_note) = match counted {
        Ok((checks, logins, lines)) => {
            stderr.extend(lines);
            (Some(checks), Some(logins), None)
        }
        Err(e) => (None, None, Some(e.to_string())),
    };
    let version = monitor.server_version();
    drop(monitor);
    Ok(ScaleReport {
        version,
        database: database.name(),
        rows,
        check_statements,
        login_statements,
        counting_note,
        setup_unexpected,
        stderr,
    })
}

/// Registers the users on the first server and logs user 0 in: the
/// session cookie, checked on every server, and the registrations not
/// answered 200.
async fn set_up(
    client: &Client,
    servers: &[&Server],
    users: &Users,
) -> anyhow::Result<(HeaderValue, u64)> {
    let unexpected = client::register(client, &servers[0].url("/users"), users).await?;
    let sessions = servers[0].url("/sessions");
    let cookie = client::session_cookie(client, &sessions, users, 0).await?;
    // The session of one server is the session of every other.
    for server in servers {
        client::expect_profile(client, &server.url("/profile"), &cookie).await?;
    }
    Ok((cookie, unexpected))
}

/// Session checks, then logins, over the watched servers.
async fn measure(
    args: &Args,
    client: &Client,
    watch: &Watch<'_>,
    users: &Users,
    cookie: HeaderValue,
) -> ScaleRow {
    let count = watch.servers.len();
    let seconds = args.seconds.max(1);
    let conns = args.connections.max(1);
    let login_conns = args.login_connections.max(1);
    eprintln!("bench: PostgreSQL, {count} server(s): session checks at {conns} connections");
    let profile = Load::Profile(targets(&watch.servers, "/profile"), cookie);
    // A server just started opens its pool's connections under the first
    // load (hundreds of ms each on a busy machine): two seconds of checks,
    // not measured, before the phase.
    let loads = vec![("GET /profile", profile.clone(), conns)];
    phase("warm-up", client, loads, 1, watch).await;
    let loads = vec![("GET /profile", profile, conns)];
    let checks = phase("checks", client, loads, seconds, watch).await;
    eprintln!("bench: PostgreSQL, {count} server(s): logins at {login_conns} connections");
    let bodies = users.login_bodies(args.login_accounts.unwrap_or(users.count));
    let login = Load::Login(targets(&watch.servers, "/sessions"), bodies);
    let loads = vec![("POST /sessions", login, login_conns)];
    let window = seconds * LOGIN_WINDOW_FACTOR;
    let logins = phase("logins", client, loads, window, watch).await;
    ScaleRow {
        servers: count,
        checks,
        logins,
    }
}

/// The host and port of a `postgres://` URL, for the proxy to connect to.
fn upstream_of(url: &str) -> anyhow::Result<SocketAddr> {
    let url = Url::parse(url)?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| anyhow::anyhow!("not counted: the URL names no TCP host"))?;
    let port = url.port().unwrap_or(5432);
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| anyhow::anyhow!("not counted: {host} has no address"))
}

/// `url` pointed at the proxy at `proxy`, without TLS (the proxy reads the messages).
fn through_proxy(url: &str, proxy: SocketAddr) -> anyhow::Result<String> {
    let mut url = Url::parse(url)?;
    url.set_ip_host(proxy.ip())
        .map_err(|()| anyhow::anyhow!("the URL takes no host"))?;
    url.set_port(Some(proxy.port()))
        .map_err(|()| anyhow::anyhow!("the URL takes no port"))?;
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !k.starts_with("ssl"))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("sslmode", "disable");
    Ok(url.to_string())
}

/// One server through the counting proxy: after a warm-up (connections
/// opened, statements prepared), sequential session checks, then
/// sequential logins, each counted between two readings.
async fn count_statements(
    launch: &Launch,
    upstream: SocketAddr,
    users: &Users,
    client: &Client,
) -> anyhow::Result<(PerRequest, PerRequest, Vec<String>)> {
    let (proxy, counts) = wire::start_proxy(upstream)?;
    let mut counted = launch.clone();
    counted.database = through_proxy(&launch.database, proxy)?;
    // Blocking is harmless here: the proxy runs on threads of its own.
    let server = Server::start(&counted, &[])?;
    let result = async {
        let sessions = server.url("/sessions");
        let profile = server.url("/profile");
        let cookie = client::session_cookie(client, &sessions, users, 0).await?;
        for _ in 0..20 {
            client::expect_profile(client, &profile, &cookie).await?;
        }
        let checks = per_request(&counts, 500, |_| async {
            client::expect_profile(client, &profile, &cookie).await
        })
        .await?;
        let login_once = |i: usize| {
            let request = client::form_post(client, &sessions, users.form(i % users.count));
            async move {
                let status = request.send().await?.status();
                anyhow::ensure!(status == StatusCode::OK, "login: {status}");
                Ok(())
            }
        };
        login_once(1).await?;
        let logins = per_request(&counts, 8, login_once).await?;
        anyhow::Ok((checks, logins))
    }
    .await;
    let stderr = server.stop();
    let (checks, logins) = result?;
    Ok((checks, logins, stderr))
}

/// `requests` calls of `request`, one after another, and what the proxy
/// counted meanwhile, per request.
async fn per_request<F, Fut>(
    counts: &Counts,
    requests: u64,
    mut request: F,
) -> anyhow::Result<PerRequest>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let before: Reading = counts.read();
    for i in 0..requests {
        request(i as usize).await?;
    }
    let after = counts.read();
    let per = |a: u64, b: u64| (a - b) as f64 / requests as f64;
    Ok(PerRequest {
        requests,
        statements: per(after.statements, before.statements),
        round_trips: per(after.round_trips, before.round_trips),
        connections: after.connections - before.connections,
    })
}
