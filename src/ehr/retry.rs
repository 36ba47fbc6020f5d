//! The outbox retry policy, a pure function: after a failed delivery, when to try again, or
//! whether the result goes to the dead letter. Exponential backoff with jitter, capped; a server's
//! Retry-After is a floor; a result older than the configured age is dead-lettered (kept and
//! listed, never dropped), as is one whose error no retry can fix.

use chrono::{DateTime, Duration, Utc};

use super::config::RetryConfig;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    RetryAt(DateTime<Utc>),
    DeadLetter,
}

/// What went wrong, as far as the policy cares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Failure {
    /// A retry may succeed (network, 5xx, 429, token).
    pub transient: bool,
    /// The server's Retry-After.
    pub retry_after: Option<std::time::Duration>,
}

/// `attempts` counts the failed attempt just made (1 after the first failure); `jitter_sample`
/// is uniform in [0, 1) and spreads the retries of many rows that failed together.
pub fn next_attempt(policy: &RetryConfig, failure: Failure, attempts: u32, enqueued_at: DateTime<Utc>, now: DateTime<Utc>, jitter_sample: f64) -> Decision {
    if !failure.transient || now - enqueued_at >= Duration::hours(policy.dead_letter_after_h as i64) {
        return Decision::DeadLetter;
    }
    let max_ms = policy.max_delay_s.saturating_mul(1000).max(policy.base_delay_ms);
    let exp = attempts.saturating_sub(1).min(40);
    let backoff_ms = policy.base_delay_ms.saturating_mul(1u64 << exp).min(max_ms) as f64;
    // Jitter takes away up to `jitter` of the delay, so the cap is never exceeded.
    let delay_ms = backoff_ms * (1.0 - policy.jitter * jitter_sample.clamp(0.0, 1.0));
    let floor_ms = failure.retry_after.map(|d| d.as_millis() as f64).unwrap_or(0.0);
    let delay_ms = delay_ms.max(floor_ms).max(1.0);
    Decision::RetryAt(now + Duration::milliseconds(delay_ms as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryConfig {
        RetryConfig { base_delay_ms: 1000, max_delay_s: 60, jitter: 0.5, dead_letter_after_h: 24, ..Default::default() }
    }
    const T: Failure = Failure { transient: true, retry_after: None };

    fn delay(d: Decision, now: DateTime<Utc>) -> i64 {
        match d {
            Decision::RetryAt(t) => (t - now).num_milliseconds(),
            Decision::DeadLetter => panic!("dead-lettered"),
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let now: DateTime<Utc> = "2026-11-01T12:00:00Z".parse().unwrap();
        let delays: Vec<i64> = (1..=9).map(|n| delay(next_attempt(&policy(), T, n, now, now, 0.0), now)).collect();
        assert_eq!(delays, [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
        // Huge attempt counts do not overflow.
        assert_eq!(delay(next_attempt(&policy(), T, 10_000, now, now, 0.0), now), 60000);
    }

    #[test]
    fn jitter_spreads_within_bounds() {
        let now: DateTime<Utc> = "2026-11-01T12:00:00Z".parse().unwrap();
        let lo = delay(next_attempt(&policy(), T, 3, now, now, 0.999), now);
        let hi = delay(next_attempt(&policy(), T, 3, now, now, 0.0), now);
        assert!((2000..=2002).contains(&lo), "{lo}");
        assert_eq!(hi, 4000);
        let mid = delay(next_attempt(&policy(), T, 3, now, now, 0.5), now);
        assert_eq!(mid, 3000);
    }

    #[test]
    fn retry_after_is_a_floor() {
        let now: DateTime<Utc> = "2026-11-01T12:00:00Z".parse().unwrap();
        let f = Failure { transient: true, retry_after: Some(std::time::Duration::from_secs(30)) };
        assert_eq!(delay(next_attempt(&policy(), f, 1, now, now, 0.0), now), 30_000);
    }

    #[test]
    fn dead_letter_after_age_or_permanent_error() {
        let enq: DateTime<Utc> = "2026-11-01T12:00:00Z".parse().unwrap();
        let later = enq + Duration::hours(23);
        assert!(matches!(next_attempt(&policy(), T, 50, enq, later, 0.0), Decision::RetryAt(_)));
        assert_eq!(next_attempt(&policy(), T, 51, enq, enq + Duration::hours(24), 0.0), Decision::DeadLetter);
        let permanent = Failure { transient: false, retry_after: None };
        assert_eq!(next_attempt(&policy(), permanent, 1, enq, enq, 0.0), Decision::DeadLetter);
    }
}
