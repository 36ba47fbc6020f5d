//! The FHIR R4 adapter: reads patients and chart summaries by search, writes call results through
//! the configured vendor profile, task updates, replies and refill decisions with Provenance.

pub mod auth;
pub mod client;
pub mod exec;
pub mod schedule;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};

use super::BookError;
use super::Ehr;
use super::config::{FhirConfig, Profile};
use super::error::EhrError;
use super::mapping::{self, CALL_ID_SYSTEM};
use super::profiles::{self, Audio, Body, MappingInput};
use super::resources::{self, ChartParts, ref_id};
use super::types::*;
use crate::schedule::{Booked, BookingRequest, Slot, SlotQuery, Upcoming};
use crate::store::record::CallRecord;
use client::FhirClient;

pub struct FhirEhr {
    client: FhirClient,
    profile: Profile,
    conditional_create: bool,
    max_inline_audio: usize,
    department_id: String,
    data_dir: PathBuf,
    /// The practice's time zone: spoken constraints on slots are read in it.
    tz: chrono_tz::Tz,
    keys: Option<std::sync::Arc<crate::store::Keys>>,
}

/// The resources of a searchset bundle.
pub fn bundle_resources(bundle: &Value) -> Vec<Value> {
    bundle.get("entry").and_then(Value::as_array).map(|e| e.iter().filter_map(|e| e.get("resource").cloned()).collect()).unwrap_or_default()
}

fn next_link(bundle: &Value) -> Option<String> {
    bundle.get("link")?.as_array()?.iter().find(|l| l.get("relation").and_then(Value::as_str) == Some("next")).and_then(|l| l.get("url").and_then(Value::as_str)).map(str::to_string)
}

impl FhirEhr {
    pub fn new(config: &FhirConfig, data_dir: PathBuf) -> Result<Self, EhrError> {
        let auth = auth::Auth::from_config(&config.auth)?;
        Ok(Self {
            client: FhirClient::with_ca_file(&config.base_url, Duration::from_millis(config.timeout_ms), auth, &config.ca_file)?,
            profile: config.profile,
            conditional_create: config.conditional_create && profiles::supports_conditional_create(config.profile),
            max_inline_audio: config.max_inline_audio_bytes,
            department_id: config.department_id.clone(),
            data_dir,
            tz: chrono_tz::America::Chicago,
            keys: None,
        })
    }

    /// Reads slot constraints in the practice's time zone.
    pub fn with_time_zone(mut self, tz: chrono_tz::Tz) -> Self {
        self.tz = tz;
        self
    }

    /// The keys that open the recordings (default: those of the data dir).
    pub fn with_keys(mut self, keys: std::sync::Arc<crate::store::Keys>) -> Self {
        self.keys = Some(keys);
        self
    }

    /// All resources of a search, following `next` links (at most `pages` pages).
    async fn search(&self, query: String, pages: usize) -> Result<Vec<Value>, EhrError> {
        let mut out = Vec::new();
        let mut page = self.client.get(&query).await?.body;
        for _ in 0..pages {
            out.extend(bundle_resources(&page));
            match next_link(&page) {
                Some(next) => page = self.client.get(&next).await?.body,
                None => break,
            }
        }
        Ok(out)
    }

    /// The Task a call created (found by its identifier).
    async fn call_task(&self, call_id: &str) -> Result<Value, EhrError> {
        let tasks = self.search(format!("Task?identifier={CALL_ID_SYSTEM}|{call_id}"), 1).await?;
        tasks.into_iter().next().ok_or_else(|| EhrError::NotFound(format!("Task with identifier {call_id}")))
    }

    async fn create(&self, resource: Value, if_none_exist: Option<String>) -> Result<String, EhrError> {
        let kind = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default().to_string();
        let request = profiles::PlannedRequest { method: "POST", path: kind.clone(), body: Body::Json(resource), if_none_exist, resource_type: kind, id_field: None };
        Ok(exec::execute(&self.client, vec![request], self.conditional_create).await?.remove(0))
    }

    async fn put(&self, resource: &Value) -> Result<String, EhrError> {
        let kind = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default();
        let id = resource.get("id").and_then(Value::as_str).ok_or_else(|| EhrError::Protocol(format!("{kind} has no id")))?;
        self.client.send(Method::PUT, &format!("{kind}/{id}"), Some(&Body::Json(resource.clone())), &[]).await?;
        Ok(format!("{kind}/{id}"))
    }

    /// The call's recording, when it exists and is small enough to attach.
    fn audio(&self, call: &CallRecord) -> Option<Audio> {
        let relative = call.recording.as_deref()?;
        let path = self.data_dir.join(relative);
        let size = std::fs::metadata(&path).ok()?.len() as usize;
        if size > self.max_inline_audio {
            tracing::debug!(call_id = %call.call_id, size, "recording too large to attach inline");
            return None;
        }
        if crate::store::recording::is_sealed(&path) {
            let keys = match &self.keys {
                Some(keys) => keys.clone(),
                None => std::sync::Arc::new(crate::store::Keys::for_data_dir(&self.data_dir).map_err(|e| tracing::warn!(error = %e, "no keys to open the recording")).ok()?),
            };
            let data = crate::store::recording::read_wav(&path, &keys).map_err(|e| tracing::warn!(error = %e, "recording not attached")).ok()?;
            return Some(Audio { content_type: "audio/wav".into(), data, title: format!("Voice message {}", call.call_id) });
        }
        let data = std::fs::read(&path).ok()?;
        let content_type = match path.extension().and_then(|e| e.to_str()) {
            Some("mp3") => "audio/mpeg",
            Some("ogg") => "audio/ogg",
            _ => "audio/wav",
        };
        Some(Audio { content_type: content_type.into(), data, title: format!("Voice message {}", call.call_id) })
    }
}

#[async_trait]
impl Ehr for FhirEhr {
    fn name(&self) -> String {
        format!("fhir/{:?}", self.profile).to_lowercase()
    }

    async fn find_patients(&self, query: &PatientQuery) -> Result<Vec<PatientSummary>, EhrError> {
        // Search by birth date only: phone formats and spoken names are compared on our side.
        let found = self.search(format!("Patient?birthdate={}&_count=100", query.birth_date), 5).await?;
        let candidates = found.iter().filter_map(resources::patient_summary).collect();
        Ok(resources::narrow(candidates, query))
    }

    async fn chart_summary(&self, patient_id: &str) -> Result<ChartSummary, EhrError> {
        let patient = self.client.get(&format!("Patient/{patient_id}")).await.map_err(|e| match e {
            EhrError::Http { status: 404 | 410, .. } => EhrError::NotFound(format!("Patient/{patient_id}")),
            e => e,
        })?;
        let now = Utc::now();
        let p = patient_id;
        let (meds, allergies, problems, appointments, teams) = tokio::join!(
            self.search(format!("MedicationRequest?patient={p}&status=active&_count=200"), 3),
            self.search(format!("AllergyIntolerance?patient={p}&_count=100"), 2),
            self.search(format!("Condition?patient={p}&clinical-status=active&_count=200"), 3),
            self.search(format!("Appointment?patient={p}&date=ge{}&_count=50", now.format("%Y-%m-%d")), 2),
            self.search(format!("CareTeam?patient={p}&status=active&_count=50"), 2),
        );
        let mut all = Vec::new();
        for part in [meds, allergies, problems, appointments, teams] {
            all.extend(part?);
        }
        let mut wanted: Vec<String> = all
            .iter()
            .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some("CareTeam"))
            .flat_map(|t| t.get("participant").and_then(Value::as_array).cloned().unwrap_or_default())
            .filter_map(|m| m.pointer("/member/reference").and_then(Value::as_str).filter(|r| r.contains("Practitioner/")).map(|r| ref_id(r).to_string()))
            .collect();
        wanted.extend(patient.body.pointer("/generalPractitioner/0/reference").and_then(Value::as_str).filter(|r| r.contains("Practitioner/")).map(|r| ref_id(r).to_string()));
        wanted.sort();
        wanted.dedup();
        let mut practitioners = HashMap::new();
        let mut roles = Vec::new();
        if !wanted.is_empty() {
            let ids = wanted.join(",");
            let (found, found_roles) = tokio::join!(self.search(format!("Practitioner?_id={ids}"), 2), self.search(format!("PractitionerRole?practitioner={ids}"), 2));
            for p in found? {
                if let Some(id) = p.get("id").and_then(Value::as_str) {
                    practitioners.insert(id.to_string(), p.clone());
                }
            }
            roles = found_roles.unwrap_or_default();
        }
        Ok(resources::chart_summary(&ChartParts { patient: Some(&patient.body), resources: &all, practitioners: &practitioners, roles: &roles, now }))
    }

    async fn write_call(&self, call: &CallRecord) -> Result<Vec<String>, EhrError> {
        let audio = self.audio(call);
        let plan = profiles::plan(self.profile, &MappingInput { call, audio: audio.as_ref(), department_id: &self.department_id })?;
        exec::execute(&self.client, plan, self.conditional_create).await
    }

    async fn update_task(&self, call_id: &str, update: &TaskUpdate) -> Result<Vec<String>, EhrError> {
        let mut task = self.call_task(call_id).await?;
        let mut refs = Vec::new();
        if update.status.is_some() || update.owner.is_some() {
            if let Some(status) = update.status {
                task["status"] = json!(status.as_fhir());
            }
            if let Some(owner) = &update.owner {
                task["owner"] = json!({"reference": format!("Practitioner/{owner}")});
            }
            task["lastModified"] = json!(Utc::now().to_rfc3339());
            refs.push(self.put(&task).await?);
        }
        if let Some(reply) = &update.reply {
            let mut comm = json!({
                "resourceType": "Communication",
                "status": "completed",
                "category": task.get("code").cloned().map(|c| vec![c]).unwrap_or_default(),
                "sent": Utc::now().to_rfc3339(),
                "sender": {"reference": format!("Practitioner/{}", reply.author)},
                "payload": [{"contentString": reply.text}],
                "about": [{"reference": format!("Task/{}", task.get("id").and_then(Value::as_str).unwrap_or_default())}],
            });
            if let Some(focus) = task.pointer("/focus/reference").and_then(Value::as_str) {
                comm["inResponseTo"] = json!([{"reference": focus}]);
            }
            if let Some(patient) = task.get("for") {
                comm["subject"] = patient.clone();
                comm["recipient"] = json!([patient]);
            }
            refs.push(self.create(comm, None).await?);
        }
        Ok(refs)
    }

    async fn record_refill(&self, call_id: &str, decision: &RefillDecision) -> Result<Vec<String>, EhrError> {
        let mut task = self.call_task(call_id).await?;
        let prior = self.client.get(&format!("MedicationRequest/{}", decision.medication_id)).await?.body;
        let mut refs = Vec::new();
        let practitioner = format!("Practitioner/{}", decision.by);
        let at = decision.at.to_rfc3339();
        if decision.approved {
            let mut renewed = json!({
                "resourceType": "MedicationRequest",
                "identifier": [{"system": CALL_ID_SYSTEM, "value": format!("{call_id}-refill")}],
                "status": "active",
                "intent": "order",
                "subject": prior.get("subject").cloned().unwrap_or(Value::Null),
                "authoredOn": at,
                "requester": {"reference": practitioner},
                "priorPrescription": {"reference": format!("MedicationRequest/{}", decision.medication_id)},
            });
            for field in ["medicationCodeableConcept", "medicationReference", "dosageInstruction", "dispenseRequest"] {
                if let Some(v) = prior.get(field) {
                    renewed[field] = v.clone();
                }
            }
            if let Some(note) = &decision.note {
                renewed["note"] = json!([{"text": note}]);
            }
            refs.push(self.create(renewed, Some(format!("identifier={CALL_ID_SYSTEM}|{call_id}-refill"))).await?);
        }
        task["status"] = json!(if decision.approved { "completed" } else { "rejected" });
        task["businessStatus"] = json!({"coding": [{"system": mapping::BUSINESS_STATUS_SYSTEM, "code": if decision.approved { "refill-approved" } else { "refill-denied" }}]});
        task["lastModified"] = json!(at);
        if let Some(mr) = refs.first() {
            task["output"] = json!([{"type": {"text": "renewed prescription"}, "valueReference": {"reference": mr}}]);
        }
        refs.push(self.put(&task).await?);
        let targets: Vec<Value> = refs.iter().map(|r| json!({"reference": r})).collect();
        let mut provenance = json!({
            "resourceType": "Provenance",
            "target": targets,
            "recorded": at,
            "activity": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation", "code": "UPDATE"}]},
            "agent": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "code": "author"}]}, "who": {"reference": practitioner}}],
        });
        // FHIR JSON has no null properties: a decision without a note has no reason.
        if let Some(note) = &decision.note {
            provenance["reason"] = json!([{"text": note}]);
        }
        refs.push(self.create(provenance, None).await?);
        Ok(refs)
    }

    async fn free_slots(&self, query: &SlotQuery) -> Result<Vec<Slot>, EhrError> {
        schedule::free_slots(&self.client, query, self.tz).await
    }

    async fn book(&self, request: &BookingRequest) -> Result<Booked, BookError> {
        schedule::book(&self.client, request, Utc::now()).await
    }

    async fn upcoming_appointments(&self, patient_id: &str, from: chrono::DateTime<Utc>) -> Result<Vec<Upcoming>, EhrError> {
        schedule::upcoming(&self.client, patient_id, from).await
    }

    async fn cancel_appointment(&self, patient_id: &str, appointment_id: &str, call_id: &str) -> Result<(), BookError> {
        schedule::cancel(&self.client, patient_id, appointment_id, call_id).await
    }
}
