//! Trunk scenarios with simulated time: a registrar played by the test.

use std::time::{Duration, Instant};

use super::*;
use crate::sip::auth::Secret;
use crate::sip::message::Reply;

const CHALLENGE: &str = "Digest realm=\"trunk.test\", nonce=\"n1\", qop=\"auth\", algorithm=MD5";

fn params(register: bool, keepalive: Option<u64>) -> TrunkParams {
    TrunkParams {
        server: "127.0.0.1:5099".parse().unwrap(),
        domain: "trunk.test".into(),
        username: "clinic".into(),
        credentials: Some(Credentials { username: "auth-clinic".into(), password: Secret::new("s3cret") }),
        register,
        expires: Duration::from_secs(3600),
        keepalive: keepalive.map(Duration::from_secs),
        local: "127.0.0.1:5060".parse().unwrap(),
        timers: Timers::default(),
        transport: Transport::Udp,
        host: String::new(),
    }
}

struct Harness {
    trunk: Trunk,
    start: Instant,
    now: Instant,
}

impl Harness {
    fn new(params: TrunkParams) -> Self {
        let now = Instant::now();
        let mut h = Self { trunk: Trunk::new(params, now), start: now, now };
        h.advance(Duration::ZERO);
        h
    }

    fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        while let Some(at) = self.trunk.poll_timeout().filter(|at| *at <= end) {
            self.now = at.max(self.now);
            self.trunk.handle_timeout(self.now);
        }
        self.now = end;
    }

    fn sent(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.trunk.poll_transmit())
            .map(|t| {
                assert_eq!(t.dest, "127.0.0.1:5099".parse().unwrap());
                String::from_utf8(t.bytes).unwrap()
            })
            .collect()
    }

    fn one_sent(&mut self, method: &str) -> String {
        let sent = self.sent();
        assert_eq!(sent.len(), 1, "expected one {method}, got {sent:?}");
        assert!(sent[0].starts_with(&format!("{method} sip:trunk.test SIP/2.0\r\n")), "{}", sent[0]);
        sent[0].clone()
    }

    /// Answers `request` with `status` and extra headers; returns whether the trunk claimed it.
    fn answer(&mut self, request: &str, status: u16, extra: &[(&str, &str)]) -> bool {
        let request = message::parse(request.as_bytes()).unwrap();
        let extra: Vec<(&str, String)> = extra.iter().map(|(n, v)| (*n, v.to_string())).collect();
        let bytes = Reply::for_request(&request, Some("reg")).render(status, "Whatever", &extra, b"");
        let response = message::parse(&bytes).unwrap();
        self.trunk.handle_response(&response, self.now)
    }

    fn at(&self) -> Duration {
        self.now - self.start
    }
}

fn header<'a>(request: &'a str, name: &str) -> Option<&'a str> {
    request.lines().find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(": ")))
}

/// REGISTER → 401 → REGISTER with credentials → 200 (Expires as given).
fn register_with_challenge(h: &mut Harness, expires: &str) -> String {
    let first = h.one_sent("REGISTER");
    assert!(header(&first, "Authorization").is_none(), "no credentials before a challenge");
    assert!(h.answer(&first, 401, &[("WWW-Authenticate", CHALLENGE)]));
    let second = h.one_sent("REGISTER");
    assert!(h.answer(&second, 200, &[("Expires", expires)]));
    second
}

#[test]
fn challenge_is_answered_with_a_correct_digest() {
    let mut h = Harness::new(params(true, None));
    let first = h.one_sent("REGISTER");
    assert_eq!(header(&first, "CSeq"), Some("1 REGISTER"));
    assert_eq!(header(&first, "Contact"), Some("<sip:clinic@127.0.0.1:5060>"));
    assert_eq!(header(&first, "Expires"), Some("3600"));
    assert_eq!(header(&first, "To"), Some("<sip:clinic@trunk.test>"));
    h.answer(&first, 401, &[("WWW-Authenticate", CHALLENGE)]);
    let second = h.one_sent("REGISTER");
    assert_eq!(header(&second, "CSeq"), Some("2 REGISTER"));
    assert_eq!(header(&second, "Call-ID"), header(&first, "Call-ID"), "one Call-ID per registrar");
    assert_ne!(message::parse(second.as_bytes()).unwrap().branch, message::parse(first.as_bytes()).unwrap().branch);
    let auth = header(&second, "Authorization").expect("credentials");
    assert!(auth.contains("username=\"auth-clinic\""), "the auth username: {auth}");
    assert!(auth.contains("uri=\"sip:trunk.test\"") && auth.contains("nc=00000001"), "{auth}");
    // Recompute the response independently of the code under test.
    let cnonce = message::param(&format!("x;{}", auth.replace(", ", ";")), "cnonce").unwrap().trim_matches('"').to_string();
    let md5 = |s: String| crate::sip::auth::Algorithm::Md5.hex(&s);
    let ha1 = md5("auth-clinic:trunk.test:s3cret".into());
    let ha2 = md5("REGISTER:sip:trunk.test".into());
    let expected = md5(format!("{ha1}:n1:00000001:{cnonce}:auth:{ha2}"));
    assert!(auth.contains(&format!("response=\"{expected}\"")), "{auth}");
    assert!(!h.trunk.status().registered);
    h.answer(&second, 200, &[("Expires", "120")]);
    assert_eq!(h.trunk.status(), TrunkStatus { registered: true, reachable: None, up: true });
}

#[test]
fn refresh_at_half_of_a_short_binding_reusing_the_nonce() {
    let mut h = Harness::new(params(true, None));
    register_with_challenge(&mut h, "120");
    h.advance(Duration::from_secs(59));
    assert!(h.sent().is_empty());
    h.advance(Duration::from_secs(1));
    let refresh = h.one_sent("REGISTER");
    assert_eq!(h.at(), Duration::from_secs(60), "refresh at expires/2");
    let auth = header(&refresh, "Authorization").expect("pre-emptive credentials");
    assert!(auth.contains("nonce=\"n1\"") && auth.contains("nc=00000002"), "{auth}");
    assert_eq!(header(&refresh, "CSeq"), Some("3 REGISTER"));
    h.answer(&refresh, 200, &[("Expires", "120")]);
    assert!(h.trunk.status().registered);
}

#[test]
fn refresh_a_margin_before_a_long_binding_expires() {
    let mut h = Harness::new(params(true, None));
    register_with_challenge(&mut h, "3600");
    h.advance(Duration::from_secs(3539));
    assert!(h.sent().is_empty());
    h.advance(Duration::from_secs(1));
    h.one_sent("REGISTER");
    assert_eq!(h.at(), Duration::from_secs(3540));
    assert_eq!(refresh_after(Duration::from_secs(30)), Duration::from_secs(15));
}

#[test]
fn expired_nonce_on_refresh_is_answered_once() {
    let mut h = Harness::new(params(true, None));
    register_with_challenge(&mut h, "120");
    h.advance(Duration::from_secs(60));
    let refresh = h.one_sent("REGISTER");
    // The server forgot n1 and challenges with a new nonce: answer it.
    h.answer(&refresh, 401, &[("WWW-Authenticate", &CHALLENGE.replace("n1", "n2"))]);
    let answer = h.one_sent("REGISTER");
    let auth = header(&answer, "Authorization").unwrap();
    assert!(auth.contains("nonce=\"n2\"") && auth.contains("nc=00000001"), "{auth}");
    h.answer(&answer, 200, &[("Expires", "120")]);
    assert!(h.trunk.status().registered);
}

#[test]
fn wrong_password_is_not_retried_in_a_loop_and_backs_off() {
    let mut h = Harness::new(params(true, None));
    let first = h.one_sent("REGISTER");
    h.answer(&first, 401, &[("WWW-Authenticate", CHALLENGE)]);
    let second = h.one_sent("REGISTER");
    // Credentials answered a fresh challenge and the server challenges again: rejected.
    h.answer(&second, 401, &[("WWW-Authenticate", &CHALLENGE.replace("n1", "n2"))]);
    assert!(h.sent().is_empty(), "no second answer in the same round");
    assert!(!h.trunk.status().registered);
    let mut attempts = Vec::new();
    for round in 0..8 {
        let before = h.at();
        let mut sent = h.sent();
        while sent.is_empty() {
            h.advance(Duration::from_millis(500));
            sent = h.sent();
        }
        attempts.push((h.at() - before).as_secs());
        assert_eq!(sent.len(), 1);
        assert!(header(&sent[0], "Authorization").is_none(), "a rejected challenge is forgotten");
        // Each round: challenge, answer, rejection.
        h.answer(&sent[0], 401, &[("WWW-Authenticate", &CHALLENGE.replace("n1", &format!("r{round}")))]);
        let answer = h.one_sent("REGISTER");
        h.answer(&answer, 401, &[("WWW-Authenticate", &CHALLENGE.replace("n1", &format!("s{round}")))]);
        assert!(h.sent().is_empty());
    }
    assert_eq!(attempts[..4], [5, 10, 20, 40], "backoff doubles from 5 s");
    assert_eq!(*attempts.last().unwrap(), 300, "and is capped at 300 s");
}

#[test]
fn same_nonce_after_cached_credentials_is_a_rejection() {
    let mut h = Harness::new(params(true, None));
    register_with_challenge(&mut h, "120");
    h.advance(Duration::from_secs(60));
    let refresh = h.one_sent("REGISTER");
    h.answer(&refresh, 401, &[("WWW-Authenticate", CHALLENGE)]);
    assert!(h.sent().is_empty(), "a nonce is answered once");
    assert!(h.trunk.status().registered, "the old binding still runs until it expires");
    h.advance(Duration::from_secs(60));
    assert!(!h.trunk.status().registered, "expired at 120 s");
    assert!(!h.trunk.status().up);
}

#[test]
fn stale_challenge_is_answered_even_after_fresh_credentials() {
    let mut h = Harness::new(params(true, None));
    let first = h.one_sent("REGISTER");
    h.answer(&first, 401, &[("WWW-Authenticate", CHALLENGE)]);
    let second = h.one_sent("REGISTER");
    h.answer(&second, 401, &[("WWW-Authenticate", &format!("{}, stale=true", CHALLENGE.replace("n1", "n2")))]);
    let third = h.one_sent("REGISTER");
    assert!(header(&third, "Authorization").unwrap().contains("nonce=\"n2\""));
}

#[test]
fn proxy_challenge_gets_proxy_authorization() {
    let mut h = Harness::new(params(true, None));
    let first = h.one_sent("REGISTER");
    h.answer(&first, 407, &[("Proxy-Authenticate", &CHALLENGE.replace("MD5", "SHA-256"))]);
    let second = h.one_sent("REGISTER");
    assert!(header(&second, "Authorization").is_none());
    assert!(header(&second, "Proxy-Authorization").unwrap().contains("algorithm=SHA-256"));
}

#[test]
fn interval_too_brief_raises_expires() {
    let mut h = Harness::new(params(true, None));
    let first = h.one_sent("REGISTER");
    h.answer(&first, 423, &[("Min-Expires", "7200")]);
    let second = h.one_sent("REGISTER");
    assert_eq!(header(&second, "Expires"), Some("7200"));
}

#[test]
fn contact_expires_wins_over_the_expires_header() {
    let mut h = Harness::new(params(true, None));
    let first = h.one_sent("REGISTER");
    let contacts = "<sip:other@10.0.0.1>;expires=30, <sip:clinic@127.0.0.1:5060>;expires=600";
    h.answer(&first, 200, &[("Contact", contacts), ("Expires", "3600")]);
    h.advance(Duration::from_secs(539));
    assert!(h.sent().is_empty());
    h.advance(Duration::from_secs(1));
    h.one_sent("REGISTER");
}

#[test]
fn no_response_retransmits_then_backs_off() {
    let mut h = Harness::new(params(true, None));
    h.one_sent("REGISTER");
    h.advance(Duration::from_millis(31_900));
    let retransmits = h.sent();
    assert_eq!(retransmits.len(), 10, "Timer E: 0.5, 1.5, 3.5, 7.5, then every 4 s until Timer F");
    h.advance(Duration::from_millis(100));
    assert!(h.sent().is_empty(), "Timer F fired at 32 s: failure");
    h.advance(Duration::from_secs(5));
    h.one_sent("REGISTER");
    assert_eq!(h.at(), Duration::from_secs(37), "first retry 5 s after the failure");
}

#[test]
fn server_error_with_retry_after_waits_at_least_that() {
    let mut h = Harness::new(params(true, None));
    let first = h.one_sent("REGISTER");
    h.answer(&first, 503, &[("Retry-After", "120 (maintenance)")]);
    h.advance(Duration::from_secs(119));
    assert!(h.sent().is_empty());
    h.advance(Duration::from_secs(1));
    h.one_sent("REGISTER");
}

#[test]
fn keepalive_failure_marks_the_trunk_down_and_recovery_reregisters() {
    let mut h = Harness::new(params(true, Some(30)));
    register_with_challenge(&mut h, "3600");
    h.advance(Duration::ZERO);
    let options = h.one_sent("OPTIONS");
    assert!(h.answer(&options, 200, &[]));
    assert_eq!(h.trunk.status(), TrunkStatus { registered: true, reachable: Some(true), up: true });
    h.advance(Duration::from_secs(30));
    let silent = h.one_sent("OPTIONS");
    // The trunk goes silent: Timer F ends the OPTIONS transaction at 32 s.
    h.advance(Duration::from_millis(31_999));
    assert!(h.trunk.status().up, "still up while the transaction runs");
    h.advance(Duration::from_millis(1));
    let mut sent = h.sent();
    assert!(sent.iter().all(|r| r.starts_with("OPTIONS")) && sent.len() >= 10, "{}", sent.len());
    assert_eq!(h.trunk.status(), TrunkStatus { registered: true, reachable: Some(false), up: false });
    // The next keepalive (overdue) left at once, in a new transaction.
    let next = sent.pop().unwrap();
    assert_ne!(header(&next, "Call-ID"), header(&silent, "Call-ID"));
    // It comes back: the OPTIONS is answered (even 405 means alive) and we re-register.
    h.answer(&next, 405, &[]);
    assert!(h.trunk.status().up);
    h.advance(Duration::ZERO);
    let again = h.one_sent("REGISTER");
    assert!(header(&again, "Authorization").is_some(), "with the cached challenge");
}

#[test]
fn keepalive_503_means_down() {
    let mut h = Harness::new(params(false, Some(30)));
    let options = h.one_sent("OPTIONS");
    assert!(!h.trunk.status().up, "unknown until the first answer");
    h.answer(&options, 503, &[]);
    assert_eq!(h.trunk.status(), TrunkStatus { registered: false, reachable: Some(false), up: false });
    h.advance(Duration::from_secs(30));
    let options = h.one_sent("OPTIONS");
    h.answer(&options, 200, &[]);
    assert!(h.trunk.status().up, "ip mode: up when reachable");
    h.advance(Duration::from_secs(3600));
    assert!(h.sent().iter().all(|s| s.starts_with("OPTIONS")), "ip mode never registers");
}

#[test]
fn unrelated_responses_are_not_claimed() {
    let mut h = Harness::new(params(true, None));
    let first = h.one_sent("REGISTER");
    let other = first.replace("branch=z9hG4bK-", "branch=z9hG4bK-other");
    assert!(!h.answer(&other, 200, &[]));
    assert!(!h.trunk.status().registered);
    assert!(h.answer(&first, 100, &[]), "a provisional response is ours but changes nothing");
    assert!(h.answer(&first, 200, &[]));
    assert!(h.trunk.status().registered, "no Expires: what we asked for");
}

#[test]
fn backoff_schedule() {
    let secs: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
    assert_eq!(secs, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
    assert_eq!(backoff(200), BACKOFF_MAX);
}

#[test]
fn over_tcp_register_says_so_and_a_dead_connection_fails_it_at_once() {
    let now = Instant::now();
    let mut trunk = Trunk::new(TrunkParams { transport: Transport::Tcp, host: "trunk.test".into(), ..params(true, Some(30)) }, now);
    trunk.handle_timeout(now);
    let register = String::from_utf8(trunk.poll_transmit().expect("REGISTER").bytes).unwrap();
    assert!(register.contains("Via: SIP/2.0/TCP 127.0.0.1:5060;"), "{register}");
    assert!(register.contains("Contact: <sip:clinic@127.0.0.1:5060;transport=tcp>"), "{register}");
    trunk.transport_failed("connection refused", now);
    assert!(!trunk.status().registered);
    let retry = trunk.poll_timeout().expect("a retry is planned");
    assert!(retry >= now + BACKOFF_BASE, "the retry backs off instead of waiting for Timer F");
}
