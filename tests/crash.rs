//! Crash safety: authd killed with SIGKILL in the middle of a burst of
//! sign-ups and logins loses nothing it answered 200 for, and leaves nothing
//! half-written. The SQLite file is opened directly (diesel) between the kill
//! and the restart.

use crate::common;

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{client, session_cookie, Server};
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};
use serde_json::json;

const TASKS: usize = 8;
const CYCLES: usize = 3;
/// Sign-ups answered 200 in a cycle before the kill comes.
const CONFIRMED_BEFORE_KILL: usize = 120;
const OPTIONS: [&str; 2] = ["--ip-rate-limit", "off"];

/// An account whose sign-up was answered 200, and the session token of its
/// login if that was answered 200 too.
#[derive(Clone, Debug)]
struct Confirmed {
    username: String,
    password: String,
    session: Option<String>,
}

#[derive(Default)]
struct Burst {
    confirmed: Mutex<Vec<Confirmed>>,
    signups: AtomicUsize,
    /// Answers other than 200 (and not a transport error): none expected.
    unexpected: Mutex<Vec<String>>,
    /// Requests the kill cut off.
    cut: AtomicUsize,
}

fn password_of(username: &str) -> String {
    format!("crash-safe password of {username}")
}

/// One task of the burst: sign up and log in fresh accounts until the server
/// stops answering.
async fn sign_up_and_log_in(base_url: String, cycle: usize, task: usize, burst: Arc<Burst>) {
    let http = client();
    for n in 0.. {
        let username = format!("c{cycle}t{task}n{n}");
        let password = password_of(&username);
        let body = json!({ "username": username, "password": password });
        let created = match http
            .post(format!("{base_url}/users"))
            .json(&body)
            .send()
            .await
        {
            Ok(response) => response,
            Err(_) => {
                burst.cut.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let status = created.status().as_u16();
        // Only a whole answer counts: the body must arrive too.
        let Ok(text) = created.text().await else {
            burst.cut.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if status != 200 {
            burst
                .unexpected
                .lock()
                .unwrap()
                .push(format!("sign-up {username}: {status} {text}"));
            continue;
        }
        let index = {
            let mut confirmed = burst.confirmed.lock().unwrap();
            confirmed.push(Confirmed {
                username: username.clone(),
                password: password.clone(),
                session: None,
            });
            confirmed.len() - 1
        };
        burst.signups.fetch_add(1, Ordering::Relaxed);
        let login = match http
            .post(format!("{base_url}/sessions"))
            .form(&[("username", &username), ("password", &password)])
            .send()
            .await
        {
            Ok(response) => response,
            Err(_) => {
                burst.cut.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let status = login.status().as_u16();
        let token = session_cookie(&login);
        if login.text().await.is_err() {
            burst.cut.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match (status, token) {
            (200, Some(token)) => burst.confirmed.lock().unwrap()[index].session = Some(token),
            (status, _) => burst
                .unexpected
                .lock()
                .unwrap()
                .push(format!("login {username}: {status}")),
        }
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct IntegrityCheck {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

#[derive(QueryableByName)]
struct UserName {
    #[diesel(sql_type = Nullable<Text>)]
    username: Option<String>,
}

fn count(conn: &mut SqliteConnection, query: &str) -> i64 {
    diesel::sql_query(query)
        .get_result::<Count>(conn)
        .unwrap_or_else(|e| panic!("{query}: {e}"))
        .n
}

/// Opens the database file of the dead server and checks that nothing is
/// half-written and every confirmed sign-up is there.
fn check_database(path: &Path, confirmed: &[Confirmed]) {
    let mut conn = SqliteConnection::establish(path.to_str().expect("UTF-8 path"))
        .expect("the database opens after the kill");
    let integrity: Vec<String> = diesel::sql_query("PRAGMA integrity_check")
        .load::<IntegrityCheck>(&mut conn)
        .expect("integrity_check runs")
        .into_iter()
        .map(|row| row.integrity_check)
        .collect();
    assert_eq!(integrity, ["ok"], "PRAGMA integrity_check");
    for (what, query) in [
        (
            "users without a (whole) password hash",
            "SELECT count(*) AS n FROM users WHERE password_hash IS NULL \
             OR password_hash = '' OR length(password_hash) < 60",
        ),
        (
            "users without a username or e-mail",
            "SELECT count(*) AS n FROM users WHERE username IS NULL AND email IS NULL",
        ),
        (
            "sessions of no user",
            "SELECT count(*) AS n FROM sessions WHERE user_id NOT IN (SELECT id FROM users)",
        ),
        (
            "sessions without a token hash",
            "SELECT count(*) AS n FROM sessions WHERE token_hash IS NULL OR token_hash = ''",
        ),
        (
            "reset tokens of no user",
            "SELECT count(*) AS n FROM reset_tokens WHERE user_id NOT IN (SELECT id FROM users)",
        ),
        (
            "machines of no user",
            "SELECT count(*) AS n FROM machines WHERE user_id NOT IN (SELECT id FROM users)",
        ),
        (
            "foreign key violations",
            "SELECT count(*) AS n FROM pragma_foreign_key_check",
        ),
    ] {
        assert_eq!(count(&mut conn, query), 0, "{what}");
    }
    let stored: HashSet<String> = diesel::sql_query("SELECT username FROM users")
        .load::<UserName>(&mut conn)
        .expect("users load")
        .into_iter()
        .filter_map(|row| row.username)
        .collect();
    let missing: Vec<&str> = confirmed
        .iter()
        .map(|c| c.username.as_str())
        .filter(|name| !stored.contains(*name))
        .collect();
    assert!(
        missing.is_empty(),
        "{} sign-ups answered 200 are not in the database: {missing:?}",
        missing.len()
    );
}

/// Every confirmed account logs in on the restarted server, and every
/// session whose login was answered 200 still opens the profile.
async fn check_accounts(server: &Server, confirmed: &[Confirmed]) {
    let http = client();
    let failures = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for part in confirmed.chunks(confirmed.len().div_ceil(TASKS).max(1)) {
        let (http, part, base, failures) = (
            http.clone(),
            part.to_vec(),
            server.base_url.clone(),
            Arc::clone(&failures),
        );
        tasks.push(tokio::spawn(async move {
            for account in part {
                let login = http
                    .post(format!("{base}/sessions"))
                    .form(&[
                        ("username", &account.username),
                        ("password", &account.password),
                    ])
                    .send()
                    .await
                    .expect("the restarted server answers");
                if login.status() != 200 {
                    failures.lock().unwrap().push(format!(
                        "login {}: {}",
                        account.username,
                        login.status()
                    ));
                }
                if let Some(token) = &account.session {
                    let profile = http
                        .get(format!("{base}/profile"))
                        .header("cookie", format!("session_id={token}"))
                        .send()
                        .await
                        .expect("the restarted server answers");
                    if profile.status() != 200 {
                        failures.lock().unwrap().push(format!(
                            "session of {}: {}",
                            account.username,
                            profile.status()
                        ));
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("check task");
    }
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "confirmed accounts lost after the kill: {failures:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sign_ups_answered_before_a_sigkill_survive_it_whole() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path = dir.path().join("auth.db");
    let database = format!("sqlite://{}", db_path.display());
    let mut confirmed: Vec<Confirmed> = Vec::new();

    for cycle in 0..CYCLES {
        let mut server = Server::start_with(dir.path(), &database, &OPTIONS);
        // What the earlier cycles confirmed survived their kills.
        check_accounts(&server, &confirmed).await;

        let burst = Arc::new(Burst::default());
        let tasks: Vec<_> = (0..TASKS)
            .map(|task| {
                tokio::spawn(sign_up_and_log_in(
                    server.base_url.clone(),
                    cycle,
                    task,
                    Arc::clone(&burst),
                ))
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        while burst.signups.load(Ordering::Relaxed) < CONFIRMED_BEFORE_KILL {
            assert!(
                Instant::now() < deadline,
                "the burst is too slow; server stderr:\n{}",
                server.stderr()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let pid = server.pid();
        let status = server.kill();
        assert!(!status.success(), "authd {pid} was killed, not stopped");
        let finished = tokio::time::timeout(Duration::from_secs(10), async {
            for task in tasks {
                task.await.expect("burst task");
            }
        })
        .await;
        assert!(finished.is_ok(), "the burst did not notice the kill");

        let unexpected = burst.unexpected.lock().unwrap().clone();
        assert!(
            unexpected.is_empty(),
            "answers other than 200 during the burst: {unexpected:#?}\nstderr:\n{}",
            server.stderr()
        );
        let this_cycle = burst.confirmed.lock().unwrap().clone();
        eprintln!(
            "cycle {cycle}: killed authd {pid} after {} confirmed sign-ups ({} with a session); \
             {} requests cut off",
            this_cycle.len(),
            this_cycle.iter().filter(|c| c.session.is_some()).count(),
            burst.cut.load(Ordering::Relaxed)
        );
        assert!(
            burst.cut.load(Ordering::Relaxed) > 0,
            "the kill came after the burst, not during it"
        );
        confirmed.extend(this_cycle);
        drop(server);

        check_database(&db_path, &confirmed);
    }

    // A last start on the same database and key file: all of it is there.
    assert!(
        dir.path().join("authd.key").exists(),
        "the key file is kept"
    );
    let server = Server::start_with(dir.path(), &database, &OPTIONS);
    check_accounts(&server, &confirmed).await;
    let health = client()
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let status = server.stop();
    assert!(status.success(), "authd stops cleanly after the restarts");
    check_database(&db_path, &confirmed);
    eprintln!(
        "{} confirmed accounts survived {CYCLES} SIGKILLs in {:?}",
        confirmed.len(),
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the crash test should stay under 20 s"
    );
}
