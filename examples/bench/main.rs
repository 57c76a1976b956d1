//! Load benchmark of a real `authd serve` (issues 7 and 26).
//!
//! ```text
//! cargo build --release && cargo run --release --example bench [-- --seconds 5]
//! cargo run --release --example bench -- --postgres postgres://postgres@127.0.0.1:5432/test
//! ```
//!
//! It starts the release `authd` (`--authd PATH`, by default `authd` next to
//! this example's own `target/release`) on a SQLite database in a temporary
//! folder, at bcrypt cost 12 with `RUST_LOG=warn`, registers a few users, and
//! drives it from this process with a keep-alive HTTP/1.1 client and N
//! concurrent tasks per phase:
//!
//! 1. `GET /`: the HTTP ceiling of this server;
//! 2. session checks (`GET /profile` with the cookie);
//! 3. logins (`POST /sessions`), beside the bcrypt limit measured here
//!    (CPU cores ÷ the time of one hash);
//! 4. session checks during a login storm;
//! 5. repeated `GET /check` answered from the verified-credential cache,
//!    then forward-auth checks (`GET /auth/verify` as nginx asks it, with
//!    the session cookie of (2)), printed as (5b), a ratio of (2);
//! 6. the server's peak RSS (`VmHWM`), the OpenID Connect phases below
//!    included;
//! 7. answers that did not have the expected status;
//! 8. then a second server over TLS (a certificate of a CA made here):
//!    session checks over TLS keep-alive as a ratio of (2), new TLS
//!    connections per second (one request each), and its peak RSS;
//! 9. before the TLS server, on the plain one, the OpenID Connect provider
//!    (a client registered with `authd client add`, allowed once on the
//!    consent page), printed as (11) to (15): discovery and the JWKS,
//!    `userinfo` with a bearer token and `introspect` (each a ratio of
//!    (2)), refresh-token grants (a rotation each, one grant per
//!    connection), and whole code flows (authorize with the live session
//!    and the consent, then the token endpoint).
//!
//! With `--postgres URL` it then makes a fresh database beside the one the
//! URL names, migrates it once, and starts 1, then 2, then 4 servers on it
//! (`--servers`), all with one key file; for each count it measures session
//! checks and logins with the connections spread over the servers, beside
//! the CPU of the servers and of PostgreSQL's backends. It prints the
//! one-server PostgreSQL figures as a share of SQLite's, and the statements
//! and round trips of one request, counted by a proxy in front of
//! PostgreSQL. The database is dropped at the end.
//!
//! It prints figures and the issues' target ratios; it asserts nothing about
//! time. The load generator shares the machine's cores with the servers, so
//! its own CPU use is printed beside each phase.

// A benchmark harness: a failed step (no server, a refused request) ends the
// run with its message, which is all it can do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client;
mod load;
mod oidc;
mod postgres;
mod procfs;
mod report;
mod scale;
mod server;
mod single;
mod tls;
mod wire;

use std::path::PathBuf;

use clap::Parser;

use crate::server::{Launch, Server};

/// Load benchmark of a real `authd serve`.
#[derive(Parser, Debug)]
#[command(name = "bench")]
pub struct Args {
    /// The authd binary [default: authd next to this example's target/release].
    #[arg(long)]
    authd: Option<PathBuf>,
    /// Measured seconds per phase, three times as many for logins (each phase
    /// also has a one-second warm-up).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// bcrypt cost of the servers and of the in-process hash timing.
    #[arg(long, default_value_t = 12)]
    bcrypt_cost: u32,
    /// Concurrent connections for GET /, session checks and /check.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Concurrent connections for logins.
    #[arg(long, default_value_t = 16)]
    login_connections: usize,
    /// Users registered at setup (each registration costs one hash).
    #[arg(long, default_value_t = 16)]
    users: usize,
    /// Accounts the login connections log in to, taken in turn (1: every
    /// connection logs in to one account, as a busy shared account does)
    /// [default: every registered user].
    #[arg(long)]
    login_accounts: Option<usize>,
    /// Worker threads of the load generator's runtime (1: a current-thread runtime).
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// A PostgreSQL server to measure too, as a `postgres://…` URL of a
    /// database to connect to: the bench creates `bench_<random>` beside it
    /// (the user must be allowed to) and drops it at the end.
    #[arg(long)]
    postgres: Option<String>,
    /// Use the --postgres database itself instead of making one (through a
    /// pooler, say): it must be empty or kept from an earlier bench run.
    #[arg(long, requires = "postgres")]
    postgres_in_place: bool,
    /// The numbers of servers to run on the one PostgreSQL database, in turn.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2, 4])]
    servers: Vec<usize>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let authd = match &args.authd {
        Some(path) => path.clone(),
        None => server::default_authd()?,
    };
    server::ensure_built(&authd)?;
    let runtime = if args.client_threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.client_threads)
            .enable_all()
            .build()?
    };

    let tempdir = tempfile::tempdir()?;
    let launch = Launch {
        authd: authd.clone(),
        dir: tempdir.path().to_owned(),
        database: format!("sqlite://{}", tempdir.path().join("auth.db").display()),
        bcrypt_cost: args.bcrypt_cost,
        key_file: None,
    };
    // The load generator is the trusted proxy of the forward-auth phase.
    let proxy = ["--trusted-proxy".to_owned(), "127.0.0.1".to_owned()];
    let server = Server::start(&launch, &proxy)?;
    server::site_add(&launch, load::BENCH_SITE)?;
    let (client_id, client_secret) = server::client_add(&launch, oidc::REDIRECT)?;
    let oidc_client = oidc::OidcClient::new(&client_id, &client_secret)?;
    let result = runtime.block_on(single::run(&args, &server, &oidc_client, &launch));
    let (peak_rss_kib, threads_at_end) = (server.peak_rss_kib(), server.threads());
    let mut stderr = server.stop();
    let mut report = result?;
    report.peak_rss_kib = peak_rss_kib;
    report.threads_at_end = threads_at_end;

    let tls_dir = tempfile::tempdir()?;
    let (cert, key, ca) = tls::tls_files(tls_dir.path())?;
    let tls_launch = Launch {
        dir: tls_dir.path().to_owned(),
        database: format!("sqlite://{}", tls_dir.path().join("auth.db").display()),
        ..launch
    };
    let tls_server = Server::start(&tls_launch, &tls::serve_options(&cert, &key))?;
    let tls_result = runtime.block_on(tls::run_tls(&args, &tls_server, ca));
    report.tls_peak_rss_kib = tls_server.peak_rss_kib();
    stderr.extend(tls_server.stop());
    report.phases.extend(tls_result?);

    let scale = match &args.postgres {
        Some(url) => Some(scale::run_postgres(&args, &authd, url, &runtime)?),
        None => None,
    };
    report::print_report(&args, &authd, &report, &stderr);
    report::print_bearer(&args, &report);
    if let Some(scale) = &scale {
        report::print_scale(&args, &report, scale);
    }
    Ok(())
}
