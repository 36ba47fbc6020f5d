//! `[sip.auth]`: digest authentication of the calls the PBX sends us (RFC 3261 §22.3, RFC 7616,
//! RFC 8760). A new INVITE without valid credentials is challenged with 401 (one
//! `WWW-Authenticate` per configured algorithm, in the configured order, `qop="auth"`); a wrong answer
//! gets 403; a source that answers wrongly `max_failures` times in a row is ignored for `ban_s`
//! seconds (its requests are dropped unanswered, as scanners' are).
//!
//! Nonces are stateless: the issue time and an HMAC over it and the source address under a key
//! drawn at start. A nonce older than `nonce_lifetime_s` with a correct answer gets a new
//! challenge with `stale=true` (RFC 7616 §3.3), so the PBX retries without asking anyone for the
//! password; a nonce from before a restart simply gets a fresh challenge. A nonce count (`nc`)
//! must grow for each nonce, so a captured INVITE cannot be replayed. Pure: the endpoint passes
//! the time in.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

use super::auth::{Algorithm, Challenge, Credentials, DigestParams, Secret};
use super::message::{Message, StartLine};
use super::trunk_config::load_secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Sources are trusted by `[sip.trunk] allowed_sources` alone.
    #[default]
    Off,
    /// New calls must also carry credentials for the account below.
    Required,
}

/// `[sip.auth]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InboundAuthConfig {
    pub mode: AuthMode,
    pub realm: String,
    /// The account the PBX authenticates as.
    pub username: String,
    /// Exactly one of `password`, `password_file`, `password_env` when `mode = "required"`.
    pub password: Secret,
    pub password_file: String,
    pub password_env: String,
    /// Challenge algorithms, preferred first: "MD5" and/or "SHA-256".
    pub algorithms: Vec<String>,
    pub nonce_lifetime_s: u64,
    /// Wrong answers in a row after which a source is ignored.
    pub max_failures: u32,
    pub ban_s: u64,
}

impl Default for InboundAuthConfig {
    fn default() -> Self {
        Self {
            mode: AuthMode::Off,
            realm: "chartline".into(),
            username: String::new(),
            password: Secret::default(),
            password_file: String::new(),
            password_env: String::new(),
            // Not SHA-256 by default: baresip 1.0.0 fails a call whose 401 carries any SHA-256
            // challenge, and SIPp 3.6.1 answers only MD5 (tests/sip_auth.rs).
            algorithms: vec!["MD5".into()],
            nonce_lifetime_s: 300,
            max_failures: 5,
            ban_s: 300,
        }
    }
}

type Invalid = (String, String);

fn invalid(key: &str, problem: impl Into<String>) -> Invalid {
    (key.to_string(), problem.into())
}

impl InboundAuthConfig {
    /// Checks every key; the key is relative to `[sip.auth]`.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.realm.is_empty() || self.realm.contains(['"', '\\']) || self.realm.chars().any(char::is_control) {
            return Err(invalid("realm", "must be non-empty text without quotes or backslashes"));
        }
        self.parsed_algorithms()?;
        if !(10..=3600).contains(&self.nonce_lifetime_s) {
            return Err(invalid("nonce_lifetime_s", "must be between 10 and 3600"));
        }
        if self.max_failures == 0 {
            return Err(invalid("max_failures", "must be at least 1"));
        }
        if self.ban_s > 86_400 {
            return Err(invalid("ban_s", "must be at most 86400"));
        }
        if self.mode == AuthMode::Required {
            if self.username.is_empty() || self.username.contains(|c: char| c.is_whitespace() || c.is_control() || "\"\\".contains(c)) {
                return Err(invalid("username", "must be a plain user name when mode = \"required\""));
            }
            self.secret()?;
        }
        Ok(())
    }

    fn parsed_algorithms(&self) -> Result<Vec<Algorithm>, Invalid> {
        if self.algorithms.is_empty() {
            return Err(invalid("algorithms", "must name at least one of \"SHA-256\", \"MD5\""));
        }
        self.algorithms
            .iter()
            .map(|name| match Algorithm::parse(name) {
                Some(a @ (Algorithm::Sha256 | Algorithm::Md5)) => Ok(a),
                _ => Err(invalid("algorithms", format!("{name:?} is not \"SHA-256\" or \"MD5\""))),
            })
            .collect()
    }

    pub fn secret(&self) -> Result<Secret, Invalid> {
        load_secret(&self.password, &self.password_file, &self.password_env, "mode = \"required\"")
    }

    /// The authenticator, or `None` when authentication is off.
    pub fn authenticator(&self, now: Instant) -> Result<Option<Authenticator>, Invalid> {
        if self.mode == AuthMode::Off {
            return Ok(None);
        }
        self.validate()?;
        Ok(Some(Authenticator {
            realm: self.realm.clone(),
            credentials: Credentials { username: self.username.clone(), password: self.secret()? },
            algorithms: self.parsed_algorithms()?,
            key: rand::random(),
            epoch: now,
            lifetime: Duration::from_secs(self.nonce_lifetime_s),
            max_failures: self.max_failures,
            ban: Duration::from_secs(self.ban_s),
            counts: HashMap::new(),
            failures: HashMap::new(),
            exempt: Vec::new(),
            rejected: 0,
        }))
    }
}

/// What to do with a new call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Accept,
    /// 401 with these `WWW-Authenticate` values.
    Challenge(Vec<String>),
    /// 403: wrong user name or password.
    Forbidden,
    /// 400: an `Authorization` header we cannot read.
    BadRequest(&'static str),
    /// A banned source: no answer.
    Drop,
}

/// Consecutive wrong answers from one source, and the ban they led to.
struct Failures {
    count: u32,
    banned_until: Option<Instant>,
}

/// Nonces whose counts are remembered at once; beyond it the expired ones are forgotten first.
const MAX_TRACKED_NONCES: usize = 4096;
const MAX_TRACKED_SOURCES: usize = 4096;

pub struct Authenticator {
    realm: String,
    credentials: Credentials,
    algorithms: Vec<Algorithm>,
    key: [u8; 32],
    epoch: Instant,
    lifetime: Duration,
    max_failures: u32,
    ban: Duration,
    /// Highest `nc` seen per nonce, with the nonce's issue time (for forgetting).
    counts: HashMap<String, (u32, Duration)>,
    failures: HashMap<IpAddr, Failures>,
    /// Sources never challenged (the provider's registrar: it does not answer challenges).
    exempt: Vec<IpAddr>,
    /// Calls refused (403, 400, or dropped while banned).
    rejected: u64,
}

impl Authenticator {
    pub fn exempt(&mut self, source: IpAddr) {
        self.exempt.push(source);
    }

    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Judges a new INVITE from `source`.
    pub fn check(&mut self, request: &Message, source: IpAddr, now: Instant) -> Decision {
        if self.exempt.contains(&source) {
            return Decision::Accept;
        }
        if let Some(failures) = self.failures.get_mut(&source) {
            match failures.banned_until {
                Some(until) if now < until => {
                    self.rejected += 1;
                    return Decision::Drop;
                }
                Some(_) => *failures = Failures { count: 0, banned_until: None },
                None => {}
            }
        }
        let ours = request.header_values("Authorization").find_map(|value| {
            let params = DigestParams::parse(value).ok()?;
            params.get("realm").is_some_and(|r| r == self.realm).then_some(params)
        });
        let Some(params) = ours else {
            if request.header("Authorization").is_some_and(|value| DigestParams::parse(value).is_err()) {
                self.rejected += 1;
                return Decision::BadRequest("malformed Authorization header");
            }
            return self.challenge(source, now, false);
        };
        match self.verify(&params, request, source, now) {
            Verdict::Good => {
                self.failures.remove(&source);
                Decision::Accept
            }
            Verdict::Stale => self.challenge(source, now, true),
            Verdict::UnknownNonce => self.challenge(source, now, false),
            Verdict::Unreadable(problem) => {
                self.rejected += 1;
                Decision::BadRequest(problem)
            }
            Verdict::Wrong => {
                self.rejected += 1;
                self.note_failure(source, now);
                Decision::Forbidden
            }
        }
    }

    fn challenge(&self, source: IpAddr, now: Instant, stale: bool) -> Decision {
        let nonce = self.nonce(now.saturating_duration_since(self.epoch), source);
        let stale = if stale { ", stale=true" } else { "" };
        Decision::Challenge(self.algorithms.iter().map(|a| format!("Digest realm=\"{}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"{stale}", self.realm, a.name())).collect())
    }

    fn mac(&self, issued_ms: u64, source: IpAddr) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(&issued_ms.to_be_bytes());
        mac.update(source.to_string().as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// `<issue time in ms since start, hex>.<HMAC>`.
    fn nonce(&self, issued: Duration, source: IpAddr) -> String {
        let ms = issued.as_millis() as u64;
        format!("{ms:x}.{}", self.mac(ms, source))
    }

    /// When the nonce was issued, if we issued it to this source.
    fn nonce_issued(&self, nonce: &str, source: IpAddr) -> Option<Duration> {
        let (ms, mac) = nonce.split_once('.')?;
        let ms = u64::from_str_radix(ms, 16).ok()?;
        crate::crypto::constant_time_eq(mac, &self.mac(ms, source)).then(|| Duration::from_millis(ms))
    }

    fn verify(&mut self, params: &DigestParams, request: &Message, source: IpAddr, now: Instant) -> Verdict {
        let (Some(username), Some(nonce), Some(uri), Some(response)) = (params.get("username"), params.get("nonce"), params.get("uri"), params.get("response")) else {
            return Verdict::Unreadable("Authorization lacks username, nonce, uri or response");
        };
        let algorithm = match params.get("algorithm") {
            None => Algorithm::Md5,
            Some(name) => match Algorithm::parse(name).filter(|a| self.algorithms.contains(a)) {
                Some(a) => a,
                None => return Verdict::UnknownNonce,
            },
        };
        let StartLine::Request { uri: request_uri, .. } = &request.start else { return Verdict::Unreadable("not a request") };
        if uri_host(uri) != uri_host(request_uri) {
            return Verdict::Unreadable("Authorization uri names another host than the Request-URI");
        }
        let Some(issued) = self.nonce_issued(nonce, source) else { return Verdict::UnknownNonce };
        // We always offer qop="auth": an answer without it (RFC 2069) cannot be protected from replay.
        if !params.get("qop").is_some_and(|q| q.eq_ignore_ascii_case("auth")) {
            return Verdict::Wrong;
        }
        let (Some(cnonce), Some(nc)) = (params.get("cnonce"), params.get("nc").and_then(|nc| u32::from_str_radix(nc, 16).ok())) else {
            return Verdict::Unreadable("qop=auth without cnonce or a hex nc");
        };
        let challenge = Challenge { realm: self.realm.clone(), nonce: nonce.to_string(), opaque: None, algorithm, qop_auth: true, stale: false };
        let method = request.method().unwrap_or("INVITE");
        let expected = challenge.response(&self.credentials, method, uri, cnonce, nc);
        if username != self.credentials.username || !crate::crypto::constant_time_eq(&response.to_ascii_lowercase(), &expected) {
            return Verdict::Wrong;
        }
        let age = now.saturating_duration_since(self.epoch).saturating_sub(issued);
        if age > self.lifetime {
            return Verdict::Stale;
        }
        self.count_use(nonce, nc, issued, now)
    }

    /// Accepts each nonce count once, growing (a replayed request reuses its count).
    fn count_use(&mut self, nonce: &str, nc: u32, issued: Duration, now: Instant) -> Verdict {
        if self.counts.get(nonce).is_some_and(|(seen, _)| nc <= *seen) {
            return Verdict::UnknownNonce;
        }
        if self.counts.len() >= MAX_TRACKED_NONCES && !self.counts.contains_key(nonce) {
            let elapsed = now.saturating_duration_since(self.epoch);
            let lifetime = self.lifetime;
            self.counts.retain(|_, (_, at)| elapsed.saturating_sub(*at) <= lifetime);
            if self.counts.len() >= MAX_TRACKED_NONCES {
                // All still fresh (a flood of good answers): the oldest goes, and its next use is refused.
                if let Some(oldest) = self.counts.iter().min_by_key(|(_, (_, at))| *at).map(|(k, _)| k.clone()) {
                    self.counts.remove(&oldest);
                }
            }
        }
        self.counts.insert(nonce.to_string(), (nc, issued));
        Verdict::Good
    }

    fn note_failure(&mut self, source: IpAddr, now: Instant) {
        if self.failures.len() >= MAX_TRACKED_SOURCES && !self.failures.contains_key(&source) {
            self.failures.retain(|_, f| f.banned_until.is_some_and(|until| now < until));
        }
        let entry = self.failures.entry(source).or_insert(Failures { count: 0, banned_until: None });
        entry.count += 1;
        if entry.count >= self.max_failures {
            entry.banned_until = Some(now + self.ban);
            tracing::warn!(%source, failures = entry.count, ban_s = self.ban.as_secs(), "SIP source ignored after wrong digest answers");
        }
    }
}

enum Verdict {
    Good,
    Stale,
    /// Not a nonce of ours for this source (or a used count): challenge afresh.
    UnknownNonce,
    Unreadable(&'static str),
    Wrong,
}

/// `host[:port]` of a SIP URI, lower-cased: what the `uri` of an answer must share with the
/// Request-URI. Some PBXes (SIPp among them) leave the user part out of it.
fn uri_host(uri: &str) -> String {
    let rest = uri.split_once(':').map_or(uri, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    rest.split([';', '?']).next().unwrap_or_default().to_ascii_lowercase()
}

#[cfg(test)]
#[path = "inbound_auth_tests.rs"]
mod tests;
