//! The database goes down and comes back while `authd serve` runs, on each
//! way production connects to PostgreSQL: plain TCP, TLS checked with
//! `verify-full`, and through PgBouncer in transaction mode. Each test runs
//! a cluster of its own (Debian's initdb and pg_ctl, and pgbouncer for the
//! last), since it stops it. Ignored tests: CI runs them with
//! `--include-ignored` and `AUTHD_TEST_POSTGRES_URL` set, and they fail when
//! the tools are missing.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::ca::TestCa;
use common::{client, session_cookie, status_and_body, Server};
use reqwest::StatusCode;
use serde_json::Value;

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
#[ignore = "needs AUTHD_TEST_POSTGRES_URL and Debian's postgresql (initdb, pg_ctl)"]
async fn an_outage_is_503_and_the_server_recovers_by_itself() {
    let pg = OwnPostgres::init();
    pg.start();
    outage_and_recovery(&pg, &pg.url()).await;
}

#[tokio::test]
#[ignore = "needs AUTHD_TEST_POSTGRES_URL and Debian's postgresql (initdb, pg_ctl)"]
async fn an_outage_over_tls_is_503_and_the_server_recovers_by_itself() {
    let pg = OwnPostgres::init();
    let ca = pg.require_tls();
    pg.start();
    // The certificate names localhost; verify-full checks the chain and the name.
    let url = format!(
        "postgres://postgres@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}",
        pg.port,
        ca.display()
    );
    outage_and_recovery(&pg, &url).await;
}

#[tokio::test]
#[ignore = "needs AUTHD_TEST_POSTGRES_URL, Debian's postgresql and pgbouncer"]
async fn an_outage_behind_pgbouncer_is_503_and_the_server_recovers_by_itself() {
    let pg = OwnPostgres::init();
    pg.start();
    let bouncer = PgBouncer::start(&pg);
    // PgBouncer before 1.21 keeps no prepared statements in transaction mode.
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/postgres?prepared_statements=off",
        bouncer.port
    );
    outage_and_recovery(&pg, &url).await;
}

/// A server on `url` (which reaches `pg`): an account and a session, then
/// `pg` stopped (health 503 within 5 s, the session check 503 `unavailable`),
/// then started again (the same process answers 200 within 20 s).
async fn outage_and_recovery(pg: &OwnPostgres, url: &str) {
    assert!(
        std::env::var_os("AUTHD_TEST_POSTGRES_URL").is_some(),
        "AUTHD_TEST_POSTGRES_URL must be set for the PostgreSQL tests"
    );
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), url, &["--password-min-length", "8"]);
    let http = client();
    let r = http
        .post(server.url("/users"))
        .form(&[("username", "kvothe"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let login = http
        .post(server.url("/sessions"))
        .form(&[("username", "kvothe"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let cookie = format!("session_id={}", session_cookie(&login).unwrap());
    assert_eq!(healthz(&http, &server).await.0, StatusCode::OK);

    pg.stop();
    let started = Instant::now();
    let answer = http.get(server.url("/healthz")).send().await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => panic!(
            "no answer after {:?} once the database stopped: {e}\nauthd: {}",
            started.elapsed(),
            server.stderr()
        ),
    };
    let (status, body) = status_and_body(answer).await;
    let took = started.elapsed();
    eprintln!("healthz answered {status} {took:?} after the database stopped");
    assert_eq!(
        (status, body),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"status": "unavailable"})
        )
    );
    assert!(took <= Duration::from_secs(5), "healthz took {took:?}");
    let (status, body) = profile(&http, &server, &cookie).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "unavailable");
    assert!(body["message"].is_string());

    pg.start();
    let deadline = Instant::now() + Duration::from_secs(20);
    while healthz(&http, &server).await.0 != StatusCode::OK {
        assert!(Instant::now() < deadline, "authd did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, body) = profile(&http, &server, &cookie).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the same process serves again: {body}"
    );
}

async fn healthz(http: &reqwest::Client, server: &Server) -> (StatusCode, Value) {
    status_and_body(http.get(server.url("/healthz")).send().await.unwrap()).await
}

async fn profile(http: &reqwest::Client, server: &Server, cookie: &str) -> (StatusCode, Value) {
    let response = http
        .get(server.url("/profile"))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    status_and_body(response).await
}

/// A PostgreSQL server of the test's own, on a spare loopback port, its
/// files in a folder of its own (the socket too).
struct OwnPostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres_user: bool,
}

impl OwnPostgres {
    /// A new cluster (initdb), not started; the test fails without the tools.
    fn init() -> OwnPostgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|version| version.path().join("bin"))
            .find(|bin| bin.join("pg_ctl").exists() && bin.join("initdb").exists())
            .expect("the outage tests need Debian's postgresql (initdb, pg_ctl)");
        let pg = OwnPostgres {
            bin,
            dir: tempfile::tempdir().unwrap(),
            port: spare_port(),
            as_postgres_user: running_as_root(),
        };
        pg.hand_to_postgres(pg.dir.path());
        let status = pg
            .command(&pg.bin.join("initdb"))
            .arg("-D")
            .arg(pg.data())
            .args(["-U", "postgres", "--auth=trust", "--no-sync"])
            .stdout(Stdio::null())
            .status()
            .expect("initdb runs");
        assert!(status.success(), "initdb failed");
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// TCP connections over TLS only (`hostssl`), with a certificate for
    /// localhost from a CA made here; returns the CA's file.
    fn require_tls(&self) -> PathBuf {
        let ca = TestCa::new("authd outage test CA");
        let leaf = ca.leaf();
        let files = [
            ("ca.pem", ca.cert_pem()),
            ("server.pem", leaf.cert_pem),
            ("server.key", leaf.key_pem),
            (
                "data/pg_hba.conf",
                "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n"
                    .to_owned(),
            ),
        ];
        for (name, text) in files {
            let path = self.dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            self.hand_to_postgres(&path);
        }
        use std::os::unix::fs::PermissionsExt;
        let key = self.dir.path().join("server.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let conf = format!(
            "\nssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
            self.dir.path().join("server.pem").display(),
            key.display()
        );
        let mut settings = std::fs::read_to_string(self.data().join("postgresql.conf")).unwrap();
        settings.push_str(&conf);
        std::fs::write(self.data().join("postgresql.conf"), settings).unwrap();
        self.dir.path().join("ca.pem")
    }

    fn start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let status = self
            .command(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data())
            .args(["-o", &options, "-l"])
            .arg(self.dir.path().join("postgres.log"))
            .args(["-w", "start"])
            .stdout(Stdio::null())
            .status()
            .expect("pg_ctl runs");
        assert!(status.success(), "pg_ctl start failed");
    }

    fn stop(&self) {
        let _ = self
            .command(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data())
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .status();
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// `program`, as the postgres user when the test runs as root (initdb,
    /// postgres and pgbouncer refuse to run as root).
    fn command(&self, program: &Path) -> Command {
        if self.as_postgres_user {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    /// Makes `path` the postgres user's when the test runs as root.
    fn hand_to_postgres(&self, path: &Path) {
        if self.as_postgres_user {
            let _ = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(path)
                .status();
        }
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// PgBouncer in transaction mode in front of an [`OwnPostgres`] (through its
/// socket), killed when dropped.
struct PgBouncer {
    port: u16,
    pidfile: PathBuf,
}

impl PgBouncer {
    fn start(pg: &OwnPostgres) -> PgBouncer {
        let program = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
            .into_iter()
            .map(PathBuf::from)
            .find(|path| path.exists())
            .expect("the outage test through a pooler needs Debian's pgbouncer");
        let port = spare_port();
        let dir = pg.dir.path();
        let pidfile = dir.join("pgbouncer.pid");
        // server_login_retry: PgBouncer waits this long before it tries a
        // server that refused it again (15 s by default).
        let ini = format!(
            "[databases]\n* = host={dir} port={pg_port} user=postgres\n\n\
             [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
             auth_type = trust\nauth_file = {dir}/userlist.txt\npool_mode = transaction\n\
             server_login_retry = 1\nlogfile = {dir}/pgbouncer.log\npidfile = {pidfile}\n",
            dir = dir.display(),
            pg_port = pg.port,
            pidfile = pidfile.display(),
        );
        std::fs::write(dir.join("pgbouncer.ini"), ini).unwrap();
        std::fs::write(dir.join("userlist.txt"), "\"postgres\" \"\"\n").unwrap();
        pg.hand_to_postgres(dir);
        let status = pg
            .command(&program)
            .arg("-d")
            .arg(dir.join("pgbouncer.ini"))
            .status()
            .expect("pgbouncer runs");
        assert!(status.success(), "pgbouncer did not start");
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "pgbouncer does not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        PgBouncer { port, pidfile }
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.pidfile) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

fn spare_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
