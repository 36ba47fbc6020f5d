//! The endpoint with a source ACL and a trunk: who gets served, and responses routed to the trunk.

use std::time::{Duration, Instant};

use super::*;
use crate::sip::acl::Unlisted;
use crate::sip::auth::{Credentials, Secret};
use crate::sip::trunk::TrunkParams;

fn invite(from: &str) -> Vec<u8> {
    format!(
        "INVITE sip:ivr@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bK-acl\r\nMax-Forwards: 70\r\nFrom: <sip:x@{from}>;tag=r\r\nTo: <sip:ivr@127.0.0.1>\r\nCall-ID: acl-1\r\nCSeq: 1 INVITE\r\nContact: <sip:x@{from}>\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn endpoint(unlisted: Unlisted) -> Endpoint {
    let mut ep = Endpoint::new(Timers::default(), "127.0.0.1:5060".parse().unwrap());
    ep.set_acl(Acl::parse(&["127.0.0.1/32".to_string()], unlisted).unwrap());
    ep
}

fn drain(ep: &mut Endpoint) -> Vec<(SocketAddr, String)> {
    std::iter::from_fn(|| ep.poll_transmit()).map(|t| (t.dest, String::from_utf8(t.bytes).unwrap())).collect()
}

#[test]
fn unlisted_invite_gets_a_stateless_403_and_no_call() {
    let mut ep = endpoint(Unlisted::Reject);
    let now = Instant::now();
    let intruder: SocketAddr = "127.0.0.2:5070".parse().unwrap();
    ep.handle_inbound(&invite("127.0.0.2:5070"), intruder, Transport::Udp, now);
    let sent = drain(&mut ep);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, intruder);
    assert!(sent[0].1.starts_with("SIP/2.0 403 Forbidden\r\n"), "{}", sent[0].1);
    assert!(ep.poll_event().is_none(), "the application never hears of it");
    assert_eq!(ep.live_dialogs(), 0);
    assert_eq!(ep.denied_requests(), 1);
    let ack = String::from_utf8(invite("127.0.0.2:5070")).unwrap().replace("INVITE sip", "ACK sip").replace("1 INVITE", "1 ACK");
    ep.handle_inbound(ack.as_bytes(), intruder, Transport::Udp, now);
    assert!(drain(&mut ep).is_empty(), "an ACK is never answered");
    ep.handle_inbound(b"garbage", intruder, Transport::Udp, now);
    assert!(drain(&mut ep).is_empty(), "nor is garbage from an unlisted source");
    // The listed source is served as before.
    ep.handle_inbound(&invite("127.0.0.1:5070"), "127.0.0.1:5070".parse().unwrap(), Transport::Udp, now);
    assert!(drain(&mut ep)[0].1.starts_with("SIP/2.0 100 Trying"));
    assert!(matches!(ep.poll_event(), Some(UaEvent::IncomingCall { .. })));
}

#[test]
fn drop_mode_answers_nothing() {
    let mut ep = endpoint(Unlisted::Drop);
    ep.handle_inbound(&invite("10.9.9.9:5060"), "10.9.9.9:5060".parse().unwrap(), Transport::Udp, Instant::now());
    assert!(drain(&mut ep).is_empty());
    assert!(ep.poll_event().is_none());
    assert_eq!(ep.denied_requests(), 1);
}

#[test]
fn trunk_server_is_trusted_and_its_responses_reach_the_trunk() {
    let now = Instant::now();
    let server: SocketAddr = "192.0.2.10:5060".parse().unwrap();
    let mut ep = endpoint(Unlisted::Drop);
    let params = TrunkParams {
        server,
        domain: "provider.example".into(),
        username: "clinic".into(),
        credentials: Some(Credentials { username: "clinic".into(), password: Secret::new("pw") }),
        register: true,
        expires: Duration::from_secs(600),
        keepalive: None,
        local: "127.0.0.1:5060".parse().unwrap(),
        timers: Timers::default(),
        transport: Transport::Udp,
        host: String::new(),
    };
    ep.set_trunk(Trunk::new(params, now));
    assert_eq!(ep.poll_timeout(), Some(now), "the first REGISTER is due");
    ep.handle_timeout(now);
    let sent = drain(&mut ep);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, server);
    let register = message::parse(sent[0].1.as_bytes()).unwrap();
    let ok = Reply::for_request(&register, Some("t")).render(200, "OK", &[("Expires", "600".into())], b"");
    ep.handle_inbound(&ok, server, Transport::Udp, now);
    assert_eq!(ep.trunk_status().map(|s| s.registered), Some(true));
    assert_eq!(ep.denied_requests(), 0, "the registrar's address was added to the ACL");
    // The same response from an unlisted address does not count.
    let mut other = endpoint(Unlisted::Drop);
    other.handle_inbound(&ok, server, Transport::Udp, now);
    assert_eq!(other.denied_requests(), 1);
}
