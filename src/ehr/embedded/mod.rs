//! The embedded chart: a SQLite file (`data/chart.db`) holding imported FHIR resources as JSON plus
//! the tasks and communications calls create. The default adapter, so `chartline serve` works with
//! no EHR at all: an empty chart is loaded with the committed demo practice (`demo/practice`).

pub mod import;
pub mod slots;
mod writes;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

pub use import::ImportReport;

use super::BookError;
use super::Ehr;
use super::error::EhrError;
use super::resources::{self, ChartParts, ref_id};
use super::types::*;
use crate::schedule::{Booked, BookingRequest, Slot, SlotQuery, Upcoming};
use crate::store::record::CallRecord;

#[derive(Clone)]
pub struct EmbeddedChart {
    conn: Arc<Mutex<Connection>>,
    /// The practice's time zone and booking horizon: schedules are generated and read in them.
    tz: chrono_tz::Tz,
    horizon_days: u32,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS resources (
    type TEXT NOT NULL, id TEXT NOT NULL, patient_id TEXT, json TEXT NOT NULL,
    PRIMARY KEY (type, id));
CREATE INDEX IF NOT EXISTS resources_patient ON resources(patient_id, type);
CREATE TABLE IF NOT EXISTS patients (
    id TEXT PRIMARY KEY, given TEXT NOT NULL, family TEXT NOT NULL, birth_date TEXT NOT NULL,
    phone TEXT, phone_digits TEXT);
CREATE INDEX IF NOT EXISTS patients_dob ON patients(birth_date);
CREATE TABLE IF NOT EXISTS tasks (
    call_id TEXT PRIMARY KEY, patient_id TEXT, owner TEXT, status TEXT NOT NULL,
    business_status TEXT, code TEXT, priority TEXT NOT NULL, authored_on TEXT NOT NULL,
    updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS communications (
    id TEXT PRIMARY KEY, call_id TEXT NOT NULL, patient_id TEXT, category TEXT, priority TEXT,
    text TEXT, recording TEXT, in_response_to TEXT, author TEXT, sent TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS communications_call ON communications(call_id);
";

fn encryption_error(path: &Path, e: impl std::fmt::Display) -> EhrError {
    EhrError::Io { path: path.display().to_string(), source: std::io::Error::other(e.to_string()) }
}

impl EmbeddedChart {
    /// Opens (creating when needed) the chart database, encrypted with the chart key. The keys are
    /// found as the server finds them with the default `[security]`: `CHARTLINE_MASTER_KEY`, else
    /// the key file under `keys/` beside the chart.
    pub fn open(path: &Path) -> Result<Self, EhrError> {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let keys = crate::store::Keys::for_data_dir(dir).map_err(|e| encryption_error(path, e))?;
        Self::open_with(path, &keys)
    }

    /// Opens the chart database with the chart key of `keys`.
    pub fn open_with(path: &Path, keys: &crate::store::Keys) -> Result<Self, EhrError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| EhrError::Io { path: dir.display().to_string(), source })?;
        }
        let conn = crate::store::cipher::open(path, &keys.all(crate::store::keys::Purpose::Chart)).map_err(|e| encryption_error(path, e))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(slots::SCHEMA)?;
        Ok(Self::wrap(conn))
    }

    pub fn in_memory() -> Result<Self, EhrError> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(slots::SCHEMA)?;
        Ok(Self::wrap(conn))
    }

    fn wrap(conn: Connection) -> Self {
        Self { conn: Arc::new(Mutex::new(conn)), tz: chrono_tz::America::Chicago, horizon_days: crate::schedule::SchedulingConfig::default().horizon_days }
    }

    /// Reads and generates schedules in the practice's time zone, `horizon_days` ahead.
    pub fn with_scheduling(mut self, tz: chrono_tz::Tz, horizon_days: u32) -> Self {
        self.tz = tz;
        self.horizon_days = horizon_days;
        self
    }

    /// (Re)generates the demo schedules of every practitioner with a location: slots no
    /// appointment holds are replaced; the same seed gives the same pattern.
    pub fn generate_schedules(&self, seed: u64, now: chrono::DateTime<Utc>) -> Result<slots::ScheduleReport, EhrError> {
        slots::generate(&mut self.conn.lock(), now, self.tz, self.horizon_days, seed)
    }

    /// A slot's status (`free`/`busy`) and the appointment holding it.
    pub fn slot_status(&self, slot_id: &str) -> Result<Option<(String, Option<String>)>, EhrError> {
        slots::slot_status(&self.conn.lock(), slot_id)
    }

    /// The Schedules of `practitioners` with their slots between two instants, as a FHIR
    /// transaction Bundle (to load the same schedules into a FHIR server).
    pub fn schedule_bundle(&self, from: chrono::DateTime<Utc>, until: chrono::DateTime<Utc>, practitioners: &[String]) -> Result<Value, EhrError> {
        slots::fhir_bundle(&self.conn.lock(), from, until, practitioners)
    }

    /// An Appointment resource of the chart.
    pub fn appointment(&self, id: &str) -> Result<Option<Value>, EhrError> {
        Self::resource(&self.conn.lock(), "Appointment", id)
    }

    /// Imports bundle files or directories of them; each file in its own transaction. A bad file
    /// is left out whole and named in `errors`; the others are imported.
    pub fn import(&self, paths: &[impl AsRef<Path>]) -> Result<ImportReport, EhrError> {
        let mut report = ImportReport::default();
        let mut conn = self.conn.lock();
        for path in paths {
            let files = match import::bundle_files(path.as_ref()) {
                Ok(files) => files,
                Err(e) => {
                    report.errors.push(e.to_string());
                    continue;
                }
            };
            for file in files {
                let tx = conn.transaction()?;
                let mut partial = report.clone();
                match import::import_file(&tx, &file, &mut partial) {
                    Ok(()) => {
                        tx.commit()?;
                        report = partial;
                    }
                    Err(e) => report.errors.push(e.to_string()),
                }
            }
        }
        Ok(report)
    }

    pub fn patient_count(&self) -> Result<usize, EhrError> {
        Ok(self.conn.lock().query_row("SELECT COUNT(*) FROM patients", [], |r| r.get::<_, i64>(0))? as usize)
    }

    /// Loads the demo practice when the chart has no patients yet; returns what was imported.
    pub fn ensure_demo_loaded(&self, demo_dir: &Path) -> Result<Option<ImportReport>, EhrError> {
        if demo_dir.as_os_str().is_empty() || self.patient_count()? > 0 {
            return Ok(None);
        }
        if !demo_dir.is_dir() {
            tracing::warn!(dir = %demo_dir.display(), "the embedded chart is empty and there is no demo practice to load");
            return Ok(None);
        }
        let report = self.import(&[demo_dir])?;
        let moved = self.keep_demo_appointments_upcoming(Utc::now())?;
        let schedules = self.generate_schedules(slots::DEMO_SEED, Utc::now())?;
        tracing::info!(
            patients = report.patients,
            resources = report.resources,
            moved_appointments = moved,
            practitioners = schedules.practitioners,
            slots = schedules.slots,
            free_slots = schedules.free,
            "demo practice loaded into the embedded chart"
        );
        Ok(Some(report))
    }

    /// The demo's appointments have fixed dates; those already past move forward by whole weeks
    /// (same weekday and time) so the demo keeps upcoming appointments. Returns how many moved.
    fn keep_demo_appointments_upcoming(&self, now: chrono::DateTime<Utc>) -> Result<usize, EhrError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let rows: Vec<(String, String)> = {
            let mut stmt = tx.prepare("SELECT id, json FROM resources WHERE type = 'Appointment'")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?
        };
        let mut moved = 0;
        for (id, json) in rows {
            let mut appointment: Value = serde_json::from_str(&json)?;
            if import::shift_into_future(&mut appointment, now) {
                tx.execute("UPDATE resources SET json = ?2 WHERE type = 'Appointment' AND id = ?1", params![id, appointment.to_string()])?;
                moved += 1;
            }
        }
        tx.commit()?;
        Ok(moved)
    }

    /// All patients, for `chartline chart patients`.
    pub fn patients(&self) -> Result<Vec<PatientSummary>, EhrError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare("SELECT id, given, family, birth_date, phone FROM patients ORDER BY family, given")?;
        let rows = stmt.query_map([], row_to_patient)?;
        Ok(rows.filter_map(|r| r.ok().flatten()).collect())
    }

    /// The Task row of a call as FHIR-like JSON, for tests and the provider app.
    pub fn task(&self, call_id: &str) -> Result<Option<Value>, EhrError> {
        writes::task_json(&self.conn.lock(), call_id)
    }

    /// Communications of a call (the call's own first, then replies).
    pub fn communications(&self, call_id: &str) -> Result<Vec<Value>, EhrError> {
        writes::communications_json(&self.conn.lock(), call_id)
    }

    fn resource(conn: &Connection, kind: &str, id: &str) -> Result<Option<Value>, EhrError> {
        let json: Option<String> = conn.query_row("SELECT json FROM resources WHERE type = ?1 AND id = ?2", params![kind, id], |r| r.get(0)).optional()?;
        Ok(json.map(|j| serde_json::from_str(&j)).transpose()?)
    }

    fn summary(&self, patient_id: &str) -> Result<ChartSummary, EhrError> {
        let conn = self.conn.lock();
        let patient = Self::resource(&conn, "Patient", patient_id)?.ok_or_else(|| EhrError::NotFound(format!("Patient/{patient_id}")))?;
        let mut stmt = conn.prepare("SELECT json FROM resources WHERE patient_id = ?1 AND type != 'Patient'")?;
        let resources: Vec<Value> = stmt.query_map([patient_id], |r| r.get::<_, String>(0))?.filter_map(|j| j.ok().and_then(|j| serde_json::from_str(&j).ok())).collect();
        // Practitioners the chart refers to: care team members and the general practitioner.
        let mut wanted: Vec<String> = resources
            .iter()
            .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some("CareTeam"))
            .flat_map(|t| t.get("participant").and_then(Value::as_array).cloned().unwrap_or_default())
            .filter_map(|p| p.pointer("/member/reference").and_then(Value::as_str).map(|r| ref_id(r).to_string()))
            .collect();
        wanted.extend(patient.pointer("/generalPractitioner/0/reference").and_then(Value::as_str).map(|r| ref_id(r).to_string()));
        let mut practitioners = HashMap::new();
        let mut roles = Vec::new();
        for id in wanted {
            if let Some(p) = Self::resource(&conn, "Practitioner", &id)? {
                practitioners.insert(id, p);
            }
        }
        let mut stmt = conn.prepare("SELECT json FROM resources WHERE type = 'PractitionerRole'")?;
        for json in stmt.query_map([], |r| r.get::<_, String>(0))? {
            let role: Value = serde_json::from_str(&json?)?;
            let id = role.pointer("/practitioner/reference").and_then(Value::as_str).map(ref_id).unwrap_or("");
            if practitioners.contains_key(id) {
                roles.push(role);
            }
        }
        Ok(resources::chart_summary(&ChartParts { patient: Some(&patient), resources: &resources, practitioners: &practitioners, roles: &roles, now: Utc::now() }))
    }
}

fn row_to_patient(row: &rusqlite::Row<'_>) -> rusqlite::Result<Option<PatientSummary>> {
    let birth: String = row.get(3)?;
    Ok(birth.parse().ok().map(|birth_date| PatientSummary {
        id: row.get(0).unwrap_or_default(),
        given: row.get(1).unwrap_or_default(),
        family: row.get(2).unwrap_or_default(),
        birth_date,
        phone: row.get(4).unwrap_or_default(),
    }))
}

#[async_trait]
impl Ehr for EmbeddedChart {
    fn name(&self) -> String {
        "embedded".into()
    }

    async fn find_patients(&self, query: &PatientQuery) -> Result<Vec<PatientSummary>, EhrError> {
        let candidates = {
            let conn = self.conn.lock();
            let mut stmt = conn.prepare("SELECT id, given, family, birth_date, phone FROM patients WHERE birth_date = ?1")?;
            let rows = stmt.query_map([query.birth_date.to_string()], row_to_patient)?;
            rows.filter_map(|r| r.ok().flatten()).collect::<Vec<_>>()
        };
        Ok(resources::narrow(candidates, query))
    }

    async fn chart_summary(&self, patient_id: &str) -> Result<ChartSummary, EhrError> {
        self.summary(patient_id)
    }

    async fn write_call(&self, call: &CallRecord) -> Result<Vec<String>, EhrError> {
        writes::write_call(&mut self.conn.lock(), call, Utc::now())
    }

    async fn update_task(&self, call_id: &str, update: &TaskUpdate) -> Result<Vec<String>, EhrError> {
        writes::update_task(&mut self.conn.lock(), call_id, update, Utc::now())
    }

    async fn record_refill(&self, call_id: &str, decision: &RefillDecision) -> Result<Vec<String>, EhrError> {
        writes::record_refill(&mut self.conn.lock(), call_id, decision)
    }

    async fn free_slots(&self, query: &SlotQuery) -> Result<Vec<Slot>, EhrError> {
        slots::free_slots(&self.conn.lock(), query, self.tz)
    }

    async fn book(&self, request: &BookingRequest) -> Result<Booked, BookError> {
        slots::book(&mut self.conn.lock(), request, Utc::now())
    }

    async fn upcoming_appointments(&self, patient_id: &str, from: chrono::DateTime<Utc>) -> Result<Vec<Upcoming>, EhrError> {
        slots::upcoming(&self.conn.lock(), patient_id, from)
    }

    async fn cancel_appointment(&self, patient_id: &str, appointment_id: &str, call_id: &str) -> Result<(), BookError> {
        slots::cancel(&mut self.conn.lock(), patient_id, appointment_id, call_id)
    }
}
