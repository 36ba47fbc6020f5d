//! Emergencies with `ivr.emergency_transfer` set, through real SIP peers: the caller says "crushing
//! chest pain" (a piper voice, through the real Whisper model) and Chartline transfers the call by
//! REFER. SIPp as the caller's phone checks the REFER (Refer-To the configured target, Referred-By)
//! and either takes it (202, NOTIFY 100 then 200: Chartline hangs up, the record says transferred)
//! or refuses it (603; 202 then NOTIFY 486; 202 and no final NOTIFY until the timeout). When it is
//! refused the caller must hear the 911 prompt: the test's own RTP peer is the caller's media, and
//! what it received after the failure is matched against sounds/en/emergency.wav (its loudness
//! envelope, its length, unbroken packets); the delay from the failure to the prompt's first packet
//! is printed. baresip, a real softphone, follows the REFER itself and dials the target, a SIPp UAS.

mod baresip_support;
mod common;
mod oncall_support;
mod rtp_support;

use std::path::PathBuf;
use std::time::Duration;

use baresip_support::Baresip;
use common::*;
use oncall_support::Phone;
use rtp_support::{RtpPeer, envelope_match, frame_rms, wav_samples};

/// The transfer target the SIPp caller's phone expects in Refer-To (it never dials it).
const TARGET: &str = "sip:er-nurse@10.0.0.9";
const PAIN: &str = "I have crushing chest pain and my left arm feels numb.";

fn transfer_config(target: &str, timeout_ms: u64) -> String {
    format!("[ivr]\nemergency_transfer = \"{target}\"\ntransfer_timeout_ms = {timeout_ms}\n")
}

fn start(target: &str, timeout_ms: u64) -> Server {
    require_tool("sipp");
    speech_model();
    let server = Server::start(&transfer_config(target, timeout_ms));
    server.wait_for_log("speech recognition ready", Duration::from_secs(30));
    server
}

/// When the caller starts talking: after the greeting and the 911 disclaimer.
fn lead() -> Duration {
    Duration::from_secs_f64(prompt_seconds(&["greeting", "practice-name", "disclaimer-911"]) + 1.5)
}

/// The caller's phone: `scenario` (signalling only) with its SDP pointing at a fresh RTP peer that
/// says the emergency; it stays on the line `hold_s` after the REFER (when it does not take it).
fn caller(server: &Server, scenario: &str, hold_s: f64) -> (RtpPeer, PathBuf) {
    let dir = server.dir.path();
    let wav = dir.join("pain.wav");
    if !wav.exists() {
        spoken(dir, "pain", PAIN);
    }
    let peer = RtpPeer::start(&wav, lead());
    let xml = std::fs::read_to_string(repo_root().join("tests/sipp").join(scenario)).unwrap();
    let xml = xml.replace("RTP_PORT", &peer.port.to_string()).replace("HOLD_MS", &((hold_s * 1000.0) as u64).to_string());
    let path = dir.join(scenario);
    std::fs::write(&path, xml).unwrap();
    (peer, path)
}

fn event<'a>(call: &'a serde_json::Value, kind: &str) -> &'a serde_json::Value {
    call["events"].as_array().unwrap().iter().find(|e| e["kind"] == kind).unwrap_or_else(|| panic!("no {kind} event: {:?}", event_kinds(call)))
}

fn at_ms(event: &serde_json::Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(event["at"].as_str().unwrap()).unwrap().timestamp_millis()
}

/// The stored record of the call that ended last, the `count`th of this server.
fn stored_call(server: &Server, count: usize) -> serde_json::Value {
    let calls = server.wait_for_calls(count, Duration::from_secs(60));
    assert_eq!(calls.len(), count, "{count} finished calls: {calls:#?}");
    let last = calls.iter().max_by_key(|c| c["ended_at"].as_str().unwrap().to_string()).unwrap();
    server.cli_json(&["calls", "show", last["call_id"].as_str().unwrap(), "--json"])
}

/// What the caller heard from the moment the transfer failed: the whole 911 prompt, unbroken.
/// Returns the delay from the failure to the prompt's first packet, in ms.
fn assert_heard_911_prompt(peer: &RtpPeer, call: &serde_json::Value, case: &str) -> i64 {
    let failed = event(call, "transfer");
    assert_eq!(failed["outcome"], "failed", "{case}: {failed}");
    let failed_at = at_ms(failed);
    let heard = peer.received_since(failed_at);
    let samples: Vec<i16> = heard.iter().flat_map(|(_, s)| s.iter().copied()).collect();
    let envelope = frame_rms(&samples);
    let prompt = frame_rms(&wav_samples(&repo_root().join("sounds/en/emergency.wav")));
    let (correlation, start) = envelope_match(&envelope, &prompt, 100);
    assert!(correlation > 0.85, "{case}: what the caller heard after the failure is not the 911 prompt (envelope correlation {correlation:.2}, {} packets)", heard.len());
    let (first, last) = (heard[start].0, heard[start + prompt.len() - 1].0);
    let prompt_ms = prompt.len() as i64 * 20;
    assert!((last - first - prompt_ms).abs() < prompt_ms / 10, "{case}: the prompt's {} packets came over {} ms, not {prompt_ms} ms", prompt.len(), last - first);
    let active = |frames: &[f64]| frames.iter().filter(|&&r| r > 0.02).count();
    let (heard_active, prompt_active) = (active(&envelope[start..start + prompt.len()]), active(&prompt));
    assert!(heard_active.abs_diff(prompt_active) * 10 <= prompt_active, "{case}: {heard_active} voiced packets heard, the prompt has {prompt_active}");
    let delay = first - failed_at;
    eprintln!(
        "{case}: 911 prompt heard {delay} ms after the transfer failed ({}); {} packets over {} ms, envelope correlation {correlation:.3}, {heard_active}/{prompt_active} voiced",
        failed["reason"],
        prompt.len(),
        last - first
    );
    assert!(delay < 1000, "{case}: the 911 prompt began {delay} ms after the failure");
    delay
}

#[test]
fn sipp_caller_takes_the_transfer_and_chartline_hangs_up() {
    let server = start(TARGET, 20_000);
    let (_peer, scenario) = caller(&server, "transfer_accept.xml", 0.0);
    let (ok, out) = sipp(&server, scenario.to_str().unwrap(), &[]);
    assert!(ok, "the caller's phone (REFER checked, 202, NOTIFY 100 and 200, BYE from Chartline):\n{out}\n---- chartline ----\n{}", server.log_text());
    let call = stored_call(&server, 1);
    assert_eq!(call["outcome"], "transferred", "{call:#}");
    let transfer = event(&call, "transfer");
    assert_eq!(transfer["target"], TARGET);
    assert_eq!(transfer["outcome"], "succeeded");
    assert_eq!(event(&call, "transfer_accepted")["status"], 202);
    assert_eq!(event(&call, "transfer_progress")["status"], 100);
    assert_eq!(event(&call, "transfer_connected")["status"], 200);
    assert_eq!(event(&call, "emergency")["action"], "transfer");
    eprintln!("accepted: REFER to NOTIFY 200 in {} ms", transfer["ms"]);
    assert!(call["urgent"].as_bool().unwrap());
}

#[test]
fn refused_transfers_play_the_911_prompt_and_the_call_goes_on() {
    let timeout_ms = 4000;
    let server = start(TARGET, timeout_ms);
    // On the line long enough for the 911 prompt, "stay on the line", the tone and a little more.
    let hold_s = prompt_seconds(&["connecting", "emergency", "emergency-stay", "tone"]) + timeout_ms as f64 / 1000.0 + 2.0;
    for (n, (scenario, reason)) in
        [("transfer_decline.xml", "REFER rejected with 603"), ("transfer_call_fails.xml", "the new call failed with 486"), ("transfer_no_final_notify.xml", "no final NOTIFY within 4000 ms")]
            .into_iter()
            .enumerate()
    {
        let (peer, path) = caller(&server, scenario, hold_s);
        let (ok, out) = sipp(&server, path.to_str().unwrap(), &[]);
        assert!(ok, "{scenario}: the caller's phone:\n{out}\n---- chartline ----\n{}", server.log_text());
        let call = stored_call(&server, n + 1);
        assert_eq!(event(&call, "transfer")["reason"], reason, "{call:#}");
        assert_heard_911_prompt(&peer, &call, scenario);
        if scenario == "transfer_no_final_notify.xml" {
            let waited = seconds_between(&call, "transfer_started", "transfer");
            assert!((waited - timeout_ms as f64 / 1000.0).abs() < 0.5, "the timeout gave up after {waited:.2} s");
        }
        // The normal emergency path goes on: the message after the tone, until the caller hangs up.
        assert_ne!(call["outcome"], "transferred");
        assert!(call["urgent"].as_bool().unwrap(), "{call:#}");
        let kinds = event_kinds(&call);
        assert!(kinds.iter().any(|k| k == "recording_started"), "the message is recorded after the 911 prompt: {kinds:?}");
        assert_eq!(event(&call, "hangup")["by"], "caller");
    }
    wait_for_metric(&server, "chartline_live_dialogs 0", Duration::from_secs(15));
}

/// baresip's microphone: silence over the greeting, the emergency, then silence for `tail_s`.
fn softphone_microphone(server: &Server, tail_s: f64) -> PathBuf {
    let dir = server.dir.path();
    let (wav, _) = spoken(dir, "pain", PAIN);
    let speech = wav_samples(&wav);
    let path = dir.join("microphone.wav");
    let spec = hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut out = hound::WavWriter::create(&path, spec).unwrap();
    let silence = |s: f64| std::iter::repeat_n(0i16, (s * 8000.0) as usize);
    for sample in silence(lead().as_secs_f64()).chain(speech).chain(silence(tail_s)) {
        out.write_sample(sample).unwrap();
    }
    out.finalize().unwrap();
    path
}

/// The transfer target (a SIPp UAS playing `target_scenario`), Chartline transferring emergencies
/// to it, and baresip on an established call to Chartline saying the emergency.
fn baresip_emergency_call(target_scenario: &str, tail_s: f64) -> (Phone, String, Server, Baresip) {
    require_tool("baresip");
    let nurse = Phone::start(target_scenario);
    let target = nurse.uri("er-nurse");
    let server = start(&target, 20_000);
    let mut phone = Baresip::start(&softphone_microphone(&server, tail_s), None, "");
    phone.command("dial", &format!("sip:ivr@127.0.0.1:{}", server.sip_port));
    phone.wait_event("CALL_ESTABLISHED", Duration::from_secs(10));
    (nurse, target, server, phone)
}

#[test]
fn baresip_follows_the_refer_to_the_target_and_chartline_hangs_up() {
    let (nurse, target, server, mut phone) = baresip_emergency_call("transfer_target.xml", 30.0);
    let call = stored_call(&server, 1);
    assert_eq!(call["outcome"], "transferred", "{call:#}\n---- baresip ----\n{}", phone.log());
    let transfer = event(&call, "transfer");
    assert_eq!(transfer["target"], target.as_str());
    assert_eq!(transfer["outcome"], "succeeded");
    assert!(nurse.received_invite(), "baresip dialed the target itself");
    phone.command("hangup", "");
    let (ok, out) = nurse.finish(Duration::from_secs(30));
    assert!(ok, "the target (INVITE from the caller, answered, BYE from the caller):\n{out}\n---- baresip ----\n{}", phone.log());
    eprintln!("baresip: transferred to {target}: REFER to NOTIFY 200 in {} ms (baresip dialed, the target answered)", transfer["ms"]);
}

#[test]
fn baresip_reports_a_busy_target_and_hears_the_911_prompt() {
    let (nurse, _, server, mut phone) = baresip_emergency_call("transfer_target_busy.xml", 60.0);
    let hold_s = prompt_seconds(&["connecting", "emergency", "emergency-stay", "tone"]) + 3.0;
    let (ok, out) = nurse.finish(Duration::from_secs(60));
    assert!(ok, "the busy target:\n{out}\n---- baresip ----\n{}", phone.log());
    // The caller stays on the line for the 911 prompt, then hangs up.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let call_id = loop {
        let calls = server.cli_json(&["calls", "list", "--json"]);
        if let Some(call) = calls.as_array().unwrap().first().filter(|c| event_kinds(c).iter().any(|k| k == "transfer")) {
            break call["call_id"].as_str().unwrap().to_string();
        }
        assert!(std::time::Instant::now() < deadline, "the transfer never ended: {calls:#}");
        std::thread::sleep(Duration::from_millis(200));
    };
    std::thread::sleep(Duration::from_secs_f64(hold_s));
    phone.command("hangup", "");
    phone.wait_event("CALL_CLOSED", Duration::from_secs(10));
    let call = stored_call(&server, 1);
    assert_eq!(call["call_id"], call_id.as_str());
    assert_eq!(event(&call, "transfer")["reason"], "the new call failed with 486", "{call:#}");
    assert_ne!(call["outcome"], "transferred");
    assert_eq!(event(&call, "hangup")["by"], "caller");

    // What baresip heard on the call holds the 911 prompt (never played before the failure: the
    // transfer path skips it), whole.
    let dumps = phone.received_audio();
    let heard = wav_samples(dumps.last().unwrap_or_else(|| panic!("no audio dump from baresip:\n{}", phone.log())));
    let envelope = frame_rms(&heard);
    let prompt = frame_rms(&wav_samples(&repo_root().join("sounds/en/emergency.wav")));
    let (correlation, start) = envelope_match(&envelope, &prompt, envelope.len());
    eprintln!("baresip heard the 911 prompt {:.2} s into the call (envelope correlation {correlation:.3})", start as f64 * 0.02);
    assert!(correlation > 0.85, "baresip did not hear the 911 prompt (best envelope correlation {correlation:.2})");
}
