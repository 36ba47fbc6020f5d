//! On-call alerts against SIPp phones: an urgent after-hours call (SIPp UAC on the keypad) makes
//! Chartline call the on-call provider (a SIPp UAS). Key 2 calls the patient (a second SIPp UAS
//! behind the outbound proxy address) and bridges both with audio both ways; a provider who does
//! not answer is cancelled and the backup is alerted; an alert cut short by a crash is placed again
//! after the restart; a provider on TCP is reached over a connection Chartline opens.

mod common;
mod oncall_support;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use oncall_support::Phone;

/// A closed practice (every call is after hours) with the same on-call provider every day, on the
/// keypad only.
fn practice(extra: &str) -> String {
    format!("[speech]\nmodel_path = \"models/not-imported.bin\"\n{}", closed_practice(extra))
}

fn closed_practice(extra: &str) -> String {
    format!(
        "[practice]\nholidays = []\n[practice.hours]\nmon = []\ntue = []\nwed = []\nthu = []\nfri = []\nsat = []\nsun = []\n\
         [routing]\non_call = [{{ provider = \"Practitioner/dr-a\", days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"] }}]\n\
         {extra}"
    )
}

/// Runs the urgent call and returns when it ended.
fn urgent_call(server: &Server) -> Instant {
    let (ok, out) = sipp(server, "oncall_urgent_call.xml", &[]);
    assert!(ok, "urgent call failed:\n{out}\n---- chartline ----\n{}", server.log_text());
    Instant::now()
}

/// Polls the call's timeline until an event of `kind` appears.
fn wait_for_event(server: &Server, kind: &str, timeout: Duration) -> serde_json::Value {
    let deadline = Instant::now() + timeout;
    loop {
        let calls = server.cli_json(&["calls", "list", "--json"]);
        let call = calls.as_array().unwrap().first().cloned().unwrap_or_default();
        if call["events"].as_array().is_some_and(|e| e.iter().any(|e| e["kind"] == kind)) {
            return call;
        }
        assert!(Instant::now() < deadline, "no {kind} event within {timeout:?}: {call:#}\n---- chartline ----\n{}", server.log_text());
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn oncall_kinds(call: &serde_json::Value) -> Vec<String> {
    const ONCALL: &[&str] =
        &["alert_resumed", "alert_placed", "alert_answered", "alert_unanswered", "acknowledged", "message_played", "bridged", "bridge_ended", "escalated", "alert_failed", "patient_unreachable"];
    call["events"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).filter(|k| ONCALL.contains(k)).map(String::from).collect()
}

fn event<'a>(call: &'a serde_json::Value, kind: &str) -> &'a serde_json::Value {
    call["events"].as_array().unwrap().iter().find(|e| e["kind"] == kind).unwrap_or_else(|| panic!("no {kind}: {call:#}"))
}

fn audit_actions(server: &Server) -> Vec<String> {
    let out = Command::new(BIN).args(["audit", "list", "--config"]).arg(&server.config_path).current_dir(repo_root()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| v.as_array().cloned()).unwrap_or_default().iter().filter_map(|e| e["action"].as_str().map(String::from)).collect()
}

#[test]
fn urgent_call_alerts_the_provider_and_key_2_bridges_the_patient() {
    require_tool("sipp");
    ensure_oncall_pcaps();
    let provider = Phone::start("oncall_provider_bridge.xml");
    let patient = Phone::start("oncall_patient.xml");
    let config = format!(
        "[oncall]\ncaller_id = \"+15550102000\"\ncaller_name = \"Demo Practice\"\noutbound_proxy = \"127.0.0.1:{}\"\nring_timeout_s = 10\n\
         providers = [{{ id = \"Practitioner/dr-a\", phone = \"{}\" }}]\n",
        patient.port,
        provider.uri("dr-a")
    );
    let server = Server::start(&practice(&config));
    let ended = urgent_call(&server);
    let deadline = ended + Duration::from_secs(15);
    while !provider.received_invite() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let latency = ended.elapsed();
    assert!(provider.received_invite(), "no alert INVITE at the provider's phone\n{}", server.log_text());
    eprintln!("alert INVITE arrived {:.2} s after the urgent call ended", latency.as_secs_f64());
    assert!(latency < Duration::from_secs(10), "alert took {latency:?}");

    let (ok, out) = provider.finish(Duration::from_secs(60));
    assert!(ok, "provider phone:\n{out}\n---- chartline ----\n{}", server.log_text());
    assert!(out.contains("From: \"Demo Practice\" <sip:+15550102000@"), "practice caller ID on the alert: {out}");
    let (ok, out) = patient.finish(Duration::from_secs(30));
    assert!(ok, "patient phone (hung up with the provider):\n{out}\n---- chartline ----\n{}", server.log_text());
    assert!(out.contains("INVITE sip:+15551234567@127.0.0.1"), "the caller's number dialed through the outbound proxy: {out}");
    assert!(out.contains("From: \"Demo Practice\" <sip:+15550102000@"), "practice caller ID toward the patient: {out}");

    let call = wait_for_event(&server, "bridge_ended", Duration::from_secs(10));
    assert_eq!(oncall_kinds(&call), ["alert_placed", "alert_answered", "acknowledged", "bridged", "bridge_ended"], "{call:#}");
    assert_eq!(event(&call, "acknowledged")["by"], "callback");
    let ended = event(&call, "bridge_ended");
    assert_eq!(ended["by"], "provider");
    eprintln!("bridge relay counters: {ended}");
    // message.wav holds about 5 s of speech: most of it must cross the bridge each way.
    for key in ["voiced_to_patient", "voiced_to_provider"] {
        let voiced = ended[key].as_u64().unwrap();
        assert!(voiced >= 100, "{key} = {voiced} frames of 20 ms: audio must flow both ways: {ended:#}");
    }
    let audit = audit_actions(&server);
    for action in ["oncall_alert_placed", "oncall_alert_answered", "oncall_bridged"] {
        assert!(audit.iter().any(|a| a == action), "{action} not audited: {audit:?}");
    }
    wait_for_metric(&server, "chartline_live_dialogs 0", Duration::from_secs(15));
}

#[test]
fn unanswered_alert_escalates_to_the_backup_who_acknowledges() {
    require_tool("sipp");
    ensure_oncall_pcaps();
    let primary = Phone::start("oncall_provider_no_answer.xml");
    let backup = Phone::start("oncall_provider_ack.xml");
    // A staff line is configured too: after hours it is not paged ([alerts] is for business hours).
    let staff = Phone::start("oncall_provider_ack.xml");
    let config = format!(
        "[oncall]\nring_timeout_s = 5\nmax_attempts = 1\nescalate_after_s = 60\n\
         providers = [{{ id = \"Practitioner/dr-a\", phone = \"{}\", backup = \"Practitioner/dr-b\" }}, {{ id = \"Practitioner/dr-b\", phone = \"{}\" }}]\n\
         [alerts]\nstaff_line = \"{}\"\n",
        primary.uri("dr-a"),
        backup.uri("dr-b"),
        staff.uri("nurse")
    );
    let server = Server::start(&practice(&config));
    urgent_call(&server);
    let (ok, out) = primary.finish(Duration::from_secs(30));
    assert!(ok, "primary phone (rang, then cancelled):\n{out}\n---- chartline ----\n{}", server.log_text());
    let (ok, out) = backup.finish(Duration::from_secs(40));
    assert!(ok, "backup phone (answered, pressed 3, hung up by Chartline):\n{out}\n---- chartline ----\n{}", server.log_text());
    let call = wait_for_event(&server, "acknowledged", Duration::from_secs(10));
    assert_eq!(oncall_kinds(&call), ["alert_placed", "alert_unanswered", "escalated", "alert_placed", "alert_answered", "acknowledged"], "{call:#}");
    assert_eq!(event(&call, "escalated")["from"], "Practitioner/dr-a");
    assert_eq!(event(&call, "escalated")["provider"], "Practitioner/dr-b");
    assert_eq!(event(&call, "acknowledged")["provider"], "Practitioner/dr-b");
    let audit = audit_actions(&server);
    assert!(audit.iter().any(|a| a == "oncall_escalated"), "{audit:?}");
    assert!(!staff.received_invite(), "after hours the staff line is not paged");
    assert!(!event_kinds(&call).iter().any(|k| k == "dashboard_alert"), "after hours: no dashboard push, {:?}", event_kinds(&call));
}

#[test]
fn an_alert_cut_short_by_a_crash_is_placed_again_after_the_restart() {
    require_tool("sipp");
    ensure_oncall_pcaps();
    let ringing = Phone::start("oncall_provider_no_answer.xml");
    let port = ringing.port;
    let config = format!("[oncall]\nring_timeout_s = 20\nproviders = [{{ id = \"Practitioner/dr-a\", phone = \"{}\" }}]\n", ringing.uri("dr-a"));
    let mut server = Server::start(&practice(&config));
    urgent_call(&server);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !ringing.received_invite() {
        assert!(Instant::now() < deadline, "no alert INVITE at the provider's phone\n{}", server.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    // The provider's phone rings when Chartline dies; it is picked up again on the same number.
    drop(ringing);
    let phone = Phone::start_on("oncall_provider_ack.xml", port);
    server.kill_and_restart();
    assert!(server.log_text().contains("resuming an on-call alert"), "{}", server.log_text());
    let (ok, out) = phone.finish(Duration::from_secs(60));
    assert!(ok, "provider phone after the restart (answered, pressed 3):\n{out}\n---- chartline ----\n{}", server.log_text());
    let call = wait_for_event(&server, "acknowledged", Duration::from_secs(10));
    assert_eq!(oncall_kinds(&call), ["alert_placed", "alert_resumed", "alert_placed", "alert_answered", "acknowledged"], "{call:#}");
    assert!(audit_actions(&server).iter().any(|a| a == "oncall_alert_resumed"));

    // Acknowledged: the next start owes nothing.
    server.kill_and_restart();
    assert!(!server.log_text().contains("resuming an on-call alert"), "{}", server.log_text());
}

#[test]
fn with_speech_on_the_alert_does_not_wait_for_the_transcript() {
    require_tool("sipp");
    ensure_oncall_pcaps();
    speech_model();
    let phone = Phone::start("oncall_provider_ack.xml");
    let config = format!("[oncall]\nproviders = [{{ id = \"Practitioner/dr-a\", phone = \"{}\" }}]\n", phone.uri("dr-a"));
    let server = Server::start(&closed_practice(&config));
    urgent_call(&server);
    let (ok, out) = phone.finish(Duration::from_secs(60));
    assert!(ok, "provider phone:\n{out}\n---- chartline ----\n{}", server.log_text());
    let call = wait_for_event(&server, "acknowledged", Duration::from_secs(10));
    let call = wait_for_event_in(&server, &call, "message_transcribed", Duration::from_secs(60));
    let lead = seconds_between(&call, "alert_placed", "message_transcribed");
    eprintln!("alert placed {lead:.2} s before the message was transcribed");
    assert!(lead > 0.0, "the alert went out while the message was being transcribed: {call:#}");
    assert_eq!(oncall_kinds(&call), ["alert_placed", "alert_answered", "acknowledged"], "{call:#}");
}

/// Polls the call until its timeline has `kind` too (the transcript may land after the alert).
fn wait_for_event_in(server: &Server, call: &serde_json::Value, kind: &str, timeout: Duration) -> serde_json::Value {
    let id = call["call_id"].as_str().unwrap();
    let deadline = Instant::now() + timeout;
    loop {
        let call = server.cli_json(&["calls", "show", id, "--json"]);
        if event_kinds(&call).iter().any(|k| k == kind) {
            return call;
        }
        assert!(Instant::now() < deadline, "no {kind} within {timeout:?}: {call:#}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn an_alert_to_a_tcp_phone_opens_the_connection_and_is_acknowledged() {
    require_tool("sipp");
    ensure_oncall_pcaps();
    let phone = Phone::start_with("oncall_provider_ack.xml", free_port(), "t1");
    let config = format!("[oncall]\nproviders = [{{ id = \"Practitioner/dr-a\", phone = \"{};transport=tcp\" }}]\n", phone.uri("dr-a"));
    let server = Server::start(&practice(&config));
    urgent_call(&server);
    let (ok, out) = phone.finish(Duration::from_secs(60));
    assert!(ok, "provider phone over TCP:\n{out}\n---- chartline ----\n{}", server.log_text());
    assert!(out.contains("Via: SIP/2.0/TCP 127.0.0.1:"), "the alert came over TCP: {out}");
    assert!(out.contains(";transport=tcp>"), "our Contact asks for TCP: {out}");
    let call = wait_for_event(&server, "acknowledged", Duration::from_secs(10));
    assert_eq!(oncall_kinds(&call), ["alert_placed", "alert_answered", "acknowledged"], "{call:#}");
}
