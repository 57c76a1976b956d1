//! `authd-client`: the desktop client of the device check (`GET /check`).
//!
//! Reads a username and a password from standard input, derives this
//! computer's machine ID, sends the three in the `SEEK_CUSTOM_AUTH` header and
//! prints the server's answer in one line on standard output: exit 0 on OK,
//! 1 otherwise. Bad usage (options, standard input) is one line on standard
//! error and exit 2. The password and the header value are never printed.

// The doc comments of the options are clap's `--help` text, written for a
// terminal (`HOST[:PORT]`, bare URLs), not rustdoc markdown.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::bare_urls)]

mod check;
mod cli;
mod credentials;
mod machine_id;

use std::process::ExitCode;

use clap::Parser;

use check::check;
use cli::{tls_settings, Cli};
use credentials::{header_value, read_credentials};
use machine_id::machine_id_of_this_computer;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return report_usage_error(error),
    };
    let tls = match tls_settings(&cli) {
        Ok(tls) => tls,
        Err(message) => {
            eprintln!("authd-client: {message}");
            return ExitCode::from(2);
        }
    };
    let machine_id = match machine_id_of_this_computer(cli.machine_id_file.as_deref()) {
        Ok(machine_id) => machine_id,
        Err(message) => {
            eprintln!("authd-client: {message}");
            return ExitCode::FAILURE;
        }
    };
    let credentials = match read_credentials() {
        Ok(credentials) => credentials,
        Err(message) => {
            eprintln!("authd-client: {message}");
            return ExitCode::from(2);
        }
    };
    let header = header_value(&credentials, &machine_id);
    drop(credentials);
    let answer = check(&cli.server, tls, &header);
    println!("{answer}");
    if answer.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `--help` and `--version` print and exit 0; any other option error is one
/// line on standard error and exit 2.
fn report_usage_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = error.print();
            ExitCode::SUCCESS
        }
        _ => {
            let rendered = error.render().to_string();
            let first = rendered
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("bad usage");
            eprintln!("authd-client: {}", first.trim_start_matches("error: "));
            ExitCode::from(2)
        }
    }
}
