//! Reading FHIR R4 resources (as JSON) into Chartline's chart types. Pure functions shared by the
//! embedded chart (which stores the imported resources as they came) and the FHIR adapter.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::types::*;
use crate::phone;

/// The id part of a reference: `Practitioner/abc`, `urn:uuid:abc`, `http://x/fhir/Practitioner/abc` → `abc`.
pub fn ref_id(reference: &str) -> &str {
    let r = reference.trim_end_matches('/');
    r.rsplit(['/', ':']).next().unwrap_or(r)
}

fn text<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// `code.text`, else the first coding's display, else its code.
pub fn concept_text(concept: &Value) -> Option<String> {
    concept
        .get("text")
        .and_then(Value::as_str)
        .or_else(|| concept.pointer("/coding/0/display").and_then(Value::as_str))
        .or_else(|| concept.pointer("/coding/0/code").and_then(Value::as_str))
        .map(str::to_string)
}

fn date_prefix(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

/// The official (else first) name as (given, family).
pub fn human_name(resource: &Value) -> (String, String) {
    let names = resource.get("name").and_then(Value::as_array);
    let name = names.and_then(|n| n.iter().find(|n| n.get("use").and_then(Value::as_str) == Some("official")).or(n.first()));
    let Some(name) = name else { return (String::new(), String::new()) };
    let given = name.get("given").and_then(Value::as_array).map(|g| g.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" ")).unwrap_or_default();
    let family = name.get("family").and_then(Value::as_str).unwrap_or_default().to_string();
    (given, family)
}

pub fn patient_summary(patient: &Value) -> Option<PatientSummary> {
    let id = patient.get("id")?.as_str()?.to_string();
    let birth_date = date_prefix(patient.get("birthDate")?.as_str()?)?;
    let (given, family) = human_name(patient);
    let phone = patient
        .get("telecom")
        .and_then(Value::as_array)
        .and_then(|t| t.iter().find(|c| c.get("system").and_then(Value::as_str) == Some("phone")))
        .and_then(|c| c.get("value").and_then(Value::as_str))
        .map(str::to_string);
    Some(PatientSummary { id, given, family, birth_date, phone })
}

/// Folds case and strips accents of the Latin letters common in names, for name comparison.
pub fn fold(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            other => other,
        })
        .filter(|c| c.is_alphanumeric() || *c == ' ')
        .collect()
}

/// Narrows candidates (already matching the birth date) by phone and name. A narrowing that would
/// leave nobody is not applied: a caller on another phone is still found by DOB and name.
pub fn narrow(mut candidates: Vec<PatientSummary>, query: &PatientQuery) -> Vec<PatientSummary> {
    candidates.retain(|p| p.birth_date == query.birth_date);
    if let Some(name) = query.name.as_deref().filter(|n| !n.trim().is_empty()) {
        let words: Vec<String> = fold(name).split_whitespace().map(str::to_string).collect();
        let by_name: Vec<_> = candidates
            .iter()
            .filter(|p| {
                let (given, family) = (fold(&p.given), fold(&p.family));
                words.iter().any(|w| family.starts_with(w.as_str()) || w.starts_with(family.as_str()) && !family.is_empty())
                    && (words.len() < 2 || words.iter().any(|w| given.split_whitespace().any(|g| g.starts_with(w.as_str()))))
            })
            .cloned()
            .collect();
        if !by_name.is_empty() {
            candidates = by_name;
        }
    }
    if let Some(number) = query.phone.as_deref() {
        let by_phone: Vec<_> = candidates.iter().filter(|p| p.phone.as_deref().is_some_and(|ph| phone::same(ph, number))).cloned().collect();
        if !by_phone.is_empty() {
            candidates = by_phone;
        }
    }
    candidates
}

fn coded_status(resource: &Value, field: &str) -> Option<String> {
    resource.get(field).and_then(|s| s.pointer("/coding/0/code").and_then(Value::as_str).or(s.as_str())).map(str::to_string)
}

pub fn active_medication(request: &Value) -> Option<Medication> {
    if request.get("status").and_then(Value::as_str) != Some("active") {
        return None;
    }
    let concept = request.get("medicationCodeableConcept");
    let name = concept.and_then(concept_text).or_else(|| text(request, "/medicationReference/display").map(str::to_string))?;
    Some(Medication {
        id: request.get("id")?.as_str()?.to_string(),
        name,
        rxnorm: concept.and_then(|c| text(c, "/coding/0/code")).map(str::to_string),
        last_filled: request.get("authoredOn").and_then(Value::as_str).and_then(date_prefix),
    })
}

pub fn active_allergy(resource: &Value) -> Option<Allergy> {
    if coded_status(resource, "clinicalStatus").is_some_and(|s| s != "active") {
        return None;
    }
    Some(Allergy {
        id: resource.get("id")?.as_str()?.to_string(),
        substance: resource.get("code").and_then(concept_text)?,
        criticality: resource.get("criticality").and_then(Value::as_str).map(str::to_string),
    })
}

pub fn active_problem(condition: &Value) -> Option<Problem> {
    if coded_status(condition, "clinicalStatus").as_deref() != Some("active") {
        return None;
    }
    Some(Problem {
        id: condition.get("id")?.as_str()?.to_string(),
        name: condition.get("code").and_then(concept_text)?,
        onset: condition.get("onsetDateTime").and_then(Value::as_str).and_then(date_prefix),
    })
}

/// A booked/pending/proposed appointment starting after `now`.
pub fn upcoming_appointment(appointment: &Value, now: DateTime<Utc>) -> Option<Appointment> {
    let status = appointment.get("status").and_then(Value::as_str)?;
    if !matches!(status, "booked" | "pending" | "proposed") {
        return None;
    }
    let start = DateTime::parse_from_rfc3339(appointment.get("start")?.as_str()?).ok()?.with_timezone(&Utc);
    if start < now {
        return None;
    }
    let actor = |prefix: &str| {
        appointment
            .get("participant")
            .and_then(Value::as_array)
            .and_then(|ps| ps.iter().filter_map(|p| p.pointer("/actor/reference").and_then(Value::as_str)).find(|r| r.starts_with(prefix)).map(|r| ref_id(r).to_string()))
    };
    Some(Appointment {
        id: appointment.get("id")?.as_str()?.to_string(),
        start,
        description: appointment.get("description").and_then(Value::as_str).map(str::to_string).or_else(|| appointment.pointer("/appointmentType").and_then(concept_text)),
        practitioner: actor("Practitioner/"),
        location: actor("Location/"),
    })
}

/// A Practitioner with the specialty of its PractitionerRole, if one is known.
pub fn practitioner(resource: &Value, roles: &[Value]) -> Option<Practitioner> {
    let id = resource.get("id")?.as_str()?.to_string();
    let (given, family) = human_name(resource);
    let prefix = resource.pointer("/name/0/prefix/0").and_then(Value::as_str).unwrap_or("");
    let name = format!("{prefix} {given} {family}").trim().to_string();
    let npi = resource
        .get("identifier")
        .and_then(Value::as_array)
        .and_then(|ids| ids.iter().find(|i| text(i, "/system").is_some_and(|s| s.ends_with("us-npi"))))
        .and_then(|i| text(i, "/value"))
        .map(str::to_string);
    let specialty = roles.iter().find(|r| text(r, "/practitioner/reference").map(ref_id) == Some(id.as_str())).and_then(|r| r.pointer("/specialty/0").and_then(concept_text));
    Some(Practitioner { id, name, npi, specialty })
}

/// Everything a chart summary is made of, already fetched: the patient's own resources and the
/// practitioners (with roles) they refer to.
pub struct ChartParts<'a> {
    pub patient: Option<&'a Value>,
    pub resources: &'a [Value],
    pub practitioners: &'a HashMap<String, Value>,
    pub roles: &'a [Value],
    pub now: DateTime<Utc>,
}

pub fn chart_summary(parts: &ChartParts<'_>) -> ChartSummary {
    let of_type = |t: &'static str| parts.resources.iter().filter(move |r| r.get("resourceType").and_then(Value::as_str) == Some(t));
    let mut summary = ChartSummary { patient: parts.patient.and_then(patient_summary), ..Default::default() };
    summary.medications = of_type("MedicationRequest").filter_map(active_medication).collect();
    // Newest first; a renewed prescription hides the one it renews.
    summary.medications.sort_by_key(|m| std::cmp::Reverse(m.last_filled));
    let mut seen = std::collections::HashSet::new();
    summary.medications.retain(|m| seen.insert(m.name.clone()));
    summary.allergies = of_type("AllergyIntolerance").filter_map(active_allergy).collect();
    summary.problems = of_type("Condition").filter_map(active_problem).collect();
    let mut seen = std::collections::HashSet::new();
    summary.problems.retain(|p| seen.insert(p.name.clone()));
    summary.appointments = of_type("Appointment").filter_map(|a| upcoming_appointment(a, parts.now)).collect();
    summary.appointments.sort_by_key(|a| a.start);

    // Care team: members of active CareTeams, most recent team first.
    let mut teams: Vec<&Value> = of_type("CareTeam").filter(|t| t.get("status").and_then(Value::as_str) == Some("active")).collect();
    teams.sort_by(|a, b| text(b, "/period/start").cmp(&text(a, "/period/start")));
    let member = |id: &str| parts.practitioners.get(id).and_then(|p| practitioner(p, parts.roles));
    for team in teams {
        for participant in team.get("participant").and_then(Value::as_array).into_iter().flatten() {
            let Some(reference) = text(participant, "/member/reference") else { continue };
            let id = ref_id(reference);
            if summary.care_team.iter().any(|p| p.id == id) {
                continue;
            }
            if let Some(p) = member(id) {
                summary.care_team.push(p);
            }
        }
    }
    let general = parts.patient.and_then(|p| text(p, "/generalPractitioner/0/reference")).map(ref_id);
    summary.pcp = general.and_then(member).or_else(|| summary.care_team.first().cloned());
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn person(id: &str, given: &str, family: &str, dob: &str, phone: &str) -> PatientSummary {
        PatientSummary { id: id.into(), given: given.into(), family: family.into(), birth_date: dob.parse().unwrap(), phone: Some(phone.into()) }
    }

    #[test]
    fn references_reduce_to_ids() {
        assert_eq!(ref_id("Practitioner/abc"), "abc");
        assert_eq!(ref_id("urn:uuid:1-2-3"), "1-2-3");
        assert_eq!(ref_id("http://h/fhir/Patient/9"), "9");
    }

    #[test]
    fn narrowing_by_name_and_phone() {
        let all = vec![
            person("1", "Ana", "Núñez", "1980-01-02", "555-100-0001"),
            person("2", "Bo", "Smith", "1980-01-02", "555-100-0002"),
            person("3", "Cy", "Smith", "1980-01-02", "555-100-0003"),
            person("4", "Di", "Smith", "1990-01-02", "555-100-0002"),
        ];
        let q = |name: Option<&str>, phone: Option<&str>| PatientQuery { birth_date: "1980-01-02".parse().unwrap(), name: name.map(Into::into), phone: phone.map(Into::into) };
        assert_eq!(narrow(all.clone(), &q(None, None)).len(), 3);
        assert_eq!(narrow(all.clone(), &q(Some("nunez"), None))[0].id, "1");
        assert_eq!(narrow(all.clone(), &q(Some("Smith"), None)).len(), 2);
        assert_eq!(narrow(all.clone(), &q(Some("cy smith"), None)).iter().map(|p| &p.id).collect::<Vec<_>>(), ["3"]);
        assert_eq!(narrow(all.clone(), &q(Some("smith"), Some("+1 (555) 100-0002")))[0].id, "2");
        // An unknown phone does not hide the DOB matches.
        assert_eq!(narrow(all, &q(None, Some("555-999-9999"))).len(), 3);
    }

    #[test]
    fn summary_keeps_active_items_and_finds_the_pcp() {
        let now: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
        let resources = vec![
            json!({"resourceType": "MedicationRequest", "id": "m1", "status": "active", "authoredOn": "2026-09-01T10:00:00Z",
                   "medicationCodeableConcept": {"coding": [{"code": "314076", "display": "lisinopril 10 MG Oral Tablet"}]}}),
            json!({"resourceType": "MedicationRequest", "id": "m2", "status": "stopped", "medicationCodeableConcept": {"text": "old"}}),
            json!({"resourceType": "MedicationRequest", "id": "m3", "status": "active", "authoredOn": "2026-10-01T10:00:00Z",
                   "medicationCodeableConcept": {"coding": [{"code": "1", "display": "metformin"}]}}),
            json!({"resourceType": "MedicationRequest", "id": "m0", "status": "active", "authoredOn": "2025-01-01T10:00:00Z",
                   "medicationCodeableConcept": {"coding": [{"code": "314076", "display": "lisinopril 10 MG Oral Tablet"}]}}),
            json!({"resourceType": "AllergyIntolerance", "id": "a1", "clinicalStatus": {"coding": [{"code": "active"}]}, "code": {"coding": [{"display": "Peanut"}]}}),
            json!({"resourceType": "Condition", "id": "c1", "clinicalStatus": {"coding": [{"code": "active"}]}, "code": {"text": "Hypertension"}}),
            json!({"resourceType": "Condition", "id": "c2", "clinicalStatus": {"coding": [{"code": "resolved"}]}, "code": {"text": "Flu"}}),
            json!({"resourceType": "Appointment", "id": "ap1", "status": "booked", "start": "2026-11-10T15:00:00Z",
                   "participant": [{"actor": {"reference": "Practitioner/p1"}}]}),
            json!({"resourceType": "Appointment", "id": "ap0", "status": "booked", "start": "2026-10-10T15:00:00Z"}),
            json!({"resourceType": "CareTeam", "status": "active", "period": {"start": "2020-01-01"},
                   "participant": [{"member": {"reference": "Patient/x"}}, {"member": {"reference": "urn:uuid:p1"}}]}),
        ];
        let mut practitioners = HashMap::new();
        practitioners.insert(
            "p1".to_string(),
            json!({"resourceType": "Practitioner", "id": "p1", "name": [{"family": "Rossi", "given": ["Ahmed"], "prefix": ["Dr."]}],
            "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "999"}]}),
        );
        let roles = vec![json!({"practitioner": {"reference": "urn:uuid:p1"}, "specialty": [{"text": "Internal Medicine"}]})];
        let s = chart_summary(&ChartParts { patient: None, resources: &resources, practitioners: &practitioners, roles: &roles, now });
        // Newest first, the older lisinopril prescription hidden by the newer one.
        assert_eq!(s.medications.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["m3", "m1"]);
        assert_eq!(s.medications[1].name, "lisinopril 10 MG Oral Tablet");
        assert_eq!(s.medications[1].last_filled, Some("2026-09-01".parse().unwrap()));
        assert_eq!(s.allergies[0].substance, "Peanut");
        assert_eq!(s.problems.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["Hypertension"]);
        assert_eq!(s.appointments.len(), 1);
        assert_eq!(s.appointments[0].practitioner.as_deref(), Some("p1"));
        let pcp = s.pcp.unwrap();
        assert_eq!((pcp.name.as_str(), pcp.npi.as_deref(), pcp.specialty.as_deref()), ("Dr. Ahmed Rossi", Some("999"), Some("Internal Medicine")));
    }
}
