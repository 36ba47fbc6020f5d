//! Crash safety end to end: a SIPp keypad call is recording its message when Chartline is killed
//! with SIGKILL. After the restart the call is listed as interrupted with what it captured, its
//! (encrypted) recording decodes up to the last complete second, the embedded chart received the
//! result exactly once, and nothing on disk reads as plain SQLite or holds the caller's birth date.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const KEYPAD_ONLY: &str = "[speech]\nmodel_path = \"models/not-imported.bin\"\n";

/// The message twice with no `#`: the call is still recording when it is killed. Named like the
/// full call's message capture (the RTP sequence follows from the file name) in its own folder.
fn long_message_pcap() {
    let dir = repo_root().join("tests/sipp");
    std::fs::create_dir_all(dir.join("pcap/crash")).unwrap();
    let message = format!("wav:{}", repo_root().join("tests/fixtures/audio/message.wav").display());
    let status = Command::new("python3").arg("make_pcaps.py").arg("pcap/crash/message.pcap").args([&message, "silence:200", &message]).current_dir(&dir).status().unwrap();
    assert!(status.success(), "make_pcaps.py long_message failed");
}

fn active_call(server: &Server) -> Option<serde_json::Value> {
    let calls = server.cli_json(&["calls", "list", "--json"]);
    calls.as_array().unwrap().iter().find(|c| c["ended_at"].is_null() && c["recording"].is_string()).cloned()
}

#[test]
fn a_call_killed_while_recording_is_recovered_interrupted_with_its_audio_and_delivered_once() {
    require_tool("sipp");
    ensure_pcaps();
    long_message_pcap();
    let mut server = Server::start(KEYPAD_ONLY);
    let root = repo_root();
    let mut sipp = Command::new("sipp")
        .arg(format!("127.0.0.1:{}", server.sip_port))
        .arg("-sf")
        .arg(root.join("tests/sipp/crash_message.xml"))
        .args(["-i", "127.0.0.1", "-p", &free_port().to_string(), "-m", "1", "-nostdin", "-timeout", "120s"])
        .args(["-mp", &free_rtp_range(8).0.to_string()])
        .current_dir(root.join("tests/sipp"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run sipp");

    // Wait until the checkpointed record names the recording and six seconds of it (the prompt, the
    // tone, then the caller speaking) are sealed.
    let deadline = Instant::now() + Duration::from_secs(60);
    let call = loop {
        assert!(Instant::now() < deadline, "the call never started recording:\n{:#}\n{}", server.cli_json(&["calls", "list", "--json"]), server.log_text());
        if let Some(call) = active_call(&server) {
            let path = server.data_dir().join(call["recording"].as_str().unwrap());
            let sealed = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if sealed >= 28 + 6 * (5 + 16_000 + 16) {
                break call;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let call_id = call["call_id"].as_str().unwrap().to_string();
    assert_eq!(call["request"]["type"], "refill", "the checkpoint holds the dialog so far: {call:#}");

    server.kill_and_restart();
    let _ = sipp.kill();
    let _ = sipp.wait();
    assert!(server.log_text().contains("recovered calls interrupted"), "{}", server.log_text());

    let got = server.cli_json(&["calls", "show", &call_id, "--json"]);
    assert_eq!(got["outcome"], "interrupted", "{got:#}");
    assert!(!got["ended_at"].is_null());
    assert_eq!(got["patient"]["birth_date"], "1982-03-05", "what was captured is kept: {got:#}");
    assert_eq!(got["request"]["type"], "refill");
    assert!(event_kinds(&got).iter().any(|k| k == "interrupted"));

    let (audio, complete) = recording_stats(&server.data_dir(), got["recording"].as_str().unwrap());
    assert!(!complete, "the recording was cut by the kill");
    assert!(audio.duration_s >= 6.0, "every complete second kept: {:.1} s", audio.duration_s);
    assert!(audio.active_s > 1.0, "the caller's speech is in it: {:.2} s", audio.active_s);

    // The export command gives the same audio as a WAV anyone can play.
    let wav = server.dir.path().join("export.wav");
    let out = Command::new(BIN).args(["recording", "export", &call_id]).arg(&wav).arg("--config").arg(&server.config_path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!((wav_stats(&wav).duration_s - audio.duration_s).abs() < 0.01);

    // Delivered to the embedded chart once, and not again after another restart.
    let delivered = |server: &Server| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let call = server.cli_json(&["calls", "show", &call_id, "--json"]);
            if call["ehr"]["status"] == "delivered" {
                return call;
            }
            assert!(Instant::now() < deadline, "not delivered: {call:#}\n{}", server.log_text());
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    delivered(&server);
    server.kill_and_restart();
    delivered(&server);
    let chart = chartline::ehr::embedded::EmbeddedChart::open(&server.data_dir().join("chart.db")).unwrap();
    assert!(chart.task(&call_id).unwrap().is_some(), "the chart has the task");
    assert_eq!(chart.communications(&call_id).unwrap().len(), 1, "one communication for the call");
    drop(chart);

    // At rest: neither database is plain SQLite, and the birth date is in no file.
    for name in ["chartline.db", "chart.db", "chartline.db-wal", "chart.db-wal"] {
        let path = server.data_dir().join(name);
        let Ok(bytes) = std::fs::read(&path) else { continue };
        assert!(!bytes.starts_with(b"SQLite format 3"), "{name} is plain SQLite");
        assert!(!bytes.windows(10).any(|w| w == b"1982-03-05"), "{name} holds the birth date in clear");
    }
}
