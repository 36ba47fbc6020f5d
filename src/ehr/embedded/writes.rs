//! What calls and providers write into the embedded chart: a Task and a Communication per call
//! (keyed by the call id, so writing a call twice changes nothing), replies, refill decisions.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

use super::super::error::EhrError;
use super::super::mapping;
use super::super::types::*;
use super::import::store_resource;
use crate::store::record::{CallRecord, MatchStatus};

pub fn write_call(conn: &mut Connection, call: &CallRecord, now: DateTime<Utc>) -> Result<Vec<String>, EhrError> {
    let kind = mapping::request_type(call);
    let priority = mapping::priority(call);
    let owner = mapping::owner_reference(call).map(|r| super::ref_id(&r).to_string());
    // Only a verified match is filed on a chart; the rest wait in the pool for a human.
    let patient = call.patient.id.as_deref().filter(|_| call.patient.status == MatchStatus::Identified);
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO communications (id, call_id, patient_id, category, priority, text, recording, sent)
         VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(id) DO NOTHING",
        params![call.call_id, patient, kind.name(), priority, call.transcript, call.recording, call.ended_at.unwrap_or(now).to_rfc3339()],
    )?;
    tx.execute(
        "INSERT INTO tasks (call_id, patient_id, owner, status, business_status, code, priority, authored_on, updated_at)
         VALUES (?1, ?2, ?3, 'requested', ?4, ?5, ?6, ?7, ?7) ON CONFLICT(call_id) DO NOTHING",
        params![call.call_id, patient, owner, mapping::business_status(call).0, kind.name(), priority, now.to_rfc3339()],
    )?;
    tx.commit()?;
    Ok(vec![format!("Communication/{}", call.call_id), format!("Task/{}", call.call_id)])
}

fn require_task(conn: &Connection, call_id: &str) -> Result<(), EhrError> {
    let found: Option<i64> = conn.query_row("SELECT 1 FROM tasks WHERE call_id = ?1", [call_id], |r| r.get(0)).optional()?;
    found.map(|_| ()).ok_or_else(|| EhrError::NotFound(format!("Task/{call_id}")))
}

pub fn update_task(conn: &mut Connection, call_id: &str, update: &TaskUpdate, now: DateTime<Utc>) -> Result<Vec<String>, EhrError> {
    let tx = conn.transaction()?;
    require_task(&tx, call_id)?;
    let mut refs = vec![format!("Task/{call_id}")];
    if let Some(status) = update.status {
        tx.execute("UPDATE tasks SET status = ?2, updated_at = ?3 WHERE call_id = ?1", params![call_id, status.as_fhir(), now.to_rfc3339()])?;
    }
    if let Some(owner) = &update.owner {
        tx.execute("UPDATE tasks SET owner = ?2, updated_at = ?3 WHERE call_id = ?1", params![call_id, owner, now.to_rfc3339()])?;
    }
    if let Some(reply) = &update.reply {
        let count: i64 = tx.query_row("SELECT COUNT(*) FROM communications WHERE call_id = ?1", [call_id], |r| r.get(0))?;
        let id = format!("{call_id}-reply-{count}");
        tx.execute(
            "INSERT INTO communications (id, call_id, patient_id, category, text, in_response_to, author, sent)
             SELECT ?1, call_id, patient_id, code, ?2, call_id, ?3, ?4 FROM tasks WHERE call_id = ?5",
            params![id, reply.text, reply.author, now.to_rfc3339(), call_id],
        )?;
        refs.push(format!("Communication/{id}"));
    }
    tx.commit()?;
    Ok(refs)
}

pub fn record_refill(conn: &mut Connection, call_id: &str, decision: &RefillDecision) -> Result<Vec<String>, EhrError> {
    let tx = conn.transaction()?;
    require_task(&tx, call_id)?;
    let prior: Option<(String, Option<String>)> =
        tx.query_row("SELECT json, patient_id FROM resources WHERE type = 'MedicationRequest' AND id = ?1", [&decision.medication_id], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
    let (prior, patient) = prior.ok_or_else(|| EhrError::NotFound(format!("MedicationRequest/{}", decision.medication_id)))?;
    let prior: Value = serde_json::from_str(&prior)?;
    let at = decision.at.to_rfc3339();
    let mut refs = Vec::new();
    let mut targets = vec![json!({"reference": format!("Task/{call_id}")})];
    if decision.approved {
        let id = format!("{call_id}-refill");
        let mut renewed = prior.clone();
        renewed["id"] = json!(id);
        renewed["status"] = json!("active");
        renewed["authoredOn"] = json!(at);
        renewed["requester"] = json!({"reference": format!("Practitioner/{}", decision.by)});
        renewed["priorPrescription"] = json!({"reference": format!("MedicationRequest/{}", decision.medication_id)});
        store_resource(&tx, "MedicationRequest", &id, patient.as_deref(), &renewed)?;
        refs.push(format!("MedicationRequest/{id}"));
        targets.push(json!({"reference": format!("MedicationRequest/{id}")}));
    }
    let status = if decision.approved { "completed" } else { "rejected" };
    tx.execute(
        "UPDATE tasks SET status = ?2, business_status = ?3, updated_at = ?4 WHERE call_id = ?1",
        params![call_id, status, if decision.approved { "refill-approved" } else { "refill-denied" }, at],
    )?;
    refs.push(format!("Task/{call_id}"));
    let provenance_id = format!("{call_id}-refill-provenance");
    let provenance = json!({
        "resourceType": "Provenance", "id": provenance_id, "target": targets, "recorded": at,
        "agent": [{"who": {"reference": format!("Practitioner/{}", decision.by)}}],
        "reason": decision.note.as_ref().map(|n| vec![json!({"text": n})]),
    });
    store_resource(&tx, "Provenance", &provenance_id, patient.as_deref(), &provenance)?;
    refs.push(format!("Provenance/{provenance_id}"));
    tx.commit()?;
    Ok(refs)
}

pub fn task_json(conn: &Connection, call_id: &str) -> Result<Option<Value>, EhrError> {
    Ok(conn
        .query_row("SELECT call_id, patient_id, owner, status, business_status, code, priority, authored_on FROM tasks WHERE call_id = ?1", [call_id], |r| {
            Ok(json!({
                "resourceType": "Task", "id": r.get::<_, String>(0)?,
                "identifier": [{"system": mapping::CALL_ID_SYSTEM, "value": r.get::<_, String>(0)?}],
                "for": r.get::<_, Option<String>>(1)?.map(|p| json!({"reference": format!("Patient/{p}")})),
                "owner": r.get::<_, Option<String>>(2)?.map(|p| json!({"reference": format!("Practitioner/{p}")})),
                "status": r.get::<_, String>(3)?,
                "businessStatus": {"text": r.get::<_, Option<String>>(4)?},
                "code": {"coding": [{"system": mapping::REQUEST_TYPE_SYSTEM, "code": r.get::<_, Option<String>>(5)?}]},
                "priority": r.get::<_, String>(6)?,
                "authoredOn": r.get::<_, String>(7)?,
                "focus": {"reference": format!("Communication/{}", r.get::<_, String>(0)?)},
            }))
        })
        .optional()?)
}

pub fn communications_json(conn: &Connection, call_id: &str) -> Result<Vec<Value>, EhrError> {
    let mut stmt = conn.prepare("SELECT id, patient_id, category, priority, text, in_response_to, author, sent FROM communications WHERE call_id = ?1 ORDER BY sent, id")?;
    let rows = stmt.query_map([call_id], |r| {
        Ok(json!({
            "resourceType": "Communication", "id": r.get::<_, String>(0)?,
            "subject": r.get::<_, Option<String>>(1)?.map(|p| json!({"reference": format!("Patient/{p}")})),
            "category": [{"coding": [{"system": mapping::REQUEST_TYPE_SYSTEM, "code": r.get::<_, Option<String>>(2)?}]}],
            "priority": r.get::<_, Option<String>>(3)?,
            "payload": [{"contentString": r.get::<_, Option<String>>(4)?}],
            "inResponseTo": r.get::<_, Option<String>>(5)?.map(|c| vec![json!({"reference": format!("Communication/{c}")})]),
            "sender": r.get::<_, Option<String>>(6)?.map(|p| json!({"reference": format!("Practitioner/{p}")})),
            "sent": r.get::<_, String>(7)?,
        }))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
