//! Emergencies in business hours reach a person: a nurse has the dashboard open in chromium
//! (tests/browser/live_alert.js) when a real SIP call (SIPp, a piper voice through the real
//! Whisper model) says "crushing chest pain". The banner must appear in the open page without a
//! reload within a few seconds of the call's emergency event (the latency is printed), the page
//! must try to play the alert sound, a page opened later must get the alert replayed, and
//! Acknowledge must land on the timeline and in the audit trail. A SIPp UAS as the staff line
//! receives the page INVITE and acknowledges with key 3; the on-call provider is not called.
//! A keypad urgent call in business hours pages the staff line when it ends.

mod common;
mod oncall_support;
mod web_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use oncall_support::Phone;
use web_support::*;

/// A practice open around the clock (every call is in business hours) that also has an on-call
/// provider every day, with `staff` as the staff line.
fn open_practice(provider: &Phone, staff: &Phone, extra: &str) -> String {
    let always_open = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map(|d| format!("{d} = [\"00:00-23:59\"]\n")).concat();
    format!(
        "[practice]\nholidays = []\n[practice.hours]\n{always_open}\
         [routing]\non_call = [{{ provider = \"Practitioner/dr-a\", days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"] }}]\n\
         [oncall]\nproviders = [{{ id = \"Practitioner/dr-a\", phone = \"{}\" }}]\n\
         [alerts]\nstaff_line = \"{}\"\n{extra}",
        provider.uri("dr-a"),
        staff.uri("nurse")
    )
}

fn prompt_s(names: &[&str]) -> f64 {
    names.iter().map(|n| wav_stats(&repo_root().join(format!("sounds/en/{n}.wav"))).duration_s).sum()
}

/// The emergency caller's scenario: the sentence as RTP, after the greeting, then on the line for
/// the 911 instruction and a few seconds more.
fn emergency_scenario(dir: &std::path::Path) -> std::path::PathBuf {
    let (wav, seconds) = spoken(dir, "pain", "I have crushing chest pain and my left arm feels numb.");
    let pcap = dir.join("pain.pcap");
    let status = Command::new("python3").arg(repo_root().join("tests/sipp/make_pcaps.py")).arg(&pcap).arg(format!("wav:{}", wav.display())).status().unwrap();
    assert!(status.success());
    let lead_ms = ((prompt_s(&["greeting", "practice-name", "disclaimer-911"]) + 1.5) * 1000.0) as u64;
    let hold_ms = ((seconds + prompt_s(&["emergency", "emergency-stay"]) + 6.0) * 1000.0) as u64;
    let xml = std::fs::read_to_string(repo_root().join("tests/sipp/emergency_caller.xml")).unwrap();
    let xml = xml.replace("LEAD_MS", &lead_ms.to_string()).replace("HOLD_MS", &hold_ms.to_string()).replace("PAIN_PCAP", &pcap.display().to_string());
    let path = dir.join("emergency_caller.xml");
    std::fs::write(&path, xml).unwrap();
    path
}

fn event<'a>(call: &'a serde_json::Value, kind: &str) -> &'a serde_json::Value {
    call["events"].as_array().unwrap().iter().find(|e| e["kind"] == kind).unwrap_or_else(|| panic!("no {kind} event: {:?}", event_kinds(call)))
}

/// Polls the call's timeline until an event of `kind` appears.
fn wait_for_event(server: &Server, call_id: &str, kind: &str, timeout: Duration) -> serde_json::Value {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let call = server.cli_json(&["calls", "show", call_id, "--json"]);
        if event_kinds(&call).iter().any(|k| k == kind) {
            return call;
        }
        assert!(std::time::Instant::now() < deadline, "no {kind} event within {timeout:?}: {:?}\n---- chartline ----\n{}", event_kinds(&call), server.log_text());
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn audit_actions(server: &Server, call_id: &str) -> Vec<serde_json::Value> {
    server.cli_json(&["audit", "list", "--object", call_id]).as_array().unwrap().clone()
}

#[test]
fn business_hours_emergency_reaches_the_open_dashboard_and_the_staff_line() {
    require_tool("sipp");
    require_tool("node");
    assert!(std::path::Path::new("/usr/bin/chromium").exists(), "chromium missing: run scripts/setup --test");
    assert!(repo_root().join("node_modules/playwright-core").exists(), "playwright-core missing: run scripts/setup --test");
    speech_model();
    ensure_oncall_pcaps();
    let staff = Phone::start("oncall_provider_ack.xml");
    let provider = Phone::start("oncall_provider_ack.xml");
    let (server, base) = start_with(&open_practice(&provider, &staff, ""));
    server.wait_for_log("speech recognition ready", Duration::from_secs(30));
    add_user(&server, "nina", "nurse", None, &[]);

    // The nurse's dashboard is open and listening before the call.
    let shots = repo_root().join("target/screenshots/live_alert");
    std::fs::create_dir_all(&shots).unwrap();
    let ended_flag = server.dir.path().join("call-ended");
    let mut node = Command::new("node")
        .arg("tests/browser/live_alert.js")
        .current_dir(repo_root())
        .env("BASE", &base)
        .env("USERNAME", "nina")
        .env("PASSWORD", PASSWORD)
        .env("SHOTS", &shots)
        .env("CALL_ENDED", &ended_flag)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node");
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let ready = lines.next().and_then(Result::ok);
    assert_eq!(ready.as_deref(), Some("READY"), "the browser did not get ready: {}", server.log_text());

    let scenario = emergency_scenario(server.dir.path());
    let (ok, out) = sipp(&server, scenario.to_str().unwrap(), &[]);
    assert!(ok, "emergency caller failed:\n{out}\n---- chartline ----\n{}", server.log_text());
    let calls = server.wait_for_calls(1, Duration::from_secs(30));
    let call_id = calls[0]["call_id"].as_str().unwrap().to_string();
    std::fs::write(&ended_flag, b"").unwrap();

    let report_line = lines.last().and_then(Result::ok).unwrap_or_default();
    let status = node.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut node.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "browser flow failed:\n{stderr}\n{report_line}\n---- chartline ----\n{}", server.log_text());
    let report: serde_json::Value = serde_json::from_str(&report_line).unwrap();
    eprintln!("browser report: {report}");

    // The banner: this call, in the open page, without a reload, seconds after the emergency.
    let call = wait_for_event(&server, &call_id, "dashboard_acknowledged", Duration::from_secs(10));
    assert_eq!(report["call_id"], call_id.as_str());
    assert_eq!(report["link"], format!("/tasks/{call_id}"));
    assert!(report["banner_text"].as_str().unwrap().starts_with("Emergency call"), "{report}");
    assert_eq!(report["reloads"], 0, "the banner came without a reload");
    let emergency_at = chrono::DateTime::parse_from_rfc3339(event(&call, "emergency")["at"].as_str().unwrap()).unwrap().timestamp_millis();
    let latency_ms = report["banner_at_ms"].as_i64().unwrap() - emergency_at;
    eprintln!("live alert: banner on the open dashboard {latency_ms} ms after the call's emergency event");
    assert!((0..5000).contains(&latency_ms), "banner {latency_ms} ms after the emergency event");
    assert!(report["sound_attempts"].as_u64().unwrap() >= 1, "the page tried to play the alert sound: {report}");
    eprintln!("live alert: sound {}", report["sound"]);
    assert_eq!(report["late_page_replayed"], true);
    assert_eq!(report["other_page_cleared"], true);
    assert_eq!(report["notice"], "Alert acknowledged");
    assert_eq!(report["timeline_has_push"], true, "{report}");
    assert_eq!(report["timeline_has_ack"], true, "{report}");

    // The call's record: the push (how many pages), the acknowledgement (who), the staff page.
    assert!(event(&call, "dashboard_alert")["pages"].as_u64().unwrap() >= 1, "{call:#}");
    assert_eq!(event(&call, "dashboard_alert")["severity"], "emergency");
    assert_eq!(event(&call, "dashboard_acknowledged")["by"], "nina");
    let staff_uri = staff.uri("nurse");
    let (ok, out) = staff.finish(Duration::from_secs(40));
    assert!(ok, "staff line (answered, pressed 3, hung up by Chartline):\n{out}\n---- chartline ----\n{}", server.log_text());
    let call = wait_for_event(&server, &call_id, "acknowledged", Duration::from_secs(10));
    let placed = event(&call, "alert_placed");
    assert_eq!(placed["provider"], "staff_line");
    assert_eq!(placed["target"], staff_uri.as_str());
    assert_eq!(event(&call, "acknowledged")["by"], "key");
    assert!(!provider.received_invite(), "in business hours the on-call provider is not called");

    // The audit trail names them.
    let audit = audit_actions(&server, &call_id);
    let find = |action: &str| audit.iter().find(|e| e["action"] == action).cloned().unwrap_or_else(|| panic!("{action} not audited: {audit:#?}"));
    assert_eq!(find("alert_acknowledge")["who"], "nina");
    assert_eq!(find("alert_dashboard_alert")["who"], "chartline");
    for action in ["staff_alert_placed", "staff_alert_answered", "staff_acknowledged"] {
        assert_eq!(find(action)["who"], "staff_line");
    }
}

#[test]
fn business_hours_urgent_keypad_call_pages_the_staff_line_when_it_ends() {
    require_tool("sipp");
    ensure_oncall_pcaps();
    let staff = Phone::start("oncall_provider_ack.xml");
    let provider = Phone::start("oncall_provider_ack.xml");
    let server = Server::start(&format!("[speech]\nmodel_path = \"models/not-imported.bin\"\n{}", open_practice(&provider, &staff, "")));
    let (ok, out) = sipp(&server, "oncall_urgent_call.xml", &[]);
    assert!(ok, "urgent call failed:\n{out}\n---- chartline ----\n{}", server.log_text());
    let calls = server.wait_for_calls(1, Duration::from_secs(15));
    let call_id = calls[0]["call_id"].as_str().unwrap().to_string();
    let (ok, out) = staff.finish(Duration::from_secs(40));
    assert!(ok, "staff line:\n{out}\n---- chartline ----\n{}", server.log_text());
    let call = wait_for_event(&server, &call_id, "acknowledged", Duration::from_secs(10));
    assert_eq!(event(&call, "dashboard_alert")["severity"], "urgent");
    assert_eq!(event(&call, "dashboard_alert")["pages"], 0, "nobody had the dashboard open");
    assert_eq!(event(&call, "alert_placed")["provider"], "staff_line");
    assert!(!provider.received_invite(), "in business hours the on-call provider is not called");
}
