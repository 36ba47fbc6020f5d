//! The chart behind the phone line. One trait, [`Ehr`], with two adapters chosen in `[ehr]`:
//! the embedded SQLite chart (the default, seeded with the demo practice) and a FHIR R4 client with
//! SMART Backend Services auth and vendor profiles. The sync worker ([`sync`]) delivers each
//! finished call from the store's outbox through the adapter exactly once.

pub mod config;
pub mod embedded;
pub mod error;
pub mod fhir;
pub mod mapping;
pub mod phone;
pub mod profiles;
pub mod resources;
pub mod retry;
pub mod sync;
pub mod types;

use std::sync::Arc;

use async_trait::async_trait;

pub use config::EhrConfig;
pub use error::EhrError;
pub use types::*;

use crate::config::Config;
use crate::schedule::{BookError, Booked, BookingRequest, Slot, SlotQuery, Upcoming};
use crate::store::record::CallRecord;

/// One chart, local or remote. Object safe: held as `Arc<dyn Ehr>`.
#[async_trait]
pub trait Ehr: Send + Sync {
    /// A short name for logs: `embedded`, `fhir/generic`, ...
    fn name(&self) -> String;

    /// Patients born on `query.birth_date`, narrowed by phone and name when they are given.
    async fn find_patients(&self, query: &PatientQuery) -> Result<Vec<PatientSummary>, EhrError>;

    /// What the dialog and the provider need: active medications, allergies, problems, upcoming
    /// appointments, care team and PCP.
    async fn chart_summary(&self, patient_id: &str) -> Result<ChartSummary, EhrError>;

    /// Writes the call's result (Communication + Task, or the vendor's equivalent). Idempotent on
    /// the call id: writing the same call twice creates nothing new. Returns the created references.
    async fn write_call(&self, call: &CallRecord) -> Result<Vec<String>, EhrError>;

    /// Changes the status or owner of the call's task and/or records a reply. Returns the references written.
    async fn update_task(&self, call_id: &str, update: &TaskUpdate) -> Result<Vec<String>, EhrError>;

    /// Records a refill decision (a new MedicationRequest when approved), completes the call's task
    /// and records who decided (Provenance). Returns the references written.
    async fn record_refill(&self, call_id: &str, decision: &RefillDecision) -> Result<Vec<String>, EhrError>;

    /// Free slots matching the query, earliest first, at most `query.limit`.
    async fn free_slots(&self, query: &SlotQuery) -> Result<Vec<Slot>, EhrError> {
        let _ = query;
        Err(EhrError::Protocol(format!("{} has no schedules", self.name())))
    }

    /// Books a slot; `BookError::SlotTaken` when another caller got it first. Never books a slot twice.
    async fn book(&self, request: &BookingRequest) -> Result<Booked, BookError> {
        let _ = request;
        Err(BookError::Unsupported(self.name()))
    }

    /// The patient's booked appointments from `from` on, earliest first.
    async fn upcoming_appointments(&self, patient_id: &str, from: chrono::DateTime<chrono::Utc>) -> Result<Vec<Upcoming>, EhrError> {
        let _ = (patient_id, from);
        Ok(Vec::new())
    }

    /// Cancels the patient's appointment and frees its slot.
    async fn cancel_appointment(&self, patient_id: &str, appointment_id: &str, call_id: &str) -> Result<(), BookError> {
        let _ = (patient_id, appointment_id, call_id);
        Err(BookError::Unsupported(self.name()))
    }
}

/// The adapter `[ehr]` selects. The embedded chart is opened (created when missing) and, when it
/// is empty, loaded with the demo practice from `ehr.demo_dir`.
pub fn open(config: &Config) -> Result<Arc<dyn Ehr>, EhrError> {
    match config.ehr.adapter {
        config::AdapterKind::Embedded => {
            let chart = embedded::EmbeddedChart::open(&chart_path(config))?.with_scheduling(practice_tz(config), config.scheduling.horizon_days);
            chart.ensure_demo_loaded(&config.ehr.demo_dir)?;
            Ok(Arc::new(chart))
        }
        config::AdapterKind::Fhir => Ok(Arc::new(fhir::FhirEhr::new(&config.ehr.fhir, config.data_dir.clone())?.with_time_zone(practice_tz(config)))),
    }
}

/// The practice's time zone (validated with the configuration; Chicago if it somehow is not).
pub fn practice_tz(config: &Config) -> chrono_tz::Tz {
    config.practice.time_zone.parse().unwrap_or(chrono_tz::America::Chicago)
}

/// Where the embedded chart lives: `ehr.chart_path`, else `<data_dir>/chart.db`.
pub fn chart_path(config: &Config) -> std::path::PathBuf {
    if config.ehr.chart_path.as_os_str().is_empty() {
        config.data_dir.join("chart.db")
    } else {
        config.ehr.chart_path.clone()
    }
}
