//! The SIP stack of a user agent answering PBX calls: `message` (validated parsing), `sdp`
//! (offer/answer), `transaction` (RFC 3261 §17 timers), `dialog`, `endpoint` (the sans-IO UA core)
//! and `transport` (the thin tokio driver over UDP and TCP); toward the provider: `trunk`
//! (REGISTER/OPTIONS), `auth` (digest); at the edge: `acl` (which sources we serve),
//! `inbound_auth` (digest challenges for new calls) and `rate_limit` (floods, scanners); in a
//! call: `refer` (a blind transfer we ask of the far end).
//!
//! Its layer, and what it may import: docs/architecture.md.

pub mod acl;
pub mod auth;
pub mod dialog;
pub mod endpoint;
pub mod inbound_auth;
pub mod message;
pub mod rate_limit;
pub mod refer;
pub mod sdes;
pub mod sdp;
pub mod tls;
pub mod transaction;
pub mod transport;
pub mod trunk;
pub mod trunk_config;
pub mod uac;

use std::net::SocketAddr;

use serde::Deserialize;

pub use endpoint::Endpoint;
pub use sdp::Sdp;
pub use transport::{SipHandle, start, start_in};
pub use trunk_config::{TrunkConfig, TrunkMode};

/// The methods we serve, for `Allow` headers (the endpoint's answers, the trunk's REGISTER, our
/// INVITEs).
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO";

/// Bytes to put on the wire (from the endpoint and the trunk to the transport).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub dest: SocketAddr,
    pub transport: Transport,
    pub bytes: Vec<u8>,
}

/// The Call-ID of a call leg.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallId(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// The transport token of a Via header (`SIP/2.0/TLS`).
    /// `udp`, `tcp` or `tls`, any case (configuration values, `;transport=` parameters).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "udp" => Some(Transport::Udp),
            "tcp" => Some(Transport::Tcp),
            "tls" => Some(Transport::Tls),
            _ => None,
        }
    }

    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }
}

/// What the stack tells the application.
#[derive(Debug, Clone, PartialEq)]
pub enum UaEvent {
    /// A new INVITE; the application answers with `Answer` or `Reject`.
    IncomingCall { call: CallId, from: String, to: String, source: SocketAddr, offer: Option<Sdp> },
    /// The ACK for our 200 arrived; for an offerless INVITE it carries the answer.
    CallAcked { call: CallId, answer: Option<Sdp> },
    /// CANCEL before we answered (200 and 487 already sent).
    CallCancelled { call: CallId },
    /// The caller sent BYE (200 already sent).
    RemoteHangup { call: CallId },
    /// A re-INVITE was answered (200 already sent): whether the call is now on hold and, when it
    /// carried an offer, the media as renegotiated (address, codec, RFC 4733 type, SRTP keys).
    MediaChanged { call: CallId, on_hold: bool, media: Option<Box<sdp::Negotiated>> },
    /// A digit by SIP INFO (already answered 200).
    DtmfInfo { call: CallId, digit: char, duration_ms: u32 },
    /// The call failed in the stack (e.g. no ACK for our 200; a BYE was sent).
    CallFailed { call: CallId, reason: String },
    /// Our outbound INVITE got a 180/183.
    Progress { call: CallId, status: u16 },
    /// Our outbound INVITE was answered (2xx, already ACKed) with this SDP answer.
    Answered { call: CallId, answer: Sdp },
    /// Our outbound INVITE ended without a call: a 3xx-6xx, a timeout (408) or our CANCEL (487).
    DialFailed { call: CallId, status: u16, reason: String },
    /// How our `Transfer` of an inbound call goes (REFER answered, NOTIFYs, deadline).
    Transfer { call: CallId, update: refer::TransferUpdate },
}

impl UaEvent {
    /// The call leg the event is about.
    pub fn call(&self) -> &CallId {
        match self {
            UaEvent::IncomingCall { call, .. }
            | UaEvent::CallAcked { call, .. }
            | UaEvent::CallCancelled { call }
            | UaEvent::RemoteHangup { call }
            | UaEvent::MediaChanged { call, .. }
            | UaEvent::DtmfInfo { call, .. }
            | UaEvent::CallFailed { call, .. }
            | UaEvent::Progress { call, .. }
            | UaEvent::Answered { call, .. }
            | UaEvent::DialFailed { call, .. }
            | UaEvent::Transfer { call, .. } => call,
        }
    }
}

/// What the application tells the stack.
#[derive(Debug, Clone, PartialEq)]
pub enum UaCommand {
    Ringing {
        call: CallId,
    },
    /// 200 OK with our SDP; `offerless` when the INVITE had no offer (ours is in the 200).
    Answer {
        call: CallId,
        sdp: Sdp,
        offerless: bool,
    },
    Reject {
        call: CallId,
        status: u16,
        reason: String,
        warning: Option<String>,
        retry_after: Option<u32>,
    },
    /// Ends a call: BYE once answered; for an outbound leg still ringing, CANCEL.
    Hangup {
        call: CallId,
    },
    /// Places an outbound call (answered by `Progress`, `Answered` or `DialFailed`).
    Dial(Box<uac::DialRequest>),
    /// Blind transfer of an answered inbound call by REFER (`target`: a SIP URI or an extension
    /// on the far end's host); answered by `Transfer` events, the last one within `timeout`.
    Transfer {
        call: CallId,
        target: String,
        timeout: std::time::Duration,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipConfig {
    /// Address for both UDP and TCP.
    pub listen: String,
    /// Address put in Contact and SDP when `listen` is a wildcard; empty = the listen address,
    /// or 127.0.0.1 for a wildcard.
    pub public_ip: String,
    pub t1_ms: u64,
    pub t2_ms: u64,
    pub t4_ms: u64,
    /// `[sip.trunk]`: source trust, registration and keepalive toward the provider.
    pub trunk: TrunkConfig,
    /// `[sip.auth]`: digest authentication of new calls.
    pub auth: inbound_auth::InboundAuthConfig,
    /// `[sip.limits]`: per-source flood limits and scanner User-Agents.
    pub limits: rate_limit::RateLimitConfig,
    /// `[sip.tls]`: SIP over TLS on its own port.
    pub tls: tls::TlsConfig,
}

impl Default for SipConfig {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:5060".into(),
            public_ip: String::new(),
            t1_ms: 500,
            t2_ms: 4000,
            t4_ms: 5000,
            trunk: TrunkConfig::default(),
            auth: Default::default(),
            limits: Default::default(),
            tls: Default::default(),
        }
    }
}

impl SipConfig {
    pub fn listen_addr(&self) -> Result<SocketAddr, String> {
        self.listen.parse().map_err(|_| format!("is not an address:port: {:?}", self.listen))
    }

    /// The address we advertise.
    pub fn advertised(&self) -> SocketAddr {
        let listen = self.listen_addr().unwrap_or_else(|_| "0.0.0.0:5060".parse().unwrap());
        let ip = match self.public_ip.parse() {
            Ok(ip) => ip,
            Err(_) if listen.ip().is_unspecified() => std::net::IpAddr::from([127, 0, 0, 1]),
            Err(_) => listen.ip(),
        };
        SocketAddr::new(ip, listen.port())
    }

    pub fn timers(&self) -> transaction::Timers {
        use std::time::Duration;
        transaction::Timers { t1: Duration::from_millis(self.t1_ms), t2: Duration::from_millis(self.t2_ms), t4: Duration::from_millis(self.t4_ms) }
    }

    /// Range checks; returns the key (within `[sip]`) and the problem.
    pub fn validate(&self) -> Result<(), (String, String)> {
        self.listen_addr().map_err(|p| ("listen".to_string(), p))?;
        if !self.public_ip.is_empty() && self.public_ip.parse::<std::net::IpAddr>().is_err() {
            return Err(("public_ip".into(), format!("is not an IP address: {:?}", self.public_ip)));
        }
        if self.t1_ms == 0 || self.t2_ms < self.t1_ms {
            return Err(("t2_ms".into(), "must be at least t1_ms, and t1_ms above 0".into()));
        }
        self.trunk.validate().map_err(|(key, problem)| (format!("trunk.{key}"), problem))?;
        self.auth.validate().map_err(|(key, problem)| (format!("auth.{key}"), problem))?;
        self.limits.validate().map_err(|(key, problem)| (format!("limits.{key}"), problem))?;
        self.tls.validate().map_err(|(key, problem)| (format!("tls.{key}"), problem))?;
        if self.tls.enabled && self.tls.listen_addr().ok() == self.listen_addr().ok() {
            return Err(("tls.listen".into(), format!("must differ from sip.listen ({}): TCP is served there", self.listen)));
        }
        Ok(())
    }
}
