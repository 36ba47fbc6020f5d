use super::*;
use crate::store::record::{InputMethod, PatientMatch, RequestChoice, Routing};

fn call() -> CallRecord {
    CallRecord {
        call_id: "call-42".into(),
        started_at: "2026-11-02T15:00:00Z".parse().unwrap(),
        ended_at: Some("2026-11-02T15:02:00Z".parse().unwrap()),
        from: "sip:+15551461616@pbx".into(),
        patient: PatientMatch { id: Some("pat-1".into()), birth_date: Some("1980-01-02".parse().unwrap()), matched_by: Some(InputMethod::Dtmf), status: MatchStatus::Identified },
        request: Some(RequestChoice { kind: "refill".into(), code: "A".into(), chosen_by: InputMethod::Dtmf }),
        transcript: Some("I need more lisinopril".into()),
        routing: Routing { practitioner: Some("doc-7".into()), ..Default::default() },
        ..Default::default()
    }
}

fn audio() -> Audio {
    Audio { content_type: "audio/wav".into(), data: vec![1, 2, 3], title: "message.wav".into() }
}

fn json_of(r: &PlannedRequest) -> &Value {
    match &r.body {
        Body::Json(v) => v,
        Body::Form(_) => panic!("form body"),
    }
}

#[test]
fn generic_writes_communication_then_task_pointing_at_it() {
    let c = call();
    let a = audio();
    let plan = plan(Profile::Generic, &MappingInput { call: &c, audio: Some(&a), department_id: "" }).unwrap();
    assert_eq!(plan.iter().map(|r| r.resource_type.as_str()).collect::<Vec<_>>(), ["Communication", "Task"]);
    let cond = format!("identifier={CALL_ID_SYSTEM}|call-42");
    assert!(plan.iter().all(|r| r.if_none_exist.as_deref() == Some(cond.as_str())));
    let comm = json_of(&plan[0]);
    assert_eq!(comm["category"][0]["coding"][0]["code"], "refill");
    assert_eq!(comm["category"][0]["coding"][0]["system"], REQUEST_TYPE_SYSTEM);
    assert_eq!(comm["subject"]["reference"], "Patient/pat-1");
    assert_eq!(comm["recipient"][0]["reference"], "Practitioner/doc-7");
    assert_eq!(comm["payload"][0]["contentString"], "I need more lisinopril");
    assert_eq!(comm["payload"][1]["contentAttachment"]["data"], "AQID");
    let task = json_of(&plan[1]);
    assert_eq!(task["identifier"][0]["value"], "call-42");
    assert_eq!(task["status"], "requested");
    assert_eq!(task["for"]["reference"], "Patient/pat-1");
    assert_eq!(task["owner"]["reference"], "Practitioner/doc-7");
    assert_eq!(task["focus"]["reference"], step_ref(0));
    assert_eq!(task["code"]["coding"][0]["code"], "refill");
    assert_eq!(task["businessStatus"]["coding"][0]["code"], "awaiting-review");
}

#[test]
fn unidentified_caller_has_no_patient_reference() {
    let mut c = call();
    c.patient.status = MatchStatus::Ambiguous;
    let plan = plan(Profile::Generic, &MappingInput { call: &c, audio: None, department_id: "" }).unwrap();
    assert!(json_of(&plan[0]).get("subject").is_none());
    assert!(json_of(&plan[1]).get("for").is_none());
    assert_eq!(json_of(&plan[1])["businessStatus"]["coding"][0]["code"], "verify-patient");
}

#[test]
fn epic_uses_document_reference_instead_of_task() {
    let c = call();
    let plan = plan(Profile::Epic, &MappingInput { call: &c, audio: None, department_id: "" }).unwrap();
    assert_eq!(plan.iter().map(|r| r.resource_type.as_str()).collect::<Vec<_>>(), ["Communication", "DocumentReference"]);
    let doc = json_of(&plan[1]);
    assert_eq!(doc["type"]["coding"][0]["code"], "34748-4");
    assert_eq!(doc["subject"]["reference"], "Patient/pat-1");
    let note = String::from_utf8(BASE64_STANDARD.decode(doc["content"][0]["attachment"]["data"].as_str().unwrap()).unwrap()).unwrap();
    assert!(note.contains("Medication refill") && note.contains("lisinopril"), "{note}");
    assert!(!supports_conditional_create(Profile::Epic));
}

#[test]
fn cerner_addresses_the_provider_and_ecw_files_a_note() {
    let c = call();
    let cerner = plan(Profile::Cerner, &MappingInput { call: &c, audio: None, department_id: "" }).unwrap();
    assert_eq!(json_of(&cerner[0])["recipient"][0]["reference"], "Practitioner/doc-7");
    assert_eq!(cerner[1].resource_type, "DocumentReference");
    let ecw = plan(Profile::Ecw, &MappingInput { call: &c, audio: None, department_id: "" }).unwrap();
    assert_eq!(ecw.len(), 1);
    assert_eq!(json_of(&ecw[0])["author"][0]["reference"], "Practitioner/doc-7");
}

#[test]
fn athena_files_a_patient_case_form() {
    let mut c = call();
    c.urgent = true;
    let plan = plan(Profile::Athena, &MappingInput { call: &c, audio: None, department_id: "12" }).unwrap();
    assert_eq!(plan[0].path, "patients/pat-1/documents/patientcase");
    let Body::Form(form) = &plan[0].body else { panic!("json") };
    let get = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    assert_eq!(get("departmentid"), Some("12"));
    assert_eq!(get("documentsubclass"), Some("PATIENTCASE_REFILL"));
    assert_eq!(get("priority"), Some("1"));
    assert_eq!(get("callbacknumber"), Some("5551461616"));
    assert_eq!(get("providerid"), Some("doc-7"));
    assert_eq!(plan[0].id_field, Some("patientcaseid"));
    c.patient.status = MatchStatus::NotFound;
    let err = super::plan(Profile::Athena, &MappingInput { call: &c, audio: None, department_id: "12" }).unwrap_err();
    assert!(err.to_string().contains("identified patient"), "{err}");
}
