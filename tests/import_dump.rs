//! `authd import` and `authd dump`, running the real binary.

use crate::common;

use std::path::Path;
use std::process::Output;

use common::{sqlite_url, Run};

/// The seed test data, odd rows included.
const SEED_CSV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/seed-users.csv");

/// Runs `authd ARGS` in `dir` on `dir/auth.db` at bcrypt cost 4.
fn authd(dir: &Path, args: &[&str]) -> Output {
    Run::authd()
        .current_dir(dir)
        .args(args)
        .args(["--bcrypt-cost", "4", "--database", &sqlite_url(dir)])
        .output()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn import_reports_each_rejected_row_and_dump_lists_the_accepted_ones() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(SEED_CSV, dir.path().join("seed-users.csv")).unwrap();

    let out = authd(dir.path(), &["import", "seed-users.csv"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(1),
        "a rejected row fails the import\n{stdout}\n{stderr}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "line 1 gh0st: rejected: password_empty (password must not be empty)",
            "line 2 jet-setter: rejected: password_too_short (password must be at least 15 characters long)",
            "line 5 lmb: rejected: password_too_short (password must be at least 15 characters long)",
            "2 of 5 rows imported, 3 rejected",
        ],
        "{stderr}"
    );
    assert_eq!(stderr.trim_end(), "authd: 3 of 5 rows rejected");
    // The progress bar is drawn only on a terminal.
    assert!(!stderr.contains("importing"));

    // The accepted users exist, with their profile fields trimmed.
    let out = authd(dir.path(), &["user", "show", "kvothe"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("full_name: Patrick Rothfuss\n"), "{shown}");
    assert!(
        shown.contains("mothers_favorite_search_engine: Duck Duck Go\n"),
        "{shown}"
    );
    let out = authd(dir.path(), &["user", "list"]);
    let listed = text(&out.stdout);
    let mut listed: Vec<&str> = listed.lines().collect();
    listed.sort_unstable();
    assert_eq!(
        listed,
        ["kvothe (Patrick Rothfuss)", "tpratchett (Terry Pratchett)"]
    );

    let out = authd(dir.path(), &["dump"]);
    let dump = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let users: Vec<&str> = dump
        .lines()
        .filter(|l| l.starts_with("INSERT INTO users "))
        .collect();
    assert_eq!(users.len(), 2, "{dump}");
    assert!(users[0].contains("'kvothe'") || users[1].contains("'kvothe'"));
    assert!(users.iter().any(|l| l.contains("'tpratchett'")));
    assert!(
        dump.lines().all(|l| l.starts_with("INSERT INTO ")),
        "{dump}"
    );
    assert_eq!(
        dump.lines()
            .filter(|l| l.starts_with("INSERT INTO events "))
            .count(),
        2,
        "one user_registered event per accepted row"
    );
    for password in ["3##Heel7sa*9-zRwT", "Thats Sir Terry to you!", "r0u7!nG"] {
        assert!(!dump.contains(password));
    }

    // Importing again rejects every row; the accepted ones are now taken.
    let out = authd(dir.path(), &["import", "seed-users.csv"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout
        .contains("line 3 kvothe: rejected: already_registered (username already registered)\n"));
    assert!(stdout.contains("line 4 tpratchett: rejected: already_registered"));
    assert!(
        stdout.ends_with("0 of 5 rows imported, 5 rejected\n"),
        "{stdout}"
    );
}

#[test]
fn a_clean_import_exits_0_and_a_malformed_line_is_a_rejected_row() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("good.csv"),
        "denna,Denna,correct horse battery staple,Bing\n",
    )
    .unwrap();
    let out = authd(dir.path(), &["import", "good.csv"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "1 of 1 rows imported, 0 rejected\n");

    std::fs::write(
        dir.path().join("bad.csv"),
        "auri,Auri,purple monkey dishwasher 42,Searx\nonly,three,fields\n",
    )
    .unwrap();
    let out = authd(dir.path(), &["import", "bad.csv"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        "line 2: rejected: malformed_row (expected 4 fields (username, full name, password, \
         mother's favorite search engine), found 3)\n1 of 2 rows imported, 1 rejected\n"
    );
}

#[test]
fn an_unreadable_file_is_one_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let out = authd(dir.path(), &["import", "missing.csv"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("missing.csv"), "{stderr}");
    assert!(
        !dir.path().join("auth.db").exists(),
        "nothing is created when the file cannot be read"
    );

    let out = authd(dir.path(), &["import"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a missing argument is bad usage"
    );
}
