//! The SIP edge under abuse: a flood of INVITEs from one source while a normal call proceeds from
//! another, and a scanner's OPTIONS dropped without an answer.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn invite_flood_is_dropped_while_a_live_call_proceeds() {
    require_tool("sipp");
    ensure_pcaps();
    let server = Server::start("[speech]\nmodel_path = \"models/not-imported.bin\"\n");
    let (flood_calls, flood_rate) = (3000, 600);
    let (call, flood_elapsed) = std::thread::scope(|scope| {
        let call = scope.spawn(|| sipp(&server, "full_call.xml", &[]));
        std::thread::sleep(Duration::from_millis(500));
        let started = Instant::now();
        let out = Command::new("sipp")
            .arg(format!("127.0.0.1:{}", server.sip_port))
            .arg("-sf")
            .arg(repo_root().join("tests/sipp/flood_invite.xml"))
            .args(["-i", "127.0.0.3", "-p", &free_port().to_string(), "-r", &flood_rate.to_string(), "-m", &flood_calls.to_string()])
            .args(["-nostdin", "-timeout", "60s"])
            .output()
            .expect("run sipp");
        // The INVITEs let through are answered, which this scenario does not expect: SIPp counts
        // those as failed calls. What matters is that it sent them all.
        let screen = String::from_utf8_lossy(&out.stdout);
        assert!(screen.lines().any(|l| l.trim_start().starts_with("INVITE ---") && l.split_whitespace().nth(2) == Some(&flood_calls.to_string())), "flood not sent:\n{screen}");
        (call.join().unwrap(), started.elapsed())
    });
    assert!(call.0, "the live call was unaffected by the flood:\n{}", call.1);
    let calls = server.wait_for_calls(1, Duration::from_secs(10));
    assert_eq!(calls.len(), 1, "only the live call has a record (flood INVITEs carry no offer and get no ACK)");
    assert_eq!(calls[0]["request"]["type"], "refill", "the live call's digits all arrived");
    assert_eq!(calls[0]["patient"]["birth_date"], "1982-03-05");

    let metrics = server.metrics();
    let limited: u64 = metrics.lines().find_map(|l| l.strip_prefix("chartline_sip_rate_limited_total ")).unwrap().parse().unwrap();
    // The burst (40) and the sustained rate (20/s) while the flood is sent pass; the rest is dropped.
    let send_window_s = flood_calls as f64 / flood_rate as f64;
    let allowed_at_most = 40 + ((send_window_s + 1.0) * 20.0).ceil() as u64;
    assert!(limited >= flood_calls - allowed_at_most, "dropped {limited} of {flood_calls}:\n{metrics}");
    eprintln!(
        "flood: {flood_calls} INVITEs at {flood_rate}/s ({send_window_s:.1} s; SIPp done after {:.1} s), {limited} dropped = {:.0}/s, live call completed",
        flood_elapsed.as_secs_f64(),
        limited as f64 / send_window_s
    );
}

#[test]
fn scanners_get_no_answer() {
    require_tool("sipp");
    let server = Server::start("");
    let scenario = std::fs::read_to_string(repo_root().join("tests/sipp/options.xml")).unwrap().replace("Accept: application/sdp", "User-Agent: friendly-scanner");
    let path = server.dir.path().join("scanner.xml");
    std::fs::write(&path, scenario).unwrap();
    let out = Command::new("sipp")
        .arg(format!("127.0.0.1:{}", server.sip_port))
        .arg("-sf")
        .arg(&path)
        .args(["-i", "127.0.0.1", "-p", &free_port().to_string(), "-m", "1", "-nostdin", "-timeout", "3s", "-timeout_error"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "a scanner's OPTIONS must not be answered");
    wait_for_metric(&server, "chartline_sip_rate_limited_total 1", Duration::from_secs(5));
}
