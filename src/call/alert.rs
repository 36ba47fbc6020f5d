//! The alert driver: decides who an urgent call alerts (`oncall::recipients`), pushes the live
//! dashboard alert, and runs one [`Alert`] state machine against real call legs for the phone page:
//! the on-call provider after hours, the staff line in business hours. It places the call, plays
//! the alert menu, calls the patient and bridges, and writes every outcome into the call's timeline
//! and the audit trail.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::mpsc;
use tracing::{Instrument, info, warn};

use super::bridge::{Direction, Relay};
use super::outbound::{self, DialError, Leg};
use super::{CallConfig, CallServices};
use crate::media::{MediaEvent, PromptItem};
use crate::oncall::alert::{Action, Event, Prompt};
use crate::oncall::recipients::{self, Recipients, Severity, Situation};
use crate::oncall::{Alert, AlertTiming, Target};
use crate::sip::UaEvent;
use crate::store::audit::{AuditEvent, Outcome};
use crate::store::record::{CallEvent, CallRecord};
use crate::web::access::TaskItem;
use crate::web::live::LiveAlert;

/// Marks a call whose alerts went out while it was still in progress (an emergency in business
/// hours), so that its end does not raise them again.
pub(super) const RAISED: &str = "alerts_raised";

fn severity(record: &CallRecord) -> Option<Severity> {
    if record.events.iter().any(|e| e.kind == "emergency") { Some(Severity::Emergency) } else { record.urgent.then_some(Severity::Urgent) }
}

/// Who the call alerts, on what is known of it now.
pub fn recipients(config: &CallConfig, record: &CallRecord) -> Recipients {
    let situation = Situation { after_hours: record.after_hours, severity: severity(record), on_call_routed: record.routing.on_call };
    recipients::decide(situation, &config.oncall, &config.alerts)
}

/// Whom the call still owes an alert, if anyone: nobody once its alerts went out during the call.
pub fn owed_now(config: &CallConfig, record: &CallRecord) -> Option<Recipients> {
    let to = recipients(config, record);
    (to.any() && !record.events.iter().any(|e| e.kind == RAISED)).then_some(to)
}

/// Timeline events after which a call owes no more phone page: someone took it (on the phone or
/// the dashboard), or everyone was tried.
const SETTLED: &[&str] = &["acknowledged", "page_stopped", "alert_failed"];

/// Whether a stored call still owes its phone page: it wanted one and nothing settled it, because
/// the process stopped while the alert rang, or before it was placed.
fn owed(config: &CallConfig, record: &CallRecord) -> bool {
    recipients(config, record).phone() && !record.events.iter().any(|e| SETTLED.contains(&e.kind.as_str()))
}

/// Raises the call's alerts (dashboard push, phone page) in the background.
pub fn raise(services: Arc<CallServices>, record: &CallRecord, to: Recipients) {
    if to.dashboard {
        push_to_dashboard(&services, record);
    }
    if to.phone() {
        start(services, record.clone(), to, false);
    }
}

/// The live alert as the dashboard shows it: the call as a task (who may see it), its severity.
fn live_alert(record: &CallRecord, severity: Severity) -> LiveAlert {
    let mut task = TaskItem::new(record, None);
    if record.request.is_none() {
        task.kind = "urgent".into();
    }
    LiveAlert { severity: if severity == Severity::Emergency { "emergency" } else { "urgent" }, raised_at: Utc::now(), task }
}

fn push_to_dashboard(services: &Arc<CallServices>, record: &CallRecord) {
    let alert = live_alert(record, severity(record).unwrap_or(Severity::Urgent));
    let severity = alert.severity;
    let pages = services.live.raise(alert);
    info!(pages, severity, "dashboard alert pushed");
    Timeline::new(services, record, Audience::Dashboard).outcome("dashboard_alert", serde_json::json!({ "severity": severity, "pages": pages }));
}

/// At start: places again every phone page still owed by a call that began within
/// `[oncall] resume_within_h`, so a crash or restart never swallows a page, and puts the
/// dashboard alerts nobody acknowledged back on the dashboard. Returns the number of pages.
pub fn resume_owed(services: &Arc<CallServices>) -> usize {
    let hours = services.config.oncall.resume_within_h;
    if hours == 0 {
        return 0;
    }
    let since = Utc::now() - chrono::Duration::hours(hours as i64);
    let calls = match services.store.finished_calls_since(since) {
        Ok(calls) => calls,
        Err(e) => {
            warn!(error = %e, "cannot look for alerts left owed by the previous run");
            return 0;
        }
    };
    let has = |record: &CallRecord, kind: &str| record.events.iter().any(|e| e.kind == kind);
    for record in calls.iter().filter(|r| has(r, "dashboard_alert") && !has(r, "dashboard_acknowledged")) {
        services.live.raise(live_alert(record, severity(record).unwrap_or(Severity::Urgent)));
    }
    let owed: Vec<&CallRecord> = calls.iter().filter(|record| owed(&services.config, record)).collect();
    for record in &owed {
        let to = recipients(&services.config, record);
        if to.on_call {
            warn!(call = %record.call_id, "resuming an on-call alert cut short by the previous stop");
        } else {
            warn!(call = %record.call_id, "resuming a staff-line alert cut short by the previous stop");
        }
        start(services.clone(), (*record).clone(), to, true);
    }
    owed.len()
}

fn start(services: Arc<CallServices>, record: CallRecord, to: Recipients, resumed: bool) {
    let span = if to.on_call { tracing::info_span!("oncall_alert", call = %record.call_id) } else { tracing::info_span!("staff_alert", call = %record.call_id) };
    tokio::spawn(async move { run(services, record, to, resumed).await }.instrument(span));
}

fn target(config: &CallConfig, provider: &str) -> Option<Target> {
    config.oncall.provider(provider).map(|p| Target { provider: p.id.clone(), dial: p.phone.clone() })
}

/// Who the phone page calls first and who backs them up; `Err` says why nobody can be called.
fn targets(config: &CallConfig, record: &CallRecord, to: Recipients) -> Result<(Target, Option<Target>), serde_json::Value> {
    if !to.on_call {
        let alerts = &config.alerts;
        let backup = (!alerts.staff_backup.is_empty()).then(|| Target { provider: "staff_backup".into(), dial: alerts.staff_backup.clone() });
        return Ok((Target { provider: "staff_line".into(), dial: alerts.staff_line.clone() }, backup));
    }
    let Some(provider) = record.routing.practitioner.clone() else {
        return Err(serde_json::json!({ "reason": "no on-call provider for this time" }));
    };
    let Some(primary) = target(config, &provider) else {
        warn!(%provider, "no phone number for the on-call provider in [oncall] providers");
        return Err(serde_json::json!({ "provider": provider, "reason": "no phone number configured" }));
    };
    let backup = config.oncall.provider(&provider).and_then(|p| target(config, &p.backup));
    Ok((primary, backup))
}

async fn run(services: Arc<CallServices>, record: CallRecord, to: Recipients, resumed: bool) {
    let timeline = Timeline::new(&services, &record, if to.on_call { Audience::OnCall } else { Audience::StaffLine });
    if resumed {
        timeline.outcome("alert_resumed", serde_json::json!({ "reason": "restart" }));
    }
    let (primary, backup) = match targets(&services.config, &record, to) {
        Ok(targets) => targets,
        Err(detail) => return timeline.outcome("alert_failed", detail),
    };
    let c = &services.config.oncall;
    let timing = AlertTiming {
        ring_timeout: c.ring_timeout(),
        retry_after: Duration::from_secs(c.retry_after_s),
        max_attempts: c.max_attempts,
        escalate_after: Duration::from_secs(c.escalate_after_s),
        menu_repeats: c.menu_repeats,
        key_timeout: Duration::from_secs(c.key_timeout_s),
    };
    // Listening for an acknowledgement on the dashboard before looking whether it came already.
    let acknowledgements = services.live.acknowledgements();
    if let Some(by) = acknowledged_on_dashboard(&services, &record.call_id) {
        return timeline.outcome("page_stopped", serde_json::json!({ "reason": "acknowledged on the dashboard", "by": by }));
    }
    info!("placing the alert call");
    let alert = Alert::start(primary, backup, timing, Instant::now());
    Driver { services, record, timeline, alert, provider: None, patient: None, relay: None, generation: 0, stop_dial: None, play_tag: 0 }.run(acknowledgements).await;
}

/// Who acknowledged the call's dashboard alert, if someone did (the stored timeline says).
fn acknowledged_on_dashboard(services: &CallServices, call_id: &str) -> Option<String> {
    let record = services.store.call(call_id).ok()?;
    let event = record.events.iter().find(|e| e.kind == "dashboard_acknowledged")?;
    Some(event.detail.get("name").and_then(|n| n.as_str()).unwrap_or_default().to_string())
}

/// Who an alert outcome is about, for the audit trail.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Audience {
    OnCall,
    StaffLine,
    Dashboard,
}

impl Audience {
    /// The audit role and the prefix of the audit action.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Audience::OnCall => ("on_call", "oncall"),
            Audience::StaffLine => ("staff_line", "staff"),
            Audience::Dashboard => ("dashboard", "alert"),
        }
    }
}

/// Where outcomes go: the call record's timeline and the audit trail.
struct Timeline {
    services: Arc<CallServices>,
    call_id: String,
    patient: String,
    audience: Audience,
}

impl Timeline {
    fn new(services: &Arc<CallServices>, record: &CallRecord, audience: Audience) -> Self {
        Timeline { services: services.clone(), call_id: record.call_id.clone(), patient: record.patient.id.clone().unwrap_or_default(), audience }
    }

    fn outcome(&self, kind: &str, detail: serde_json::Value) {
        info!(kind, role = self.audience.names().0, "alert");
        let store = &self.services.store;
        let map = match detail.clone() {
            serde_json::Value::Object(map) => map,
            _ => Default::default(),
        };
        if let Err(e) = store.add_call_event(&self.call_id, CallEvent { at: Utc::now(), kind: kind.to_string(), detail: map }) {
            warn!(error = %e, kind, "cannot record the alert outcome on the call");
        }
        if let Err(e) = store.audit(&audit_entry(self.audience, &self.call_id, &self.patient, kind, &detail), Utc::now()) {
            warn!(error = %e, "cannot audit the alert outcome");
        }
    }
}

/// The audit entry of an outcome: who (the provider it names, else the system for the
/// dashboard), whether it failed, and the attempt or page count.
fn audit_entry(audience: Audience, call_id: &str, patient: &str, kind: &str, detail: &serde_json::Value) -> AuditEvent {
    let (role, prefix) = audience.names();
    let system = if audience == Audience::Dashboard { "chartline" } else { "" };
    let who = detail.get("provider").and_then(|p| p.as_str()).unwrap_or(system).to_string();
    let failed = matches!(kind, "alert_failed" | "alert_unanswered" | "patient_unreachable");
    let note = match (detail.get("attempt"), detail.get("pages")) {
        (Some(a), _) => format!("attempt {a}"),
        (None, Some(p)) => format!("{p} pages"),
        _ => String::new(),
    };
    AuditEvent {
        who,
        role: role.into(),
        action: format!("{prefix}_{kind}"),
        outcome: Some(if failed { Outcome::Failure } else { Outcome::Success }),
        patient: patient.to_string(),
        source: if audience == Audience::Dashboard { "dashboard" } else { "phone" }.into(),
        object: call_id.to_string(),
        detail: note,
    }
}

struct Driver {
    services: Arc<CallServices>,
    record: CallRecord,
    timeline: Timeline,
    alert: Alert,
    provider: Option<Leg>,
    patient: Option<Leg>,
    relay: Option<Relay>,
    /// Which provider dial is current; results of older (cancelled) ones are hung up.
    generation: u64,
    /// Ends the ringing of the current provider dial (CANCEL) when sent or dropped.
    stop_dial: Option<tokio::sync::oneshot::Sender<()>>,
    play_tag: u64,
}

type Dialed = (u64, Result<Leg, DialError>);

impl Driver {
    async fn run(mut self, mut acknowledgements: tokio::sync::broadcast::Receiver<(String, String)>) {
        let (provider_tx, mut provider_rx) = mpsc::unbounded_channel::<Dialed>();
        let (patient_tx, mut patient_rx) = mpsc::unbounded_channel::<Dialed>();
        loop {
            self.apply(&provider_tx, &patient_tx).await;
            if self.alert.is_done() {
                break;
            }
            let deadline = self.alert.poll_timeout().map(tokio::time::Instant::from_std);
            tokio::select! {
                _ = sleep_until(deadline) => self.alert.handle_timeout(Instant::now()),
                Ok((call_id, by)) = acknowledgements.recv() => {
                    if call_id == self.record.call_id {
                        self.alert.handle(Event::AcknowledgedElsewhere { by }, Instant::now());
                    }
                }
                Some((generation, result)) = provider_rx.recv() => match result {
                    Ok(leg) if generation == self.generation => {
                        self.provider = Some(leg);
                        self.alert.handle(Event::Answered, Instant::now());
                    }
                    Ok(late) => { late.hangup().await; }
                    Err(e) if generation == self.generation => {
                        info!(status = e.status(), "alert call not answered");
                        self.alert.handle(Event::DialFailed { status: e.status() }, Instant::now());
                    }
                    Err(_) => {}
                },
                Some((_, result)) = patient_rx.recv() => match result {
                    Ok(leg) => {
                        self.patient = Some(leg);
                        self.alert.handle(Event::PatientAnswered, Instant::now());
                    }
                    Err(e) => self.alert.handle(Event::PatientFailed { status: e.status() }, Instant::now()),
                },
                event = leg_event(&mut self.provider) => match event {
                    LegEvent::Media(event) => self.provider_media(event).await,
                    LegEvent::Sip(event) => self.provider_sip(event).await,
                },
                event = leg_event(&mut self.patient) => match event {
                    LegEvent::Media(event) => self.patient_media(event).await,
                    LegEvent::Sip(event) => self.patient_sip(event).await,
                },
            }
        }
        for leg in [self.provider.take(), self.patient.take()].into_iter().flatten() {
            leg.hangup().await;
        }
        info!("alert call finished");
    }

    async fn provider_media(&mut self, event: Option<MediaEvent>) {
        let now = Instant::now();
        match event {
            Some(MediaEvent::Digit { digit, .. }) => self.alert.handle(Event::Digit(digit), now),
            Some(MediaEvent::PlaybackFinished { tag, interrupted: false }) if tag == self.play_tag => self.alert.handle(Event::PromptFinished, now),
            Some(MediaEvent::Audio(frame)) => {
                if let (Some(relay), Some(patient)) = (self.relay.as_mut(), self.patient.as_ref()) {
                    relay.forward(Direction::AToB, frame, &patient.media);
                }
            }
            Some(MediaEvent::InactivityTimeout) | None => {
                if let Some(leg) = self.provider.take() {
                    leg.hangup().await;
                }
                self.alert.handle(Event::ProviderHungUp, now);
            }
            Some(_) => {}
        }
    }

    async fn patient_media(&mut self, event: Option<MediaEvent>) {
        match event {
            Some(MediaEvent::Audio(frame)) => {
                if let (Some(relay), Some(provider)) = (self.relay.as_mut(), self.provider.as_ref()) {
                    relay.forward(Direction::BToA, frame, &provider.media);
                }
            }
            Some(MediaEvent::InactivityTimeout) | None => {
                if let Some(leg) = self.patient.take() {
                    leg.hangup().await;
                }
                self.alert.handle(Event::PatientHungUp, Instant::now());
            }
            Some(_) => {}
        }
    }

    async fn provider_sip(&mut self, event: Option<UaEvent>) {
        match event {
            Some(UaEvent::DtmfInfo { digit, .. }) => {
                if let Some(leg) = &self.provider {
                    leg.media.sip_info_digit(digit);
                }
            }
            Some(UaEvent::RemoteHangup { .. } | UaEvent::CallFailed { .. }) | None => {
                if let Some(leg) = self.provider.take() {
                    leg.hangup().await;
                }
                self.alert.handle(Event::ProviderHungUp, Instant::now());
            }
            Some(_) => {}
        }
    }

    async fn patient_sip(&mut self, event: Option<UaEvent>) {
        match event {
            Some(UaEvent::RemoteHangup { .. } | UaEvent::CallFailed { .. }) | None => {
                if let Some(leg) = self.patient.take() {
                    leg.hangup().await;
                }
                self.alert.handle(Event::PatientHungUp, Instant::now());
            }
            Some(_) => {}
        }
    }

    async fn apply(&mut self, provider_tx: &mpsc::UnboundedSender<Dialed>, patient_tx: &mpsc::UnboundedSender<Dialed>) {
        let mut prompts: Vec<Prompt> = Vec::new();
        while let Some(action) = self.alert.poll_action() {
            match action {
                Action::Play(prompt) => {
                    prompts.push(prompt);
                    continue;
                }
                Action::Dial(target) => {
                    self.generation += 1;
                    if let Some(old) = self.provider.take() {
                        old.hangup().await;
                    }
                    let (services, generation, tx) = (self.services.clone(), self.generation, provider_tx.clone());
                    let ring = services.config.oncall.ring_timeout();
                    let (stop, stopped) = tokio::sync::oneshot::channel();
                    self.stop_dial = Some(stop);
                    tokio::spawn(async move {
                        let stopped = async {
                            let _ = stopped.await;
                        };
                        let _ = tx.send((generation, outbound::dial_until(&services, &target.dial, ring, stopped).await));
                    });
                }
                Action::CancelDial => {
                    self.generation += 1;
                    self.stop_dial = None;
                }
                Action::DialPatient => match crate::phone::caller(&self.record.from).map(str::to_string) {
                    Some(number) => {
                        let (services, tx) = (self.services.clone(), patient_tx.clone());
                        let ring = services.config.oncall.ring_timeout();
                        tokio::spawn(async move {
                            let _ = tx.send((0, outbound::dial(&services, &number, ring).await));
                        });
                    }
                    None => self.alert.handle(Event::PatientFailed { status: 404 }, Instant::now()),
                },
                Action::Bridge => {
                    if let (Some(a), Some(b)) = (&self.provider, &self.patient) {
                        self.relay = Some(Relay::start(&a.media, &b.media));
                    }
                }
                Action::HangupProvider => {
                    if let Some(leg) = self.provider.take() {
                        leg.hangup().await;
                    }
                }
                Action::HangupPatient => {
                    if let Some(leg) = self.patient.take() {
                        leg.hangup().await;
                    }
                }
                Action::Outcome { kind, mut detail } => {
                    if self.timeline.audience == Audience::StaffLine {
                        detail["target"] = serde_json::json!(self.alert.current().dial);
                    }
                    if kind == "bridge_ended"
                        && let (Some(relay), Some(map)) = (self.relay.take(), detail.as_object_mut())
                    {
                        map.extend(relay.summary().as_object().cloned().unwrap_or_default());
                    }
                    self.timeline.outcome(kind, detail);
                }
            }
            self.play(std::mem::take(&mut prompts));
        }
        self.play(prompts);
    }

    /// Plays prompts back to back on the provider's leg.
    fn play(&mut self, prompts: Vec<Prompt>) {
        let Some(leg) = self.provider.as_ref().filter(|_| !prompts.is_empty()) else { return };
        let mut clips = Vec::new();
        for prompt in prompts {
            clips.extend(self.clips(prompt));
        }
        self.play_tag += 1;
        leg.media.play(clips, self.play_tag, true);
    }

    fn clips(&self, prompt: Prompt) -> Vec<crate::media::prompts::Clip> {
        let library = &self.services.prompts;
        let names = |list: &[&str]| library.expand(&list.iter().map(|n| PromptItem::Clip(n.to_string())).collect::<Vec<_>>());
        match prompt {
            Prompt::Menu => library.expand(&menu(&self.record)),
            Prompt::Message => match caller_message(&self.services, &self.record) {
                Some(clip) => vec![clip],
                None => names(&["oncall-no-message"]),
            },
            Prompt::Connecting => names(&["oncall-connecting"]),
            Prompt::PatientUnreachable => names(&["oncall-patient-unreachable"]),
            Prompt::Acknowledged => names(&["oncall-acknowledged"]),
            Prompt::InvalidKey => names(&["invalid-key"]),
        }
    }
}

/// The alert menu: the patient's birth date, what the call is about, the keys.
fn menu(record: &CallRecord) -> Vec<PromptItem> {
    let mut items = Vec::new();
    match record.patient.birth_date {
        Some(dob) => items.extend([PromptItem::Clip("oncall-urgent-born".into()), PromptItem::Date(dob)]),
        None => items.push(PromptItem::Clip("oncall-urgent-no-dob".into())),
    }
    if let Some(request) = &record.request {
        items.push(PromptItem::Clip("oncall-about".into()));
        items.push(PromptItem::Clip(format!("label-{}", request.kind.replace('_', "-"))));
    }
    items.push(PromptItem::Clip("oncall-menu".into()));
    items
}

enum LegEvent {
    Media(Option<MediaEvent>),
    Sip(Option<UaEvent>),
}

/// The next thing that happens on a leg; never, when there is no leg.
async fn leg_event(leg: &mut Option<Leg>) -> LegEvent {
    match leg {
        Some(leg) => tokio::select! {
            event = leg.media_events.recv() => LegEvent::Media(event),
            event = leg.sip_events.recv() => LegEvent::Sip(event),
        },
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The caller's recorded message as a clip to play (recordings are sealed at rest; decoded in
/// memory only). `None` when the call left no message or it cannot be read.
pub(super) fn caller_message(services: &CallServices, record: &CallRecord) -> Option<crate::media::prompts::Clip> {
    let path = services.config.data_dir.join(record.recording.as_ref()?);
    match crate::store::recording::read_pcm(&path, &services.store.keys()) {
        Ok(pcm) if pcm.sample_rate == 8000 => Some(pcm.samples.into()),
        Ok(pcm) => {
            let samples: Vec<f32> = pcm.samples.iter().map(|s| *s as f32 / 32768.0).collect();
            let resampled = crate::media::resample::resample(&samples, pcm.sample_rate, 8000).ok()?;
            Some(crate::media::resample::f32_to_i16(&resampled).into())
        }
        Err(e) => {
            warn!(error = %e, "cannot read the caller's recording");
            None
        }
    }
}

#[cfg(test)]
#[path = "alert_tests.rs"]
mod tests;
