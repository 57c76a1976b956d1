//! The per-account login throttle (shared through the database).

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
}
