//! The outbound leg driven with simulated time and hand-written responses.

use std::time::Duration;

use super::*;
use crate::sip::auth::Secret;
use crate::sip::sdp::{self, MediaCaps};

const ANSWER: &str = "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

fn request(credentials: Option<Credentials>) -> DialRequest {
    let offer = sdp::make_offer(&MediaCaps::default(), "127.0.0.1:40000".parse().unwrap(), 1);
    DialRequest {
        call: CallId("out-1@chartline".into()),
        target: "sip:+15550100001@trunk.example".into(),
        from_uri: "sip:+15550100000@trunk.example".into(),
        from_name: "Demo Practice".into(),
        dest: "127.0.0.1:5090".parse().unwrap(),
        offer,
        credentials,
        transport: Transport::Udp,
        tls_name: String::new(),
    }
}

fn start(credentials: Option<Credentials>) -> (Uac, Instant, Message) {
    let now = Instant::now();
    let mut uac = Uac::start(request(credentials), "127.0.0.1:5060".parse().unwrap(), Timers::default(), now);
    let invite = message::parse(&uac.poll_transmit().expect("INVITE sent")).unwrap();
    (uac, now, invite)
}

fn respond(invite: &Message, status: u16, extra: &[(&str, String)], body: &str) -> Message {
    let mut extra = extra.to_vec();
    if !body.is_empty() {
        extra.push(("Content-Type", "application/sdp".into()));
    }
    let bytes = Reply::for_request(invite, Some("far")).render(status, "Reason", &extra, body.as_bytes());
    message::parse(&bytes).unwrap()
}

fn sent(uac: &mut Uac) -> Vec<Message> {
    std::iter::from_fn(|| uac.poll_transmit()).map(|b| message::parse(&b).unwrap()).collect()
}

fn events(uac: &mut Uac) -> Vec<UaEvent> {
    std::iter::from_fn(|| uac.poll_event()).collect()
}

fn method(m: &Message) -> &str {
    m.method().unwrap_or("response")
}

#[test]
fn invite_carries_caller_id_offer_and_retransmits_until_a_provisional() {
    let (mut uac, t0, invite) = start(None);
    assert!(matches!(&invite.start, message::StartLine::Request { uri, .. } if uri == "sip:+15550100001@trunk.example"));
    assert!(invite.header("From").unwrap().starts_with("\"Demo Practice\" <sip:+15550100000@trunk.example>;tag="), "{:?}", invite.header("From"));
    let offer = std::str::from_utf8(&invite.body).unwrap();
    assert!(offer.contains("m=audio 40000 RTP/AVP 0 8 101") && offer.contains("telephone-event/8000"), "PCMU, PCMA and telephone-event: {offer}");
    uac.on_timeout(t0 + Duration::from_millis(500));
    assert_eq!(sent(&mut uac).iter().map(method).collect::<Vec<_>>(), ["INVITE"], "Timer A");
    uac.on_response(&respond(&invite, 100, &[], ""), t0 + Duration::from_millis(600));
    assert_eq!(uac.poll_timeout(), None, "a provisional stops the retransmissions");
}

#[test]
fn answered_call_is_acked_from_the_dialog_and_ends_with_bye() {
    let (mut uac, t0, invite) = start(None);
    let contact = [("Contact", "<sip:phone@127.0.0.1:5091>".to_string()), ("Record-Route", "<sip:p1;lr>, <sip:p2;lr>".to_string())];
    uac.on_response(&respond(&invite, 180, &contact, ""), t0);
    assert_eq!(events(&mut uac), vec![UaEvent::Progress { call: CallId("out-1@chartline".into()), status: 180 }]);
    let ok = respond(&invite, 200, &contact, ANSWER);
    uac.on_response(&ok, t0);
    let acks = sent(&mut uac);
    assert_eq!(acks.len(), 1);
    let ack = &acks[0];
    assert!(matches!(&ack.start, message::StartLine::Request { method, uri } if method == "ACK" && uri == "sip:phone@127.0.0.1:5091"), "ACK to the Contact");
    assert_eq!((ack.cseq, ack.to_tag.as_deref()), (invite.cseq, Some("far")));
    assert_ne!(ack.branch, invite.branch, "the 2xx ACK is its own transaction");
    assert_eq!(ack.header_values("Route").collect::<Vec<_>>(), ["<sip:p2;lr>", "<sip:p1;lr>"], "route set reversed");
    assert!(matches!(&events(&mut uac)[..], [UaEvent::Answered { answer, .. }] if answer.audio_target().unwrap().port() == 7000));
    uac.on_response(&ok, t0 + Duration::from_millis(500));
    assert_eq!(sent(&mut uac).iter().map(method).collect::<Vec<_>>(), ["ACK"], "a retransmitted 200 is ACKed again");
    assert!(events(&mut uac).is_empty());

    uac.hangup(t0 + Duration::from_secs(10));
    let bye = sent(&mut uac).remove(0);
    assert_eq!((method(&bye), bye.cseq > invite.cseq, bye.to_tag.as_deref()), ("BYE", true, Some("far")));
    uac.on_response(&respond(&bye, 200, &[], ""), t0 + Duration::from_secs(10));
    assert!(uac.is_done(t0 + Duration::from_secs(60)));
}

#[test]
fn busy_is_acked_on_the_invite_transaction_and_reported() {
    let (mut uac, t0, invite) = start(None);
    uac.on_response(&respond(&invite, 486, &[], ""), t0);
    let ack = sent(&mut uac).remove(0);
    assert_eq!((method(&ack), ack.branch.as_str(), ack.cseq), ("ACK", invite.branch.as_str(), invite.cseq));
    assert_eq!(ack.to_tag.as_deref(), Some("far"));
    assert!(matches!(&events(&mut uac)[..], [UaEvent::DialFailed { status: 486, .. }]));
}

#[test]
fn proxy_challenge_is_answered_once_with_the_trunk_credentials() {
    let credentials = Credentials { username: "practice".into(), password: Secret::new("s3cret") };
    let (mut uac, t0, invite) = start(Some(credentials));
    let challenge = [("Proxy-Authenticate", "Digest realm=\"trunk\", nonce=\"abc\", qop=\"auth\"".to_string())];
    uac.on_response(&respond(&invite, 407, &challenge, ""), t0);
    let out = sent(&mut uac);
    assert_eq!(out.iter().map(method).collect::<Vec<_>>(), ["ACK", "INVITE"]);
    let again = &out[1];
    assert_eq!(again.cseq, invite.cseq + 1);
    assert_eq!(again.from_tag, invite.from_tag, "same call, same From tag");
    let auth = again.header("Proxy-Authorization").expect("credentials sent");
    assert!(auth.contains("username=\"practice\"") && auth.contains("realm=\"trunk\"") && auth.contains("qop=auth"), "{auth}");
    assert!(!auth.contains("s3cret"));
    uac.on_response(&respond(again, 407, &challenge, ""), t0);
    assert!(matches!(&events(&mut uac)[..], [UaEvent::DialFailed { status: 407, .. }]), "a second challenge fails the call");
}

#[test]
fn challenge_without_credentials_fails() {
    let (mut uac, t0, invite) = start(None);
    uac.on_response(&respond(&invite, 401, &[("WWW-Authenticate", "Digest realm=\"x\", nonce=\"n\"".into())], ""), t0);
    assert_eq!(sent(&mut uac).iter().map(method).collect::<Vec<_>>(), ["ACK"]);
    assert!(matches!(&events(&mut uac)[..], [UaEvent::DialFailed { status: 401, .. }]));
}

#[test]
fn hangup_while_ringing_cancels_and_the_487_is_acked() {
    let (mut uac, t0, invite) = start(None);
    uac.hangup(t0);
    assert!(sent(&mut uac).is_empty(), "no CANCEL before a provisional (RFC 3261 §9.1)");
    uac.on_response(&respond(&invite, 100, &[], ""), t0 + Duration::from_millis(100));
    let cancel = sent(&mut uac).remove(0);
    assert_eq!((method(&cancel), cancel.branch.as_str(), cancel.cseq, cancel.to_tag.as_deref()), ("CANCEL", invite.branch.as_str(), invite.cseq, None));
    uac.on_response(&respond(&cancel, 200, &[], ""), t0 + Duration::from_millis(200));
    uac.on_response(&respond(&invite, 487, &[], ""), t0 + Duration::from_millis(210));
    assert_eq!(sent(&mut uac).iter().map(method).collect::<Vec<_>>(), ["ACK"]);
    assert!(matches!(&events(&mut uac)[..], [UaEvent::DialFailed { status: 487, .. }]));
    assert!(uac.is_done(t0 + Duration::from_secs(40)));
}

#[test]
fn answer_racing_the_cancel_is_acked_and_hung_up() {
    let (mut uac, t0, invite) = start(None);
    uac.on_response(&respond(&invite, 180, &[], ""), t0);
    uac.hangup(t0);
    uac.on_response(&respond(&invite, 200, &[("Contact", "<sip:phone@127.0.0.1:5091>".into())], ANSWER), t0);
    let out = sent(&mut uac);
    assert_eq!(out.iter().map(method).collect::<Vec<_>>(), ["CANCEL", "ACK", "BYE"]);
    assert!(events(&mut uac).iter().any(|e| matches!(e, UaEvent::DialFailed { status: 487, .. })));
}

#[test]
fn no_response_at_all_fails_with_timer_b() {
    let (mut uac, t0, _) = start(None);
    let mut resent = 0;
    while let Some(at) = uac.poll_timeout() {
        uac.on_timeout(at);
        resent += sent(&mut uac).len();
        if at > t0 + Duration::from_secs(120) {
            break;
        }
    }
    assert_eq!(resent, 6, "500 ms, 1, 2, 4, 4, 4 ... within 32 s: {resent}");
    assert!(matches!(&events(&mut uac)[..], [UaEvent::DialFailed { status: 408, .. }]));
}

#[test]
fn remote_bye_ends_the_call() {
    let (mut uac, t0, invite) = start(None);
    uac.on_response(&respond(&invite, 200, &[("Contact", "<sip:phone@127.0.0.1:5091>".into())], ANSWER), t0);
    sent(&mut uac);
    events(&mut uac);
    let from = invite.header("From").unwrap();
    let bye = format!(
        "BYE sip:chartline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5091;branch=z9hG4bKbye\r\nFrom: <sip:+15550100001@trunk.example>;tag=far\r\nTo: {from}\r\nCall-ID: out-1@chartline\r\nCSeq: 9 BYE\r\nContent-Length: 0\r\n\r\n"
    );
    let reply = uac.on_request(&message::parse(bye.as_bytes()).unwrap(), t0 + Duration::from_secs(5));
    assert!(String::from_utf8(reply).unwrap().starts_with("SIP/2.0 200"));
    assert_eq!(events(&mut uac), vec![UaEvent::RemoteHangup { call: CallId("out-1@chartline".into()) }]);
    let stranger = bye.replace("tag=far", "tag=other");
    let reply = uac.on_request(&message::parse(stranger.as_bytes()).unwrap(), t0 + Duration::from_secs(5));
    assert!(String::from_utf8(reply).unwrap().starts_with("SIP/2.0 481"));
}

#[test]
fn endpoint_routes_dial_responses_and_remote_bye_to_the_outbound_leg() {
    use crate::sip::UaCommand;
    use crate::sip::endpoint::Endpoint;
    let t0 = Instant::now();
    let mut ep = Endpoint::new(Timers::default(), "127.0.0.1:5060".parse().unwrap());
    ep.handle_command(UaCommand::Dial(Box::new(request(None))), t0);
    let out = ep.poll_transmit().expect("INVITE");
    assert_eq!(out.dest, "127.0.0.1:5090".parse().unwrap());
    let invite = message::parse(&out.bytes).unwrap();
    assert_eq!(ep.live_dialogs(), 1);
    let ok = Reply::for_request(&invite, Some("far")).render(200, "OK", &[("Contact", "<sip:phone@127.0.0.1:5091>".into()), ("Content-Type", "application/sdp".into())], ANSWER.as_bytes());
    ep.handle_inbound(&ok, "127.0.0.1:5090".parse().unwrap(), Transport::Udp, t0);
    assert_eq!(message::parse(&ep.poll_transmit().unwrap().bytes).unwrap().method(), Some("ACK"));
    assert!(matches!(ep.poll_event(), Some(UaEvent::Answered { .. })));
    let from = invite.header("From").unwrap();
    let bye = format!(
        "BYE sip:chartline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5091;branch=z9hG4bKb1\r\nFrom: <sip:x@y>;tag=far\r\nTo: {from}\r\nCall-ID: out-1@chartline\r\nCSeq: 5 BYE\r\nContent-Length: 0\r\n\r\n"
    );
    ep.handle_inbound(bye.as_bytes(), "127.0.0.1:5091".parse().unwrap(), Transport::Udp, t0);
    let reply = ep.poll_transmit().unwrap();
    assert!(String::from_utf8(reply.bytes).unwrap().starts_with("SIP/2.0 200"));
    assert_eq!(reply.dest, "127.0.0.1:5091".parse().unwrap(), "the response goes where the BYE came from");
    assert_eq!(ep.poll_event(), Some(UaEvent::RemoteHangup { call: CallId("out-1@chartline".into()) }));
    assert_eq!(ep.live_dialogs(), 0);
    ep.handle_timeout(t0 + Duration::from_secs(40));
    assert_eq!(ep.poll_timeout(), None, "the ended leg is forgotten");
}

#[test]
fn over_tcp_the_invite_says_so_is_not_retransmitted_and_a_dead_connection_fails_at_once() {
    let t0 = Instant::now();
    let request = DialRequest { transport: Transport::Tcp, ..request(None) };
    let mut uac = Uac::start(request, "127.0.0.1:5060".parse().unwrap(), Timers::default(), t0);
    let invite = sent(&mut uac).remove(0);
    assert!(invite.header("Via").unwrap().starts_with("SIP/2.0/TCP 127.0.0.1:5060;"), "{:?}", invite.header("Via"));
    assert_eq!(invite.header("Contact"), Some("<sip:chartline@127.0.0.1:5060;transport=tcp>"));
    // No Timer A over a reliable transport: nothing until Timer B.
    let timeout = uac.poll_timeout().unwrap();
    assert_eq!(timeout, t0 + Timers::default().giveup());
    uac.transport_failed("connection refused", t0 + Duration::from_millis(5));
    match &events(&mut uac)[..] {
        [UaEvent::DialFailed { status: 503, reason, .. }] => assert!(reason.contains("connection refused"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(!uac.is_live());
}
