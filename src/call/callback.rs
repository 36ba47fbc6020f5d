//! The provider callback line driver: an inbound call to `[oncall] callback_number` is answered
//! here instead of by the patient dialog. It runs the [`CallbackLine`] state machine: PIN check,
//! the provider's open tasks read out one by one, a call back to the patient bridged through
//! Chartline, and tasks marked done (store + audit + the call's timeline).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::mpsc;
use tracing::{Instrument, info, warn};

use super::CallServices;
use super::bridge::{Direction, Relay};
use super::outbound::{self, Leg};
use super::session::Incoming;
use crate::media::{MediaEvent, MediaHandle, MediaParams, MediaSession, PromptItem};
use crate::oncall::OnCallConfig;
use crate::oncall::callback::{Action, CallbackLine, Event, Say};
use crate::sip::sdp::{self, MediaCaps};
use crate::sip::{UaCommand, UaEvent};
use crate::store::audit::{AuditEvent, Outcome};
use crate::store::record::{CallEvent, CallRecord};
use crate::store::users::User;
use crate::web::access::{TaskItem, normalize_practitioner};

/// Whether a call to `to` (the To URI) is for the callback line.
pub fn is_callback_line(oncall: &OnCallConfig, to: &str) -> bool {
    let wanted = oncall.callback_number.trim();
    if wanted.is_empty() {
        return false;
    }
    let national = crate::phone::national(wanted);
    crate::phone::user_part(to).eq_ignore_ascii_case(wanted) || (!national.is_empty() && crate::phone::national(to) == national)
}

pub async fn run(services: Arc<CallServices>, incoming: Incoming, sip_events: mpsc::UnboundedReceiver<UaEvent>) {
    let span = tracing::info_span!("callback_line", sip_call = %incoming.call.0);
    async move {
        let Some((media, media_events)) = answer(&services, &incoming).await else { return };
        let key_timeout = Duration::from_secs(services.config.oncall.key_timeout_s);
        let driver = Driver { services, sip_call: incoming.call, media, line: CallbackLine::start(key_timeout), user: None, tasks: Vec::new(), patient: None, relay: None, play_tag: 0, current: None };
        driver.run(media_events, sip_events).await;
    }
    .instrument(span)
    .await
}

/// Negotiates and answers (an INVITE without an offer is refused: the line needs none).
async fn answer(services: &CallServices, incoming: &Incoming) -> Option<(MediaHandle, mpsc::UnboundedReceiver<MediaEvent>)> {
    let reject = |status: u16, reason: &str| {
        let _ = services.sip.send(UaCommand::Reject { call: incoming.call.clone(), status, reason: reason.into(), warning: None, retry_after: None });
    };
    let session = match MediaSession::bind(&services.ports, services.local_ip).await {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, "no RTP port for the callback line");
            reject(503, "Service Unavailable");
            return None;
        }
    };
    let local = SocketAddr::new(services.local_ip, session.local_port());
    let negotiated = match incoming.offer.as_ref().map(|offer| sdp::negotiate(offer, &MediaCaps::default(), local, rand::random::<u32>() as u64)) {
        Some(Ok(n)) => n,
        _ => {
            reject(488, "Not Acceptable Here");
            return None;
        }
    };
    let _ = services.sip.send(UaCommand::Answer { call: incoming.call.clone(), sdp: negotiated.answer.clone(), offerless: false });
    let params = MediaParams { remote: negotiated.remote_rtp, codec: negotiated.codec, dtmf_pt: negotiated.dtmf_pt, ptime_ms: negotiated.ptime_ms };
    info!("callback line answered");
    Some(session.start(params, &services.config.media, services.media_counters.clone()))
}

struct Driver {
    services: Arc<CallServices>,
    sip_call: crate::sip::CallId,
    media: MediaHandle,
    line: CallbackLine,
    user: Option<User>,
    /// The provider's open tasks, urgent first, then oldest first.
    tasks: Vec<CallRecord>,
    patient: Option<Leg>,
    relay: Option<Relay>,
    play_tag: u64,
    /// The task last presented.
    current: Option<usize>,
}

enum Background {
    Pin(Option<User>),
    Patient(Result<Leg, outbound::DialError>),
}

impl Driver {
    async fn run(mut self, mut media_events: mpsc::UnboundedReceiver<MediaEvent>, mut sip_events: mpsc::UnboundedReceiver<UaEvent>) {
        let (bg_tx, mut bg_rx) = mpsc::unbounded_channel::<Background>();
        loop {
            self.apply(&bg_tx).await;
            if self.line.is_done() {
                break;
            }
            let deadline = self.line.poll_timeout().map(tokio::time::Instant::from_std);
            tokio::select! {
                _ = sleep_until(deadline) => self.line.handle_timeout(Instant::now()),
                event = media_events.recv() => match event {
                    Some(MediaEvent::Digit { digit, .. }) => self.line.handle(Event::Digit(digit), Instant::now()),
                    Some(MediaEvent::PlaybackFinished { tag, interrupted: false }) if tag == self.play_tag => self.line.handle(Event::PromptFinished, Instant::now()),
                    Some(MediaEvent::Audio(frame)) => {
                        if let (Some(relay), Some(patient)) = (self.relay.as_mut(), self.patient.as_ref()) {
                            relay.forward(Direction::AToB, frame, &patient.media);
                        }
                    }
                    Some(MediaEvent::InactivityTimeout) | None => self.line.hangup(),
                    Some(_) => {}
                },
                event = sip_events.recv() => match event {
                    Some(UaEvent::DtmfInfo { digit, .. }) => self.media.sip_info_digit(digit),
                    Some(UaEvent::RemoteHangup { .. } | UaEvent::CallFailed { .. }) | None => self.line.hangup(),
                    Some(_) => {}
                },
                Some(result) = bg_rx.recv() => match result {
                    Background::Pin(user) => self.logged_in(user),
                    Background::Patient(Ok(leg)) => {
                        self.patient = Some(leg);
                        self.line.handle(Event::PatientAnswered, Instant::now());
                    }
                    Background::Patient(Err(e)) => self.line.handle(Event::PatientFailed { status: e.status() }, Instant::now()),
                },
                event = patient_event(&mut self.patient) => match event {
                    PatientEvent::Audio(frame) => {
                        if let Some(relay) = self.relay.as_mut() {
                            relay.forward(Direction::BToA, frame, &self.media);
                        }
                    }
                    PatientEvent::Gone => self.patient_gone().await,
                    PatientEvent::Other => {}
                },
            }
        }
        self.apply(&bg_tx).await;
        if let Some(leg) = self.patient.take() {
            leg.hangup().await;
        }
        let _ = self.services.sip.send(UaCommand::Hangup { call: self.sip_call.clone() });
        self.media.close().await;
        info!("callback line call ended");
    }

    async fn patient_gone(&mut self) {
        if let Some(leg) = self.patient.take() {
            leg.hangup().await;
        }
        self.media.listen(false);
        self.bridge_outcome();
        self.line.handle(Event::PatientHungUp, Instant::now());
    }

    fn bridge_outcome(&mut self) {
        if let Some(relay) = self.relay.take() {
            let task = self.tasks.get(self.current_task()).cloned();
            self.audit("callback_bridge_ended", task.as_ref(), &relay.summary().to_string());
        }
    }

    fn logged_in(&mut self, user: Option<User>) {
        let Some(user) = user else {
            return self.line.handle(Event::PinChecked(None), Instant::now());
        };
        let practitioner = user.practitioner.as_deref().map(normalize_practitioner).unwrap_or_default();
        let store = &self.services.store;
        let tasks =
            store.list_calls(1000).unwrap_or_default().into_iter().filter(|r| r.ended_at.is_some()).map(|record| (TaskItem::new(&record, store.task_state(&record.call_id).ok().as_ref()), record));
        self.tasks = open_tasks(tasks, &practitioner);
        info!(waiting = self.tasks.len(), "provider logged in to the callback line");
        self.user = Some(user);
        self.line.handle(Event::PinChecked(Some(self.tasks.len())), Instant::now());
    }

    fn username(&self) -> String {
        self.user.as_ref().map(|u| u.username.clone()).unwrap_or_default()
    }

    /// An audit entry and, for a task, an event on its call's timeline.
    fn audit(&self, action: &str, task: Option<&CallRecord>, detail: &str) {
        let store = &self.services.store;
        let event = AuditEvent {
            who: self.username(),
            role: "provider".into(),
            action: action.into(),
            outcome: Some(audit_outcome(action)),
            patient: task.and_then(|t| t.patient.id.clone()).unwrap_or_default(),
            source: "phone".into(),
            object: task.map_or_else(|| "callback_line".to_string(), |t| t.call_id.clone()),
            detail: detail.into(),
        };
        if let Err(e) = store.audit(&event, Utc::now()) {
            warn!(error = %e, "cannot audit a callback-line action");
        }
        if let Some(task) = task {
            let result = store.call(&task.call_id).and_then(|mut record| {
                let detail = serde_json::Map::from_iter([("by".to_string(), serde_json::json!(self.username())), ("via".to_string(), serde_json::json!("callback_line"))]);
                record.events.push(CallEvent { at: Utc::now(), kind: action.into(), detail });
                store.save_progress(&record)
            });
            if let Err(e) = result {
                warn!(error = %e, "cannot add the callback-line action to the call");
            }
        }
    }

    async fn apply(&mut self, bg: &mpsc::UnboundedSender<Background>) {
        let mut says = Vec::new();
        while let Some(action) = self.line.poll_action() {
            if let Action::Play(say) = action {
                says.push(say);
                continue;
            }
            self.play(std::mem::take(&mut says));
            match action {
                Action::Play(_) => unreachable!("handled above"),
                Action::CheckPin(pin) => {
                    let (store, tx) = (self.services.store.clone(), bg.clone());
                    tokio::spawn(async move {
                        let user = tokio::task::spawn_blocking(move || crate::oncall::pins::provider_by_pin(&store, &pin).ok().flatten()).await.ok().flatten();
                        let _ = tx.send(Background::Pin(user));
                    });
                }
                Action::CallBack(index) => {
                    let task = self.tasks.get(index).cloned();
                    let number = task.as_ref().and_then(|t| crate::phone::caller(&t.from).map(str::to_string));
                    self.audit("callback_dialed", task.as_ref(), "");
                    let (services, tx) = (self.services.clone(), bg.clone());
                    tokio::spawn(async move {
                        let result = match number {
                            Some(number) => outbound::dial(&services, &number, services.config.oncall.ring_timeout()).await,
                            None => Err(outbound::DialError::NoRoute("the caller's number is unknown".into())),
                        };
                        let _ = tx.send(Background::Patient(result));
                    });
                }
                Action::Bridge => {
                    if let Some(patient) = &self.patient {
                        self.relay = Some(Relay::start(&self.media, &patient.media));
                        self.audit("callback_bridged", self.tasks.get(self.current_task()).cloned().as_ref(), "");
                    }
                }
                Action::HangupPatient => {
                    if let Some(leg) = self.patient.take() {
                        leg.hangup().await;
                    }
                    self.bridge_outcome();
                }
                Action::MarkDone(index) => {
                    if let Some(task) = self.tasks.get(index).cloned() {
                        match self.services.store.mark_task_done(&task.call_id, &self.username(), Utc::now()) {
                            Ok(()) => self.audit("task_done", Some(&task), "callback line"),
                            Err(e) => warn!(error = %e, "cannot mark the task done"),
                        }
                    }
                }
                Action::Hangup => {}
                Action::Outcome { kind, detail } => self.audit(kind, None, &detail.to_string()),
            }
        }
        self.play(says);
    }

    /// The task being handled: the last one dialed or presented (for the audit trail).
    fn current_task(&self) -> usize {
        self.current.unwrap_or(0)
    }

    fn play(&mut self, says: Vec<Say>) {
        if says.is_empty() {
            return;
        }
        let mut items = Vec::new();
        let mut clips = Vec::new();
        for say in says {
            match say {
                Say::AskPin => items.push(clip("callback-enter-pin")),
                Say::PinWrong => items.push(clip("callback-pin-wrong")),
                Say::Locked => items.push(clip("callback-locked")),
                Say::Waiting(n) => items.extend([clip("callback-you-have"), PromptItem::Number(n as u32), clip(if n == 1 { "callback-waiting-one" } else { "callback-waiting" })]),
                Say::Task(i) => {
                    self.current = Some(i);
                    let Some(task) = self.tasks.get(i) else { continue };
                    if let Some(request) = &task.request {
                        items.push(clip(&format!("label-{}", request.kind.replace('_', "-"))));
                    }
                    if let Some(dob) = task.patient.birth_date {
                        items.extend([clip("callback-born"), PromptItem::Date(dob)]);
                    }
                    clips.extend(self.services.prompts.expand(&std::mem::take(&mut items)));
                    clips.extend(self.recording(task));
                    items.push(clip("callback-menu"));
                }
                Say::TaskKeys(_) => items.push(clip("callback-menu")),
                Say::MarkedDone => items.push(clip("callback-marked-done")),
                Say::Connecting => items.push(clip("oncall-connecting")),
                Say::PatientUnreachable => items.push(clip("oncall-patient-unreachable")),
                Say::NoMore => items.push(clip("callback-no-more")),
                Say::InvalidKey => items.push(clip("invalid-key")),
            }
        }
        clips.extend(self.services.prompts.expand(&items));
        self.play_tag += 1;
        self.media.play(clips, self.play_tag, true);
    }

    fn recording(&self, task: &CallRecord) -> Vec<crate::media::prompts::Clip> {
        match super::alert::caller_message(&self.services, task) {
            Some(clip) => vec![clip],
            None => self.services.prompts.expand(&[clip("oncall-no-message")]),
        }
    }
}

/// The provider's open tasks among the finished calls, urgent first, then oldest first.
fn open_tasks(calls: impl Iterator<Item = (TaskItem, CallRecord)>, practitioner: &str) -> Vec<CallRecord> {
    let mut tasks: Vec<(TaskItem, CallRecord)> = calls.filter(|(item, _)| !item.done && item.practitioner.as_deref() == Some(practitioner)).collect();
    tasks.sort_by_key(|(item, _)| (!item.urgent, item.started_at));
    tasks.into_iter().map(|(_, record)| record).collect()
}

/// A callback-line action that did not happen (a PIN refused, a patient not reached) is audited
/// as a failure.
fn audit_outcome(action: &str) -> Outcome {
    if action.ends_with("rejected") || action.ends_with("unreachable") { Outcome::Failure } else { Outcome::Success }
}

fn clip(name: &str) -> PromptItem {
    PromptItem::Clip(name.to_string())
}

enum PatientEvent {
    Audio(Arc<[i16]>),
    Gone,
    Other,
}

/// The next thing that happens on the patient's leg; never, without one.
async fn patient_event(leg: &mut Option<Leg>) -> PatientEvent {
    let Some(leg) = leg else { return std::future::pending().await };
    tokio::select! {
        event = leg.media_events.recv() => match event {
            Some(MediaEvent::Audio(frame)) => PatientEvent::Audio(frame),
            Some(MediaEvent::InactivityTimeout) | None => PatientEvent::Gone,
            Some(_) => PatientEvent::Other,
        },
        event = leg.sip_events.recv() => match event {
            Some(UaEvent::RemoteHangup { .. } | UaEvent::CallFailed { .. }) | None => PatientEvent::Gone,
            Some(_) => PatientEvent::Other,
        },
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
#[path = "callback_tests.rs"]
mod tests;
