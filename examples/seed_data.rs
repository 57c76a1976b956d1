//! Seeds a fresh store from `examples/seed-users.csv` (the seed test data,
//! odd rows included) with the default password policy, logs two of the
//! accepted users in, and writes the whole store with `Auth::dump` to the
//! file given (default `seed-dump.sql` in the working directory).
//! `examples/seed-dump.sql` is committed; to make it anew:
//!
//!     cargo run --example seed_data -- examples/seed-dump.sql
//!
//! It prints the import report and what it did, never a password or a token;
//! the dump holds only what the database holds (hashes, not secrets).
//! `tests/examples.rs` runs [`seed`] too and checks the committed dump.

use std::path::Path;

use auth_core::{
    Auth, ClientInfo, Config, Identifier, ImportReport, ImportRow, SecretKey, TableCount,
};

/// The seed rows (a byte-for-byte copy of the shared test data).
pub const SEED_CSV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/seed-users.csv");
/// The committed dump of a seeding run.
pub const SEED_DUMP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/seed-dump.sql");
/// How many accepted users are logged in.
pub const LOGINS: usize = 2;

/// What seeding did.
pub struct Seeded {
    /// The verdict on every row.
    pub report: ImportReport,
    /// What to tell the user: the report and the logins, nothing secret.
    pub transcript: Vec<String>,
    /// The session tokens of the logins (secrets: for checks, never printed).
    pub session_tokens: Vec<String>,
    /// The dump of the store.
    pub dump: String,
    /// Rows per table in the dump.
    pub counts: Vec<TableCount>,
}

/// Imports the seed rows into a new SQLite store in `dir` (the default policy,
/// bcrypt cost 4), logs the first [`LOGINS`] accepted users in, and dumps.
pub async fn seed(dir: &Path) -> anyhow::Result<Seeded> {
    let url = format!("sqlite://{}", dir.join("auth.db").display());
    let config = Config {
        bcrypt_cost: 4,
        ..Config::default()
    };
    let auth = Auth::open(&url, SecretKey::generate(), config).await?;
    let rows = ImportRow::read_csv(std::fs::File::open(SEED_CSV)?)?;
    let mut transcript = vec![format!(
        "importing {} rows (passwords of at least {} characters)",
        rows.len(),
        auth.config().password_min_length
    )];

    let report = auth.import(rows.clone(), |_| {}).await;
    transcript.extend(report.rows.iter().map(ToString::to_string));
    transcript.push(report.summary());

    let mut session_tokens = Vec::new();
    for accepted in report.accepted().take(LOGINS) {
        let row = rows
            .iter()
            .find(|r| r.line == accepted.line)
            .and_then(|r| r.parsed.as_ref().ok())
            .ok_or_else(|| anyhow::anyhow!("no row at line {}", accepted.line))?;
        let login = auth
            .login(
                &Identifier::Username(row.username.clone()),
                &row.password,
                None,
                &ClientInfo::default(),
            )
            .await?;
        transcript.push(format!(
            "logged in {}: session {}",
            login.user.display_name(),
            login.session.id
        ));
        session_tokens.push(login.token.expose().to_owned());
    }

    let mut dump = Vec::new();
    let counts = auth.dump(&mut dump).await?;
    transcript.push(format!(
        "dumped {}",
        counts
            .iter()
            .map(|c| format!("{} {}", c.table, c.rows))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(Seeded {
        report,
        transcript,
        session_tokens,
        dump: String::from_utf8(dump)?,
        counts,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let seeded = seed(dir.path()).await?;
    for line in &seeded.transcript {
        println!("{line}");
    }
    // Never the committed file unless asked: a run must not change the clone.
    let out = std::env::args_os()
        .nth(1)
        .map_or_else(|| "seed-dump.sql".into(), std::path::PathBuf::from);
    std::fs::write(&out, &seeded.dump)?;
    println!("wrote {}", out.display());
    Ok(())
}
