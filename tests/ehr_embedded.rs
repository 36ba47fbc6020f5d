//! The embedded chart on the committed demo practice, through the `Ehr` trait and the CLI.

mod common;

use std::process::Command;
use std::sync::Arc;

use chartline::ehr::embedded::EmbeddedChart;
use chartline::ehr::{Ehr, PatientQuery, RefillDecision, Reply, TaskStatus, TaskUpdate};
use chartline::store::record::{CallRecord, InputMethod, MatchStatus, PatientMatch, RequestChoice, Routing};

fn demo_dir() -> std::path::PathBuf {
    common::repo_root().join("demo/practice")
}

fn loaded() -> (tempfile::TempDir, EmbeddedChart) {
    let dir = tempfile::tempdir().unwrap();
    let chart = EmbeddedChart::open(&dir.path().join("chart.db")).unwrap();
    let report = chart.ensure_demo_loaded(&demo_dir()).unwrap().expect("demo loaded into an empty chart");
    assert!(report.patients >= 50, "{report:?}");
    assert!(report.errors.is_empty(), "{report:?}");
    // A second call finds patients and loads nothing.
    assert!(chart.ensure_demo_loaded(&demo_dir()).unwrap().is_none());
    (dir, chart)
}

#[tokio::test]
async fn finds_patients_by_dob_phone_and_name_and_reads_the_summary() {
    let (_dir, chart) = loaded();
    let patients = chart.patients().unwrap();
    let ehr: Arc<dyn Ehr> = Arc::new(chart.clone());
    // A patient with an active medication and an upcoming appointment, as the demo promises.
    let mut checked = 0;
    for p in &patients {
        let summary = ehr.chart_summary(&p.id).await.unwrap();
        if summary.medications.is_empty() || summary.appointments.is_empty() {
            continue;
        }
        assert!(summary.pcp.is_some(), "demo patients have a PCP");
        assert!(summary.appointments.iter().all(|a| a.start > chrono::Utc::now()));
        assert_eq!(summary.patient.as_ref().map(|s| s.id.as_str()), Some(p.id.as_str()));
        // Find by DOB plus a differently formatted phone.
        let digits: String = p.phone.clone().unwrap().chars().filter(|c| c.is_ascii_digit()).collect();
        let query = PatientQuery { birth_date: p.birth_date, phone: Some(format!("+1 ({}) {}-{}", &digits[..3], &digits[3..6], &digits[6..])), name: None };
        let found = ehr.find_patients(&query).await.unwrap();
        assert_eq!(found.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(), [p.id.as_str()]);
        // By DOB and lower-case family name.
        let query = PatientQuery { birth_date: p.birth_date, phone: None, name: Some(p.family.to_lowercase()) };
        assert!(ehr.find_patients(&query).await.unwrap().iter().any(|f| f.id == p.id));
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} demo patients have medications and appointments");
    // Nobody is born on this date.
    let nobody = PatientQuery { birth_date: "1850-01-01".parse().unwrap(), phone: None, name: None };
    assert!(ehr.find_patients(&nobody).await.unwrap().is_empty());
    assert!(ehr.chart_summary("no-such-patient").await.is_err());
}

fn refill_call(patient: &str, practitioner: &str) -> CallRecord {
    CallRecord {
        call_id: format!("call-{}", uuid::Uuid::new_v4()),
        started_at: chrono::Utc::now(),
        ended_at: Some(chrono::Utc::now()),
        from: "sip:+15550001111@pbx".into(),
        patient: PatientMatch { id: Some(patient.into()), birth_date: None, matched_by: Some(InputMethod::Dtmf), status: MatchStatus::Identified },
        request: Some(RequestChoice { kind: "refill".into(), code: "A".into(), chosen_by: InputMethod::Dtmf }),
        transcript: Some("please refill my prescription".into()),
        routing: Routing { practitioner: Some(practitioner.into()), ..Default::default() },
        ..Default::default()
    }
}

#[tokio::test]
async fn calls_become_tasks_replies_and_refills() {
    let (_dir, chart) = loaded();
    let ehr: Arc<dyn Ehr> = Arc::new(chart.clone());
    let mut target = None;
    for p in chart.patients().unwrap() {
        let s = ehr.chart_summary(&p.id).await.unwrap();
        if let (Some(med), Some(pcp)) = (s.medications.first(), s.pcp.clone()) {
            target = Some((p.id.clone(), med.clone(), pcp));
            break;
        }
    }
    let (patient, med, pcp) = target.expect("a demo patient with a medication and a PCP");
    let call = refill_call(&patient, &pcp.id);
    let refs = ehr.write_call(&call).await.unwrap();
    assert_eq!(refs, [format!("Communication/{}", call.call_id), format!("Task/{}", call.call_id)]);
    // Idempotent: the same call again creates nothing new.
    assert_eq!(ehr.write_call(&call).await.unwrap(), refs);
    assert_eq!(chart.communications(&call.call_id).unwrap().len(), 1);
    let task = chart.task(&call.call_id).unwrap().unwrap();
    assert_eq!(task["for"]["reference"], format!("Patient/{patient}"));
    assert_eq!(task["owner"]["reference"], format!("Practitioner/{}", pcp.id));
    assert_eq!(task["code"]["coding"][0]["code"], "refill");
    assert_eq!(task["status"], "requested");

    let update = TaskUpdate { status: Some(TaskStatus::InProgress), owner: None, reply: Some(Reply { author: pcp.id.clone(), text: "Sent to your pharmacy".into() }) };
    let refs = ehr.update_task(&call.call_id, &update).await.unwrap();
    assert_eq!(refs.len(), 2);
    let comms = chart.communications(&call.call_id).unwrap();
    assert_eq!(comms.len(), 2);
    assert_eq!(comms[1]["inResponseTo"][0]["reference"], format!("Communication/{}", call.call_id));
    assert_eq!(chart.task(&call.call_id).unwrap().unwrap()["status"], "in-progress");

    let decision = RefillDecision { medication_id: med.id.clone(), approved: true, by: pcp.id.clone(), note: None, at: chrono::Utc::now() };
    let refs = ehr.record_refill(&call.call_id, &decision).await.unwrap();
    assert!(refs.iter().any(|r| r.starts_with("MedicationRequest/")) && refs.iter().any(|r| r.starts_with("Provenance/")), "{refs:?}");
    assert_eq!(chart.task(&call.call_id).unwrap().unwrap()["status"], "completed");
    let after = ehr.chart_summary(&patient).await.unwrap();
    let renewed = after.medications.iter().find(|m| m.name == med.name).unwrap();
    assert_eq!(renewed.last_filled, Some(chrono::Utc::now().date_naive()));

    // Updating a task that does not exist is an error, not a silent no-op.
    assert!(ehr.update_task("no-such-call", &update).await.is_err());
}

#[test]
fn cli_lists_demo_patients_and_rejects_bad_bundles() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, format!("data_dir = {:?}\n[ehr]\ndemo_dir = {:?}\n", dir.path().join("data"), demo_dir())).unwrap();
    let out = Command::new(common::BIN).args(["chart", "patients", "--json", "--config"]).arg(&config).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let patients: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = &patients[0];
    for key in ["id", "given", "family", "birth_date", "phone"] {
        assert!(first.get(key).is_some(), "{key} missing in {first}");
    }
    let count = patients.as_array().unwrap().len();

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"resourceType\": \"Bundle\", \"entry\": [{\"resource\": {\"resourceType\": \"Patient\", \"id\": \"x\"}}]}").unwrap();
    let out = Command::new(common::BIN).args(["chart", "import"]).arg(&bad).arg("--config").arg(&config).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.json") && stderr.contains("birthDate"), "{stderr}");
    // The bad file changed nothing.
    let out = Command::new(common::BIN).args(["chart", "patients", "--json", "--config"]).arg(&config).output().unwrap();
    let after: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(after.as_array().unwrap().len(), count);
}

#[tokio::test]
async fn unverified_callers_are_not_filed_on_a_chart() {
    let (_dir, chart) = loaded();
    let someone = chart.patients().unwrap().remove(0);
    let mut call = refill_call(&someone.id, "nobody");
    call.patient.status = MatchStatus::Ambiguous;
    chart.write_call(&call).await.unwrap();
    let task = chart.task(&call.call_id).unwrap().unwrap();
    assert!(task["for"].is_null(), "{task}");
    assert_eq!(task["businessStatus"]["text"], "verify-patient");
}
