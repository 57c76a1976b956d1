//! The one place where the end-to-end tests start the built programs: the
//! `authd` server ([`Server`]), the `authd` command line and the
//! `authd-client` desktop program ([`Run`]), each with an environment that
//! holds nothing of the caller's configuration.

#![allow(dead_code)]

pub mod ca;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Path of the built `authd`.
pub fn authd_bin() -> &'static str {
    env!("CARGO_BIN_EXE_authd")
}

/// Path of the built `authd-client`.
pub fn client_bin() -> &'static str {
    env!("CARGO_BIN_EXE_authd-client")
}

/// `sqlite://DIR/auth.db`: the database of a test's folder.
pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("auth.db").display())
}

/// Proxy variables the HTTP clients of the programs would follow.
const PROXY_VARIABLES: &[&str] = &[
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
];

/// One run of a built program (`authd` or `authd-client`) without any
/// `AUTHD_*` variable or proxy of the environment the tests run in (a
/// developer's `AUTHD_SECRET_KEY` must not change what a test sees); a test
/// sets what it needs with [`Run::env`].
pub struct Run {
    command: Command,
    stdin: Option<Vec<u8>>,
}

impl Run {
    /// The `authd` server and command line.
    pub fn authd() -> Run {
        Run::program(authd_bin())
    }

    /// The `authd-client` desktop program.
    pub fn client() -> Run {
        Run::program(client_bin())
    }

    fn program(path: &str) -> Run {
        let mut command = Command::new(path);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("AUTHD_") {
                command.env_remove(name);
            }
        }
        for name in PROXY_VARIABLES {
            command.env_remove(name);
        }
        Run {
            command,
            stdin: None,
        }
    }

    /// One more argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Run {
        self.command.arg(arg);
        self
    }

    /// More arguments.
    pub fn args<I, S>(mut self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    /// Runs in `dir` (where `authd` looks for its key file beside a
    /// relative database, and makes files).
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Run {
        self.command.current_dir(dir);
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Run {
        self.command.env(name, value);
        self
    }

    /// Types `text` on standard input, then closes it (without this,
    /// standard input is empty).
    pub fn stdin(mut self, text: impl AsRef<[u8]>) -> Run {
        self.stdin = Some(text.as_ref().to_vec());
        self
    }

    /// Runs the program to its end: its exit status and everything it wrote.
    pub fn output(mut self) -> Output {
        let Some(stdin) = self.stdin.take() else {
            return self.command.output().expect("the program runs");
        };
        let mut child = self
            .command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the program runs");
        // A program may exit before it reads (a bad option): a broken pipe is fine.
        let _ = child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(&stdin);
        child.wait_with_output().expect("the program exits")
    }

    /// The command as set up so far, for a test that runs it its own way.
    pub fn into_command(self) -> Command {
        self.command
    }
}

/// A running `authd serve`, stopped (SIGTERM, then kill) when dropped.
pub struct Server {
    child: Child,
    pub base_url: String,
    pub dir: PathBuf,
    stderr: Arc<Mutex<String>>,
    /// The thread that copies standard error; it ends when the pipe closes.
    reader: Option<std::thread::JoinHandle<()>>,
    _tempdir: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts `authd serve` on a fresh SQLite database in a temporary folder,
    /// at bcrypt cost 4, with `extra` options.
    pub fn start(extra: &[&str]) -> Server {
        let tempdir = tempfile::tempdir().expect("temp dir");
        let dir = tempdir.path().to_path_buf();
        let database = format!("sqlite://{}", dir.join("auth.db").display());
        let mut server = Self::start_with(&dir, &database, extra);
        server._tempdir = Some(tempdir);
        server
    }

    /// Starts `authd serve` with `--database` and the working folder given.
    pub fn start_with(dir: &Path, database: &str, extra: &[&str]) -> Server {
        let mut args = vec!["--bind", "127.0.0.1:0", "--database", database];
        args.extend_from_slice(extra);
        Self::launch(dir, &args)
    }

    /// Starts `authd serve --bcrypt-cost 4 ARGS` in `dir` (ARGS name the
    /// database and the address) and waits for its "listening on" line.
    pub fn launch(dir: &Path, args: &[&str]) -> Server {
        let mut command = Run::authd()
            .current_dir(dir)
            .env("RUST_LOG", "info")
            .args(["serve", "--bcrypt-cost", "4"])
            .args(args)
            .into_command();
        command.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("authd starts");
        let stderr_pipe = child.stderr.take().expect("stderr is piped");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (addr_tx, addr_rx) = mpsc::channel();
        let sink = Arc::clone(&stderr);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.split("listening on ").nth(1) {
                    // The address ends at white space or, with `--log-format
                    // json`, at the closing quote of the message.
                    let addr = addr.split(['"', ' ']).next().unwrap_or_default();
                    let _ = addr_tx.send(addr.trim().to_owned());
                }
                let mut all = sink.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        let base_url = match addr_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("authd did not start; stderr:\n{}", stderr.lock().unwrap());
            }
        };
        Server {
            child,
            base_url,
            dir: dir.to_path_buf(),
            stderr,
            reader: Some(reader),
            _tempdir: None,
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server with SIGKILL (no graceful shutdown) and waits for it.
    pub fn kill(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-KILL", &self.child.id().to_string()])
            .status();
        self.child.wait().expect("authd exits")
    }

    /// Sends SIGTERM, waits for the exit status and returns it with all the
    /// server wrote to standard error, to its last line.
    pub fn stop_with_stderr(mut self) -> (std::process::ExitStatus, String) {
        let status = self.terminate();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        (status, self.stderr())
    }

    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// Everything the server wrote to standard error so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Everything the server wrote to standard error, once it holds `needle`
    /// (the lines reach the test through a reader thread, a moment after the
    /// answer that follows them); panics after 10 s without it.
    pub async fn stderr_once_it_holds(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let stderr = self.stderr();
            if stderr.contains(needle) {
                return stderr;
            }
            if std::time::Instant::now() > deadline {
                panic!("the server's standard error never held {needle:?}:\n{stderr}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        self.terminate()
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        self.child.wait().expect("authd exits")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
        }
    }
}

/// An HTTP client that does not follow redirects or keep cookies, so each
/// test sees exactly what the server sent.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The value of the `session_id` cookie a response sets.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("session_id="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

/// An answer's status and its JSON body (`null` when it has none).
pub async fn status_and_body(
    response: reqwest::Response,
) -> (reqwest::StatusCode, serde_json::Value) {
    let status = response.status();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}
