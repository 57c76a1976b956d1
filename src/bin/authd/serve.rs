//! `authd serve` and `authd migrate`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use auth_core::{
    Auth, Config, KeySource, LogNotifier, Notifier, PreparedStore, SecretKey, SmtpNotifier,
    StoreAccess,
};
use auth_http::server::{ServeOptions, TlsFiles};
use auth_http::{HttpConfig, ResetDelivery};

use crate::cli::{GlobalOptions, ServeArgs};

/// How often dead sessions, expired reset tokens and old failure counts are purged.
const PURGE_INTERVAL: Duration = Duration::from_secs(10 * 60);

/// Runs the server until SIGTERM or Ctrl-C, then finishes the requests in flight.
pub async fn serve(global: &GlobalOptions, args: ServeArgs) -> anyhow::Result<()> {
    // How reset tokens reach people: decided once here, carried by auth-core
    // for the JSON API and the pages alike.
    let notifier: Arc<dyn Notifier> = match (&args.reset_delivery, &args.smtp_url, &args.public_url)
    {
        (ResetDelivery::Smtp, Some(smtp_url), Some(public_url)) => Arc::new(
            SmtpNotifier::new(smtp_url, &args.smtp_from, public_url)
                .context("--reset-delivery smtp")?,
        ),
        _ => Arc::new(LogNotifier::new(args.public_url.as_deref())),
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(Arc::new(TlsFiles::load(cert, key)?)),
        _ => None,
    };
    // Ctrl-C and SIGTERM are caught from before the port listens: one that
    // comes while the store opens (its migrations) then stops the server as
    // soon as it starts, instead of being lost (a background job of a
    // script ignores SIGINT until a handler is set).
    let shutdown = shutdown_signal();
    // Bound before the service opens: without --public-url the OpenID
    // Connect issuer is the address actually listened on (port 0 included).
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("--bind {}: cannot listen", args.bind))?;
    let local = listener
        .local_addr()
        .context("reading the listening address")?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let config = Config {
        session_idle_timeout: args.session_idle_timeout,
        session_max_age: args.session_max_age,
        reset_token_ttl: args.reset_token_ttl,
        email_token_ttl: args.email_token_ttl,
        require_verified_email: args.require_verified_email,
        breached_passwords: args.breached_passwords,
        hash_queue_limit: args.hash_queue_limit,
        notifier,
        oidc_issuer: oidc_issuer(args.public_url.as_deref(), scheme, local),
        oidc_access_token_ttl: args.oidc_access_token_ttl,
        oidc_refresh_token_ttl: args.oidc_refresh_token_ttl,
        oidc_key_publish_delay: args.oidc_key_publish_delay,
        ..auth_config(global)
    };
    let auth = open_auth(global, config, StoreAccess::Create).await?;
    if args.reset_delivery == ResetDelivery::Response {
        tracing::warn!(
            "--reset-delivery response puts reset tokens in HTTP responses: anyone who knows an account's \
             e-mail can take it over. Use it only for the classroom exercise."
        );
    }
    let http = HttpConfig {
        cookie_name: args.cookie_name,
        reset_delivery: args.reset_delivery,
        ip_rate_limit: args.ip_rate_limit,
        ip_limiter_sweep_interval: args.ip_limiter_sweep,
        trusted_proxies: args.trusted_proxy,
        cookie_domain: args.cookie_domain,
        public_url: args.public_url,
    };
    warn_without_https(args.bind, tls.is_some(), http.public_url.as_deref());
    let reloader = tls.clone().and_then(reload_on_sighup);
    tracing::info!("listening on {scheme}://{local}");

    let purger = tokio::spawn(purge_regularly(auth.clone()));
    let options = ServeOptions {
        header_timeout: args.header_timeout,
        idle_timeout: args.idle_timeout,
        request_timeout: args.request_timeout,
        max_connections: args.max_connections,
        tls,
    };
    auth_http::server::serve(listener, auth_http::routes(auth, http), options, shutdown).await;
    purger.abort();
    if let Some(reloader) = reloader {
        reloader.abort();
    }
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

/// The OpenID Connect issuer: the origin of `--public-url`, else the address
/// listened on (docs/contract/8-openid-connect.md).
fn oidc_issuer(public_url: Option<&str>, scheme: &str, local: SocketAddr) -> String {
    match public_url {
        Some(public) => url::Url::parse(public)
            .map(|url| url.origin().ascii_serialization())
            .unwrap_or_else(|_| public.trim_end_matches('/').to_owned()),
        None => format!("{scheme}://{local}"),
    }
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

/// Opens the service on a store that must already exist (every command
/// but `serve`, `migrate`, `import` and `user add`).
pub async fn open_existing(global: &GlobalOptions, config: Config) -> anyhow::Result<Auth> {
    open_auth(global, config, StoreAccess::ExistingOnly).await
}

/// Checks the store and its key; the messages name the key's location.
async fn prepare(global: &GlobalOptions, access: StoreAccess) -> anyhow::Result<PreparedStore> {
    let store = match auth_core::prepare_store(&global.database, key_source(global)?, access).await
    {
        Ok(store) => store,
        // The database layer's message is on one line and holds no password.
        Err(error @ auth_core::StoreError::Database(_)) => {
            return Err(anyhow::Error::new(error).context("--database"))
        }
        Err(error) => return Err(error.into()),
    };
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

/// docs/contract/6-operations.md: cookies are always `Secure`, which browsers honour over
/// plain HTTP only on loopback, so the web forms fail elsewhere.
fn warn_without_https(bind: SocketAddr, tls: bool, public_url: Option<&str>) {
    let https_in_front = public_url.is_some_and(|url| url.starts_with("https://"));
    if !bind.ip().is_loopback() && !tls && !https_in_front {
        tracing::warn!(
            "serving plain HTTP on {bind} without --tls-cert and without an https:// --public-url: browsers \
             drop the Secure session cookie over plain HTTP on any host but localhost, so the web \
             forms will fail there. Serve HTTPS with --tls-cert/--tls-key, or put a TLS proxy in \
             front and set --public-url https://…"
        );
    }
}

/// SIGHUP re-reads the certificate and key; a bad pair keeps the old one.
/// The handler is installed at once (an uncaught SIGHUP ends the process).
#[cfg(unix)]
fn reload_on_sighup(tls: Arc<TlsFiles>) -> Option<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP: the certificate will not be reloaded");
        return None;
    };
    Some(tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            match tls.reload() {
                Ok(()) => tracing::info!("SIGHUP: reloaded the TLS certificate and key"),
                Err(error) => {
                    tracing::warn!(%error, "SIGHUP: kept the previous TLS certificate and key")
                }
            }
        }
    }))
}

#[cfg(not(unix))]
fn reload_on_sighup(_tls: Arc<TlsFiles>) -> Option<tokio::task::JoinHandle<()>> {
    None
}

/// Completes at SIGTERM or Ctrl-C. The handlers are installed when this is
/// called, before the server says it is listening, so a signal sent right
/// after that line is never lost to the default action.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |signal: Option<tokio::signal::unix::Signal>| async move {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(interrupt) => {}
                () = wait(terminate) => {}
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down: finishing requests in flight");
    }
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
