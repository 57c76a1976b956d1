//! The per-client-address rate limit (`--ip-rate-limit`), in each server's
//! memory, with a bounded number of entries: IPv6 clients are counted per
//! /64 (what one subscriber usually gets, so rotating through it buys
//! nothing), IPv4-mapped IPv6 addresses as the IPv4 address, and entries
//! whose allowance is full again are forgotten on a timer.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// How often idle entries are forgotten by default.
pub const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// A request rate: `N/s`, `N/min` or `N/h`, or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateLimit {
    /// No limit.
    Off,
    /// At most `count` requests per `per`, with a burst of half of `count`.
    Every {
        /// Requests allowed per period.
        count: NonZeroU32,
        /// The period.
        per: Duration,
    },
}

impl FromStr for RateLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(RateLimit::Off);
        }
        let bad = || format!("expected N/s, N/min, N/h or off, got {text:?}");
        let (count, unit) = text.split_once('/').ok_or_else(bad)?;
        let count: NonZeroU32 = count.trim().parse().map_err(|_| bad())?;
        let per = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        Ok(RateLimit::Every { count, per })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateLimit::Off => f.write_str("off"),
            RateLimit::Every { count, per } => match per.as_secs() {
                1 => write!(f, "{count}/s"),
                60 => write!(f, "{count}/min"),
                _ => write!(f, "{count}/h"),
            },
        }
    }
}

/// The limiter shared by the routes; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct AddressRateLimiter {
    limiter: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
}

impl AddressRateLimiter {
    /// A limiter for `limit`; inside a tokio runtime it also starts the task
    /// that forgets idle entries every `sweep_interval` (the task ends with
    /// the limiter).
    pub fn new(limit: RateLimit, sweep_interval: Duration) -> Self {
        let limiter = match limit {
            RateLimit::Off => None,
            RateLimit::Every { count, per } => {
                let replenish = per / count.get();
                let burst = NonZeroU32::new(count.get() / 2).unwrap_or(NonZeroU32::MIN);
                Quota::with_period(replenish)
                    .map(|q| Arc::new(DefaultKeyedRateLimiter::keyed(q.allow_burst(burst))))
            }
        };
        if let (Some(limiter), Ok(runtime)) = (&limiter, tokio::runtime::Handle::try_current()) {
            runtime.spawn(sweep(Arc::downgrade(limiter), sweep_interval));
        }
        AddressRateLimiter { limiter }
    }

    /// Takes one request from the client's allowance, or says how long until
    /// the next one is allowed.
    pub fn check(&self, addr: IpAddr) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter
            .check_key(&client_key(addr))
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets clients whose allowance is full again (the timer does it too).
    #[cfg(test)]
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            forget_idle(limiter);
        }
    }

    /// Clients remembered now (the `authd_ip_limiter_entries` gauge).
    pub fn entries(&self) -> usize {
        self.limiter.as_ref().map_or(0, |limiter| limiter.len())
    }
}

fn forget_idle(limiter: &DefaultKeyedRateLimiter<IpAddr>) {
    limiter.retain_recent();
    limiter.shrink_to_fit();
}

async fn sweep(limiter: Weak<DefaultKeyedRateLimiter<IpAddr>>, every: Duration) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        interval.tick().await;
        let Some(limiter) = limiter.upgrade() else {
            return;
        };
        forget_idle(&limiter);
    }
}

/// The key a client is counted under: an IPv4 address (also when it comes
/// IPv4-mapped), or the /64 prefix of an IPv6 address.
pub(crate) fn client_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_print() {
        assert_eq!("off".parse::<RateLimit>(), Ok(RateLimit::Off));
        let limit: RateLimit = "60/min".parse().unwrap();
        assert_eq!(limit.to_string(), "60/min");
        assert!("60".parse::<RateLimit>().is_err());
        assert!("0/min".parse::<RateLimit>().is_err());
        assert!("5/fortnight".parse::<RateLimit>().is_err());
    }

    #[test]
    fn ipv6_is_counted_per_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        let plain: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(client_key(mapped), plain);
        assert_eq!(client_key(plain), plain);
    }

    #[test]
    fn the_burst_is_half_the_rate_per_client() {
        let limiter = AddressRateLimiter::new("60/min".parse().unwrap(), DEFAULT_SWEEP_INTERVAL);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..30 {
            assert!(limiter.check(a).is_ok());
        }
        let wait = limiter.check(a).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(limiter.check(b).is_ok());
        let off = AddressRateLimiter::new(RateLimit::Off, DEFAULT_SWEEP_INTERVAL);
        assert!((0..1000).all(|_| off.check(a).is_ok()));
        assert_eq!(off.entries(), 0);
    }

    #[test]
    fn rotating_through_a_64_shares_one_allowance_and_one_entry() {
        let limiter = AddressRateLimiter::new("10/min".parse().unwrap(), DEFAULT_SWEEP_INTERVAL);
        let refused = (0..1000u128)
            .map(|i| IpAddr::V6(Ipv6Addr::from((0x2001_0db8_u128 << 96) | (i * 7919))))
            .filter(|addr| limiter.check(*addr).is_err())
            .count();
        assert_eq!(refused, 1000 - 5);
        assert_eq!(limiter.entries(), 1);
    }

    #[test]
    fn entries_whose_allowance_is_full_again_are_forgotten() {
        let limiter = AddressRateLimiter::new("1000/s".parse().unwrap(), DEFAULT_SWEEP_INTERVAL);
        for i in 0..200u32 {
            let _ = limiter.check(IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i)));
        }
        assert_eq!(limiter.entries(), 200);
        std::thread::sleep(Duration::from_millis(600));
        limiter.forget_idle();
        assert_eq!(limiter.entries(), 0);
    }
}
