//! Loading FHIR R4 bundles (transaction, batch or collection; or a single resource) into the
//! embedded chart. Only the resource types the chart reads are kept; the rest are counted and skipped.
//! Resources keep their ids, so importing the same bundle twice replaces rather than duplicates.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Transaction, params};
use serde::Serialize;
use serde_json::Value;

use super::super::error::EhrError;
use super::super::resources::{patient_summary, ref_id};
use crate::phone;

/// The resource types the chart keeps.
pub const CHART_TYPES: [&str; 10] = ["Patient", "Practitioner", "PractitionerRole", "Organization", "Location", "CareTeam", "Condition", "MedicationRequest", "AllergyIntolerance", "Appointment"];

#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct ImportReport {
    pub files: usize,
    pub patients: usize,
    pub resources: usize,
    pub skipped: usize,
    /// Files that could not be imported (each left out whole), with the reason.
    pub errors: Vec<String>,
}

/// The resources in a parsed file: a Bundle's entries, or the resource itself.
pub fn resources_of(doc: Value) -> Vec<Value> {
    if doc.get("resourceType").and_then(Value::as_str) == Some("Bundle") {
        let mut doc = doc;
        match doc.get_mut("entry").and_then(Value::as_array_mut) {
            Some(entries) => entries.iter_mut().filter_map(|e| e.get_mut("resource").map(Value::take)).collect(),
            None => Vec::new(),
        }
    } else {
        vec![doc]
    }
}

/// The patient a resource belongs to (subject / patient / participant actor), if any.
/// Writes (or replaces) one FHIR resource row of the chart.
pub fn store_resource(tx: &Transaction<'_>, kind: &str, id: &str, patient: Option<&str>, resource: &Value) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO resources (type, id, patient_id, json) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(type, id) DO UPDATE SET patient_id = excluded.patient_id, json = excluded.json",
        params![kind, id, patient, resource.to_string()],
    )?;
    Ok(())
}

pub fn patient_of(resource: &Value) -> Option<String> {
    if resource.get("resourceType").and_then(Value::as_str) == Some("Patient") {
        return resource.get("id").and_then(Value::as_str).map(str::to_string);
    }
    let direct = ["/subject/reference", "/patient/reference"].iter().find_map(|p| resource.pointer(p).and_then(Value::as_str));
    let via_participant = || {
        resource
            .get("participant")
            .and_then(Value::as_array)
            .and_then(|ps| ps.iter().filter_map(|p| p.pointer("/actor/reference").or_else(|| p.pointer("/member/reference")).and_then(Value::as_str)).find(|r| r.starts_with("Patient/")))
    };
    direct.or_else(via_participant).map(|r| ref_id(r).to_string())
}

/// Imports one file in a transaction of its own: a bad file changes nothing.
pub fn import_file(tx: &Transaction<'_>, path: &Path, report: &mut ImportReport) -> Result<(), EhrError> {
    let text = std::fs::read(path).map_err(|source| EhrError::Io { path: path.display().to_string(), source })?;
    let doc: Value = serde_json::from_slice(&text).map_err(|e| EhrError::Import { path: path.display().to_string(), problem: e.to_string() })?;
    if doc.get("resourceType").and_then(Value::as_str).is_none() {
        return Err(EhrError::Import { path: path.display().to_string(), problem: "no resourceType".into() });
    }
    // urn:uuid references of patients inside a transaction bundle map to the patient's id.
    let resources = resources_of(doc);
    let mut types: HashMap<String, String> = HashMap::new();
    for r in &resources {
        if let (Some(t), Some(id)) = (r.get("resourceType").and_then(Value::as_str), r.get("id").and_then(Value::as_str)) {
            types.insert(id.to_string(), t.to_string());
        }
    }
    for resource in resources {
        let Some(kind) = resource.get("resourceType").and_then(Value::as_str).map(str::to_string) else {
            report.skipped += 1;
            continue;
        };
        let Some(id) = resource.get("id").and_then(Value::as_str).map(str::to_string) else {
            report.skipped += 1;
            continue;
        };
        if !CHART_TYPES.contains(&kind.as_str()) {
            report.skipped += 1;
            continue;
        }
        let patient = patient_of(&resource).filter(|p| kind == "Patient" || types.get(p).is_none_or(|t| t == "Patient"));
        store_resource(tx, &kind, &id, patient.as_deref(), &resource)?;
        if kind == "Patient" {
            let summary = patient_summary(&resource).ok_or_else(|| EhrError::Import { path: path.display().to_string(), problem: format!("Patient {id} has no birthDate") })?;
            tx.execute(
                "INSERT INTO patients (id, given, family, birth_date, phone, phone_digits) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(id) DO UPDATE SET given = excluded.given, family = excluded.family,
                   birth_date = excluded.birth_date, phone = excluded.phone, phone_digits = excluded.phone_digits",
                params![summary.id, summary.given, summary.family, summary.birth_date.to_string(), summary.phone, summary.phone.as_deref().map(phone::national)],
            )?;
            report.patients += 1;
        }
        report.resources += 1;
    }
    report.files += 1;
    Ok(())
}

/// Moves a past appointment (`start`, `end`) forward by whole weeks until it starts after `now`.
/// Returns whether it moved.
pub fn shift_into_future(appointment: &mut Value, now: chrono::DateTime<chrono::Utc>) -> bool {
    let parse = |v: Option<&Value>| v.and_then(Value::as_str).and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
    let Some(start) = parse(appointment.get("start")) else { return false };
    if start.with_timezone(&chrono::Utc) > now {
        return false;
    }
    let weeks = (now - start.with_timezone(&chrono::Utc)).num_weeks() + 1;
    let shift = chrono::Duration::weeks(weeks);
    appointment["start"] = Value::String((start + shift).to_rfc3339());
    if let Some(end) = parse(appointment.get("end")) {
        appointment["end"] = Value::String((end + shift).to_rfc3339());
    }
    true
}

/// The `.json` files of a directory (sorted), or the path itself when it is a file.
pub fn bundle_files(path: &Path) -> Result<Vec<std::path::PathBuf>, EhrError> {
    let io = |source| EhrError::Io { path: path.display().to_string(), source };
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<_> = std::fs::read_dir(path).map_err(io)?.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "json")).collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patient_reference_is_found_in_each_shape() {
        assert_eq!(patient_of(&json!({"resourceType": "Condition", "subject": {"reference": "urn:uuid:p1"}})).as_deref(), Some("p1"));
        assert_eq!(patient_of(&json!({"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/p2"}})).as_deref(), Some("p2"));
        assert_eq!(patient_of(&json!({"resourceType": "Appointment", "participant": [{"actor": {"reference": "Practitioner/d"}}, {"actor": {"reference": "Patient/p3"}}]})).as_deref(), Some("p3"));
        assert_eq!(patient_of(&json!({"resourceType": "Practitioner", "id": "d"})), None);
    }

    #[test]
    fn past_appointments_move_forward_by_whole_weeks() {
        let now: chrono::DateTime<chrono::Utc> = "2027-06-10T12:00:00Z".parse().unwrap();
        let mut a = json!({"start": "2027-01-05T15:00:00+00:00", "end": "2027-01-05T15:20:00+00:00"});
        assert!(shift_into_future(&mut a, now));
        let start = chrono::DateTime::parse_from_rfc3339(a["start"].as_str().unwrap()).unwrap();
        assert!(start > now && start.with_timezone(&chrono::Utc) - now <= chrono::Duration::weeks(1));
        assert_eq!(start.format("%a %H:%M").to_string(), "Tue 15:00");
        assert_eq!(a["end"].as_str().unwrap(), (start + chrono::Duration::minutes(20)).to_rfc3339());
        let mut future = json!({"start": "2027-07-01T15:00:00+00:00"});
        assert!(!shift_into_future(&mut future, now));
        assert_eq!(future["start"], "2027-07-01T15:00:00+00:00");
    }

    #[test]
    fn bundle_entries_are_unwrapped() {
        let b = json!({"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient", "id": "a"}}, {"fullUrl": "x"}]});
        assert_eq!(resources_of(b).len(), 1);
        assert_eq!(resources_of(json!({"resourceType": "Patient"})).len(), 1);
    }
}
