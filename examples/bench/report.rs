//! Printing: the phases of the single-server run with the targets of
//! issue 7, and the PostgreSQL comparison and scale-out table of issue 26.

use std::path::Path;

use crate::load::Phase;
use crate::load::WARM_UP;
use crate::procfs;
use crate::scale::{PerRequest, ScaleReport};
use crate::single::{Report, LOGIN_WINDOW_FACTOR};
use crate::Args;

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "FAIL"
    }
}

/// Prints the single-server run: the phase table and the targets of issue 7.
pub fn print_report(args: &Args, authd: &Path, report: &Report, stderr: &[String]) {
    let phases = &report.phases;
    let root = phases[0].load("GET /");
    let profile = phases[1].load("GET /profile");
    let logins = phases[2].load("POST /sessions");
    let storm_profile = phases[3].load("GET /profile");
    let storm_logins = phases[3].load("POST /sessions");
    let check = phases[4].load("GET /check");
    let verify = phases[5].load("GET /auth/verify");
    let named = |phase: &str, load: &str| {
        phases
            .iter()
            .find(|p| p.name == phase)
            .expect("a phase of this name")
            .load(load)
            .clone()
    };
    let discovery = named("OIDC discovery", "GET discovery");
    let jwks = named("OIDC discovery", "GET /oauth/jwks");
    let userinfo = named("OIDC userinfo", "GET userinfo");
    let introspect = named("OIDC introspect", "POST introspect");
    let refresh = named("OIDC refresh", "refresh grant");
    let code_flow = named("OIDC code flow", "code flow");
    let tls_profile = named("TLS sessions", "GET /profile TLS");
    let tls_handshakes = named("TLS handshakes", "GET / new conn");
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
        procfs::cpu_model(),
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
    print_phases(args, phases);
    let busiest_other = phases.iter().map(|p| p.other_cpu).fold(0.0, f64::max);
    if busiest_other > 0.15 {
        println!(
            "WARNING: other processes used up to {:.0}% of a core during the run: the figures are disturbed; run again on a quiet machine.",
            busiest_other * 100.0
        );
    }
    println!();

    let mb = |kib: Option<u64>| kib.map_or(f64::NAN, |k| k as f64 / 1024.0);
    let peak_mb = mb(report.peak_rss_kib);
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
            "(5b) forward-auth checks".into(),
            format!(
                "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
                verify.per_sec, verify.p50_ms, verify.p99_ms
            ),
            format!(
                "info: {:.0}% of (2)",
                100.0 * verify.per_sec / profile.per_sec
            ),
            None,
        ),
        (
            "(11) OIDC discovery, JWKS".into(),
            format!(
                "{:.0} + {:.0} req/s, p99 {:.2} / {:.2} ms",
                discovery.per_sec, jwks.per_sec, discovery.p99_ms, jwks.p99_ms
            ),
            "info".into(),
            None,
        ),
        (
            "(12) OIDC userinfo".into(),
            format!(
                "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
                userinfo.per_sec, userinfo.p50_ms, userinfo.p99_ms
            ),
            format!(
                ">= 50% of (2): {:.0}%",
                100.0 * userinfo.per_sec / profile.per_sec
            ),
            Some(userinfo.per_sec >= 0.5 * profile.per_sec),
        ),
        (
            "(13) OIDC introspect".into(),
            format!(
                "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
                introspect.per_sec, introspect.p50_ms, introspect.p99_ms
            ),
            format!(
                ">= 50% of (2): {:.0}%",
                100.0 * introspect.per_sec / profile.per_sec
            ),
            Some(introspect.per_sec >= 0.5 * profile.per_sec),
        ),
        (
            "(14) OIDC refresh grants".into(),
            format!(
                "{:.0} rotations/s, p50 {:.2} ms, p99 {:.2} ms",
                refresh.per_sec, refresh.p50_ms, refresh.p99_ms
            ),
            ">= 1000/s".into(),
            Some(refresh.per_sec >= 1000.0),
        ),
        (
            "(15) OIDC code flows".into(),
            format!(
                "{:.0} flows/s (authorize + token), p50 {:.2} ms, p99 {:.2} ms",
                code_flow.per_sec, code_flow.p50_ms, code_flow.p99_ms
            ),
            "info".into(),
            None,
        ),
        (
            "(6) peak RSS (VmHWM)".into(),
            format!(
                "{peak_mb:.1} MB ({} threads at end)",
                report.threads_at_end.map_or("?".into(), |t| t.to_string())
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

/// The table of phases: each load's rate and latencies, and the CPU, memory
/// and threads beside it (a `db CPU` column when the database's is known).
fn print_phases(args: &Args, phases: &[Phase]) {
    let with_db = phases.iter().any(|p| p.database_cpu.is_some());
    println!(
        "{:<16} {:<15} {:>5} {:>7} {:>9} {:>8} {:>8} {:>8} {:>8} {:>6} {:>8} {:>7} {}{:>8} {:>8} {:>8} {:>7}",
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
        if with_db { " db CPU  db µs " } else { "" },
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
            let db = match (i, phase.database_cpu) {
                (0, Some(cpu)) => format!(
                    "{:>7} {:>6} ",
                    format!("{:.0}%", cpu * 100.0),
                    format!("{:.0}", cpu * 1e6 / phase.answers_per_sec())
                ),
                (0, None) if with_db => format!("{:>7} {:>6} ", "?", "?"),
                _ if with_db => " ".repeat(15),
                _ => String::new(),
            };
            let (srv, per_answer, cli, oth, rss, threads) = if i == 0 {
                (
                    format!("{:.0}%", phase.server_cpu * 100.0),
                    format!("{:.0}", phase.server_cpu * 1e6 / phase.answers_per_sec()),
                    format!("{:.0}%", phase.client_cpu * 100.0),
                    format!("{:.0}%", phase.other_cpu * 100.0),
                    format!("{:.1}", phase.max_rss_kib as f64 / 1024.0),
                    phase.max_threads.to_string(),
                )
            } else {
                Default::default()
            };
            println!(
                "{:<16} {:<15} {:>5} {:>7} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>6} {:>8} {:>7} {}{:>8} {:>8} {:>8} {:>7}",
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
                db,
                cli,
                oth,
                rss,
                threads
            );
        }
    }
    println!(
        "(CPU: share of one core over the measured window, for the servers (all added up), {}this client and every other process; the machine has {} cores in all. µs/ans: CPU time per answer)",
        if with_db { "the database's backends serving them, " } else { "" },
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
}

/// Prints the PostgreSQL part: its share of SQLite's figures, the phases for
/// each number of servers, the totals side by side, and statements per request.
pub fn print_scale(args: &Args, sqlite: &Report, scale: &ScaleReport) {
    println!();
    println!(
        "PostgreSQL, one database, 1 to {} servers (issue 26)",
        scale.rows.last().map_or(0, |r| r.servers)
    );
    println!(
        "database: PostgreSQL {}, {}; every server on it with one --secret-key-file, migrated once before they start",
        scale.version, scale.database
    );
    println!(
        "client:   connections spread over the servers in turn: {} for session checks (one session), {} for logins",
        args.connections.max(1),
        args.login_connections.max(1)
    );
    println!();
    let phases: Vec<Phase> = scale
        .rows
        .iter()
        .flat_map(|row| {
            let name = |p: &Phase| Phase {
                name: format!("{} srv {}", row.servers, p.name),
                ..p.clone()
            };
            [name(&row.checks), name(&row.logins)]
        })
        .collect();
    print_phases(args, &phases);
    println!();

    let sqlite_checks = sqlite.phases[1].load("GET /profile").per_sec;
    let sqlite_logins = sqlite.phases[2].load("POST /sessions").per_sec;
    if let Some(first) = scale.rows.first() {
        let checks = first.checks.load("GET /profile");
        let logins = first.logins.load("POST /sessions");
        let share = checks.per_sec / sqlite_checks;
        println!(
            "{:<34} {:>12} {:>12} {:>8} target",
            "one server", "SQLite", "PostgreSQL", "share"
        );
        println!(
            "{:<34} {:>12.0} {:>12.0} {:>7.0}% >= 30%: {}",
            "session checks/s",
            sqlite_checks,
            checks.per_sec,
            100.0 * share,
            verdict(share >= 0.3)
        );
        println!(
            "{:<34} {:>12.2} {:>12.2} {:>7.0}% info (bcrypt-bound on both)",
            "logins/s",
            sqlite_logins,
            logins.per_sec,
            100.0 * logins.per_sec / sqlite_logins
        );
        println!();
    }

    println!(
        "{:>7} {:>16} {:>8} {:>9} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "servers",
        "session checks/s",
        "x 1 srv",
        "p99 ms",
        "logins/s",
        "srv CPU",
        "db CPU",
        "cli CPU",
        "oth CPU",
        "unexp"
    );
    let base = scale
        .rows
        .first()
        .map(|r| r.checks.load("GET /profile").per_sec);
    for row in &scale.rows {
        let checks = row.checks.load("GET /profile");
        let logins = row.logins.load("POST /sessions");
        let cpu = |c: f64| format!("{:.0}%", c * 100.0);
        println!(
            "{:>7} {:>16.0} {:>8} {:>9.2} {:>10.2} {:>8} {:>8} {:>8} {:>8} {:>8}",
            row.servers,
            checks.per_sec,
            base.map_or("".into(), |b| format!("{:.2}x", checks.per_sec / b)),
            checks.p99_ms,
            logins.per_sec,
            cpu(row.checks.server_cpu),
            row.checks.database_cpu.map_or("?".into(), cpu),
            cpu(row.checks.client_cpu),
            cpu(row.checks.other_cpu),
            checks.unexpected + logins.unexpected
        );
    }
    println!("(CPU columns are those of the session-check phase; the logins phase is bcrypt-bound: its CPU is in the table above)");
    println!();

    let per = |what: &str, p: &Option<PerRequest>| {
        if let Some(p) = p {
            println!(
                "{what:<34} {:.2} statements, {:.2} round trips per request ({} requests one after another, {} connections opened meanwhile)",
                p.statements, p.round_trips, p.requests, p.connections
            );
        }
    };
    per("session check (GET /profile)", &scale.check_statements);
    per("login (POST /sessions)", &scale.login_statements);
    if let Some(note) = &scale.counting_note {
        println!("statements per request: {note}");
    } else {
        println!("(counted by a proxy between one server and PostgreSQL: Q and Execute messages are statements, Q and Sync round trips; BEGIN and COMMIT count as statements)");
    }
    let unexpected = scale.setup_unexpected;
    if unexpected > 0 {
        println!("setup: {unexpected} registrations not answered 200");
    }
    for phase in &phases {
        for (name, stats) in &phase.loads {
            for sample in &stats.samples {
                println!("unexpected answer in {} / {name}: {sample}", phase.name);
            }
        }
    }
    if !scale.stderr.is_empty() {
        println!("PostgreSQL servers' stderr ({} lines):", scale.stderr.len());
        for line in scale.stderr.iter().take(20) {
            println!("  {line}");
        }
    }
}

/// The bearer check beside the cookie session check, measured back to back
/// (docs/contract/11-access-tokens-and-admin-api.md): target >= 90%.
pub fn print_bearer(args: &Args, report: &Report) {
    let [cookie, bearer] = report.bearer.as_slice() else {
        return;
    };
    println!();
    println!("bearer tokens (issue #25): GET /profile, back to back");
    print_phases(args, &report.bearer);
    let (cookie, bearer) = (
        cookie.load("GET /profile"),
        bearer.load("GET /profile bearer"),
    );
    let ratio = bearer.per_sec / cookie.per_sec;
    println!(
        "bearer {:.0} req/s (p50 {:.2} ms, p99 {:.2} ms) vs cookie {:.0} req/s (p50 {:.2} ms, p99 {:.2} ms): {:.0}% (target >= 90%: {})",
        bearer.per_sec,
        bearer.p50_ms,
        bearer.p99_ms,
        cookie.per_sec,
        cookie.p50_ms,
        cookie.p99_ms,
        100.0 * ratio,
        if ratio >= 0.9 { "met" } else { "NOT met" }
    );
}
