//! Resource bounds of the call path, against the real binary and SIPp: the concurrent-call limit
//! (503 beyond it), the maximum call duration and message length really end what they bound, and
//! every dialog is freed after a mixed load of completed, cancelled, refused and failed calls.
//! (Per-packet bounds are unit tests: the jitter buffer in media::jitter, the SIP message size on
//! TCP in tests/sip_faults.rs.)

mod common;

use std::time::{Duration, Instant};

use common::*;

const KEYPAD_ONLY: &str = "[speech]\nmodel_path = \"models/not-imported.bin\"\n";

fn start(extra: &str) -> Server {
    require_tool("sipp");
    ensure_pcaps();
    Server::start(&format!("{KEYPAD_ONLY}{extra}"))
}

fn run(server: &Server, scenario: &str, extra: &[&str]) -> String {
    let (ok, out) = sipp(server, scenario, extra);
    assert!(ok, "SIPp {scenario} {extra:?} failed:\n{out}\n---- chartline ----\n{}", server.log_text());
    out
}

fn metric(server: &Server, name: &str) -> u64 {
    let text = server.metrics();
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' '))).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{name} not in\n{text}"))
}

/// bye_mid_prompt.xml with the caller staying `seconds` before the BYE, as a temp scenario.
fn long_call(server: &Server, seconds: u32) -> String {
    let xml = std::fs::read_to_string(repo_root().join("tests/sipp/bye_mid_prompt.xml")).unwrap().replace("<pause milliseconds=\"2000\"/>", &format!("<pause milliseconds=\"{}\"/>", seconds * 1000));
    let path = server.dir.path().join(format!("long_{seconds}.xml"));
    std::fs::write(&path, xml).unwrap();
    path.display().to_string()
}

#[test]
fn calls_beyond_max_concurrent_get_503_and_capacity_returns() {
    let server = start("[calls]\nmax_concurrent = 2\n");
    let long = long_call(&server, 6);
    std::thread::scope(|scope| {
        let calls: Vec<_> = (0..2).map(|_| scope.spawn(|| run(&server, &long, &[]))).collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        while metric(&server, "chartline_active_calls") < 2 {
            assert!(Instant::now() < deadline, "two calls never became active");
            std::thread::sleep(Duration::from_millis(100));
        }
        run(&server, "fault_expect_503.xml", &[]);
        run(&server, "fault_expect_503.xml", &["-t", "t1"]);
        assert_eq!(metric(&server, "chartline_active_calls"), 2, "the refused calls took no slot");
        for call in calls {
            call.join().unwrap();
        }
    });
    run(&server, "bye_mid_prompt.xml", &[]);
    assert_eq!(metric(&server, "chartline_calls_total{outcome=\"rejected\"}"), 2);
    assert!(server.log_text().contains("call limit reached: 503"));
    wait_for_metric(&server, "chartline_live_dialogs 0", Duration::from_secs(15));
    wait_for_metric(&server, "chartline_active_calls 0", Duration::from_secs(5));
}

#[test]
fn max_duration_ends_a_call_nobody_hangs_up() {
    let server = start("[calls]\nmax_duration_s = 3\n");
    let started = Instant::now();
    run(&server, "fault_wait_for_bye.xml", &[]);
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(3) && took < Duration::from_secs(8), "the server hung up after {took:?} (max 3 s)");
    let calls = server.wait_for_calls(1, Duration::from_secs(10));
    let call = server.cli_json(&["calls", "show", calls[0]["call_id"].as_str().unwrap(), "--json"]);
    assert!(event_kinds(&call).iter().any(|k| k == "max_duration"), "{:?}", event_kinds(&call));
    wait_for_metric(&server, "chartline_live_dialogs 0", Duration::from_secs(15));
}

#[test]
fn a_message_longer_than_max_message_s_is_cut() {
    // Without the pre-roll: the message here starts over the record prompt, and what was said
    // there would come on top of the 2 s after the tone.
    let server = start("[ivr]\nmax_message_s = 2\n[media]\nrecord_preroll_ms = 0\n");
    // full_call.xml with the 6.2 s message started 4.5 s after the menu key instead of 9 s, so it
    // covers the whole 2 s the recording may last (from 12.7 s after the ACK), and without the
    // pause after it: the cut brings the goodbye and our BYE while the message still plays.
    let xml = std::fs::read_to_string(repo_root().join("tests/sipp/full_call.xml")).unwrap().replacen("  <pause milliseconds=\"9000\"/>\n", "  <pause milliseconds=\"4500\"/>\n", 1).replacen(
        "  <pause milliseconds=\"8000\"/>\n",
        "",
        1,
    );
    assert!(xml.contains("\"4500\"") && !xml.contains("\"8000\""), "the scenario was adapted");
    let path = server.dir.path().join("cut_message.xml");
    std::fs::write(&path, xml).unwrap();
    run(&server, &path.display().to_string(), &[]);
    let calls = server.wait_for_calls(1, Duration::from_secs(10));
    let call = server.cli_json(&["calls", "show", calls[0]["call_id"].as_str().unwrap(), "--json"]);
    assert!(event_kinds(&call).iter().any(|k| k == "message_max_length"), "{:?}", event_kinds(&call));
    let (recording, _) = recording_stats(&server.data_dir(), call["recording"].as_str().expect("a recording"));
    let sent = wav_stats(&repo_root().join("tests/fixtures/audio/message.wav"));
    assert!(sent.duration_s > 5.0, "the message said is longer than the limit");
    assert!(recording.duration_s >= 1.5 && recording.duration_s <= 2.6, "recording of {:.2} s with max_message_s = 2:\n{call:#}", recording.duration_s);
    eprintln!("message of {:.1} s recorded as {:.2} s (max 2 s)", sent.duration_s, recording.duration_s);
}

#[test]
fn every_dialog_is_freed_after_a_mixed_load() {
    // T1 = 100 ms: the lost-ACK calls give up after 64·T1 = 6.4 s. Calls ring 1.5 s, so the
    // CANCELs of cancel.xml arrive while ringing.
    // Enough RTP ports for every call at once (the harness's default block holds 20 calls).
    let (rtp_min, rtp_max) = free_rtp_range(200);
    let server = start(&format!("[calls]\nring_ms = 1500\n[sip]\nt1_ms = 100\nt2_ms = 400\n[media]\nrtp_port_min = {rtp_min}\nrtp_port_max = {rtp_max}\n"));
    let mixes: [(&str, &[&str]); 6] = [
        ("bye_mid_prompt.xml", &["-m", "12", "-r", "4", "-l", "12"]),
        ("cancel.xml", &["-m", "8", "-r", "4", "-l", "8"]),
        ("codec_mismatch.xml", &["-m", "8", "-r", "4", "-l", "8"]),
        ("fault_cancel_after_200.xml", &["-m", "4", "-r", "2", "-l", "4"]),
        ("lost_ack.xml", &["-m", "3", "-r", "3", "-l", "3"]),
        ("fault_bye_no_dialog.xml", &["-m", "8", "-r", "4", "-l", "8"]),
    ];
    let started = Instant::now();
    std::thread::scope(|scope| {
        let runs: Vec<_> = mixes.iter().map(|(scenario, extra)| (scenario, scope.spawn(|| sipp(&server, scenario, extra)))).collect();
        let mut peak = 0;
        while runs.iter().any(|(_, run)| !run.is_finished()) {
            peak = peak.max(metric(&server, "chartline_live_dialogs"));
            std::thread::sleep(Duration::from_millis(100));
        }
        for (scenario, run) in runs {
            let (ok, out) = run.join().unwrap();
            assert!(ok, "SIPp {scenario} failed:\n{out}\n---- chartline ----\n{}", server.log_text());
        }
        assert!(peak >= 5, "the load held several dialogs at once (peak {peak})");
        eprintln!("mixed load: peak {peak} live dialogs, SIPp done after {:.1} s", started.elapsed().as_secs_f64());
    });
    wait_for_metric(&server, "chartline_live_dialogs 0", Duration::from_secs(20));
    wait_for_metric(&server, "chartline_active_calls 0", Duration::from_secs(5));
    eprintln!("all dialogs freed {:.1} s after the load started", started.elapsed().as_secs_f64());
    let calls = server.wait_for_calls(12 + 4 + 3, Duration::from_secs(20));
    assert!(calls.len() >= 12 + 4 + 3, "every answered call has a finished record: {}", calls.len());
}
