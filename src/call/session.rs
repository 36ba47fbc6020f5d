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
use super::listener::{Heard, Listener};
use crate::ehr::{ChartSummary, PatientQuery};
use crate::ivr::{Action, CallSetup, Candidate, Dialog, Event};
use crate::media::{MediaEvent, MediaHandle, MediaParams, MediaSession};
use crate::metrics::CallOutcome;
use crate::sip::refer::TransferUpdate;
use crate::sip::sdp::{self, MediaCaps, SdpError};
use crate::sip::{CallId, Sdp, UaCommand, UaEvent};
use crate::speech::Priority;
use crate::speech::chart::ChartError;
use crate::store::audit::{AuditEvent, Outcome};
use crate::store::record::{self, CallEvent, CallRecord, MatchStatus, PatientMatch, RequestChoice};
use crate::triage::RequestType;
use crate::triage::routing::RouteInput;

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
    /// Answers of work done off the call task (chart lookups, recognition).
    replies: (mpsc::UnboundedSender<Reply>, mpsc::UnboundedReceiver<Reply>),
    listener: Listener,
    /// Words for the recognizer's prompt in the current speech turn.
    hints: Vec<String>,
    /// The prompt playing may be interrupted by the caller's voice.
    barge_in_playing: bool,
    /// The patient's own provider, once the chart summary is in (for routing).
    pcp: Option<String>,
    recording_path: std::path::PathBuf,
    /// The transfer target while a transfer runs.
    transfer: Option<String>,
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
        let caps = MediaCaps::default().with_srtp(services.config.media.srtp, rand::random());
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
        let srtp_suite = negotiated.srtp.map(|keys| keys.suite.name());
        let session = session.with_srtp(negotiated.srtp);
        info!(codec = ?params.codec, dtmf_pt = ?params.dtmf_pt, srtp = srtp_suite.unwrap_or("off"), "call answered");

        let mut record = CallRecord { call_id: call_id.clone(), started_at: Utc::now(), from: incoming.from, to: incoming.to, ..Default::default() };
        push_event(&mut record, "answered", serde_json::json!({ "sip_call_id": incoming.call.0, "codec": format!("{:?}", params.codec), "rfc4733": params.dtmf_pt.is_some(), "srtp": srtp_suite }));
        let reference = match services.store.begin_call(&record) {
            Ok(reference) => reference,
            Err(e) => {
                warn!(error = %e, "cannot store the call: continuing, record kept in memory");
                format!("{:06}", rand::random::<u32>() % 1_000_000)
            }
        };
        let (media, media_events) = session.start(params, &services.config.media, services.media_counters.clone());
        let now = Utc::now();
        record.after_hours = services.hours.is_after_hours(now);
        let setup = CallSetup {
            after_hours: record.after_hours,
            reference,
            caller_phone: caller_number(&record.from),
            speech: services.asr.is_some(),
            today: now.with_timezone(&services.hours.time_zone()).date_naive(),
        };
        let dialog = Dialog::new(services.config.ivr.clone(), setup, services.triage.clone(), |text, today| crate::speech::dates::parse_dates(text, today).unwrap_or_default())
            .with_scheduling(super::appointments::scheduling(&services, &call_id));
        let recording_path = services.config.recordings_dir().join(format!("{call_id}.clrec"));
        let listener = Listener::new(&services.config.speech.vad);
        let call = Call {
            services,
            sip_call: incoming.call,
            record,
            media,
            dialog,
            sip_events,
            replies: mpsc::unbounded_channel(),
            listener,
            hints: Vec::new(),
            barge_in_playing: false,
            pcp: None,
            recording_path,
            transfer: None,
        };
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
                    MediaEvent::PlaybackFinished { tag, interrupted } => {
                        self.barge_in_playing = false;
                        self.dialog.handle(Event::PromptFinished { tag, interrupted }, Instant::now());
                    }
                    MediaEvent::Audio(frame) => self.heard(&frame),
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
                    Some(UaEvent::MediaChanged { on_hold, media, .. }) => {
                        push_event(&mut self.record, if on_hold { "hold" } else { "unhold" }, serde_json::json!({}));
                        self.media.set_hold(on_hold);
                        if let Some(n) = media {
                            push_event(&mut self.record, "media_renegotiated", serde_json::json!({ "codec": format!("{:?}", n.codec), "rfc4733": n.dtmf_pt.is_some(), "srtp": n.srtp.map(|k| k.suite.name()) }));
                            self.media.renegotiate(MediaParams { remote: n.remote_rtp, codec: n.codec, dtmf_pt: n.dtmf_pt, ptime_ms: n.ptime_ms }, n.srtp);
                        }
                    }
                    Some(UaEvent::DtmfInfo { digit, .. }) => self.media.sip_info_digit(digit),
                    Some(UaEvent::Transfer { update, .. }) => self.transfer_update(update),
                    Some(_) => {}
                },
                Some(reply) = self.replies.1.recv() => self.reply(reply),
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
                Action::Play { prompts, barge_in, tag } => {
                    self.barge_in_playing = barge_in;
                    self.media.play(self.services.prompts.expand(&prompts), tag, barge_in);
                }
                Action::Listen { hints } => {
                    self.hints = hints;
                    self.listener.listen();
                }
                Action::StopListening => self.listener.stop(),
                Action::StartRecording => {
                    self.media.start_recording(self.recording_path.clone(), self.services.store.keys().current(crate::store::keys::Purpose::Recordings).clone());
                    self.record.recording = Some(format!("recordings/{}.clrec", self.record.call_id));
                    // Each sentence is recognised and screened as it is said.
                    if self.services.asr.is_some() {
                        self.hints.clear();
                        self.listener.listen();
                    }
                }
                Action::StopRecording => {
                    self.listener.stop();
                    let (duration_ms, rms) = self.media.stop_recording().await.map(|i| (i.duration_ms, i.rms)).unwrap_or((0, 0.0));
                    self.dialog.handle(Event::RecordingStopped { duration_ms, rms }, Instant::now());
                }
                Action::Lookup { birth_date } => {
                    let (ehr, reply) = (self.services.ehr.clone(), self.replies.0.clone());
                    tokio::spawn(async move {
                        let found = ehr.find_patients(&PatientQuery { birth_date, phone: None, name: None }).await;
                        let _ = reply.send(Reply::Candidates(found.map_err(|e| e.to_string())));
                    });
                }
                Action::ChartSummary { patient_id } => {
                    let (ehr, reply) = (self.services.ehr.clone(), self.replies.0.clone());
                    tokio::spawn(async move {
                        let summary = ehr.chart_summary(&patient_id).await;
                        let _ = reply.send(Reply::Chart(summary.map_err(|e| e.to_string())));
                    });
                }
                Action::AlertOnCall => {
                    // The outbound alert call to the on-call provider is placed by the provider
                    // side (issue 5); the record says it is owed.
                    self.record.routing.on_call = true;
                    push_event(&mut self.record, "on_call_alert", serde_json::json!({ "status": "pending" }));
                    super::alert::during_call(&self.services, &mut self.record);
                }
                Action::Transfer { target, timeout } => {
                    info!(%target, "transfer by REFER");
                    self.transfer = Some(target.clone());
                    let _ = self.services.sip.send(UaCommand::Transfer { call: self.sip_call.clone(), target, timeout });
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
                    add_red_flags(&mut self.record, red_flags);
                }
                action @ (Action::FindSlots(_) | Action::Book(_) | Action::ListAppointments { .. } | Action::Cancel { .. }) => {
                    let reply = self.replies.0.clone();
                    super::appointments::spawn(action, self.services.ehr.clone(), move |outcome| {
                        let _ = reply.send(Reply::Schedule(outcome));
                    });
                }
                Action::Note { key, value } => {
                    tracing::debug!(key, value, "follow-up note");
                    push_event(&mut self.record, "note", serde_json::json!({ "key": key, "value": value }));
                }
            }
        }
        self.media.listen(self.listener.wants_audio());
        if changed && let Err(e) = self.services.store.save_progress(&self.record) {
            warn!(error = %e, "cannot save call progress");
        }
    }

    /// A frame of the caller's audio while listening.
    fn heard(&mut self, frame: &[i16]) {
        match self.listener.frame(frame, Instant::now()) {
            Some(Heard::Started) => {
                tracing::debug!(barge_in = self.barge_in_playing, "speech started");
                if self.barge_in_playing && self.dialog.voice_barge_in() {
                    self.media.stop_playback();
                }
                self.dialog.handle(Event::SpeechStarted, Instant::now());
            }
            Some(Heard::Utterance(audio)) => {
                tracing::debug!(ms = audio.len() / 8, "utterance ended");
                self.recognize(audio);
                self.dialog.handle(Event::SpeechEnded, Instant::now());
            }
            None => {}
        }
    }

    /// Sends an utterance to the recognizer; the text comes back as a `Reply::Speech`. A full
    /// queue tells the dialog at once, so the caller is moved to the keypad instead of waiting.
    fn recognize(&mut self, audio: Vec<i16>) {
        let Some(asr) = &self.services.asr else { return self.dialog.handle(Event::SpeechUnavailable, Instant::now()) };
        match asr.submit(audio, Priority::Interactive, &self.hints) {
            Ok(pending) => {
                let reply = self.replies.0.clone();
                // The utterance ended one trailing silence before the endpointer said so.
                let ended_ms = self.services.config.speech.vad.trailing_silence_ms;
                let heard_at = Instant::now();
                tokio::spawn(async move {
                    let heard = match pending.await {
                        Ok(Ok(transcript)) => Some((transcript.text, ended_ms + heard_at.elapsed().as_millis() as u64)),
                        Ok(Err(e)) => {
                            warn!(error = %e, "recognition failed");
                            None
                        }
                        Err(_) => None,
                    };
                    let _ = reply.send(Reply::Speech(heard));
                });
            }
            Err(saturated) => {
                warn!(%saturated, "recognizer saturated: keypad from here on");
                push_event(&mut self.record, "asr_saturated", serde_json::json!({}));
                self.dialog.handle(Event::SpeechUnavailable, Instant::now());
            }
        }
    }

    /// How the transfer goes: progress on the timeline; the outcome to the dialog (which decides
    /// what the caller hears), the record and the audit trail.
    fn transfer_update(&mut self, update: TransferUpdate) {
        let (kind, failure) = match &update {
            TransferUpdate::Accepted { status } => return push_event(&mut self.record, "transfer_accepted", serde_json::json!({ "status": status })),
            TransferUpdate::Progress { status } => return push_event(&mut self.record, "transfer_progress", serde_json::json!({ "status": status })),
            TransferUpdate::Succeeded { status } => {
                push_event(&mut self.record, "transfer_connected", serde_json::json!({ "status": status }));
                self.record.outcome = Some(record::CallOutcome::Transferred);
                (Event::TransferSucceeded, None)
            }
            TransferUpdate::Failed { reason } => {
                warn!(%reason, "transfer failed: the caller hears the 911 prompt");
                (Event::TransferFailed { reason: reason.to_string() }, Some(reason.to_string()))
            }
        };
        let target = self.transfer.take().unwrap_or_default();
        let event = AuditEvent {
            who: "chartline".into(),
            role: "system".into(),
            action: "emergency_transfer".into(),
            outcome: Some(if failure.is_none() { Outcome::Success } else { Outcome::Failure }),
            patient: self.record.patient.id.clone().unwrap_or_default(),
            source: "phone".into(),
            object: self.record.call_id.clone(),
            detail: match &failure {
                None => format!("to {target}: connected"),
                Some(reason) => format!("to {target}: {reason}"),
            },
        };
        if let Err(e) = self.services.store.audit(&event, Utc::now()) {
            warn!(error = %e, "cannot audit the transfer");
        }
        self.dialog.handle(kind, Instant::now());
    }

    fn reply(&mut self, reply: Reply) {
        let now = Instant::now();
        match reply {
            Reply::Speech(Some((text, after_end_ms))) => {
                tracing::debug!(%text, "heard");
                push_event(&mut self.record, "utterance_recognized", serde_json::json!({ "after_end_ms": after_end_ms }));
                self.dialog.handle(Event::Speech { text }, now);
            }
            Reply::Speech(None) => self.dialog.handle(Event::SpeechUnavailable, now),
            Reply::Candidates(found) => {
                let found = found.unwrap_or_else(|e| {
                    warn!(error = %e, "chart lookup failed: the caller goes on unidentified");
                    push_event(&mut self.record, "ehr_error", serde_json::json!({ "during": "lookup" }));
                    Vec::new()
                });
                let candidates = found.into_iter().map(|p| Candidate { id: p.id, given: p.given, family: p.family, phone: p.phone }).collect();
                self.dialog.handle(Event::Candidates(candidates), now);
            }
            Reply::Schedule(outcome) => {
                push_event(&mut self.record, outcome.kind, outcome.detail);
                self.dialog.handle(outcome.event, now);
            }
            Reply::Chart(summary) => match summary {
                Ok(summary) => {
                    self.dialog.handle(Event::OwnProvider(summary.pcp.as_ref().map(|p| p.id.clone())), now);
                    self.pcp = summary.pcp.map(|p| format!("Practitioner/{}", p.id));
                    self.dialog.handle(Event::Medications(summary.medications.into_iter().map(|m| m.name).collect()), now);
                }
                Err(e) => {
                    warn!(error = %e, "chart summary failed");
                    push_event(&mut self.record, "ehr_error", serde_json::json!({ "during": "chart_summary" }));
                    self.dialog.handle(Event::Medications(Vec::new()), now);
                }
            },
        }
    }

    async fn finish(mut self) {
        let stats = self.media.close().await;
        self.record.ended_at = Some(Utc::now());
        if self.record.patient.status == MatchStatus::NotGiven && self.record.patient.birth_date.is_some() {
            self.record.patient.status = MatchStatus::NotFound;
        }
        let tenths = |ms: f64| (ms * 10.0).round() / 10.0;
        push_event(
            &mut self.record,
            "ended",
            serde_json::json!({
                "rtp_in": stats.packets_in, "rtp_out": stats.packets_out, "lost": stats.lost, "send_jitter_p99_us": stats.send_jitter_p99_us,
                "jitter_ms": tenths(stats.jitter_ms), "rtcp_in": stats.rtcp_in, "far_end_reports": stats.far_end_reports,
                "far_end_lost": stats.far_end_lost, "far_end_jitter_ms": tenths(stats.far_end_jitter_ms), "rtt_ms": stats.rtt_ms.map(tenths),
            }),
        );
        // An alert the call already owes goes out now: transcribing the message can take a while
        // (longer when other calls' messages wait for the recogniser).
        self.route();
        let alerted_early = super::alert::wanted(&self.services, &self.record);
        if alerted_early {
            super::alert::spawn(self.services.clone(), &self.record);
        }
        self.transcribe_message().await;
        self.route();
        match self.services.store.finish_call(&self.record) {
            Ok(()) => info!(events = self.record.events.len(), "call stored"),
            Err(e) => warn!(error = %e, "cannot store the finished call"),
        }
        // The message itself can make the call urgent.
        if !alerted_early && super::alert::wanted(&self.services, &self.record) {
            super::alert::spawn(self.services.clone(), &self.record);
        }
    }

    /// Routes the call on what is known of it now (an urgent call keeps its on-call routing).
    fn route(&mut self) {
        let request = self.record.request.as_ref().and_then(|r| RequestType::from_name(&r.kind)).unwrap_or(RequestType::Provider);
        let alerted = self.record.routing.on_call;
        let input = RouteInput { request, urgent: self.record.urgent, dialed: &self.record.to, care_team: self.pcp.as_deref(), at: self.record.started_at };
        self.record.routing = self.services.router.route(&input);
        self.record.routing.on_call |= alerted;
    }

    /// Transcribes the recorded message (behind interactive turns) and screens it for red flags: a
    /// message that describes an emergency or an urgent symptom makes the call urgent even if the
    /// caller never said so to a question.
    async fn transcribe_message(&mut self) {
        let (Some(chart), Some(_)) = (&self.services.chart, &self.record.recording) else { return };
        let audio = match crate::store::recording::read_pcm(&self.recording_path, &self.services.store.keys()) {
            Ok(pcm) => pcm.samples,
            Err(e) => return warn!(error = %e, "cannot read the recording to transcribe it"),
        };
        if audio.len() < 8000 / 2 {
            return;
        }
        let started = Instant::now();
        let transcript = match tokio::time::timeout(Duration::from_secs(300), chart.transcribe(audio, &self.hints)).await {
            Ok(Ok(transcript)) => transcript,
            Ok(Err(ChartError::Saturated(_))) => return push_event(&mut self.record, "transcription_failed", serde_json::json!({ "reason": "saturated" })),
            _ => return push_event(&mut self.record, "transcription_failed", serde_json::json!({})),
        };
        self.record.transcript_model = Some(transcript.model.clone());
        self.record.transcript_language = Some(transcript.language.clone());
        // The whole message can be long: classified off the call task's thread.
        let (triage, text) = (self.services.triage.clone(), transcript.text.clone());
        let screening = match tokio::task::spawn_blocking(move || triage.classify(&text)).await {
            Ok(screening) => screening,
            Err(e) => {
                warn!(error = %e, "message screening failed: the transcript is kept unscreened");
                push_event(&mut self.record, "message_screening_failed", serde_json::json!({}));
                self.record.transcript = Some(transcript.text).filter(|t| !t.is_empty());
                return;
            }
        };
        push_event(&mut self.record, "message_transcribed", serde_json::json!({ "ms": started.elapsed().as_millis() as u64, "emergency": screening.is_emergency(), "model": transcript.model }));
        if screening.severity.is_some() && !self.record.urgent {
            self.record.urgent = true;
            let kind = if screening.is_emergency() { "message_emergency" } else { "message_urgent" };
            push_event(&mut self.record, kind, serde_json::json!({ "red_flags": screening.red_flag_ids() }));
        }
        add_red_flags(&mut self.record, screening.red_flag_ids());
        self.record.transcript = Some(transcript.text).filter(|t| !t.is_empty());
    }
}

/// Work done off the call task, answered back to it.
enum Reply {
    /// What the caller said and how long after the end of speech it was known; `None` when
    /// recognition failed.
    Speech(Option<(String, u64)>),
    Candidates(Result<Vec<crate::ehr::PatientSummary>, String>),
    Chart(Result<ChartSummary, String>),
    /// A chart answer to the appointment dialog.
    Schedule(super::appointments::Outcome),
}

/// Adds red flags to the record once each.
fn add_red_flags(record: &mut CallRecord, flags: Vec<String>) {
    for flag in flags {
        if !record.red_flags.contains(&flag) {
            record.red_flags.push(flag);
        }
    }
}

/// The caller's number from a From URI (`sip:+15551234567@host` → `+15551234567`).
pub(super) fn caller_number(from: &str) -> Option<String> {
    crate::phone::caller(from).map(str::to_string)
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
