//! `authd serve` and `authd migrate`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use auth_core::{Auth, Config, KeySource, PreparedStore, SecretKey, StoreAccess};
use auth_http::{HttpConfig, ResetDelivery};

use crate::cli::{GlobalOptions, ServeArgs};

/// How often dead sessions, expired reset tokens and old failure counts are purged.
const PURGE_INTERVAL: Duration = Duration::from_secs(10 * 60);

/// Runs the server until SIGTERM or Ctrl-C, then finishes the requests in flight.
pub async fn serve(global: &GlobalOptions, args: ServeArgs) -> anyhow::Result<()> {
    let config = Config {
        session_idle_timeout: args.session_idle_timeout,
        session_max_age: args.session_max_age,
        reset_token_ttl: args.reset_token_ttl,
        ..auth_config(global)
    };
    let auth = open_auth(global, config, StoreAccess::Create).await?;
    if args.reset_delivery == ResetDelivery::Response {
        tracing::warn!(
            "--reset-delivery response puts reset tokens in HTTP responses: anyone who knows an account's \
             e-mail can take it over. Use it only for the classroom exercise."
        );
    }
    let mailer = match (&args.reset_delivery, &args.smtp_url, &args.public_url) {
        (ResetDelivery::Smtp, Some(smtp_url), Some(public_url)) => Some(std::sync::Arc::new(
            auth_http::Mailer::new(smtp_url, &args.smtp_from, public_url)
                .context("--reset-delivery smtp")?,
        )),
        _ => None,
    };
    let http = HttpConfig {
        cookie_name: args.cookie_name,
        reset_delivery: args.reset_delivery,
        ip_rate_limit: args.ip_rate_limit,
        trusted_proxies: args.trusted_proxy,
        public_url: args.public_url,
        mailer,
    };
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("--bind {}: cannot listen", args.bind))?;
    let local = listener
        .local_addr()
        .context("reading the listening address")?;
    tracing::info!("listening on http://{local}");

    let purger = tokio::spawn(purge_regularly(auth.clone()));
    warp::serve(auth_http::routes(auth, http))
        .incoming(listener)
        .graceful(shutdown_signal())
        .run()
        .await;
    purger.abort();
    tracing::info!("stopped");
    Ok(())
}

/// Applies pending migrations (creating the store and its key if need be)
/// and says what it did.
pub async fn migrate(global: &GlobalOptions) -> anyhow::Result<()> {
    let store = prepare(global, StoreAccess::Create).await?;
    match store.migrations_applied {
        0 => println!("up to date"),
        1 => println!("applied 1 migration"),
        applied => println!("applied {applied} migrations"),
    }
    Ok(())
}

/// The `Auth` settings the global options give.
pub fn auth_config(global: &GlobalOptions) -> Config {
    Config {
        bcrypt_cost: global.bcrypt_cost,
        password_min_length: usize::from(global.password_min_length),
        ..Config::default()
    }
}

/// Opens `Auth` with the deployment's key, after the store and the key have
/// passed the rules of [`auth_core::prepare_store`]; `access` says whether
/// the command may create the database and the key.
pub async fn open_auth(
    global: &GlobalOptions,
    config: Config,
    access: StoreAccess,
) -> anyhow::Result<Auth> {
    let store = prepare(global, access).await?;
    Auth::open(&global.database, store.key, config)
        .await
        .context("--database: cannot open the database")
}

/// Checks the store and its key; the messages name the key's location.
async fn prepare(global: &GlobalOptions, access: StoreAccess) -> anyhow::Result<PreparedStore> {
    let store = auth_core::prepare_store(&global.database, key_source(global)?, access).await?;
    if store.migrations_applied > 0 {
        tracing::info!(
            applied = store.migrations_applied,
            "database migrations applied"
        );
    }
    Ok(store)
}

/// `AUTHD_SECRET_KEY` (hex) if set, else the key file.
fn key_source(global: &GlobalOptions) -> anyhow::Result<KeySource> {
    if let Ok(hex_key) = std::env::var("AUTHD_SECRET_KEY") {
        let key = SecretKey::from_hex(&hex_key).context("AUTHD_SECRET_KEY")?;
        return Ok(KeySource::Given {
            key,
            origin: "AUTHD_SECRET_KEY".to_owned(),
        });
    }
    Ok(KeySource::File(
        global
            .secret_key_file
            .clone()
            .unwrap_or_else(|| default_key_path(&global.database)),
    ))
}

/// `authd.key` next to the SQLite file, or in the working directory.
fn default_key_path(database: &str) -> PathBuf {
    let beside = database
        .strip_prefix("sqlite://")
        .and_then(|file| Path::new(file).parent())
        .map(Path::to_path_buf)
        .unwrap_or_default();
    beside.join("authd.key")
}

async fn purge_regularly(auth: Auth) {
    let mut interval = tokio::time::interval(PURGE_INTERVAL);
    loop {
        interval.tick().await;
        match auth.purge_expired().await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "purged expired rows"),
            Err(error) => tracing::warn!(%error, "purge failed"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_defaults_to_beside_the_sqlite_file() {
        assert_eq!(
            default_key_path("sqlite://auth.db"),
            PathBuf::from("authd.key")
        );
        assert_eq!(
            default_key_path("sqlite:///var/lib/authd/auth.db"),
            PathBuf::from("/var/lib/authd/authd.key")
        );
        assert_eq!(
            default_key_path("postgres://db/auth"),
            PathBuf::from("authd.key")
        );
    }
}
