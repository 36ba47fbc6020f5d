//! What a call means in the chart, independent of the adapter: its category in Chartline's
//! CodeSystem, its priority, the Task's business status and a readable note. Pure functions.

use crate::store::record::{CallRecord, MatchStatus};
use crate::triage::RequestType;

/// Chartline's CodeSystem for the twelve request types (codes are the snake_case names).
pub const REQUEST_TYPE_SYSTEM: &str = "https://chartline.dev/fhir/CodeSystem/request-type";
/// Identifier system for call ids (Task.identifier, Communication.identifier).
pub const CALL_ID_SYSTEM: &str = "https://chartline.dev/fhir/sid/call-id";
/// Task.businessStatus codes.
pub const BUSINESS_STATUS_SYSTEM: &str = "https://chartline.dev/fhir/CodeSystem/task-business-status";

/// The request type of a call; a call without one is `callback` (someone has to call back).
pub fn request_type(call: &CallRecord) -> RequestType {
    call.request
        .as_ref()
        .and_then(|r| r.code.chars().next().and_then(RequestType::from_code).or_else(|| RequestType::ALL.iter().copied().find(|t| t.name() == r.kind)))
        .unwrap_or(RequestType::Callback)
}

/// Human label of a request type, e.g. `Prior authorization`.
pub fn label(kind: RequestType) -> &'static str {
    match kind {
        RequestType::Refill => "Medication refill",
        RequestType::Appointment => "Appointment",
        RequestType::Symptom => "Symptom question",
        RequestType::Results => "Test results",
        RequestType::Referral => "Referral",
        RequestType::Billing => "Billing",
        RequestType::PriorAuth => "Prior authorization",
        RequestType::Records => "Medical records",
        RequestType::Callback => "Callback request",
        RequestType::Urgent => "Urgent",
        RequestType::Administrative => "Administrative",
        RequestType::Provider => "Message for a provider",
    }
}

/// FHIR request priority: red flags are `stat`, urgent calls `urgent`, the rest `routine`.
pub fn priority(call: &CallRecord) -> &'static str {
    if !call.red_flags.is_empty() {
        "stat"
    } else if call.urgent || request_type(call) == RequestType::Urgent {
        "urgent"
    } else {
        "routine"
    }
}

/// Task.businessStatus: what has to happen next.
pub fn business_status(call: &CallRecord) -> (&'static str, &'static str) {
    match call.patient.status {
        MatchStatus::Identified => ("awaiting-review", "Awaiting review"),
        MatchStatus::Ambiguous => ("verify-patient", "Verify patient: several charts match"),
        MatchStatus::NotFound | MatchStatus::NotGiven => ("identify-patient", "Identify patient"),
    }
}

/// The practitioner the task is routed to, as a reference (`Practitioner/ID` when a bare id is given).
pub fn owner_reference(call: &CallRecord) -> Option<String> {
    let p = call.routing.practitioner.as_deref()?.trim();
    if p.is_empty() {
        None
    } else if p.contains('/') {
        Some(p.to_string())
    } else {
        Some(format!("Practitioner/{p}"))
    }
}

/// A short readable note for systems that only take text (document bodies, patient cases).
pub fn note(call: &CallRecord) -> String {
    let kind = request_type(call);
    let mut out = format!("Phone call {} ({}), {}", call.call_id, label(kind), call.started_at.format("%Y-%m-%d %H:%M UTC"));
    if call.after_hours {
        out.push_str(", after hours");
    }
    out.push('\n');
    if call.urgent {
        out.push_str("URGENT\n");
    }
    if !call.red_flags.is_empty() {
        out.push_str(&format!("Red flags: {}\n", call.red_flags.join(", ")));
    }
    out.push_str(&format!("Caller: {}\n", call.from));
    if call.patient.status != MatchStatus::Identified {
        let dob = call.patient.birth_date.map(|d| d.to_string()).unwrap_or_else(|| "not given".into());
        out.push_str(&format!("Patient not identified ({:?}); date of birth given: {dob}\n", call.patient.status));
    }
    if let Some(t) = call.transcript.as_deref().filter(|t| !t.trim().is_empty()) {
        out.push_str(&format!("Message: {t}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::record::{InputMethod, RequestChoice};

    fn call(code: &str) -> CallRecord {
        CallRecord { call_id: "c1".into(), request: Some(RequestChoice { kind: String::new(), code: code.into(), chosen_by: InputMethod::Dtmf }), ..Default::default() }
    }

    #[test]
    fn request_type_from_code_or_name() {
        assert_eq!(request_type(&call("G")), RequestType::PriorAuth);
        let mut c = call("");
        c.request.as_mut().unwrap().kind = "records".into();
        assert_eq!(request_type(&c), RequestType::Records);
        assert_eq!(request_type(&CallRecord::default()), RequestType::Callback);
    }

    #[test]
    fn priority_follows_red_flags_and_urgency() {
        let mut c = call("A");
        assert_eq!(priority(&c), "routine");
        c.urgent = true;
        assert_eq!(priority(&c), "urgent");
        c.red_flags.push("chest pain".into());
        assert_eq!(priority(&c), "stat");
        assert_eq!(priority(&call("J")), "urgent");
    }

    #[test]
    fn owner_reference_forms() {
        let mut c = call("A");
        assert_eq!(owner_reference(&c), None);
        c.routing.practitioner = Some("abc".into());
        assert_eq!(owner_reference(&c).as_deref(), Some("Practitioner/abc"));
        c.routing.practitioner = Some("PractitionerRole/r1".into());
        assert_eq!(owner_reference(&c).as_deref(), Some("PractitionerRole/r1"));
    }

    #[test]
    fn note_mentions_unidentified_patients() {
        let mut c = call("C");
        c.transcript = Some("my knee hurts".into());
        c.patient.status = MatchStatus::NotFound;
        let n = note(&c);
        assert!(n.contains("Symptom question") && n.contains("my knee hurts") && n.contains("not identified"), "{n}");
    }
}
