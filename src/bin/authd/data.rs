//! `authd import` and `authd dump`: the data store in and out, through `Auth`.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;

use anyhow::{bail, Context};
use auth_core::{ImportRow, StoreAccess};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::GlobalOptions;
use crate::serve;

/// Imports a CSV file of `username,Full Name,password,Mother's favorite
/// search engine` rows. Prints one line per rejected row and a summary on
/// standard output; fails (exit 1) if any row was rejected.
pub async fn import(global: &GlobalOptions, path: &Path) -> anyhow::Result<()> {
    // Read the file before opening the database, so a wrong path changes nothing.
    let rows = File::open(path)
        .and_then(ImportRow::read_csv)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let auth = serve::open_auth(global, serve::auth_config(global), StoreAccess::Create).await?;
    let bar = progress_bar(rows.len() as u64);
    let report = auth.import(rows, |_| bar.inc(1)).await;
    bar.finish_and_clear();

    let mut out = std::io::stdout().lock();
    for row in report.rejected() {
        writeln!(out, "{row}")?;
    }
    writeln!(out, "{}", report.summary())?;
    out.flush()?;
    let rejected = report.rejected().count();
    if rejected > 0 {
        bail!("{rejected} of {} rows rejected", report.rows.len());
    }
    Ok(())
}

/// A progress bar on standard error when it is a terminal; otherwise nothing
/// is drawn.
fn progress_bar(rows: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(rows);
    if let Ok(style) =
        ProgressStyle::with_template("importing {bar:40} {pos}/{len} rows ({elapsed}, {eta} left)")
    {
        bar.set_style(style);
    }
    bar
}

/// Writes the whole data store to standard output as SQL `INSERT` statements.
pub async fn dump(global: &GlobalOptions) -> anyhow::Result<()> {
    let auth = serve::open_auth(
        global,
        serve::auth_config(global),
        StoreAccess::ExistingOnly,
    )
    .await?;
    let out = BufWriter::new(std::io::stdout().lock());
    auth.dump(out).await.context("dump")?;
    Ok(())
}
