//! Settings of the HTTP layer.

use std::net::IpAddr;
use std::str::FromStr;

use crate::limiter::RateLimit;

/// How a password-reset token reaches its owner. `Log` and `Smtp` are
/// carried by auth-core's [`auth_core::Config::notifier`] (a
/// [`auth_core::LogNotifier`] or an [`auth_core::SmtpNotifier`]); `Response`
/// is the HTTP layer's own: the JSON API answers with the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetDelivery {
    /// One line on the server's standard error (development).
    Log,
    /// In the HTTP response body, as the Holberton exercise does (classrooms only).
    Response,
    /// E-mailed to the account's address (auth-core's `SmtpNotifier`).
    Smtp,
}

impl FromStr for ResetDelivery {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "log" => Ok(ResetDelivery::Log),
            "response" => Ok(ResetDelivery::Response),
            "smtp" => Ok(ResetDelivery::Smtp),
            other => Err(format!("expected log, smtp or response, got {other:?}")),
        }
    }
}

/// Settings of [`crate::routes`].
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Name of the session cookie (`session_id`, or `__Host-session` behind TLS).
    pub cookie_name: String,
    /// How reset tokens are delivered.
    pub reset_delivery: ResetDelivery,
    /// Per-client-address limit on the endpoints that hash or create state.
    pub ip_rate_limit: RateLimit,
    /// How often the per-address limiter forgets clients whose allowance is
    /// full again.
    pub ip_limiter_sweep_interval: std::time::Duration,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// The site's external origin (`https://auth.example.com`), if known.
    pub public_url: Option<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            cookie_name: "session_id".into(),
            reset_delivery: ResetDelivery::Log,
            ip_rate_limit: RateLimit::Every {
                count: std::num::NonZeroU32::new(60).unwrap_or(std::num::NonZeroU32::MIN),
                per: std::time::Duration::from_secs(60),
            },
            ip_limiter_sweep_interval: crate::limiter::DEFAULT_SWEEP_INTERVAL,
            trusted_proxies: Vec::new(),
            public_url: None,
        }
    }
}
