//! One outbound call leg as a pure state machine (RFC 3261 §13.2, §17.1.1, §9.1): our INVITE with
//! its client transaction (Timer A over UDP, Timer B on every transport), provisional and final responses, the ACK for
//! a non-2xx (same transaction) and for a 2xx (from the dialog), a digest challenge answered once,
//! CANCEL before the answer, and BYE in either direction once established. The endpoint feeds it
//! responses, in-dialog requests and timer expiries; it hands back bytes to send and events.

use std::collections::VecDeque;
use std::fmt::Write;
use std::net::SocketAddr;
use std::time::Instant;

use super::auth::{Challenge, Credentials};
use super::dialog::Dialog;
use super::message::{self, Message, Reply};
use super::sdp::Sdp;
use super::transaction::{ClientNonInvite, ClientOutput, Retransmit, Tick, Timers};
use super::{CallId, Transport, UaEvent};

/// What the application asks to dial.
#[derive(Debug, Clone, PartialEq)]
pub struct DialRequest {
    pub call: CallId,
    /// Request-URI, e.g. `sip:+15551234567@trunk.example` or `sip:dr@10.0.0.5:5060`.
    pub target: String,
    /// Our identity (the practice's caller ID) as a URI, e.g. `sip:+15550100000@trunk.example`.
    pub from_uri: String,
    /// Display name in From; empty = none.
    pub from_name: String,
    /// Where the INVITE goes (outbound proxy, trunk, or the target itself).
    pub dest: SocketAddr,
    pub offer: Sdp,
    /// Digest credentials for a 401/407; `None` = a challenge fails the call.
    pub credentials: Option<Credentials>,
    /// UDP, or a TCP/TLS connection to `dest` (opened by the transport when none is up).
    pub transport: Transport,
    /// The name a TLS peer's certificate must carry (the proxy's or the URI's host).
    pub tls_name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// INVITE sent, nothing heard (Timer A retransmits).
    Calling,
    /// A provisional response arrived.
    Proceeding,
    /// 2xx received and ACKed.
    Established,
    /// Finished; lingering only to absorb retransmissions or to finish a BYE/CANCEL.
    Ended,
}

pub struct Uac {
    request: DialRequest,
    local: SocketAddr,
    timers: Timers,
    local_tag: String,
    cseq: u32,
    branch: String,
    /// Authorization header sent with the current INVITE, if any.
    authorization: Option<(&'static str, String)>,
    invite: Vec<u8>,
    retransmit: Option<Retransmit>,
    state: State,
    /// Hang up asked before any provisional: the CANCEL waits for one (§9.1).
    cancel_wanted: bool,
    cancel_tx: Option<ClientNonInvite>,
    dialog: Option<Dialog>,
    ack_2xx: Option<Vec<u8>>,
    bye_tx: Option<ClientNonInvite>,
    challenged: bool,
    /// When a finished leg may be forgotten (absorbs retransmitted final responses).
    linger_until: Option<Instant>,
    transmits: VecDeque<Vec<u8>>,
    events: VecDeque<UaEvent>,
}

impl Uac {
    /// Sends the INVITE at `now`.
    pub fn start(request: DialRequest, local: SocketAddr, timers: Timers, now: Instant) -> Self {
        let local_tag = format!("clo{:x}", rand::random::<u64>());
        let mut uac = Self {
            request,
            local,
            timers,
            local_tag,
            cseq: 1,
            branch: String::new(),
            authorization: None,
            invite: Vec::new(),
            retransmit: None,
            state: State::Calling,
            cancel_wanted: false,
            cancel_tx: None,
            dialog: None,
            ack_2xx: None,
            bye_tx: None,
            challenged: false,
            linger_until: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        uac.send_invite(now);
        uac
    }

    pub fn call(&self) -> &CallId {
        &self.request.call
    }

    pub fn dest(&self) -> SocketAddr {
        self.request.dest
    }

    pub fn transport(&self) -> Transport {
        self.request.transport
    }

    pub fn tls_name(&self) -> &str {
        &self.request.tls_name
    }

    /// The connection to `dest` could not be opened or broke: the call fails with 503 (RFC 3261
    /// §8.1.3.1) if it was not answered yet, and is over if it was.
    pub fn transport_failed(&mut self, reason: &str, now: Instant) {
        match self.state {
            State::Calling | State::Proceeding => self.fail(503, format!("transport error: {reason}"), now),
            State::Established => {
                self.events.push_back(UaEvent::RemoteHangup { call: self.request.call.clone() });
                self.bye_tx = None;
                self.end(now);
            }
            State::Ended => {
                self.cancel_tx = None;
                self.bye_tx = None;
            }
        }
    }

    fn contact(&self) -> String {
        match self.request.transport {
            Transport::Udp => format!("<sip:chartline@{}>", self.local),
            other => format!("<sip:chartline@{};transport={}>", self.local, other.via_name().to_ascii_lowercase()),
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<UaEvent> {
        self.events.pop_front()
    }

    /// Calling, ringing or talking (not only absorbing retransmissions).
    pub fn is_live(&self) -> bool {
        self.state != State::Ended
    }

    /// Nothing left to do: the endpoint may drop the leg.
    pub fn is_done(&self, now: Instant) -> bool {
        self.state == State::Ended
            && self.retransmit.is_none()
            && self.cancel_tx.as_ref().is_none_or(ClientNonInvite::is_done)
            && self.bye_tx.as_ref().is_none_or(ClientNonInvite::is_done)
            && self.linger_until.is_none_or(|t| t <= now)
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.retransmit.as_ref().map(Retransmit::poll_timeout),
            self.cancel_tx.as_ref().and_then(ClientNonInvite::poll_timeout),
            self.bye_tx.as_ref().and_then(ClientNonInvite::poll_timeout),
            self.linger_until,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn caller_header(&self) -> String {
        let name = if self.request.from_name.is_empty() { String::new() } else { format!("\"{}\" ", self.request.from_name.replace('"', "")) };
        format!("{name}<{}>", self.request.from_uri)
    }

    fn to_header(&self) -> String {
        format!("<{}>", self.request.target)
    }

    /// The headers every request of the INVITE transaction shares (INVITE, CANCEL, non-2xx ACK).
    fn transaction_request(&self, method: &str, to: &str, extra: &[(&str, String)], body: &[u8]) -> Vec<u8> {
        let mut out = format!("{method} {} SIP/2.0\r\n", self.request.target);
        let _ = write!(out, "Via: SIP/2.0/{} {};branch={};rport\r\n", self.request.transport.via_name(), self.local, self.branch);
        let _ = write!(out, "Max-Forwards: 70\r\nFrom: {};tag={}\r\nTo: {to}\r\n", self.caller_header(), self.local_tag);
        let _ = write!(out, "Call-ID: {}\r\nCSeq: {} {method}\r\n", self.request.call.0, self.cseq);
        for (name, value) in extra {
            let _ = write!(out, "{name}: {value}\r\n");
        }
        let _ = write!(out, "User-Agent: Chartline\r\nContent-Length: {}\r\n\r\n", body.len());
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(body);
        bytes
    }

    fn send_invite(&mut self, now: Instant) {
        self.branch = format!("z9hG4bK{:x}{:x}", rand::random::<u64>(), self.cseq);
        let body = self.request.offer.to_string().into_bytes();
        let mut extra = vec![("Contact", self.contact()), ("Allow", super::ALLOW.to_string()), ("Content-Type", "application/sdp".to_string())];
        if let Some((name, value)) = &self.authorization {
            extra.push((name, value.clone()));
        }
        self.invite = self.transaction_request("INVITE", &self.to_header(), &extra, &body);
        // Timer A doubles without the T2 cap of non-INVITE transactions (§17.1.1.2).
        let uncapped = Timers { t2: self.timers.giveup(), ..self.timers };
        self.retransmit = Some(Retransmit::start(now, &uncapped, self.request.transport.is_reliable()));
        self.state = State::Calling;
        self.transmits.push_back(self.invite.clone());
    }

    /// The application hangs up: CANCEL while ringing, BYE once answered.
    pub fn hangup(&mut self, now: Instant) {
        match self.state {
            State::Calling => self.cancel_wanted = true,
            State::Proceeding => self.send_cancel(now),
            State::Established => self.send_bye(now),
            State::Ended => {}
        }
    }

    fn send_cancel(&mut self, now: Instant) {
        if self.cancel_tx.is_some() {
            return;
        }
        let cancel = self.transaction_request("CANCEL", &self.to_header(), &[], b"");
        let (tx, first) = ClientNonInvite::start(self.branch.clone(), cancel, now, &self.timers, self.request.transport.is_reliable());
        self.cancel_tx = Some(tx);
        self.transmits.push_back(first);
    }

    fn send_bye(&mut self, now: Instant) {
        let Some(dialog) = self.dialog.as_mut() else { return };
        if self.bye_tx.is_some() {
            return;
        }
        let (branch, bytes) = dialog.request("BYE", &[], b"");
        let (tx, first) = ClientNonInvite::start(branch, bytes, now, &self.timers, self.request.transport.is_reliable());
        self.bye_tx = Some(tx);
        self.transmits.push_back(first);
        self.end(now);
    }

    fn end(&mut self, now: Instant) {
        self.state = State::Ended;
        self.linger_until = Some(now + self.timers.giveup());
    }

    fn fail(&mut self, status: u16, reason: String, now: Instant) {
        if self.state != State::Ended {
            self.events.push_back(UaEvent::DialFailed { call: self.request.call.clone(), status, reason });
        }
        self.retransmit = None;
        self.end(now);
    }

    /// A response whose Call-ID is ours.
    pub fn on_response(&mut self, response: &Message, now: Instant) {
        let status = response.status().unwrap_or(0);
        match response.cseq_method.as_str() {
            "CANCEL" => {
                if let Some(tx) = self.cancel_tx.as_mut().filter(|tx| tx.branch == response.branch) {
                    tx.response(status);
                }
                return;
            }
            "BYE" => {
                if let Some(tx) = self.bye_tx.as_mut().filter(|tx| tx.branch == response.branch) {
                    tx.response(status);
                }
                return;
            }
            "INVITE" if response.cseq == self.cseq => {}
            _ => return,
        }
        match status {
            100..=199 => {
                self.retransmit = None;
                if self.state == State::Calling {
                    self.state = State::Proceeding;
                    if self.cancel_wanted {
                        return self.send_cancel(now);
                    }
                }
                if status > 100 && self.state == State::Proceeding {
                    self.events.push_back(UaEvent::Progress { call: self.request.call.clone(), status });
                }
            }
            200..=299 => self.on_2xx(response, now),
            _ => self.on_failure(response, status, now),
        }
    }

    fn on_2xx(&mut self, response: &Message, now: Instant) {
        self.retransmit = None;
        if let Some(ack) = &self.ack_2xx {
            // A retransmitted 2xx: our ACK was lost.
            return self.transmits.push_back(ack.clone());
        }
        let local_uri = self.caller_header();
        let dialog = Dialog::new_uac(self.cseq, local_uri, self.local_tag.clone(), response, self.local, self.request.transport);
        let ack = dialog.ack(self.cseq);
        self.transmits.push_back(ack.clone());
        self.ack_2xx = Some(ack);
        self.dialog = Some(dialog);
        let answer = parse_sdp(response);
        let too_late = self.cancel_wanted || self.cancel_tx.is_some();
        self.state = State::Established;
        if too_late {
            // Answered while we were cancelling: the call is ended at once (§9.1).
            self.events.push_back(UaEvent::DialFailed { call: self.request.call.clone(), status: 487, reason: "cancelled".into() });
            return self.send_bye(now);
        }
        match answer {
            Some(answer) => self.events.push_back(UaEvent::Answered { call: self.request.call.clone(), answer }),
            None => {
                self.events.push_back(UaEvent::DialFailed { call: self.request.call.clone(), status: 488, reason: "2xx without a usable SDP answer".into() });
                self.send_bye(now);
            }
        }
    }

    fn on_failure(&mut self, response: &Message, status: u16, now: Instant) {
        // The ACK of a non-2xx belongs to the INVITE transaction: same branch, the response's To.
        let to = response.header("To").unwrap_or_default().to_string();
        let ack = self.transaction_request("ACK", &to, &[], b"");
        self.transmits.push_back(ack);
        if self.state == State::Ended {
            return; // a retransmitted final response: ACKed again above
        }
        self.retransmit = None;
        if matches!(status, 401 | 407)
            && !self.challenged
            && !self.cancel_wanted
            && self.cancel_tx.is_none()
            && let Some(credentials) = self.request.credentials.clone()
        {
            let header = if status == 401 { "WWW-Authenticate" } else { "Proxy-Authenticate" };
            match Challenge::select(response.header_values(header)) {
                Ok(challenge) => {
                    self.challenged = true;
                    let cnonce = format!("{:x}", rand::random::<u64>());
                    let value = challenge.authorization(&credentials, "INVITE", &self.request.target, &cnonce, 1);
                    self.authorization = Some((if status == 401 { "Authorization" } else { "Proxy-Authorization" }, value));
                    self.cseq += 1;
                    return self.send_invite(now);
                }
                Err(e) => return self.fail(status, format!("cannot answer the challenge: {e}"), now),
            }
        }
        let reason = match &response.start {
            message::StartLine::Response { reason, .. } => reason.clone(),
            _ => String::new(),
        };
        self.fail(status, reason, now);
    }

    /// An in-dialog request from the far end (BYE, INFO); returns the response to send.
    pub fn on_request(&mut self, request: &Message, now: Instant) -> Vec<u8> {
        let local_tag = self.local_tag.clone();
        let tag = Some(local_tag.as_str());
        let in_dialog = self.dialog.as_ref().is_some_and(|d| d.matches(request));
        let method = request.method().unwrap_or_default();
        if !in_dialog {
            return Reply::for_request(request, tag).render(481, "Call/Transaction Does Not Exist", &[], b"");
        }
        match method {
            "BYE" => {
                if self.state != State::Ended {
                    self.events.push_back(UaEvent::RemoteHangup { call: self.request.call.clone() });
                }
                self.end(now);
                Reply::for_request(request, tag).render(200, "OK", &[], b"")
            }
            "INFO" => match super::message::dtmf_info(request) {
                Some((digit, duration_ms)) => {
                    self.events.push_back(UaEvent::DtmfInfo { call: self.request.call.clone(), digit, duration_ms });
                    Reply::for_request(request, tag).render(200, "OK", &[], b"")
                }
                None => Reply::for_request(request, tag).render(415, "Unsupported Media Type", &[], b""),
            },
            // Session changes of an outbound leg are not supported; the call continues as it is.
            _ => Reply::for_request(request, tag).render(488, "Not Acceptable Here", &[], b""),
        }
    }

    /// Drives Timer A/B and the CANCEL and BYE transactions.
    pub fn on_timeout(&mut self, now: Instant) {
        if let Some(retransmit) = self.retransmit.as_mut().filter(|r| r.poll_timeout() <= now) {
            match retransmit.on_timeout(now) {
                Tick::Resend => self.transmits.push_back(self.invite.clone()),
                Tick::GiveUp => self.fail(408, "no response (Timer B)".into(), now),
                Tick::Nothing => {}
            }
        }
        for tx in [self.cancel_tx.as_mut(), self.bye_tx.as_mut()].into_iter().flatten() {
            if tx.poll_timeout().is_some_and(|t| t <= now)
                && let ClientOutput::Send(bytes) = tx.on_timeout(now)
            {
                self.transmits.push_back(bytes);
            }
        }
        if self.cancel_tx.as_ref().is_some_and(ClientNonInvite::is_done) && self.state == State::Proceeding && self.linger_until.is_none() {
            // The CANCEL was answered (or timed out) but the 487 never came: give it Timer B.
            self.linger_until = Some(now + self.timers.giveup());
        } else if self.state == State::Proceeding && self.linger_until.is_some_and(|t| t <= now) {
            self.fail(408, "no final response after CANCEL".into(), now);
        } else if self.state == State::Ended && self.linger_until.is_some_and(|t| t <= now) {
            self.linger_until = None;
        }
    }
}

fn parse_sdp(message: &Message) -> Option<Sdp> {
    if !message.content_type().is_some_and(|t| t.eq_ignore_ascii_case("application/sdp")) {
        return None;
    }
    Sdp::parse(std::str::from_utf8(&message.body).ok()?).ok()
}

#[cfg(test)]
#[path = "uac_tests.rs"]
mod tests;
