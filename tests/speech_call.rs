//! Whole calls by voice through SIP: SIPp plays piper-voiced utterances (8 kHz μ-law RTP) into
//! Chartline with the real Whisper model, one per dialog turn, with pauses computed from the
//! prompt audio. The stored record must say what the caller said, its message transcript written
//! whole by the chart model (Whisper base) and named in the record; an emergency must be answered
//! with the 911 instruction within 2 s of the end of the sentence.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use common::*;

/// The calls of this file run one at a time: each measures how fast the recogniser answers, and
/// three calls sharing two cores with the test harness measure the harness instead.
static ONE_CALL_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_CALL_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// A piper-voiced utterance as an RTP capture; returns it and its length in seconds.
fn utterance(dir: &Path, name: &str, text: &str) -> (PathBuf, f64) {
    let (wav, seconds) = spoken(dir, name, text);
    let pcap = dir.join(format!("{name}.pcap"));
    let status = Command::new("python3").arg(repo_root().join("tests/sipp/make_pcaps.py")).arg(&pcap).arg(format!("wav:{}", wav.display())).status().unwrap();
    assert!(status.success());
    (pcap, seconds)
}

/// How the scripted call ends.
enum End {
    /// The caller hangs up this many seconds after the last turn.
    CallerAfter(f64),
    /// Chartline says goodbye and hangs up within this many seconds of the last turn.
    ServerWithin(f64),
}

/// A UAC scenario: INVITE, then for each (capture, pause) play and wait; then the end.
fn scenario(dir: &Path, turns: &[(PathBuf, f64)], end: End) -> PathBuf {
    let base = std::fs::read_to_string(repo_root().join("tests/sipp/bye_mid_prompt.xml")).unwrap();
    let split = base.find("  <pause milliseconds=\"2000\"/>").unwrap();
    let mut body = String::new();
    for (pcap, wait_s) in turns {
        body.push_str(&format!("  <nop><action><exec play_pcap_audio=\"{}\"/></action></nop>\n  <pause milliseconds=\"{}\"/>\n", pcap.display(), (wait_s * 1000.0) as u64));
    }
    let rest = &base[split + "  <pause milliseconds=\"2000\"/>\n".len()..];
    let tail = match end {
        End::CallerAfter(seconds) => format!("  <pause milliseconds=\"{}\"/>\n{rest}", (seconds * 1000.0) as u64),
        End::ServerWithin(seconds) => format!(
            "  <recv request=\"BYE\" timeout=\"{}\"/>\n  <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n      [last_Via:]\n      [last_From:]\n      [last_To:]\n      [last_Call-ID:]\n      [last_CSeq:]\n      Content-Length: 0\n    ]]>\n  </send>\n</scenario>\n",
            (seconds * 1000.0) as u64
        ),
    };
    let xml = format!("{}{}{}", &base[..split], body, tail);
    let path = dir.join("speech_call.xml");
    std::fs::write(&path, xml).unwrap();
    path
}

fn run_scenario(server: &Server, path: &Path) {
    let out = Command::new("sipp")
        .arg(format!("127.0.0.1:{}", server.sip_port))
        .arg("-sf")
        .arg(path)
        .args(["-i", "127.0.0.1", "-p", &free_port().to_string(), "-m", "1", "-nostdin", "-timeout", "120s", "-timeout_error"])
        .args(["-mp", &free_rtp_range(8).0.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "SIPp failed:\n{}\n---- chartline ----\n{}", String::from_utf8_lossy(&out.stdout), server.log_text());
}

fn start() -> Server {
    require_tool("sipp");
    speech_model();
    // Open around the clock, so the greeting (and so the first turn) has one known length.
    let always_open = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map(|d| format!("{d} = [\"00:00-23:59\"]\n")).concat();
    let chart = format!("[speech.chart]\nmodel_path = {:?}\n", chart_model());
    let server = Server::start(&format!("[practice]\nholidays = []\n[practice.hours]\n{always_open}{chart}"));
    server.wait_for_log("speech recognition ready", Duration::from_secs(30));
    server.wait_for_log("chart transcripts ready", Duration::from_secs(30));
    server
}

/// Greeting (not listened to), then the date-of-birth question starts listening.
fn first_turn_s() -> f64 {
    prompt_seconds(&["greeting", "practice-name", "disclaimer-911"]) + 1.5
}

#[test]
fn spoken_date_of_birth_and_request_land_in_the_record() {
    let _one = serial();
    let server = start();
    let dir = server.dir.path().to_path_buf();
    // Each answer is spoken over the next prompt (barge-in) once the previous one was understood;
    // the message waits for the record prompt and the tone, which are not interrupted.
    let gap = 3.0;
    let answers = [
        ("dob", "July fourth, nineteen seventy six."),
        ("yes1", "Yes."),
        ("request", "I have a question about my bill."),
        ("yes2", "Yes, that's right."),
        ("message", "My account number is on the letter. Please call me back this afternoon."),
    ];
    ensure_silence_pcap();
    let mut turns = vec![(repo_root().join("tests/sipp/pcap/silence.pcap"), first_turn_s())];
    for (name, text) in answers {
        let (pcap, seconds) = utterance(&dir, name, text);
        // After the confirmed date: the chart lookup and the request question; after the
        // confirmed request: the record prompt and the tone.
        let before_next = match name {
            "yes1" => 3.0,
            "request" => prompt_seconds(&["is-that-right"]) + 1.5,
            "yes2" => prompt_seconds(&["record-after-tone", "tone"]) + 0.5,
            _ => 0.0,
        };
        turns.push((pcap, seconds + gap + before_next));
    }
    let path = scenario(&dir, &turns, End::ServerWithin(30.0));
    run_scenario(&server, &path);

    let calls = server.wait_for_calls(1, Duration::from_secs(30));
    let call = server.cli_json(&["calls", "show", calls[0]["call_id"].as_str().unwrap(), "--json"]);
    assert_eq!(call["patient"]["birth_date"], "1976-07-04", "{call:#}");
    assert_eq!(call["patient"]["matched_by"], "speech");
    assert_eq!(call["request"]["type"], "billing", "{call:#}");
    assert_eq!(call["request"]["chosen_by"], "speech");
    // The whole message, written by the chart model (Whisper base), which the record names.
    let transcript = call["transcript"].as_str().unwrap_or_default().to_lowercase();
    for words in ["number is on the letter", "call me back", "this afternoon"] {
        assert!(transcript.contains(words), "{words:?} missing from {transcript:?}");
    }
    assert!(!transcript.contains("that's right"), "an earlier answer leaked into the message: {transcript:?}");
    assert_eq!(call["transcript_model"], "whisper-base", "{call:#}");
    assert_eq!(call["transcript_language"], "en", "{call:#}");
    assert_eq!(call["urgent"], false);
    eprintln!("speech call: {}", event_kinds(&call).join(" "));
    // The figure issue 4 asks for: answer to a complete (confirmed) request, by voice.
    let to_request = seconds_between(&call, "answered", "request_chosen");
    eprintln!("speech call: answer -> request complete {to_request:.1} s");
    assert!(to_request < 60.0, "{to_request} s");
}

/// A silent capture for the lead-in (the greeting is not listened to).
fn ensure_silence_pcap() {
    let pcap = repo_root().join("tests/sipp/pcap/silence.pcap");
    if !pcap.exists() {
        std::fs::create_dir_all(pcap.parent().unwrap()).unwrap();
        let status = Command::new("python3").arg(repo_root().join("tests/sipp/make_pcaps.py")).arg(&pcap).arg("silence:200").status().unwrap();
        assert!(status.success());
    }
}

#[test]
fn crushing_chest_pain_gets_the_911_instruction_at_once() {
    let _one = serial();
    let server = start();
    let dir = server.dir.path().to_path_buf();
    let (dob, dob_s) = utterance(&dir, "dob", "July fourth, nineteen seventy six.");
    let (yes, yes_s) = utterance(&dir, "yes", "Yes.");
    let (pain, pain_s) = utterance(&dir, "pain", "I have crushing chest pain and my left arm feels numb.");
    ensure_silence_pcap();
    let turns = vec![(repo_root().join("tests/sipp/pcap/silence.pcap"), first_turn_s()), (dob, dob_s + 3.0), (yes, yes_s + 6.0), (pain, pain_s + 6.0)];
    run_scenario(&server, &scenario(&dir, &turns, End::CallerAfter(2.0)));

    let calls = server.wait_for_calls(1, Duration::from_secs(30));
    let call = server.cli_json(&["calls", "show", calls[0]["call_id"].as_str().unwrap(), "--json"]);
    assert_eq!(call["urgent"], true, "{call:#}");
    assert!(!call["red_flags"].as_array().unwrap().is_empty(), "{call:#}");
    let events = call["events"].as_array().unwrap();
    let emergency = events.iter().position(|e| e["kind"].as_str().is_some_and(|k| k.contains("emergency"))).unwrap_or_else(|| panic!("no emergency event: {:?}", event_kinds(&call)));
    // The utterance that raised it: the last recognition before the emergency event.
    let recognized = events[..emergency].iter().rev().find(|e| e["kind"] == "utterance_recognized").expect("recognition event");
    let after_end_ms = recognized["after_end_ms"].as_u64().unwrap();
    eprintln!("911 instruction started {after_end_ms} ms after the end of the sentence");
    assert!(after_end_ms <= 2000, "the 911 instruction came {after_end_ms} ms after the sentence ended");
    assert!(events.iter().any(|e| e["kind"] == "on_call_alert"), "on-call alert owed: {:?}", event_kinds(&call));
}

#[test]
fn a_message_with_pauses_is_recorded_whole_and_an_emergency_in_it_is_answered_at_once() {
    let _one = serial();
    let server = start();
    let dir = server.dir.path().to_path_buf();
    let pause = 2.0;
    let answers = [
        ("dob", "July fourth, nineteen seventy six."),
        ("yes1", "Yes."),
        ("request", "I have a question about my bill."),
        ("yes2", "Yes, that's right."),
        ("part1", "I got a letter about my bill last week."),
        ("part2", "Also, my knee is doing much better."),
        ("part3", "But now my chest hurts and my left arm is numb."),
    ];
    ensure_silence_pcap();
    let mut turns = vec![(repo_root().join("tests/sipp/pcap/silence.pcap"), first_turn_s())];
    for (name, text) in answers {
        let (pcap, seconds) = utterance(&dir, name, text);
        let after = match name {
            "yes1" => 3.0 + 3.0,
            "request" => 3.0 + prompt_seconds(&["is-that-right"]) + 1.5,
            "yes2" => 3.0 + prompt_seconds(&["record-after-tone", "tone"]) + 0.5,
            "part1" | "part2" => pause,
            _ => 3.0,
        };
        turns.push((pcap, seconds + after));
    }
    // The caller stays on through the 911 prompt, then is silent: the message ends by silence.
    let path = scenario(&dir, &turns, End::CallerAfter(prompt_seconds(&["emergency"]) + 8.0));
    run_scenario(&server, &path);

    let calls = server.wait_for_calls(1, Duration::from_secs(60));
    let call = server.cli_json(&["calls", "show", calls[0]["call_id"].as_str().unwrap(), "--json"]);
    let kinds = event_kinds(&call);
    eprintln!("message call: {}", kinds.join(" "));
    let at = |kind: &str| kinds.iter().position(|k| k == kind).unwrap_or_else(|| panic!("no {kind}: {kinds:?}"));
    assert!(at("recording_started") < at("emergency") && at("emergency") < at("recording_stopped"), "the emergency came while the message was recorded, which went on: {kinds:?}");
    let events = call["events"].as_array().unwrap();
    let emergency = &events[at("emergency")];
    assert_eq!(emergency["stage"], "message", "{emergency}");
    let recognized = events[..at("emergency")].iter().rev().find(|e| e["kind"] == "utterance_recognized").expect("recognition event");
    let after_end_ms = recognized["after_end_ms"].as_u64().unwrap();
    eprintln!("message call: 911 prompt {after_end_ms} ms after the end of the sentence");
    assert!(after_end_ms <= 2000, "{after_end_ms} ms");
    // Where the sentence ended in the audio the caller sent vs the timeline: from the end of the
    // message's first sentence (its recognition, less its latency) to the end of the third.
    let time = |e: &serde_json::Value| chrono::DateTime::parse_from_rfc3339(e["at"].as_str().unwrap()).unwrap();
    let first = events[at("recording_started")..].iter().find(|e| e["kind"] == "utterance_recognized").expect("the first sentence recognised");
    let first_end = time(first) - chrono::Duration::milliseconds(first["after_end_ms"].as_i64().unwrap());
    let third_end = time(recognized) - chrono::Duration::milliseconds(after_end_ms as i64);
    let part_s = |name: &str| wav_stats(&dir.join(format!("{name}.wav"))).duration_s;
    let sent_s = pause + part_s("part2") + pause + part_s("part3");
    let timeline_s = (third_end - first_end).num_milliseconds() as f64 / 1000.0;
    let prompt_at_s = (time(emergency) - third_end).num_milliseconds() as f64 / 1000.0;
    eprintln!("message call: first to third sentence end {timeline_s:.1} s on the timeline, {sent_s:.1} s as sent; 911 prompt {prompt_at_s:.2} s after the third");
    assert!((timeline_s - sent_s).abs() < 1.5, "the emergency came from the third sentence: {timeline_s:.1} s vs {sent_s:.1} s");
    assert!(prompt_at_s <= 2.0, "{prompt_at_s} s");
    assert!(kinds.iter().any(|k| k == "message_silence"), "the long silence ended the message: {kinds:?}");
    let transcript = call["transcript"].as_str().unwrap_or_default().to_lowercase();
    eprintln!("message call: transcript {transcript:?}");
    for word in ["letter", "knee", "chest"] {
        assert!(transcript.contains(word), "{word:?} from every part of the message: {transcript}");
    }
    assert_eq!(call["urgent"], true);
}

/// The demo chart's patient born on `date` (there must be exactly one) and whether anyone is
/// born on `nobody`.
fn only_patient_born(server: &Server, date: &str, nobody: &str) -> String {
    let patients = server.cli_json(&["chart", "patients", "--json"]);
    let born = |d: &str| patients.as_array().unwrap().iter().filter(|p| p["birth_date"] == d).map(|p| p["id"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert!(born(nobody).is_empty(), "nobody in the demo chart is born {nobody}");
    let found = born(date);
    assert_eq!(found.len(), 1, "one patient born {date}");
    found[0].clone()
}

/// A call that says a date of birth, says "yes" to what Chartline reads back or offers, and
/// hangs up during the request question; returns the stored call.
fn date_of_birth_call(server: &Server, dob: &str) -> serde_json::Value {
    let dir = server.dir.path().to_path_buf();
    ensure_silence_pcap();
    let (dob_pcap, dob_s) = utterance(&dir, "dob", dob);
    let (yes_pcap, yes_s) = utterance(&dir, "yes", "Yes.");
    // "Yes" once the date is read back ("I heard" / "Did you say" and the date): recognition and
    // the chart search take up to 3 s on two busy cores.
    let turns = [(repo_root().join("tests/sipp/pcap/silence.pcap"), first_turn_s()), (dob_pcap, dob_s + 3.0 + prompt_seconds(&["dob-did-you-say"]) + 2.0), (yes_pcap, yes_s)];
    let path = scenario(&dir, &turns, End::CallerAfter(5.0));
    run_scenario(server, &path);
    let calls = server.wait_for_calls(1, Duration::from_secs(30));
    server.cli_json(&["calls", "show", calls[0]["call_id"].as_str().unwrap(), "--json"])
}

/// The call says `dob` for the demo patient born 1952-12-06 (nobody is born on June 12, 1952,
/// the near miss of day and month swapped): the patient is identified by speech. Returns the
/// call's timeline.
fn identifies_december_sixth_1952(dob: &str) -> Vec<String> {
    let _one = serial();
    let server = start();
    let patient = only_patient_born(&server, "1952-12-06", "1952-06-12");
    let call = date_of_birth_call(&server, dob);
    let kinds = event_kinds(&call);
    eprintln!("{dob:?}: {}", kinds.join(" "));
    assert_eq!(call["patient"]["status"], "identified", "{call:#}");
    assert_eq!(call["patient"]["id"], patient.as_str());
    assert_eq!(call["patient"]["birth_date"], "1952-12-06");
    assert_eq!(call["patient"]["matched_by"], "speech");
    kinds
}

#[test]
fn a_date_of_birth_said_digit_by_digit_identifies_the_patient() {
    let kinds = identifies_december_sixth_1952("one two, zero six, one nine five two.");
    assert!(!kinds.iter().any(|k| k == "dob_near_miss"), "read back as heard: {kinds:?}");
}

#[test]
fn a_near_miss_is_offered_and_confirmed() {
    let kinds = identifies_december_sixth_1952("June twelfth, nineteen fifty two.");
    assert!(kinds.iter().any(|k| k == "dob_near_miss"), "offered: {kinds:?}");
}
