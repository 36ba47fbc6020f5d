//! SRTP (SDES) end to end. On the wire: a client over TLS offers RTP/SAVP with its key, and every
//! RTP packet Chartline sends is checked to be encrypted and authenticated under the key of the
//! answer (and SRTP from the client is understood). With a real softphone: baresip calls over TLS
//! with `srtp-mand`, types its date of birth as RFC 4733 inside SRTP and speaks a message; the
//! record and the recording must hold them.

mod baresip_support;
mod common;
mod sip_tls_support;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use baresip_support::{Baresip, billing_message_call, microphone_wav};
use chartline::media::srtp::SrtpSession;
use chartline::sip::sdes::{Crypto, CryptoSuite, SrtpKeys, crypto_lines};
use common::*;
use sip_tls_support::*;

fn tls_extra(tls_port: u16, media: &str) -> String {
    format!("[sip.tls]\nenabled = true\nlisten = \"127.0.0.1:{tls_port}\"\n\n[media]\n{media}\n")
}

fn invite(client: &TlsSipClient, tls_port: u16, call_id: &str, rtp_port: u16, profile: &str, crypto: &str) -> String {
    let sdp = format!("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {rtp_port} {profile} 0\r\na=rtpmap:0 PCMU/8000\r\na={crypto}\r\na=ptime:20\r\n");
    format!(
        "INVITE sips:ivr@127.0.0.1:{tls_port} SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch=z9hG4bK-{call_id}\r\nMax-Forwards: 70\r\nFrom: <sip:pbx@127.0.0.1>;tag=f-{call_id}\r\nTo: <sips:ivr@127.0.0.1:{tls_port}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sips:pbx@{local}>\r\nContent-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{sdp}",
        local = client.local,
        len = sdp.len()
    )
}

fn request(method: &str, client: &TlsSipClient, tls_port: u16, call_id: &str, to_tag: &str, cseq: u32) -> String {
    format!(
        "{method} sips:chartline@127.0.0.1:{tls_port} SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch=z9hG4bK-{method}-{call_id}\r\nMax-Forwards: 70\r\nFrom: <sip:pbx@127.0.0.1>;tag=f-{call_id}\r\nTo: <sips:ivr@127.0.0.1:{tls_port}>;tag={to_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n",
        local = client.local
    )
}

#[test]
fn rtp_on_the_wire_is_srtp_under_the_answered_key() {
    let tls_port = free_port();
    let server = Server::start_sip_only(&tls_extra(tls_port, ""));
    let cert = server.data_dir().join("sip/cert.pem");
    let mut client = TlsSipClient::connect(tls_port, &cert).unwrap();
    let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
    rtp.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let our_master: [u8; 30] = std::array::from_fn(|i| i as u8 * 7 + 1);
    let ours = Crypto::ours(3, CryptoSuite::AesCm128HmacSha1_80, &our_master);
    client.send(&invite(&client, tls_port, "srtp-wire", rtp.local_addr().unwrap().port(), "RTP/SAVP", &ours.attribute()));
    let answer = client.receive_until("SIP/2.0 200", Duration::from_secs(10));
    let sdp = chartline::sip::Sdp::parse(body(&answer)).unwrap();
    assert_eq!(sdp.media[0].protocol, "RTP/SAVP", "{answer}");
    let lines = crypto_lines(&sdp.media[0].other_attributes);
    assert_eq!(lines.len(), 1, "{answer}");
    assert_eq!(lines[0].tag, 3, "the answer keeps the offered tag");
    let (suite, their_master) = lines[0].usable().expect("a usable key in the answer");
    assert_eq!(suite, CryptoSuite::AesCm128HmacSha1_80);
    assert_ne!(their_master, our_master, "Chartline answers with its own key");
    let to_tag = header(&answer, "To").unwrap().split(";tag=").nth(1).unwrap().to_string();
    client.send(&request("ACK", &client, tls_port, "srtp-wire", &to_tag, 1));

    let mut srtp = SrtpSession::new(&SrtpKeys { suite, local: our_master, remote: their_master }).unwrap();
    let chartline_rtp = sdp.audio_target().unwrap();
    let (mut checked, mut seq) = (0, 1000u16);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 2048];
    while checked < 25 && Instant::now() < deadline {
        // Our side sends SRTP too (silence), so the session latches and keeps talking.
        seq = seq.wrapping_add(1);
        let mut packet = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef];
        packet[2..4].copy_from_slice(&seq.to_be_bytes());
        packet[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
        packet.extend(std::iter::repeat_n(0xffu8, 160));
        rtp.send_to(&srtp.protect_rtp(&packet).unwrap(), chartline_rtp).unwrap();
        let Ok((len, _)) = rtp.recv_from(&mut buf) else { continue };
        let wire = &buf[..len];
        assert_eq!(len, 12 + 160 + 10, "RTP header, 20 ms of PCMU and an 80-bit tag");
        let plain = srtp.unprotect_rtp(wire).expect("authenticates under the answered key");
        assert_eq!(plain[1] & 0x7f, 0, "PCMU inside");
        assert_eq!(&plain[..12], &wire[..12], "the header stays in the clear");
        assert_ne!(&plain[12..], &wire[12..len - 10], "the payload does not");
        assert!(plain[12..].iter().all(|&b| b == 0xff || b == 0x7f), "Chartline sends silence here (its only prompt)");
        checked += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(checked, 25, "SRTP packets from Chartline");
    client.send(&request("BYE", &client, tls_port, "srtp-wire", &to_tag, 2));
    client.receive_until("SIP/2.0 200", Duration::from_secs(5));
    let calls = server.wait_for_calls(1, Duration::from_secs(10));
    let answered = calls[0]["events"].as_array().unwrap().iter().find(|e| e["kind"] == "answered").unwrap().clone();
    assert_eq!(answered["srtp"], "AES_CM_128_HMAC_SHA1_80", "{answered:#}");
}

#[test]
fn savp_offers_we_cannot_key_get_488() {
    let tls_port = free_port();
    let server = Server::start_sip_only(&tls_extra(tls_port, ""));
    let cert = server.data_dir().join("sip/cert.pem");
    let mut client = TlsSipClient::connect(tls_port, &cert).unwrap();
    let gcm = "crypto:1 AEAD_AES_256_GCM inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBRPS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtx";
    client.send(&invite(&client, tls_port, "srtp-488", 40000, "RTP/SAVP", gcm));
    let refused = client.receive_until("SIP/2.0 4", Duration::from_secs(10));
    assert!(refused.starts_with("SIP/2.0 488"), "{refused}");
    assert!(header(&refused, "Warning").unwrap().contains("crypto"), "the Warning says why: {refused}");
    drop(server);

    // With SRTP required, a plain offer is refused the same way.
    let tls_port = free_port();
    let server = Server::start_sip_only(&tls_extra(tls_port, "srtp = \"required\""));
    let mut client = TlsSipClient::connect(tls_port, &server.data_dir().join("sip/cert.pem")).unwrap();
    client.send(&invite(&client, tls_port, "plain-488", 40000, "RTP/AVP", "sendrecv"));
    let refused = client.receive_until("SIP/2.0 4", Duration::from_secs(10));
    assert!(refused.starts_with("SIP/2.0 488"), "{refused}");
    assert!(header(&refused, "Warning").unwrap().contains("SRTP is required"), "{refused}");
}

#[test]
fn baresip_call_over_tls_with_mandatory_srtp() {
    require_tool("baresip");
    let tls_port = free_port();
    let server = Server::start(&tls_extra(tls_port, "srtp = \"required\""));
    let cert = server.data_dir().join("sip/cert.pem");
    let mic = microphone_wav(server.dir.path());
    let mut phone = Baresip::start(&mic, Some(&cert), ";mediaenc=srtp-mand");
    phone.command("dial", &format!("sip:ivr@127.0.0.1:{tls_port};transport=tls"));
    let call = billing_message_call(&mut phone, &server);
    assert!(phone.log().contains("SRTP is Enabled"), "baresip reports SRTP on:\n{}", phone.log());

    let answered = call["events"].as_array().unwrap().iter().find(|e| e["kind"] == "answered").unwrap();
    assert!(answered["srtp"].as_str().is_some_and(|s| s.starts_with("AES_CM_128_HMAC_SHA1")), "{answered:#}");
    assert_eq!(answered["rfc4733"], true);
    // SRTCP both ways: baresip's reports authenticated and read, and a round-trip time from the
    // sender reports it unprotected on its side.
    let ended = call["events"].as_array().unwrap().iter().find(|e| e["kind"] == "ended").unwrap();
    assert!(ended["far_end_reports"].as_u64().unwrap() >= 3, "{ended}");
    assert!(ended["rtt_ms"].as_f64().is_some_and(|rtt| rtt < 50.0), "{ended}");
    eprintln!("SRTCP from baresip: {ended}");
}
