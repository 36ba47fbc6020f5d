//! Vendor profiles: how a finished call becomes requests to a given EHR. Each profile is a pure
//! function from the call record (plus its audio, already read) to an ordered list of requests; the
//! FHIR adapter executes them. A later request may refer to what an earlier one created with the
//! placeholder `urn:chartline:step:N`, replaced by the created reference (`Communication/123`).

use base64::prelude::*;
use serde_json::{Value, json};

use super::config::Profile;
use super::error::EhrError;
use super::mapping::{self, CALL_ID_SYSTEM, REQUEST_TYPE_SYSTEM};
use crate::store::record::{CallRecord, MatchStatus};
use crate::triage::RequestType;

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Json(Value),
    /// `application/x-www-form-urlencoded` (athenahealth's REST API).
    Form(Vec<(String, String)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRequest {
    pub method: &'static str,
    /// Relative to the base URL.
    pub path: String,
    pub body: Body,
    /// The search that finds an earlier copy (`identifier=SYSTEM|VALUE`): sent as `If-None-Exist`
    /// where conditional create is supported, run as a search before creating where not.
    pub if_none_exist: Option<String>,
    /// Type used to build the created reference and to search (`Communication`, `patientcase`).
    pub resource_type: String,
    /// For non-FHIR responses: the JSON field holding the created id.
    pub id_field: Option<&'static str>,
}

/// The recording of the caller's message, read by the adapter.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    pub content_type: String,
    pub data: Vec<u8>,
    pub title: String,
}

pub struct MappingInput<'a> {
    pub call: &'a CallRecord,
    pub audio: Option<&'a Audio>,
    /// athena only.
    pub department_id: &'a str,
}

/// Placeholder for the reference created by request `step` of the same plan.
pub fn step_ref(step: usize) -> String {
    format!("urn:chartline:step:{step}")
}

/// Whether the vendor's API honours `If-None-Exist` on create.
pub fn supports_conditional_create(profile: Profile) -> bool {
    matches!(profile, Profile::Generic | Profile::Cerner)
}

pub fn plan(profile: Profile, input: &MappingInput<'_>) -> Result<Vec<PlannedRequest>, EhrError> {
    Ok(match profile {
        Profile::Generic => vec![communication(input, false), task(input)],
        Profile::Epic => vec![communication(input, false), document_reference(input)],
        Profile::Cerner => vec![communication(input, true), document_reference(input)],
        Profile::Ecw => vec![document_reference(input)],
        Profile::Athena => vec![athena_patient_case(input)?],
    })
}

fn call_identifier(call: &CallRecord) -> Value {
    json!([{"system": CALL_ID_SYSTEM, "value": call.call_id}])
}

fn identifier_query(resource_type: &str, call: &CallRecord) -> (String, Option<String>) {
    (resource_type.to_string(), Some(format!("identifier={CALL_ID_SYSTEM}|{}", call.call_id)))
}

fn patient_ref(call: &CallRecord) -> Option<Value> {
    let id = call.patient.id.as_deref().filter(|_| call.patient.status == MatchStatus::Identified)?;
    Some(json!({"reference": format!("Patient/{id}")}))
}

fn category(call: &CallRecord) -> Value {
    let kind = mapping::request_type(call);
    json!({"coding": [{"system": REQUEST_TYPE_SYSTEM, "code": kind.name(), "display": mapping::label(kind)}], "text": mapping::label(kind)})
}

fn json_request(resource_type: &str, call: &CallRecord, body: Value) -> PlannedRequest {
    let (resource_type, if_none_exist) = identifier_query(resource_type, call);
    PlannedRequest { method: "POST", path: resource_type.clone(), body: Body::Json(body), if_none_exist, resource_type, id_field: None }
}

/// The call itself: category, priority, the transcript and the recording.
fn communication(input: &MappingInput<'_>, recipient_required: bool) -> PlannedRequest {
    let call = input.call;
    let mut payload = Vec::new();
    if let Some(t) = call.transcript.as_deref().filter(|t| !t.trim().is_empty()) {
        payload.push(json!({"contentString": t}));
    }
    if let Some(audio) = input.audio {
        payload.push(json!({"contentAttachment": {
            "contentType": audio.content_type, "data": BASE64_STANDARD.encode(&audio.data),
            "title": audio.title, "size": audio.data.len()}}));
    }
    payload.push(json!({"contentString": mapping::note(call)}));
    let mut body = json!({
        "resourceType": "Communication",
        "identifier": call_identifier(call),
        "status": "completed",
        "category": [category(call)],
        "priority": mapping::priority(call),
        "medium": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode", "code": "PHONE", "display": "telephone"}]}],
        "sent": call.ended_at.unwrap_or(call.started_at).to_rfc3339(),
        "payload": payload,
        "note": [{"text": format!("Caller number: {}", call.from)}],
    });
    if let Some(patient) = patient_ref(call) {
        body["subject"] = patient.clone();
        body["sender"] = patient;
    }
    // Cerner's Message Center delivers a Communication only to its recipients: fall back to the
    // practice pool (no recipient) is not possible there, so the call's routing must name someone.
    if let Some(owner) = mapping::owner_reference(call) {
        body["recipient"] = json!([{"reference": owner}]);
    } else if recipient_required && let Some(notes) = body["note"].as_array_mut() {
        notes.push(json!({"text": "No provider was routed; assign in the pool."}));
    }
    json_request("Communication", call, body)
}

/// The work item: who has to act, on which patient, about what.
fn task(input: &MappingInput<'_>) -> PlannedRequest {
    let call = input.call;
    let kind = mapping::request_type(call);
    let (status_code, status_text) = mapping::business_status(call);
    let mut body = json!({
        "resourceType": "Task",
        "identifier": call_identifier(call),
        "status": "requested",
        "intent": "order",
        "priority": mapping::priority(call),
        "businessStatus": {"coding": [{"system": mapping::BUSINESS_STATUS_SYSTEM, "code": status_code}], "text": status_text},
        "code": category(call),
        "description": format!("{} (phone call)", mapping::label(kind)),
        "focus": {"reference": step_ref(0)},
        "authoredOn": call.ended_at.unwrap_or(call.started_at).to_rfc3339(),
    });
    if let Some(patient) = patient_ref(call) {
        body["for"] = patient;
    }
    if let Some(owner) = mapping::owner_reference(call) {
        body["owner"] = json!({"reference": owner});
    }
    json_request("Task", call, body)
}

/// A telephone-encounter note holding the call summary (and the recording when there is one).
fn document_reference(input: &MappingInput<'_>) -> PlannedRequest {
    let call = input.call;
    let mut content = vec![json!({"attachment": {"contentType": "text/plain; charset=utf-8", "data": BASE64_STANDARD.encode(mapping::note(call)), "title": "Phone call summary"}})];
    if let Some(audio) = input.audio {
        content.push(json!({"attachment": {"contentType": audio.content_type, "data": BASE64_STANDARD.encode(&audio.data), "title": audio.title}}));
    }
    let mut body = json!({
        "resourceType": "DocumentReference",
        "identifier": call_identifier(call),
        "status": "current",
        "docStatus": "final",
        "type": {"coding": [{"system": "http://loinc.org", "code": "34748-4", "display": "Telephone encounter Note"}]},
        "category": [category(call)],
        "date": call.ended_at.unwrap_or(call.started_at).to_rfc3339(),
        "description": mapping::label(mapping::request_type(call)),
        "content": content,
    });
    if let Some(patient) = patient_ref(call) {
        body["subject"] = patient;
    }
    if let Some(owner) = mapping::owner_reference(call) {
        body["author"] = json!([{"reference": owner}]);
    }
    json_request("DocumentReference", call, body)
}

fn athena_subclass(kind: RequestType) -> &'static str {
    match kind {
        RequestType::Refill => "PATIENTCASE_REFILL",
        RequestType::Results => "PATIENTCASE_TESTRESULTS",
        RequestType::Referral => "PATIENTCASE_REFERRAL",
        RequestType::Billing => "PATIENTCASE_BILLING",
        RequestType::Records => "PATIENTCASE_MEDICALRECORDS",
        RequestType::Symptom | RequestType::Urgent | RequestType::Provider => "PATIENTCASE_CLINICALQUESTION",
        _ => "PATIENTCASE_OTHER",
    }
}

/// athenaOne: `POST /patients/{id}/documents/patientcase` (form fields). A patient case needs a patient.
fn athena_patient_case(input: &MappingInput<'_>) -> Result<PlannedRequest, EhrError> {
    let call = input.call;
    let patient = call
        .patient
        .id
        .as_deref()
        .filter(|_| call.patient.status == MatchStatus::Identified)
        .ok_or_else(|| EhrError::Protocol("athena patient cases need an identified patient; the call stays in the dead letter for manual filing".into()))?;
    let kind = mapping::request_type(call);
    let mut form = vec![
        ("departmentid".to_string(), input.department_id.to_string()),
        ("documentsubclass".to_string(), athena_subclass(kind).to_string()),
        ("subject".to_string(), format!("{} (phone call {})", mapping::label(kind), call.call_id)),
        ("internalnote".to_string(), mapping::note(call)),
        ("priority".to_string(), if mapping::priority(call) == "routine" { "2" } else { "1" }.to_string()),
        ("callbacknumber".to_string(), crate::phone::national(&call.from)),
        ("outboundonly".to_string(), "false".to_string()),
    ];
    if let Some(owner) = mapping::owner_reference(call) {
        form.push(("providerid".to_string(), super::resources::ref_id(&owner).to_string()));
    }
    Ok(PlannedRequest {
        method: "POST",
        path: format!("patients/{patient}/documents/patientcase"),
        body: Body::Form(form),
        if_none_exist: None,
        resource_type: "patientcase".into(),
        id_field: Some("patientcaseid"),
    })
}

#[cfg(test)]
#[path = "profiles_tests.rs"]
mod tests;
