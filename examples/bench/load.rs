//! The load: kinds of request, the closed loop of one connection, and a
//! phase of loads at once with the latencies and CPU measured beside it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, COOKIE};
use reqwest::{Client, StatusCode, Url};

use crate::oidc::{CodeFlow, Refreshes};
use crate::postgres::Monitor;
use crate::procfs;
use crate::server::Server;

/// Every phase runs this long before its measured window.
pub const WARM_UP: Duration = Duration::from_secs(1);

/// The URLs of one path on each server, which connections take in turn.
pub type Targets = Arc<Vec<Url>>;

/// `path` on every server of `servers`, for a load spread over them.
pub fn targets(servers: &[&Server], path: &str) -> Targets {
    Arc::new(servers.iter().map(|s| s.url(path)).collect())
}

/// One kind of request; each should be answered 200.
#[derive(Clone)]
pub enum Load {
    /// `GET /` as JSON: no database.
    Root(Targets),
    /// `GET /profile` with a session cookie: a session check.
    Profile(Targets, HeaderValue),
    /// `POST /sessions` with one of the bodies: a login.
    Login(Targets, Arc<Vec<String>>),
    /// `GET /check` with the `SEEK_CUSTOM_AUTH` header.
    Check(Targets, HeaderValue),
    /// `GET /auth/verify` as nginx asks it (`X-Original-URL` of a
    /// protected site) with a session cookie: a forward-auth check.
    Verify(Targets, HeaderValue),
    /// A plain `GET` (OpenID discovery, the JWKS).
    Get(Targets),
    /// A `GET` with this `Authorization: Bearer …`: OIDC's userinfo with an
    /// access token, `GET /profile` with a personal access token
    /// (docs/contract/11-access-tokens-and-admin-api.md).
    Bearer(Targets, HeaderValue),
    /// `POST /oauth/introspect` with the client's `Authorization` and this form body.
    Introspect(Targets, HeaderValue, Arc<String>),
    /// Refresh-token grants, a rotation each.
    Refresh(Arc<Refreshes>),
    /// Whole authorization-code flows.
    CodeFlow(Arc<CodeFlow>),
}

/// The protected site of the forward-auth phase, and the URL it asks about.
pub const BENCH_SITE: &str = "app.bench.test";
const BENCH_SITE_URL: &str = "https://app.bench.test/page";

impl Load {
    /// One request (or flow) of connection `task`, which must end in 200:
    /// `Err` with what came instead.
    async fn perform(&self, client: &Client, task: usize) -> Result<(), String> {
        let request = match self {
            Load::Refresh(refreshes) => return refreshes.run(client, task).await,
            Load::CodeFlow(flow) => return flow.run(client).await,
            stateless => stateless.request(client, task),
        };
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                match response.bytes().await {
                    Ok(_) if status == StatusCode::OK => Ok(()),
                    Ok(body) => Err(format!(
                        "{status}: {}",
                        String::from_utf8_lossy(&body[..body.len().min(120)])
                    )),
                    Err(e) => Err(format!("{status}: body: {e}")),
                }
            }
            Err(e) => Err(format!("request failed: {e}")),
        }
    }

    /// The request of connection `task`: server `task` modulo their number.
    pub fn request(&self, client: &Client, task: usize) -> reqwest::RequestBuilder {
        let pick = |targets: &Targets| targets[task % targets.len()].clone();
        match self {
            Load::Root(urls) => client
                .get(pick(urls))
                .header(ACCEPT, HeaderValue::from_static("application/json")),
            Load::Profile(urls, cookie) => client.get(pick(urls)).header(COOKIE, cookie.clone()),
            Load::Login(urls, bodies) => client
                .post(pick(urls))
                .header(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                )
                .body(bodies[task % bodies.len()].clone()),
            Load::Check(urls, header) => client
                .get(pick(urls))
                .header("SEEK_CUSTOM_AUTH", header.clone()),
            Load::Verify(urls, cookie) => client
                .get(pick(urls))
                .header("X-Original-URL", HeaderValue::from_static(BENCH_SITE_URL))
                .header(COOKIE, cookie.clone()),
            Load::Get(urls) => client.get(pick(urls)),
            Load::Bearer(urls, bearer) => {
                client.get(pick(urls)).header(AUTHORIZATION, bearer.clone())
            }
            Load::Introspect(urls, basic, body) => client
                .post(pick(urls))
                .header(AUTHORIZATION, basic.clone())
                .header(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                )
                .body(body.as_str().to_owned()),
            // Stateful: `perform` runs them.
            Load::Refresh(_) | Load::CodeFlow(_) => {
                unreachable!("a stateful load has no one request")
            }
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
pub struct Stats {
    /// Answers that finished in the measured window.
    pub requests: usize,
    /// Those answers per second of the window.
    pub per_sec: f64,
    /// Median latency.
    pub p50_ms: f64,
    /// 90th percentile latency.
    pub p90_ms: f64,
    /// 99th percentile latency.
    pub p99_ms: f64,
    /// Slowest answer.
    pub max_ms: f64,
    /// Answers that were not 200 (or failed), warm-up included.
    pub unexpected: u64,
    /// A few of the unexpected answers.
    pub samples: Vec<String>,
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
pub struct Phase {
    /// The phase's name in the report.
    pub name: String,
    /// Each load's name and figures.
    pub loads: Vec<(String, Stats)>,
    /// CPU of the servers, all added up, in cores.
    pub server_cpu: f64,
    /// CPU of this load generator, in cores.
    pub client_cpu: f64,
    /// CPU of the database's backends serving the servers, when known, in cores.
    pub database_cpu: Option<f64>,
    /// CPU used by every other process of the machine meanwhile, in cores.
    pub other_cpu: f64,
    /// The largest RSS of one server in the window.
    pub max_rss_kib: u64,
    /// The largest thread count of one server in the window.
    pub max_threads: u64,
}

impl Phase {
    /// The figures of the load named `name`.
    pub fn load(&self, name: &str) -> &Stats {
        &self
            .loads
            .iter()
            .find(|(n, _)| n == name)
            .expect("a load of this phase")
            .1
    }

    /// Answers per second of every load of the phase together.
    pub fn answers_per_sec(&self) -> f64 {
        self.loads.iter().map(|(_, s)| s.per_sec).sum()
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
    let mut outcome = Outcome::default();
    loop {
        let started = Instant::now();
        if started >= end {
            break;
        }
        let answer = load.perform(&client, task).await;
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

/// What a phase measures beside its loads: the servers, and the database's
/// backends when the servers share a PostgreSQL database.
pub struct Watch<'a> {
    /// The servers the loads go to.
    pub servers: Vec<&'a Server>,
    /// The PostgreSQL database of the servers, if theirs is one.
    pub database: Option<Arc<Monitor>>,
}

impl Watch<'_> {
    fn server_cpu(&self) -> Duration {
        self.servers
            .iter()
            .map(|s| procfs::cpu_time(&s.pid().to_string()))
            .sum()
    }
}

/// Runs each `(name, load, tasks)` at the same time for a warm-up and `seconds`.
pub async fn phase(
    name: &str,
    client: &Client,
    loads: Vec<(&str, Load, usize)>,
    seconds: u64,
    watch: &Watch<'_>,
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
    let database0 = backend_cpu(watch).await;
    let (server_cpu0, client_cpu0, busy0) = (
        watch.server_cpu(),
        procfs::cpu_time("self"),
        procfs::machine_busy(),
    );
    for server in &watch.servers {
        server.take_maxima();
    }
    tokio::time::sleep_until(end.into()).await;
    let (server_cpu1, client_cpu1, busy1) = (
        watch.server_cpu(),
        procfs::cpu_time("self"),
        procfs::machine_busy(),
    );
    let database1 = backend_cpu(watch).await;
    let (mut max_rss_kib, mut max_threads) = (0, 0);
    for server in &watch.servers {
        let (rss, threads) = server.take_maxima();
        max_rss_kib = max_rss_kib.max(rss);
        max_threads = max_threads.max(threads);
    }

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
    let database_cpu = match (database0, database1) {
        (Some(before), Some(after)) => Some(after.since(&before).as_secs_f64() / seconds),
        _ => None,
    };
    let machine_cpu = busy1.saturating_sub(busy0).as_secs_f64() / seconds;
    Phase {
        name: name.to_owned(),
        loads,
        server_cpu,
        client_cpu,
        database_cpu,
        other_cpu: (machine_cpu - server_cpu - client_cpu - database_cpu.unwrap_or(0.0)).max(0.0),
        max_rss_kib,
        max_threads,
    }
}

/// The CPU time of the database's backends now, read off the runtime's
/// threads (it is one query).
async fn backend_cpu(watch: &Watch<'_>) -> Option<crate::postgres::BackendCpu> {
    let monitor = Arc::clone(watch.database.as_ref()?);
    tokio::task::spawn_blocking(move || monitor.backend_cpu())
        .await
        .ok()
        .flatten()
}
