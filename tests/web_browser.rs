//! The dashboard in a real browser (Debian chromium via playwright-core, tests/browser/) on a
//! 375x812 phone viewport: log in, open the urgent task and play its recording, approve a refill
//! left by a real SIPp call, then check the approval in the store. Screenshots go to
//! target/screenshots/; the script reports taps, the person's time and server time per request.

mod common;
mod web_support;

use std::time::Duration;

use common::*;
use web_support::*;

#[test]
fn refill_flow_on_a_phone_screen() {
    require_tool("sipp");
    require_tool("node");
    assert!(std::path::Path::new("/usr/bin/chromium").exists(), "chromium missing: run scripts/setup --test");
    assert!(repo_root().join("node_modules/playwright-core").exists(), "playwright-core missing: run scripts/setup --test");
    ensure_pcaps();
    let (server, base) = start();

    // A real call through the phone line: keypad DOB, menu 1 (refill), a spoken message.
    let (ok, out) = sipp(&server, "full_call.xml", &[]);
    assert!(ok, "SIPp full_call failed:\n{out}");
    let calls = server.wait_for_calls(1, Duration::from_secs(15));
    let sipp_id = calls[0]["call_id"].as_str().unwrap().to_string();
    assert_eq!(calls[0]["request"]["type"], "refill");
    assert!(calls[0]["recording"].is_string(), "the call left a recording");
    let urgent_id = seed_call(&server, "symptom", true, None, 3);

    // A refill from a patient of the demo chart, routed to their PCP, who signs in.
    let chart = chartline::ehr::embedded::EmbeddedChart::open(&server.data_dir().join("chart.db")).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (patient, summary) = chart
        .patients()
        .unwrap()
        .into_iter()
        .find_map(|p| {
            let summary = runtime.block_on(chartline::ehr::Ehr::chart_summary(&chart, &p.id)).ok()?;
            (!summary.medications.is_empty() && summary.pcp.is_some()).then_some((p, summary))
        })
        .expect("a demo patient with medications and a PCP");
    let pcp = summary.pcp.as_ref().unwrap().id.clone();
    let refill_id = seed_call_for(&server, &patient.id, patient.birth_date, "refill", false, Some(&pcp), 20);
    wait_delivered(&server, &refill_id, Duration::from_secs(30));
    add_user(&server, "drsmith", "provider", Some(&pcp), &[]);

    let flow = BrowserFlow { base: &base, username: "drsmith", refill_id: &refill_id, urgent_id: &urgent_id, sipp_id: Some(&sipp_id), shots: "" };
    let report = flow.run(&server);
    eprintln!("browser report: {report}");

    // The approval is in the store, and the task is closed.
    let store = chartline::store::Store::open(&server.data_dir().join("chartline.db")).unwrap();
    let decisions = store.refill_decisions(&refill_id).unwrap();
    assert_eq!(decisions.len(), 1, "one decision stored");
    assert!(decisions[0].approved);
    assert_eq!(decisions[0].decided_by, "drsmith");
    assert_eq!(decisions[0].medication_id, summary.medications[0].id, "the chart's medication, by id");
    assert!(decisions[0].refs.contains("MedicationRequest/"), "{:?}", decisions[0].refs);
    assert!(store.task_state(&refill_id).unwrap().done);
    // ... and in the chart: the Task completed as approved, a renewed prescription written.
    let task = chart.task(&refill_id).unwrap().expect("the chart has the call's task");
    assert_eq!(task["status"], "completed", "{task:#}");
    assert!(task.to_string().contains("refill-approved"), "{task:#}");
    let after = runtime.block_on(chartline::ehr::Ehr::chart_summary(&chart, &patient.id)).unwrap();
    let today = chrono::Utc::now().date_naive();
    assert!(after.medications.iter().any(|m| m.name == summary.medications[0].name && m.last_filled.is_some_and(|d| (today - d).num_days().abs() <= 1)), "renewed today: {:?}", after.medications);

    // A person's effort and the server's: few taps, seconds not minutes, sub-second requests.
    let taps = report["taps"].as_u64().unwrap();
    assert_eq!(taps, 2, "taps from the task link to the approval: open, approve");
    assert!(report["elapsed_ms"].as_u64().unwrap() < 30_000);
    let server_ms: Vec<f64> = report["server_ms"].as_array().unwrap().iter().map(|r| r["ms"].as_f64().unwrap()).collect();
    assert!(!server_ms.is_empty());
    let worst = server_ms.iter().cloned().fold(0.0, f64::max);
    assert!(worst < 1000.0, "slowest request {worst} ms");
    assert!(report["played_s"].as_f64().unwrap() > 0.3);
    for name in ["login", "queue", "urgent", "refill", "approved", "practice"] {
        assert!(flow.shots_dir().join(format!("{name}.png")).exists());
    }
    let audit = server.cli_json(&["audit", "list", "--object", &urgent_id]);
    assert!(audit.as_array().unwrap().iter().any(|e| e["action"] == "play_recording"), "playing is audited");
}
