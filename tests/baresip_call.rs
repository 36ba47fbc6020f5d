//! A whole call from baresip, a real softphone: it dials Chartline, types the date of birth and the
//! menu choice as RFC 4733 DTMF (driven over its ctrl_tcp interface), and plays a WAV as its
//! microphone. The stored record must hold the digits, and the recording that audio.

mod baresip_support;
mod common;

use std::time::{Duration, Instant};

use baresip_support::{Baresip, LEAD_IN_S, microphone_wav};
use common::*;

#[test]
fn baresip_call_with_dtmf_and_spoken_message() {
    require_tool("baresip");
    let server = Server::start("");
    let mic = microphone_wav(server.dir.path());
    let mut phone = Baresip::start(&mic, None, None);
    phone.command("dial", &format!("sip:ivr@127.0.0.1:{}", server.sip_port));
    phone.wait_event("CALL_ESTABLISHED", Duration::from_secs(10));
    let established = Instant::now();

    std::thread::sleep(Duration::from_millis(800));
    phone.keys("07041976"); // over the greeting: barge-in
    std::thread::sleep(Duration::from_millis(1500));
    phone.keys("1"); // the read-back is right
    std::thread::sleep(Duration::from_millis(1500));
    phone.keys("6"); // billing: straight to the message

    // Wait for the tone, then let the message play and end it with #.
    let deadline = Instant::now() + Duration::from_secs(20);
    let call_id = loop {
        let calls = server.cli_json(&["calls", "list", "--json"]);
        if let Some(call) = calls.as_array().unwrap().first().filter(|c| event_kinds(c).iter().any(|k| k == "recording_started")) {
            break call["call_id"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "recording never started:\n{calls:#}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(established.elapsed().as_secs_f64() < LEAD_IN_S - 0.5, "recording must start before the message is spoken (at {:?})", established.elapsed());
    let message_s = wav_stats(&repo_root().join("tests/fixtures/audio/message.wav")).duration_s;
    let end_of_message = Duration::from_secs_f64(LEAD_IN_S + message_s + 1.0);
    std::thread::sleep(end_of_message.saturating_sub(established.elapsed()));
    phone.keys("#");
    phone.wait_event("CALL_CLOSED", Duration::from_secs(30));

    let ended = server.wait_for_calls(1, Duration::from_secs(10));
    assert_eq!(ended.len(), 1);
    let call = server.cli_json(&["calls", "show", &call_id, "--json"]);
    assert_eq!(call["patient"]["birth_date"], "1976-07-04", "{call:#}");
    assert_eq!(call["request"]["type"], "billing");
    assert_eq!(call["request"]["code"], "F");
    let answered = call["events"].as_array().unwrap().iter().find(|e| e["kind"] == "answered").unwrap();
    assert_eq!(answered["rfc4733"], true, "baresip sends RFC 4733 when the answer offers telephone-event");

    // Speech recognition is on: the message is transcribed on the box.
    let transcript = call["transcript"].as_str().expect("transcript").to_lowercase();
    assert!(transcript.contains("refill") && transcript.contains("blood pressure"), "{transcript}");
    let (got, _) = recording_stats(&server.data_dir(), call["recording"].as_str().expect("recording"));
    let sent = wav_stats(&repo_root().join("tests/fixtures/audio/message.wav"));
    assert!((got.active_s - sent.active_s).abs() <= 0.15 * sent.active_s, "speech in recording {:.2} s, sent {:.2} s", got.active_s, sent.active_s);
    assert!(got.active_rms > 0.5 * sent.active_rms && got.active_rms < 2.0 * sent.active_rms, "level {:.3} vs {:.3}", got.active_rms, sent.active_rms);
}
