//! The refill approval in a real browser with `[ehr] adapter = "fhir"`: sekmet-fhir (started by
//! the test) holds demo-practice patients; a finished refill call reaches it as a Task through the
//! sync worker; the patient's PCP signs in with Debian chromium (tests/browser/refill_flow.js),
//! opens the urgent task, plays its recording and approves the refill. The result is checked on
//! the FHIR server itself: the Task completed, a renewed MedicationRequest and a Provenance.

mod common;
mod web_support;

use std::time::Duration;

use chartline::ehr::embedded::EmbeddedChart;
use chartline::ehr::{ChartSummary, PatientSummary};
use common::*;
use web_support::*;

const CALL_ID_SYSTEM: &str = "https://chartline.dev/fhir/sid/call-id";

/// A patient loaded into the FHIR server who, read back over FHIR, has an active medication and a PCP.
async fn pick_patient(fhir: &FhirServer, files: &[std::path::PathBuf]) -> (PatientSummary, ChartSummary) {
    // The loaded bundles name the patients; the summary is the FHIR server's.
    let scratch = tempfile::tempdir().unwrap();
    let local = EmbeddedChart::open(&scratch.path().join("c.db")).unwrap();
    local.import(files).unwrap();
    let config = chartline::config::Config::parse(&fhir_section(fhir), "test").unwrap();
    let remote = config.open_ehr().unwrap();
    for p in local.patients().unwrap() {
        let summary = remote.chart_summary(&p.id).await.unwrap();
        if !summary.medications.is_empty() && summary.pcp.is_some() {
            return (p, summary);
        }
    }
    panic!("no loaded demo patient has an active medication and a PCP on the FHIR server");
}

fn fhir_section(fhir: &FhirServer) -> String {
    format!("[ehr]\nadapter = \"fhir\"\n[ehr.fhir]\nbase_url = \"{}\"\n[ehr.retry]\npoll_ms = 50\n", fhir.base())
}

#[test]
fn refill_approved_in_the_browser_lands_on_the_fhir_server() {
    require_tool("node");
    assert!(std::path::Path::new("/usr/bin/chromium").exists(), "chromium missing: run scripts/setup --test");
    assert!(repo_root().join("node_modules/playwright-core").exists(), "playwright-core missing: run scripts/setup --test");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fhir = FhirServer::start_fhir_server();
    let files = runtime.block_on(fhir.load_demo(4));
    let (patient, summary) = runtime.block_on(pick_patient(&fhir, &files));
    let pcp = summary.pcp.as_ref().unwrap().id.clone();
    let medication = summary.medications[0].clone();
    let prescriptions_before = runtime.block_on(fhir.search(&format!("MedicationRequest?patient={}", patient.id))).len();

    let (server, base) = start_with(&fhir_section(&fhir));
    // An urgent call and a refill call from the patient, routed to their PCP, both delivered to FHIR.
    let urgent_id = seed_call_for(&server, &patient.id, patient.birth_date, "symptom", true, Some(&pcp), 3);
    let refill_id = seed_call_for(&server, &patient.id, patient.birth_date, "refill", false, Some(&pcp), 20);
    wait_delivered(&server, &refill_id, Duration::from_secs(30));
    wait_delivered(&server, &urgent_id, Duration::from_secs(30));
    let tasks = runtime.block_on(fhir.search(&format!("Task?identifier={CALL_ID_SYSTEM}|{refill_id}")));
    assert_eq!(tasks.len(), 1, "the refill call's Task on the FHIR server");
    let task_ref = format!("Task/{}", tasks[0]["id"].as_str().unwrap());
    assert_eq!(tasks[0]["status"], "requested");
    assert_eq!(tasks[0]["for"]["reference"], format!("Patient/{}", patient.id));
    assert_eq!(tasks[0]["owner"]["reference"], format!("Practitioner/{pcp}"));
    add_user(&server, "drfhir", "provider", Some(&pcp), &[]);

    let flow = BrowserFlow { base: &base, username: "drfhir", refill_id: &refill_id, urgent_id: &urgent_id, sipp_id: None, shots: "fhir" };
    let report = flow.run(&server);
    eprintln!("browser report (FHIR): {report}");
    assert_eq!(report["taps"].as_u64().unwrap(), 2, "taps from the task link to the approval: open, approve");
    assert!(report["notice"].as_str().unwrap().contains(&medication.name), "{report}");
    assert!(report["played_s"].as_f64().unwrap() > 0.3);

    // The dashboard kept the decision with the references the FHIR server returned.
    let store = chartline::store::Store::open(&server.data_dir().join("chartline.db")).unwrap();
    let decisions = store.refill_decisions(&refill_id).unwrap();
    assert_eq!(decisions.len(), 1, "one decision stored");
    assert!(decisions[0].approved);
    assert_eq!(decisions[0].decided_by, "drfhir");
    assert_eq!(decisions[0].medication_id, medication.id, "the FHIR server's MedicationRequest, by id");
    assert!(store.task_state(&refill_id).unwrap().done);

    // On the FHIR server: the Task completed as approved, pointing at the renewal ...
    let task = runtime.block_on(fhir.get_json(&task_ref));
    assert_eq!(task["status"], "completed", "{task:#}");
    assert_eq!(task["businessStatus"]["coding"][0]["code"], "refill-approved", "{task:#}");
    let renewal_ref = task["output"][0]["valueReference"]["reference"].as_str().expect("the Task names the renewed prescription").to_string();
    // ... a new MedicationRequest renewing the chosen one, by the PCP, for the patient, today ...
    let prescriptions = runtime.block_on(fhir.search(&format!("MedicationRequest?patient={}", patient.id)));
    assert_eq!(prescriptions.len(), prescriptions_before + 1, "exactly one new MedicationRequest");
    let renewal = prescriptions.iter().find(|r| format!("MedicationRequest/{}", r["id"].as_str().unwrap()) == renewal_ref).expect("the renewal by patient search");
    assert_eq!(renewal["status"], "active");
    assert_eq!(renewal["priorPrescription"]["reference"], format!("MedicationRequest/{}", medication.id));
    assert_eq!(renewal["requester"]["reference"], format!("Practitioner/{pcp}"));
    assert_eq!(renewal["subject"]["reference"], format!("Patient/{}", patient.id));
    let authored: chrono::DateTime<chrono::Utc> = renewal["authoredOn"].as_str().unwrap().parse().unwrap();
    assert!((chrono::Utc::now() - authored).num_minutes().abs() < 5, "authored {authored}");
    let prior = runtime.block_on(fhir.get_json(&format!("MedicationRequest/{}", medication.id)));
    assert_eq!(renewal["medicationCodeableConcept"], prior["medicationCodeableConcept"], "the same drug");
    // ... and a Provenance naming the PCP as author of both changes.
    let provenance_ref = decisions[0].refs.split(' ').find(|r| r.starts_with("Provenance/")).unwrap_or_else(|| panic!("no Provenance in {:?}", decisions[0].refs));
    let provenance = runtime.block_on(fhir.get_json(provenance_ref));
    assert_eq!(provenance["agent"][0]["who"]["reference"], format!("Practitioner/{pcp}"));
    // FHIR JSON has no null properties (the dashboard's approval carries no note).
    for written in [&provenance, renewal, &task] {
        assert!(written.as_object().unwrap().values().all(|v| !v.is_null()), "{written:#}");
    }
    let targets: Vec<&str> = provenance["target"].as_array().unwrap().iter().map(|t| t["reference"].as_str().unwrap()).collect();
    assert!(targets.contains(&renewal_ref.as_str()) && targets.contains(&task_ref.as_str()), "{targets:?}");
    assert!(decisions[0].refs.contains(&renewal_ref) && decisions[0].refs.contains(&task_ref), "{:?}", decisions[0].refs);

    let audit = server.cli_json(&["audit", "list", "--object", &refill_id]);
    assert!(audit.as_array().unwrap().iter().any(|e| e["action"] == "refill_approve" && e["outcome"] == "success"), "{audit:#}");
}
