//! The per-account login throttle (shared through the database) and the
//! rate setting of the per-address limit (which lives in auth-http).

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

/// Failures answered with a plain 401 before delays start.
pub const FREE_FAILURES: i64 = 5;
/// The longest delay, in seconds (15 minutes).
pub const MAX_DELAY_SECS: i64 = 15 * 60;
/// A failure count is forgotten this long after the failure that last added to it.
pub const FORGET_AFTER_SECS: i64 = 24 * 60 * 60;

/// Seconds of delay that the `failures`-th consecutive failure starts: none
/// before the fifth, then 1, 2, 4 … seconds, at most 15 minutes.
pub fn delay_after(failures: i64) -> i64 {
    if failures < FREE_FAILURES {
        return 0;
    }
    // 2^10 already passes the cap, so larger exponents need not be computed.
    let exponent = (failures - FREE_FAILURES).min(10) as u32;
    (1i64 << exponent).min(MAX_DELAY_SECS)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_start_at_the_fifth_failure_and_double_up_to_15_minutes() {
        let delays: Vec<i64> = (1..=16).map(delay_after).collect();
        assert_eq!(
            delays,
            [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]
        );
        assert_eq!(delay_after(i64::MAX), 900);
    }

    #[test]
    fn rates_parse_and_print() {
        assert_eq!("off".parse::<RateLimit>(), Ok(RateLimit::Off));
        let limit: RateLimit = "60/min".parse().unwrap();
        assert_eq!(limit.to_string(), "60/min");
        assert!("60".parse::<RateLimit>().is_err());
        assert!("0/min".parse::<RateLimit>().is_err());
        assert!("5/fortnight".parse::<RateLimit>().is_err());
    }
}
