//! The bench's PostgreSQL database: made fresh for the run and dropped at
//! the end, and watched for the CPU time of the backends serving it.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};
use reqwest::Url;

use crate::procfs;

/// The database the servers use: a fresh `bench_…` beside the one `--postgres`
/// names (dropped when this is), or that one itself with `--postgres-in-place`.
pub struct BenchDatabase {
    /// The URL for authd, with authd's own parameters kept.
    pub url: String,
    /// The URL of the database the fresh one was made from, and its name.
    made: Option<(String, String)>,
}

impl BenchDatabase {
    /// Creates `bench_<random>` through the database of `given`, or takes
    /// `given` as it is when `in_place`.
    pub fn create(given: &str, in_place: bool) -> anyhow::Result<BenchDatabase> {
        if in_place {
            return Ok(BenchDatabase {
                url: given.to_owned(),
                made: None,
            });
        }
        let admin = auth_db::libpq_url(given);
        let name = format!("bench_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let mut conn =
            PgConnection::establish(&admin).map_err(|e| anyhow::anyhow!("--postgres: {e}"))?;
        conn.batch_execute(&format!("CREATE DATABASE {name}"))
            .map_err(|e| anyhow::anyhow!("--postgres: CREATE DATABASE {name}: {e}"))?;
        let mut url = Url::parse(given)?;
        url.set_path(&format!("/{name}"));
        Ok(BenchDatabase {
            url: url.to_string(),
            made: Some((admin, name)),
        })
    }

    /// The database's name, as the report gives it.
    pub fn name(&self) -> String {
        match &self.made {
            Some((_, name)) => format!("{name} (made for this run, dropped at the end)"),
            None => "the --postgres database itself (--postgres-in-place)".into(),
        }
    }
}

impl Drop for BenchDatabase {
    fn drop(&mut self) {
        let Some((admin, name)) = &self.made else {
            return;
        };
        let dropped = PgConnection::establish(admin)
            .map_err(|e| e.to_string())
            .and_then(|mut conn| {
                conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = dropped {
            eprintln!("bench: could not drop the database {name}: {e}");
        }
    }
}

#[derive(QueryableByName)]
struct Backend {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    server_version: String,
}

/// A connection of the bench's own to the servers' database.
pub struct Monitor {
    conn: Mutex<PgConnection>,
}

/// CPU time so far of each backend of the database (by process id).
pub struct BackendCpu(BTreeMap<i32, Duration>);

impl BackendCpu {
    /// CPU time the backends used since `earlier`; a backend that started
    /// in between counts whole, one that ended in between is lost.
    pub fn since(&self, earlier: &BackendCpu) -> Duration {
        self.0
            .iter()
            .map(|(pid, now)| now.saturating_sub(earlier.0.get(pid).copied().unwrap_or_default()))
            .sum()
    }
}

impl Monitor {
    /// Connects to `url` (authd's own parameters taken out).
    pub fn connect(url: &str) -> anyhow::Result<Monitor> {
        let conn = PgConnection::establish(&auth_db::libpq_url(url))
            .map_err(|e| anyhow::anyhow!("--postgres: {e}"))?;
        Ok(Monitor {
            conn: Mutex::new(conn),
        })
    }

    /// `SHOW server_version`.
    pub fn server_version(&self) -> String {
        diesel::sql_query("SHOW server_version")
            .get_result::<Version>(&mut *self.conn.lock().unwrap())
            .map_or_else(|e| format!("? ({e})"), |v| v.server_version)
    }

    /// The CPU time of every backend connected to the database but this
    /// monitor's, read from `/proc`; `None` when the database runs on another
    /// machine (its backends are not `postgres` processes here).
    pub fn backend_cpu(&self) -> Option<BackendCpu> {
        let backends = diesel::sql_query(
            "SELECT pid FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .load::<Backend>(&mut *self.conn.lock().unwrap())
        .ok()?;
        let local = |pid: i32| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == "postgres")
        };
        // A backend may end between the query and here: the others count.
        let here: BTreeMap<i32, Duration> = backends
            .iter()
            .filter(|b| local(b.pid))
            .map(|b| (b.pid, procfs::cpu_time(&b.pid.to_string())))
            .collect();
        if here.is_empty() && !backends.is_empty() {
            return None;
        }
        Some(BackendCpu(here))
    }
}
