//! The SIP trunk toward the provider as a sans-IO state machine: REGISTER with digest
//! authentication (refreshed before the binding expires, retried with backoff after a failure) and
//! an OPTIONS keepalive that tells whether the trunk is reachable. Responses and timer expiries in,
//! requests to send out; each request is a [`ClientNonInvite`] transaction (Timer E/F over UDP).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::time::{Duration, Instant};

use super::Transport;
use super::auth::{Challenge, Credentials};
use super::message::{self, Message};
use super::transaction::{ClientNonInvite, ClientOutput, Timers};
use super::{ALLOW, Transmit};

/// A binding is refreshed this long before it expires (or at half its lifetime, if shorter).
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// Retry delay after the first failure; it doubles per consecutive failure up to `BACKOFF_MAX`.
pub const BACKOFF_BASE: Duration = Duration::from_secs(5);
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// `stale=true` re-challenges answered in a row before we call the credentials rejected.
const MAX_STALE_RETRIES: u32 = 3;

/// What the trunk needs, resolved from the configuration by the driver.
#[derive(Debug, Clone)]
pub struct TrunkParams {
    /// Where REGISTER and OPTIONS go.
    pub server: SocketAddr,
    /// Host part of the Request-URI and of our address-of-record, e.g. `sip.provider.example`.
    pub domain: String,
    /// User part of our address-of-record and Contact.
    pub username: String,
    /// For digest challenges; `None` = answer none.
    pub credentials: Option<Credentials>,
    /// Register (`mode = "register"`) or only keep alive (`mode = "ip"`).
    pub register: bool,
    pub expires: Duration,
    /// OPTIONS interval; `None` disables the keepalive.
    pub keepalive: Option<Duration>,
    /// Our advertised address (Via, Contact).
    pub local: SocketAddr,
    pub timers: Timers,
    /// UDP, or a TCP/TLS connection to `server` that the transport opens (and reopens).
    pub transport: Transport,
    /// The registrar's host: the name its TLS certificate must carry.
    pub host: String,
}

/// The trunk as the rest of the system sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrunkStatus {
    pub registered: bool,
    /// The last keepalive's outcome; `None` before the first one.
    pub reachable: Option<bool>,
    /// Calls can flow: registered (in register mode) and the keepalive has not failed.
    pub up: bool,
}

/// Shared with the metrics: -1 means "not applicable" (no trunk configured).
#[derive(Debug)]
pub struct TrunkGauges {
    pub registered: AtomicI64,
    pub up: AtomicI64,
    /// Requests refused or dropped by the source ACL.
    pub denied_requests: AtomicU64,
    /// Requests dropped by the flood limits or as scanners (`[sip.limits]`).
    pub rate_limited: AtomicU64,
    /// New calls refused by digest authentication (`[sip.auth]`).
    pub auth_rejected: AtomicU64,
    /// TCP/TLS connections closed because the peer stopped reading (its write queue was full).
    pub stalled_connections: AtomicU64,
}

impl Default for TrunkGauges {
    fn default() -> Self {
        Self {
            registered: AtomicI64::new(-1),
            up: AtomicI64::new(-1),
            denied_requests: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            auth_rejected: AtomicU64::new(0),
            stalled_connections: AtomicU64::new(0),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthUse {
    None,
    /// Credentials computed from an earlier challenge (a refresh).
    Cached,
    /// Credentials answering the challenge to the previous REGISTER.
    Answer,
}

#[derive(Debug)]
struct PendingRegister {
    tx: ClientNonInvite,
    auth: AuthUse,
    nonce: Option<String>,
}

#[derive(Debug)]
pub struct Trunk {
    params: TrunkParams,
    call_id: String,
    from_tag: String,
    cseq: u32,
    register_tx: Option<PendingRegister>,
    options_tx: Option<ClientNonInvite>,
    /// The last challenge, whether it came in a 407, and how often its nonce was used.
    challenge: Option<(Challenge, bool)>,
    nc: u32,
    stale_retries: u32,
    /// Expiry we ask for (raised by a 423 Interval Too Brief).
    requested: Duration,
    registered_until: Option<Instant>,
    next_register: Option<Instant>,
    next_keepalive: Option<Instant>,
    failures: u32,
    reachable: Option<bool>,
    transmits: VecDeque<Transmit>,
}

fn random_token() -> String {
    format!("{:016x}", rand::random::<u64>())
}

impl Trunk {
    /// The first REGISTER (register mode) or OPTIONS (ip mode with keepalive) is due at `now`.
    pub fn new(params: TrunkParams, now: Instant) -> Self {
        let next_register = params.register.then_some(now);
        let next_keepalive = if params.register { None } else { params.keepalive.map(|_| now) };
        let requested = params.expires;
        Self {
            params,
            call_id: format!("{}@chartline", random_token()),
            from_tag: random_token(),
            cseq: 0,
            register_tx: None,
            options_tx: None,
            challenge: None,
            nc: 0,
            stale_retries: 0,
            requested,
            registered_until: None,
            next_register,
            next_keepalive,
            failures: 0,
            reachable: None,
            transmits: VecDeque::new(),
        }
    }

    pub fn status(&self) -> TrunkStatus {
        let registered = self.registered_until.is_some();
        let up = if self.params.register { registered && self.reachable != Some(false) } else { self.reachable == Some(true) };
        TrunkStatus { registered, reachable: self.reachable, up }
    }

    /// The address REGISTER and OPTIONS go to (its source is trusted by the ACL).
    pub fn server(&self) -> SocketAddr {
        self.params.server
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let register = match &self.register_tx {
            Some(p) => p.tx.poll_timeout(),
            None => self.next_register,
        };
        let options = match &self.options_tx {
            Some(tx) => tx.poll_timeout(),
            None => self.next_keepalive,
        };
        [register, options, self.registered_until].into_iter().flatten().min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(pending) = self.register_tx.as_mut().filter(|p| p.tx.poll_timeout().is_some_and(|t| t <= now)) {
            match pending.tx.on_timeout(now) {
                ClientOutput::Send(bytes) => self.send(bytes),
                ClientOutput::Timeout => {
                    self.register_tx = None;
                    self.failed(now, None, "no response from the registrar", None);
                }
                ClientOutput::None => {}
            }
        }
        if let Some(tx) = self.options_tx.as_mut().filter(|tx| tx.poll_timeout().is_some_and(|t| t <= now)) {
            match tx.on_timeout(now) {
                ClientOutput::Send(bytes) => self.send(bytes),
                ClientOutput::Timeout => {
                    self.options_tx = None;
                    self.set_reachable(false, "no answer to OPTIONS", now);
                }
                ClientOutput::None => {}
            }
        }
        if self.registered_until.is_some_and(|until| until <= now) {
            self.registered_until = None;
            tracing::warn!(server = %self.params.server, "trunk registration expired");
            if self.register_tx.is_none() && self.next_register.is_none() {
                self.next_register = Some(now);
            }
        }
        if self.register_tx.is_none() && self.next_register.is_some_and(|at| at <= now) {
            self.next_register = None;
            self.send_register(now, AuthUse::Cached);
        }
        if self.options_tx.is_none() && self.next_keepalive.is_some_and(|at| at <= now) {
            self.next_keepalive = self.params.keepalive.map(|interval| now + interval);
            self.send_options(now);
        }
    }

    /// Offers a response; returns false when it belongs to none of our transactions.
    pub fn handle_response(&mut self, response: &Message, now: Instant) -> bool {
        let status = response.status().unwrap_or(0);
        let is_register = self.register_tx.as_ref().is_some_and(|p| p.tx.branch == response.branch && response.cseq_method == "REGISTER");
        if is_register {
            let pending = self.register_tx.as_mut().expect("checked above");
            if pending.tx.response(status) {
                let pending = self.register_tx.take().expect("checked above");
                self.on_register_final(response, status, pending, now);
            }
            return true;
        }
        let is_options = self.options_tx.as_ref().is_some_and(|tx| tx.branch == response.branch && response.cseq_method == "OPTIONS");
        if is_options {
            if self.options_tx.as_mut().expect("checked above").response(status) {
                self.options_tx = None;
                // Any final answer shows the trunk alive, except "timeout" and "unavailable".
                match status {
                    408 | 503 => self.set_reachable(false, &format!("OPTIONS answered {status}"), now),
                    _ => self.set_reachable(true, "", now),
                }
            }
            return true;
        }
        false
    }

    fn on_register_final(&mut self, response: &Message, status: u16, pending: PendingRegister, now: Instant) {
        match status {
            200..=299 => {
                let granted = granted_expires(response, &self.contact_uri()).unwrap_or(self.requested);
                if granted.is_zero() {
                    return self.failed(now, Some(status), "the registrar granted no time", None);
                }
                self.registered_until = Some(now + granted);
                self.next_register = Some(now + refresh_after(granted));
                self.failures = 0;
                self.stale_retries = 0;
                if self.next_keepalive.is_none() {
                    self.next_keepalive = self.params.keepalive.map(|_| now);
                }
                tracing::info!(server = %self.params.server, user = %self.params.username, expires_s = granted.as_secs(), "trunk registered");
            }
            401 | 407 => {
                let header = if status == 401 { "WWW-Authenticate" } else { "Proxy-Authenticate" };
                let challenge = match Challenge::select(response.header_values(header)) {
                    Ok(c) => c,
                    Err(e) => return self.failed(now, Some(status), &format!("cannot answer the challenge: {e}"), None),
                };
                if self.params.credentials.is_none() {
                    return self.failed(now, Some(status), "challenged, but no credentials are configured", None);
                }
                let same_nonce = pending.nonce.as_deref() == Some(challenge.nonce.as_str());
                let rejected = if challenge.stale { self.stale_retries >= MAX_STALE_RETRIES } else { pending.auth == AuthUse::Answer || same_nonce };
                if rejected {
                    self.challenge = None;
                    return self.failed(now, Some(status), "credentials rejected (check username and password)", None);
                }
                self.stale_retries += u32::from(challenge.stale);
                self.challenge = Some((challenge, status == 407));
                self.nc = 0;
                self.send_register(now, AuthUse::Answer);
            }
            423 => {
                let min = response.header("Min-Expires").and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs);
                match min {
                    Some(min) if min > self.requested => {
                        self.requested = min;
                        self.send_register(now, AuthUse::Cached);
                    }
                    _ => self.failed(now, Some(status), "423 without a usable Min-Expires", None),
                }
            }
            _ => {
                let retry_after = response.header("Retry-After").and_then(|v| v.split(['(', ';']).next()?.trim().parse::<u64>().ok()).map(Duration::from_secs);
                self.failed(now, Some(status), "registration refused", retry_after);
            }
        }
    }

    fn failed(&mut self, now: Instant, status: Option<u16>, reason: &str, retry_after: Option<Duration>) {
        self.failures += 1;
        let delay = backoff(self.failures).max(retry_after.unwrap_or_default());
        self.next_register = Some(now + delay);
        tracing::warn!(server = %self.params.server, status, reason, retry_in_s = delay.as_secs(), "trunk registration failed");
    }

    fn set_reachable(&mut self, reachable: bool, reason: &str, now: Instant) {
        let was = self.reachable.replace(reachable);
        if was == Some(reachable) {
            return;
        }
        if reachable {
            tracing::info!(server = %self.params.server, "trunk reachable");
            // Back after an outage: the registrar may have lost our binding; renew it now.
            if was == Some(false) && self.params.register && self.register_tx.is_none() {
                self.next_register = Some(now);
            }
        } else {
            tracing::warn!(server = %self.params.server, reason, "trunk unreachable");
        }
    }

    fn contact_uri(&self) -> String {
        match self.params.transport {
            Transport::Udp => format!("sip:{}@{}", self.params.username, self.params.local),
            other => format!("sip:{}@{};transport={}", self.params.username, self.params.local, other.via_name().to_ascii_lowercase()),
        }
    }

    pub fn transport(&self) -> Transport {
        self.params.transport
    }

    pub fn host(&self) -> &str {
        &self.params.host
    }

    /// The connection to the registrar could not be opened: what was waiting for it failed now,
    /// not at its timeout; the next attempt opens a new one.
    pub fn transport_failed(&mut self, reason: &str, now: Instant) {
        if self.register_tx.take().is_some() {
            self.failed(now, None, reason, None);
        }
        if self.options_tx.take().is_some() {
            self.set_reachable(false, reason, now);
        }
    }

    fn send(&mut self, bytes: Vec<u8>) {
        self.transmits.push_back(Transmit { dest: self.params.server, transport: self.params.transport, bytes });
    }

    fn send_register(&mut self, now: Instant, auth: AuthUse) {
        self.cseq += 1;
        let uri = format!("sip:{}", self.params.domain);
        let aor = format!("<sip:{}@{}>", self.params.username, self.params.domain);
        let mut extra = vec![("Contact", format!("<{}>", self.contact_uri())), ("Expires", self.requested.as_secs().to_string()), ("Allow", ALLOW.to_string())];
        let (mut used, mut nonce) = (AuthUse::None, None);
        if let (Some((challenge, proxy)), Some(credentials)) = (&self.challenge, &self.params.credentials) {
            self.nc += 1;
            let value = challenge.authorization(credentials, "REGISTER", &uri, &random_token(), self.nc);
            extra.push((if *proxy { "Proxy-Authorization" } else { "Authorization" }, value));
            (used, nonce) = (auth, Some(challenge.nonce.clone()));
        }
        let branch = format!("z9hG4bK-{}", random_token());
        let from = format!("{aor};tag={}", self.from_tag);
        let bytes = self.render("REGISTER", &uri, &branch, &from, &aor, &self.call_id, self.cseq, &extra);
        let (tx, first) = ClientNonInvite::start(branch, bytes, now, &self.params.timers, self.params.transport.is_reliable());
        self.register_tx = Some(PendingRegister { tx, auth: used, nonce });
        self.send(first);
    }

    fn send_options(&mut self, now: Instant) {
        let uri = format!("sip:{}", self.params.domain);
        let from = format!("<sip:{}@{}>;tag={}", self.params.username, self.params.domain, random_token());
        let branch = format!("z9hG4bK-{}", random_token());
        let call_id = format!("{}@chartline", random_token());
        let extra = [("Accept", "application/sdp".to_string())];
        let bytes = self.render("OPTIONS", &uri, &branch, &from, &format!("<{uri}>"), &call_id, 1, &extra);
        let (tx, first) = ClientNonInvite::start(branch, bytes, now, &self.params.timers, self.params.transport.is_reliable());
        self.options_tx = Some(tx);
        self.send(first);
    }

    #[allow(clippy::too_many_arguments)]
    fn render(&self, method: &str, uri: &str, branch: &str, from: &str, to: &str, call_id: &str, cseq: u32, extra: &[(&str, String)]) -> Vec<u8> {
        let mut out = format!(
            "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/{} {};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n",
            self.params.transport.via_name(),
            self.params.local
        );
        for (name, value) in extra {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("User-Agent: Chartline\r\nContent-Length: 0\r\n\r\n");
        out.into_bytes()
    }
}

/// When to refresh a binding granted for `granted`.
pub fn refresh_after(granted: Duration) -> Duration {
    granted - REFRESH_MARGIN.min(granted / 2)
}

/// Delay before the next attempt after `failures` consecutive failures (1, 2, ...).
pub fn backoff(failures: u32) -> Duration {
    BACKOFF_BASE.saturating_mul(1u32.checked_shl(failures.saturating_sub(1)).unwrap_or(u32::MAX)).min(BACKOFF_MAX)
}

/// The lifetime the registrar granted our contact: its `expires` parameter, else `Expires`.
fn granted_expires(response: &Message, contact: &str) -> Option<Duration> {
    let ours = response.header_values("Contact").flat_map(split_contacts).find(|c| message::angle_uri(c).eq_ignore_ascii_case(contact)).and_then(|c| message::param(&c, "expires"));
    ours.or_else(|| response.header("Expires").map(str::to_string)).and_then(|v| v.trim().parse().ok()).map(Duration::from_secs)
}

/// Splits a Contact value holding several contacts at commas outside `<…>` and quotes.
fn split_contacts(value: &str) -> Vec<String> {
    let (mut parts, mut current, mut angle, mut quoted) = (Vec::new(), String::new(), false, false);
    for c in value.chars() {
        match c {
            '"' if !angle => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !angle && !quoted => {
                parts.push(std::mem::take(&mut current).trim().to_string());
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current.trim().to_string());
    parts
}

#[cfg(test)]
#[path = "trunk_tests.rs"]
mod tests;
