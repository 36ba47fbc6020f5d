//! Scheduling against a FHIR R4 server: free `Slot`s of the practitioners' `Schedule`s, booking
//! as one transaction Bundle that creates the `Appointment` and marks each slot busy with
//! `ifMatch` on the version read, so a slot another caller booked in between fails the whole
//! transaction (412/409) instead of being given twice. Cancelling frees the slots the same way.

use std::collections::HashMap;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use chrono_tz::Tz;
use reqwest::Method;
use serde_json::{Value, json};

use super::bundle_resources;
use super::client::FhirClient;
use crate::ehr::BookError;
use crate::ehr::error::EhrError;
use crate::ehr::profiles::Body;
use crate::ehr::resources::{human_name, ref_id};
use crate::ehr::schedule_resources as fhir;
use crate::schedule::{self, Booked, BookingRequest, Slot, SlotQuery, Upcoming};

/// Most slot search pages read for one query.
const MAX_PAGES: usize = 20;
/// Schedules per Slot search (their references go in one URL).
const SCHEDULES_PER_SEARCH: usize = 20;

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A `next` link relative to our base: some servers (sekmet) put their configured address in
/// links, not the one we reached them at.
fn relative_next(bundle: &Value, kind: &str) -> Option<String> {
    let url = bundle.get("link")?.as_array()?.iter().find(|l| l.get("relation").and_then(Value::as_str) == Some("next"))?.get("url")?.as_str()?;
    let at = url.find(&format!("/{kind}?"))?;
    Some(url[at + 1..].to_string())
}

/// All resources of a search, following `next` links.
async fn search_all(client: &FhirClient, kind: &str, query: String) -> Result<Vec<Value>, EhrError> {
    let mut out = Vec::new();
    let mut path = Some(query);
    for _ in 0..MAX_PAGES {
        let Some(p) = path.take() else { break };
        let page = client.get(&p).await?.body;
        let found = bundle_resources(&page);
        let empty = found.is_empty();
        out.extend(found);
        path = if empty { None } else { relative_next(&page, kind) };
    }
    Ok(out)
}

fn version(resource: &Value) -> Option<String> {
    resource.pointer("/meta/versionId").and_then(Value::as_str).map(|v| format!("W/\"{v}\""))
}

fn is_conflict(e: &EhrError) -> bool {
    matches!(e, EhrError::Http { status: 409 | 412, .. })
}

async fn read(client: &FhirClient, kind: &str, id: &str) -> Result<Option<Value>, EhrError> {
    match client.get(&format!("{kind}/{id}")).await {
        Ok(r) => Ok(Some(r.body)),
        Err(EhrError::Http { status: 404 | 410, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Practitioner and location (id, name) per Schedule id; names read when the actor has no display.
async fn schedules(client: &FhirClient, query: &SlotQuery) -> Result<Actors, EhrError> {
    let search = match (&query.practitioner_id, &query.location_id) {
        (Some(p), _) => format!("Schedule?actor=Practitioner/{p}&_count=100"),
        (None, Some(l)) => format!("Schedule?actor=Location/{l}&_count=100"),
        (None, None) => "Schedule?_count=200".to_string(),
    };
    let mut out = HashMap::new();
    let mut names: HashMap<String, String> = HashMap::new();
    for s in search_all(client, "Schedule", search).await? {
        if s.get("active").and_then(Value::as_bool) == Some(false) {
            continue;
        }
        let (Some(id), Some((mut p, mut l))) = (s.get("id").and_then(Value::as_str), fhir::schedule_actors(&s)) else { continue };
        if query.location_id.as_ref().is_some_and(|want| want != &l.0) {
            continue;
        }
        for (kind, actor) in [("Practitioner", &mut p), ("Location", &mut l)] {
            if actor.1.is_empty() && !actor.0.is_empty() {
                let key = format!("{kind}/{}", actor.0);
                if !names.contains_key(&key) {
                    let name = read(client, kind, &actor.0).await?.map(|r| display_name(kind, &r)).unwrap_or_default();
                    names.insert(key.clone(), name);
                }
                actor.1 = names[&key].clone();
            }
        }
        out.insert(id.to_string(), (p, l));
    }
    Ok(out)
}

fn display_name(kind: &str, resource: &Value) -> String {
    if kind == "Practitioner" {
        let (given, family) = human_name(resource);
        let prefix = resource.pointer("/name/0/prefix/0").and_then(Value::as_str).unwrap_or("");
        format!("{prefix} {given} {family}").split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        resource.get("name").and_then(Value::as_str).unwrap_or_default().to_string()
    }
}

/// The offers for a query: the week ahead first, the rest of the window only when that has too few.
pub async fn free_slots(client: &FhirClient, query: &SlotQuery, tz: Tz) -> Result<Vec<Slot>, EhrError> {
    let Some((from, until)) = schedule::search::window(query, tz) else { return Ok(Vec::new()) };
    let schedules = schedules(client, query).await?;
    let week = from + Duration::days(7);
    let mut offers = Vec::new();
    for end in if week < until { vec![week, until] } else { vec![until] } {
        offers = free_slots_in(client, &schedules, &SlotQuery { from, until: end, ..query.clone() }, tz).await?;
        if offers.len() >= query.limit {
            break;
        }
    }
    Ok(offers)
}

type Actors = HashMap<String, ((String, String), (String, String))>;

async fn free_slots_in(client: &FhirClient, schedules: &Actors, query: &SlotQuery, tz: Tz) -> Result<Vec<Slot>, EhrError> {
    let (from, until) = (query.from, query.until);
    let tail = until + Duration::minutes(i64::from(query.minutes) + 60);
    let ids: Vec<&String> = schedules.keys().collect();
    let mut free = Vec::new();
    for chunk in ids.chunks(SCHEDULES_PER_SEARCH) {
        let refs: Vec<String> = chunk.iter().map(|id| format!("Schedule/{id}")).collect();
        let search = format!("Slot?schedule={}&status=free&start=ge{}&start=lt{}&_sort=start&_count=500", refs.join(","), stamp(from), stamp(tail));
        for s in search_all(client, "Slot", search).await? {
            // Servers that ignore a search parameter silently must not give busy slots.
            if s.get("status").and_then(Value::as_str) != Some("free") {
                continue;
            }
            let Some(sched) = s.pointer("/schedule/reference").and_then(Value::as_str).map(ref_id) else { continue };
            if let Some((p, l)) = schedules.get(sched) {
                free.extend(fhir::slot_from_fhir(&s, p, l));
            }
        }
    }
    Ok(schedule::find_offers(&free, query, tz))
}

/// The slots of an offer as read now (resource, slot), in order; SlotTaken when one is not free
/// and `free` is asked for.
async fn offer_slots(client: &FhirClient, offer_id: &str, free: bool) -> Result<Vec<(Value, Slot)>, BookError> {
    let mut out: Vec<(Value, Slot)> = Vec::new();
    for id in schedule::slot_ids(offer_id) {
        let resource = read(client, "Slot", id).await?.ok_or_else(|| BookError::NotFound(format!("Slot/{id}")))?;
        if free && resource.get("status").and_then(Value::as_str) != Some("free") {
            return Err(BookError::SlotTaken);
        }
        let sched = resource.pointer("/schedule/reference").and_then(Value::as_str).map(ref_id).unwrap_or_default().to_string();
        let schedule = read(client, "Schedule", &sched).await?.ok_or_else(|| BookError::NotFound(format!("Schedule/{sched}")))?;
        let (p, l) = fhir::schedule_actors(&schedule).ok_or_else(|| BookError::NotFound(format!("the practitioner of Schedule/{sched}")))?;
        let slot = fhir::slot_from_fhir(&resource, &p, &l).ok_or_else(|| EhrError::Protocol(format!("Slot/{id} has no start or end")))?;
        out.push((resource, slot));
    }
    if out.is_empty() {
        return Err(BookError::NotFound(format!("Slot/{offer_id}")));
    }
    let back_to_back = out.windows(2).all(|w| w[1].1.start == w[0].1.end && w[1].1.practitioner_id == w[0].1.practitioner_id);
    if !back_to_back {
        return Err(BookError::NotFound(format!("a run of back-to-back slots {offer_id}")));
    }
    Ok(out)
}

/// A transaction entry that writes `resource` only if the server still has `version` of it.
fn put_if_match(resource: &Value, version: Option<String>) -> Value {
    let kind = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default();
    let id = resource.get("id").and_then(Value::as_str).unwrap_or_default();
    let mut request = json!({"method": "PUT", "url": format!("{kind}/{id}")});
    if let Some(v) = version {
        request["ifMatch"] = json!(v);
    }
    json!({"fullUrl": format!("{kind}/{id}"), "resource": resource, "request": request})
}

/// The resource without the server's version bookkeeping (the server assigns the next one).
fn without_version(mut resource: Value) -> Value {
    if let Some(meta) = resource.get_mut("meta").and_then(Value::as_object_mut) {
        meta.remove("versionId");
        meta.remove("lastUpdated");
    }
    resource
}

fn with_status(slot: Value, status: &str) -> Value {
    let mut slot = without_version(slot);
    slot["status"] = json!(status);
    slot
}

/// Entries that cancel the patient's appointment and free its slots, each guarded by its version.
async fn cancel_entries(client: &FhirClient, patient_id: &str, appointment_id: &str, call_id: &str) -> Result<Vec<Value>, BookError> {
    let appointment = read(client, "Appointment", appointment_id)
        .await?
        .filter(|a| fhir::appointment_patient(a).as_deref() == Some(patient_id))
        .ok_or_else(|| BookError::NotFound(format!("Appointment/{appointment_id} of this patient")))?;
    if appointment.get("status").and_then(Value::as_str) == Some("cancelled") {
        return Ok(Vec::new());
    }
    let v = version(&appointment);
    let mut entries = vec![put_if_match(&fhir::cancelled(without_version(appointment.clone()), call_id), v)];
    for slot_id in fhir::appointment_slots(&appointment) {
        if let Some(slot) = read(client, "Slot", &slot_id).await? {
            let v = version(&slot);
            entries.push(put_if_match(&with_status(slot, "free"), v));
        }
    }
    Ok(entries)
}

async fn transaction(client: &FhirClient, entries: Vec<Value>) -> Result<Value, EhrError> {
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
    // The base itself (no trailing slash): `url("")` would add one.
    let base = client.url("").trim_end_matches('/').to_string();
    Ok(client.send(Method::POST, &base, Some(&Body::Json(bundle)), &[]).await?.body)
}

/// A booking read and planned but not yet written: the transaction entries carry the slot
/// versions read, so writing it after someone else booked a slot fails.
pub struct PreparedBooking {
    appointment_id: String,
    offer: Slot,
    slot_ids: Vec<String>,
    entries: Vec<Value>,
}

/// Reads the offer's slots (and the appointment being replaced) and plans the transaction.
pub async fn prepare(client: &FhirClient, request: &BookingRequest, now: DateTime<Utc>) -> Result<PreparedBooking, BookError> {
    if read(client, "Patient", &request.patient_id).await?.is_none() {
        return Err(BookError::NotFound(format!("Patient/{}", request.patient_id)));
    }
    let slots = offer_slots(client, &request.slot_id, true).await?;
    let mut offer = slots[0].1.clone();
    offer.end = slots[slots.len() - 1].1.end;
    offer.id = request.slot_id.clone();
    let ids: Vec<&str> = slots.iter().map(|(_, s)| s.id.as_str()).collect();
    // A client-assigned id, so the confirmation number is known before the server answers.
    let appointment_id = uuid::Uuid::new_v4().to_string();
    let appointment = fhir::appointment_resource(Some(&appointment_id), request, &offer, &ids, now);
    let mut entries = vec![put_if_match(&appointment, None)];
    for (resource, _) in &slots {
        entries.push(put_if_match(&with_status(resource.clone(), "busy"), version(resource)));
    }
    if let Some(old) = &request.replaces {
        entries.extend(cancel_entries(client, &request.patient_id, old, &request.call_id).await?);
    }
    Ok(PreparedBooking { appointment_id, offer, slot_ids: ids.into_iter().map(str::to_string).collect(), entries })
}

/// Writes a prepared booking in one transaction; SlotTaken when a slot changed since it was read.
pub async fn commit(client: &FhirClient, prepared: PreparedBooking) -> Result<Booked, BookError> {
    let PreparedBooking { appointment_id, offer, slot_ids, entries } = prepared;
    match transaction(client, entries).await {
        Ok(_) => Ok(Booked { confirmation: fhir::confirmation_number(&appointment_id), appointment_id, slot: offer }),
        Err(e) if is_conflict(&e) => {
            // Someone changed a slot (or the appointment being moved) since we read it.
            for id in &slot_ids {
                if read(client, "Slot", id).await?.is_some_and(|s| s.get("status").and_then(Value::as_str) != Some("free")) {
                    tracing::debug!(slot = %id, "slot booked by another caller between read and write");
                    return Err(BookError::SlotTaken);
                }
            }
            Err(BookError::Ehr(e))
        }
        Err(e) => Err(BookError::Ehr(e)),
    }
}

pub async fn book(client: &FhirClient, request: &BookingRequest, now: DateTime<Utc>) -> Result<Booked, BookError> {
    let result = match prepare(client, request, now).await {
        Ok(prepared) => commit(client, prepared).await,
        Err(e) => Err(e),
    };
    match result {
        // A retry of a booking this call already made (say its answer was lost) gets it back.
        Err(BookError::SlotTaken) => already_booked(client, request).await?.ok_or(BookError::SlotTaken),
        other => other,
    }
}

/// The booking when the offer's slots are held by one booked Appointment of this call and patient.
async fn already_booked(client: &FhirClient, request: &BookingRequest) -> Result<Option<Booked>, BookError> {
    let slots = offer_slots(client, &request.slot_id, false).await?;
    let first = &slots[0].1.id;
    let found = search_all(client, "Appointment", format!("Appointment?slot=Slot/{first}&identifier={}|{}", fhir::CALL_ID_SYSTEM, request.call_id)).await?;
    let wanted: Vec<&str> = slots.iter().map(|(_, s)| s.id.as_str()).collect();
    let Some(appointment) = found.iter().find(|a| fhir::booked_by(a, &request.patient_id, &request.call_id) && fhir::appointment_slots(a) == wanted) else {
        return Ok(None);
    };
    let id = appointment.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
    let mut offer = slots[0].1.clone();
    offer.end = slots[slots.len() - 1].1.end;
    offer.id = request.slot_id.clone();
    Ok(Some(Booked { confirmation: fhir::confirmation_number(&id), appointment_id: id, slot: offer }))
}

pub async fn cancel(client: &FhirClient, patient_id: &str, appointment_id: &str, call_id: &str) -> Result<(), BookError> {
    // A slot changing between the read and the write (a version conflict) is read again once.
    for attempt in 0..2 {
        let entries = cancel_entries(client, patient_id, appointment_id, call_id).await?;
        if entries.is_empty() {
            return Ok(());
        }
        match transaction(client, entries).await {
            Ok(_) => return Ok(()),
            Err(e) if is_conflict(&e) && attempt == 0 => continue,
            Err(e) => return Err(BookError::Ehr(e)),
        }
    }
    Ok(())
}

pub async fn upcoming(client: &FhirClient, patient_id: &str, from: DateTime<Utc>) -> Result<Vec<Upcoming>, EhrError> {
    let found = search_all(client, "Appointment", format!("Appointment?patient={patient_id}&date=ge{}&_count=100", from.format("%Y-%m-%d"))).await?;
    let mut names: HashMap<String, Option<String>> = HashMap::new();
    for a in &found {
        for p in a.get("participant").and_then(Value::as_array).into_iter().flatten() {
            let (Some(r), None) = (p.pointer("/actor/reference").and_then(Value::as_str), p.pointer("/actor/display")) else { continue };
            let Some((kind, id)) = r.rsplit_once('/').map(|(k, id)| (k.rsplit('/').next().unwrap_or(k), id)) else { continue };
            if matches!(kind, "Practitioner" | "Location") && !names.contains_key(&format!("{kind}/{id}")) {
                let name = read(client, kind, id).await?.map(|r| display_name(kind, &r));
                names.insert(format!("{kind}/{id}"), name);
            }
        }
    }
    let lookup = |reference: &str| names.get(reference).cloned().flatten();
    let mut out: Vec<Upcoming> = found.iter().filter(|a| fhir::appointment_patient(a).as_deref() == Some(patient_id)).filter_map(|a| fhir::upcoming(a, from, &lookup)).collect();
    out.sort_by_key(|u| u.start);
    Ok(out)
}

/// A transaction Bundle loading Schedules and Slots (e.g. generated demo schedules) into a server.
pub fn load_bundle(schedules: &[Value], slots: &[Value]) -> Value {
    let entries: Vec<Value> = schedules.iter().chain(slots).map(|r| put_if_match(r, None)).collect();
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links_are_made_relative_to_our_base() {
        let page = json!({"link": [{"relation": "self", "url": "x"}, {"relation": "next", "url": "http://localhost:8090/fhir/Slot?schedule=Schedule%2Fs&_offset=2"}]});
        assert_eq!(relative_next(&page, "Slot").as_deref(), Some("Slot?schedule=Schedule%2Fs&_offset=2"));
        assert_eq!(relative_next(&json!({"link": []}), "Slot"), None);
    }

    #[test]
    fn writes_are_guarded_by_the_version_read() {
        let slot = json!({"resourceType": "Slot", "id": "s1", "status": "free", "meta": {"versionId": "3", "lastUpdated": "x"}});
        let entry = put_if_match(&with_status(slot.clone(), "busy"), version(&slot));
        assert_eq!(entry["request"], json!({"method": "PUT", "url": "Slot/s1", "ifMatch": "W/\"3\""}));
        assert_eq!(entry["resource"]["status"], "busy");
        assert!(entry["resource"]["meta"].get("versionId").is_none());
    }
}
