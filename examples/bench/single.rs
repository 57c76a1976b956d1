//! The run of issue 7 on one server: setup, then `GET /`, session checks,
//! logins beside the bcrypt limit, a login storm, cached `/check`,
//! forward-auth checks, then the OpenID Connect provider's requests.

use std::time::Instant;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::StatusCode;

use crate::client::{self, Users};
use crate::load::{phase, targets, Load, Phase, Watch};
use crate::oidc::{self, CodeFlow, OidcClient, Refreshes};
use crate::server::Server;
use crate::Args;

/// The logins phase is measured this many times longer than the others.
pub const LOGIN_WINDOW_FACTOR: u64 = 3;

/// What the single-server run measured.
pub struct Report {
    /// `/proc/loadavg` at the start.
    pub load_average: String,
    /// Seconds the setup took (registrations, a login, a binding).
    pub setup_secs: f64,
    /// Setup requests that were not answered 200.
    pub setup_unexpected: u64,
    /// The mean time of one bcrypt hash here, in seconds.
    pub hash_secs: f64,
    /// Hashes per second with one thread per core hashing at once.
    pub parallel_hashes_per_sec: f64,
    /// CPUs this process may use.
    pub cores: usize,
    /// The phases in order: `GET /`, session checks, logins, storm, `/check`,
    /// forward-auth checks, then the two TLS phases.
    pub phases: Vec<Phase>,
    /// Peak RSS of the plain server.
    pub peak_rss_kib: Option<u64>,
    /// Threads of the plain server at the end.
    pub threads_at_end: Option<u64>,
    /// Peak RSS of the TLS server.
    pub tls_peak_rss_kib: Option<u64>,
    /// Session checks, then bearer checks, one right after the other
    /// (docs/contract/11-access-tokens-and-admin-api.md).
    pub bearer: Vec<Phase>,
}

/// Sets the server up and runs the phases on it.
pub async fn run(
    args: &Args,
    server: &Server,
    oidc_client: &OidcClient,
    launch: &crate::server::Launch,
) -> anyhow::Result<Report> {
    let client = client::keep_alive().build()?;
    let load_average = crate::procfs::load_average();
    let users = Users::new(args.users);
    let setup_started = Instant::now();
    let mut setup_unexpected = client::register(&client, &server.url("/users"), &users).await?;

    // User 0's session cookie for the session checks.
    let cookie = client::session_cookie(&client, &server.url("/sessions"), &users, 0).await?;
    client::expect_profile(&client, &server.url("/profile"), &cookie).await?;

    // User 1 binds the bench's machine.
    let check_header = users.check_header();
    let (status, body) = client::check(&client, &server.url("/check"), &check_header).await?;
    anyhow::ensure!(status == StatusCode::OK, "setup check: {status} {body}");
    let setup_secs = setup_started.elapsed().as_secs_f64();

    let seconds = args.seconds.max(1);
    let conns = args.connections.max(1);
    let login_conns = args.login_connections.max(1);
    let servers = [server];
    let root = Load::Root(targets(&servers, "/"));
    let verify = Load::Verify(targets(&servers, "/auth/verify"), cookie.clone());
    let profile = Load::Profile(targets(&servers, "/profile"), cookie.clone());
    let login = Load::Login(
        targets(&servers, "/sessions"),
        users.login_bodies(args.login_accounts.unwrap_or(users.count)),
    );
    let watch = Watch {
        servers: servers.to_vec(),
        database: None,
    };
    let mut phases = Vec::new();

    eprintln!("bench: phase 1/13: GET / at {conns} connections");
    let loads = vec![("GET /", root, conns)];
    phases.push(phase("GET /", &client, loads, seconds, &watch).await);
    eprintln!("bench: phase 2/13: session checks at {conns} connections");
    let loads = vec![("GET /profile", profile.clone(), conns)];
    phases.push(phase("session checks", &client, loads, seconds, &watch).await);

    // The bcrypt limit, timed here while the server is idle.
    eprintln!("bench: timing bcrypt at cost {}", args.bcrypt_cost);
    let cost = args.bcrypt_cost;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let hash_secs = tokio::task::spawn_blocking(move || time_bcrypt(cost)).await?;
    let parallel_hashes_per_sec =
        tokio::task::spawn_blocking(move || time_parallel_bcrypt(cost, cores)).await?;

    eprintln!("bench: phase 3/13: logins at {login_conns} connections");
    // A login takes a quarter of a second of CPU: three times as long a
    // window, so that one login more or less moves the rate ~1%.
    let loads = vec![("POST /sessions", login.clone(), login_conns)];
    let window = seconds * LOGIN_WINDOW_FACTOR;
    phases.push(phase("logins", &client, loads, window, &watch).await);
    eprintln!("bench: phase 4/13: session checks during a login storm");
    let loads = vec![
        ("GET /profile", profile, conns),
        ("POST /sessions", login, login_conns),
    ];
    phases.push(phase("login storm", &client, loads, seconds, &watch).await);

    // The cache keeps a triple 60 s: verify it again right before the phase.
    let (warm, _) = client::check(&client, &server.url("/check"), &check_header).await?;
    if warm != StatusCode::OK {
        setup_unexpected += 1;
    }
    eprintln!("bench: phase 5/13: repeated /check at {conns} connections");
    let check = Load::Check(targets(&servers, "/check"), check_header);
    let loads = vec![("GET /check", check, conns)];
    phases.push(phase("/check (cached)", &client, loads, seconds, &watch).await);

    eprintln!("bench: phase 6/13: forward-auth checks (/auth/verify) at {conns} connections");
    let loads = vec![("GET /auth/verify", verify, conns)];
    phases.push(phase("forward auth", &client, loads, seconds, &watch).await);
    phases.extend(oidc_phases(args, &client, server, oidc_client, &cookie, &watch).await?);

    // The bearer check against the cookie session check, back to back so
    // that they see the same machine.
    let token = crate::server::token_add(launch, &users.username(0))?;
    let authorization = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))?;
    let cookie = client::session_cookie(&client, &server.url("/sessions"), &users, 0).await?;
    let mut bearer = Vec::new();
    eprintln!("bench: bearer phase 1/2: session checks at {conns} connections");
    let loads = vec![(
        "GET /profile",
        Load::Profile(targets(&servers, "/profile"), cookie),
        conns,
    )];
    bearer.push(phase("session checks", &client, loads, seconds, &watch).await);
    eprintln!("bench: bearer phase 2/2: bearer checks at {conns} connections");
    let bearer_load = Load::Bearer(targets(&servers, "/profile"), authorization);
    let loads = vec![("GET /profile bearer", bearer_load, conns)];
    bearer.push(phase("bearer checks", &client, loads, seconds, &watch).await);

    Ok(Report {
        load_average,
        setup_secs,
        setup_unexpected,
        hash_secs,
        parallel_hashes_per_sec,
        cores,
        phases,
        peak_rss_kib: None,
        threads_at_end: None,
        tls_peak_rss_kib: None,
        bearer,
    })
}

/// The OpenID Connect phases, as user 0 (the session of `cookie`) signed in
/// to the bench's client: discovery and JWKS, userinfo, introspection,
/// refreshes, code flows.
async fn oidc_phases(
    args: &Args,
    client: &reqwest::Client,
    server: &Server,
    oidc_client: &OidcClient,
    cookie: &reqwest::header::HeaderValue,
    watch: &Watch<'_>,
) -> anyhow::Result<Vec<Phase>> {
    let seconds = args.seconds.max(1);
    let conns = args.connections.max(1);
    let base = server.url("/");
    // One grant per refreshing connection: two rotations of one refresh
    // token at once would be a reuse, which revokes the grant.
    let tokens = oidc::setup(client, &base, oidc_client, cookie, conns).await?;
    let servers = [server];
    let mut phases = Vec::new();

    eprintln!("bench: phase 7/13: OpenID discovery and JWKS at {conns} connections");
    let discovery = Load::Get(targets(&servers, "/.well-known/openid-configuration"));
    let jwks = Load::Get(targets(&servers, "/oauth/jwks"));
    let half = (conns / 2).max(1);
    let loads = vec![
        ("GET discovery", discovery, half),
        ("GET /oauth/jwks", jwks, half),
    ];
    phases.push(phase("OIDC discovery", client, loads, seconds, watch).await);

    eprintln!("bench: phase 8/13: userinfo with a bearer token at {conns} connections");
    let bearer =
        reqwest::header::HeaderValue::from_str(&format!("Bearer {}", tokens.access_token))?;
    let userinfo = Load::Bearer(targets(&servers, "/oauth/userinfo"), bearer);
    let loads = vec![("GET userinfo", userinfo, conns)];
    phases.push(phase("OIDC userinfo", client, loads, seconds, watch).await);

    eprintln!("bench: phase 9/13: introspection at {conns} connections");
    let body = std::sync::Arc::new(format!("token={}", tokens.access_token));
    let introspect = Load::Introspect(
        targets(&servers, "/oauth/introspect"),
        oidc_client.basic.clone(),
        body,
    );
    let loads = vec![("POST introspect", introspect, conns)];
    phases.push(phase("OIDC introspect", client, loads, seconds, watch).await);

    let refreshes = Refreshes::new(&base, oidc_client, tokens.refresh_tokens)?;
    let refresh_conns = refreshes.connections();
    eprintln!("bench: phase 10/13: refresh-token grants at {refresh_conns} connections");
    let loads = vec![(
        "refresh grant",
        Load::Refresh(refreshes.into()),
        refresh_conns,
    )];
    phases.push(phase("OIDC refresh", client, loads, seconds, watch).await);

    eprintln!("bench: phase 11/13: authorization-code flows at {conns} connections");
    let flow = CodeFlow::new(&base, oidc_client, cookie)?;
    let loads = vec![("code flow", Load::CodeFlow(flow.into()), conns)];
    phases.push(phase("OIDC code flow", client, loads, seconds, watch).await);
    Ok(phases)
}

/// The mean time of one `bcrypt::hash` at `cost` in this process (one
/// warm-up, then four timed).
fn time_bcrypt(cost: u32) -> f64 {
    // What the server hashes: base64 of an HMAC-SHA256, 44 characters.
    let input = STANDARD.encode([7u8; 32]);
    let _ = bcrypt::hash(&input, cost);
    let runs = 4;
    let started = Instant::now();
    for _ in 0..runs {
        let _ = bcrypt::hash(&input, cost).expect("bcrypt hashes");
    }
    started.elapsed().as_secs_f64() / runs as f64
}

/// Hashes per second of `threads` threads hashing at once (two each), to
/// show whether the cores really add up (they may share a physical core).
fn time_parallel_bcrypt(cost: u32, threads: usize) -> f64 {
    let input = STANDARD.encode([7u8; 32]);
    let per_thread = 2;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for _ in 0..per_thread {
                    let _ = bcrypt::hash(&input, cost).expect("bcrypt hashes");
                }
            });
        }
    });
    (threads * per_thread) as f64 / started.elapsed().as_secs_f64()
}
