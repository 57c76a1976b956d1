//! The peppered bcrypt hash, on threads of its own at a lower priority.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use tokio::sync::oneshot;

use crate::error::AuthError;
use crate::secret::SecretKey;

/// The scheme tag in front of every stored hash: bcrypt over
/// base64(HMAC-SHA256(secret key, NFC password)).
const SCHEME: &str = "hmac-sha256-bcrypt";

/// What verifying a password against a stored hash found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Verification {
    /// The password is right.
    pub matches: bool,
    /// The hash was made with another cost or scheme and should be remade.
    pub needs_rehash: bool,
    /// How long the bcrypt computation itself took (not the wait for a CPU).
    pub compute: Duration,
}

/// The nice value of the hashing threads (Linux; 0 is normal, 19 the
/// lowest). A hash takes a few hundred milliseconds of CPU; at a lower
/// priority it gets the CPU when requests leave it free and yields most of it
/// to them otherwise, so a storm of logins cannot slow every other request.
const HASHER_NICE: i32 = 10;

/// A hash to compute on a hashing thread.
type HashJob = Box<dyn FnOnce() + Send>;

/// Peppered bcrypt on its own threads, one per CPU, at a lower scheduling
/// priority: at most one hash per CPU at a time, so a storm of logins
/// cannot take every thread, and never on the threads that serve requests
/// or run database work.
#[derive(Debug)]
pub(crate) struct PasswordHasher {
    key: SecretKey,
    cost: u32,
    /// Hashes to do; the threads end when the hasher is dropped.
    jobs: mpsc::Sender<HashJob>,
    waiting: Arc<AtomicUsize>,
    /// Most jobs `waiting`; past it `run` fails at once.
    queue_limit: usize,
    hashes_done: AtomicUsize,
    /// A running average of one bcrypt computation at the configured cost,
    /// in microseconds (0 until the first one).
    typical_micros: AtomicU64,
}

/// What an overloaded hasher suggests as `Retry-After`.
const OVERLOADED_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

impl PasswordHasher {
    /// Starts the hashing threads; fails only if the OS refuses a thread.
    pub(crate) fn new(key: SecretKey, cost: u32) -> std::io::Result<Self> {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (jobs, queue) = mpsc::channel::<HashJob>();
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..cpus {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("authd-bcrypt-{index}"))
                .spawn(move || hashing_thread(&queue))?;
        }
        Ok(PasswordHasher {
            key,
            cost,
            jobs,
            waiting: Arc::new(AtomicUsize::new(0)),
            queue_limit: crate::config::DEFAULT_HASH_QUEUE_LIMIT,
            hashes_done: AtomicUsize::new(0),
            typical_micros: AtomicU64::new(0),
        })
    }

    /// Bounds the jobs that may wait for a thread (at least one).
    pub(crate) fn with_queue_limit(mut self, limit: usize) -> Self {
        self.queue_limit = limit.max(1);
        self
    }

    /// Hashes waiting for a free CPU right now.
    pub(crate) fn queue_length(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// How long one bcrypt computation at the configured cost takes, as a
    /// running average of the ones done so far: the least time any failed
    /// password check may take, so that the answer does not tell whether
    /// the account exists or how its stored hash was made.
    pub(crate) fn typical_compute(&self) -> Duration {
        Duration::from_micros(self.typical_micros.load(Ordering::Relaxed))
    }

    /// Adds one computation at the configured cost to the running average.
    fn observe(&self, compute: Duration) {
        let sample = u64::try_from(compute.as_micros()).unwrap_or(u64::MAX);
        let old = self.typical_micros.load(Ordering::Relaxed);
        // An average over about the last eight, so a busy spell moves it
        // quickly and one outlier does not.
        let new = if old == 0 {
            sample
        } else {
            old - old / 8 + sample / 8
        };
        self.typical_micros.store(new, Ordering::Relaxed);
    }

    /// bcrypt computations done since start.
    pub(crate) fn hashes_done(&self) -> usize {
        self.hashes_done.load(Ordering::Relaxed)
    }

    /// The bcrypt input: base64 of HMAC-SHA256(key, NFC password), 44 bytes, so
    /// every byte of a long password counts and the key is needed to crack it.
    fn prehash(&self, nfc_password: &str) -> String {
        STANDARD.encode(self.key.mac_raw(nfc_password.as_bytes()))
    }

    /// Hashes an NFC password for storage.
    pub(crate) async fn hash(&self, nfc_password: String) -> Result<String, AuthError> {
        let prehashed = self.prehash(&nfc_password);
        let cost = self.cost;
        let (bcrypt_hash, compute) = self
            .run(move || timed(|| bcrypt::hash(prehashed, cost)))
            .await?;
        let bcrypt_hash =
            bcrypt_hash.map_err(|e| AuthError::Internal(format!("bcrypt failed: {e}")))?;
        self.observe(compute);
        Ok(format!("{SCHEME}{bcrypt_hash}"))
    }

    /// Checks an NFC password against a stored hash. An unreadable stored hash
    /// never matches.
    pub(crate) async fn verify(
        &self,
        nfc_password: String,
        stored: String,
    ) -> Result<Verification, AuthError> {
        let Some(bcrypt_hash) = stored.strip_prefix(SCHEME).map(str::to_owned) else {
            tracing::error!("stored password hash has an unknown scheme");
            return Ok(Verification {
                matches: false,
                needs_rehash: false,
                compute: Duration::ZERO,
            });
        };
        let needs_rehash = stored_cost(&bcrypt_hash) != Some(self.cost);
        let prehashed = self.prehash(&nfc_password);
        let (matches, compute) = self
            .run(move || timed(|| bcrypt::verify(prehashed, &bcrypt_hash)))
            .await?;
        if !needs_rehash {
            self.observe(compute);
        }
        Ok(Verification {
            matches: matches.unwrap_or(false),
            needs_rehash,
            compute,
        })
    }

    /// Runs `work` on a hashing thread, after the hashes queued before it.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        let (answer, result) = oneshot::channel();
        let waiting = Arc::clone(&self.waiting);
        // Taken and checked in one step, so racing callers cannot all pass.
        if waiting.fetch_add(1, Ordering::AcqRel) >= self.queue_limit {
            waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(AuthError::Overloaded {
                retry_after: OVERLOADED_RETRY_AFTER,
            });
        }
        // The caller's span goes with the job to the hashing thread.
        let span = tracing::Span::current();
        let job: HashJob = Box::new(move || {
            let _entered = span.enter();
            waiting.fetch_sub(1, Ordering::Relaxed);
            // Nobody waits for it any more (the request went away): skip it.
            if !answer.is_closed() {
                let _ = answer.send(work());
                tracing::trace!("password hash work done");
            }
        });
        if self.jobs.send(job).is_err() {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            return Err(AuthError::Internal("password hasher closed".into()));
        }
        let result = result
            .await
            .map_err(|_| AuthError::Internal("password hashing task failed".into()))?;
        self.hashes_done.fetch_add(1, Ordering::Relaxed);
        Ok(result)
    }
}

/// Runs `work` and says how long it took.
fn timed<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let value = work();
    (value, started.elapsed())
}

/// A hashing thread: lowers its own priority, then runs hashes until the
/// hasher is dropped. A job that panics only loses its own answer.
fn hashing_thread(queue: &Mutex<mpsc::Receiver<HashJob>>) {
    lower_thread_priority();
    loop {
        let job = {
            let queue = queue.lock().unwrap_or_else(|e| e.into_inner());
            queue.recv()
        };
        match job {
            Ok(job) => {
                let _ = catch_unwind(AssertUnwindSafe(job));
            }
            Err(_) => break,
        }
    }
}

/// Sets this thread's nice value to [`HASHER_NICE`], or leaves it where it
/// is if the process already runs nicer than that (hashing never gets a
/// higher priority than the requests). On Linux the nice value belongs to
/// each thread, so the server's other threads keep theirs.
#[cfg(target_os = "linux")]
fn lower_thread_priority() {
    // SAFETY: plain system calls on this thread's own id; no memory is shared.
    let tid = unsafe { libc::gettid() } as libc::id_t;
    // SAFETY: as above.
    let current = unsafe { libc::getpriority(libc::PRIO_PROCESS, tid) };
    if current >= HASHER_NICE {
        return;
    }
    // SAFETY: as above.
    let result = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, HASHER_NICE) };
    if result != 0 {
        tracing::debug!(
            error = %std::io::Error::last_os_error(),
            "could not lower the priority of a password hashing thread"
        );
    }
}

/// Elsewhere the nice value is per process: the hashing threads keep the
/// normal priority.
#[cfg(not(target_os = "linux"))]
fn lower_thread_priority() {}

/// The cost of a bcrypt hash (`$2b$12$…` → 12).
fn stored_cost(bcrypt_hash: &str) -> Option<u32> {
    bcrypt_hash.split('$').nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn the_stored_cost_is_read_back() {
        assert_eq!(stored_cost("$2b$04$abcdefghijklmnopqrstuv"), Some(4));
        assert_eq!(stored_cost("garbage"), None);
    }

    #[tokio::test]
    async fn hashes_are_peppered_and_self_describing() {
        let hasher =
            PasswordHasher::new(SecretKey::from_bytes([1; 32]), 4).expect("hashing threads start");
        let stored = hasher.hash("a password".into()).await.unwrap();
        assert!(stored.starts_with("hmac-sha256-bcrypt$2b$04$"), "{stored}");
        assert!(
            hasher
                .verify("a password".into(), stored.clone())
                .await
                .unwrap()
                .matches
        );
        assert!(
            !hasher
                .verify("a passworD".into(), stored.clone())
                .await
                .unwrap()
                .matches
        );
        let other_key =
            PasswordHasher::new(SecretKey::from_bytes([2; 32]), 4).expect("hashing threads start");
        assert!(
            !other_key
                .verify("a password".into(), stored.clone())
                .await
                .unwrap()
                .matches
        );
        let stronger =
            PasswordHasher::new(SecretKey::from_bytes([1; 32]), 5).expect("hashing threads start");
        let found = stronger.verify("a password".into(), stored).await.unwrap();
        assert!(found.matches && found.needs_rehash);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashes_run_on_named_threads_at_a_lower_priority() {
        let hasher =
            PasswordHasher::new(SecretKey::from_bytes([4; 32]), 4).expect("hashing threads start");
        // SAFETY: reads this thread's own nice value; no memory is shared.
        let here = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
        let (name, nice) = hasher
            .run(|| {
                // SAFETY: reads this thread's own nice value; no memory is shared.
                let nice =
                    unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
                (std::thread::current().name().map(str::to_owned), nice)
            })
            .await
            .unwrap();
        assert!(
            name.as_deref().unwrap_or("").starts_with("authd-bcrypt-"),
            "{name:?}"
        );
        // HASHER_NICE, or the caller's own if that is nicer already (as when
        // the tests themselves run under `nice`).
        assert_eq!(nice, HASHER_NICE.max(here));
        // The threads that call the hasher keep their priority.
        // SAFETY: as above.
        let after = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
        assert_eq!(after, here);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_the_queue_limit_a_hash_fails_at_once_and_the_queue_recovers() {
        let hasher = Arc::new(
            PasswordHasher::new(SecretKey::from_bytes([6; 32]), 4)
                .expect("hashing threads start")
                .with_queue_limit(1),
        );
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let release = Arc::new(std::sync::Barrier::new(cpus + 1));
        let (started_tx, started_rx) = mpsc::channel();
        // Every thread busy, then one job waiting: the queue is full.
        let mut busy = Vec::new();
        for _ in 0..cpus {
            let hasher = Arc::clone(&hasher);
            let release = Arc::clone(&release);
            let started = started_tx.clone();
            busy.push(tokio::spawn(async move {
                hasher
                    .run(move || {
                        let _ = started.send(());
                        release.wait();
                    })
                    .await
            }));
            // One at a time: with a limit of one, a second job queued
            // before the first started would be refused.
            started_rx
                .recv_timeout(std::time::Duration::from_secs(10))
                .unwrap();
        }
        let queued = tokio::spawn({
            let hasher = Arc::clone(&hasher);
            async move { hasher.hash("queued".into()).await }
        });
        while hasher.queue_length() < 1 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let refused = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            hasher.hash("one too many".into()),
        )
        .await
        .expect("fails at once, never waits");
        assert!(
            matches!(refused, Err(AuthError::Overloaded { retry_after }) if retry_after.as_secs() >= 1),
            "{refused:?}"
        );
        assert_eq!(hasher.queue_length(), 1, "a refused job leaves no trace");
        release.wait();
        for job in busy {
            job.await.unwrap().unwrap();
        }
        assert!(queued.await.unwrap().is_ok());
        assert!(hasher.hash("room again".into()).await.is_ok());
        assert_eq!(hasher.queue_length(), 0);
    }

    #[tokio::test]
    async fn a_panicking_job_loses_only_its_own_answer() {
        let hasher =
            PasswordHasher::new(SecretKey::from_bytes([5; 32]), 4).expect("hashing threads start");
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        // As many panics as threads: had each killed its thread, nothing
        // would be left to answer the hash below.
        for _ in 0..cpus {
            let lost = hasher.run(|| -> u8 { panic!("a job that fails") }).await;
            assert!(matches!(lost, Err(AuthError::Internal(_))));
        }
        let stored = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            hasher.hash("still hashing".into()),
        )
        .await
        .expect("a hashing thread still answers")
        .unwrap();
        assert!(
            hasher
                .verify("still hashing".into(), stored)
                .await
                .unwrap()
                .matches
        );
        assert_eq!(hasher.queue_length(), 0);
    }

    #[tokio::test]
    async fn bytes_after_the_72nd_still_count() {
        let hasher =
            PasswordHasher::new(SecretKey::from_bytes([3; 32]), 4).expect("hashing threads start");
        let long = "ü".repeat(40); // 80 bytes
        let stored = hasher.hash(long.clone()).await.unwrap();
        let differs_late = format!("{}ö", "ü".repeat(39));
        assert_eq!(long.as_bytes()[..72], differs_late.as_bytes()[..72]);
        assert!(!hasher.verify(differs_late, stored).await.unwrap().matches);
    }
}
