//! The fuzz entry points: one function per target, taking the fuzzer's bytes and driving the same
//! public functions the server uses on untrusted input. Shared by the cargo-fuzz targets
//! (`fuzz/fuzz_targets/*.rs`) and by the regression test at the root (`tests/sip_faults_fuzz_corpus.rs`),
//! which replays every file of `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` through
//! them. A panic (or a failed invariant below) is a finding.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use chartline::media::dtmf::{DtmfMerger, DtmfMethod, GoertzelDetector, Rfc4733Detector, TelephoneEvent};
use chartline::media::jitter::{JitterBuffer, MAX_WAITING, Packet};
use chartline::media::{g711, rtcp, session};
use chartline::sip::auth::Secret;
use chartline::sip::inbound_auth::{AuthMode, Decision, InboundAuthConfig};
use chartline::sip::message::{self, Reply};
use chartline::sip::sdp::{self, MediaCaps, Sdp};
use chartline::sip::transaction::Timers;
use chartline::sip::transport::Framer;
use chartline::sip::{Endpoint, Transport, UaCommand, UaEvent};
use chrono::{Datelike, NaiveDate};

/// A fuzz entry point.
pub type Entry = fn(&[u8]);

/// Every target by name, for the replay test.
pub const TARGETS: &[(&str, Entry)] =
    &[("sip_message", sip_message), ("sip_endpoint", sip_endpoint), ("sdp", sdp), ("rtp", rtp), ("rtcp", rtcp), ("rfc4733", rfc4733), ("spoken_date", spoken_date), ("triage", triage)];

/// Messages in one input are separated by this (so a corpus file can hold a whole exchange).
const SEPARATOR: &[u8] = b"\n--next--\n";

fn split_messages(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(at) = rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
        out.push(&rest[..at]);
        rest = &rest[at + SEPARATOR.len()..];
    }
    out.push(rest);
    out.truncate(16);
    out
}

/// Where a `sip_message` input names this, the nonce the digest authenticator just issued goes in:
/// so the fuzzer reaches the checks behind a valid nonce (qop, nc, response, replay).
const NONCE_MARK: &[u8] = b"@NONCE@";

/// SIP messages: the parser (and the reply rendered from what it accepted), the digest
/// authenticator judging it as a new call, and the stream framer, whole and cut in two.
pub fn sip_message(data: &[u8]) {
    if let Ok(m) = message::parse(data) {
        assert!(!m.call_id.is_empty() && !m.branch.is_empty(), "a parsed message has a Call-ID and a branch");
        if m.method().is_some() {
            let _ = Reply::for_request(&m, Some("fz")).render(486, "Busy Here", &[], b"");
        }
    }
    digest_answer(data);
    let mut whole = Framer::default();
    whole.push(data);
    let mut framed = Vec::new();
    while let Ok(Some(message)) = whole.next_message() {
        assert!(message.len() <= message::MAX_MESSAGE);
        framed.push(message);
    }
    let mut split = Framer::default();
    let half = data.len() / 2;
    split.push(&data[..half]);
    let mut again = Vec::new();
    while let Ok(Some(message)) = split.next_message() {
        again.push(message);
    }
    split.push(&data[half..]);
    while let Ok(Some(message)) = split.next_message() {
        again.push(message);
    }
    assert_eq!(framed, again, "framing does not depend on where the stream was cut");
}

fn digest_answer(data: &[u8]) {
    let now = Instant::now();
    let config = InboundAuthConfig { mode: AuthMode::Required, username: "pbx".into(), password: Secret::new("pw"), algorithms: vec!["SHA-256".into(), "MD5".into()], ..Default::default() };
    let mut auth = config.authenticator(now).unwrap().expect("required");
    let source = "127.0.0.1".parse().unwrap();
    let probe = message::parse(b"INVITE sip:ivr@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-n\r\nFrom: <sip:p@x>;tag=1\r\nTo: <sip:ivr@127.0.0.1>\r\nCall-ID: n\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n").unwrap();
    let Decision::Challenge(challenges) = auth.check(&probe, source, now) else { panic!("no challenge without credentials") };
    let nonce = challenges[0].split("nonce=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap().as_bytes().to_vec();
    let mut text = Vec::with_capacity(data.len() + nonce.len());
    let mut rest = data;
    while let Some(at) = rest.windows(NONCE_MARK.len()).position(|w| w == NONCE_MARK) {
        text.extend_from_slice(&rest[..at]);
        text.extend_from_slice(&nonce);
        rest = &rest[at + NONCE_MARK.len()..];
    }
    text.extend_from_slice(rest);
    if let Ok(m) = message::parse(&text) {
        let first = auth.check(&m, source, now);
        if first == Decision::Accept {
            assert!(m.header_values("Authorization").any(|a| a.contains("pbx")), "accepted without our user name");
            assert_ne!(auth.check(&m, source, now), Decision::Accept, "the same nonce count twice");
        }
    }
}

/// The user-agent core fed the messages of one input in order (separated by `\n--next--\n`),
/// answering, ringing, rejecting or hanging up each new call depending on its Call-ID, then running
/// its timers on simulated time. Slower than the parser alone (a whole endpoint per input).
pub fn sip_endpoint(data: &[u8]) {
    let local: SocketAddr = "127.0.0.1:5060".parse().unwrap();
    let source: SocketAddr = "127.0.0.1:5070".parse().unwrap();
    let start = Instant::now();
    let mut endpoint = Endpoint::new(Timers::default(), local);
    for (i, bytes) in split_messages(data).into_iter().enumerate() {
        let now = start + Duration::from_millis(100 * i as u64);
        let transport = if i % 2 == 0 { Transport::Udp } else { Transport::Tcp };
        endpoint.handle_inbound(bytes, source, transport, now);
        while let Some(event) = endpoint.poll_event() {
            if let UaEvent::IncomingCall { call, offer, .. } = event {
                let command = match call.0.len() % 4 {
                    0 => UaCommand::Ringing { call },
                    1 => UaCommand::Reject { call, status: 486, reason: "Busy Here".into(), warning: Some("fuzz \"q\"".into()), retry_after: Some(5) },
                    2 => UaCommand::Hangup { call },
                    _ => {
                        let answer = offer
                            .and_then(|offer| sdp::negotiate(&offer, &MediaCaps::default(), local, 1).ok())
                            .map(|n| (n.answer, false))
                            .unwrap_or_else(|| (sdp::make_offer(&MediaCaps::default(), local, 1), true));
                        UaCommand::Answer { call, sdp: answer.0, offerless: answer.1 }
                    }
                };
                endpoint.handle_command(command, now);
            }
        }
        // The TCP connection drops now and then: its calls move to their Contact, and a failed
        // reconnection is reported back.
        if i % 4 == 3 {
            endpoint.connection_closed(source, Transport::Tcp);
            while let Some(transmit) = endpoint.poll_transmit() {
                if transmit.transport != Transport::Udp && endpoint.outbound_target(transmit.dest, transmit.transport).is_some() {
                    endpoint.handle_transport_error(transmit.dest, transmit.transport, "fuzz", now);
                }
            }
        }
        while endpoint.poll_transmit().is_some() {}
    }
    let mut now = start;
    for _ in 0..64 {
        let Some(due) = endpoint.poll_timeout() else { break };
        now = due.max(now);
        endpoint.handle_timeout(now);
        while endpoint.poll_transmit().is_some() {}
        while endpoint.poll_event().is_some() {}
    }
    // Every leg ends: calls were hung up, rejected or are still ringing; 64 rounds of timers
    // (with the 32 s timers B/H) are not always enough for a ringing call, so no assertion here;
    // the live-dialog check is in tests/resource_bounds.rs.
}

/// SDP: the parser, offer/answer both ways, and our own rendering, which must parse again.
pub fn sdp(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(offer) = Sdp::parse(text) else { return };
    let local: SocketAddr = "127.0.0.1:20000".parse().unwrap();
    let _ = offer.audio_target();
    let _ = offer.audio_direction();
    if let Ok(negotiated) = sdp::negotiate(&offer, &MediaCaps::default(), local, 7) {
        let rendered = negotiated.answer.to_string();
        let reparsed = Sdp::parse(&rendered).unwrap_or_else(|e| panic!("our answer does not parse: {e}\n{rendered}"));
        assert_eq!(reparsed.audio_target().ok(), Some(local));
        let _ = sdp::with_direction(&negotiated.answer, offer.audio_direction().answer_to());
        // The same offer again as a re-INVITE: the same answer, version unchanged.
        let again = sdp::renegotiate(&offer, &negotiated.answer).expect("an offer we answered once is answered again");
        assert_eq!(again.answer, negotiated.answer);
    }
    let ours = sdp::make_offer(&MediaCaps::default(), local, 9);
    let _ = sdp::accept_answer(&ours, &offer);
    // The input as a re-offer on a call that has our offer as its SDP; the answer keeps our address.
    if let Ok(renegotiated) = sdp::renegotiate(&offer, &ours) {
        assert_eq!(renegotiated.answer.audio_target().ok(), Some(local));
        assert_eq!(renegotiated.answer.session_id, ours.session_id);
    }
    let _ = Sdp::parse(&offer.to_string());
}

/// RTP: the datagram parser, then the input read as a stream of packets (6-byte records:
/// SSRC choice, sequence number, time step, payload size) through one jitter buffer on simulated
/// time, whose size must stay bounded.
pub fn rtp(data: &[u8]) {
    if let Some(packet) = session::parse_rtp(data) {
        assert_eq!(packet.header.version, 2);
        let mut detector = Rfc4733Detector::default();
        let _ = detector.push(packet.header.timestamp, &packet.payload);
        let _: Vec<i16> = packet.payload.iter().map(|&b| g711::ulaw_to_linear(b)).collect();
    }
    let depth = 20 * u32::from(data.first().copied().unwrap_or(3) % 16);
    let mut jitter = JitterBuffer::new(depth, 20);
    let mut now = Instant::now();
    for record in data.chunks_exact(6) {
        let seq = u16::from_be_bytes([record[1], record[2]]);
        now += Duration::from_millis(u64::from(record[3] % 64));
        let packet = Packet { seq, timestamp: u32::from(seq) * 160, payload_type: 0, marker: record[5] & 1 == 1, payload: vec![0; usize::from(record[4])] };
        jitter.push(u32::from(record[0] % 3), packet, now);
        assert!(jitter.waiting() <= MAX_WAITING.max((depth / 20).max(1) as usize), "jitter buffer grew to {}", jitter.waiting());
        if record[5] & 2 == 2 {
            while jitter.pop(now).is_some() {}
        }
    }
    let _ = jitter.poll_timeout();
}

/// RTCP: the compound parser, what the media task does with what it accepts (the caller's sender
/// report echoed in our block, report blocks about our stream), our own report with a block the
/// input carried parsing back to that block, and the reception statistics fed 7-byte packet
/// records (SSRC, sequence number, timestamp step, arrival jitter).
pub fn rtcp(data: &[u8]) {
    let now = Instant::now();
    if let Ok(packets) = rtcp::parse_compound(data) {
        assert!(!packets.is_empty());
        let mut reception = rtcp::Reception::default();
        let mut far_end = rtcp::FarEnd::default();
        let mut blocks = Vec::new();
        for packet in packets {
            match packet {
                rtcp::Packet::SenderReport { ssrc, ntp, reports, .. } => {
                    reception.on_packet(ssrc, 1, None);
                    reception.on_sender_report(ssrc, ntp, now);
                    assert!(reception.report_block(now + Duration::from_secs(1)).is_some_and(|b| b.last_sr == rtcp::ntp_middle(ntp)));
                    blocks.extend(reports);
                }
                rtcp::Packet::ReceiverReport { reports, .. } => blocks.extend(reports),
                rtcp::Packet::Bye { .. } | rtcp::Packet::Other { .. } => {}
            }
        }
        for block in &blocks {
            far_end.on_block(block, block.ssrc, u64::from(block.last_sr) << 16);
        }
        assert_eq!(far_end.reports as usize, blocks.len());
        if let Some(first) = blocks.first() {
            let ours = rtcp::sender_report(1, 2, 3, 4, 5, Some(*first), "fz");
            let back = rtcp::parse_compound(&ours).expect("our own report parses");
            assert!(matches!(&back[0], rtcp::Packet::SenderReport { reports, .. } if reports == &[*first]), "{first:?} -> {back:?}");
        }
    }
    let mut reception = rtcp::Reception::default();
    let (mut timestamp, mut arrival) = (0u32, 0u32);
    for record in data.chunks_exact(7) {
        let seq = u16::from_be_bytes([record[1], record[2]]);
        timestamp = timestamp.wrapping_add(u32::from(u16::from_be_bytes([record[3], record[4]])));
        arrival = arrival.wrapping_add(160).wrapping_add(u32::from(record[5]));
        reception.on_packet(u32::from(record[0] % 3), seq, (record[6] & 1 == 0).then_some((timestamp, arrival)));
        if record[6] & 2 == 2 {
            let block = reception.report_block(now).expect("a packet was heard");
            assert!((-0x80_0000..=0x7f_ffff).contains(&block.cumulative_lost));
        }
    }
}

/// RFC 4733 events (the payload parser and the once-per-press detector, 4-byte events with a
/// timestamp per record), in-band DTMF (the bytes as 16-bit samples through Goertzel) and the
/// merger of both.
pub fn rfc4733(data: &[u8]) {
    let _ = TelephoneEvent::parse(data).map(|e| e.digit());
    let mut detector = Rfc4733Detector::default();
    let mut merger = DtmfMerger::default();
    let start = Instant::now();
    for (i, record) in data.chunks(6).enumerate() {
        let timestamp = u32::from(record[0]) * 160;
        if let Some(digit) = detector.push(timestamp, &record[1.min(record.len())..]) {
            assert!(chartline::media::dtmf::DIGITS.contains(&(digit as u8)));
            let _ = merger.push(digit, DtmfMethod::Rfc4733, start + Duration::from_millis(20 * i as u64));
        }
    }
    let samples: Vec<i16> = data.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
    let mut goertzel = GoertzelDetector::default();
    for (i, frame) in samples.chunks(160).enumerate() {
        if let Some(digit) = goertzel.push(frame) {
            let _ = merger.push(digit, DtmfMethod::Inband, start + Duration::from_millis(20 * i as u64));
        }
    }
    let mut frame = Vec::with_capacity(160);
    for &byte in data.iter().take(8000) {
        frame.push(g711::alaw_to_linear(byte));
        if frame.len() == 160 {
            let _ = goertzel.push(&frame);
            frame.clear();
        }
    }
}

/// Spoken and keyed dates of birth: any text (lossy UTF-8); an accepted date is a real past date
/// from 1900 on.
pub fn spoken_date(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    if let Ok(date) = chartline::speech::dates::parse_date(&text, today) {
        assert!(date <= today && date.year() >= 1900, "{text:?} gave {date}");
    }
    if let Ok(date) = chartline::ivr::keypad_date::parse_keypad_date(&text, today) {
        assert!(date <= today, "{text:?} gave {date}");
    }
    let _ = chartline::schedule::spoken::parse_choice(&text, today);
}

/// Triage: the embedded rules on any text, the spoken yes/no and menu answers, and the
/// medication matcher.
pub fn triage(data: &[u8]) {
    static TRIAGE: OnceLock<chartline::triage::Triage> = OnceLock::new();
    let triage = TRIAGE.get_or_init(|| chartline::triage::Triage::embedded().expect("embedded rules"));
    let text = String::from_utf8_lossy(data);
    let classification = triage.classify(&text);
    let _ = classification.is_emergency();
    let _ = classification.red_flag_ids();
    let _ = chartline::triage::answer::yes_no(&text);
    let _ = chartline::triage::answer::menu_choice(&text, &["refill", "appointment", "something else"]);
    let _ = triage.match_medication(&text, &["lisinopril", "metformin", "atorvastatin"]);
}
