//! The command line: global options, subcommands and their parsers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use auth_http::RateLimit;
use auth_http::{ResetDelivery, TrustedProxy};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// authd: sign-up, login, sessions, password reset and device-bound checks.
#[derive(Parser, Debug)]
#[command(name = "authd", version, about, arg_required_else_help = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand reads; they may stand before or after it.
#[derive(Args, Debug)]
pub struct GlobalOptions {
    /// sqlite://PATH (embedded, created on first start) or postgres://…
    #[arg(long, global = true, env = "AUTHD_DATABASE", default_value = "sqlite://auth.db",
          value_parser = parse_database_url)]
    pub database: String,
    /// 32-byte key file, created with mode 0600 if missing [default: authd.key next to the SQLite file, or in the working directory]. AUTHD_SECRET_KEY (hex) wins over it.
    #[arg(long, global = true, env = "AUTHD_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
    /// Log format.
    #[arg(long, global = true, env = "AUTHD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// bcrypt cost for new hashes; other costs are rehashed at the next login.
    #[arg(long, global = true, env = "AUTHD_BCRYPT_COST", default_value_t = 12,
          value_parser = clap::value_parser!(u32).range(4..=16))]
    pub bcrypt_cost: u32,
    /// Minimum password length in Unicode code points after NFC.
    #[arg(long, global = true, env = "AUTHD_PASSWORD_MIN_LENGTH", default_value_t = 15,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub password_min_length: u16,
}

/// Log line format.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server (applies pending migrations first).
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Create accounts from CSV rows: username,Full Name,password,Mother's favorite search engine (no header line).
    Import {
        /// The CSV file.
        file: PathBuf,
    },
    /// Write the whole data store to standard output, one SQL INSERT statement per row.
    Dump,
    /// Manage the sites forward authentication protects (reverse proxies ask GET /auth/verify).
    #[command(subcommand)]
    Site(SiteCommand),
    /// Manage the applications that sign their users in with authd (OpenID Connect clients).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage the OpenID Connect provider's signing keys.
    #[command(subcommand)]
    Oidc(OidcCommand),
    /// Manage personal access tokens (for scripts and the admin API).
    #[command(subcommand)]
    Token(TokenCommand),
}

/// `authd token …`
#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Make a token for an account and print it once.
    Add {
        /// The username (or e-mail) the token acts for.
        username: String,
        /// Its scopes: profile, admin:read, admin:write.
        #[arg(long = "scope", required = true, num_args = 1.., value_parser = parse_scope)]
        scopes: Vec<auth_core::Scope>,
        /// A name to tell it apart in lists.
        #[arg(long)]
        name: Option<String>,
        /// Its lifetime (s, m, h, d suffixes); without it, it never expires.
        #[arg(long, value_parser = parse_duration)]
        expires: Option<Duration>,
    },
    /// List an account's tokens (never their secrets).
    List {
        /// The username (or e-mail).
        username: String,
    },
    /// Revoke a token by its id.
    Revoke {
        /// The token's id (from `authd token list`).
        id: String,
    },
}

/// A scope by its exact name.
fn parse_scope(text: &str) -> Result<auth_core::Scope, String> {
    auth_core::Scope::parse(text).ok_or_else(|| {
        format!("unknown scope {text:?}: expected profile, admin:read or admin:write")
    })
}

/// `authd site …`
#[derive(Subcommand, Debug)]
pub enum SiteCommand {
    /// Protect a host (a host name or host:port, any case); every server of the deployment sees it within a second.
    Add {
        /// The host, as the proxy forwards it (app.example.com, or app.example.com:8443).
        host: String,
        /// `required`: let in only sessions that completed a second factor.
        #[arg(long, value_enum)]
        second_factor: Option<SecondFactor>,
        /// Let in only these accounts (username or e-mail; repeat). Without it, every account.
        #[arg(long, num_args = 1..)]
        allow_user: Vec<String>,
    },
    /// List the protected hosts and their rules.
    List,
    /// Stop protecting a host: the proxy then gets 403 for it.
    Delete {
        /// The host.
        host: String,
    },
}

/// Whether a protected site requires a second factor.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecondFactor {
    /// Only sessions that completed a second factor.
    Required,
    /// Any session (the default).
    Optional,
}

/// `authd client …`
#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Register an application; prints its client_id and, unless --public, its client_secret (once).
    Add {
        /// The application's name, shown on the consent page.
        name: String,
        /// A redirect URI: https://…, or http:// on a loopback host, no fragment (repeat for several).
        #[arg(long = "redirect-uri", required = true, value_parser = parse_redirect_uri)]
        redirect_uris: Vec<String>,
        /// A public client (a single-page or native application): no secret, PKCE alone.
        #[arg(long)]
        public: bool,
        /// A first-party application: its users are not asked for consent.
        #[arg(long)]
        trusted: bool,
        /// Where /oauth/logout may send the browser back to (repeat for several).
        #[arg(long = "post-logout-redirect-uri", value_parser = parse_redirect_uri)]
        post_logout_redirect_uris: Vec<String>,
    },
    /// List every registered application.
    List,
    /// Show one application.
    Show {
        /// The client_id.
        id: String,
    },
    /// Delete an application; its tokens die with it.
    Delete {
        /// The client_id.
        id: String,
    },
    /// Give a confidential application a new secret (printed once); the old one stops working.
    RotateSecret {
        /// The client_id.
        id: String,
    },
}

/// `authd oidc …`
#[derive(Subcommand, Debug)]
pub enum OidcCommand {
    /// Add a signing key: published at once, used for ID tokens after --oidc-key-publish-delay.
    RotateKey {
        /// RS256 (default) or ES256.
        #[arg(long, default_value = "RS256", value_parser = parse_signing_alg)]
        alg: auth_core::SigningAlg,
        /// How long the new key is published before it signs (s, m, h, d suffixes).
        #[arg(long, env = "AUTHD_OIDC_KEY_PUBLISH_DELAY", default_value = "1h", value_parser = parse_duration)]
        oidc_key_publish_delay: Duration,
    },
}

/// `authd user …`
#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add an account; the password is read twice from the terminal, or once with --password-stdin.
    Add {
        /// The username.
        username: String,
        /// An e-mail address.
        #[arg(long)]
        email: Option<String>,
        /// The full name.
        #[arg(long)]
        full_name: Option<String>,
        /// Mother's favorite search engine.
        #[arg(long)]
        mothers_favorite_search_engine: Option<String>,
        /// Read the password as one line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password; every session of theirs ends.
    SetPassword {
        /// The username (or e-mail).
        username: String,
        /// Read the password as one line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List every account.
    List,
    /// Show one account and its machine.
    Show {
        /// The username (or e-mail).
        username: String,
    },
    /// Delete an account with its sessions and machine.
    Delete {
        /// The username (or e-mail).
        username: String,
    },
    /// Free a user's machine so they can move to a new computer.
    UnbindMachine {
        /// The username (or e-mail).
        username: String,
    },
    /// Remove every second factor of a user (a lost phone) and end their sessions.
    MfaReset {
        /// The username (or e-mail).
        username: String,
    },
    /// Disable an account: no route signs it in, and its sessions, OIDC grants and tokens end.
    Disable {
        /// The username (or e-mail).
        username: String,
    },
    /// Enable a disabled account again (its ended sessions stay ended).
    Enable {
        /// The username (or e-mail).
        username: String,
    },
    /// Mark a user's e-mail address verified (the operator vouches for it).
    VerifyEmail {
        /// The username (or e-mail).
        username: String,
    },
}

/// Options of `authd serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Listen address.
    #[arg(long, env = "AUTHD_BIND", default_value = "127.0.0.1:5000")]
    pub bind: SocketAddr,
    /// A session unused this long is dead (s, m, h, d suffixes).
    #[arg(long, env = "AUTHD_SESSION_IDLE_TIMEOUT", default_value = "30m", value_parser = parse_duration)]
    pub session_idle_timeout: Duration,
    /// A session older than this is dead, used or not.
    #[arg(long, env = "AUTHD_SESSION_MAX_AGE", default_value = "24h", value_parser = parse_duration)]
    pub session_max_age: Duration,
    /// How long a password-reset token stays usable.
    #[arg(long, env = "AUTHD_RESET_TOKEN_TTL", default_value = "30m", value_parser = parse_duration)]
    pub reset_token_ttl: Duration,
    /// How long an e-mail verification link works.
    #[arg(long, env = "AUTHD_EMAIL_TOKEN_TTL", default_value = "24h", value_parser = parse_duration)]
    pub email_token_ttl: Duration,
    /// Refuse logins (401 email_unverified) of accounts whose e-mail address is not verified.
    #[arg(long, env = "AUTHD_REQUIRE_VERIFIED_EMAIL")]
    pub require_verified_email: bool,
    /// off, range:URL (the Have I Been Pwned range protocol, e.g. range:https://api.pwnedpasswords.com/range) or file:PATH (a sorted file of SHA-1 hashes).
    #[arg(long, env = "AUTHD_BREACHED_PASSWORDS", default_value = "off", value_parser = auth_core::BreachedPasswords::parse)]
    pub breached_passwords: auth_core::BreachedPasswords,
    /// log: the token goes to standard error; smtp: e-mailed through --smtp-url with --public-url links; response: in the HTTP response (classrooms only).
    #[arg(long, env = "AUTHD_RESET_DELIVERY", default_value = "log", value_parser = parse_reset_delivery)]
    pub reset_delivery: ResetDelivery,
    /// Name of the session cookie.
    #[arg(long, env = "AUTHD_COOKIE_NAME", default_value = "session_id", value_parser = parse_cookie_name)]
    pub cookie_name: String,
    /// Addresses or networks (10.0.0.0/8) whose X-Forwarded-For, and for /auth/verify whose X-Forwarded-Method/Proto/Host/Uri and X-Original-URL, are believed (repeat, or comma-separate).
    #[arg(long, env = "AUTHD_TRUSTED_PROXY", value_delimiter = ',')]
    pub trusted_proxy: Vec<TrustedProxy>,
    /// Domain of the session cookie, to share sessions with protected sites on its subdomains (forward authentication); the cookie then cannot be named __Host-….
    #[arg(long, env = "AUTHD_COOKIE_DOMAIN", value_parser = parse_cookie_domain)]
    pub cookie_domain: Option<String>,
    /// Per-client-address limit on sign-up, login and reset requests: N/s, N/min, N/h or off.
    #[arg(long, env = "AUTHD_IP_RATE_LIMIT", default_value = "60/min")]
    pub ip_rate_limit: RateLimit,
    /// The site's external origin (https://auth.example.com).
    #[arg(long, env = "AUTHD_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,
    /// How long an OpenID Connect access token lives (s, m, h, d suffixes).
    #[arg(long, env = "AUTHD_OIDC_ACCESS_TOKEN_TTL", default_value = "10m", value_parser = parse_duration)]
    pub oidc_access_token_ttl: Duration,
    /// How long an OpenID Connect refresh token stays good unused; each refresh issues a new one (s, m, h, d suffixes).
    #[arg(long, env = "AUTHD_OIDC_REFRESH_TOKEN_TTL", default_value = "30d", value_parser = parse_duration)]
    pub oidc_refresh_token_ttl: Duration,
    /// How long a signing key added by `authd oidc rotate-key` is published before it signs.
    #[arg(long, env = "AUTHD_OIDC_KEY_PUBLISH_DELAY", default_value = "1h", value_parser = parse_duration)]
    pub oidc_key_publish_delay: Duration,
    /// SMTP server for --reset-delivery smtp: smtp://HOST[:PORT] (plain), smtp://HOST:587?tls=required (STARTTLS), smtps://USER:PASS@HOST[:465] (TLS).
    #[arg(long, env = "AUTHD_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// PEM certificate chain: serve HTTPS (HTTP/1.1 and HTTP/2 by ALPN). SIGHUP re-reads it and --tls-key.
    #[arg(long, env = "AUTHD_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "AUTHD_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Open client connections at most; further ones wait in the listen backlog.
    #[arg(long, env = "AUTHD_MAX_CONNECTIONS", default_value_t = auth_http::server::DEFAULT_MAX_CONNECTIONS,
          value_parser = parse_max_connections)]
    pub max_connections: usize,
    /// A client must send a whole request head (and finish its TLS handshake) within this time.
    #[arg(long, env = "AUTHD_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: Duration,
    /// A connection with no request for this long is closed (tests shorten it).
    #[arg(long, env = "AUTHD_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_duration, hide = true)]
    pub idle_timeout: Duration,
    /// A request must be read and answered within this time, or its connection is closed (tests shorten it).
    #[arg(long, env = "AUTHD_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration, hide = true)]
    pub request_timeout: Duration,
    /// How often the per-address limit forgets clients whose allowance is full again (tests shorten it).
    #[arg(long, env = "AUTHD_IP_LIMITER_SWEEP", default_value = "60s", value_parser = parse_duration, hide = true)]
    pub ip_limiter_sweep: Duration,
    /// Password hashes that may wait for a CPU; past it logins get 503 with Retry-After.
    #[arg(long, env = "AUTHD_HASH_QUEUE_LIMIT", default_value_t = auth_core::DEFAULT_HASH_QUEUE_LIMIT,
          value_parser = parse_max_connections, hide = true)]
    pub hash_queue_limit: usize,
    /// Sender of the reset e-mails.
    #[arg(long, env = "AUTHD_SMTP_FROM", default_value = auth_core::DEFAULT_FROM, value_parser = parse_smtp_from)]
    pub smtp_from: String,
}

/// Prints clap's verdict. A bad option value, and the checks of [`check`],
/// are one line naming the option (`authd: …`, exit 2); every other usage
/// error keeps clap's own output, with its suggestions, valid values, usage
/// and `--help` hint (exit 2); help and version go to standard output (exit 0).
pub fn report_usage_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::ValueValidation | ErrorKind::ArgumentConflict => {
            let rendered = error.render().to_string();
            let first = rendered
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("bad usage");
            eprintln!("authd: {}", first.trim_start_matches("error: "));
            ExitCode::from(2)
        }
        _ => {
            let _ = error.print();
            // 0 for --help and --version, 2 for a usage error.
            ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2))
        }
    }
}

/// The checks that span options, as usage errors (exit 2, one line naming
/// the option).
pub fn check(cli: Cli) -> Result<Cli, clap::Error> {
    use clap::CommandFactory;
    if let Command::Serve(args) = &cli.command {
        // The certificate pair first: it is checked before anything else.
        let tls_problem = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => auth_http::server::TlsFiles::load(cert, key)
                .err()
                .map(|e| e.to_string()),
            (Some(_), None) => Some("--tls-cert needs --tls-key (or AUTHD_TLS_KEY)".to_owned()),
            (None, Some(_)) => Some("--tls-key needs --tls-cert (or AUTHD_TLS_CERT)".to_owned()),
            (None, None) => None,
        };
        let problem = if tls_problem.is_some() {
            tls_problem
        } else if let Some(Err(error)) = args.smtp_url.as_deref().map(auth_core::check_smtp_url) {
            // The message never repeats the URL: it may hold a password.
            Some(format!("--smtp-url: {error}"))
        } else if args.reset_delivery == ResetDelivery::Smtp && args.smtp_url.is_none() {
            Some("--reset-delivery smtp needs --smtp-url (or AUTHD_SMTP_URL)".to_owned())
        } else if args.reset_delivery == ResetDelivery::Smtp && args.public_url.is_none() {
            Some("--reset-delivery smtp needs --public-url for the links in the e-mails".to_owned())
        } else if args.cookie_domain.is_some() && args.cookie_name.starts_with("__Host-") {
            Some(
                "--cookie-domain cannot go with a __Host- cookie name (browsers refuse a __Host- cookie with a Domain); choose another --cookie-name"
                    .to_owned(),
            )
        } else if args.public_url.is_none()
            && args.tls_cert.is_none()
            && !args.bind.ip().is_loopback()
        {
            // Without --public-url the issuer is the address listened on: a
            // plain http:// one beyond the loopback (docs/contract/8-openid-connect.md).
            Some(format!(
                "--bind {}: beyond the loopback the OpenID Connect issuer must be https://: give --public-url https://… (a proxy in front) or --tls-cert",
                args.bind
            ))
        } else {
            args.public_url
                .as_deref()
                .filter(|url| !secure_issuer(url))
                .map(|url| {
                    format!(
                        "--public-url {url}: an OpenID Connect issuer beyond the loopback must be https://"
                    )
                })
        };
        if let Some(message) = problem {
            return Err(Cli::command().error(clap::error::ErrorKind::ArgumentConflict, message));
        }
    }
    Ok(cli)
}

/// `30s`, `30m`, `24h`, `7d` (and humantime's combinations); at least a second.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text.trim())
        .map_err(|_| "not a duration: use a number with s, m, h or d (30s, 30m, 24h, 7d)")?;
    if duration < Duration::from_secs(1) {
        return Err("must be at least 1s".into());
    }
    Ok(duration)
}

/// 1 to 1,000,000 connections.
fn parse_max_connections(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
        _ => Err("expected a number of connections from 1 to 1000000".into()),
    }
}

/// `sqlite://PATH`, `postgres://…` or `postgresql://…`.
fn parse_database_url(text: &str) -> Result<String, String> {
    match text.split_once("://") {
        Some(("sqlite", path)) if !path.is_empty() => Ok(text.to_owned()),
        Some(("postgres" | "postgresql", _)) => Ok(text.to_owned()),
        _ => Err("expected sqlite://PATH or postgres://USER@HOST/DB".into()),
    }
}

fn parse_reset_delivery(text: &str) -> Result<ResetDelivery, String> {
    text.parse()
}

/// A cookie name is an HTTP token.
fn parse_cookie_name(text: &str) -> Result<String, String> {
    let token_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if !text.is_empty() && text.chars().all(token_char) {
        Ok(text.to_owned())
    } else {
        Err("must be a non-empty HTTP token (letters, digits and !#$%&'*+-.^_`|~)".into())
    }
}

/// A cookie domain: a DNS name (a leading dot is dropped, as browsers do).
fn parse_cookie_domain(text: &str) -> Result<String, String> {
    let domain = text.trim().trim_start_matches('.').to_ascii_lowercase();
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if domain.len() <= 253 && domain.split('.').all(label_ok) {
        Ok(domain)
    } else {
        Err("must be a domain name such as example.com".into())
    }
}

fn parse_smtp_from(text: &str) -> Result<String, String> {
    auth_core::check_mailbox(text)
        .map(|()| text.to_owned())
        .map_err(|e| e.to_string())
}

/// A redirect URI as `authd client add` takes it (auth-core's rule).
fn parse_redirect_uri(text: &str) -> Result<String, String> {
    auth_core::valid_redirect_uri(text).map(|()| text.to_owned())
}

fn parse_signing_alg(text: &str) -> Result<auth_core::SigningAlg, String> {
    auth_core::SigningAlg::from_name(text).ok_or_else(|| "expected RS256 or ES256".into())
}

/// Whether an origin may be an OpenID Connect issuer: `https://`, or
/// `http://` on a loopback host (docs/contract/8-openid-connect.md).
pub fn secure_issuer(origin: &str) -> bool {
    match url::Url::parse(origin) {
        Ok(url) if url.scheme() == "https" => true,
        Ok(url) if url.scheme() == "http" => match url.host() {
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

fn parse_public_url(text: &str) -> Result<String, String> {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or("must start with http:// or https://")?;
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        return Err("must name a host".into());
    }
    Ok(text.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_the_contract_suffixes() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("24h").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172_800));
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn cookie_names_and_urls() {
        assert!(parse_cookie_name("__Host-session").is_ok());
        assert!(parse_cookie_name("bad name").is_err());
        assert!(parse_cookie_name("a;b").is_err());
        assert_eq!(
            parse_public_url("https://auth.example.com/").unwrap(),
            "https://auth.example.com"
        );
        assert!(parse_public_url("auth.example.com").is_err());
        assert_eq!(parse_cookie_domain(".Example.com").unwrap(), "example.com");
        assert!(parse_cookie_domain("example.com/x").is_err());
        assert!(parse_cookie_domain("").is_err());
        assert!(parse_cookie_domain("a..b").is_err());
    }

    #[test]
    fn global_options_stand_before_or_after_the_subcommand() {
        let before =
            Cli::try_parse_from(["authd", "--database", "sqlite://x.db", "migrate"]).unwrap();
        let after =
            Cli::try_parse_from(["authd", "migrate", "--database", "sqlite://x.db"]).unwrap();
        assert_eq!(before.global.database, "sqlite://x.db");
        assert_eq!(after.global.database, "sqlite://x.db");
    }
}
