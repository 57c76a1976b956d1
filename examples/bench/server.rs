//! Starting and stopping `authd serve` (and `authd migrate`), and sampling a
//! running server's memory and threads.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Url;

use crate::procfs;

/// How to run authd: the binary, its working folder, database and options.
#[derive(Clone, Debug)]
pub struct Launch {
    /// The authd binary.
    pub authd: PathBuf,
    /// The working folder (where authd puts its key file by default).
    pub dir: PathBuf,
    /// `--database`.
    pub database: String,
    /// `--bcrypt-cost`.
    pub bcrypt_cost: u32,
    /// `--secret-key-file`, shared by servers on one database [default: authd's].
    pub key_file: Option<PathBuf>,
}

impl Launch {
    /// A command for `authd SUBCOMMAND` with this launch's global options and
    /// no `AUTHD_*` variable of the environment.
    fn command(&self, subcommand: &str) -> Command {
        let mut command = Command::new(&self.authd);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("AUTHD_") {
                command.env_remove(name);
            }
        }
        command
            .current_dir(&self.dir)
            .arg(subcommand)
            .args(["--database", &self.database])
            .args(["--bcrypt-cost", &self.bcrypt_cost.to_string()])
            .args(["--password-min-length", "8"]);
        if let Some(key_file) = &self.key_file {
            command.arg("--secret-key-file").arg(key_file);
        }
        command
    }
}

/// `authd migrate`: the schema, and the key file and its fingerprint, made
/// once before several servers start on one database.
pub fn migrate(launch: &Launch) -> anyhow::Result<()> {
    let output = launch
        .command("migrate")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "authd migrate failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(())
}

/// `authd site add HOST`: a protected site for the forward-auth phase.
pub fn site_add(launch: &Launch, host: &str) -> anyhow::Result<()> {
    let output = launch
        .command("site")
        .args(["add", host])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "authd site add failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(())
}

/// `authd client add`: the OpenID Connect client of the OIDC phases, its
/// id and secret.
pub fn client_add(launch: &Launch, redirect_uri: &str) -> anyhow::Result<(String, String)> {
    let output = launch
        .command("client")
        .args(["add", "Bench app", "--redirect-uri", redirect_uri])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "authd client add failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .ok_or_else(|| anyhow::anyhow!("authd client add printed no {name}"))
    };
    Ok((field("client_id:")?, field("client_secret:")?))
}

/// `authd token add USERNAME --scope profile`: the token it prints.
pub fn token_add(launch: &Launch, username: &str) -> anyhow::Result<String> {
    let output = launch
        .command("token")
        .args(["add", username, "--scope", "profile"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "authd token add failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("token: "))
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("authd token add printed no token"))
}

/// A running `authd serve`, stopped with SIGTERM at the end.
pub struct Server {
    child: Child,
    base: Url,
    stderr: Arc<Mutex<Vec<String>>>,
    max_rss_kib: Arc<AtomicU64>,
    max_threads: Arc<AtomicU64>,
}

impl Server {
    /// Starts `authd serve` on a free port of 127.0.0.1 with `extra` options,
    /// and waits for the line that says where it listens.
    pub fn start(launch: &Launch, extra: &[String]) -> anyhow::Result<Server> {
        let mut command = launch.command("serve");
        // Warnings only, so that logging is not measured; the one info line
        // of `authd::serve` says where it listens.
        command
            .env("RUST_LOG", "warn,authd::serve=info")
            .args(["--bind", "127.0.0.1:0", "--ip-rate-limit", "off"])
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
            Ok(url) => {
                let (max_rss_kib, max_threads) = sample(child.id());
                Ok(Server {
                    child,
                    base: Url::parse(&url)?,
                    stderr,
                    max_rss_kib,
                    max_threads,
                })
            }
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

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `path` on this server.
    pub fn url(&self, path: &str) -> Url {
        self.base.join(path).expect("a valid path")
    }

    /// The peak RSS (`VmHWM`, KiB) of the server so far.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        procfs::status_field(self.pid(), "VmHWM:")
    }

    /// The server's thread count now.
    pub fn threads(&self) -> Option<u64> {
        procfs::status_field(self.pid(), "Threads:")
    }

    /// The largest RSS (KiB) and thread count sampled since the last call.
    pub fn take_maxima(&self) -> (u64, u64) {
        (
            self.max_rss_kib.swap(0, Ordering::Relaxed),
            self.max_threads.swap(0, Ordering::Relaxed),
        )
    }

    /// SIGTERM, then the exit status and what the server wrote to stderr.
    pub fn stop(mut self) -> Vec<String> {
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

/// Samples a process's RSS and thread count every 20 ms until it is gone,
/// into maxima that [`Server::take_maxima`] reads and resets.
fn sample(pid: u32) -> (Arc<AtomicU64>, Arc<AtomicU64>) {
    let max_rss_kib = Arc::new(AtomicU64::new(0));
    let max_threads = Arc::new(AtomicU64::new(0));
    let (rss, threads) = (Arc::clone(&max_rss_kib), Arc::clone(&max_threads));
    std::thread::spawn(move || {
        while let Some(now) = procfs::status_field(pid, "VmRSS:") {
            rss.fetch_max(now, Ordering::Relaxed);
            if let Some(n) = procfs::status_field(pid, "Threads:") {
                threads.fetch_max(n, Ordering::Relaxed);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    (max_rss_kib, max_threads)
}

/// `authd` in the folder above this example's (`target/release/examples/bench`).
pub fn default_authd() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let examples = exe.parent().ok_or_else(|| anyhow::anyhow!("no folder"))?;
    let profile_dir = examples.parent().unwrap_or(examples);
    Ok(profile_dir.join(format!("authd{}", std::env::consts::EXE_SUFFIX)))
}

/// Stops every server, gathering what they wrote to stderr.
pub fn stop_all(servers: Vec<Server>) -> Vec<String> {
    servers.into_iter().flat_map(Server::stop).collect()
}

/// Whether `path` exists, for the message when authd was not built.
pub fn ensure_built(authd: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        authd.exists(),
        "{} not found: run `cargo build --release` first, or pass --authd PATH",
        authd.display()
    );
    Ok(())
}
