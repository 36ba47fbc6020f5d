//! The call core against SIPp: whole calls with RTP audio and RFC 4733 digits, and the SIP edge
//! cases (CANCEL, BYE mid-prompt, 488, hold, a re-INVITE changing codec and event type, OPTIONS,
//! malformed requests, retransmissions, lost ACK).

mod common;

use std::time::Duration;

use common::*;

/// The SIP scenarios drive the keypad flow: the server runs without a speech model, as it does on
/// a box where the model was never imported.
const KEYPAD_ONLY: &str = "[speech]\nmodel_path = \"models/not-imported.bin\"\n";

fn start() -> Server {
    require_tool("sipp");
    ensure_pcaps();
    let server = Server::start(KEYPAD_ONLY);
    assert_eq!(server.log_text().matches("no speech recognition").count(), 1, "said once at start-up what to run");
    server
}

fn run(server: &Server, scenario: &str) -> String {
    let (ok, out) = sipp(server, scenario, &[]);
    assert!(ok, "SIPp {scenario} failed:\n{out}\n---- chartline ----\n{}", server.log_text());
    out
}

#[test]
fn full_keypad_call_leaves_digits_and_message_in_the_record() {
    let server = start();
    run(&server, "full_call.xml");
    let call = assert_whole_keypad_call(&server);
    eprintln!("keypad call: answer -> request complete {:.1} s", seconds_between(&call, "answered", "request_chosen"));
    let text = server.cli_text(&["calls", "show", call["call_id"].as_str().unwrap()]);
    let recording = format!("recording    {}", call["recording"].as_str().unwrap());
    for line in ["request      refill (A, by Dtmf)", "outcome      completed", &recording, "  answered\n"] {
        assert!(text.contains(line), "`calls show` without --json lacks {line:?}:\n{text}");
    }
    let metrics = server.metrics();
    assert!(metrics.contains("chartline_calls_total{outcome=\"completed\"} 1"), "{metrics}");
    wait_for_metric(&server, "chartline_live_dialogs 0", Duration::from_secs(15));
}

#[test]
fn a_reinvite_to_pcma_with_another_event_type_keeps_the_call_working() {
    let server = start();
    let dir = repo_root().join("tests/sipp");
    std::fs::create_dir_all(dir.join("pcap/pcma")).unwrap();
    let message = format!("wav:{}", repo_root().join("tests/fixtures/audio/message.wav").display());
    for (name, items) in [("dob", vec!["digits:03051982"]), ("confirm", vec!["digits:1"]), ("menu", vec!["digits:1"]), ("message", vec![message.as_str(), "silence:300", "digits:#"])] {
        let status =
            std::process::Command::new("python3").arg("make_pcaps.py").arg(format!("pcap/pcma/{name}.pcap")).args(["codec:pcma", "event_pt:96"]).args(&items).current_dir(&dir).status().unwrap();
        assert!(status.success(), "make_pcaps.py pcma/{name} failed");
    }
    run(&server, "reinvite_codec.xml");
    let call = assert_whole_keypad_call(&server);
    let renegotiated = call["events"].as_array().unwrap().iter().find(|e| e["kind"] == "media_renegotiated").unwrap_or_else(|| panic!("{call:#}"));
    assert_eq!(renegotiated["codec"], "Pcma");
    assert_eq!(renegotiated["rfc4733"], true);
}

/// The one finished call of `server` went through DOB, confirmation, menu 1 and a message ended by
/// #, all by keypad, with the message's speech in its recording.
fn assert_whole_keypad_call(server: &Server) -> serde_json::Value {
    let calls = server.wait_for_calls(1, Duration::from_secs(10));
    assert_eq!(calls.len(), 1, "one finished call");
    let call = server.cli_json(&["calls", "show", calls[0]["call_id"].as_str().unwrap(), "--json"]);
    assert_eq!(call["patient"]["birth_date"], "1982-03-05", "{call:#}");
    assert_eq!(call["patient"]["matched_by"], "dtmf");
    assert_eq!(call["request"]["type"], "refill");
    assert_eq!(call["request"]["code"], "A");
    assert_eq!(call["request"]["chosen_by"], "dtmf");
    assert!(call["from"].as_str().unwrap().contains("+15551234567"), "{call:#}");
    let kinds = event_kinds(&call);
    for kind in ["answered", "greeting", "dob_entered", "dob_confirmed", "patient_lookup", "request_chosen", "recording_started", "recording_stopped", "reference_given", "goodbye", "ended"] {
        assert!(kinds.iter().any(|k| k == kind), "event {kind} missing: {kinds:?}");
    }
    assert!(!kinds.iter().any(|k| k == "invalid_key" || k == "no_input"), "clean call: {kinds:?}");

    // The recording holds the spoken message: as much speech as the source, at a similar level.
    let (got, _) = recording_stats(&server.data_dir(), call["recording"].as_str().expect("recording path"));
    let sent = wav_stats(&repo_root().join("tests/fixtures/audio/message.wav"));
    assert!((got.active_s - sent.active_s).abs() <= 0.15 * sent.active_s, "speech in recording {:.2} s, sent {:.2} s", got.active_s, sent.active_s);
    assert!(got.active_rms > 0.5 * sent.active_rms && got.active_rms < 2.0 * sent.active_rms, "level {:.3} vs {:.3}", got.active_rms, sent.active_rms);
    assert!(got.duration_s < sent.duration_s + 5.0, "recording stopped at #: {:.1} s", got.duration_s);
    call
}

#[test]
fn caller_hangs_up_during_the_greeting() {
    let server = start();
    run(&server, "bye_mid_prompt.xml");
    let calls = server.wait_for_calls(1, Duration::from_secs(10));
    let call = server.cli_json(&["calls", "show", calls[0]["call_id"].as_str().unwrap(), "--json"]);
    let hangup = call["events"].as_array().unwrap().iter().find(|e| e["kind"] == "hangup").expect("hangup event");
    assert_eq!(hangup["by"], "caller");
    assert_eq!(hangup["stage"], "greeting");
    assert_eq!(call["patient"]["status"], "not_given");
    wait_for_metric(&server, "chartline_calls_total{outcome=\"caller_hung_up\"} 1", Duration::from_secs(5));
}

#[test]
fn no_common_codec_gets_488_with_warning() {
    let server = start();
    run(&server, "codec_mismatch.xml");
    wait_for_metric(&server, "chartline_calls_total{outcome=\"rejected\"} 1", Duration::from_secs(5));
    assert_eq!(server.cli_json(&["calls", "list", "--json"]).as_array().unwrap().len(), 0, "no call record for a rejected INVITE");
}

#[test]
fn cancel_while_ringing_gets_200_and_487() {
    require_tool("sipp");
    let server = Server::start(&format!("{KEYPAD_ONLY}[calls]\nring_ms = 3000\n"));
    run(&server, "cancel.xml");
    wait_for_metric(&server, "chartline_calls_total{outcome=\"cancelled\"} 1", Duration::from_secs(5));
    wait_for_metric(&server, "chartline_live_dialogs 0", Duration::from_secs(15));
}

#[test]
fn hold_and_unhold_by_reinvite() {
    let server = start();
    run(&server, "hold.xml");
    let calls = server.wait_for_calls(1, Duration::from_secs(10));
    let kinds = event_kinds(&server.cli_json(&["calls", "show", calls[0]["call_id"].as_str().unwrap(), "--json"]));
    let hold = kinds.iter().position(|k| k == "hold").expect("hold event");
    let unhold = kinds.iter().position(|k| k == "unhold").expect("unhold event");
    assert!(hold < unhold, "{kinds:?}");
}

#[test]
fn options_malformed_and_retransmitted_invite() {
    let server = start();
    run(&server, "options.xml");
    run(&server, "malformed.xml");
    run(&server, "retransmitted_invite.xml");
    let calls = server.wait_for_calls(1, Duration::from_secs(10));
    assert_eq!(calls.len(), 1, "a retransmitted INVITE is one call");
    assert!(server.log_text().contains("malformed SIP message"));
}

#[test]
fn lost_ack_retransmits_the_200_then_hangs_up() {
    require_tool("sipp");
    ensure_pcaps();
    // Timer H = 64·T1: 6.4 s with T1 = 100 ms.
    let server = Server::start(&format!("{KEYPAD_ONLY}[sip]\nt1_ms = 100\nt2_ms = 400\n"));
    let out = run(&server, "lost_ack.xml");
    // The scenario screen's 200 row: messages, then retransmissions received.
    let retrans: u32 = out.lines().find(|l| l.trim_start().starts_with("200 <---")).and_then(|l| l.split_whitespace().nth(3)).and_then(|n| n.parse().ok()).expect("200 row on the SIPp screen");
    assert!(retrans >= 5, "the 200 was retransmitted {retrans} times:\n{out}");
    let calls = server.wait_for_calls(1, Duration::from_secs(10));
    let kinds = event_kinds(&server.cli_json(&["calls", "show", calls[0]["call_id"].as_str().unwrap(), "--json"]));
    assert!(kinds.iter().any(|k| k == "sip_failure"), "{kinds:?}");
    wait_for_metric(&server, "chartline_live_dialogs 0", Duration::from_secs(15));
}

#[test]
fn calls_over_tcp() {
    let server = start();
    for scenario in ["options.xml", "bye_mid_prompt.xml"] {
        let (ok, out) = sipp(&server, scenario, &["-t", "t1"]);
        assert!(ok, "SIPp {scenario} over TCP failed:\n{out}\n---- chartline ----\n{}", server.log_text());
    }
    let calls = server.wait_for_calls(1, Duration::from_secs(10));
    assert_eq!(calls.len(), 1);
    wait_for_metric(&server, "chartline_live_dialogs 0", Duration::from_secs(15));
}

#[test]
fn sigterm_finishes_active_calls_and_turns_new_ones_away() {
    let mut server = start();
    let (active, refused) = std::thread::scope(|scope| {
        let call = scope.spawn(|| sipp(&server, "full_call.xml", &[]));
        std::thread::sleep(Duration::from_secs(3));
        let status = std::process::Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        server.wait_for_log("draining", Duration::from_secs(5));
        let refused = sipp(&server, "shutting_down.xml", &[]);
        (call.join().unwrap(), refused)
    });
    assert!(refused.0, "a new call during shutdown gets 503 with Retry-After:\n{}", refused.1);
    assert!(active.0, "the active call finished normally:\n{}", active.1);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "chartline still running after its last call");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "clean exit: {status:?}");
    let calls = server.cli_json(&["calls", "list", "--json"]);
    assert_eq!(calls.as_array().unwrap().iter().filter(|c| !c["ended_at"].is_null()).count(), 1, "the call was stored");
}
