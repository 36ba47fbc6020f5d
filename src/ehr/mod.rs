//! The chart behind the phone line. One trait, [`Ehr`], with two adapters chosen in `[ehr]`:
//! the embedded SQLite chart (the default, seeded with the demo practice) and a FHIR R4 client with
//! SMART Backend Services auth and vendor profiles. The sync worker ([`sync`]) delivers each
//! finished call from the store's outbox through the adapter exactly once.
//!
//! Its layer, and what it may import: docs/architecture.md.

pub mod config;
pub mod embedded;
pub mod error;
pub mod fhir;
pub mod mapping;
pub mod profiles;
pub mod resources;
pub mod retry;
pub mod schedule_resources;
pub mod sync;
pub mod types;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;

pub use config::EhrConfig;
pub use error::{BookError, EhrError};
pub use types::*;

use crate::schedule::{Booked, BookingRequest, Slot, SlotQuery, Upcoming};
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

/// What opening a chart needs besides `[ehr]` (assembled by `config::Config::ehr_site`).
#[derive(Debug, Clone)]
pub struct Site {
    pub data_dir: PathBuf,
    /// The keys the chart and the recordings are encrypted with.
    pub keys: crate::store::keys::KeyPaths,
    /// The practice's time zone (`[practice] time_zone`).
    pub time_zone: chrono_tz::Tz,
    /// `[scheduling] horizon_days`.
    pub horizon_days: u32,
}

/// The adapter `[ehr]` selects. The embedded chart is opened (created when missing) and, when it
/// is empty, loaded with the demo practice from `ehr.demo_dir`.
pub fn open(config: &EhrConfig, site: &Site) -> Result<Arc<dyn Ehr>, EhrError> {
    match config.adapter {
        config::AdapterKind::Embedded => {
            let chart = embedded::EmbeddedChart::open_with(&chart_path(config, &site.data_dir), &keys(site)?)?.with_scheduling(site.time_zone, site.horizon_days);
            chart.ensure_demo_loaded(&config.demo_dir)?;
            Ok(Arc::new(chart))
        }
        config::AdapterKind::Fhir => {
            let fhir = fhir::FhirEhr::new(&config.fhir, site.data_dir.clone())?;
            Ok(Arc::new(fhir.with_time_zone(site.time_zone).with_keys(Arc::new(keys(site)?))))
        }
    }
}

/// The keys of the site (the chart and the recordings are encrypted with them).
fn keys(site: &Site) -> Result<crate::store::Keys, EhrError> {
    crate::store::Keys::load_or_create(&site.keys).map_err(|e| EhrError::Io { path: site.keys.keyring.display().to_string(), source: std::io::Error::other(e.to_string()) })
}

/// Where the embedded chart lives: `ehr.chart_path`, else `<data_dir>/chart.db`.
pub fn chart_path(config: &EhrConfig, data_dir: &Path) -> PathBuf {
    if config.chart_path.as_os_str().is_empty() { data_dir.join("chart.db") } else { config.chart_path.clone() }
}
