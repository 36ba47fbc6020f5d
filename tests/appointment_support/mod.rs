//! Helpers shared by the appointment call tests: the demo patients, prompt lengths, RTP captures
//! of keys and speech, SIPp scenarios built from full_call.xml, and the record and chart checks.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::*;

pub const KEYPAD_ONLY: &str = "[speech]\nmodel_path = \"models/not-imported.bin\"\n";

/// Open around the clock, so the greeting has one known length.
pub fn always_open() -> String {
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map(|d| format!("{d} = [\"00:00-23:59\"]\n")).concat();
    format!("[practice]\nholidays = []\n[practice.hours]\n{days}")
}

/// A demo patient (by id prefix): chart id, date of birth as keys (MMDDYYYY), own provider.
pub struct DemoPatient {
    pub id: String,
    pub dob_keys: String,
    pub pcp: String,
}

pub fn demo_patient(prefix: &str) -> DemoPatient {
    let dir = repo_root().join("demo/practice");
    let file = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&format!("patient-{prefix}"))).expect("demo patient file");
    let bundle: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    let patient = bundle["entry"].as_array().unwrap().iter().map(|e| &e["resource"]).find(|r| r["resourceType"] == "Patient").unwrap();
    let dob = patient["birthDate"].as_str().unwrap();
    let pcp = patient["generalPractitioner"][0]["reference"].as_str().unwrap().trim_start_matches("Practitioner/").to_string();
    DemoPatient { id: patient["id"].as_str().unwrap().to_string(), dob_keys: format!("{}{}{}", &dob[5..7], &dob[8..10], &dob[..4]), pcp }
}

pub fn clips_s(names: &[&str]) -> f64 {
    names.iter().map(|n| wav_stats(&repo_root().join(format!("sounds/en/{n}.wav"))).duration_s).sum()
}

/// Average length of the location name clips (the offered location is not known beforehand).
pub fn location_s() -> f64 {
    let files: Vec<PathBuf> =
        std::fs::read_dir(repo_root().join("sounds/en")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("location-")).collect();
    files.iter().map(|f| wav_stats(f).duration_s).sum::<f64>() / files.len().max(1) as f64
}

/// How long one slot read-back lasts (a typical date and time; names when `names`).
pub fn slot_s(pcp: &str, names: bool) -> f64 {
    let time = clips_s(&["weekday-wed", "month-11", "ordinal-26", "at", "number-10", "number-30", "time-am"]);
    if names { time + clips_s(&["with", &format!("practitioner-{pcp}"), "at"]) + location_s() } else { time }
}

pub fn keys_pcap(dir: &Path, name: &str, keys: &str) -> PathBuf {
    let pcap = dir.join(format!("{name}.pcap"));
    let status = Command::new("python3").arg(repo_root().join("tests/sipp/make_pcaps.py")).arg(&pcap).arg(format!("digits:{keys}")).status().unwrap();
    assert!(status.success(), "make_pcaps.py {name}");
    pcap
}

/// A UAC scenario from full_call.xml: INVITE/ACK, then each capture played and the pause after
/// it, then Chartline's BYE answered.
pub fn scenario(dir: &Path, name: &str, turns: &[(PathBuf, f64)]) -> PathBuf {
    let base = std::fs::read_to_string(repo_root().join("tests/sipp/full_call.xml")).unwrap();
    let head = &base[..base.find("  <pause milliseconds=\"1500\"/>").unwrap()];
    let tail = &base[base.find("  <recv request=\"BYE\"").unwrap()..];
    let mut body = String::from("  <pause milliseconds=\"1500\"/>\n");
    for (pcap, wait_s) in turns {
        body.push_str(&format!("  <nop><action><exec play_pcap_audio=\"{}\"/></action></nop>\n  <pause milliseconds=\"{}\"/>\n", pcap.display(), (wait_s * 1000.0) as u64));
    }
    let path = dir.join(format!("{name}.xml"));
    std::fs::write(&path, format!("{head}{body}{}", tail.replace("timeout=\"60000\"", "timeout=\"90000\""))).unwrap();
    path
}

pub fn spawn_sipp(server: &Server, path: &Path) -> Child {
    Command::new("sipp")
        .arg(format!("127.0.0.1:{}", server.sip_port))
        .arg("-sf")
        .arg(path)
        .args(["-i", "127.0.0.1", "-p", &free_port().to_string(), "-m", "1", "-nostdin", "-timeout", "180s", "-timeout_error"])
        .args(["-mp", &free_rtp_range(8).0.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sipp (scripts/setup --test)")
}

pub fn finish_sipp(server: &Server, child: Child) {
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "SIPp failed:\n{}\n---- chartline ----\n{}", String::from_utf8_lossy(&out.stdout), server.log_text());
}

/// The caller: date of birth and its confirmation typed over the prompts, then menu 2
/// (appointments) and `steps` (keys and the pause after each).
pub fn caller(dir: &Path, patient: &DemoPatient, steps: &[(&str, f64)]) -> Vec<(PathBuf, f64)> {
    let mut turns = vec![(keys_pcap(dir, "dob", &patient.dob_keys), 3.5), (keys_pcap(dir, "yes", "1"), 3.0)];
    for (i, (keys, wait)) in steps.iter().enumerate() {
        turns.push((keys_pcap(dir, &format!("step{i}"), keys), *wait));
    }
    turns
}

pub fn start_server() -> Server {
    require_tool("sipp");
    Server::start(&format!("{KEYPAD_ONLY}{}", always_open()))
}

pub fn the_call(server: &Server, index: usize, count: usize) -> serde_json::Value {
    let calls = server.wait_for_calls(count, Duration::from_secs(60));
    assert_eq!(calls.len(), count, "finished calls");
    let mut ids: Vec<String> = calls.iter().map(|c| c["call_id"].as_str().unwrap().to_string()).collect();
    ids.sort();
    server.cli_json(&["calls", "show", &ids[index], "--json"])
}

pub fn event<'a>(call: &'a serde_json::Value, kind: &str) -> Option<&'a serde_json::Value> {
    call["events"].as_array().unwrap().iter().find(|e| e["kind"] == kind)
}

pub fn at(e: &serde_json::Value) -> chrono::DateTime<chrono::Utc> {
    e["at"].as_str().unwrap().parse().unwrap()
}

/// The timeline from choosing "appointments" on: seconds since then, kind, recognition latency.
pub fn timeline(call: &serde_json::Value) -> String {
    let events = call["events"].as_array().unwrap();
    let Some(chosen) = events.iter().find(|e| e["kind"] == "request_chosen") else { return String::new() };
    events
        .iter()
        .filter(|e| at(e) >= at(chosen))
        .map(|e| {
            let latency = e["after_end_ms"].as_u64().map(|ms| format!(" ({ms} ms after speech ended)")).unwrap_or_default();
            format!("{:6.1} s  {}{latency}", (at(e) - at(chosen)).num_milliseconds() as f64 / 1000.0, e["kind"].as_str().unwrap())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Seconds from choosing "appointments" to the start of the confirmation read-back.
pub fn time_to_confirmation(call: &serde_json::Value) -> f64 {
    let chosen = call["events"].as_array().unwrap().iter().find(|e| e["kind"] == "request_chosen" && e["type"] == "appointment").expect("appointment chosen");
    let booked = event(call, "appointment_booked").unwrap_or_else(|| panic!("not booked: {:?}", event_kinds(call)));
    (at(booked) - at(chosen)).num_milliseconds() as f64 / 1000.0
}

pub fn free_slot_ids(server: &Server, practitioner: &str) -> Vec<String> {
    let slots = server.cli_json(&["chart", "slots", "--json", "--practitioner", practitioner, "--limit", "500"]);
    slots.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
}

pub fn appointments(server: &Server, patient: &str) -> Vec<serde_json::Value> {
    server.cli_json(&["chart", "appointments", patient, "--json"]).as_array().unwrap().clone()
}

/// What the caller sends in one stretch of a continuous stream.
pub enum Send {
    Keys(String),
    Speech(PathBuf, f64),
}

/// The whole caller side as ONE RTP capture (one sequence of packets, silence between the turns),
/// as a phone sends it; each turn is followed by silence until `wait` seconds after it started.
/// Returns the capture and its length.
pub fn one_stream(dir: &Path, name: &str, turns: &[(Send, f64)]) -> (PathBuf, f64) {
    let mut items = Vec::new();
    let mut total = 0.0;
    for (send, wait) in turns {
        let length = match send {
            Send::Keys(keys) => {
                items.push(format!("digits:{keys}"));
                0.24 * keys.len() as f64
            }
            Send::Speech(wav, seconds) => {
                items.push(format!("wav:{}", wav.display()));
                *seconds
            }
        };
        let gap = (wait - length).max(0.1);
        items.push(format!("silence:{}", (gap * 1000.0) as u64));
        total += length + gap;
    }
    let pcap = dir.join(format!("{name}.pcap"));
    let status = Command::new("python3").arg(repo_root().join("tests/sipp/make_pcaps.py")).arg(&pcap).args(&items).status().unwrap();
    assert!(status.success(), "make_pcaps.py {name}");
    (pcap, total)
}
