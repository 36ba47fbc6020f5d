//! Self-scheduling: the practice's free slots, the constraints a caller speaks ("Tuesday
//! morning", "after 3 next week", "the 14th"), and booking without double booking.
//!
//! The types here are the contract between the chart adapters (`ehr::Ehr::free_slots`,
//! `book`, `cancel_appointment`, `upcoming_appointments`) and the appointment dialog
//! (`ivr::dialog`). Times are UTC instants; "morning", weekdays and dates are read in the
//! practice's time zone (`[practice] time_zone`).
//!
//! Its layer, and what it may import: docs/architecture.md.

pub mod config;
pub mod demo;
pub mod search;
pub mod spoken;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc, Weekday};
use serde::{Deserialize, Serialize};

pub use config::SchedulingConfig;
pub use search::{find_offers, slot_ids};
pub use spoken::{SpokenChoice, parse_choice};

/// One bookable slot of a practitioner's schedule at a location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// The Slot id (without the `Slot/` prefix).
    pub id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub practitioner_id: String,
    pub practitioner_name: String,
    pub location_id: String,
    pub location_name: String,
}

/// The kinds of visit a caller can book; each has a length in `[scheduling]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitType {
    FollowUp,
    SickVisit,
    AnnualPhysical,
    NewPatient,
}

impl VisitType {
    pub const ALL: [VisitType; 4] = [Self::FollowUp, Self::SickVisit, Self::AnnualPhysical, Self::NewPatient];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::FollowUp => "follow_up",
            Self::SickVisit => "sick_visit",
            Self::AnnualPhysical => "annual_physical",
            Self::NewPatient => "new_patient",
        }
    }
}

/// When the caller wants to come, in the practice's local time. Empty = any time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeConstraint {
    /// Only these weekdays (empty = any).
    pub weekdays: Vec<Weekday>,
    /// First and last local date (inclusive).
    pub from_date: Option<NaiveDate>,
    pub to_date: Option<NaiveDate>,
    /// Local start time at or after / before.
    pub after: Option<NaiveTime>,
    pub before: Option<NaiveTime>,
}

/// Which free slots to look for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotQuery {
    /// Only this practitioner's slots (None = anyone at `location_id`, or anyone).
    pub practitioner_id: Option<String>,
    pub location_id: Option<String>,
    /// Earliest and latest start (the booking horizon and "no same-hour bookings" already applied).
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Minutes the visit needs: consecutive free slots of one practitioner may be joined.
    pub minutes: u32,
    pub constraint: TimeConstraint,
    /// Slots already offered and declined, or just lost to another caller.
    pub exclude: Vec<String>,
    /// At most this many offers, earliest first.
    pub limit: usize,
}

/// Book `slot_id` for the patient; with `replaces`, move that appointment (the old slot is freed
/// only once the new one is booked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingRequest {
    pub patient_id: String,
    pub slot_id: String,
    pub visit: VisitType,
    pub replaces: Option<String>,
    /// The phone call that booked it (idempotency and audit).
    pub call_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booked {
    /// The Appointment id.
    pub appointment_id: String,
    /// Short confirmation number read back to the caller (digits).
    pub confirmation: String,
    pub slot: Slot,
}

/// A patient's upcoming appointment, with what the dialog reads back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upcoming {
    pub appointment_id: String,
    pub start: DateTime<Utc>,
    pub practitioner_id: Option<String>,
    pub practitioner_name: Option<String>,
    pub location_id: Option<String>,
    pub location_name: Option<String>,
}
