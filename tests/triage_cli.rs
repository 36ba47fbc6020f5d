//! `chartline triage "TEXT" --json`: the contract other tools rely on (docs/architecture.md).

mod common;

use std::process::Command;

fn triage(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(common::BIN).arg("triage").args(args).output().expect("run chartline");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn json(text: &str) -> serde_json::Value {
    let (ok, stdout, stderr) = triage(&[text, "--json"]);
    assert!(ok, "{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn refill_request() {
    let v = json("Hi, I need a refill on my lisinopril please");
    assert_eq!(v["type"], "refill");
    assert_eq!(v["code"], "A");
    assert_eq!(v["urgent"], false);
    assert_eq!(v["red_flags"], serde_json::json!([]));
    assert!(v["rules"].as_array().unwrap().iter().any(|r| r == "refill.word"), "{v}");
}

#[test]
fn emergency_is_urgent_with_its_flag() {
    let v = json("my husband has crushing chest pressure and he's sweating");
    assert_eq!(v["type"], "urgent");
    assert_eq!(v["code"], "J");
    assert_eq!(v["urgent"], true);
    assert_eq!(v["red_flags"], serde_json::json!(["chest_pain"]));
    assert_eq!(v["severity"], "emergency");
}

#[test]
fn negation_is_explained() {
    let v = json("no chest pain, I just need my nitroglycerin refilled");
    assert_eq!(v["type"], "refill");
    assert_eq!(v["urgent"], false);
    assert!(v["negated"].as_array().unwrap().iter().any(|r| r["id"] == "chest_pain"), "{v}");
}

#[test]
fn a_custom_rules_file_from_the_config_is_used_and_a_broken_one_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("triage.toml");
    let embedded = std::fs::read_to_string(common::repo_root().join("config/triage.toml")).unwrap();
    std::fs::write(&rules, embedded.replace("fallback = \"provider\"", "fallback = \"callback\"")).unwrap();
    let config = dir.path().join("chartline.toml");
    std::fs::write(&config, format!("[triage]\nrules = {:?}\n", rules.display().to_string())).unwrap();
    let (ok, stdout, stderr) = triage(&["hello?", "--json", "--config", config.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("\"type\":\"callback\""), "{stdout}");

    std::fs::write(&rules, embedded.replace("weight = 3.0", "weight = -1.0")).unwrap();
    let (ok, _, stderr) = triage(&["hello?", "--config", config.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("weight") && stderr.contains("line"), "{stderr}");
}
