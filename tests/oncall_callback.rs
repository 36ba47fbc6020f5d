//! The provider callback line against SIPp: an urgent call leaves a task for Dr A; Dr A dials
//! extension 7000 (SIPp UAC), enters the PIN, calls the patient back (a SIPp UAS behind the
//! outbound proxy address) with audio relayed both ways, then marks the task done by phone.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn cli_with_stdin(server: &Server, args: &[&str], stdin: &str) {
    let mut child = Command::new(BIN).args(args).arg("--config").arg(&server.config_path).current_dir(repo_root()).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "chartline {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn audit(server: &Server) -> Vec<serde_json::Value> {
    server.cli_json(&["audit", "list", "--limit", "200"]).as_array().cloned().unwrap_or_default()
}

#[test]
fn provider_logs_in_calls_the_patient_back_and_marks_the_task_done() {
    require_tool("sipp");
    ensure_pcaps();
    let dir = repo_root().join("tests/sipp");
    for (name, digits) in [("oncall_urgent", "digits:*"), ("oncall_pin", "digits:4321#"), ("oncall_key1", "digits:1"), ("oncall_key2", "digits:2")] {
        let status = Command::new("python3").arg("make_pcaps.py").arg(format!("pcap/{name}.pcap")).arg(digits).current_dir(&dir).status().unwrap();
        assert!(status.success());
    }
    let patient_port = free_port();
    let mut patient = Command::new("sipp")
        .arg("-sf")
        .arg(dir.join("oncall_patient_hangs_up.xml"))
        .args(["-i", "127.0.0.1", "-p", &patient_port.to_string(), "-m", "1", "-nostdin", "-timeout", "150s", "-timeout_error"])
        .args(["-mp", &free_rtp_range(8).0.to_string()])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let config = format!(
        "[speech]\nmodel_path = \"models/not-imported.bin\"\n\
         [practice]\nholidays = []\n[practice.hours]\nmon = []\ntue = []\nwed = []\nthu = []\nfri = []\nsat = []\nsun = []\n\
         [routing]\non_call = [{{ provider = \"Practitioner/dr-a\", days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"] }}]\n\
         [oncall]\nalert_after_hours = false\ncallback_number = \"7000\"\ncaller_id = \"+15550102000\"\noutbound_proxy = \"127.0.0.1:{patient_port}\"\n"
    );
    let server = Server::start(&config);
    cli_with_stdin(&server, &["user", "add", "ann", "--name", "Dr Ann", "--role", "provider", "--practitioner", "dr-a"], "a long enough password\n");
    cli_with_stdin(&server, &["user", "pin", "ann"], "4321\n");

    let (ok, out) = sipp(&server, "oncall_urgent_call.xml", &[]);
    assert!(ok, "urgent call:\n{out}\n{}", server.log_text());
    let task = server.wait_for_calls(1, Duration::from_secs(10))[0]["call_id"].as_str().unwrap().to_string();

    let (ok, out) = sipp(&server, "oncall_callback_line.xml", &[]);
    assert!(ok, "provider on the callback line:\n{out}\n---- chartline ----\n{}", server.log_text());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = patient.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "patient SIPp still running");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "patient phone failed\n{}", server.log_text());

    let entries = audit(&server);
    let actions: Vec<&str> = entries.iter().filter_map(|e| e["action"].as_str()).collect();
    for action in ["callback_line_login", "callback_dialed", "callback_bridged", "callback_bridge_ended", "task_done"] {
        assert!(actions.contains(&action), "{action} not audited: {actions:?}");
    }
    let done = entries.iter().find(|e| e["action"] == "task_done").unwrap();
    assert_eq!((done["object"].as_str(), done["who"].as_str(), done["source"].as_str()), (Some(task.as_str()), Some("ann"), Some("phone")));
    let bridge = entries.iter().find(|e| e["action"] == "callback_bridge_ended").unwrap();
    let counts: serde_json::Value = serde_json::from_str(bridge["detail"].as_str().unwrap()).unwrap();
    eprintln!("callback bridge relay counters: {counts}");
    for key in ["voiced_to_patient", "voiced_to_provider"] {
        assert!(counts[key].as_u64().unwrap() >= 100, "{key}: audio must flow both ways: {counts}");
    }
    let call = server.cli_json(&["calls", "show", &task, "--json"]);
    let kinds: Vec<&str> = call["events"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(kinds.contains(&"task_done") && kinds.contains(&"callback_bridged"), "timeline: {kinds:?}");
}
