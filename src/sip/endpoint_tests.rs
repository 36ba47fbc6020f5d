//! Endpoint scenarios driven with simulated time.

use std::time::{Duration, Instant};

use super::*;
use crate::sip::sdp::{MediaCaps, negotiate};

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

fn peer() -> SocketAddr {
    "127.0.0.1:5070".parse().unwrap()
}

fn request(method: &str, branch: &str, cseq: u32, to_tag: Option<&str>, body: &str) -> Vec<u8> {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    let content_type = if body.is_empty() { String::new() } else { "Content-Type: application/sdp\r\n".into() };
    format!(
        "{method} sip:ivr@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\r\nMax-Forwards: 70\r\nFrom: <sip:caller@127.0.0.1>;tag=remote\r\nTo: <sip:ivr@127.0.0.1>{to_tag}\r\nCall-ID: call-1\r\nCSeq: {cseq} {method}\r\nContact: <sip:caller@127.0.0.1:5070>\r\n{content_type}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

struct Harness {
    ep: Endpoint,
    now: Instant,
}

impl Harness {
    fn new() -> Self {
        Self { ep: Endpoint::new(Timers::default(), "127.0.0.1:5060".parse().unwrap()), now: Instant::now() }
    }

    fn inbound(&mut self, bytes: Vec<u8>) {
        self.ep.handle_inbound(&bytes, peer(), Transport::Udp, self.now);
    }

    fn sent(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.ep.poll_transmit()).map(|t| String::from_utf8(t.bytes).unwrap()).collect()
    }

    fn events(&mut self) -> Vec<UaEvent> {
        std::iter::from_fn(|| self.ep.poll_event()).collect()
    }

    fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        while let Some(at) = self.ep.poll_timeout().filter(|at| *at <= end) {
            self.now = at.max(self.now);
            self.ep.handle_timeout(self.now);
        }
        self.now = end;
    }

    fn status_lines(&mut self) -> Vec<String> {
        self.sent().iter().map(|s| s.lines().next().unwrap().to_string()).collect()
    }

    /// INVITE → 100 → answer → 200; returns the To tag we chose.
    fn answered_call(&mut self) -> String {
        self.inbound(request("INVITE", "z9hG4bK-i", 1, None, SDP));
        let call = match self.events().pop() {
            Some(UaEvent::IncomingCall { call, offer: Some(offer), .. }) => {
                let n = negotiate(&offer, &MediaCaps::default(), "127.0.0.1:20000".parse().unwrap(), 1).unwrap();
                self.ep.handle_command(UaCommand::Answer { call: call.clone(), sdp: n.answer, offerless: false }, self.now);
                call
            }
            other => panic!("expected IncomingCall, got {other:?}"),
        };
        let sent = self.sent();
        assert!(sent[0].starts_with("SIP/2.0 100 Trying"));
        assert!(sent[1].starts_with("SIP/2.0 200 OK"), "{}", sent[1]);
        assert_eq!(call.0, "call-1");
        message::param(sent[1].lines().find(|l| l.starts_with("To:")).unwrap(), "tag").unwrap()
    }
}

#[test]
fn answer_and_ack_then_remote_bye() {
    let mut h = Harness::new();
    let tag = h.answered_call();
    h.inbound(request("ACK", "z9hG4bK-a", 1, Some(&tag), ""));
    assert_eq!(h.events(), vec![UaEvent::CallAcked { call: CallId("call-1".into()), answer: None }]);
    h.advance(Duration::from_secs(10));
    assert!(h.sent().is_empty(), "no retransmission after ACK");
    h.inbound(request("BYE", "z9hG4bK-b", 2, Some(&tag), ""));
    assert_eq!(h.status_lines(), vec!["SIP/2.0 200 OK"]);
    assert_eq!(h.events(), vec![UaEvent::RemoteHangup { call: CallId("call-1".into()) }]);
    h.advance(Duration::from_secs(40));
    assert_eq!(h.ep.live_dialogs(), 0, "dialog freed");
}

#[test]
fn lost_ack_retransmits_200_then_ends_call_with_bye() {
    let mut h = Harness::new();
    h.answered_call();
    h.advance(Duration::from_millis(3600));
    assert_eq!(h.status_lines(), vec!["SIP/2.0 200 OK"; 3], "at 0.5, 1.5, 3.5 s");
    h.advance(Duration::from_secs(30));
    let sent = h.status_lines();
    assert!(sent.iter().filter(|l| l.starts_with("SIP/2.0 200")).count() >= 5);
    assert!(sent.iter().any(|l| l.starts_with("BYE ")), "BYE after Timer H: {sent:?}");
    assert!(h.events().iter().any(|e| matches!(e, UaEvent::CallFailed { .. })));
    h.advance(Duration::from_secs(40));
    assert_eq!(h.ep.live_dialogs(), 0);
}

#[test]
fn retransmitted_invite_is_absorbed() {
    let mut h = Harness::new();
    h.inbound(request("INVITE", "z9hG4bK-i", 1, None, SDP));
    h.inbound(request("INVITE", "z9hG4bK-i", 1, None, SDP));
    assert_eq!(h.events().len(), 1, "one call");
    assert_eq!(h.status_lines(), vec!["SIP/2.0 100 Trying", "SIP/2.0 100 Trying"]);
}

#[test]
fn cancel_before_answer() {
    let mut h = Harness::new();
    h.inbound(request("INVITE", "z9hG4bK-i", 1, None, SDP));
    h.events();
    h.sent();
    h.inbound(request("CANCEL", "z9hG4bK-i", 1, None, ""));
    assert_eq!(h.status_lines(), vec!["SIP/2.0 200 OK", "SIP/2.0 487 Request Terminated"]);
    assert_eq!(h.events(), vec![UaEvent::CallCancelled { call: CallId("call-1".into()) }]);
    let tag = "x";
    h.inbound(request("ACK", "z9hG4bK-i", 1, Some(tag), ""));
    h.advance(Duration::from_secs(40));
    assert!(h.sent().is_empty(), "487 not retransmitted after ACK");
    assert_eq!(h.ep.live_dialogs(), 0);
}

#[test]
fn cancel_crossing_the_200_changes_nothing() {
    let mut h = Harness::new();
    let tag = h.answered_call();
    h.inbound(request("CANCEL", "z9hG4bK-i", 1, None, ""));
    let sent = h.sent();
    assert_eq!(sent.len(), 1, "a 200 to the CANCEL and no 487: {sent:?}");
    assert!(sent[0].starts_with("SIP/2.0 200 OK") && sent[0].contains("CSeq: 1 CANCEL"), "{}", sent[0]);
    assert_eq!(message::param(sent[0].lines().find(|l| l.starts_with("To:")).unwrap(), "tag"), Some(tag.clone()), "the dialog's To tag (RFC 3261 §9.2)");
    assert!(h.events().is_empty(), "the call goes on");
    h.inbound(request("ACK", "z9hG4bK-a", 1, Some(&tag), ""));
    h.events();
    h.inbound(request("BYE", "z9hG4bK-b", 2, Some(&tag), ""));
    assert_eq!(h.status_lines(), vec!["SIP/2.0 200 OK"]);
    assert_eq!(h.events(), vec![UaEvent::RemoteHangup { call: CallId("call-1".into()) }]);
}

#[test]
fn cancel_for_unknown_transaction_is_481() {
    let mut h = Harness::new();
    h.inbound(request("CANCEL", "z9hG4bK-zzz", 1, None, ""));
    assert_eq!(h.status_lines(), vec!["SIP/2.0 481 Call/Transaction Does Not Exist"]);
}

#[test]
fn reinvite_hold_and_unhold() {
    let mut h = Harness::new();
    let tag = h.answered_call();
    h.inbound(request("ACK", "z9hG4bK-a", 1, Some(&tag), ""));
    h.events();
    h.inbound(request("INVITE", "z9hG4bK-r1", 2, Some(&tag), &format!("{SDP}a=sendonly\r\n")));
    let sent = h.sent();
    assert!(sent[0].starts_with("SIP/2.0 200 OK") && sent[0].contains("a=recvonly"), "{}", sent[0]);
    assert!(matches!(h.events()[..], [UaEvent::MediaChanged { on_hold: true, media: Some(_), .. }]));
    h.inbound(request("ACK", "z9hG4bK-a2", 2, Some(&tag), ""));
    h.inbound(request("INVITE", "z9hG4bK-r2", 3, Some(&tag), SDP));
    assert!(h.sent()[0].contains("a=sendrecv"));
    assert!(matches!(h.events()[..], [UaEvent::MediaChanged { on_hold: false, .. }]));
}

#[test]
fn reinvite_moving_the_media_to_another_codec_is_answered_and_reported() {
    let mut h = Harness::new();
    let tag = h.answered_call();
    h.inbound(request("ACK", "z9hG4bK-a", 1, Some(&tag), ""));
    h.events();
    let moved = SDP.replace("c=IN IP4 127.0.0.1", "c=IN IP4 127.0.0.2").replace("6000 RTP/AVP 0 101", "6100 RTP/AVP 8 96").replace("0 PCMU", "8 PCMA").replace("101 telephone", "96 telephone");
    h.inbound(request("INVITE", "z9hG4bK-r1", 2, Some(&tag), &moved));
    let sent = h.sent();
    assert!(sent[0].starts_with("SIP/2.0 200 OK") && sent[0].contains("m=audio 20000 RTP/AVP 8 96\r\n"), "{}", sent[0]);
    match &h.events()[..] {
        [UaEvent::MediaChanged { on_hold: false, media: Some(n), .. }] => {
            assert_eq!((n.codec, n.dtmf_pt, n.remote_rtp), (sdp::Codec::Pcma, Some(96), "127.0.0.2:6100".parse().unwrap()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn reinvite_we_cannot_take_gets_488_and_the_call_goes_on() {
    let mut h = Harness::new();
    let tag = h.answered_call();
    h.inbound(request("ACK", "z9hG4bK-a", 1, Some(&tag), ""));
    h.events();
    let g729 = SDP.replace("RTP/AVP 0 101", "RTP/AVP 18").replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:18 G729/8000");
    h.inbound(request("INVITE", "z9hG4bK-r1", 2, Some(&tag), &g729));
    let sent = h.sent();
    assert!(sent[0].starts_with("SIP/2.0 488") && sent[0].contains("Warning: 305 chartline"), "{}", sent[0]);
    assert!(h.events().is_empty(), "nothing changed");
    // Retransmitted over UDP until its ACK (same branch), then quiet.
    h.advance(Duration::from_millis(600));
    assert_eq!(h.status_lines(), vec!["SIP/2.0 488 Not Acceptable Here"]);
    h.inbound(request("ACK", "z9hG4bK-r1", 2, Some(&tag), ""));
    h.advance(Duration::from_secs(5));
    assert!(h.sent().is_empty());
    // The dialog lives on: a usable re-offer is answered.
    h.inbound(request("INVITE", "z9hG4bK-r2", 3, Some(&tag), SDP));
    assert_eq!(h.status_lines(), vec!["SIP/2.0 200 OK"]);
    h.inbound(request("BYE", "z9hG4bK-b", 4, Some(&tag), ""));
    assert_eq!(h.status_lines(), vec!["SIP/2.0 200 OK"]);
}

#[test]
fn options_bye_outside_dialog_unknown_and_known_methods() {
    let mut h = Harness::new();
    h.inbound(request("OPTIONS", "z9hG4bK-o", 1, None, ""));
    let sent = h.sent();
    assert!(sent[0].starts_with("SIP/2.0 200 OK") && sent[0].contains("Allow: INVITE"), "{}", sent[0]);
    h.inbound(request("BYE", "z9hG4bK-b", 1, Some("nope"), ""));
    assert_eq!(h.status_lines(), vec!["SIP/2.0 481 Call/Transaction Does Not Exist"]);
    h.inbound(request("FOO", "z9hG4bK-f", 1, None, ""));
    assert_eq!(h.status_lines(), vec!["SIP/2.0 501 Not Implemented"]);
    h.inbound(request("SUBSCRIBE", "z9hG4bK-s", 1, None, ""));
    assert_eq!(h.status_lines(), vec!["SIP/2.0 405 Method Not Allowed"]);
    h.inbound(request("OPTIONS", "z9hG4bK-o", 1, None, ""));
    assert_eq!(h.status_lines(), vec!["SIP/2.0 200 OK"], "retransmission answered from the transaction");
}

#[test]
fn malformed_request_gets_400() {
    let mut h = Harness::new();
    let bad = String::from_utf8(request("OPTIONS", "z9hG4bK-o", 1, None, "")).unwrap().replace("CSeq: 1 OPTIONS", "CSeq: x OPTIONS");
    h.inbound(bad.into_bytes());
    assert!(h.status_lines()[0].starts_with("SIP/2.0 400 Bad Request"));
}

#[test]
fn reject_with_warning_and_offerless_answer_in_ack() {
    let mut h = Harness::new();
    h.inbound(request("INVITE", "z9hG4bK-i", 1, None, SDP));
    h.events();
    h.sent();
    h.ep.handle_command(UaCommand::Reject { call: CallId("call-1".into()), status: 488, reason: "Not Acceptable Here".into(), warning: Some("no common codec".into()), retry_after: None }, h.now);
    let sent = h.sent();
    assert!(sent[0].starts_with("SIP/2.0 488") && sent[0].contains("Warning: 305 chartline \"no common codec\""), "{}", sent[0]);

    let mut h = Harness::new();
    h.inbound(request("INVITE", "z9hG4bK-i", 1, None, ""));
    let call = match h.events().pop() {
        Some(UaEvent::IncomingCall { call, offer: None, .. }) => call,
        other => panic!("{other:?}"),
    };
    let offer = sdp::make_offer(&MediaCaps::default(), "127.0.0.1:20000".parse().unwrap(), 1);
    h.ep.handle_command(UaCommand::Answer { call, sdp: offer, offerless: true }, h.now);
    let tag = message::param(h.sent()[1].lines().find(|l| l.starts_with("To:")).unwrap(), "tag").unwrap();
    h.inbound(request("ACK", "z9hG4bK-a", 1, Some(&tag), SDP));
    match h.events().pop() {
        Some(UaEvent::CallAcked { answer: Some(answer), .. }) => assert_eq!(answer.audio_target().unwrap().port(), 6000),
        other => panic!("{other:?}"),
    }
}

#[test]
fn our_hangup_sends_bye_and_frees_on_200() {
    let mut h = Harness::new();
    let tag = h.answered_call();
    h.inbound(request("ACK", "z9hG4bK-a", 1, Some(&tag), ""));
    h.ep.handle_command(UaCommand::Hangup { call: CallId("call-1".into()) }, h.now);
    let bye = h.sent().pop().unwrap();
    assert!(bye.starts_with("BYE sip:caller@127.0.0.1:5070 SIP/2.0"), "{bye}");
    let parsed = message::parse(bye.as_bytes()).unwrap();
    let ok = Reply::for_request(&parsed, None).render(200, "OK", &[], b"");
    h.inbound(ok);
    assert_eq!(h.ep.live_dialogs(), 0);
}

#[test]
fn info_dtmf_relay() {
    let mut h = Harness::new();
    let tag = h.answered_call();
    let info = String::from_utf8(request("INFO", "z9hG4bK-n", 2, Some(&tag), "Signal=5\r\nDuration=160\r\n")).unwrap().replace("application/sdp", "application/dtmf-relay");
    h.inbound(info.into_bytes());
    assert_eq!(h.status_lines(), vec!["SIP/2.0 200 OK"]);
    assert_eq!(h.events(), vec![UaEvent::DtmfInfo { call: CallId("call-1".into()), digit: '5', duration_ms: 160 }]);
}

#[test]
fn after_its_connection_closed_a_call_is_reached_at_its_contact() {
    let mut ep = Endpoint::new(Timers::default(), "127.0.0.1:5060".parse().unwrap());
    let now = Instant::now();
    let ephemeral: SocketAddr = "127.0.0.1:40123".parse().unwrap();
    ep.handle_inbound(&request("INVITE", "z9hG4bK-t", 1, None, SDP), ephemeral, Transport::Tcp, now);
    let Some(UaEvent::IncomingCall { call, offer: Some(offer), .. }) = ep.poll_event() else { panic!("no call") };
    let n = negotiate(&offer, &MediaCaps::default(), "127.0.0.1:20000".parse().unwrap(), 1).unwrap();
    ep.handle_command(UaCommand::Answer { call: call.clone(), sdp: n.answer, offerless: false }, now);
    let to_tag = std::iter::from_fn(|| ep.poll_transmit())
        .map(|t| String::from_utf8(t.bytes).unwrap())
        .find(|m| m.starts_with("SIP/2.0 200"))
        .map(|m| message::param(m.lines().find(|l| l.starts_with("To:")).unwrap(), "tag").unwrap())
        .unwrap();
    ep.handle_inbound(&request("ACK", "z9hG4bK-ta", 1, Some(&to_tag), ""), ephemeral, Transport::Tcp, now);
    assert_eq!(ep.outbound_target(ephemeral, Transport::Tcp), None, "an inbound peer is not dialled while its connection is up");

    ep.connection_closed(ephemeral, Transport::Tcp);
    let contact: SocketAddr = "127.0.0.1:5070".parse().unwrap();
    assert_eq!(ep.outbound_target(contact, Transport::Tcp).as_deref(), Some("127.0.0.1"));
    ep.handle_command(UaCommand::Hangup { call }, now);
    let bye = ep.poll_transmit().expect("BYE");
    assert_eq!((bye.dest, bye.transport), (contact, Transport::Tcp));
    assert!(String::from_utf8(bye.bytes).unwrap().starts_with("BYE sip:caller@127.0.0.1:5070 SIP/2.0"));
}

#[test]
fn uri_addresses() {
    assert_eq!(uri_address("sip:pbx@10.0.0.5:5070;transport=tcp", Transport::Tcp), Some(("10.0.0.5:5070".parse().unwrap(), "10.0.0.5".into())));
    assert_eq!(uri_address("sips:pbx@10.0.0.5", Transport::Tls), Some(("10.0.0.5:5061".parse().unwrap(), "10.0.0.5".into())));
    assert_eq!(uri_address("sip:[2001:db8::1]", Transport::Tcp), Some(("[2001:db8::1]:5060".parse().unwrap(), "2001:db8::1".into())));
    assert_eq!(uri_address("sip:pbx@pbx.clinic.example:5061", Transport::Tls), None, "names are not resolved here");
}

/// A response to one of our requests, built from its headers.
fn response_to(request: &str, status: &str) -> Vec<u8> {
    let header = |name: &str| request.lines().find(|l| l.starts_with(name)).unwrap().to_string();
    format!(
        "SIP/2.0 {status}\r\n{}\r\n{}\r\n{};tag=remote\r\n{}\r\n{}\r\nContent-Length: 0\r\n\r\n",
        header("Via:"),
        header("From:"),
        header("To:").split(";tag").next().unwrap(),
        header("Call-ID:"),
        header("CSeq:")
    )
    .into_bytes()
}

fn refer_notify(tag: &str, branch: &str, cseq: u32, state: &str, frag: &str) -> Vec<u8> {
    format!(
        "NOTIFY sip:chartline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\r\nMax-Forwards: 70\r\nFrom: <sip:caller@127.0.0.1>;tag=remote\r\nTo: <sip:ivr@127.0.0.1>;tag={tag}\r\nCall-ID: call-1\r\nCSeq: {cseq} NOTIFY\r\nEvent: refer\r\nSubscription-State: {state}\r\nContent-Type: message/sipfrag\r\nContent-Length: {}\r\n\r\n{frag}",
        frag.len()
    )
    .into_bytes()
}

#[test]
fn blind_transfer_by_refer_in_the_callers_dialog() {
    use crate::sip::refer::TransferUpdate;
    let mut h = Harness::new();
    let tag = h.answered_call();
    h.inbound(request("ACK", "z9hG4bK-a", 1, Some(&tag), ""));
    h.events();
    let call = CallId("call-1".into());
    h.ep.handle_command(UaCommand::Transfer { call: call.clone(), target: "sip:nurse@10.0.0.5".into(), timeout: Duration::from_secs(20) }, h.now);
    let sent = h.sent();
    let refer = &sent[0];
    assert!(refer.starts_with("REFER sip:caller@127.0.0.1:5070 SIP/2.0"), "{refer}");
    assert!(refer.contains("Refer-To: <sip:nurse@10.0.0.5>\r\n") && refer.contains("Referred-By: <sip:ivr@127.0.0.1>\r\n"), "{refer}");
    assert!(refer.contains(&format!("From: <sip:ivr@127.0.0.1>;tag={tag}")), "in the caller's dialog: {refer}");
    h.inbound(response_to(refer, "202 Accepted"));
    h.inbound(refer_notify(&tag, "z9hG4bK-n1", 10, "active;expires=60", "SIP/2.0 100 Trying\r\n"));
    h.inbound(refer_notify(&tag, "z9hG4bK-n1", 10, "active;expires=60", "SIP/2.0 100 Trying\r\n"));
    assert_eq!(h.status_lines(), ["SIP/2.0 200 OK", "SIP/2.0 200 OK"], "each NOTIFY (and its retransmission) answered");
    h.inbound(refer_notify(&tag, "z9hG4bK-n2", 11, "terminated;reason=noresource", "SIP/2.0 200 OK\r\n"));
    assert_eq!(h.status_lines(), ["SIP/2.0 200 OK"]);
    let updates: Vec<_> = h
        .events()
        .into_iter()
        .map(|e| match e {
            UaEvent::Transfer { update, .. } => update,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(updates, [TransferUpdate::Accepted { status: 202 }, TransferUpdate::Progress { status: 100 }, TransferUpdate::Succeeded { status: 200 }]);
    h.ep.handle_command(UaCommand::Hangup { call }, h.now);
    assert!(h.sent()[0].starts_with("BYE "));
}

#[test]
fn a_refused_refer_and_a_transfer_of_no_call_fail() {
    use crate::sip::refer::{TransferFailure, TransferUpdate};
    let mut h = Harness::new();
    let tag = h.answered_call();
    h.inbound(request("ACK", "z9hG4bK-a", 1, Some(&tag), ""));
    h.events();
    h.ep.handle_command(UaCommand::Transfer { call: CallId("nope".into()), target: "201".into(), timeout: Duration::from_secs(20) }, h.now);
    assert!(matches!(h.events().as_slice(), [UaEvent::Transfer { update: TransferUpdate::Failed { .. }, .. }]));
    h.ep.handle_command(UaCommand::Transfer { call: CallId("call-1".into()), target: "201".into(), timeout: Duration::from_secs(20) }, h.now);
    let refer = h.sent().remove(0);
    assert!(refer.contains("Refer-To: <sip:201@127.0.0.1:5070>"), "an extension on the far end's host: {refer}");
    h.inbound(response_to(&refer, "603 Decline"));
    assert_eq!(h.events(), [UaEvent::Transfer { call: CallId("call-1".into()), update: TransferUpdate::Failed { reason: TransferFailure::Rejected(603) } }]);
    // A late NOTIFY after the transfer ended is answered and changes nothing.
    h.inbound(refer_notify(&tag, "z9hG4bK-n9", 12, "terminated", "SIP/2.0 200 OK\r\n"));
    assert_eq!(h.status_lines(), ["SIP/2.0 200 OK"]);
    assert!(h.events().is_empty());
    // A NOTIFY for another event package is not ours.
    let presence = String::from_utf8(refer_notify(&tag, "z9hG4bK-p1", 13, "active", "")).unwrap().replace("Event: refer", "Event: presence");
    h.inbound(presence.into_bytes());
    assert_eq!(h.status_lines(), ["SIP/2.0 481 Subscription Does Not Exist"]);
}

/// An INVITE as a record-routing proxy in front of us (Kamailio) relays it.
fn proxied_invite(branch: &str) -> Vec<u8> {
    let invite = String::from_utf8(request("INVITE", branch, 1, None, SDP)).unwrap();
    let via = "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=";
    invite.replacen(via, &format!("Record-Route: <sip:10.0.0.1:5060;lr;ftag=remote>\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKproxy\r\n{via}"), 1).into_bytes()
}

/// A proxied INVITE from `source`, rung (180) and answered (200).
fn answer_proxied_call(ep: &mut Endpoint, source: SocketAddr, transport: Transport, now: Instant) -> CallId {
    ep.handle_inbound(&proxied_invite("z9hG4bK-rr"), source, transport, now);
    let Some(UaEvent::IncomingCall { call, offer: Some(offer), .. }) = ep.poll_event() else { panic!("no call") };
    ep.handle_command(UaCommand::Ringing { call: call.clone() }, now);
    let n = negotiate(&offer, &MediaCaps::default(), "127.0.0.1:20000".parse().unwrap(), 1).unwrap();
    ep.handle_command(UaCommand::Answer { call: call.clone(), sdp: n.answer, offerless: false }, now);
    call
}

#[test]
fn the_responses_that_set_up_a_call_carry_the_proxys_record_route() {
    let mut ep = Endpoint::new(Timers::default(), "127.0.0.1:5060".parse().unwrap());
    let now = Instant::now();
    let proxy: SocketAddr = "10.0.0.1:5060".parse().unwrap();
    answer_proxied_call(&mut ep, proxy, Transport::Udp, now);
    let sent: Vec<Transmit> = std::iter::from_fn(|| ep.poll_transmit()).collect();
    assert_eq!(sent.len(), 3, "100, 180, 200");
    for transmit in &sent {
        assert_eq!(transmit.dest, proxy, "responses go back to the proxy");
        let text = String::from_utf8(transmit.bytes.clone()).unwrap();
        let response = message::parse(&transmit.bytes).unwrap();
        assert_eq!(response.header_values("Via").count(), 2, "both Vias copied:\n{text}");
        let record_route: Vec<&str> = response.header_values("Record-Route").collect();
        match response.status() {
            Some(180 | 200) => assert_eq!(record_route, vec!["<sip:10.0.0.1:5060;lr;ftag=remote>"], "{text}"),
            _ => assert!(record_route.is_empty(), "{text}"),
        }
    }
    ep.handle_inbound(b"OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\nRecord-Route: <sip:10.0.0.1:5060;lr>\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-o\r\nFrom: <sip:dispatcher@10.0.0.1>;tag=d\r\nTo: <sip:127.0.0.1:5060>\r\nCall-ID: ping-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", proxy, Transport::Udp, now);
    let ping = ep.poll_transmit().expect("OPTIONS answered");
    let ping = message::parse(&ping.bytes).unwrap();
    assert_eq!(ping.status(), Some(200), "the proxy's health probe gets 200");
    assert_eq!(ping.header_values("Record-Route").count(), 0, "no dialog, no Record-Route");
}

#[test]
fn after_its_connection_closed_a_proxied_call_is_reached_through_the_proxy() {
    let mut ep = Endpoint::new(Timers::default(), "127.0.0.1:5060".parse().unwrap());
    let now = Instant::now();
    let ephemeral: SocketAddr = "10.0.0.1:40123".parse().unwrap();
    let call = answer_proxied_call(&mut ep, ephemeral, Transport::Tcp, now);
    std::iter::from_fn(|| ep.poll_transmit()).for_each(drop);
    ep.connection_closed(ephemeral, Transport::Tcp);
    ep.handle_command(UaCommand::Hangup { call }, now);
    let bye = ep.poll_transmit().expect("BYE");
    assert_eq!((bye.dest, bye.transport), ("10.0.0.1:5060".parse().unwrap(), Transport::Tcp), "to the proxy, not the caller's Contact");
    let bye = message::parse(&bye.bytes).unwrap();
    assert_eq!(bye.header_values("Route").collect::<Vec<_>>(), vec!["<sip:10.0.0.1:5060;lr;ftag=remote>"]);
    assert!(matches!(&bye.start, message::StartLine::Request { uri, .. } if uri == "sip:caller@127.0.0.1:5070"), "the Request-URI stays the Contact");
}
