//! Settings of the HTTP layer.

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use crate::limiter::RateLimit;
use crate::mail::Mailer;

/// How a password-reset token reaches its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetDelivery {
    /// One line on the server's standard error (development).
    Log,
    /// In the HTTP response body, as the Holberton exercise does (classrooms only).
    Response,
    /// E-mailed to the account's address by [`HttpConfig::mailer`].
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
    /// Sends the reset tokens with [`ResetDelivery::Smtp`]; without it that
    /// delivery answers 503 `unavailable`.
    pub mailer: Option<Arc<Mailer>>,
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
            mailer: None,
        }
    }
}
