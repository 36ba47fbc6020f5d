//! One call's driver, from INVITE to the stored record: every decision is the [`CallMachine`]'s;
//! this task awaits the call's inputs (SIP events, media events, answers of work done elsewhere,
//! the machine's timer) and carries out its commands on the SIP stack, the media session, the
//! recognizer, the chart, the store and the alerts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use chrono::Utc;
use tokio::sync::mpsc;
use tracing::{Instrument, warn};

use super::CallServices;
use super::machine::{CallMachine, CallRules, CallStart, Command, DialogFactory, Input, LocalMedia};
use crate::ehr::PatientQuery;
use crate::ivr::Dialog;
use crate::media::{MediaEvent, MediaHandle, MediaSession};
use crate::metrics::CallOutcome;
use crate::sip::{CallId, Sdp, UaEvent};
use crate::speech::Priority;

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
    let outcome = async { Driver::new(services.clone(), call_id, incoming, sip_events).run().await }.instrument(span).await;
    services.metrics.active_calls.fetch_sub(1, Relaxed);
    services.metrics.call_ended(outcome);
}

struct Driver {
    services: Arc<CallServices>,
    machine: CallMachine,
    sip_events: mpsc::UnboundedReceiver<UaEvent>,
    /// The dispatcher still holds the other end of `sip_events`.
    sip_open: bool,
    /// Bound, until the call is answered and RTP starts.
    session: Option<MediaSession>,
    media: Option<MediaHandle>,
    media_events: Option<mpsc::UnboundedReceiver<MediaEvent>>,
    /// Answers of work done off the call task (chart lookups, recognition, the transcript).
    replies: (mpsc::UnboundedSender<Input>, mpsc::UnboundedReceiver<Input>),
    recording_path: std::path::PathBuf,
}

impl Driver {
    fn new(services: Arc<CallServices>, call_id: String, incoming: Incoming, sip_events: mpsc::UnboundedReceiver<UaEvent>) -> Self {
        let rules =
            CallRules { config: services.config.clone(), router: services.router.clone(), hours: services.hours.clone(), speech: services.asr.is_some(), transcripts: services.chart.is_some() };
        let start = CallStart {
            call_id: call_id.clone(),
            sip_call: incoming.call,
            from: incoming.from,
            to: incoming.to,
            offer: incoming.offer,
            fallback_reference: format!("{:06}", rand::random::<u32>() % 1_000_000),
            dialog: dialog_factory(&services, &call_id),
        };
        let recording_path = services.config.recordings_dir().join(format!("{call_id}.clrec"));
        Self {
            machine: CallMachine::new(rules, start, Instant::now(), Utc::now()),
            services,
            sip_events,
            sip_open: true,
            session: None,
            media: None,
            media_events: None,
            replies: mpsc::unbounded_channel(),
            recording_path,
        }
    }

    async fn run(mut self) -> CallOutcome {
        loop {
            while let Some(command) = self.machine.poll_command() {
                if let Some(input) = self.execute(command).await {
                    self.machine.handle(input, Instant::now());
                }
            }
            if let Some(outcome) = self.machine.finished() {
                return outcome;
            }
            let deadline = self.machine.poll_timeout().map(tokio::time::Instant::from_std);
            tokio::select! {
                Some(event) = next_media(&mut self.media_events) => self.machine.handle(Input::Media(event), Instant::now()),
                event = self.sip_events.recv(), if self.sip_open => self.sip(event),
                Some(reply) = self.replies.1.recv() => self.machine.handle(reply, Instant::now()),
                _ = sleep_until(deadline) => self.machine.handle_timeout(Instant::now()),
            }
        }
    }

    fn sip(&mut self, event: Option<UaEvent>) {
        match event {
            Some(event) => self.machine.handle(Input::Sip(event), Instant::now()),
            None => {
                self.sip_open = false;
                self.machine.handle(Input::SipClosed, Instant::now());
            }
        }
    }

    /// Carries out one command; returns the machine's answer when it is known at once.
    async fn execute(&mut self, command: Command) -> Option<Input> {
        let services = self.services.clone();
        match command {
            Command::BindMedia => {
                let bound = match MediaSession::bind(&services.ports, services.local_ip).await {
                    Ok(session) => {
                        let addr = SocketAddr::new(services.local_ip, session.local_port());
                        self.session = Some(session);
                        Some(LocalMedia { addr, srtp_master: rand::random(), session_id: rand::random::<u32>() as u64 })
                    }
                    Err(e) => {
                        warn!(error = %e, "cannot bind RTP");
                        None
                    }
                };
                // A CANCEL that came while binding is the machine's to see before it answers.
                while self.sip_open {
                    match self.sip_events.try_recv() {
                        Ok(event) => self.sip(Some(event)),
                        Err(mpsc::error::TryRecvError::Empty) => break,
                        Err(mpsc::error::TryRecvError::Disconnected) => self.sip(None),
                    }
                }
                return Some(Input::MediaBound(bound));
            }
            Command::Sip(command) => {
                let _ = services.sip.send(command);
            }
            Command::BeginCall => {
                let reference = services.store.begin_call(self.machine.record()).map_err(|e| warn!(error = %e, "cannot store the call: continuing, record kept in memory")).ok();
                return Some(Input::CallBegun { reference });
            }
            Command::StartMedia { params, srtp } => {
                let session = self.session.take().expect("RTP starts on the bound port").with_srtp(srtp);
                let (media, events) = session.start(params, &services.config.media, services.media_counters.clone());
                self.media = Some(media);
                self.media_events = Some(events);
            }
            Command::Play { prompts, tag, barge_in } => self.media().play(services.prompts.expand(&prompts), tag, barge_in),
            Command::StopPlayback => self.media().stop_playback(),
            Command::Listen(on) => self.media().listen(on),
            Command::SetHold(on_hold) => self.media().set_hold(on_hold),
            Command::Renegotiate { params, srtp } => self.media().renegotiate(params, srtp),
            Command::SipInfoDigit(digit) => self.media().sip_info_digit(digit),
            Command::StartRecording => {
                let key = services.store.keys().current(crate::store::keys::Purpose::Recordings).clone();
                self.media().start_recording(self.recording_path.clone(), key);
            }
            Command::StopRecording => {
                let (duration_ms, rms) = self.media().stop_recording().await.map(|i| (i.duration_ms, i.rms)).unwrap_or((0, 0.0));
                return Some(Input::RecordingStopped { duration_ms, rms });
            }
            Command::Recognize { audio, hints } => return Some(Input::RecognitionQueued { accepted: self.recognize(audio, &hints) }),
            Command::Lookup { birth_date } => {
                let reply = self.replies.0.clone();
                tokio::spawn(async move {
                    let found = services.ehr.find_patients(&PatientQuery { birth_date, phone: None, name: None }).await;
                    let _ = reply.send(Input::Candidates(found.map_err(|e| e.to_string())));
                });
            }
            Command::ChartSummary { patient_id } => {
                let reply = self.replies.0.clone();
                tokio::spawn(async move {
                    let summary = services.ehr.chart_summary(&patient_id).await;
                    let _ = reply.send(Input::Chart(summary.map_err(|e| e.to_string())));
                });
            }
            Command::Schedule(action) => {
                let reply = self.replies.0.clone();
                super::appointments::spawn(action, services.ehr.clone(), move |outcome| {
                    let _ = reply.send(Input::Schedule(outcome));
                });
            }
            Command::SaveProgress => {
                if let Err(e) = services.store.save_progress(self.machine.record()) {
                    warn!(error = %e, "cannot save call progress");
                }
            }
            Command::Audit { event, at } => {
                if let Err(e) = services.store.audit(&event, at) {
                    warn!(error = %e, "cannot audit the call");
                }
            }
            Command::RaiseAlerts { record, to } => super::alert::raise(services, &record, to),
            Command::CloseMedia => {
                let stats = match self.media.take() {
                    Some(media) => media.close().await,
                    None => Default::default(),
                };
                return Some(Input::MediaClosed(stats));
            }
            Command::ReadMessage => {
                let pcm = crate::store::recording::read_pcm(&self.recording_path, &services.store.keys());
                return Some(Input::MessageRead(pcm.map(|pcm| pcm.samples).map_err(|e| e.to_string())));
            }
            Command::Transcribe { audio, hints } => {
                let reply = self.replies.0.clone();
                tokio::spawn(async move {
                    let Some(chart) = &services.chart else { return };
                    let _ = reply.send(Input::Transcribed(chart.transcribe(audio, &hints).await));
                });
            }
            Command::Screen { text } => {
                let triage = services.triage.clone();
                let screening = tokio::task::spawn_blocking(move || triage.classify(&text)).await;
                return Some(Input::Screened(screening.map_err(|e| warn!(error = %e, "message screening failed")).ok()));
            }
            Command::FinishCall => match services.store.finish_call(self.machine.record()) {
                Ok(()) => tracing::info!(events = self.machine.record().events.len(), "call stored"),
                Err(e) => warn!(error = %e, "cannot store the finished call"),
            },
        }
        None
    }

    fn media(&self) -> &MediaHandle {
        self.media.as_ref().expect("media commands come once RTP runs")
    }

    /// Queues an utterance for the recognizer (the text comes back as `Input::Recognized`);
    /// `false` when its queue is full.
    fn recognize(&self, audio: Vec<i16>, hints: &[String]) -> bool {
        let Some(asr) = &self.services.asr else { return false };
        match asr.submit(audio, Priority::Interactive, hints) {
            Ok(pending) => {
                let reply = self.replies.0.clone();
                let queued_at = Instant::now();
                tokio::spawn(async move {
                    let heard = match pending.await {
                        Ok(Ok(transcript)) => Some((transcript.text, queued_at.elapsed().as_millis() as u64)),
                        Ok(Err(e)) => {
                            warn!(error = %e, "recognition failed");
                            None
                        }
                        Err(_) => None,
                    };
                    let _ = reply.send(Input::Recognized(heard));
                });
                true
            }
            Err(saturated) => {
                warn!(%saturated, "recognizer saturated");
                false
            }
        }
    }
}

/// The patient dialog of this call, built once it is answered.
fn dialog_factory(services: &Arc<CallServices>, call_id: &str) -> DialogFactory {
    let (services, call_id) = (services.clone(), call_id.to_string());
    Box::new(move |setup, started_at| {
        Dialog::new(services.config.ivr.clone(), setup, services.triage.clone(), |text, today| crate::speech::dates::parse_dates(text, today).unwrap_or_default())
            .with_scheduling(super::appointments::scheduling(&services, &call_id, started_at))
    })
}

async fn next_media(events: &mut Option<mpsc::UnboundedReceiver<MediaEvent>>) -> Option<MediaEvent> {
    match events {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
