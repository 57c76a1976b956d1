//! The settings of an `Auth` service.

use std::sync::Arc;
use std::time::Duration;

use crate::breached::BreachedPasswords;
use crate::delivery::{LogNotifier, Notifier};

/// Settings of an [`crate::Auth`]; `Config::default()` is the contract's defaults.
#[derive(Clone, Debug)]
pub struct Config {
    /// Minimum password length in code points after NFC.
    pub password_min_length: usize,
    /// bcrypt cost for new hashes (4..=16); other costs are rehashed at login.
    pub bcrypt_cost: u32,
    /// A session unused this long is dead.
    pub session_idle_timeout: Duration,
    /// A session older than this is dead, used or not.
    pub session_max_age: Duration,
    /// How long a reset token stays usable.
    pub reset_token_ttl: Duration,
    /// How long an e-mail verification link works (docs/contract/10-email.md).
    pub email_token_ttl: Duration,
    /// Refuse logins until the account's address is verified.
    pub require_verified_email: bool,
    /// Where breached passwords are looked up (`off` by default).
    pub breached_passwords: BreachedPasswords,
    /// Most database connections the pool keeps.
    pub pool_size: u32,
    /// How long a request waits for a database connection before failing with 503.
    pub database_timeout: Duration,
    /// How long a request waits for the database's answer once it has a
    /// connection before failing with 503: a pooler (PgBouncer) or a network
    /// that keeps the connection open while the database is gone would
    /// otherwise hold the request until the pooler gives up. Work cut off
    /// this way may still finish in the database (as after any time-out);
    /// its connection stays taken until it does. `authd dump` is not bound.
    pub database_answer_timeout: Duration,
    /// Password hashes that may wait for a CPU; past it a hash fails at once
    /// with `AuthError::Overloaded`.
    pub hash_queue_limit: usize,
    /// How reset tokens reach their owner ([`LogNotifier`] by default; an
    /// [`crate::SmtpNotifier`] e-mails them).
    pub notifier: Arc<dyn Notifier>,
    /// The OpenID Connect issuer: an origin without a trailing slash
    /// (docs/contract/8-openid-connect.md).
    pub oidc_issuer: String,
    /// How long an OIDC access token lives.
    pub oidc_access_token_ttl: Duration,
    /// How long an unused OIDC refresh token lives (each rotation starts a
    /// new one).
    pub oidc_refresh_token_ttl: Duration,
    /// How long a rotated signing key is published before it signs.
    pub oidc_key_publish_delay: Duration,
}

/// Default of [`Config::hash_queue_limit`]: at cost 12 on two CPUs, about
/// eight seconds of waiting at most.
pub const DEFAULT_HASH_QUEUE_LIMIT: usize = 64;
/// The lowest bcrypt cost accepted (what the tests use).
pub const MIN_BCRYPT_COST: u32 = 4;
/// The highest bcrypt cost accepted.
pub const MAX_BCRYPT_COST: u32 = 16;

impl Default for Config {
    fn default() -> Self {
        Config {
            password_min_length: 15,
            bcrypt_cost: 12,
            session_idle_timeout: Duration::from_secs(30 * 60),
            session_max_age: Duration::from_secs(24 * 60 * 60),
            reset_token_ttl: Duration::from_secs(30 * 60),
            email_token_ttl: Duration::from_secs(24 * 60 * 60),
            require_verified_email: false,
            breached_passwords: BreachedPasswords::Off,
            pool_size: 16,
            // Short enough that /healthz says 503 within 5 s of an outage.
            database_timeout: Duration::from_secs(3),
            // Above SQLite's busy_timeout (5 s), so a write waiting for the
            // lock is never cut off by it.
            database_answer_timeout: Duration::from_secs(10),
            hash_queue_limit: DEFAULT_HASH_QUEUE_LIMIT,
            notifier: Arc::new(LogNotifier::default()),
            oidc_issuer: "http://127.0.0.1:8080".into(),
            oidc_access_token_ttl: Duration::from_secs(10 * 60),
            oidc_refresh_token_ttl: Duration::from_secs(30 * 24 * 60 * 60),
            oidc_key_publish_delay: Duration::from_secs(60 * 60),
        }
    }
}

impl Config {
    /// Checks the values that have limits; the message names the setting.
    pub fn validate(&self) -> Result<(), String> {
        if !(MIN_BCRYPT_COST..=MAX_BCRYPT_COST).contains(&self.bcrypt_cost) {
            return Err(format!(
                "bcrypt-cost must be between {MIN_BCRYPT_COST} and {MAX_BCRYPT_COST}, got {}",
                self.bcrypt_cost
            ));
        }
        if self.password_min_length == 0 {
            return Err("password-min-length must be at least 1".into());
        }
        for (name, value) in [
            ("session-idle-timeout", self.session_idle_timeout),
            ("session-max-age", self.session_max_age),
            ("reset-token-ttl", self.reset_token_ttl),
            ("email-token-ttl", self.email_token_ttl),
            ("database answer timeout", self.database_answer_timeout),
            ("oidc-access-token-ttl", self.oidc_access_token_ttl),
            ("oidc-refresh-token-ttl", self.oidc_refresh_token_ttl),
        ] {
            if value.as_secs() == 0 {
                return Err(format!("{name} must be at least one second"));
            }
        }
        if self.hash_queue_limit == 0 {
            return Err("hash queue limit must be at least 1".into());
        }
        if self.pool_size == 0 {
            return Err("pool size must be at least 1".into());
        }
        Ok(())
    }
}
