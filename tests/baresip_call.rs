//! A whole call from baresip, a real softphone: it dials Chartline, types the date of birth and the
//! menu choice as RFC 4733 DTMF (driven over its ctrl_tcp interface), and plays a WAV as its
//! microphone. The stored record must hold the digits, the recording that audio, and the RTCP
//! figures both sides reported.

mod baresip_support;
mod common;

use baresip_support::{Baresip, billing_message_call, microphone_wav};
use common::*;

#[test]
fn baresip_call_with_dtmf_and_spoken_message() {
    require_tool("baresip");
    let server = Server::start("");
    let mic = microphone_wav(server.dir.path());
    let mut phone = Baresip::start(&mic, None, "");
    phone.command("dial", &format!("sip:ivr@127.0.0.1:{}", server.sip_port));
    let call = billing_message_call(&mut phone, &server);
    let answered = call["events"].as_array().unwrap().iter().find(|e| e["kind"] == "answered").unwrap();
    assert_eq!(answered["rfc4733"], true, "baresip sends RFC 4733 when the answer offers telephone-event");

    // RTCP both ways: baresip's receiver reports about our stream were read (no loss on loopback,
    // and a round-trip time from the LSR/DLSR it echoed from our sender reports), and the caller's
    // stream was measured on our side.
    let ended = call["events"].as_array().unwrap().iter().find(|e| e["kind"] == "ended").unwrap();
    assert!(ended["rtcp_in"].as_u64().unwrap() >= 3, "baresip reports every few seconds: {ended}");
    assert!(ended["far_end_reports"].as_u64().unwrap() >= 3, "{ended}");
    assert_eq!(ended["far_end_lost"], 0, "{ended}");
    let rtt = ended["rtt_ms"].as_f64().unwrap_or_else(|| panic!("no round-trip time: {ended}"));
    assert!((0.0..50.0).contains(&rtt), "loopback round trip {rtt} ms");
    assert!(ended["jitter_ms"].as_f64().unwrap() < 20.0, "{ended}");
    eprintln!("RTCP from baresip: {ended}");

    // Speech recognition is on: the message is transcribed on the box.
    let transcript = call["transcript"].as_str().expect("transcript").to_lowercase();
    assert!(transcript.contains("refill") && transcript.contains("blood pressure"), "{transcript}");
}
