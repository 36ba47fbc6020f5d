//! Flood protection for inbound SIP, per source address: a token bucket for new calls
//! (out-of-dialog INVITE) and one for every other out-of-dialog request (REGISTER, OPTIONS,
//! SUBSCRIBE … as scanners send them). Requests inside an existing dialog (ACK, BYE, re-INVITE)
//! and responses are never limited, so a flood cannot stop a live call from ending. Known scanner
//! User-Agents are dropped outright. Over the limit a request is dropped without an answer: a
//! response would only feed the flood. Pure: the endpoint passes the time in.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

use serde::Deserialize;

/// `[sip.limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// New calls (INVITE without a To tag) per second from one source, sustained.
    pub invite_per_s: f64,
    /// New calls one source may send at once before the sustained rate applies.
    pub invite_burst: u32,
    /// Other out-of-dialog requests per second from one source.
    pub request_per_s: f64,
    pub request_burst: u32,
    /// User-Agent substrings (case-insensitive) of SIP scanners; their requests are dropped.
    pub scanner_user_agents: Vec<String>,
    /// Sources tracked at once; the idle ones are forgotten first.
    pub max_sources: usize,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            invite_per_s: 20.0,
            invite_burst: 40,
            request_per_s: 50.0,
            request_burst: 100,
            scanner_user_agents: ["friendly-scanner", "sipvicious", "sipcli", "sip-scan", "sundayddr", "pplsip", "vaxsipuseragent", "iWar"].map(String::from).to_vec(),
            max_sources: 10_000,
        }
    }
}

impl RateLimitConfig {
    pub fn validate(&self) -> Result<(), (String, String)> {
        for (key, rate, burst) in [("invite", self.invite_per_s, self.invite_burst), ("request", self.request_per_s, self.request_burst)] {
            if !(rate > 0.0 && rate.is_finite()) {
                return Err((format!("{key}_per_s"), "must be a positive number".into()));
            }
            if burst == 0 {
                return Err((format!("{key}_burst"), "must be at least 1".into()));
            }
        }
        if self.max_sources == 0 {
            return Err(("max_sources".into(), "must be at least 1".into()));
        }
        Ok(())
    }
}

/// What kind of request it is, for the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// An INVITE that starts a call.
    NewCall,
    /// Any other request outside a dialog.
    Request,
    /// Inside a dialog, or a response: never limited.
    InDialog,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Over the limit for its source.
    Limited,
    /// From a known scanner.
    Scanner,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

pub struct RateLimiter {
    config: RateLimitConfig,
    scanners: Vec<String>,
    buckets: HashMap<(IpAddr, Class), Bucket>,
}

impl RateLimiter {
    pub fn new(config: RateLimitConfig) -> Self {
        let scanners = config.scanner_user_agents.iter().map(|s| s.to_ascii_lowercase()).collect();
        Self { config, scanners, buckets: HashMap::new() }
    }

    pub fn tracked_sources(&self) -> usize {
        self.buckets.len()
    }

    /// Judges one request from `source`.
    pub fn check(&mut self, source: IpAddr, class: Class, user_agent: Option<&str>, now: Instant) -> Verdict {
        if let Some(agent) = user_agent.map(str::to_ascii_lowercase)
            && self.scanners.iter().any(|s| agent.contains(s.as_str()))
        {
            return Verdict::Scanner;
        }
        let (rate, burst) = match class {
            Class::InDialog => return Verdict::Allow,
            Class::NewCall => (self.config.invite_per_s, self.config.invite_burst as f64),
            Class::Request => (self.config.request_per_s, self.config.request_burst as f64),
        };
        if self.buckets.len() >= self.config.max_sources && !self.buckets.contains_key(&(source, class)) {
            self.forget_idle(now);
        }
        let bucket = self.buckets.entry((source, class)).or_insert(Bucket { tokens: burst, updated: now });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Verdict::Allow
        } else {
            Verdict::Limited
        }
    }

    /// Drops the buckets that have refilled completely (their sources have been quiet long enough
    /// that forgetting them changes nothing); if that frees nothing, the oldest half.
    fn forget_idle(&mut self, now: Instant) {
        let config = &self.config;
        self.buckets.retain(|(_, class), bucket| {
            let (rate, burst) = match class {
                Class::NewCall => (config.invite_per_s, config.invite_burst as f64),
                _ => (config.request_per_s, config.request_burst as f64),
            };
            bucket.tokens + now.saturating_duration_since(bucket.updated).as_secs_f64() * rate < burst
        });
        if self.buckets.len() >= self.config.max_sources {
            let mut ages: Vec<Instant> = self.buckets.values().map(|b| b.updated).collect();
            ages.sort_unstable();
            let cutoff = ages[ages.len() / 2];
            self.buckets.retain(|_, b| b.updated > cutoff);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limiter(invite_per_s: f64, invite_burst: u32) -> RateLimiter {
        RateLimiter::new(RateLimitConfig { invite_per_s, invite_burst, ..Default::default() })
    }

    #[test]
    fn burst_then_sustained_rate() {
        let mut limits = limiter(10.0, 5);
        let (ip, t0) = ("192.0.2.7".parse().unwrap(), Instant::now());
        let allowed = (0..20).filter(|_| limits.check(ip, Class::NewCall, None, t0) == Verdict::Allow).count();
        assert_eq!(allowed, 5, "the burst");
        // One second later: ten more tokens, capped at the burst of five.
        let t1 = t0 + Duration::from_secs(1);
        let allowed = (0..20).filter(|_| limits.check(ip, Class::NewCall, None, t1) == Verdict::Allow).count();
        assert_eq!(allowed, 5);
        // 100 ms later: exactly one.
        let t2 = t1 + Duration::from_millis(100);
        assert_eq!(limits.check(ip, Class::NewCall, None, t2), Verdict::Allow);
        assert_eq!(limits.check(ip, Class::NewCall, None, t2), Verdict::Limited);
    }

    #[test]
    fn sources_and_classes_are_separate_and_dialogs_never_limited() {
        let mut limits = limiter(1.0, 1);
        let now = Instant::now();
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        assert_eq!(limits.check(a, Class::NewCall, None, now), Verdict::Allow);
        assert_eq!(limits.check(a, Class::NewCall, None, now), Verdict::Limited);
        assert_eq!(limits.check(b, Class::NewCall, None, now), Verdict::Allow, "another source has its own bucket");
        assert_eq!(limits.check(a, Class::Request, None, now), Verdict::Allow, "OPTIONS has its own bucket");
        for _ in 0..1000 {
            assert_eq!(limits.check(a, Class::InDialog, None, now), Verdict::Allow);
        }
    }

    #[test]
    fn scanners_are_recognised_by_user_agent() {
        let mut limits = limiter(100.0, 100);
        let ip = "198.51.100.9".parse().unwrap();
        assert_eq!(limits.check(ip, Class::Request, Some("friendly-scanner"), Instant::now()), Verdict::Scanner);
        assert_eq!(limits.check(ip, Class::NewCall, Some("SIPVicious 0.3"), Instant::now()), Verdict::Scanner);
        assert_eq!(limits.check(ip, Class::NewCall, Some("Grandstream UCM6202"), Instant::now()), Verdict::Allow);
    }

    #[test]
    fn memory_is_bounded_by_max_sources() {
        let mut limits = RateLimiter::new(RateLimitConfig { max_sources: 100, ..Default::default() });
        let mut now = Instant::now();
        for n in 0..10_000u32 {
            now += Duration::from_micros(10);
            let ip = IpAddr::from((0x0a00_0000 + n).to_be_bytes());
            limits.check(ip, Class::Request, None, now);
            assert!(limits.tracked_sources() <= 100);
        }
    }

    #[test]
    fn validation_names_the_key() {
        let bad = RateLimitConfig { request_burst: 0, ..Default::default() };
        assert_eq!(bad.validate().unwrap_err().0, "request_burst");
        let bad = RateLimitConfig { invite_per_s: -1.0, ..Default::default() };
        assert_eq!(bad.validate().unwrap_err().0, "invite_per_s");
    }
}
