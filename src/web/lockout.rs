//! The lockout rule, pure: given the recent failed logins and the time, is the account locked?
//! `max_failures` failures within `window` lock it until the newest failure is `window` old.

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    pub max_failures: usize,
    pub window: Duration,
}

impl LockoutPolicy {
    /// `Some(until)` while locked: some `max_failures` consecutive failures fell within one
    /// `window`, and the last of them is less than `window` ago. Callers pass the failures of the
    /// last two windows (older ones cannot matter).
    pub fn locked_until(&self, failures: &[DateTime<Utc>], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut past: Vec<_> = failures.iter().copied().filter(|t| *t <= now).collect();
        past.sort();
        let n = self.max_failures.max(1);
        let until = past.windows(n).filter(|run| run[n - 1] - run[0] < self.window).map(|run| run[n - 1] + self.window).max()?;
        (until > now).then_some(until)
    }

    /// How far back the failures passed to [`locked_until`](Self::locked_until) must reach.
    pub fn lookback(&self) -> Duration {
        self.window * 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> LockoutPolicy {
        LockoutPolicy { max_failures: 5, window: Duration::minutes(15) }
    }

    #[test]
    fn five_failures_in_the_window_lock() {
        let t0 = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z").unwrap().with_timezone(&Utc);
        let failures: Vec<_> = (0..5).map(|i| t0 + Duration::minutes(i * 2)).collect();
        assert_eq!(policy().locked_until(&failures[..4], t0 + Duration::minutes(9)), None, "four is not enough");
        let until = policy().locked_until(&failures, t0 + Duration::minutes(9)).expect("locked");
        assert_eq!(until, t0 + Duration::minutes(8 + 15));
        assert!(policy().locked_until(&failures, t0 + Duration::minutes(22)).is_some(), "still locked");
        assert_eq!(policy().locked_until(&failures, t0 + Duration::minutes(24)), None, "old failures slid out");
    }

    #[test]
    fn spread_out_failures_do_not_lock() {
        let t0 = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z").unwrap().with_timezone(&Utc);
        let failures: Vec<_> = (0..6).map(|i| t0 + Duration::minutes(i * 10)).collect();
        assert_eq!(policy().locked_until(&failures, t0 + Duration::minutes(50)), None);
    }
}
