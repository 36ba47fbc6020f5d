//! The sans-IO user-agent core: inbound messages, application commands and timer expiries in;
//! datagrams/stream writes to send and call events for the application out. It answers everything
//! that needs no application decision itself (OPTIONS, CANCEL, BYE, re-INVITE, INFO, errors).

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use super::acl::{Acl, Cidr, Verdict};
use super::dialog::Dialog;
use super::inbound_auth::{Authenticator, Decision};
use super::message::{self, Message, Reply};
use super::rate_limit::{self, Class, RateLimitConfig, RateLimiter};
use super::refer::{self, Refer};
use super::sdp::{self, Sdp};
use super::transaction::{ClientNonInvite, ClientOutput, InviteOutput, ServerInvite, ServerNonInvite, Timers};
use super::trunk::{Trunk, TrunkStatus};
use super::uac::Uac;
use super::{ALLOW, CallId, Transmit, Transport, UaCommand, UaEvent};

/// Methods we know but do not serve: 405 with Allow (others get 501).
const KNOWN_NOT_ALLOWED: &[&str] = &["REGISTER", "SUBSCRIBE", "NOTIFY", "PUBLISH", "MESSAGE", "REFER", "UPDATE", "PRACK"];

/// One inbound call leg and its INVITE transaction(s).
struct Leg {
    source: SocketAddr,
    transport: Transport,
    invite: Message,
    invite_tx: ServerInvite,
    dialog: Dialog,
    answered: bool,
    /// Our offer, when the INVITE had none: the answer comes in the ACK.
    our_offer: Option<Sdp>,
    local_sdp: Option<Sdp>,
    /// A re-INVITE being answered (2xx retransmitted until its ACK).
    reinvite_tx: Option<ServerInvite>,
    bye_tx: Option<ClientNonInvite>,
    /// Our blind transfer of this call (REFER and its NOTIFYs), while it runs.
    refer: Option<Refer>,
    ended: bool,
    /// Set when the connection the call came on closed and `source` became the Contact's address:
    /// the host to open a new connection to (and, over TLS, the name its certificate must carry).
    reconnect_host: Option<String>,
}

pub struct Endpoint {
    timers: Timers,
    local: SocketAddr,
    legs: HashMap<CallId, Leg>,
    /// Completed non-INVITE server transactions by (branch, method), for retransmitted requests.
    non_invite: HashMap<(String, String), ServerNonInvite>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<UaEvent>,
    tag_counter: u64,
    /// Which sources we serve; `None` serves everyone.
    acl: Option<Acl>,
    /// Requests refused or dropped by the ACL, and the sources already logged (bounded).
    denied: u64,
    denied_logged: HashSet<IpAddr>,
    trunk: Option<Trunk>,
    limiter: RateLimiter,
    /// Digest challenges for new calls (`[sip.auth]`); `None` = off.
    auth: Option<Authenticator>,
    /// Requests dropped as floods or from scanners.
    rate_limited: u64,
    /// The address advertised for calls that come over TLS (its own port).
    tls_local: Option<SocketAddr>,
    /// Outbound call legs (our INVITEs), UDP only.
    outbound: HashMap<CallId, Uac>,
}

impl Endpoint {
    /// `local` is the address we advertise in Via and Contact.
    pub fn new(timers: Timers, local: SocketAddr) -> Self {
        Self {
            timers,
            local,
            legs: HashMap::new(),
            non_invite: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            tag_counter: 0,
            acl: None,
            denied: 0,
            denied_logged: HashSet::new(),
            trunk: None,
            limiter: RateLimiter::new(RateLimitConfig::default()),
            auth: None,
            rate_limited: 0,
            tls_local: None,
            outbound: HashMap::new(),
        }
    }

    /// Calls over TLS advertise this address in Contact and Via.
    pub fn set_tls_local(&mut self, local: SocketAddr) {
        self.tls_local = Some(local);
    }

    pub fn set_rate_limits(&mut self, config: RateLimitConfig) {
        self.limiter = RateLimiter::new(config);
    }

    pub fn rate_limited_requests(&self) -> u64 {
        self.rate_limited
    }

    /// New calls must authenticate (digest) before they are offered to the application.
    pub fn set_inbound_auth(&mut self, auth: Authenticator) {
        self.auth = Some(auth);
    }

    /// New calls refused by digest authentication (wrong answers, unreadable ones, banned sources).
    pub fn auth_rejected_calls(&self) -> u64 {
        self.auth.as_ref().map_or(0, Authenticator::rejected)
    }

    pub fn live_dialogs(&self) -> usize {
        self.legs.len() + self.outbound.values().filter(|uac| uac.is_live()).count()
    }

    /// Serves only sources the ACL allows (plus the trunk's server, when a trunk is set).
    pub fn set_acl(&mut self, mut acl: Acl) {
        if let Some(trunk) = &self.trunk {
            acl.allow(Cidr::host(trunk.server().ip()));
        }
        self.acl = Some(acl);
    }

    /// Registers and/or keeps the trunk alive; its server becomes a trusted source.
    pub fn set_trunk(&mut self, trunk: Trunk) {
        if let Some(acl) = self.acl.as_mut() {
            acl.allow(Cidr::host(trunk.server().ip()));
        }
        self.trunk = Some(trunk);
    }

    pub fn trunk_status(&self) -> Option<TrunkStatus> {
        self.trunk.as_ref().map(Trunk::status)
    }

    /// Requests refused or dropped by the ACL so far.
    pub fn denied_requests(&self) -> u64 {
        self.denied
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front().or_else(|| self.trunk.as_mut()?.poll_transmit())
    }

    pub fn poll_event(&mut self) -> Option<UaEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let legs = self.legs.values().flat_map(|leg| {
            [
                leg.invite_tx.poll_timeout(),
                leg.reinvite_tx.as_ref().and_then(ServerInvite::poll_timeout),
                leg.bye_tx.as_ref().and_then(ClientNonInvite::poll_timeout),
                leg.refer.as_ref().and_then(Refer::poll_timeout),
            ]
        });
        let trunk = self.trunk.as_ref().and_then(Trunk::poll_timeout);
        let outbound = self.outbound.values().filter_map(Uac::poll_timeout);
        legs.flatten().chain(outbound).chain(self.non_invite.values().map(|t| t.expires)).chain(trunk).min()
    }

    fn send(&mut self, dest: SocketAddr, transport: Transport, bytes: Vec<u8>) {
        self.transmits.push_back(Transmit { dest, transport, bytes });
    }

    fn new_tag(&mut self) -> String {
        self.tag_counter += 1;
        format!("cl{:x}{:x}", rand::random::<u32>(), self.tag_counter)
    }

    /// Handles one received datagram or framed stream message.
    pub fn handle_inbound(&mut self, bytes: &[u8], source: SocketAddr, transport: Transport, now: Instant) {
        let verdict = self.acl.as_ref().map_or(Verdict::Allow, |acl| acl.check(source.ip()));
        if verdict != Verdict::Allow {
            return self.deny(bytes, source, transport, verdict);
        }
        let message = match message::parse(bytes) {
            Ok(m) => m,
            Err(malformed) => {
                tracing::info!(%source, reason = %malformed.reason, "malformed SIP message");
                if let Some(reply) = malformed.reply {
                    self.send(source, transport, reply);
                }
                return;
            }
        };
        match message.method().map(str::to_string) {
            Some(method) => {
                let class = self.rate_class(&message, &method);
                let verdict = self.limiter.check(source.ip(), class, message.header("User-Agent"), now);
                if verdict != rate_limit::Verdict::Allow {
                    self.rate_limited += 1;
                    tracing::debug!(%source, %method, ?verdict, "request dropped");
                    return;
                }
                self.handle_request(message, &method, source, transport, now)
            }
            None => self.handle_response(message, now),
        }
    }

    /// New call, other out-of-dialog request, or part of a call we already have (never limited:
    /// retransmissions, ACK, CANCEL, BYE and re-INVITEs of live legs).
    fn rate_class(&self, request: &Message, method: &str) -> Class {
        if method == "ACK" || request.to_tag.is_some() || self.legs.contains_key(&CallId(request.call_id.clone())) {
            Class::InDialog
        } else if method == "INVITE" {
            Class::NewCall
        } else {
            Class::Request
        }
    }

    /// A message from a source the ACL does not allow: a stateless 403 for a request (never for
    /// an ACK) in `reject` mode, nothing otherwise.
    fn deny(&mut self, bytes: &[u8], source: SocketAddr, transport: Transport, verdict: Verdict) {
        self.denied += 1;
        let request = message::parse(bytes).ok().filter(|m| m.method().is_some_and(|m| m != "ACK"));
        let method = request.as_ref().and_then(|m| m.method()).unwrap_or("-").to_string();
        if self.denied_logged.len() < 256 && self.denied_logged.insert(source.ip()) {
            tracing::info!(%source, method, action = ?verdict, "SIP from a source not in sip.trunk.allowed_sources");
        } else {
            tracing::debug!(%source, method, action = ?verdict, "SIP from an unlisted source");
        }
        if let (Verdict::Reject, Some(request)) = (verdict, request) {
            let bytes = Reply::for_request(&request, request.to_tag.is_none().then_some("cl-acl")).render(403, "Forbidden", &[], b"");
            self.send(source, transport, bytes);
        }
    }

    /// A stateless final response to a request outside any dialog, with our fixed To tag.
    #[allow(clippy::too_many_arguments)]
    fn respond(&mut self, request: &Message, source: SocketAddr, transport: Transport, status: u16, reason: &str, extra: &[(&str, String)], now: Instant) {
        self.respond_tagged(request, source, transport, status, reason, extra, "cl-nd", now)
    }

    /// A stateless final response; `to_tag` goes into To when the request's To has none.
    #[allow(clippy::too_many_arguments)]
    fn respond_tagged(&mut self, request: &Message, source: SocketAddr, transport: Transport, status: u16, reason: &str, extra: &[(&str, String)], to_tag: &str, now: Instant) {
        let bytes = Reply::for_request(request, request.to_tag.is_none().then_some(to_tag)).render(status, reason, extra, b"");
        let key = (request.branch.clone(), request.cseq_method.clone());
        self.non_invite.insert(key, ServerNonInvite::completed(bytes.clone(), now, &self.timers, transport.is_reliable()));
        self.send(source, transport, bytes);
    }

    fn handle_request(&mut self, request: Message, method: &str, source: SocketAddr, transport: Transport, now: Instant) {
        if method != "INVITE"
            && method != "ACK"
            && let Some(done) = self.non_invite.get(&(request.branch.clone(), method.to_string()))
        {
            let bytes = done.response.clone();
            self.send(source, transport, bytes);
            return;
        }
        let call = CallId(request.call_id.clone());
        if method != "ACK"
            && method != "CANCEL"
            && let Some(uac) = self.outbound.get_mut(&call)
        {
            let reply = uac.on_request(&request, now);
            self.send(source, transport, reply);
            return self.drain_outbound(&call);
        }
        match method {
            "INVITE" => self.on_invite(call, request, source, transport, now),
            "ACK" => self.on_ack(&call, &request, now),
            "CANCEL" => self.on_cancel(&call, &request, source, transport, now),
            "BYE" => {
                let in_dialog = self.legs.get(&call).filter(|leg| leg.dialog.matches(&request) && !leg.ended).is_some();
                if !in_dialog {
                    return self.respond(&request, source, transport, 481, "Call/Transaction Does Not Exist", &[], now);
                }
                self.respond(&request, source, transport, 200, "OK", &[], now);
                if let Some(leg) = self.legs.get_mut(&call) {
                    leg.ended = true;
                    if !leg.answered {
                        // BYE before our final response: the INVITE gets 487 (RFC 3261 §15.1.2).
                        let bytes = Reply::for_request(&leg.invite, Some(leg.dialog.local_tag())).render(487, "Request Terminated", &[], b"");
                        leg.invite_tx.final_response(bytes, false, now);
                    }
                }
                self.events.push_back(UaEvent::RemoteHangup { call });
            }
            "OPTIONS" => self.respond(
                &request,
                source,
                transport,
                200,
                "OK",
                &[("Allow", ALLOW.into()), ("Accept", "application/sdp, application/dtmf-relay, application/dtmf".into()), ("Supported", String::new())],
                now,
            ),
            "INFO" => self.on_info(call, &request, source, transport, now),
            "NOTIFY" if self.legs.get(&call).is_some_and(|leg| leg.refer.is_some()) => self.on_refer_notify(call, &request, source, transport, now),
            m if KNOWN_NOT_ALLOWED.contains(&m) => self.respond(&request, source, transport, 405, "Method Not Allowed", &[("Allow", ALLOW.into())], now),
            _ => self.respond(&request, source, transport, 501, "Not Implemented", &[("Allow", ALLOW.into())], now),
        }
    }

    fn on_invite(&mut self, call: CallId, request: Message, source: SocketAddr, transport: Transport, now: Instant) {
        if let Some(leg) = self.legs.get_mut(&call) {
            if leg.invite.branch == request.branch {
                if let InviteOutput::Send(bytes) = leg.invite_tx.retransmitted_request() {
                    self.transmits.push_back(Transmit { dest: source, transport, bytes });
                }
                return;
            }
            if leg.reinvite_tx.as_ref().is_some_and(|tx| tx.branch == request.branch) {
                if let InviteOutput::Send(bytes) = leg.reinvite_tx.as_ref().unwrap().retransmitted_request() {
                    self.transmits.push_back(Transmit { dest: source, transport, bytes });
                }
                return;
            }
            if leg.dialog.matches(&request) && leg.answered && !leg.ended {
                return self.on_reinvite(call, request, source, transport, now);
            }
            return self.respond(&request, source, transport, 481, "Call/Transaction Does Not Exist", &[], now);
        }
        if request.to_tag.is_some() {
            return self.respond(&request, source, transport, 481, "Call/Transaction Does Not Exist", &[], now);
        }
        if let Some(auth) = self.auth.as_mut() {
            match auth.check(&request, source.ip(), now) {
                Decision::Accept => {}
                Decision::Challenge(challenges) => {
                    let headers: Vec<_> = challenges.into_iter().map(|c| ("WWW-Authenticate", c)).collect();
                    return self.respond(&request, source, transport, 401, "Unauthorized", &headers, now);
                }
                Decision::Forbidden => {
                    tracing::info!(%source, "new call with wrong digest credentials: 403");
                    return self.respond(&request, source, transport, 403, "Forbidden", &[], now);
                }
                Decision::BadRequest(problem) => return self.respond(&request, source, transport, 400, &format!("Bad Request ({problem})"), &[], now),
                Decision::Drop => {
                    tracing::debug!(%source, "INVITE from a source banned for wrong digest answers dropped");
                    return;
                }
            }
        }
        let offer = match parse_body_sdp(&request) {
            Ok(offer) => offer,
            Err(problem) => return self.respond(&request, source, transport, 400, &format!("Bad Request ({problem})"), &[], now),
        };
        let tag = self.new_tag();
        let local = if transport == Transport::Tls { self.tls_local.unwrap_or(self.local) } else { self.local };
        let dialog = Dialog::new_uas(&request, tag, local, transport);
        let mut invite_tx = ServerInvite::new(request.branch.clone(), self.timers, transport.is_reliable());
        let trying = Reply::for_request(&request, None).render(100, "Trying", &[], b"");
        if let InviteOutput::Send(bytes) = invite_tx.provisional(trying) {
            self.send(source, transport, bytes);
        }
        let from = request.header("From").map(message::angle_uri).unwrap_or_default();
        let to = request.header("To").map(message::angle_uri).unwrap_or_default();
        self.legs.insert(
            call.clone(),
            Leg {
                source,
                transport,
                invite: request,
                invite_tx,
                dialog,
                answered: false,
                our_offer: None,
                local_sdp: None,
                reinvite_tx: None,
                bye_tx: None,
                refer: None,
                ended: false,
                reconnect_host: None,
            },
        );
        self.events.push_back(UaEvent::IncomingCall { call, from, to, source, offer });
    }

    /// A re-INVITE (RFC 3261 §14.2): its offer is answered within the call's media
    /// ([`sdp::renegotiate`]) and the application told what changed. One we cannot take gets 488
    /// and leaves the session as it was; one without an offer gets ours again (answer in the ACK).
    fn on_reinvite(&mut self, call: CallId, request: Message, source: SocketAddr, transport: Transport, now: Instant) {
        let leg = self.legs.get_mut(&call).expect("checked by caller");
        let offer = match parse_body_sdp(&request) {
            Ok(offer) => offer,
            Err(problem) => {
                let bytes = Reply::for_request(&request, Some(leg.dialog.local_tag())).render(400, &format!("Bad Request ({problem})"), &[], b"");
                return self.send(source, transport, bytes);
            }
        };
        let previous = leg.local_sdp.clone().unwrap_or_else(|| sdp::make_offer(&Default::default(), self.local, 1));
        let mut tx = ServerInvite::new(request.branch.clone(), self.timers, transport.is_reliable());
        let (answer, on_hold, media) = match &offer {
            Some(offer) => match sdp::renegotiate(offer, &previous) {
                Ok(negotiated) => (negotiated.answer.clone(), negotiated.remote_direction.is_hold(), Some(Box::new(negotiated))),
                Err(e) => {
                    tracing::info!(error = %e, "re-INVITE offer not acceptable: 488, the session stays as it was");
                    let warning = format!("305 chartline \"{}\"", e.to_string().replace('"', "'"));
                    let bytes = Reply::for_request(&request, Some(leg.dialog.local_tag())).render(488, "Not Acceptable Here", &[("Warning", warning)], b"");
                    if let InviteOutput::Send(bytes) = tx.final_response(bytes, false, now) {
                        self.transmits.push_back(Transmit { dest: source, transport, bytes });
                    }
                    leg.reinvite_tx = Some(tx);
                    return;
                }
            },
            None => (sdp::with_direction(&previous, sdp::Direction::SendRecv), false, None),
        };
        leg.dialog.refresh_target(&request);
        leg.local_sdp = Some(answer.clone());
        let body = answer.to_string().into_bytes();
        let contact = leg.dialog.contact_header();
        let bytes = Reply::for_request(&request, Some(leg.dialog.local_tag())).render(200, "OK", &[("Contact", contact), ("Allow", ALLOW.into()), ("Content-Type", "application/sdp".into())], &body);
        if let InviteOutput::Send(bytes) = tx.final_response(bytes, true, now) {
            self.transmits.push_back(Transmit { dest: source, transport, bytes });
        }
        leg.reinvite_tx = Some(tx);
        self.events.push_back(UaEvent::MediaChanged { call, on_hold, media });
    }

    fn on_ack(&mut self, call: &CallId, request: &Message, now: Instant) {
        let Some(leg) = self.legs.get_mut(call) else { return };
        let reinvite_waits = |tx: &ServerInvite| matches!(tx.state, super::transaction::InviteState::Accepted | super::transaction::InviteState::Completed);
        if leg.reinvite_tx.as_ref().is_some_and(reinvite_waits) && request.cseq != leg.invite.cseq {
            leg.reinvite_tx.as_mut().unwrap().ack(now);
            return;
        }
        let was_waiting = matches!(leg.invite_tx.state, super::transaction::InviteState::Accepted);
        leg.invite_tx.ack(now);
        if was_waiting && leg.answered {
            let answer = if leg.our_offer.is_some() { parse_body_sdp(request).ok().flatten() } else { None };
            self.events.push_back(UaEvent::CallAcked { call: call.clone(), answer });
        }
    }

    fn on_cancel(&mut self, call: &CallId, request: &Message, source: SocketAddr, transport: Transport, now: Instant) {
        let matching = self.legs.get(call).is_some_and(|leg| leg.invite.branch == request.branch);
        if !matching {
            return self.respond(request, source, transport, 481, "Call/Transaction Does Not Exist", &[], now);
        }
        // The same To tag as the INVITE's responses (RFC 3261 §9.2): a caller whose CANCEL crossed
        // our 200 takes the dialog's tag from it, and its BYE must still match the dialog.
        let tag = self.legs.get(call).map(|leg| leg.dialog.local_tag().to_string()).unwrap_or_default();
        self.respond_tagged(request, source, transport, 200, "OK", &[], &tag, now);
        let leg = self.legs.get_mut(call).expect("checked above");
        if leg.answered || leg.ended {
            return; // too late: the call goes on (RFC 3261 §9.2)
        }
        leg.ended = true;
        let bytes = Reply::for_request(&leg.invite, Some(leg.dialog.local_tag())).render(487, "Request Terminated", &[], b"");
        if let InviteOutput::Send(bytes) = leg.invite_tx.final_response(bytes, false, now) {
            let (dest, transport) = (leg.source, leg.transport);
            self.send(dest, transport, bytes);
        }
        self.events.push_back(UaEvent::CallCancelled { call: call.clone() });
    }

    fn on_info(&mut self, call: CallId, request: &Message, source: SocketAddr, transport: Transport, now: Instant) {
        let in_dialog = self.legs.get(&call).is_some_and(|leg| leg.dialog.matches(request) && !leg.ended);
        if !in_dialog {
            return self.respond(request, source, transport, 481, "Call/Transaction Does Not Exist", &[], now);
        }
        match message::dtmf_info(request) {
            Some((digit, duration_ms)) => {
                self.respond(request, source, transport, 200, "OK", &[], now);
                self.events.push_back(UaEvent::DtmfInfo { call, digit, duration_ms });
            }
            None => self.respond(request, source, transport, 415, "Unsupported Media Type", &[("Accept", "application/dtmf-relay, application/dtmf".into())], now),
        }
    }

    /// A NOTIFY while our REFER runs: one of its subscription (`Event: refer`, in the dialog) is
    /// answered 200 and read; any other gets 481.
    fn on_refer_notify(&mut self, call: CallId, request: &Message, source: SocketAddr, transport: Transport, now: Instant) {
        let ours = self.legs.get(&call).is_some_and(|leg| leg.dialog.matches(request) && !leg.ended)
            && request.header("Event").is_some_and(|e| e.split(';').next().unwrap_or_default().trim().eq_ignore_ascii_case("refer"));
        if !ours {
            return self.respond(request, source, transport, 481, "Subscription Does Not Exist", &[], now);
        }
        self.respond(request, source, transport, 200, "OK", &[], now);
        if let Some(refer) = self.legs.get_mut(&call).and_then(|leg| leg.refer.as_mut()) {
            refer.on_notify(request);
        }
        self.drain_refer(&call);
    }

    /// Starts a blind transfer of an answered call: REFER with Refer-To and Referred-By.
    fn start_transfer(&mut self, call: CallId, target: &str, timeout: std::time::Duration, now: Instant) {
        let Some(leg) = self.legs.get_mut(&call).filter(|leg| leg.answered && !leg.ended && leg.refer.as_ref().is_none_or(Refer::is_done)) else {
            let reason = refer::TransferFailure::Rejected(481);
            return self.events.push_back(UaEvent::Transfer { call, update: refer::TransferUpdate::Failed { reason } });
        };
        let refer_to = refer::refer_to_uri(target, leg.dialog.remote_target());
        let referred_by = format!("<{}>", leg.dialog.local_uri());
        let (branch, request) = leg.dialog.request("REFER", &[("Contact", leg.dialog.contact_header()), ("Refer-To", format!("<{refer_to}>")), ("Referred-By", referred_by)], b"");
        let (machine, first) = Refer::start(branch, request, now, &self.timers, leg.transport.is_reliable(), timeout);
        leg.refer = Some(machine);
        let (dest, transport) = (leg.source, leg.transport);
        tracing::info!(call = %call.0, "transfer: REFER sent");
        self.send(dest, transport, first);
    }

    /// Moves what a transfer wants sent and said into the endpoint's queues.
    fn drain_refer(&mut self, call: &CallId) {
        let Some(leg) = self.legs.get_mut(call) else { return };
        let (dest, transport) = (leg.source, leg.transport);
        let Some(refer) = leg.refer.as_mut() else { return };
        while let Some(bytes) = refer.poll_transmit() {
            self.transmits.push_back(Transmit { dest, transport, bytes });
        }
        while let Some(update) = refer.poll_update() {
            self.events.push_back(UaEvent::Transfer { call: call.clone(), update });
        }
    }

    fn handle_response(&mut self, response: Message, now: Instant) {
        if self.trunk.as_mut().is_some_and(|trunk| trunk.handle_response(&response, now)) {
            return;
        }
        let call = CallId(response.call_id.clone());
        if let Some(uac) = self.outbound.get_mut(&call) {
            uac.on_response(&response, now);
            return self.drain_outbound(&call);
        }
        let Some(leg) = self.legs.get_mut(&call) else { return };
        if let Some(refer) = leg.refer.as_mut().filter(|r| r.branch() == response.branch) {
            refer.on_response(response.status().unwrap_or(0));
            return self.drain_refer(&call);
        }
        if let Some(bye) = leg.bye_tx.as_mut().filter(|tx| tx.branch == response.branch)
            && bye.response(response.status().unwrap_or(0))
        {
            self.legs.remove(&call);
        }
    }

    /// Applies a decision of the application.
    pub fn handle_command(&mut self, command: UaCommand, now: Instant) {
        match command {
            UaCommand::Ringing { call } => {
                let Some(leg) = self.legs.get_mut(&call) else { return };
                let bytes = Reply::for_dialog(&leg.invite, leg.dialog.local_tag()).render(180, "Ringing", &[("Contact", leg.dialog.contact_header())], b"");
                if let InviteOutput::Send(bytes) = leg.invite_tx.provisional(bytes) {
                    let (dest, transport) = (leg.source, leg.transport);
                    self.send(dest, transport, bytes);
                }
            }
            UaCommand::Answer { call, sdp, offerless } => {
                let Some(leg) = self.legs.get_mut(&call).filter(|leg| !leg.ended && !leg.answered) else { return };
                leg.answered = true;
                if offerless {
                    leg.our_offer = Some(sdp.clone());
                }
                leg.local_sdp = Some(sdp.clone());
                let body = sdp.to_string().into_bytes();
                let bytes = Reply::for_dialog(&leg.invite, leg.dialog.local_tag()).render(
                    200,
                    "OK",
                    &[("Contact", leg.dialog.contact_header()), ("Allow", ALLOW.into()), ("Supported", String::new()), ("Content-Type", "application/sdp".into())],
                    &body,
                );
                if let InviteOutput::Send(bytes) = leg.invite_tx.final_response(bytes, true, now) {
                    let (dest, transport) = (leg.source, leg.transport);
                    self.send(dest, transport, bytes);
                }
            }
            UaCommand::Reject { call, status, reason, warning, retry_after } => {
                let Some(leg) = self.legs.get_mut(&call).filter(|leg| !leg.answered) else { return };
                leg.ended = true;
                let mut extra = Vec::new();
                if let Some(text) = warning {
                    extra.push(("Warning", format!("305 chartline \"{}\"", text.replace('"', "'"))));
                }
                if let Some(seconds) = retry_after {
                    extra.push(("Retry-After", seconds.to_string()));
                }
                let bytes = Reply::for_request(&leg.invite, Some(leg.dialog.local_tag())).render(status, &reason, &extra, b"");
                if let InviteOutput::Send(bytes) = leg.invite_tx.final_response(bytes, false, now) {
                    let (dest, transport) = (leg.source, leg.transport);
                    self.send(dest, transport, bytes);
                }
            }
            UaCommand::Hangup { call } if self.outbound.contains_key(&call) => {
                if let Some(uac) = self.outbound.get_mut(&call) {
                    uac.hangup(now);
                }
                self.drain_outbound(&call);
            }
            UaCommand::Hangup { call } => self.send_bye(&call, now),
            UaCommand::Transfer { call, target, timeout } => self.start_transfer(call, &target, timeout, now),
            UaCommand::Dial(request) => {
                let call = request.call.clone();
                if self.legs.contains_key(&call) || self.outbound.contains_key(&call) {
                    self.events.push_back(UaEvent::DialFailed { call, status: 500, reason: "Call-ID already in use".into() });
                    return;
                }
                let local = if request.transport == Transport::Tls { self.tls_local.unwrap_or(self.local) } else { self.local };
                self.outbound.insert(call.clone(), Uac::start(*request, local, self.timers, now));
                self.drain_outbound(&call);
            }
        }
    }

    /// A stream connection to `dest` could not be opened: the trunk's pending request and our
    /// outbound calls that needed it fail, or end if they were answered (RFC 3261 §8.1.3.1).
    pub fn handle_transport_error(&mut self, dest: SocketAddr, transport: Transport, reason: &str, now: Instant) {
        if let Some(trunk) = self.trunk.as_mut().filter(|t| t.server() == dest && t.transport() == transport) {
            trunk.transport_failed(reason, now);
        }
        let hit: Vec<CallId> = self.outbound.iter().filter(|(_, uac)| uac.dest() == dest && uac.transport() == transport).map(|(call, _)| call.clone()).collect();
        for call in hit {
            if let Some(uac) = self.outbound.get_mut(&call) {
                uac.transport_failed(reason, now);
            }
            self.drain_outbound(&call);
        }
    }

    /// Whether we may open a connection to `dest` over `transport` (an outbound call goes there,
    /// or an inbound call's peer is to be reached again at its Contact), and then the name a TLS
    /// server there must prove.
    pub fn outbound_target(&self, dest: SocketAddr, transport: Transport) -> Option<String> {
        let trunk = self.trunk.as_ref().filter(|t| t.server() == dest && t.transport() == transport).map(|t| t.host().to_string());
        let uac = || self.outbound.values().find(|uac| uac.dest() == dest && uac.transport() == transport).map(|uac| uac.tls_name().to_string());
        let leg = || self.legs.values().find(|leg| leg.source == dest && leg.transport == transport).and_then(|leg| leg.reconnect_host.clone());
        trunk.or_else(uac).or_else(leg)
    }

    /// A stream connection closed. Calls that came on it are reached from now on at their next
    /// hop (RFC 3261 §18.1.1: a new connection to the first proxy of the route set, else to the
    /// Contact) when it names an address: the transport opens that connection for our next
    /// request, such as the BYE.
    pub fn connection_closed(&mut self, peer: SocketAddr, transport: Transport) {
        for leg in self.legs.values_mut().filter(|leg| leg.source == peer && leg.transport == transport && leg.bye_tx.is_none()) {
            if let Some((address, host)) = uri_address(&leg.dialog.next_hop(), transport) {
                tracing::info!(%address, "the call's connection closed: its next hop will be dialled for the next request");
                leg.source = address;
                leg.reconnect_host = Some(host);
            }
        }
    }

    /// Moves what an outbound leg wants sent and said into the endpoint's queues.
    fn drain_outbound(&mut self, call: &CallId) {
        let Some(uac) = self.outbound.get_mut(call) else { return };
        let (dest, transport) = (uac.dest(), uac.transport());
        while let Some(bytes) = uac.poll_transmit() {
            self.transmits.push_back(Transmit { dest, transport, bytes });
        }
        while let Some(event) = uac.poll_event() {
            self.events.push_back(event);
        }
    }

    fn send_bye(&mut self, call: &CallId, now: Instant) {
        let Some(leg) = self.legs.get_mut(call) else { return };
        if leg.ended || leg.bye_tx.is_some() {
            return;
        }
        leg.ended = true;
        if !leg.answered {
            let bytes = Reply::for_request(&leg.invite, Some(leg.dialog.local_tag())).render(480, "Temporarily Unavailable", &[], b"");
            if let InviteOutput::Send(bytes) = leg.invite_tx.final_response(bytes, false, now) {
                let (dest, transport) = (leg.source, leg.transport);
                self.send(dest, transport, bytes);
            }
            return;
        }
        let (branch, request) = leg.dialog.request("BYE", &[], b"");
        let (tx, first) = ClientNonInvite::start(branch, request, now, &self.timers, leg.transport.is_reliable());
        leg.bye_tx = Some(tx);
        let (dest, transport) = (leg.source, leg.transport);
        self.send(dest, transport, first);
    }

    /// Drives every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.non_invite.retain(|_, tx| tx.expires > now);
        if let Some(trunk) = self.trunk.as_mut() {
            trunk.handle_timeout(now);
        }
        let mut finished = Vec::new();
        let mut failed = Vec::new();
        for (call, leg) in self.legs.iter_mut() {
            let dest = (leg.source, leg.transport);
            for tx in [Some(&mut leg.invite_tx), leg.reinvite_tx.as_mut()].into_iter().flatten() {
                if tx.poll_timeout().is_some_and(|t| t <= now) {
                    match tx.on_timeout(now) {
                        InviteOutput::Send(bytes) => self.transmits.push_back(Transmit { dest: dest.0, transport: dest.1, bytes }),
                        InviteOutput::AckTimeout if leg.answered && !leg.ended => failed.push(call.clone()),
                        _ => {}
                    }
                }
            }
            if let Some(bye) = leg.bye_tx.as_mut().filter(|tx| tx.poll_timeout().is_some_and(|t| t <= now)) {
                match bye.on_timeout(now) {
                    ClientOutput::Send(bytes) => self.transmits.push_back(Transmit { dest: dest.0, transport: dest.1, bytes }),
                    ClientOutput::Timeout => finished.push(call.clone()),
                    ClientOutput::None => {}
                }
            }
            let idle = leg.ended && leg.bye_tx.is_none() && leg.invite_tx.poll_timeout().is_none() && leg.reinvite_tx.as_ref().and_then(ServerInvite::poll_timeout).is_none();
            if idle || (leg.ended && leg.invite_tx.is_terminated() && leg.bye_tx.as_ref().is_none_or(ClientNonInvite::is_done)) {
                finished.push(call.clone());
            }
        }
        let transfers: Vec<CallId> = self.legs.iter().filter(|(_, leg)| leg.refer.as_ref().and_then(Refer::poll_timeout).is_some_and(|t| t <= now)).map(|(call, _)| call.clone()).collect();
        for call in transfers {
            if let Some(refer) = self.legs.get_mut(&call).and_then(|leg| leg.refer.as_mut()) {
                refer.on_timeout(now);
            }
            self.drain_refer(&call);
        }
        for call in failed {
            tracing::info!(call = %call.0, "no ACK for our 200 OK: ending the call");
            self.events.push_back(UaEvent::CallFailed { call: call.clone(), reason: "no ACK received".into() });
            self.send_bye(&call, now);
        }
        for call in finished {
            self.legs.remove(&call);
        }
        let due: Vec<CallId> = self.outbound.iter().filter(|(_, uac)| uac.poll_timeout().is_some_and(|t| t <= now)).map(|(call, _)| call.clone()).collect();
        for call in due {
            if let Some(uac) = self.outbound.get_mut(&call) {
                uac.on_timeout(now);
            }
            self.drain_outbound(&call);
        }
        self.outbound.retain(|_, uac| !uac.is_done(now));
    }
}

fn parse_body_sdp(message: &Message) -> Result<Option<Sdp>, String> {
    if message.body.is_empty() {
        return Ok(None);
    }
    if !message.content_type().is_some_and(|t| t.eq_ignore_ascii_case("application/sdp")) {
        return Err("body is not application/sdp".into());
    }
    let text = std::str::from_utf8(&message.body).map_err(|_| "SDP is not UTF-8".to_string())?;
    Sdp::parse(text).map(Some).map_err(|e| e.to_string())
}

#[cfg(test)]
#[path = "endpoint_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "endpoint_trunk_tests.rs"]
mod trunk_tests;

/// The address of a Contact or Route URI with an IP host (`sip:pbx@10.0.0.5:5061;transport=tls`),
/// its port defaulting to 5061 over TLS and 5060 otherwise, and the host as written.
fn uri_address(uri: &str, transport: Transport) -> Option<(SocketAddr, String)> {
    let rest = uri.strip_prefix("sips:").or_else(|| uri.strip_prefix("sip:"))?;
    let host_port = rest.split(';').next()?.rsplit('@').next()?;
    let default_port = if transport == Transport::Tls { 5061 } else { 5060 };
    let (host, port) = match host_port.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed.split_once(']')?;
            (host, after.strip_prefix(':').map_or(Some(default_port), |p| p.parse().ok())?)
        }
        None => match host_port.split_once(':') {
            Some((host, port)) => (host, port.parse().ok()?),
            None => (host_port, default_port),
        },
    };
    let ip: std::net::IpAddr = host.parse().ok()?;
    Some((SocketAddr::new(ip, port), host.to_string()))
}
