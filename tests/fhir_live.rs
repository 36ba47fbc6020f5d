//! The FHIR adapter against a real FHIR R4 server (sekmet-fhir, started by the test) loaded with
//! demo-practice patients: identify by DOB, read the summary, write a call, find the Task and the
//! Communication by FHIR search, reply, approve a refill.

mod common;

use std::sync::Arc;

use chartline::config::Config;
use chartline::ehr::embedded::EmbeddedChart;
use chartline::ehr::{self, Ehr, PatientQuery, RefillDecision, Reply, TaskStatus, TaskUpdate};
use chartline::store::record::{CallRecord, InputMethod, MatchStatus, PatientMatch, RequestChoice, Routing};
use common::FhirServer;

const CALL_ID_SYSTEM: &str = "https://chartline.dev/fhir/sid/call-id";

fn fhir_config(base: &str, extra: &str) -> Config {
    Config::parse(&format!("[ehr]\nadapter = \"fhir\"\n[ehr.fhir]\nbase_url = \"{base}\"\n{extra}"), "test").unwrap()
}

/// A demo patient (in the loaded files) with an active medication and a PCP, per the embedded chart.
async fn pick_patient(files: &[std::path::PathBuf]) -> (String, ehr::ChartSummary) {
    let dir = tempfile::tempdir().unwrap();
    let chart = EmbeddedChart::open(&dir.path().join("c.db")).unwrap();
    chart.import(files).unwrap();
    for p in chart.patients().unwrap() {
        let s = chart.chart_summary(&p.id).await.unwrap();
        if !s.medications.is_empty() && s.pcp.is_some() && !s.appointments.is_empty() {
            return (p.id, s);
        }
    }
    panic!("no loaded demo patient has a medication, a PCP and an appointment");
}

fn call(patient: &str, practitioner: &str, code: &str, kind: &str) -> CallRecord {
    CallRecord {
        call_id: format!("call-{}", uuid::Uuid::new_v4()),
        started_at: chrono::Utc::now(),
        ended_at: Some(chrono::Utc::now()),
        from: "sip:+15550001111@pbx".into(),
        patient: PatientMatch { id: Some(patient.into()), birth_date: None, matched_by: Some(InputMethod::Dtmf), status: MatchStatus::Identified },
        request: Some(RequestChoice { kind: kind.into(), code: code.into(), chosen_by: InputMethod::Dtmf }),
        transcript: Some("I need a refill of my blood pressure pills".into()),
        routing: Routing { practitioner: Some(practitioner.into()), ..Default::default() },
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identify_summarise_write_and_find_by_search() {
    let server = FhirServer::start_fhir_server();
    let files = server.load_demo(6).await;
    let (patient_id, local) = pick_patient(&files).await;
    let ehr: Arc<dyn Ehr> = fhir_config(&server.base(), "").open_ehr().unwrap();

    // Identify by DOB, with the caller's number in another format.
    let me = local.patient.clone().unwrap();
    let digits: String = me.phone.clone().unwrap().chars().filter(|c| c.is_ascii_digit()).collect();
    let query = PatientQuery { birth_date: me.birth_date, phone: Some(format!("+1{digits}")), name: None };
    let found = ehr.find_patients(&query).await.unwrap();
    assert_eq!(found.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), [patient_id.as_str()]);

    // The summary read over FHIR matches the one read from the same bundles locally.
    let remote = ehr.chart_summary(&patient_id).await.unwrap();
    let names = |s: &ehr::ChartSummary| {
        let mut v: Vec<String> = s.medications.iter().map(|m| m.name.clone()).collect();
        v.sort();
        v
    };
    assert_eq!(names(&remote), names(&local));
    assert_eq!(remote.allergies.len(), local.allergies.len());
    assert_eq!(remote.problems.len(), local.problems.len());
    assert_eq!(remote.appointments.len(), local.appointments.len());
    assert_eq!(remote.pcp.as_ref().map(|p| &p.id), local.pcp.as_ref().map(|p| &p.id));
    assert!(remote.pcp.as_ref().unwrap().specialty.is_some() || !remote.care_team.is_empty());
    let pcp = remote.pcp.clone().unwrap();

    // Write the call; find the Task and Communication by search.
    let c = call(&patient_id, &pcp.id, "A", "refill");
    let refs = ehr.write_call(&c).await.unwrap();
    assert_eq!(refs.len(), 2, "{refs:?}");
    let tasks = server.search(&format!("Task?identifier={CALL_ID_SYSTEM}|{}", c.call_id)).await;
    assert_eq!(tasks.len(), 1);
    let task = &tasks[0];
    assert_eq!(task["for"]["reference"], format!("Patient/{patient_id}"));
    assert_eq!(task["owner"]["reference"], format!("Practitioner/{}", pcp.id));
    assert_eq!(task["code"]["coding"][0]["code"], "refill");
    assert_eq!(task["status"], "requested");
    assert_eq!(task["focus"]["reference"], refs[0]);
    assert_eq!(format!("Task/{}", task["id"].as_str().unwrap()), refs[1]);
    let comms = server.search(&format!("Communication?patient={patient_id}")).await;
    let comm = comms.iter().find(|r| format!("Communication/{}", r["id"].as_str().unwrap()) == refs[0]).expect("the call's Communication by patient search");
    assert_eq!(comm["category"][0]["coding"][0]["code"], "refill");
    assert_eq!(comm["category"][0]["coding"][0]["system"], "https://chartline.dev/fhir/CodeSystem/request-type");
    assert_eq!(comm["payload"][0]["contentString"], "I need a refill of my blood pressure pills");

    // Idempotent: writing again returns the same resources and creates nothing.
    assert_eq!(ehr.write_call(&c).await.unwrap(), refs);
    assert_eq!(server.search(&format!("Task?identifier={CALL_ID_SYSTEM}|{}", c.call_id)).await.len(), 1);

    // A reply and a refill approval.
    let update = TaskUpdate { status: Some(TaskStatus::InProgress), owner: None, reply: Some(Reply { author: pcp.id.clone(), text: "Sent to your pharmacy".into() }) };
    let written = ehr.update_task(&c.call_id, &update).await.unwrap();
    let reply_ref = written.iter().find(|r| r.starts_with("Communication/")).unwrap();
    let reply = server.get_json(reply_ref).await;
    assert_eq!(reply["inResponseTo"][0]["reference"], refs[0]);
    assert_eq!(server.get_json(&refs[1]).await["status"], "in-progress");

    let med = &remote.medications[0];
    let decision = RefillDecision { medication_id: med.id.clone(), approved: true, by: pcp.id.clone(), note: Some("90 days".into()), at: chrono::Utc::now() };
    let written = ehr.record_refill(&c.call_id, &decision).await.unwrap();
    let mr = written.iter().find(|r| r.starts_with("MedicationRequest/")).expect("a new MedicationRequest");
    let mr = server.get_json(mr).await;
    assert_eq!(mr["priorPrescription"]["reference"], format!("MedicationRequest/{}", med.id));
    assert_eq!(mr["requester"]["reference"], format!("Practitioner/{}", pcp.id));
    assert_eq!(server.get_json(&refs[1]).await["status"], "completed");
    let provenance = server.get_json(written.iter().find(|r| r.starts_with("Provenance/")).unwrap()).await;
    assert_eq!(provenance["agent"][0]["who"]["reference"], format!("Practitioner/{}", pcp.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_before_create_and_operation_outcomes() {
    let server = FhirServer::start_fhir_server();
    let files = server.load_demo(2).await;
    let (patient_id, local) = pick_patient(&files).await;
    let ehr: Arc<dyn Ehr> = fhir_config(&server.base(), "conditional_create = false\n").open_ehr().unwrap();
    let c = call(&patient_id, &local.pcp.unwrap().id, "C", "symptom");
    let first = ehr.write_call(&c).await.unwrap();
    assert_eq!(ehr.write_call(&c).await.unwrap(), first);
    assert_eq!(server.search(&format!("Task?identifier={CALL_ID_SYSTEM}|{}", c.call_id)).await.len(), 1);
    assert_eq!(server.search(&format!("Communication?identifier={CALL_ID_SYSTEM}|{}", c.call_id)).await.len(), 1);

    // The server's OperationOutcome reaches the error (a Task update on a missing MedicationRequest).
    let decision = RefillDecision { medication_id: "does-not-exist".into(), approved: true, by: "x".into(), note: None, at: chrono::Utc::now() };
    let err = ehr.record_refill(&c.call_id, &decision).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("404") && text.contains("MedicationRequest"), "{text}");
    assert!(!err.is_transient());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vendor_profiles_write_what_they_promise_and_attach_the_recording() {
    use base64::prelude::*;
    let server = FhirServer::start_fhir_server();
    server.load_demo(1).await;
    let patient = server.search("Patient?_count=1").await[0]["id"].as_str().unwrap().to_string();
    let practitioner = server.search("Practitioner?_count=1").await[0]["id"].as_str().unwrap().to_string();
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(data.path().join("recordings")).unwrap();
    let audio: Vec<u8> = (0..4000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(data.path().join("recordings/msg.wav"), &audio).unwrap();

    let count = |kind: &'static str, id: String| {
        let server = &server;
        async move { server.search(&format!("{kind}?identifier={CALL_ID_SYSTEM}|{id}")).await.len() }
    };
    for (profile, expect) in [
        ("generic", ["Communication", "Task"].as_slice()),
        ("epic", ["Communication", "DocumentReference"].as_slice()),
        ("cerner", ["Communication", "DocumentReference"].as_slice()),
        ("ecw", ["DocumentReference"].as_slice()),
    ] {
        let mut config = fhir_config(&server.base(), &format!("profile = \"{profile}\"\n"));
        config.data_dir = data.path().to_path_buf();
        let ehr = config.open_ehr().unwrap();
        let mut c = call(&patient, &practitioner, "B", "appointment");
        c.recording = Some("recordings/msg.wav".into());
        let refs = ehr.write_call(&c).await.unwrap();
        let kinds: Vec<&str> = refs.iter().map(|r| r.split('/').next().unwrap()).collect();
        assert_eq!(kinds, expect, "{profile}");
        // Written twice (a redelivery): still one of each, found by the call identifier.
        assert_eq!(ehr.write_call(&c).await.unwrap(), refs, "{profile}");
        for kind in ["Communication", "Task", "DocumentReference"] {
            let want = usize::from(expect.contains(&kind));
            assert_eq!(count(kind, c.call_id.clone()).await, want, "{profile}: {kind}");
        }
        // The recording travels with the call: in the Communication, or in the note's document.
        let first = server.get_json(&refs[0]).await;
        let attachment = if first["resourceType"] == "Communication" {
            first["payload"].as_array().unwrap().iter().find_map(|p| p.get("contentAttachment")).cloned()
        } else {
            first["content"].as_array().unwrap().iter().map(|c| c["attachment"].clone()).find(|a| a["contentType"] == "audio/wav")
        }
        .unwrap_or_else(|| panic!("{profile}: no audio attachment in {first}"));
        assert_eq!(BASE64_STANDARD.decode(attachment["data"].as_str().unwrap()).unwrap(), audio, "{profile}");
    }
}
