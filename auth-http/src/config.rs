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
    /// Proxies whose `X-Forwarded-For` (and, for `/auth/verify`, whose
    /// `X-Forwarded-*` and `X-Original-URL`) are believed.
    pub trusted_proxies: Vec<TrustedProxy>,
    /// `Domain` of the session cookie, to share sessions across subdomains
    /// (forward authentication); `None`: a host-only cookie.
    pub cookie_domain: Option<String>,
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
            cookie_domain: None,
            public_url: None,
        }
    }
}

/// A trusted proxy: one address, or a network in CIDR notation
/// (`10.0.0.0/8`, `fd00::/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustedProxy {
    network: IpAddr,
    prefix: u8,
}

impl TrustedProxy {
    /// Whether `addr` is this address or in this network. An IPv4 address
    /// seen as IPv4-mapped IPv6 (`::ffff:10.0.0.1`) counts as itself.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, addr) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl From<IpAddr> for TrustedProxy {
    fn from(addr: IpAddr) -> Self {
        let prefix = if addr.is_ipv4() { 32 } else { 128 };
        TrustedProxy {
            network: addr,
            prefix,
        }
    }
}

impl FromStr for TrustedProxy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad =
            || format!("expected an IP address or a network such as 10.0.0.0/8, got {text:?}");
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text.trim(), None),
        };
        let network: IpAddr = addr.parse().map_err(|_| bad())?;
        let most = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= most)
                .ok_or_else(bad)?,
            None => most,
        };
        Ok(TrustedProxy { network, prefix })
    }
}

impl std::fmt::Display for TrustedProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// Whether `addr` is one of the trusted proxies.
pub(crate) fn trusts(proxies: &[TrustedProxy], addr: IpAddr) -> bool {
    proxies.iter().any(|proxy| proxy.contains(addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        let net: TrustedProxy = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.9".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
        let one: TrustedProxy = "127.0.0.1".parse().unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let all: TrustedProxy = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.9".parse().unwrap()));
        let v6: TrustedProxy = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("fe80::1".parse().unwrap()));
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0.0/",
            "host",
            "::/129",
            "10.0.0.0/-1",
        ] {
            assert!(bad.parse::<TrustedProxy>().is_err(), "{bad:?}");
        }
    }
}
