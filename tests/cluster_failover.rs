//! The cluster's front door end to end: `scripts/cluster` starts Kamailio (deploy/kamailio) and
//! two Chartline nodes; a SIPp storm of keypad calls (full_call.xml) goes through Kamailio while
//! one node is killed with SIGKILL mid-run. The calls it had fail in SIPp (BYE timeout, never a
//! hang), Kamailio takes it out of rotation within 2 s, every other call succeeds on the node
//! left (answered within 2 s even when its INVITE first went to the dead node), and each finished
//! call has exactly one finished record, in the store of the node that took it.

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use common::*;

/// Keypad calls with no speech at all: neither live turns nor the chart transcript of a message.
const KEYPAD_ONLY: &str = "[speech]\nmodel_path = \"models/not-imported.bin\"\n[speech.chart]\nmodel_path = \"\"\n";
const CALLS: u32 = 30;

/// A cluster started by `scripts/cluster` in a temp dir, on free ports; stopped on drop.
struct Cluster {
    dir: tempfile::TempDir,
    listen: String,
    node_port: u16,
    metrics_port: u16,
}

impl Cluster {
    fn start(nodes: usize) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let node_toml = dir.path().join("node.toml");
        std::fs::write(&node_toml, KEYPAD_ONLY).unwrap();
        let (rtp_min, rtp_max) = free_rtp_range(100);
        let cluster = Cluster { listen: format!("127.0.0.1:{}", free_port()), node_port: free_port(), metrics_port: free_port(), dir };
        let out = Command::new(repo_root().join("scripts/cluster"))
            .arg("start")
            .args(["--nodes", &nodes.to_string(), "--listen", &cluster.listen])
            .args(["--node-port", &cluster.node_port.to_string(), "--metrics-port", &cluster.metrics_port.to_string(), "--web-port", &free_port().to_string()])
            .args(["--rtp-ports", &format!("{rtp_min}-{rtp_max}"), "--node-toml"])
            .arg(&node_toml)
            .arg("--dir")
            .arg(cluster.dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && stdout.contains("cluster ready"), "scripts/cluster start failed:\n{stdout}{}", String::from_utf8_lossy(&out.stderr));
        cluster
    }

    fn node_dir(&self, node: usize) -> PathBuf {
        self.dir.path().join(format!("node{node}"))
    }

    fn node_uri(&self, node: usize) -> String {
        format!("sip:127.0.1.{node}:{}", self.node_port)
    }

    fn kamailio_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("kamailio/kamailio.log")).unwrap_or_default()
    }

    fn kill_node(&self, node: usize) {
        let pid = std::fs::read_to_string(self.node_dir(node).join("pid")).unwrap();
        assert!(Command::new("kill").args(["-KILL", pid.trim()]).status().unwrap().success(), "kill -9 node {node}");
    }

    fn active_calls(&self, node: usize) -> u64 {
        let metrics = metrics_at(SocketAddr::from(([127, 0, 1, node as u8], self.metrics_port)));
        metrics.lines().find_map(|l| l.strip_prefix("chartline_active_calls ")).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
    }

    /// Every call record in a node's store (read with the CLI, also once the node is dead).
    fn records(&self, node: usize) -> Vec<serde_json::Value> {
        let config = self.node_dir(node).join("chartline.toml");
        let out = Command::new(BIN).args(["calls", "list", "--json", "--limit", "1000", "--config"]).arg(&config).current_dir(repo_root()).output().unwrap();
        assert!(out.status.success(), "calls list on node {node}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap().as_array().unwrap().clone()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("scripts/cluster")).arg("stop").arg("--dir").arg(self.dir.path()).status();
        if std::thread::panicking() {
            eprintln!("---- kamailio ----\n{}", self.kamailio_log());
            for node in [1, 2] {
                let log = std::fs::read_to_string(self.node_dir(node).join("chartline.log")).unwrap_or_default();
                eprintln!("---- node {node} (last 60 lines) ----\n{}", log.lines().rev().take(60).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n"));
            }
        }
    }
}

/// SIPp's totals (successful, failed) from its last statistics row.
fn sipp_totals(stats: &Path) -> (u32, u32) {
    let text = std::fs::read_to_string(stats).unwrap_or_else(|e| panic!("{}: {e}", stats.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(';').collect();
    let last: Vec<&str> = lines.rfind(|l| !l.trim().is_empty()).unwrap().split(';').collect();
    let column = |name: &str| last[header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("no {name} in {header:?}"))].parse().unwrap();
    (column("SuccessfulCall(C)"), column("FailedCall(C)"))
}

/// INVITE→200 of every answered call, in ms, from SIPp's response-time file (removed after).
fn answer_times(rtt_prefix: &str) -> Vec<f64> {
    let dir = repo_root().join("tests/sipp");
    let mut times = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()) {
        let name = entry.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with(rtt_prefix) && name.ends_with("_rtt.csv") {
            let text = std::fs::read_to_string(&entry).unwrap();
            let mut lines = text.lines();
            let header: Vec<&str> = lines.next().unwrap().split(';').collect();
            let col = header.iter().position(|h| *h == "response_time_ms").expect("response_time_ms column");
            times.extend(lines.filter_map(|l| l.split(';').nth(col)?.parse::<f64>().ok()));
            std::fs::remove_file(&entry).unwrap();
        }
    }
    times
}

fn sip_call_id(record: &serde_json::Value) -> String {
    let answered = record["events"].as_array().unwrap().iter().find(|e| e["kind"] == "answered").unwrap_or_else(|| panic!("no answered event: {record:#}"));
    answered["sip_call_id"].as_str().unwrap().to_string()
}

#[test]
fn killing_a_node_mid_storm_loses_no_finished_call_and_new_calls_go_to_the_other() {
    require_tool("sipp");
    require_tool("kamailio");
    require_tool("kamcmd");
    ensure_pcaps();
    let cluster = Cluster::start(2);
    let stats = cluster.dir.path().join("sipp-stats.csv");

    // 30 keypad calls of about 27 s at 2 per second, all through the front door.
    let storm = {
        let (listen, stats) = (cluster.listen.clone(), stats.display().to_string());
        std::thread::spawn(move || {
            let calls = CALLS.to_string();
            let args = ["-m", &calls, "-l", &calls, "-r", "2", "-rp", "1000", "-timeout", "150s", "-trace_stat", "-stf", &stats, "-fd", "1", "-trace_rtt", "-rtt_freq", "1"];
            sipp_at(&listen, "full_call.xml", &args)
        })
    };

    // Kill node 2 once it has three calls up (the storm is about 3 s in).
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut before_1, mut before_2) = (0, 0);
    while before_2 < 3 {
        assert!(Instant::now() < deadline, "node 2 never had 3 calls up (node 1: {before_1}, node 2: {before_2})");
        std::thread::sleep(Duration::from_millis(50));
        (before_1, before_2) = (cluster.active_calls(1), cluster.active_calls(2));
    }
    let killed_at = (Instant::now(), SystemTime::now());
    cluster.kill_node(2);
    let down_line = format!("chartline node down: {}", cluster.node_uri(2));
    let down_after = loop {
        if cluster.kamailio_log().contains(&down_line) {
            break killed_at.0.elapsed();
        }
        assert!(killed_at.0.elapsed() < Duration::from_secs(10), "Kamailio never marked node 2 down:\n{}", cluster.kamailio_log());
        std::thread::sleep(Duration::from_millis(20));
    };

    let (_, sipp_out) = storm.join().unwrap();
    let (succeeded, failed) = sipp_totals(&stats);
    let answer_ms = answer_times("full_call_");
    // Node 1 writes a call's record as the call ends; SIPp may count it a moment earlier.
    let finished = |records: &[serde_json::Value]| records.iter().filter(|c| !c["ended_at"].is_null()).count();
    let settle = Instant::now() + Duration::from_secs(20);
    let node_2 = cluster.records(2);
    let mut node_1 = cluster.records(1);
    while finished(&node_1) + finished(&node_2) < succeeded as usize && Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(200));
        node_1 = cluster.records(1);
    }
    let (finished_1, finished_2) = (finished(&node_1), finished(&node_2));
    let cut_on_2 = node_2.len() - finished_2;
    let after_kill_on_1: Vec<_> =
        node_1.iter().filter(|c| c["started_at"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).is_some_and(|t| SystemTime::from(t) > killed_at.1)).collect();
    let slowest_answer = answer_ms.iter().cloned().fold(0.0, f64::max);
    eprintln!(
        "cluster failover: node 2 marked down {:.2} s after kill -9; SIPp {succeeded} successful, {failed} failed; \
         calls up at the kill: node 1 {before_1}, node 2 {before_2}; finished records: node 1 {finished_1} ({} started after the kill), \
         node 2 {finished_2}, cut on node 2 {cut_on_2}; INVITE->200 slowest {slowest_answer:.0} ms of {}",
        down_after.as_secs_f64(),
        after_kill_on_1.len(),
        answer_ms.len()
    );

    assert!(down_after <= Duration::from_secs(2), "node 2 out of rotation only {down_after:?} after the kill");
    assert_eq!(succeeded + failed, CALLS, "every call ended in SIPp (none hung):\n{sipp_out}");
    assert!(before_1.abs_diff(before_2) <= 2, "calls spread by load before the kill: node 1 {before_1}, node 2 {before_2}");
    assert!(cut_on_2 >= 1, "the kill cut calls in progress on node 2");
    assert_eq!(failed as usize, cut_on_2, "exactly the calls in progress on node 2 failed; every other call succeeded");
    assert_eq!(finished_1 + finished_2, succeeded as usize, "every successful call has a finished record in one node's store");
    let all: Vec<String> = node_1.iter().chain(&node_2).map(sip_call_id).collect();
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), all.len(), "no call recorded twice: {all:?}");
    assert!(!after_kill_on_1.is_empty(), "node 1 took the calls placed after the kill");
    assert!(answer_ms.len() >= succeeded as usize, "a response time per answered call: {} for {succeeded}", answer_ms.len());
    assert!(slowest_answer <= 2000.0, "every call was answered within 2 s of its INVITE, failover included (slowest {slowest_answer} ms)");
}
