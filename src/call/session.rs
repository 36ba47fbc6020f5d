//! One call, from INVITE to the stored record: negotiates media, answers, runs the dialog against
//! the RTP session, and writes every step into the call record.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::mpsc;
use tracing::{Instrument, info, warn};

use super::CallServices;
use crate::ivr::{Action, CallSetup, Candidate, Dialog, Event};
use crate::media::{MediaEvent, MediaHandle, MediaParams, MediaSession};
use crate::sip::sdp::{self, MediaCaps, SdpError};
use crate::sip::{CallId, Sdp, UaCommand, UaEvent};
use crate::store::record::{CallEvent, CallRecord, MatchStatus, PatientMatch, RequestChoice};
use crate::web::metrics::CallOutcome;

/// What the dispatcher knows of a new call.
pub struct Incoming {
    pub call: CallId,
    pub from: String,
    pub to: String,
    pub source: SocketAddr,
    pub offer: Option<Sdp>,
}

pub async fn run(services: Arc<CallServices>, incoming: Incoming, sip_events: mpsc::UnboundedReceiver<UaEvent>) {
    let call_id = uuid::Uuid::new_v4().to_string();
    let span = tracing::info_span!("call", id = %call_id);
    services.metrics.active_calls.fetch_add(1, Relaxed);
    let outcome = async { Call::answer(services.clone(), call_id, incoming, sip_events).await }.instrument(span).await;
    services.metrics.active_calls.fetch_sub(1, Relaxed);
    services.metrics.call_ended(outcome);
}

struct Call {
    services: Arc<CallServices>,
    sip_call: CallId,
    record: CallRecord,
    media: MediaHandle,
    dialog: Dialog,
    sip_events: mpsc::UnboundedReceiver<UaEvent>,
    lookups: (mpsc::UnboundedSender<Event>, mpsc::UnboundedReceiver<Event>),
    recording_path: std::path::PathBuf,
}

impl Call {
    /// Negotiates, answers, runs the dialog; returns how the call ended.
    async fn answer(services: Arc<CallServices>, call_id: String, incoming: Incoming, mut sip_events: mpsc::UnboundedReceiver<UaEvent>) -> CallOutcome {
        let sip = services.sip.clone();
        let reject = |status: u16, reason: &str, warning: Option<String>, retry_after: Option<u32>| {
            let _ = sip.send(UaCommand::Reject { call: incoming.call.clone(), status, reason: reason.into(), warning, retry_after });
        };
        let session = match MediaSession::bind(&services.ports, services.local_ip).await {
            Ok(session) => session,
            Err(e) => {
                warn!(error = %e, "no RTP port: rejecting");
                reject(503, "Service Unavailable", None, Some(5));
                return CallOutcome::Rejected;
            }
        };
        let local = SocketAddr::new(services.local_ip, session.local_port());
        let caps = MediaCaps::default();
        let session_id = rand::random::<u32>() as u64;
        let (answer_sdp, negotiated) = match &incoming.offer {
            Some(offer) => match sdp::negotiate(offer, &caps, local, session_id) {
                Ok(n) => (n.answer.clone(), Some(n)),
                Err(SdpError::NoCommonCodec) => {
                    info!("no common codec: 488");
                    reject(488, "Not Acceptable Here", Some("Incompatible media format: PCMU or PCMA required".into()), None);
                    return CallOutcome::Rejected;
                }
                Err(e) => {
                    info!(error = %e, "unusable offer: 488");
                    reject(488, "Not Acceptable Here", Some(e.to_string()), None);
                    return CallOutcome::Rejected;
                }
            },
            None => (sdp::make_offer(&caps, local, session_id), None),
        };
        if services.config.calls.ring_ms > 0 {
            let _ = services.sip.send(UaCommand::Ringing { call: incoming.call.clone() });
            // The dispatcher drops our channel when the caller cancels while it rings.
            let ringing = Duration::from_millis(services.config.calls.ring_ms);
            let cancelled = tokio::time::timeout(ringing, async { while sip_events.recv().await.is_some() {} }).await.is_ok();
            if cancelled {
                info!("cancelled while ringing");
                return CallOutcome::Cancelled;
            }
        }
        if matches!(sip_events.try_recv(), Err(mpsc::error::TryRecvError::Disconnected)) {
            info!("cancelled before answer");
            return CallOutcome::Cancelled;
        }
        let _ = services.sip.send(UaCommand::Answer { call: incoming.call.clone(), sdp: answer_sdp.clone(), offerless: negotiated.is_none() });
        let negotiated = match negotiated {
            Some(n) => n,
            None => match wait_for_answer(&mut sip_events, &answer_sdp).await {
                Some(n) => n,
                None => {
                    let _ = services.sip.send(UaCommand::Hangup { call: incoming.call.clone() });
                    return CallOutcome::Failed;
                }
            },
        };
        let params = MediaParams { remote: negotiated.remote_rtp, codec: negotiated.codec, dtmf_pt: negotiated.dtmf_pt, ptime_ms: negotiated.ptime_ms };
        info!(codec = ?params.codec, dtmf_pt = ?params.dtmf_pt, "call answered");

        let mut record = CallRecord { call_id: call_id.clone(), started_at: Utc::now(), from: incoming.from, to: incoming.to, ..Default::default() };
        push_event(&mut record, "answered", serde_json::json!({ "sip_call_id": incoming.call.0, "codec": format!("{:?}", params.codec), "rfc4733": params.dtmf_pt.is_some() }));
        let reference = match services.store.begin_call(&record) {
            Ok(reference) => reference,
            Err(e) => {
                warn!(error = %e, "cannot store the call: continuing, record kept in memory");
                format!("{:06}", rand::random::<u32>() % 1_000_000)
            }
        };
        let (media, media_events) = session.start(params, &services.config.media, services.media_counters.clone());
        // Keypad-only until the driver is rewired to speech, triage and the chart (issue 4).
        let setup = CallSetup { after_hours: false, reference, caller_phone: None, speech: false, today: Utc::now().date_naive() };
        let triage = match crate::triage::Triage::from_config(&services.config.triage) {
            Ok(triage) => Arc::new(triage),
            Err(e) => {
                warn!(error = %e, "triage rules do not load: hanging up");
                let _ = services.sip.send(UaCommand::Hangup { call: incoming.call.clone() });
                return CallOutcome::Failed;
            }
        };
        let dialog = Dialog::new(services.config.ivr.clone(), setup, triage, |_, _| None);
        let recording_path = services.config.recordings_dir().join(format!("{call_id}.wav"));
        let call = Call { services, sip_call: incoming.call, record, media, dialog, sip_events, lookups: mpsc::unbounded_channel(), recording_path };
        call.run(media_events).await
    }

    async fn run(mut self, mut media_events: mpsc::UnboundedReceiver<MediaEvent>) -> CallOutcome {
        let max_duration = tokio::time::sleep(Duration::from_secs(self.services.config.calls.max_duration_s));
        tokio::pin!(max_duration);
        self.dialog.start(Instant::now());
        let mut outcome = None;
        while outcome.is_none() {
            self.apply_actions().await;
            if self.dialog.is_done() {
                outcome = Some(CallOutcome::Completed);
                break;
            }
            let deadline = self.dialog.poll_timeout().map(tokio::time::Instant::from_std);
            tokio::select! {
                Some(event) = media_events.recv() => match event {
                    MediaEvent::Digit { digit, .. } => self.dialog.handle(Event::Digit(digit), Instant::now()),
                    MediaEvent::PlaybackFinished { tag, interrupted } => self.dialog.handle(Event::PromptFinished { tag, interrupted }, Instant::now()),
                    MediaEvent::Audio(_) => {}
                    MediaEvent::InactivityTimeout => {
                        push_event(&mut self.record, "rtp_timeout", serde_json::json!({}));
                        self.dialog.handle(Event::Hangup, Instant::now());
                        self.apply_actions().await;
                        let _ = self.services.sip.send(UaCommand::Hangup { call: self.sip_call.clone() });
                        outcome = Some(CallOutcome::Failed);
                    }
                },
                event = self.sip_events.recv() => match event {
                    Some(UaEvent::RemoteHangup { .. }) | None => {
                        self.dialog.handle(Event::Hangup, Instant::now());
                        outcome = Some(CallOutcome::CallerHungUp);
                    }
                    Some(UaEvent::CallFailed { reason, .. }) => {
                        push_event(&mut self.record, "sip_failure", serde_json::json!({ "reason": reason }));
                        self.dialog.handle(Event::Hangup, Instant::now());
                        outcome = Some(CallOutcome::Failed);
                    }
                    Some(UaEvent::HoldChanged { on_hold, remote, .. }) => {
                        push_event(&mut self.record, if on_hold { "hold" } else { "unhold" }, serde_json::json!({}));
                        self.media.set_hold(on_hold);
                        if let Some(remote) = remote.filter(|r| r.port() != 0) {
                            self.media.set_remote(remote);
                        }
                    }
                    Some(UaEvent::DtmfInfo { digit, .. }) => self.media.sip_info_digit(digit),
                    Some(_) => {}
                },
                Some(event) = self.lookups.1.recv() => self.dialog.handle(event, Instant::now()),
                _ = sleep_until(deadline) => self.dialog.handle_timeout(Instant::now()),
                _ = &mut max_duration => {
                    push_event(&mut self.record, "max_duration", serde_json::json!({}));
                    self.dialog.handle(Event::Hangup, Instant::now());
                    self.apply_actions().await;
                    let _ = self.services.sip.send(UaCommand::Hangup { call: self.sip_call.clone() });
                    outcome = Some(CallOutcome::Failed);
                }
            }
        }
        self.apply_actions().await;
        self.finish().await;
        outcome.unwrap_or(CallOutcome::Completed)
    }

    /// Carries out what the dialog asked for.
    async fn apply_actions(&mut self) {
        let mut changed = false;
        while let Some(action) = self.dialog.poll_action() {
            changed = true;
            match action {
                Action::Play { prompts, barge_in, tag } => self.media.play(self.services.prompts.expand(&prompts), tag, barge_in),
                Action::StartRecording => {
                    self.media.start_recording(self.recording_path.clone());
                    self.record.recording = Some(format!("recordings/{}.wav", self.record.call_id));
                }
                Action::StopRecording => {
                    let (duration_ms, rms) = self.media.stop_recording().await.map(|i| (i.duration_ms, i.rms)).unwrap_or((0, 0.0));
                    self.dialog.handle(Event::RecordingStopped { duration_ms, rms }, Instant::now());
                }
                Action::Lookup { birth_date } => {
                    let services = self.services.clone();
                    let reply = self.lookups.0.clone();
                    tokio::spawn(async move {
                        let (_, patient_id) = services.find_patient(birth_date).await;
                        let candidates = patient_id.map(|id| Candidate { id, given: String::new(), family: String::new(), phone: None });
                        let _ = reply.send(Event::Candidates(candidates.into_iter().collect()));
                    });
                }
                Action::Hangup => {
                    let _ = self.services.sip.send(UaCommand::Hangup { call: self.sip_call.clone() });
                }
                Action::Log { kind, detail } => push_event(&mut self.record, kind, detail),
                Action::Patient { birth_date, status, patient_id, matched_by } => {
                    tracing::debug!(?birth_date, ?status, "patient");
                    self.record.patient = PatientMatch { id: patient_id, birth_date, matched_by, status };
                }
                Action::Request { kind, chosen_by } => {
                    self.record.urgent |= kind == crate::triage::RequestType::Urgent;
                    self.record.request = Some(RequestChoice { kind: kind.name().into(), code: kind.code().to_string(), chosen_by });
                }
                Action::Urgent { red_flags } => {
                    self.record.urgent = true;
                    self.record.red_flags.extend(red_flags);
                }
                Action::Note { key, value } => {
                    tracing::debug!(key, value, "follow-up note");
                    push_event(&mut self.record, "note", serde_json::json!({ "key": key, "value": value }));
                }
                // Speech, chart summary, on-call alert and transfer arrive with the driver rewiring.
                Action::Listen { .. } | Action::StopListening | Action::ChartSummary { .. } | Action::AlertOnCall | Action::Transfer { .. } => {}
            }
        }
        if changed {
            if let Err(e) = self.services.store.save_progress(&self.record) {
                warn!(error = %e, "cannot save call progress");
            }
        }
    }

    async fn finish(mut self) {
        let stats = self.media.close().await;
        self.record.ended_at = Some(Utc::now());
        if self.record.patient.status == MatchStatus::NotGiven && self.record.patient.birth_date.is_some() {
            self.record.patient.status = MatchStatus::NotFound;
        }
        push_event(&mut self.record, "ended", serde_json::json!({ "rtp_in": stats.packets_in, "rtp_out": stats.packets_out, "lost": stats.lost, "send_jitter_p99_us": stats.send_jitter_p99_us }));
        match self.services.store.finish_call(&self.record) {
            Ok(()) => info!(events = self.record.events.len(), "call stored"),
            Err(e) => warn!(error = %e, "cannot store the finished call"),
        }
    }
}

fn push_event(record: &mut CallRecord, kind: &str, detail: serde_json::Value) {
    let detail = match detail {
        serde_json::Value::Object(map) => map,
        other => serde_json::Map::from_iter([("value".to_string(), other)]),
    };
    record.events.push(CallEvent { at: Utc::now(), kind: kind.into(), detail });
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// For an offerless INVITE: the answer arrives in the ACK.
async fn wait_for_answer(events: &mut mpsc::UnboundedReceiver<UaEvent>, offer: &Sdp) -> Option<sdp::Negotiated> {
    let wait = tokio::time::timeout(Duration::from_secs(32), async {
        while let Some(event) = events.recv().await {
            match event {
                UaEvent::CallAcked { answer: Some(answer), .. } => return sdp::accept_answer(offer, &answer).ok(),
                UaEvent::CallAcked { answer: None, .. } | UaEvent::RemoteHangup { .. } | UaEvent::CallFailed { .. } => return None,
                _ => {}
            }
        }
        None
    });
    wait.await.ok().flatten()
}
