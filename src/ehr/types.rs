//! The chart data the dialog and the provider app see, independent of where it comes from.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Who is calling: the date of birth is required, phone and name narrow the match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatientQuery {
    pub birth_date: NaiveDate,
    /// Any format (`555-146-1616`, `+1 (555) 146 1616`, a SIP From user part): compared by digits.
    pub phone: Option<String>,
    /// Family name, or "given family".
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatientSummary {
    pub id: String,
    pub given: String,
    pub family: String,
    pub birth_date: NaiveDate,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChartSummary {
    pub patient: Option<PatientSummary>,
    pub medications: Vec<Medication>,
    pub allergies: Vec<Allergy>,
    pub problems: Vec<Problem>,
    pub appointments: Vec<Appointment>,
    pub care_team: Vec<Practitioner>,
    pub pcp: Option<Practitioner>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Medication {
    /// The MedicationRequest id (a refill decision refers to it).
    pub id: String,
    pub name: String,
    pub rxnorm: Option<String>,
    /// When the prescription was last written.
    pub last_filled: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Allergy {
    pub id: String,
    pub substance: String,
    pub criticality: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    pub id: String,
    pub name: String,
    pub onset: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Appointment {
    pub id: String,
    pub start: DateTime<Utc>,
    pub description: Option<String>,
    pub practitioner: Option<String>,
    pub location: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Practitioner {
    /// The Practitioner id (without the `Practitioner/` prefix).
    pub id: String,
    pub name: String,
    pub npi: Option<String>,
    pub specialty: Option<String>,
}

/// Task workflow states (FHIR Task.status values Chartline uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskStatus {
    Requested,
    Accepted,
    InProgress,
    Completed,
    Cancelled,
}

impl TaskStatus {
    pub fn as_fhir(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Accepted => "accepted",
            Self::InProgress => "in-progress",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// A provider's action on the task a call created.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskUpdate {
    pub status: Option<TaskStatus>,
    /// New owner: a Practitioner id.
    pub owner: Option<String>,
    /// A reply to the caller, recorded as a Communication in response to the call's.
    pub reply: Option<Reply>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// Practitioner id of the author.
    pub author: String,
    pub text: String,
}

/// A provider's decision on a refill request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefillDecision {
    /// The MedicationRequest being renewed (`Medication::id`).
    pub medication_id: String,
    pub approved: bool,
    /// Practitioner id of the decider.
    pub by: String,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}
