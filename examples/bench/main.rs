//! Load benchmark of a real `authd serve` (issue #7).
//!
//! ```text
//! cargo build --release && cargo run --release --example bench [-- --seconds 5]
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
//! 5. repeated `GET /check` answered from the verified-credential cache;
//! 6. the server's peak RSS (`VmHWM`);
//! 7. answers that did not have the expected status;
//! 8. then a second server over TLS (a certificate of a CA made here):
//!    session checks over TLS keep-alive as a ratio of (2), new TLS
//!    connections per second (one request each), and its peak RSS.
//!
//! It prints figures and the issue's target ratios; it asserts nothing about
//! time. The load generator shares the machine's cores with the server, so
//! its own CPU use is printed beside each phase.

// A benchmark harness: a failed step (no server, a refused request) ends the
// run with its message, which is all it can do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use clap::Parser;
use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE, COOKIE, SET_COOKIE};
use reqwest::{Client, StatusCode, Url};

/// Load benchmark of a real `authd serve`.
#[derive(Parser, Debug)]
#[command(name = "bench")]
struct Args {
    /// The authd binary [default: authd next to this example's target/release].
    #[arg(long)]
    authd: Option<PathBuf>,
    /// Measured seconds per phase, three times as many for logins (each phase
    /// also has a one-second warm-up).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// bcrypt cost of the server and of the in-process hash timing.
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
    /// The database of the first server: a `postgres://…` URL of an empty
    /// database measures PostgreSQL [default: a SQLite file in a temporary folder].
    #[arg(long)]
    database: Option<String>,
}

const WARM_UP: Duration = Duration::from_secs(1);
/// The logins phase is measured this many times longer than the others.
const LOGIN_WINDOW_FACTOR: u64 = 3;
const MACHINE_ID: &str = "bench-machine-0000000000000001";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let authd = match &args.authd {
        Some(path) => path.clone(),
        None => default_authd()?,
    };
    if !authd.exists() {
        anyhow::bail!(
            "{} not found: run `cargo build --release` first, or pass --authd PATH",
            authd.display()
        );
    }
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
    let database = args
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", tempdir.path().join("auth.db").display()));
    let server = Server::start(&authd, tempdir.path(), &database, args.bcrypt_cost, &[])?;
    let sampler = Sampler::start(server.pid());
    let result = runtime.block_on(run(&args, &server, &sampler));
    let peak_rss_kib = proc_status_kib(server.pid(), "VmHWM:");
    let threads_at_end = proc_status_kib(server.pid(), "Threads:");
    let mut stderr = server.stop();
    let mut report = result?;

    let tls_dir = tempfile::tempdir()?;
    let (cert, key, ca) = tls_files(tls_dir.path())?;
    let tls_args = [
        "--tls-cert".to_owned(),
        cert.display().to_string(),
        "--tls-key".to_owned(),
        key.display().to_string(),
    ];
    let tls_database = format!("sqlite://{}", tls_dir.path().join("auth.db").display());
    let tls_server = Server::start(
        &authd,
        tls_dir.path(),
        &tls_database,
        args.bcrypt_cost,
        &tls_args,
    )?;
    let tls_sampler = Sampler::start(tls_server.pid());
    let tls_result = runtime.block_on(run_tls(&args, &tls_server, &tls_sampler, ca));
    report.tls_peak_rss_kib = proc_status_kib(tls_server.pid(), "VmHWM:");
    stderr.extend(tls_server.stop());
    report.phases.extend(tls_result?);
    print_report(
        &args,
        &authd,
        &report,
        peak_rss_kib,
        threads_at_end,
        &stderr,
    );
    Ok(())
}

/// `authd` in the folder above this example's (`target/release/examples/bench`).
fn default_authd() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let examples = exe.parent().ok_or_else(|| anyhow::anyhow!("no folder"))?;
    let profile_dir = examples.parent().unwrap_or(examples);
    Ok(profile_dir.join(format!("authd{}", std::env::consts::EXE_SUFFIX)))
}

// ----- the server -----

/// A running `authd serve`, stopped with SIGTERM at the end.
struct Server {
    child: Child,
    base: Url,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(
        authd: &Path,
        dir: &Path,
        database: &str,
        cost: u32,
        extra: &[String],
    ) -> anyhow::Result<Server> {
        let mut command = Command::new(authd);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("AUTHD_") {
                command.env_remove(name);
            }
        }
        // Warnings only, so that logging is not measured; the one info line
        // of `authd::serve` says where it listens.
        command
            .current_dir(dir)
            .env("RUST_LOG", "warn,authd::serve=info")
            .args(["serve", "--bind", "127.0.0.1:0", "--database", database])
            .args(["--ip-rate-limit", "off", "--password-min-length", "8"])
            .args(["--bcrypt-cost", &cost.to_string()])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn()?;
        let pipe = child.stderr.take().expect("stderr is piped");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&stderr);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.split("listening on ").nth(1) {
                    let _ = tx.send(addr.trim().to_owned());
                } else {
                    sink.lock().unwrap().push(line);
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => Ok(Server {
                child,
                base: Url::parse(&url)?,
                stderr,
            }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                anyhow::bail!(
                    "authd did not start; stderr:\n{}",
                    stderr.lock().unwrap().join("\n")
                )
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn url(&self, path: &str) -> Url {
        self.base.join(path).expect("a valid path")
    }

    /// SIGTERM, then the exit status and what the server wrote to stderr.
    fn stop(mut self) -> Vec<String> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break self.child.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        std::thread::sleep(Duration::from_millis(50));
        let mut lines = self.stderr.lock().unwrap().clone();
        if !matches!(status, Some(s) if s.success()) {
            lines.push(format!("(authd exit status: {status:?})"));
        }
        lines
    }
}

// ----- /proc readings -----

/// A field of `/proc/PID/status` (`VmRSS:`, `VmHWM:` in KiB, `Threads:`).
fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// User + system CPU time of a process so far.
fn cpu_time(pid: &str) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    let Some(after) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return Duration::ZERO;
    };
    // After the command name: state is field 3, utime 14 and stime 15.
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64)
}

/// Busy CPU time of the whole machine so far, every core added up.
fn machine_busy() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return Duration::ZERO;
    };
    let Some(cpu) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return Duration::ZERO;
    };
    // user nice system idle iowait irq softirq steal: all but idle and iowait.
    let ticks: u64 = cpu
        .split_whitespace()
        .skip(1)
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .filter_map(|(_, v)| v.parse::<u64>().ok())
        .sum();
    Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64)
}

fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100)
    })
}

/// Samples the server's RSS and thread count every 20 ms; each phase reads
/// and resets its maxima.
struct Sampler {
    max_rss_kib: Arc<AtomicU64>,
    max_threads: Arc<AtomicU64>,
}

impl Sampler {
    fn start(pid: u32) -> Sampler {
        let max_rss_kib = Arc::new(AtomicU64::new(0));
        let max_threads = Arc::new(AtomicU64::new(0));
        let (rss, threads) = (Arc::clone(&max_rss_kib), Arc::clone(&max_threads));
        std::thread::spawn(move || {
            while let Some(now) = proc_status_kib(pid, "VmRSS:") {
                rss.fetch_max(now, Ordering::Relaxed);
                if let Some(n) = proc_status_kib(pid, "Threads:") {
                    threads.fetch_max(n, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Sampler {
            max_rss_kib,
            max_threads,
        }
    }

    fn take(&self) -> (u64, u64) {
        (
            self.max_rss_kib.swap(0, Ordering::Relaxed),
            self.max_threads.swap(0, Ordering::Relaxed),
        )
    }
}

// ----- load -----

/// One kind of request and the status it should get.
#[derive(Clone)]
enum Load {
    Root(Url),
    Profile(Url, HeaderValue),
    Login(Url, Arc<Vec<String>>),
    Check(Url, HeaderValue),
}

impl Load {
    fn request(&self, client: &Client, task: usize) -> reqwest::RequestBuilder {
        match self {
            Load::Root(url) => client
                .get(url.clone())
                .header(ACCEPT, HeaderValue::from_static("application/json")),
            Load::Profile(url, cookie) => client.get(url.clone()).header(COOKIE, cookie.clone()),
            Load::Login(url, bodies) => client
                .post(url.clone())
                .header(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                )
                .body(bodies[task % bodies.len()].clone()),
            Load::Check(url, header) => client
                .get(url.clone())
                .header("SEEK_CUSTOM_AUTH", header.clone()),
        }
    }
}

/// What the tasks of one load saw in the measured window.
#[derive(Default)]
struct Outcome {
    /// Latencies in microseconds of the requests that finished in the window.
    latencies_us: Vec<u32>,
    /// Answers without the expected status (or failed requests), warm-up included.
    unexpected: u64,
    /// A few of the unexpected answers, for the report.
    samples: Vec<String>,
}

impl Outcome {
    fn merge(&mut self, other: Outcome) {
        self.latencies_us.extend(other.latencies_us);
        self.unexpected += other.unexpected;
        for s in other.samples {
            if self.samples.len() < 3 {
                self.samples.push(s);
            }
        }
    }
}

/// Figures of one load in one phase.
#[derive(Clone, Debug, Default)]
struct Stats {
    requests: usize,
    per_sec: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    unexpected: u64,
    samples: Vec<String>,
}

impl Stats {
    fn of(mut outcome: Outcome, window: Duration) -> Stats {
        outcome.latencies_us.sort_unstable();
        let lat = &outcome.latencies_us;
        let pct = |p: f64| -> f64 {
            if lat.is_empty() {
                return f64::NAN;
            }
            let rank = ((p * lat.len() as f64).ceil() as usize).clamp(1, lat.len());
            lat[rank - 1] as f64 / 1000.0
        };
        Stats {
            requests: lat.len(),
            per_sec: lat.len() as f64 / window.as_secs_f64(),
            p50_ms: pct(0.50),
            p90_ms: pct(0.90),
            p99_ms: pct(0.99),
            max_ms: pct(1.0),
            unexpected: outcome.unexpected,
            samples: outcome.samples,
        }
    }
}

/// One phase: its loads' figures and the CPU and memory beside them.
#[derive(Clone, Debug, Default)]
struct Phase {
    name: String,
    loads: Vec<(String, Stats)>,
    server_cpu: f64,
    client_cpu: f64,
    /// CPU used by every other process of the machine meanwhile.
    other_cpu: f64,
    max_rss_kib: u64,
    max_threads: u64,
}

impl Phase {
    fn load(&self, name: &str) -> &Stats {
        &self
            .loads
            .iter()
            .find(|(n, _)| n == name)
            .expect("a load of this phase")
            .1
    }
}

/// Sends requests in a loop until `end`; records those that finished between
/// `measure_from` and `end`, so a closed loop whose answers take longer than
/// the window (logins queued behind bcrypt) is still measured.
async fn task_loop(
    client: Client,
    load: Load,
    task: usize,
    measure_from: Instant,
    end: Instant,
) -> Outcome {
    let expected = StatusCode::OK;
    let mut outcome = Outcome::default();
    loop {
        let started = Instant::now();
        if started >= end {
            break;
        }
        let answer = match load.request(&client, task).send().await {
            Ok(response) => {
                let status = response.status();
                let body = response.bytes().await;
                match body {
                    Ok(_) if status == expected => Ok(()),
                    Ok(body) => Err(format!(
                        "{status}: {}",
                        String::from_utf8_lossy(&body[..body.len().min(120)])
                    )),
                    Err(e) => Err(format!("{status}: body: {e}")),
                }
            }
            Err(e) => Err(format!("request failed: {e}")),
        };
        let finished = Instant::now();
        if let Err(sample) = answer {
            outcome.unexpected += 1;
            if outcome.samples.len() < 3 {
                outcome.samples.push(sample);
            }
        }
        if finished >= measure_from && finished <= end {
            let us = (finished - started).as_micros().min(u32::MAX as u128) as u32;
            outcome.latencies_us.push(us);
        }
    }
    outcome
}

/// Runs each `(name, load, tasks)` at the same time for a warm-up and `seconds`.
async fn phase(
    name: &str,
    client: &Client,
    loads: Vec<(&str, Load, usize)>,
    seconds: u64,
    server_pid: u32,
    sampler: &Sampler,
) -> Phase {
    let window = Duration::from_secs(seconds);
    let start = Instant::now();
    let measure_from = start + WARM_UP;
    let end = measure_from + window;
    let mut handles = Vec::new();
    for (load_name, load, tasks) in &loads {
        for task in 0..*tasks {
            let handle = tokio::spawn(task_loop(
                client.clone(),
                load.clone(),
                task,
                measure_from,
                end,
            ));
            handles.push((load_name.to_string(), handle));
        }
    }
    // CPU is read over the measured window only.
    tokio::time::sleep_until(measure_from.into()).await;
    let server_pid_text = server_pid.to_string();
    let (server_cpu0, client_cpu0, busy0) =
        (cpu_time(&server_pid_text), cpu_time("self"), machine_busy());
    sampler.take();
    tokio::time::sleep_until(end.into()).await;
    let (server_cpu1, client_cpu1, busy1) =
        (cpu_time(&server_pid_text), cpu_time("self"), machine_busy());
    let (max_rss_kib, max_threads) = sampler.take();

    let mut merged: BTreeMap<String, Outcome> = BTreeMap::new();
    for (load_name, handle) in handles {
        let outcome = handle.await.expect("a load task");
        merged.entry(load_name).or_default().merge(outcome);
    }
    let loads = loads
        .iter()
        .map(|(load_name, _, _)| {
            let outcome = merged.remove(*load_name).unwrap_or_default();
            (load_name.to_string(), Stats::of(outcome, window))
        })
        .collect();
    let seconds = window.as_secs_f64();
    let server_cpu = (server_cpu1 - server_cpu0).as_secs_f64() / seconds;
    let client_cpu = (client_cpu1 - client_cpu0).as_secs_f64() / seconds;
    let machine_cpu = busy1.saturating_sub(busy0).as_secs_f64() / seconds;
    Phase {
        name: name.to_owned(),
        loads,
        server_cpu,
        client_cpu,
        other_cpu: (machine_cpu - server_cpu - client_cpu).max(0.0),
        max_rss_kib,
        max_threads,
    }
}

// ----- the run -----

struct Report {
    load_average: String,
    setup_secs: f64,
    setup_unexpected: u64,
    hash_secs: f64,
    /// Hashes per second with one thread per core hashing at once.
    parallel_hashes_per_sec: f64,
    cores: usize,
    phases: Vec<Phase>,
    /// Peak RSS of the TLS server.
    tls_peak_rss_kib: Option<u64>,
}

fn password_of(user: usize) -> String {
    format!("bench-pass-{user:03}-Xq7v")
}

fn username_of(user: usize) -> String {
    format!("bench{user:03}")
}

async fn run(args: &Args, server: &Server, sampler: &Sampler) -> anyhow::Result<Report> {
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .pool_max_idle_per_host(usize::MAX)
        .pool_idle_timeout(Duration::from_secs(300))
        .timeout(Duration::from_secs(300))
        .build()?;
    let load_average = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let users = args.users.max(2);
    let setup_started = Instant::now();
    let mut setup_unexpected = 0;

    // Register every user at once: each registration is one hash.
    let mut registrations = Vec::new();
    for user in 0..users {
        let request = client
            .post(server.url("/users"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(format!(
                "username={}&password={}",
                username_of(user),
                password_of(user)
            ));
        registrations.push(tokio::spawn(request.send()));
    }
    for registration in registrations {
        let response = registration.await??;
        if response.status() != StatusCode::OK {
            setup_unexpected += 1;
            eprintln!(
                "registration: {} {}",
                response.status(),
                response.text().await?
            );
        }
    }

    // User 0's session cookie for the session checks.
    let login = client
        .post(server.url("/sessions"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!(
            "username={}&password={}",
            username_of(0),
            password_of(0)
        ))
        .send()
        .await?;
    anyhow::ensure!(
        login.status() == StatusCode::OK,
        "setup login: {}",
        login.status()
    );
    let token = login
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("session_id="))
        .and_then(|v| v.split(';').next())
        .ok_or_else(|| anyhow::anyhow!("the login set no session cookie"))?
        .to_owned();
    let cookie = HeaderValue::from_str(&format!("session_id={token}"))?;
    let profile = client
        .get(server.url("/profile"))
        .header(COOKIE, cookie.clone())
        .send()
        .await?;
    anyhow::ensure!(
        profile.status() == StatusCode::OK,
        "setup profile: {}",
        profile.status()
    );

    // User 1 binds the bench's machine.
    let credentials = serde_json::json!({
        "username": username_of(1),
        "password": password_of(1),
        "machine_id": MACHINE_ID,
    });
    let check_header = HeaderValue::from_str(&STANDARD.encode(credentials.to_string()))?;
    let check = |client: &Client| {
        client
            .get(server.url("/check"))
            .header("SEEK_CUSTOM_AUTH", check_header.clone())
            .send()
    };
    let bound = check(&client).await?;
    anyhow::ensure!(
        bound.status() == StatusCode::OK,
        "setup check: {} {}",
        bound.status(),
        bound.text().await?
    );
    let setup_secs = setup_started.elapsed().as_secs_f64();

    let seconds = args.seconds.max(1);
    let conns = args.connections.max(1);
    let login_conns = args.login_connections.max(1);
    let login_accounts = args.login_accounts.unwrap_or(users).clamp(1, users);
    let login_bodies: Arc<Vec<String>> = Arc::new(
        (0..login_accounts)
            .map(|u| format!("username={}&password={}", username_of(u), password_of(u)))
            .collect(),
    );
    let root = Load::Root(server.url("/"));
    let profile = Load::Profile(server.url("/profile"), cookie);
    let login = Load::Login(server.url("/sessions"), login_bodies);
    let pid = server.pid();
    let mut phases = Vec::new();

    eprintln!("bench: phase 1/7: GET / at {conns} connections");
    phases.push(
        phase(
            "GET /",
            &client,
            vec![("GET /", root, conns)],
            seconds,
            pid,
            sampler,
        )
        .await,
    );
    eprintln!("bench: phase 2/7: session checks at {conns} connections");
    phases.push(
        phase(
            "session checks",
            &client,
            vec![("GET /profile", profile.clone(), conns)],
            seconds,
            pid,
            sampler,
        )
        .await,
    );

    // The bcrypt limit, timed here while the server is idle.
    eprintln!("bench: timing bcrypt at cost {}", args.bcrypt_cost);
    let cost = args.bcrypt_cost;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let hash_secs = tokio::task::spawn_blocking(move || time_bcrypt(cost)).await?;
    let parallel_hashes_per_sec =
        tokio::task::spawn_blocking(move || time_parallel_bcrypt(cost, cores)).await?;

    eprintln!("bench: phase 3/7: logins at {login_conns} connections");
    phases.push(
        phase(
            "logins",
            &client,
            vec![("POST /sessions", login.clone(), login_conns)],
            // A login takes a quarter of a second of CPU: three times as long
            // a window, so that one login more or less moves the rate ~1%.
            seconds * LOGIN_WINDOW_FACTOR,
            pid,
            sampler,
        )
        .await,
    );
    eprintln!("bench: phase 4/7: session checks during a login storm");
    phases.push(
        phase(
            "login storm",
            &client,
            vec![
                ("GET /profile", profile, conns),
                ("POST /sessions", login, login_conns),
            ],
            seconds,
            pid,
            sampler,
        )
        .await,
    );

    // The cache keeps a triple 60 s: verify it again right before the phase.
    let warm = check(&client).await?;
    if warm.status() != StatusCode::OK {
        setup_unexpected += 1;
    }
    eprintln!("bench: phase 5/7: repeated /check at {conns} connections");
    phases.push(
        phase(
            "/check (cached)",
            &client,
            vec![(
                "GET /check",
                Load::Check(server.url("/check"), check_header.clone()),
                conns,
            )],
            seconds,
            pid,
            sampler,
        )
        .await,
    );

    Ok(Report {
        load_average,
        setup_secs,
        setup_unexpected,
        hash_secs,
        parallel_hashes_per_sec,
        cores,
        phases,
        tls_peak_rss_kib: None,
    })
}

/// A CA and a certificate for 127.0.0.1 signed by it, written as PEM into
/// `dir`: the certificate and key paths, and the CA for the clients.
fn tls_files(dir: &Path) -> anyhow::Result<(PathBuf, PathBuf, reqwest::Certificate)> {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "authd bench CA");
    let ca_key = rcgen::KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let leaf_params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    let leaf_key = rcgen::KeyPair::generate()?;
    let leaf = leaf_params.signed_by(&leaf_key, &ca_cert, &ca_key)?;
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, leaf.pem())?;
    std::fs::write(&key, leaf_key.serialize_pem())?;
    Ok((
        cert,
        key,
        reqwest::Certificate::from_pem(ca_cert.pem().as_bytes())?,
    ))
}

/// The TLS phases: session checks over HTTPS keep-alive (HTTP/1.1, as the
/// plain ones), and a new TLS connection for every request.
async fn run_tls(
    args: &Args,
    server: &Server,
    sampler: &Sampler,
    ca: reqwest::Certificate,
) -> anyhow::Result<Vec<Phase>> {
    let builder = || {
        Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca.clone())
            .http1_only()
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(300))
    };
    let keep_alive = builder()
        .pool_max_idle_per_host(usize::MAX)
        .pool_idle_timeout(Duration::from_secs(300))
        .build()?;
    // No idle connection is kept: every request opens (and handshakes) one.
    let fresh = builder().pool_max_idle_per_host(0).build()?;
    let form = format!("username={}&password={}", username_of(0), password_of(0));
    for path in ["/users", "/sessions"] {
        let response = keep_alive
            .post(server.url(path))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form.clone())
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == StatusCode::OK,
            "TLS setup {path}: {}",
            response.status()
        );
        if path == "/sessions" {
            let token = response
                .headers()
                .get_all(SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(|v| v.strip_prefix("session_id="))
                .and_then(|v| v.split(';').next())
                .ok_or_else(|| anyhow::anyhow!("the TLS login set no session cookie"))?
                .to_owned();
            let cookie = HeaderValue::from_str(&format!("session_id={token}"))?;
            let seconds = args.seconds.max(1);
            let conns = args.connections.max(1);
            let pid = server.pid();
            eprintln!(
                "bench: phase 6/7: session checks over TLS keep-alive at {conns} connections"
            );
            let checks = phase(
                "TLS sessions",
                &keep_alive,
                vec![(
                    "GET /profile TLS",
                    Load::Profile(server.url("/profile"), cookie),
                    conns,
                )],
                seconds,
                pid,
                sampler,
            )
            .await;
            let handshakes = args.login_connections.max(1);
            eprintln!("bench: phase 7/7: new TLS connections at {handshakes} at once");
            let connections = phase(
                "TLS handshakes",
                &fresh,
                vec![("GET / new conn", Load::Root(server.url("/")), handshakes)],
                seconds,
                pid,
                sampler,
            )
            .await;
            return Ok(vec![checks, connections]);
        }
    }
    anyhow::bail!("TLS setup did not log in")
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

// ----- the report -----

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "FAIL"
    }
}

fn print_report(
    args: &Args,
    authd: &Path,
    report: &Report,
    peak_rss_kib: Option<u64>,
    threads_at_end: Option<u64>,
    stderr: &[String],
) {
    let phases = &report.phases;
    let root = phases[0].load("GET /");
    let profile = phases[1].load("GET /profile");
    let logins = phases[2].load("POST /sessions");
    let storm_profile = phases[3].load("GET /profile");
    let storm_logins = phases[3].load("POST /sessions");
    let check = phases[4].load("GET /check");
    let tls_profile = phases[5].load("GET /profile TLS");
    let tls_handshakes = phases[6].load("GET / new conn");
    let tls_peak_mb = report
        .tls_peak_rss_kib
        .map_or(f64::NAN, |k| k as f64 / 1024.0);
    let bcrypt_limit = report.cores as f64 / report.hash_secs;
    let unexpected: u64 = report.setup_unexpected
        + phases
            .iter()
            .flat_map(|p| p.loads.iter())
            .map(|(_, s)| s.unexpected)
            .sum::<u64>();

    println!();
    println!("authd benchmark (issue #7)");
    println!(
        "machine: {} CPUs (nproc), {}; load average at start: {}",
        report.cores,
        cpu_model(),
        report.load_average
    );
    println!(
        "server:  {} serve, SQLite in a temp dir, bcrypt cost {}, RUST_LOG=warn, --ip-rate-limit off",
        authd.display(),
        args.bcrypt_cost
    );
    println!(
        "client:  this process, reqwest keep-alive, {} runtime thread(s); {} s measured per phase ({} s for logins) after {} s warm-up",
        args.client_threads.max(1),
        args.seconds.max(1),
        args.seconds.max(1) * LOGIN_WINDOW_FACTOR,
        WARM_UP.as_secs()
    );
    println!(
        "setup:   {} users registered concurrently, one login, one machine bound: {:.1} s",
        args.users.max(2),
        report.setup_secs
    );
    println!();
    println!(
        "{:<16} {:<15} {:>5} {:>7} {:>9} {:>8} {:>8} {:>8} {:>8} {:>6} {:>8} {:>7} {:>8} {:>8} {:>8} {:>7}",
        "phase",
        "load",
        "conns",
        "answers",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "unexp",
        "srv CPU",
        "µs/ans",
        "cli CPU",
        "oth CPU",
        "RSS MB",
        "threads"
    );
    for phase in phases {
        for (i, (name, stats)) in phase.loads.iter().enumerate() {
            let conns = match name.as_str() {
                "POST /sessions" | "GET / new conn" => args.login_connections,
                _ => args.connections,
            };
            let (srv, per_answer, cli, oth, rss, threads) = if i == 0 {
                let answers_per_sec: f64 = phase.loads.iter().map(|(_, s)| s.per_sec).sum();
                (
                    format!("{:.0}%", phase.server_cpu * 100.0),
                    format!("{:.0}", phase.server_cpu * 1e6 / answers_per_sec),
                    format!("{:.0}%", phase.client_cpu * 100.0),
                    format!("{:.0}%", phase.other_cpu * 100.0),
                    format!("{:.1}", phase.max_rss_kib as f64 / 1024.0),
                    phase.max_threads.to_string(),
                )
            } else {
                Default::default()
            };
            println!(
                "{:<16} {:<15} {:>5} {:>7} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>6} {:>8} {:>7} {:>8} {:>8} {:>8} {:>7}",
                if i == 0 { phase.name.as_str() } else { "" },
                name,
                conns,
                stats.requests,
                stats.per_sec,
                stats.p50_ms,
                stats.p90_ms,
                stats.p99_ms,
                stats.max_ms,
                stats.unexpected,
                srv,
                per_answer,
                cli,
                oth,
                rss,
                threads
            );
        }
    }
    println!(
        "(CPU: share of one core over the measured window, for the server, this client and every other process; the machine has {} cores in all. µs/ans: server CPU time per answer)",
        report.cores
    );
    let busiest_other = phases.iter().map(|p| p.other_cpu).fold(0.0, f64::max);
    if busiest_other > 0.15 {
        println!(
            "WARNING: other processes used up to {:.0}% of a core during the run: the figures are disturbed; run again on a quiet machine.",
            busiest_other * 100.0
        );
    }
    println!();

    let mb = |kib: Option<u64>| kib.map_or(f64::NAN, |k| k as f64 / 1024.0);
    let peak_mb = mb(peak_rss_kib);
    let rows: Vec<(String, String, String, Option<bool>)> = vec![
        (
            "(1) GET / ceiling".into(),
            format!("{:.0} req/s", root.per_sec),
            "reference".into(),
            None,
        ),
        (
            "(2) session checks".into(),
            format!(
                "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
                profile.per_sec, profile.p50_ms, profile.p99_ms
            ),
            format!(
                ">= 50% of GET /: {:.0}%",
                100.0 * profile.per_sec / root.per_sec
            ),
            Some(profile.per_sec >= 0.5 * root.per_sec),
        ),
        (
            "(3) logins".into(),
            format!(
                "{:.2} logins/s; bcrypt limit {:.2}/s ({} cores / {:.0} ms)",
                logins.per_sec,
                bcrypt_limit,
                report.cores,
                report.hash_secs * 1000.0
            ),
            format!(
                ">= 95% of limit, 0 errors: {:.0}%, {} errors",
                100.0 * logins.per_sec / bcrypt_limit,
                logins.unexpected
            ),
            Some(logins.per_sec >= 0.95 * bcrypt_limit && logins.unexpected == 0),
        ),
        (
            "".into(),
            format!(
                "({:.2} hashes/s measured with {} threads hashing at once here)",
                report.parallel_hashes_per_sec, report.cores
            ),
            format!(
                "info: logins are {:.0}% of it",
                100.0 * logins.per_sec / report.parallel_hashes_per_sec
            ),
            None,
        ),
        (
            "(4) checks in login storm".into(),
            format!(
                "{:.0} req/s, p99 {:.2} ms ({:.2} logins/s beside)",
                storm_profile.per_sec, storm_profile.p99_ms, storm_logins.per_sec
            ),
            format!(
                ">= 60% of (2): {:.0}%",
                100.0 * storm_profile.per_sec / profile.per_sec
            ),
            Some(storm_profile.per_sec >= 0.6 * profile.per_sec),
        ),
        (
            "".into(),
            "".into(),
            format!(
                "p99 <= 3x (2): {:.1}x",
                storm_profile.p99_ms / profile.p99_ms
            ),
            Some(storm_profile.p99_ms <= 3.0 * profile.p99_ms),
        ),
        (
            "(5) /check, cached".into(),
            format!(
                "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
                check.per_sec, check.p50_ms, check.p99_ms
            ),
            format!(
                ">= 50% of (2): {:.0}%",
                100.0 * check.per_sec / profile.per_sec
            ),
            Some(check.per_sec >= 0.5 * profile.per_sec),
        ),
        (
            "(6) peak RSS (VmHWM)".into(),
            format!(
                "{peak_mb:.1} MB ({} threads at end)",
                threads_at_end.map_or("?".into(), |t| t.to_string())
            ),
            "<= 40 MB".into(),
            Some(peak_mb <= 40.0),
        ),
        (
            "(8) TLS session checks".into(),
            format!(
                "{:.0} req/s over HTTPS keep-alive, p50 {:.2} ms, p99 {:.2} ms",
                tls_profile.per_sec, tls_profile.p50_ms, tls_profile.p99_ms
            ),
            format!(
                "info: {:.0}% of plain (2)",
                100.0 * tls_profile.per_sec / profile.per_sec
            ),
            None,
        ),
        (
            "(9) new TLS connections".into(),
            format!(
                "{:.0} connections/s (handshake + GET /), p50 {:.2} ms, p99 {:.2} ms",
                tls_handshakes.per_sec, tls_handshakes.p50_ms, tls_handshakes.p99_ms
            ),
            "info".into(),
            None,
        ),
        (
            "(10) TLS server peak RSS".into(),
            format!("{tls_peak_mb:.1} MB"),
            "<= 40 MB".into(),
            Some(tls_peak_mb <= 40.0),
        ),
        (
            "(7) unexpected statuses".into(),
            unexpected.to_string(),
            "= 0".into(),
            Some(unexpected == 0),
        ),
    ];
    println!("{:<26} {:<62} {:<40} result", "figure", "value", "target");
    for (figure, value, target, pass) in &rows {
        let result = pass.map_or("", verdict);
        println!("{figure:<26} {value:<62} {target:<40} {result}");
    }
    let judged = rows.iter().filter(|r| r.3.is_some()).count();
    let met = rows.iter().filter(|r| r.3 == Some(true)).count();
    println!();
    println!("{met} of {judged} targets met");
    for phase in phases {
        for (name, stats) in &phase.loads {
            for sample in &stats.samples {
                println!("unexpected answer in {} / {name}: {sample}", phase.name);
            }
        }
    }
    println!(
        "note: the load generator runs on the same {} cores as the server (its CPU share is the cli CPU column), so every figure is a lower bound of what the server alone could do.",
        report.cores
    );
    if !stderr.is_empty() {
        println!("server stderr ({} lines):", stderr.len());
        for line in stderr.iter().take(20) {
            println!("  {line}");
        }
    }
}
