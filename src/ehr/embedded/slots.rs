//! Schedules in the embedded chart: a `slots` table (one row per Slot, free or busy, with the
//! Appointment holding it) beside the FHIR-shaped Schedule and Appointment resources. Booking is
//! one `BEGIN IMMEDIATE` transaction whose conditional updates (`... WHERE status = 'free'`) decide
//! who gets a slot: zero rows changed means another caller was first.

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use chrono_tz::Tz;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::Value;

use super::import::store_resource;
use crate::ehr::BookError;
use crate::ehr::error::EhrError;
use crate::ehr::resources::{human_name, ref_id};
use crate::ehr::schedule_resources as fhir;
use crate::schedule::demo::{self, DemoSlot, Provider};
use crate::schedule::{self, Booked, BookingRequest, Slot, SlotQuery, Upcoming};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS slots (
    id TEXT PRIMARY KEY, practitioner_id TEXT NOT NULL, practitioner_name TEXT NOT NULL,
    location_id TEXT NOT NULL, location_name TEXT NOT NULL, start TEXT NOT NULL, end TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('free', 'busy')), appointment_id TEXT);
CREATE INDEX IF NOT EXISTS slots_start ON slots(status, start);
CREATE INDEX IF NOT EXISTS slots_practitioner ON slots(practitioner_id, start);
CREATE INDEX IF NOT EXISTS slots_appointment ON slots(appointment_id);
";

/// Seed of the demo practice's schedules.
pub const DEMO_SEED: u64 = 7;

/// UTC instants as stored: fixed width, so text order is time order.
fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse_stamp(s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

fn row_to_slot(row: &rusqlite::Row<'_>) -> rusqlite::Result<Slot> {
    Ok(Slot {
        id: row.get(0)?,
        practitioner_id: row.get(1)?,
        practitioner_name: row.get(2)?,
        location_id: row.get(3)?,
        location_name: row.get(4)?,
        start: parse_stamp(&row.get::<_, String>(5)?)?,
        end: parse_stamp(&row.get::<_, String>(6)?)?,
    })
}

const SLOT_COLUMNS: &str = "id, practitioner_id, practitioner_name, location_id, location_name, start, end";

fn resource(conn: &Connection, kind: &str, id: &str) -> Result<Option<Value>, EhrError> {
    let json: Option<String> = conn.query_row("SELECT json FROM resources WHERE type = ?1 AND id = ?2", params![kind, id], |r| r.get(0)).optional()?;
    Ok(json.map(|j| serde_json::from_str(&j)).transpose()?)
}

fn practitioner_name(p: &Value) -> String {
    let (given, family) = human_name(p);
    let prefix = p.pointer("/name/0/prefix/0").and_then(Value::as_str).unwrap_or("");
    format!("{prefix} {given} {family}").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Practitioners with a role at an organization that has a Location: where they see patients.
pub fn providers(conn: &Connection) -> Result<Vec<Provider>, EhrError> {
    let all = |kind: &str| -> Result<Vec<Value>, EhrError> {
        let mut stmt = conn.prepare("SELECT json FROM resources WHERE type = ?1 ORDER BY id")?;
        let rows = stmt.query_map([kind], |r| r.get::<_, String>(0))?;
        rows.map(|j| Ok(serde_json::from_str(&j?)?)).collect()
    };
    let locations = all("Location")?;
    let mut out: Vec<Provider> = Vec::new();
    for role in all("PractitionerRole")? {
        let (Some(practitioner), Some(org)) =
            (role.pointer("/practitioner/reference").and_then(Value::as_str).map(ref_id), role.pointer("/organization/reference").and_then(Value::as_str).map(ref_id))
        else {
            continue;
        };
        let explicit = role.pointer("/location/0/reference").and_then(Value::as_str).map(ref_id);
        let location = locations.iter().find(|l| {
            let id = l.get("id").and_then(Value::as_str);
            match explicit {
                Some(want) => id == Some(want),
                None => l.pointer("/managingOrganization/reference").and_then(Value::as_str).map(ref_id) == Some(org),
            }
        });
        let (Some(location), Some(p)) = (location, resource(conn, "Practitioner", practitioner)?) else { continue };
        if out.iter().any(|o| o.practitioner_id == practitioner) {
            continue;
        }
        out.push(Provider {
            practitioner_id: practitioner.to_string(),
            practitioner_name: practitioner_name(&p),
            location_id: location.get("id").and_then(Value::as_str).unwrap_or_default().to_string(),
            location_name: location.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
        });
    }
    Ok(out)
}

/// What (re)generating schedules did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ScheduleReport {
    pub practitioners: usize,
    pub slots: usize,
    pub free: usize,
    /// Slots an appointment holds (booked here, or the time of one already in the chart).
    pub held_by_appointments: usize,
}

/// Replaces the slots no appointment holds with generated ones from the Monday of `now`'s week for
/// `days` days (slots already started are left out), and marks the times of booked appointments
/// already in the chart busy.
pub fn generate(conn: &mut Connection, now: DateTime<Utc>, tz: Tz, days: u32, seed: u64) -> Result<ScheduleReport, EhrError> {
    let providers = providers(conn)?;
    let today: NaiveDate = now.with_timezone(&tz).date_naive();
    let first = demo::week_start(today);
    let span = days + (today - first).num_days() as u32;
    let slots: Vec<DemoSlot> = demo::generate(&providers, first, span, tz, seed).into_iter().filter(|s| s.slot.start > now).collect();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute("DELETE FROM slots WHERE appointment_id IS NULL", [])?;
    let mut report = ScheduleReport { practitioners: providers.len(), ..Default::default() };
    {
        let mut insert = tx.prepare(
            "INSERT OR IGNORE INTO slots (id, practitioner_id, practitioner_name, location_id, location_name, start, end, status)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for s in &slots {
            let t = &s.slot;
            let status = if s.busy { "busy" } else { "free" };
            report.slots += insert.execute(params![t.id, t.practitioner_id, t.practitioner_name, t.location_id, t.location_name, stamp(t.start), stamp(t.end), status])?;
        }
    }
    for p in &providers {
        let any = Slot {
            id: String::new(),
            start: now,
            end: now,
            practitioner_id: p.practitioner_id.clone(),
            practitioner_name: p.practitioner_name.clone(),
            location_id: p.location_id.clone(),
            location_name: p.location_name.clone(),
        };
        let schedule = fhir::schedule_resource(&any);
        store_resource(&tx, "Schedule", schedule["id"].as_str().unwrap_or_default(), None, &schedule)?;
    }
    // Appointments already in the chart (the demo's) hold their practitioner's slots.
    let appointments: Vec<Value> = {
        let mut stmt = tx.prepare("SELECT json FROM resources WHERE type = 'Appointment'")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.filter_map(|j| j.ok().and_then(|j| serde_json::from_str(&j).ok())).collect()
    };
    for a in appointments {
        let Some(up) = fhir::upcoming(&a, now, &|_| None) else { continue };
        let (Some(practitioner), Some(end)) = (up.practitioner_id, a.get("end").and_then(Value::as_str).and_then(|e| parse_stamp(e).ok())) else { continue };
        tx.execute(
            "UPDATE slots SET status = 'busy', appointment_id = ?1 WHERE practitioner_id = ?2 AND start < ?3 AND end > ?4 AND appointment_id IS NULL",
            params![up.appointment_id, practitioner, stamp(end), stamp(up.start)],
        )?;
    }
    report.held_by_appointments = tx.query_row("SELECT COUNT(*) FROM slots WHERE appointment_id IS NOT NULL", [], |r| r.get::<_, i64>(0))? as usize;
    report.free = tx.query_row("SELECT COUNT(*) FROM slots WHERE status = 'free'", [], |r| r.get::<_, i64>(0))? as usize;
    tx.commit()?;
    Ok(report)
}

pub fn slot_count(conn: &Connection) -> Result<usize, EhrError> {
    Ok(conn.query_row("SELECT COUNT(*) FROM slots", [], |r| r.get::<_, i64>(0))? as usize)
}

/// The offers for a query (see `schedule::search`), reading ever wider windows until there are
/// enough.
pub fn free_slots(conn: &Connection, query: &SlotQuery, tz: Tz) -> Result<Vec<Slot>, EhrError> {
    let Some((from, until)) = schedule::search::window(query, tz) else { return Ok(Vec::new()) };
    let mut offers = Vec::new();
    for end in schedule::search::widening(from, until) {
        offers = free_slots_in(conn, &SlotQuery { from, until: end, ..query.clone() }, tz)?;
        if offers.len() >= query.limit {
            break;
        }
    }
    Ok(offers)
}

fn free_slots_in(conn: &Connection, query: &SlotQuery, tz: Tz) -> Result<Vec<Slot>, EhrError> {
    let (from, until) = (query.from, query.until);
    // Slots starting up to the visit length after `until` can complete a run that starts before it.
    let tail = until + Duration::minutes(i64::from(query.minutes) + 60);
    let mut sql = format!("SELECT {SLOT_COLUMNS} FROM slots WHERE status = 'free' AND start >= ?1 AND start < ?2");
    let mut args: Vec<String> = vec![stamp(from), stamp(tail)];
    for (column, value) in [("practitioner_id", &query.practitioner_id), ("location_id", &query.location_id)] {
        if let Some(v) = value {
            args.push(v.clone());
            sql.push_str(&format!(" AND {column} = ?{}", args.len()));
        }
    }
    sql.push_str(" ORDER BY start");
    let mut stmt = conn.prepare_cached(&sql)?;
    let slots: Vec<Slot> = stmt.query_map(rusqlite::params_from_iter(args.iter()), row_to_slot)?.collect::<Result<_, _>>()?;
    Ok(schedule::find_offers(&slots, query, tz))
}

/// The slots of an offer id, in order; NotFound when one is missing or they are not back to back.
fn offer_slots(conn: &Connection, offer_id: &str) -> Result<Vec<Slot>, BookError> {
    let ids = schedule::slot_ids(offer_id);
    if ids.is_empty() {
        return Err(BookError::NotFound(format!("Slot/{offer_id}")));
    }
    let mut slots = Vec::new();
    for id in ids {
        let slot = conn
            .query_row(&format!("SELECT {SLOT_COLUMNS} FROM slots WHERE id = ?1"), [id], row_to_slot)
            .optional()
            .map_err(EhrError::from)?
            .ok_or_else(|| BookError::NotFound(format!("Slot/{id}")))?;
        slots.push(slot);
    }
    let back_to_back = slots.windows(2).all(|w| w[1].start == w[0].end && w[1].practitioner_id == w[0].practitioner_id);
    if !back_to_back {
        return Err(BookError::NotFound(format!("a run of back-to-back slots {offer_id}")));
    }
    Ok(slots)
}

/// Books the offer in one transaction; with `replaces`, cancels that appointment in the same one.
pub fn book(conn: &mut Connection, request: &BookingRequest, now: DateTime<Utc>) -> Result<Booked, BookError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(EhrError::from)?;
    if resource(&tx, "Patient", &request.patient_id)?.is_none() {
        return Err(BookError::NotFound(format!("Patient/{}", request.patient_id)));
    }
    let slots = offer_slots(&tx, &request.slot_id)?;
    let appointment_id = uuid::Uuid::new_v4().to_string();
    for slot in &slots {
        let changed = tx.execute("UPDATE slots SET status = 'busy', appointment_id = ?1 WHERE id = ?2 AND status = 'free'", params![appointment_id, slot.id]).map_err(EhrError::from)?;
        if changed == 0 {
            // A retry of a booking this call already made gets that booking back; anyone else
            // is told the slot is taken. Dropping the transaction rolls back what was taken so far.
            return held_by_this_call(&tx, request, &slots)?.ok_or(BookError::SlotTaken);
        }
    }
    if let Some(old) = &request.replaces {
        cancel_in(&tx, &request.patient_id, old, &request.call_id)?;
    }
    let mut offer = slots[0].clone();
    offer.end = slots[slots.len() - 1].end;
    offer.id = request.slot_id.clone();
    let ids: Vec<&str> = slots.iter().map(|s| s.id.as_str()).collect();
    let appointment = fhir::appointment_resource(Some(&appointment_id), request, &offer, &ids, now);
    store_resource(&tx, "Appointment", &appointment_id, Some(&request.patient_id), &appointment).map_err(EhrError::from)?;
    tx.commit().map_err(EhrError::from)?;
    Ok(Booked { confirmation: fhir::confirmation_number(&appointment_id), appointment_id, slot: offer })
}

/// The booking when all the slots are held by one booked appointment this call made for this patient.
fn held_by_this_call(conn: &Connection, request: &BookingRequest, slots: &[Slot]) -> Result<Option<Booked>, BookError> {
    let Some((_, Some(holder))) = slot_status(conn, &slots[0].id)? else { return Ok(None) };
    for slot in slots {
        if slot_status(conn, &slot.id)?.and_then(|(_, a)| a).as_deref() != Some(holder.as_str()) {
            return Ok(None);
        }
    }
    let Some(appointment) = resource(conn, "Appointment", &holder)? else { return Ok(None) };
    if !fhir::booked_by(&appointment, &request.patient_id, &request.call_id) {
        return Ok(None);
    }
    let mut offer = slots[0].clone();
    offer.end = slots[slots.len() - 1].end;
    offer.id = request.slot_id.clone();
    Ok(Some(Booked { confirmation: fhir::confirmation_number(&holder), appointment_id: holder, slot: offer }))
}

/// Cancels the patient's appointment and frees its slots inside `tx`.
fn cancel_in(tx: &rusqlite::Transaction<'_>, patient_id: &str, appointment_id: &str, call_id: &str) -> Result<(), BookError> {
    let appointment = resource(tx, "Appointment", appointment_id)?
        .filter(|a| fhir::appointment_patient(a).as_deref() == Some(patient_id))
        .ok_or_else(|| BookError::NotFound(format!("Appointment/{appointment_id} of this patient")))?;
    if appointment.get("status").and_then(Value::as_str) != Some("cancelled") {
        store_resource(tx, "Appointment", appointment_id, Some(patient_id), &fhir::cancelled(appointment, call_id)).map_err(EhrError::from)?;
    }
    tx.execute("UPDATE slots SET status = 'free', appointment_id = NULL WHERE appointment_id = ?1", [appointment_id]).map_err(EhrError::from)?;
    Ok(())
}

pub fn cancel(conn: &mut Connection, patient_id: &str, appointment_id: &str, call_id: &str) -> Result<(), BookError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(EhrError::from)?;
    cancel_in(&tx, patient_id, appointment_id, call_id)?;
    tx.commit().map_err(EhrError::from)?;
    Ok(())
}

pub fn upcoming(conn: &Connection, patient_id: &str, from: DateTime<Utc>) -> Result<Vec<Upcoming>, EhrError> {
    let mut stmt = conn.prepare("SELECT json FROM resources WHERE type = 'Appointment' AND patient_id = ?1")?;
    let rows: Vec<String> = stmt.query_map([patient_id], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let names = |reference: &str| -> Option<String> {
        let (kind, id) = reference.split_once('/')?;
        let r = resource(conn, kind, id).ok()??;
        match kind {
            "Practitioner" => Some(practitioner_name(&r)),
            _ => r.get("name").and_then(Value::as_str).map(str::to_string),
        }
    };
    let mut out: Vec<Upcoming> = rows.iter().filter_map(|j| serde_json::from_str::<Value>(j).ok()).filter_map(|a| fhir::upcoming(&a, from, &names)).collect();
    out.sort_by_key(|u| u.start);
    Ok(out)
}

/// A slot's status and the appointment holding it, for tests and the CLI.
pub fn slot_status(conn: &Connection, slot_id: &str) -> Result<Option<(String, Option<String>)>, EhrError> {
    Ok(conn.query_row("SELECT status, appointment_id FROM slots WHERE id = ?1", [slot_id], |r| Ok((r.get(0)?, r.get(1)?))).optional()?)
}

/// The Schedules of `practitioners` and their slots (free and busy) between two instants, as a
/// FHIR transaction Bundle: to load the same schedules into a FHIR server.
pub fn fhir_bundle(conn: &Connection, from: DateTime<Utc>, until: DateTime<Utc>, practitioners: &[String]) -> Result<Value, EhrError> {
    let mut schedules = Vec::new();
    let mut slots = Vec::new();
    let mut stmt = conn.prepare(&format!("SELECT {SLOT_COLUMNS}, status FROM slots WHERE practitioner_id = ?1 AND start >= ?2 AND start < ?3 ORDER BY start"))?;
    for p in practitioners {
        schedules.extend(resource(conn, "Schedule", &fhir::schedule_id(p))?);
        let rows = stmt.query_map(params![p, stamp(from), stamp(until)], |r| Ok((row_to_slot(r)?, r.get::<_, String>(7)?)))?;
        for row in rows {
            let (slot, status) = row?;
            slots.push(fhir::slot_resource(&slot, status == "busy"));
        }
    }
    Ok(crate::ehr::fhir::schedule::load_bundle(&schedules, &slots))
}
