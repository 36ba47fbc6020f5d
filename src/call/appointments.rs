//! The appointment dialog's chart requests carried out off the call task: free slots, booking,
//! the patient's upcoming appointments, cancelling. Each answer comes back as the dialog event it
//! expects plus a timeline entry for the call record, so a booking that lands after the dialog
//! stopped waiting (timeout, hang-up) is still on the record.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;
use tracing::warn;

use super::CallServices;
use crate::ehr::BookError;
use crate::ehr::Ehr;
use crate::ivr::{Action, Event, Scheduling};

/// A chart answer: the event for the dialog and the record's timeline entry.
#[derive(Debug)]
pub(super) struct Outcome {
    pub event: Event,
    pub kind: &'static str,
    pub detail: serde_json::Value,
}

/// The dialog's scheduling context for one call: `[scheduling]`, the practice's time zone, the
/// wall clock when the dialog starts, and which name clips the prompt library has.
pub(super) fn scheduling(services: &CallServices, call_id: &str, started_at: DateTime<Utc>) -> Scheduling {
    let prompts = services.prompts.clone();
    Scheduling {
        config: services.config.scheduling.clone(),
        time_zone: services.hours.time_zone(),
        started_at,
        call_id: call_id.to_string(),
        has_clip: Arc::new(move |name| prompts.get(name).is_some()),
    }
}

/// Runs the request on its own task and hands the outcome to `done`.
pub(super) fn spawn(action: Action, ehr: Arc<dyn Ehr>, done: impl FnOnce(Outcome) + Send + 'static) {
    tokio::spawn(async move { done(execute(action, ehr.as_ref()).await) });
}

fn outcome(event: Event, kind: &'static str, detail: serde_json::Value) -> Outcome {
    Outcome { event, kind, detail }
}

pub(super) async fn execute(action: Action, ehr: &dyn Ehr) -> Outcome {
    match action {
        Action::FindSlots(query) => match ehr.free_slots(&query).await {
            Ok(slots) => {
                let detail = json!({ "count": slots.len(), "own_provider": query.practitioner_id.is_some(), "minutes": query.minutes });
                outcome(Event::Slots(slots), "ehr_slots", detail)
            }
            Err(e) => {
                warn!(error = %e, "slot search failed");
                outcome(Event::ScheduleUnavailable, "ehr_error", json!({ "during": "free_slots" }))
            }
        },
        Action::Book(request) => match ehr.book(&request).await {
            Ok(booked) => {
                let detail = json!({ "appointment_id": booked.appointment_id, "slot_start": booked.slot.start, "confirmation": booked.confirmation, "replaced": request.replaces });
                outcome(Event::Booked(booked), "ehr_booked", detail)
            }
            Err(BookError::SlotTaken) => outcome(Event::BookFailed { taken: true }, "ehr_slot_taken", json!({ "slot_id": request.slot_id })),
            Err(e) => {
                warn!(error = %e, "booking failed");
                outcome(Event::BookFailed { taken: false }, "ehr_error", json!({ "during": "book" }))
            }
        },
        Action::ListAppointments { patient_id, from } => match ehr.upcoming_appointments(&patient_id, from).await {
            Ok(list) => {
                let detail = json!({ "count": list.len() });
                outcome(Event::Appointments(list), "ehr_appointments", detail)
            }
            Err(e) => {
                warn!(error = %e, "listing appointments failed");
                outcome(Event::ScheduleUnavailable, "ehr_error", json!({ "during": "upcoming_appointments" }))
            }
        },
        Action::Cancel { patient_id, appointment_id, call_id } => match ehr.cancel_appointment(&patient_id, &appointment_id, &call_id).await {
            Ok(()) => outcome(Event::Cancelled, "ehr_cancelled", json!({ "appointment_id": appointment_id })),
            Err(e) => {
                warn!(error = %e, "cancelling failed");
                outcome(Event::CancelFailed, "ehr_error", json!({ "during": "cancel" }))
            }
        },
        _ => {
            warn!("not a schedule request");
            outcome(Event::ScheduleUnavailable, "ehr_error", json!({ "during": "unknown" }))
        }
    }
}
