//! Digest challenges for new calls: the authenticator alone, then through the endpoint.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::*;
use crate::sip::endpoint::Endpoint;
use crate::sip::message;
use crate::sip::transaction::Timers;
use crate::sip::{Transport, UaEvent};

const PBX: &str = "127.0.0.1:5070";
const URI: &str = "sip:ivr@127.0.0.1:5060";

fn config() -> InboundAuthConfig {
    InboundAuthConfig { mode: AuthMode::Required, username: "pbx".into(), password: Secret::new("s3cret"), algorithms: vec!["SHA-256".into(), "MD5".into()], ..Default::default() }
}

fn invite_text(branch: &str, cseq: u32, authorization: Option<&str>) -> String {
    let auth = authorization.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
    format!(
        "INVITE {URI} SIP/2.0\r\nVia: SIP/2.0/UDP {PBX};branch=z9hG4bK-{branch}\r\nMax-Forwards: 70\r\nFrom: <sip:pbx@127.0.0.1>;tag=p\r\nTo: <{URI}>\r\nCall-ID: auth-1\r\nCSeq: {cseq} INVITE\r\nContact: <sip:pbx@{PBX}>\r\n{auth}Content-Length: 0\r\n\r\n"
    )
}

fn invite(authorization: Option<&str>) -> Message {
    message::parse(invite_text("a", 1, authorization).as_bytes()).unwrap()
}

fn source() -> IpAddr {
    PBX.parse::<SocketAddr>().unwrap().ip()
}

fn challenges(decision: Decision) -> Vec<String> {
    match decision {
        Decision::Challenge(values) => values,
        other => panic!("expected a challenge, got {other:?}"),
    }
}

/// What a PBX would answer to the first (strongest) challenge it can take.
fn answer(challenge_values: &[String], user: &str, password: &str, nc: u32) -> String {
    let challenge = Challenge::select(challenge_values.iter().map(String::as_str)).unwrap();
    challenge.authorization(&Credentials { username: user.into(), password: Secret::new(password) }, "INVITE", URI, "c0ffee", nc)
}

#[test]
fn an_invite_without_credentials_is_challenged_strongest_first() {
    let now = Instant::now();
    let mut auth = config().authenticator(now).unwrap().unwrap();
    let values = challenges(auth.check(&invite(None), source(), now));
    assert_eq!(values.len(), 2);
    assert!(values[0].starts_with("Digest realm=\"chartline\", nonce=\"") && values[0].contains("algorithm=SHA-256, qop=\"auth\""), "{values:?}");
    assert!(values[1].contains("algorithm=MD5"), "{values:?}");
    assert!(!values[0].contains("stale"), "{values:?}");
}

#[test]
fn a_right_answer_is_accepted_once_per_nonce_count() {
    let now = Instant::now();
    let mut auth = config().authenticator(now).unwrap().unwrap();
    let values = challenges(auth.check(&invite(None), source(), now));
    for algorithm in ["SHA-256", "MD5"] {
        let only: Vec<String> = values.iter().filter(|v| v.contains(&format!("algorithm={algorithm},"))).cloned().collect();
        let first = answer(&only, "pbx", "s3cret", if algorithm == "MD5" { 3 } else { 1 });
        assert_eq!(auth.check(&invite(Some(&first)), source(), now), Decision::Accept, "{algorithm}");
        // The same request again (a replay): a fresh challenge, not a call.
        challenges(auth.check(&invite(Some(&first)), source(), now));
    }
    // A higher count on the same nonce is the PBX's next call.
    let next = answer(&values, "pbx", "s3cret", 4);
    assert_eq!(auth.check(&invite(Some(&next)), source(), now + Duration::from_secs(1)), Decision::Accept);
    assert_eq!(auth.rejected(), 0);
}

#[test]
fn wrong_answers_get_403_then_the_source_is_ignored_for_the_ban() {
    let now = Instant::now();
    let mut auth = InboundAuthConfig { max_failures: 3, ban_s: 60, ..config() }.authenticator(now).unwrap().unwrap();
    let values = challenges(auth.check(&invite(None), source(), now));
    for (n, user, password) in [(1, "pbx", "guess"), (2, "root", "s3cret")] {
        assert_eq!(auth.check(&invite(Some(&answer(&values, user, password, n))), source(), now), Decision::Forbidden);
    }
    // A good answer resets the count of wrong ones.
    assert_eq!(auth.check(&invite(Some(&answer(&values, "pbx", "s3cret", 3))), source(), now), Decision::Accept);
    for n in 4..7 {
        assert_eq!(auth.check(&invite(Some(&answer(&values, "pbx", "nope", n))), source(), now), Decision::Forbidden);
    }
    let later = now + Duration::from_secs(59);
    assert_eq!(auth.check(&invite(None), source(), later), Decision::Drop, "banned: not even challenged");
    assert_eq!(auth.check(&invite(Some(&answer(&values, "pbx", "s3cret", 9))), source(), later), Decision::Drop, "banned: even the right password");
    let other: IpAddr = "127.0.0.9".parse().unwrap();
    challenges(auth.check(&invite(None), other, later));
    let after = now + Duration::from_secs(61);
    let fresh = challenges(auth.check(&invite(None), source(), after));
    assert_eq!(auth.check(&invite(Some(&answer(&fresh, "pbx", "s3cret", 1))), source(), after), Decision::Accept);
    assert_eq!(auth.rejected(), 7);
}

#[test]
fn an_old_nonce_with_the_right_password_is_rechallenged_as_stale() {
    let now = Instant::now();
    let mut auth = InboundAuthConfig { nonce_lifetime_s: 30, ..config() }.authenticator(now).unwrap().unwrap();
    let values = challenges(auth.check(&invite(None), source(), now));
    let late = now + Duration::from_secs(31);
    let again = challenges(auth.check(&invite(Some(&answer(&values, "pbx", "s3cret", 1))), source(), late));
    assert!(again.iter().all(|v| v.ends_with(", stale=true")), "{again:?}");
    // A wrong password on an old nonce is simply wrong.
    assert_eq!(auth.check(&invite(Some(&answer(&values, "pbx", "x", 2))), source(), late), Decision::Forbidden);
    assert_eq!(auth.check(&invite(Some(&answer(&again, "pbx", "s3cret", 1))), source(), late), Decision::Accept);
}

#[test]
fn nonces_of_another_source_or_an_earlier_start_are_not_ours() {
    let now = Instant::now();
    let mut auth = config().authenticator(now).unwrap().unwrap();
    let other: IpAddr = "127.0.0.7".parse().unwrap();
    let theirs = challenges(auth.check(&invite(None), other, now));
    challenges(auth.check(&invite(Some(&answer(&theirs, "pbx", "s3cret", 1))), source(), now));
    let mut restarted = config().authenticator(now).unwrap().unwrap();
    let before_restart = challenges(auth.check(&invite(None), source(), now));
    let decision = restarted.check(&invite(Some(&answer(&before_restart, "pbx", "s3cret", 1))), source(), now);
    assert!(!challenges(decision)[0].contains("stale"));
    assert_eq!(auth.rejected() + restarted.rejected(), 0, "an unknown nonce is no wrong answer");
}

#[test]
fn unreadable_credentials_get_400() {
    let now = Instant::now();
    let mut auth = config().authenticator(now).unwrap().unwrap();
    let values = challenges(auth.check(&invite(None), source(), now));
    let good = answer(&values, "pbx", "s3cret", 1);
    let other_host = good.replace(&format!("uri=\"{URI}\""), "uri=\"sip:ivr@10.1.1.1:5060\"");
    assert_eq!(auth.check(&invite(Some(&other_host)), source(), now), Decision::BadRequest("Authorization uri names another host than the Request-URI"));
    assert!(matches!(auth.check(&invite(Some("Digest realm=\"chartline\", nonce=\"x")), source(), now), Decision::BadRequest(_)));
    let no_response = good.split(", response=").next().unwrap().to_string();
    assert!(matches!(auth.check(&invite(Some(&no_response)), source(), now), Decision::BadRequest(_)));
    // Another realm's credentials are not ours: a challenge for ours.
    challenges(auth.check(&invite(Some(&good.replace("realm=\"chartline\"", "realm=\"elsewhere\""))), source(), now));
    // Without qop (RFC 2069) there is no replay protection: refused.
    let challenge = Challenge { qop_auth: false, ..Challenge::select(values.iter().map(String::as_str)).unwrap() };
    let no_qop = challenge.authorization(&Credentials { username: "pbx".into(), password: Secret::new("s3cret") }, "INVITE", URI, "c", 1);
    assert_eq!(auth.check(&invite(Some(&no_qop)), source(), now), Decision::Forbidden);
}

#[test]
fn an_answer_whose_uri_lacks_the_user_part_is_taken() {
    // SIPp 3.6.1 answers with uri="sip:<host>:<port>" for a Request-URI of sip:ivr@<host>:<port>.
    let now = Instant::now();
    let mut auth = config().authenticator(now).unwrap().unwrap();
    let values = challenges(auth.check(&invite(None), source(), now));
    let challenge = Challenge::select(values.iter().map(String::as_str)).unwrap();
    let answer = challenge.authorization(&Credentials { username: "pbx".into(), password: Secret::new("s3cret") }, "INVITE", "sip:127.0.0.1:5060;transport=udp", "c", 1);
    assert_eq!(auth.check(&invite(Some(&answer)), source(), now), Decision::Accept);
    assert_eq!(uri_host("sips:Ivr@HOST.example:5061;transport=tls?x=y"), "host.example:5061");
}

#[test]
fn an_exempt_source_needs_no_credentials() {
    let now = Instant::now();
    let mut auth = config().authenticator(now).unwrap().unwrap();
    auth.exempt(source());
    assert_eq!(auth.check(&invite(None), source(), now), Decision::Accept);
}

#[test]
fn configuration_errors_name_the_key() {
    let key = |c: InboundAuthConfig| c.validate().unwrap_err().0;
    assert_eq!(InboundAuthConfig::default().algorithms, ["MD5"], "what PBXes and softphones answer");
    assert!(InboundAuthConfig::default().validate().is_ok(), "off needs no account");
    assert!(InboundAuthConfig::default().authenticator(Instant::now()).unwrap().is_none());
    assert_eq!(key(InboundAuthConfig { username: String::new(), ..config() }), "username");
    assert_eq!(key(InboundAuthConfig { password: Secret::default(), ..config() }), "password");
    assert_eq!(key(InboundAuthConfig { password_env: "CHARTLINE_TEST_UNSET_VARIABLE".into(), password: Secret::default(), ..config() }), "password_env");
    assert_eq!(key(InboundAuthConfig { password_file: "/nonexistent/pw".into(), password: Secret::default(), ..config() }), "password_file");
    assert_eq!(key(InboundAuthConfig { algorithms: vec!["SHA-512".into()], ..config() }), "algorithms");
    assert_eq!(key(InboundAuthConfig { algorithms: vec![], ..config() }), "algorithms");
    assert_eq!(key(InboundAuthConfig { realm: "a\"b".into(), ..config() }), "realm");
    assert_eq!(key(InboundAuthConfig { nonce_lifetime_s: 0, ..config() }), "nonce_lifetime_s");
    assert_eq!(key(InboundAuthConfig { max_failures: 0, ..config() }), "max_failures");
}

fn drain(ep: &mut Endpoint) -> Vec<String> {
    std::iter::from_fn(|| ep.poll_transmit()).map(|t| String::from_utf8(t.bytes).unwrap()).collect()
}

#[test]
fn the_endpoint_offers_only_authenticated_calls_to_the_application() {
    let now = Instant::now();
    let mut ep = Endpoint::new(Timers::default(), "127.0.0.1:5060".parse().unwrap());
    ep.set_inbound_auth(config().authenticator(now).unwrap().unwrap());
    let pbx: SocketAddr = PBX.parse().unwrap();
    ep.handle_inbound(invite_text("a", 1, None).as_bytes(), pbx, Transport::Udp, now);
    let sent = drain(&mut ep);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].starts_with("SIP/2.0 401 Unauthorized\r\n"), "{}", sent[0]);
    assert!(ep.poll_event().is_none() && ep.live_dialogs() == 0, "no call before credentials");
    let values: Vec<String> = message::parse(sent[0].as_bytes()).unwrap().header_values("WWW-Authenticate").map(String::from).collect();
    assert_eq!(values.len(), 2);
    // The ACK for the 401 is absorbed; the retried INVITE (new branch, next CSeq) is a call.
    ep.handle_inbound(invite_text("a", 1, None).replace("INVITE sip", "ACK sip").replace("1 INVITE", "1 ACK").as_bytes(), pbx, Transport::Udp, now);
    assert!(drain(&mut ep).is_empty());
    let retried = invite_text("b", 2, Some(&answer(&values, "pbx", "s3cret", 1)));
    ep.handle_inbound(retried.as_bytes(), pbx, Transport::Udp, now);
    assert!(drain(&mut ep)[0].starts_with("SIP/2.0 100 Trying"));
    assert!(matches!(ep.poll_event(), Some(UaEvent::IncomingCall { .. })));
    // A wrong password gets 403 and is counted.
    let wrong = invite_text("c", 1, Some(&answer(&values, "pbx", "bad", 2))).replace("auth-1", "auth-2");
    ep.handle_inbound(wrong.as_bytes(), pbx, Transport::Udp, now);
    assert!(drain(&mut ep)[0].starts_with("SIP/2.0 403 Forbidden"));
    assert_eq!(ep.auth_rejected_calls(), 1);
    // OPTIONS are not challenged (monitoring and keepalives).
    let options = invite_text("d", 1, None).replace("INVITE sip", "OPTIONS sip").replace("1 INVITE", "1 OPTIONS").replace("auth-1", "auth-3");
    ep.handle_inbound(options.as_bytes(), pbx, Transport::Udp, now);
    assert!(drain(&mut ep)[0].starts_with("SIP/2.0 200 OK"));
}
