//! Emergencies in business hours reach a person: a nurse has the dashboard open in chromium
//! (tests/browser/live_alert.js) when a real SIP call (SIPp, a piper voice through the real
//! Whisper model) says "crushing chest pain". The banner must appear in the open page without a
//! reload within a few seconds of the call's emergency event (the latency is printed), the page
//! must try to play the alert sound, a page opened later must get the alert replayed, its link
//! must open the call as it stands while the caller is still on the line, and
//! Acknowledge must land on the timeline and in the audit trail. A SIPp UAS as the staff line
//! receives the page INVITE and acknowledges with key 3; the on-call provider is not called.
//! A keypad urgent call in business hours pages the staff line when it ends; acknowledging it on the
//! dashboard stops that page (the ringing staff phone gets CANCEL, nobody is called again).
//! Logging out ends the session's open alert streams at once.

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

/// The emergency caller's scenario: the sentence as RTP, after the greeting, then on the line for
/// the 911 instruction and a few seconds more.
fn emergency_scenario(dir: &std::path::Path) -> std::path::PathBuf {
    let (wav, seconds) = spoken(dir, "pain", "I have crushing chest pain and my left arm feels numb.");
    let pcap = dir.join("pain.pcap");
    let status = Command::new("python3").arg(repo_root().join("tests/sipp/make_pcaps.py")).arg(&pcap).arg(format!("wav:{}", wav.display())).status().unwrap();
    assert!(status.success());
    let lead_ms = ((prompt_seconds(&["greeting", "practice-name", "disclaimer-911"]) + 1.5) * 1000.0) as u64;
    let hold_ms = ((seconds + prompt_seconds(&["emergency", "emergency-stay"]) + 6.0) * 1000.0) as u64;
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
    assert_eq!(report["link_status"], 200, "the banner's link opens during the call: {report}");
    assert_eq!(report["link_before_call_ended"], true, "{report}");
    assert_eq!(report["link_in_progress"], true, "the page says the call is in progress: {report}");
    assert_eq!(report["link_timeline_has_emergency"], true, "{report}");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledging_on_the_dashboard_stops_the_ringing_staff_page() {
    require_tool("sipp");
    ensure_oncall_pcaps();
    // The staff phone rings until it is cancelled; the ring timeout is far longer than the test.
    let staff = Phone::start("oncall_provider_no_answer.xml");
    let provider = Phone::start("oncall_provider_ack.xml");
    let extra = format!("[speech]\nmodel_path = \"models/not-imported.bin\"\n{}", open_practice(&provider, &staff, "[oncall]\nring_timeout_s = 120\n"));
    let (server, base) = start_with(&extra);
    add_user(&server, "nina", "nurse", None, &[]);
    let (ok, out) = tokio::task::block_in_place(|| sipp(&server, "oncall_urgent_call.xml", &[]));
    assert!(ok, "urgent call failed:\n{out}\n---- chartline ----\n{}", server.log_text());
    let calls = server.wait_for_calls(1, Duration::from_secs(15));
    let call_id = calls[0]["call_id"].as_str().unwrap().to_string();
    wait_for_event(&server, &call_id, "alert_placed", Duration::from_secs(10));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !staff.received_invite() {
        assert!(std::time::Instant::now() < deadline, "the staff line was never paged: {}", server.log_text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut browser = Browser::new(&base);
    browser.login("nina", PASSWORD).await;
    let page = browser.get(&format!("/tasks/{call_id}")).await;
    let csrf = Browser::csrf(&page);
    let acked_at = std::time::Instant::now();
    let ack = browser.post(&format!("/live/alerts/{call_id}/ack"), &[("csrf", &csrf)]).await;
    assert_eq!(ack.status, 303, "{}", ack.body);
    let (ok, out) = tokio::task::block_in_place(|| staff.finish(Duration::from_secs(20)));
    let cancelled_after = acked_at.elapsed();
    assert!(ok, "the ringing staff phone gets CANCEL:\n{out}\n---- chartline ----\n{}", server.log_text());
    eprintln!("staff page: CANCEL {} ms after the dashboard acknowledgement", cancelled_after.as_millis());
    assert!(cancelled_after < Duration::from_secs(5), "cancelled {cancelled_after:?} after the acknowledgement (the ring timeout is 120 s)");

    let call = wait_for_event(&server, &call_id, "page_stopped", Duration::from_secs(10));
    let stopped = event(&call, "page_stopped");
    assert_eq!(stopped["by"], event(&call, "dashboard_acknowledged")["name"]);
    assert_eq!(stopped["reason"], "acknowledged on the dashboard");
    let kinds = event_kinds(&call);
    assert_eq!(kinds.iter().filter(|k| *k == "alert_placed").count(), 1, "nobody is paged again: {kinds:?}");
    assert!(!kinds.iter().any(|k| k == "alert_unanswered" || k == "alert_failed"), "{kinds:?}");
    assert!(!provider.received_invite());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_ends_the_live_alert_stream() {
    let (server, base) = start();
    add_user(&server, "nina", "nurse", None, &[]);
    let mut browser = Browser::new(&base);
    browser.login("nina", PASSWORD).await;
    let csrf = Browser::csrf(&browser.get("/").await);
    let cookies = browser.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let mut stream = browser.http.get(format!("{base}/live/alerts")).header("cookie", &cookies).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    assert!(tokio::time::timeout(Duration::from_millis(500), stream.chunk()).await.is_err(), "the stream stays open while signed in");

    let logged_out = browser.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(logged_out.location.as_deref(), Some("/login"));
    let started = std::time::Instant::now();
    let end = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match stream.chunk().await {
                Ok(Some(_)) => continue,
                other => return other.map(|_| ()),
            }
        }
    })
    .await;
    assert!(matches!(end, Ok(Ok(()))), "the stream did not end after logout: {end:?}");
    eprintln!("live alerts: stream closed {} ms after logout", started.elapsed().as_millis());
    let again = browser.http.get(format!("{base}/live/alerts")).header("cookie", &cookies).send().await.unwrap();
    assert_ne!(again.status(), 200, "the old cookie opens no stream");
}
