//! The call record: the structured result of one call (shape fixed in docs/architecture.md).
//! Stored as JSON in SQLite, listed by `chartline calls`, mapped to FHIR by `ehr`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    pub call_id: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub from: String,
    pub to: String,
    pub after_hours: bool,
    pub patient: PatientMatch,
    pub request: Option<RequestChoice>,
    pub urgent: bool,
    pub red_flags: Vec<String>,
    pub transcript: Option<String>,
    /// The model that wrote the transcript, e.g. `whisper-base` (the chart model) or
    /// `whisper-tiny.en` (the live one, when the chart model is absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript_model: Option<String>,
    /// The language the transcript was recognized in (detected by a multilingual model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript_language: Option<String>,
    /// Path of the caller's recorded message, relative to the data dir.
    pub recording: Option<String>,
    pub routing: Routing,
    pub ehr: EhrStatus,
    pub events: Vec<CallEvent>,
    /// Set when the call did not end normally: `interrupted` when the process died during it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<CallOutcome>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// The process stopped (crash, kill, power loss) while the call was in progress; the record
    /// holds what was captured up to the last checkpoint.
    Interrupted,
    /// The caller was transferred elsewhere (an emergency transfer went through).
    Transferred,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchStatus {
    Identified,
    Ambiguous,
    NotFound,
    #[default]
    NotGiven,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputMethod {
    Dtmf,
    Speech,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatientMatch {
    pub id: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub matched_by: Option<InputMethod>,
    pub status: MatchStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestChoice {
    /// Request type name, e.g. `refill` (see `triage::RequestType`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Letter code A–L.
    pub code: String,
    pub chosen_by: InputMethod,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Routing {
    pub practitioner: Option<String>,
    pub department: Option<String>,
    pub location: Option<String>,
    pub on_call: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    #[default]
    Pending,
    Delivered,
    Failed,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EhrStatus {
    pub status: DeliveryStatus,
    pub refs: Vec<String>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One step of the call timeline: `kind` names it, `detail` carries its data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallEvent {
    pub at: DateTime<Utc>,
    pub kind: String,
    #[serde(flatten)]
    pub detail: serde_json::Map<String, serde_json::Value>,
}
