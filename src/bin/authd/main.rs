//! `authd`: runs the authentication server and administers its data.

mod cli;
mod data;
mod serve;
mod users;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, LogFormat};

fn main() -> ExitCode {
    let cli = match Cli::try_parse().and_then(cli::check) {
        Ok(cli) => cli,
        Err(error) => return cli::report_usage_error(error),
    };
    // The server logs every request; the other commands speak only when it matters.
    let default_level = if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    init_logging(cli.global.log_format, default_level);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("authd: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::serve(&cli.global, args).await,
            Command::Migrate => serve::migrate(&cli.global).await,
            Command::Import { file } => data::import(&cli.global, &file).await,
            Command::Dump => data::dump(&cli.global).await,
            Command::User(command) => {
                // Only `user add` may create the store (and its key).
                let access = if matches!(command, cli::UserCommand::Add { .. }) {
                    auth_core::StoreAccess::Create
                } else {
                    auth_core::StoreAccess::ExistingOnly
                };
                let auth =
                    serve::open_auth(&cli.global, serve::auth_config(&cli.global), access).await;
                match auth {
                    Ok(auth) => users::run(&auth, command).await,
                    Err(error) => Err(error),
                }
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("authd: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to standard error, as text or JSON; `RUST_LOG` refines the levels.
fn init_logging(format: LogFormat, default_level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{default_level},hyper=warn,warp=warn")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
