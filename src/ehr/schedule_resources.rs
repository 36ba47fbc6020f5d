//! FHIR R4 shapes of scheduling (Schedule, Slot, Appointment) and the confirmation number. Pure:
//! shared by the embedded chart (which stores the same JSON) and the FHIR adapter.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::resources::ref_id;
use crate::schedule::{BookingRequest, Slot, Upcoming, VisitType};

/// Identifier system of the confirmation number on a booked Appointment.
pub const CONFIRMATION_SYSTEM: &str = "https://chartline.dev/fhir/sid/confirmation";
/// Identifier system of the call that booked an Appointment.
pub const CALL_ID_SYSTEM: &str = "https://chartline.dev/fhir/sid/call-id";

/// Six digits derived from the appointment id (FNV-1a), read back to the caller.
pub fn confirmation_number(appointment_id: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in appointment_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:06}", hash % 1_000_000)
}

/// The Schedule of one practitioner at one location.
pub fn schedule_id(practitioner_id: &str) -> String {
    format!("sched-{practitioner_id}")
}

pub fn schedule_resource(slot: &Slot) -> Value {
    json!({
        "resourceType": "Schedule",
        "id": schedule_id(&slot.practitioner_id),
        "active": true,
        "actor": [
            {"reference": format!("Practitioner/{}", slot.practitioner_id), "display": slot.practitioner_name},
            {"reference": format!("Location/{}", slot.location_id), "display": slot.location_name},
        ],
    })
}

pub fn slot_resource(slot: &Slot, busy: bool) -> Value {
    json!({
        "resourceType": "Slot",
        "id": slot.id,
        "schedule": {"reference": format!("Schedule/{}", schedule_id(&slot.practitioner_id))},
        "status": if busy { "busy" } else { "free" },
        "start": slot.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "end": slot.end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// Practitioner and location (id, name) of a Schedule, from its actors.
pub fn schedule_actors(schedule: &Value) -> Option<((String, String), (String, String))> {
    let actors = schedule.get("actor")?.as_array()?;
    let find = |prefix: &str| {
        actors.iter().find_map(|a| {
            let r = a.get("reference")?.as_str()?;
            r.contains(prefix).then(|| (ref_id(r).to_string(), a.get("display").and_then(Value::as_str).unwrap_or_default().to_string()))
        })
    };
    Some((find("Practitioner/")?, find("Location/").unwrap_or_default()))
}

/// A FHIR Slot read with its Schedule's practitioner and location.
pub fn slot_from_fhir(resource: &Value, practitioner: &(String, String), location: &(String, String)) -> Option<Slot> {
    let time = |k: &str| resource.get(k).and_then(Value::as_str).and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&Utc));
    Some(Slot {
        id: resource.get("id")?.as_str()?.to_string(),
        start: time("start")?,
        end: time("end")?,
        practitioner_id: practitioner.0.clone(),
        practitioner_name: practitioner.1.clone(),
        location_id: location.0.clone(),
        location_name: location.1.clone(),
    })
}

fn visit_text(visit: VisitType) -> &'static str {
    match visit {
        VisitType::FollowUp => "Follow-up visit",
        VisitType::SickVisit => "Sick visit",
        VisitType::AnnualPhysical => "Annual physical",
        VisitType::NewPatient => "New patient visit",
    }
}

/// The Appointment for a booking of `slots` (back to back; the offer). `id` None lets a server assign it.
pub fn appointment_resource(id: Option<&str>, request: &BookingRequest, offer: &Slot, slot_ids: &[&str], created: DateTime<Utc>) -> Value {
    let mut appointment = json!({
        "resourceType": "Appointment",
        "status": "booked",
        "identifier": [{"system": CALL_ID_SYSTEM, "value": request.call_id}],
        "appointmentType": {"coding": [{"system": "https://chartline.dev/fhir/CodeSystem/visit-type", "code": request.visit.as_str(), "display": visit_text(request.visit)}], "text": visit_text(request.visit)},
        "description": visit_text(request.visit),
        "start": offer.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "end": offer.end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "minutesDuration": (offer.end - offer.start).num_minutes(),
        "created": created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "slot": slot_ids.iter().map(|s| json!({"reference": format!("Slot/{s}")})).collect::<Vec<_>>(),
        "participant": [
            {"actor": {"reference": format!("Patient/{}", request.patient_id)}, "status": "accepted"},
            {"actor": {"reference": format!("Practitioner/{}", offer.practitioner_id), "display": offer.practitioner_name}, "status": "accepted"},
            {"actor": {"reference": format!("Location/{}", offer.location_id), "display": offer.location_name}, "status": "accepted"},
        ],
    });
    if let Some(id) = id {
        appointment["id"] = json!(id);
        appointment["identifier"].as_array_mut().unwrap().push(json!({"system": CONFIRMATION_SYSTEM, "value": confirmation_number(id)}));
    }
    appointment
}

/// The slot ids an Appointment holds.
pub fn appointment_slots(appointment: &Value) -> Vec<String> {
    appointment.get("slot").and_then(Value::as_array).map(|s| s.iter().filter_map(|r| r.get("reference").and_then(Value::as_str)).map(|r| ref_id(r).to_string()).collect()).unwrap_or_default()
}

/// Whether the Appointment is booked, for this patient, by this call (a retried booking).
pub fn booked_by(appointment: &Value, patient_id: &str, call_id: &str) -> bool {
    appointment.get("status").and_then(Value::as_str) == Some("booked")
        && appointment_patient(appointment).as_deref() == Some(patient_id)
        && appointment
            .get("identifier")
            .and_then(Value::as_array)
            .is_some_and(|ids| ids.iter().any(|i| i.get("system").and_then(Value::as_str) == Some(CALL_ID_SYSTEM) && i.get("value").and_then(Value::as_str) == Some(call_id)))
}

/// The patient an Appointment names as a participant.
pub fn appointment_patient(appointment: &Value) -> Option<String> {
    appointment.get("participant")?.as_array()?.iter().find_map(|p| {
        let r = p.pointer("/actor/reference")?.as_str()?;
        r.contains("Patient/").then(|| ref_id(r).to_string())
    })
}

/// A booked Appointment starting at or after `from`, with the names its participants carry
/// (`names` looks up a `Type/id` reference's display when the participant has none).
pub fn upcoming(appointment: &Value, from: DateTime<Utc>, names: &dyn Fn(&str) -> Option<String>) -> Option<Upcoming> {
    if !matches!(appointment.get("status").and_then(Value::as_str)?, "booked" | "pending" | "proposed" | "arrived" | "checked-in") {
        return None;
    }
    let start = DateTime::parse_from_rfc3339(appointment.get("start")?.as_str()?).ok()?.with_timezone(&Utc);
    if start < from {
        return None;
    }
    let actor = |prefix: &str| -> (Option<String>, Option<String>) {
        let found = appointment.get("participant").and_then(Value::as_array).and_then(|ps| {
            ps.iter().find_map(|p| {
                let r = p.pointer("/actor/reference")?.as_str()?;
                r.contains(prefix).then(|| (r.to_string(), p.pointer("/actor/display").and_then(Value::as_str).map(str::to_string)))
            })
        });
        match found {
            Some((r, display)) => (Some(ref_id(&r).to_string()), display.filter(|d| !d.is_empty()).or_else(|| names(&format!("{prefix}{}", ref_id(&r))))),
            None => (None, None),
        }
    };
    let (practitioner_id, practitioner_name) = actor("Practitioner/");
    let (location_id, location_name) = actor("Location/");
    Some(Upcoming { appointment_id: appointment.get("id")?.as_str()?.to_string(), start, practitioner_id, practitioner_name, location_id, location_name })
}

/// The Appointment as cancelled (by the patient, on the phone).
pub fn cancelled(mut appointment: Value, call_id: &str) -> Value {
    appointment["status"] = json!("cancelled");
    appointment["cancelationReason"] =
        json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason", "code": "pat"}], "text": format!("cancelled by the patient by phone (call {call_id})")});
    appointment
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot() -> Slot {
        Slot {
            id: "s1".into(),
            start: "2027-01-04T15:00:00Z".parse().unwrap(),
            end: "2027-01-04T15:30:00Z".parse().unwrap(),
            practitioner_id: "p1".into(),
            practitioner_name: "Dr. Ann Lee".into(),
            location_id: "l1".into(),
            location_name: "Main St Clinic".into(),
        }
    }

    #[test]
    fn confirmation_is_six_stable_digits() {
        let a = confirmation_number("appt-1");
        assert_eq!(a.len(), 6);
        assert!(a.chars().all(|c| c.is_ascii_digit()));
        assert_eq!(a, confirmation_number("appt-1"));
        assert_ne!(a, confirmation_number("appt-2"));
    }

    #[test]
    fn slots_and_schedules_round_trip() {
        let s = slot();
        let fhir = slot_resource(&s, false);
        let schedule = schedule_resource(&s);
        let (p, l) = schedule_actors(&schedule).unwrap();
        assert_eq!(fhir["schedule"]["reference"], format!("Schedule/{}", schedule["id"].as_str().unwrap()));
        assert_eq!(slot_from_fhir(&fhir, &p, &l).unwrap(), s);
    }

    #[test]
    fn appointment_names_patient_practitioner_location_and_slots() {
        let request = BookingRequest { patient_id: "pat".into(), slot_id: "s1+s2".into(), visit: VisitType::AnnualPhysical, replaces: None, call_id: "c1".into() };
        let a = appointment_resource(Some("a1"), &request, &slot(), &["s1", "s2"], "2026-12-01T00:00:00Z".parse().unwrap());
        assert_eq!(appointment_slots(&a), ["s1", "s2"]);
        assert_eq!(appointment_patient(&a).as_deref(), Some("pat"));
        assert_eq!(a["minutesDuration"], 30);
        let from: DateTime<Utc> = "2027-01-01T00:00:00Z".parse().unwrap();
        let up = upcoming(&a, from, &|_| None).unwrap();
        assert_eq!(up.practitioner_name.as_deref(), Some("Dr. Ann Lee"));
        assert_eq!(up.location_id.as_deref(), Some("l1"));
        assert!(upcoming(&cancelled(a.clone(), "c2"), from, &|_| None).is_none());
        assert!(upcoming(&a, "2027-02-01T00:00:00Z".parse().unwrap(), &|_| None).is_none());
        // Crate-level: the chart summary reads the same Appointment.
        let summary = super::super::resources::upcoming_appointment(&a, from).unwrap();
        assert_eq!(summary.practitioner.as_deref(), Some("p1"));
    }
}
