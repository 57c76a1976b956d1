//! `authd`: runs the authentication server and administers its data.

// The doc comments of the options are clap's `--help` text, written for a
// terminal (`HOST[:PORT]`, bare URLs), not rustdoc markdown.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::bare_urls)]

mod cli;
mod clients;
mod data;
mod serve;
mod sites;
mod tokens;
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
            Command::Serve(args) => serve::serve(&cli.global, *args).await,
            Command::Migrate => serve::migrate(&cli.global).await,
            Command::Import { file } => data::import(&cli.global, &file).await,
            Command::Dump => data::dump(&cli.global).await,
            Command::Site(command) => {
                let auth = serve::open_existing(&cli.global, serve::auth_config(&cli.global));
                sites::run(&auth.await?, command).await
            }
            Command::Client(command) => {
                let auth = serve::open_existing(&cli.global, serve::auth_config(&cli.global));
                clients::run(&auth.await?, command).await
            }
            Command::Oidc(command) => {
                let cli::OidcCommand::RotateKey {
                    oidc_key_publish_delay,
                    ..
                } = &command;
                let config = auth_core::Config {
                    oidc_key_publish_delay: *oidc_key_publish_delay,
                    ..serve::auth_config(&cli.global)
                };
                let auth = serve::open_existing(&cli.global, config).await?;
                clients::run_oidc(&auth, command).await
            }
            Command::Token(command) => {
                let auth = serve::open_existing(&cli.global, serve::auth_config(&cli.global));
                tokens::run(&auth.await?, command).await
            }
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
/// With JSON every line is one JSON object, the reset-token event included;
/// with text that event is the contract's own line,
/// `password reset token for <account>: <token>` (and ` (reset link: …)`).
fn init_logging(format: LogFormat, default_level: &str) {
    use tracing_subscriber::filter::filter_fn;
    use tracing_subscriber::prelude::*;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{default_level},hyper=warn,warp=warn")))
        // warp's own events of the request span repeat the request line, and
        // come before the request has its id: always off. The reset token
        // of `--reset-delivery log` is the delivery itself: always on.
        .add_directive(directive("warp::filters::trace=off"))
        .add_directive(directive(&format!(
            "{}=info",
            auth_core::RESET_TOKEN_TARGET
        )))
        .add_directive(directive(&format!(
            "{}=info",
            auth_core::EMAIL_TOKEN_TARGET
        )));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Text => registry
            .with(fmt.with_filter(filter_fn(|meta| {
                meta.target() != auth_core::RESET_TOKEN_TARGET
                    && meta.target() != auth_core::EMAIL_TOKEN_TARGET
            })))
            .with(ResetTokenLine)
            .init(),
        LogFormat::Json => registry.with(fmt.json()).init(),
    }
}

/// A fixed filter directive of [`init_logging`].
#[allow(
    clippy::expect_used,
    reason = "start-up: every directive is fixed text of this file, valid or failing every run"
)]
fn directive(text: &str) -> tracing_subscriber::filter::Directive {
    text.parse().expect("a fixed, valid filter directive")
}

/// Writes the reset-token event of the text log as the contract's line.
struct ResetTokenLine;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ResetTokenLine {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _context: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let target = event.metadata().target();
        if target != auth_core::RESET_TOKEN_TARGET && target != auth_core::EMAIL_TOKEN_TARGET {
            return;
        }
        #[derive(Default)]
        struct Fields {
            account: String,
            token: String,
            link: String,
        }
        impl tracing::field::Visit for Fields {
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                match field.name() {
                    "account" => self.account = value.to_owned(),
                    "token" => self.token = value.to_owned(),
                    "link" => self.link = value.to_owned(),
                    _ => {}
                }
            }
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.record_str(field, &format!("{value:?}"));
            }
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        // docs/contract/10-email.md: the verification link's line.
        if target == auth_core::EMAIL_TOKEN_TARGET {
            eprintln!(
                "e-mail verification token for {}: {} (verification link: {})",
                fields.account, fields.token, fields.link
            );
        // A reset asked on the website also names its link.
        } else if fields.link.is_empty() {
            eprintln!(
                "password reset token for {}: {}",
                fields.account, fields.token
            );
        } else {
            eprintln!(
                "password reset token for {}: {} (reset link: {})",
                fields.account, fields.token, fields.link
            );
        }
    }
}
