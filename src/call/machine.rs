//! One inbound call as a pure state machine: what to do on every SIP event, media event, answer
//! of work done elsewhere (chart lookups, recognition, the store) and timer, from the INVITE to
//! the stored record. Inputs come in with the time (`handle`, `handle_timeout`), commands come out
//! (`poll_command`), and the call record is part of the state; the driver (`session`) owns the
//! sockets, tasks and the store and does nothing but carry commands out and feed back inputs.
//!
//! The phases: binding an RTP port (no port: 503), negotiating the offer (no common codec or an
//! unusable offer: 488), ringing (a CANCEL ends it), answering (an offerless INVITE waits for the
//! answer in the ACK), the dialog with the caller (`ivr::Dialog` decides what the caller hears), and
//! the wrap-up once the call is over: media statistics, routing, alerts owed, the recorded message
//! transcribed and screened for red flags, the record stored. docs/architecture.md shows the data
//! flow and how a new call feature (a transfer, a bridge) plugs in.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use super::CallConfig;
use super::appointments;
use super::listener::{Heard, Listener};
use crate::ehr::{ChartSummary, PatientSummary};
use crate::ivr::{Action, CallSetup, Candidate, Dialog, Event};
use crate::media::{MediaEvent, MediaParams, MediaStats, PromptItem};
use crate::metrics::CallOutcome;
use crate::oncall::recipients::Recipients;
use crate::sip::refer::TransferUpdate;
use crate::sip::sdes::{MASTER_LEN, SrtpKeys};
use crate::sip::sdp::{self, MediaCaps, Negotiated, SdpError};
use crate::sip::{CallId, Sdp, UaCommand, UaEvent};
use crate::speech::chart::{ChartError, ChartTranscript};
use crate::store::audit::{AuditEvent, Outcome};
use crate::store::record::{self, CallEvent, CallRecord, MatchStatus, PatientMatch, RequestChoice};
use crate::triage::Classification;
use crate::triage::RequestType;
use crate::triage::hours::PracticeHours;
use crate::triage::routing::{RouteInput, Router};

/// How long an offerless call waits for the answer in the ACK (64·T1, RFC 3261 §13.3.1.4).
const ACK_TIMEOUT: Duration = Duration::from_secs(32);
/// How long the message transcription may take (it waits behind live turns on a busy server).
const TRANSCRIBE_TIMEOUT: Duration = Duration::from_secs(300);
/// A message shorter than this (8 kHz samples, half a second) is not worth transcribing.
const MIN_MESSAGE_SAMPLES: usize = 8000 / 2;

/// What the machine decides by: the configuration and the parts of the server it asks nothing of.
pub struct CallRules {
    pub config: Arc<CallConfig>,
    pub router: Arc<Router>,
    pub hours: PracticeHours,
    /// Live recognition is available (else the caller uses the keypad).
    pub speech: bool,
    /// A chart transcriber writes the message transcript after the call.
    pub transcripts: bool,
}

/// Builds the dialog once the call is answered and stored (the setup holds its reference number),
/// given the wall clock then.
pub type DialogFactory = Box<dyn FnOnce(CallSetup, DateTime<Utc>) -> Dialog + Send>;

/// A new inbound call.
pub struct CallStart {
    /// Our id of the call (the record's).
    pub call_id: String,
    pub sip_call: CallId,
    pub from: String,
    pub to: String,
    pub offer: Option<Sdp>,
    /// The reference read to the caller when the store cannot give one.
    pub fallback_reference: String,
    pub dialog: DialogFactory,
}

/// The RTP port pair bound for the call, and the random parts of our SDP.
#[derive(Debug, Clone, Copy)]
pub struct LocalMedia {
    pub addr: SocketAddr,
    pub srtp_master: [u8; MASTER_LEN],
    pub session_id: u64,
}

/// What happens to the call.
#[derive(Debug)]
pub enum Input {
    /// The answer to `Command::BindMedia`; `None` when no RTP port is free.
    MediaBound(Option<LocalMedia>),
    /// The answer to `Command::BeginCall`: the reference the store gave the call, `None` when the
    /// store failed (the record is kept in memory and stored at the end).
    CallBegun {
        reference: Option<String>,
    },
    /// An event of the call's SIP dialog (an event of another leg is not this call's).
    Sip(UaEvent),
    /// The dispatcher dropped the call's event stream: a CANCEL before the answer, or gone.
    SipClosed,
    Media(MediaEvent),
    /// The answer to `Command::StopRecording`.
    RecordingStopped {
        duration_ms: u64,
        rms: f32,
    },
    /// The immediate answer to `Command::Recognize`: `false` when the recognizer's queue is full.
    RecognitionQueued {
        accepted: bool,
    },
    /// What the caller said and how long the recognizer took; `None` when recognition failed.
    Recognized(Option<(String, u64)>),
    Candidates(Result<Vec<PatientSummary>, String>),
    Chart(Result<ChartSummary, String>),
    /// A chart answer to the appointment dialog.
    Schedule(appointments::Outcome),
    /// The answer to `Command::CloseMedia`.
    MediaClosed(MediaStats),
    /// The answer to `Command::ReadMessage`: the message's 8 kHz samples.
    MessageRead(Result<Vec<i16>, String>),
    /// The answer to `Command::Transcribe`.
    Transcribed(Result<ChartTranscript, ChartError>),
    /// The answer to `Command::Screen`; `None` when screening failed.
    Screened(Option<Classification>),
}

/// What the driver does. Those that say "answer with" expect that input back.
#[derive(Debug)]
pub enum Command {
    /// Bind an RTP/RTCP port pair; answer with `Input::MediaBound`.
    BindMedia,
    /// Send to the SIP stack (the call's own leg, or any leg a feature placed).
    Sip(UaCommand),
    /// Store the new call (the record as it is); answer with `Input::CallBegun`.
    BeginCall,
    /// Start RTP on the bound port.
    StartMedia {
        params: MediaParams,
        srtp: Option<SrtpKeys>,
    },
    Play {
        prompts: Vec<PromptItem>,
        tag: u64,
        barge_in: bool,
    },
    StopPlayback,
    /// Forward (or stop forwarding) the caller's audio frames as `MediaEvent::Audio`.
    Listen(bool),
    SetHold(bool),
    Renegotiate {
        params: MediaParams,
        srtp: Option<SrtpKeys>,
    },
    /// A digit that came by SIP INFO, for the media session's DTMF de-duplication.
    SipInfoDigit(char),
    /// Record the caller into the call's sealed recording file.
    StartRecording,
    /// Answer with `Input::RecordingStopped`.
    StopRecording,
    /// Recognize an utterance; answer at once with `Input::RecognitionQueued`, later with
    /// `Input::Recognized`.
    Recognize {
        audio: Vec<i16>,
        hints: Vec<String>,
    },
    /// Find the charts with this birth date; answer with `Input::Candidates`.
    Lookup {
        birth_date: chrono::NaiveDate,
    },
    /// Answer with `Input::Chart`.
    ChartSummary {
        patient_id: String,
    },
    /// A scheduling request of the dialog; answer with `Input::Schedule`.
    Schedule(Action),
    /// Save the record as it is (a checkpoint a crash does not lose).
    SaveProgress,
    Audit {
        event: AuditEvent,
        at: DateTime<Utc>,
    },
    /// Raise these alerts for the call as it is in `record`.
    RaiseAlerts {
        record: Box<CallRecord>,
        to: Recipients,
    },
    /// End the RTP session; answer with `Input::MediaClosed`.
    CloseMedia,
    /// Read the recorded message; answer with `Input::MessageRead`.
    ReadMessage,
    /// Transcribe the message for the chart; answer with `Input::Transcribed`.
    Transcribe {
        audio: Vec<i16>,
        hints: Vec<String>,
    },
    /// Screen the transcript (triage, red flags); answer with `Input::Screened`.
    Screen {
        text: String,
    },
    /// Store the finished record (the outbox row for the chart goes with it).
    FinishCall,
}

/// The answer we send, kept while the call rings.
struct Answer {
    sdp: Sdp,
    /// `None` for an offerless INVITE (ours is the offer; the answer comes in the ACK).
    negotiated: Option<Negotiated>,
}

enum Phase {
    Binding,
    Ringing {
        answer: Answer,
        until: Instant,
    },
    AwaitingAck {
        offer: Sdp,
        until: Instant,
    },
    /// Answered; the store is asked for the call's reference.
    Storing {
        negotiated: Negotiated,
    },
    /// The dialog with the caller.
    Running {
        max_until: Instant,
    },
    /// The call is over: the dialog's last actions, then the hangup owed, then closing media.
    Ending {
        hangup: bool,
    },
    Closing,
    ReadingMessage,
    Transcribing {
        until: Instant,
        started: Instant,
    },
    Screening {
        transcript: ChartTranscript,
        started: Instant,
    },
    Done,
}

/// The per-call reducer.
pub struct CallMachine {
    rules: CallRules,
    sip_call: CallId,
    phase: Phase,
    record: CallRecord,
    /// The wall clock at `origin`: an instant's wall time is derived from it, so the record's
    /// timestamps follow the simulated time in tests.
    origin: (Instant, DateTime<Utc>),
    now: Instant,
    commands: std::collections::VecDeque<Command>,
    offer: Option<Sdp>,
    local: Option<LocalMedia>,
    fallback_reference: String,
    dialog_factory: Option<DialogFactory>,
    dialog: Option<Dialog>,
    listener: Listener,
    /// The last `Command::Listen` sent.
    listening: bool,
    /// The dialog asked for something since the last checkpoint.
    changed: bool,
    /// Words for the recognizer's prompt in the current speech turn.
    hints: Vec<String>,
    /// The prompt playing may be interrupted by the caller's voice.
    barge_in_playing: bool,
    /// An utterance went to the recognizer; the dialog hears that speech ended once it is queued.
    speech_ended_pending: bool,
    /// The patient's own provider, once the chart summary is in (for routing).
    pcp: Option<String>,
    /// The transfer target while a transfer runs.
    transfer: Option<String>,
    /// The dispatcher dropped the call's events (a CANCEL).
    sip_closed: bool,
    alerted_early: bool,
    outcome: Option<CallOutcome>,
}

impl CallMachine {
    /// A new call; its first command binds the RTP port.
    pub fn new(rules: CallRules, start: CallStart, now: Instant, wall: DateTime<Utc>) -> Self {
        let listener = Listener::new(&rules.config.speech.vad);
        let record = CallRecord { call_id: start.call_id, from: start.from, to: start.to, started_at: wall, ..Default::default() };
        Self {
            rules,
            sip_call: start.sip_call,
            phase: Phase::Binding,
            record,
            origin: (now, wall),
            now,
            commands: [Command::BindMedia].into(),
            offer: start.offer,
            local: None,
            fallback_reference: start.fallback_reference,
            dialog_factory: Some(start.dialog),
            dialog: None,
            listener,
            listening: false,
            changed: false,
            hints: Vec::new(),
            barge_in_playing: false,
            speech_ended_pending: false,
            pcp: None,
            transfer: None,
            sip_closed: false,
            alerted_early: false,
            outcome: None,
        }
    }

    pub fn record(&self) -> &CallRecord {
        &self.record
    }

    /// How the call ended, once it is over and stored.
    pub fn finished(&self) -> Option<CallOutcome> {
        matches!(self.phase, Phase::Done).then(|| self.outcome.unwrap_or(CallOutcome::Completed))
    }

    /// The next thing for the driver to do. The dialog's actions are taken one at a time, so that
    /// an answer the driver gives at once (`StopRecording`) reaches the dialog before its next one.
    pub fn poll_command(&mut self) -> Option<Command> {
        loop {
            if let Some(command) = self.commands.pop_front() {
                return Some(command);
            }
            if !matches!(self.phase, Phase::Running { .. } | Phase::Ending { .. }) {
                return None;
            }
            if let Some(action) = self.dialog.as_mut().and_then(Dialog::poll_action) {
                self.changed = true;
                self.apply(action);
                continue;
            }
            if self.listener.wants_audio() != self.listening {
                self.listening = self.listener.wants_audio();
                self.commands.push_back(Command::Listen(self.listening));
            }
            if std::mem::take(&mut self.changed) {
                self.commands.push_back(Command::SaveProgress);
            }
            match self.phase {
                Phase::Running { .. } if self.dialog.as_ref().is_some_and(Dialog::is_done) => self.end(CallOutcome::Completed, false),
                Phase::Ending { hangup } => {
                    if hangup {
                        self.sip(|call| UaCommand::Hangup { call });
                    }
                    self.commands.push_back(Command::CloseMedia);
                    self.phase = Phase::Closing;
                }
                _ if self.commands.is_empty() => return None,
                _ => {}
            }
        }
    }

    /// When `handle_timeout` is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Ringing { until, .. } | Phase::AwaitingAck { until, .. } | Phase::Transcribing { until, .. } => Some(*until),
            Phase::Running { max_until } => Some(self.dialog.as_ref().and_then(Dialog::poll_timeout).map_or(*max_until, |at| at.min(*max_until))),
            _ => None,
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        match &self.phase {
            Phase::Ringing { until, .. } if now >= *until => {
                let Phase::Ringing { answer, .. } = std::mem::replace(&mut self.phase, Phase::Done) else { unreachable!() };
                self.answer(answer);
            }
            Phase::AwaitingAck { until, .. } if now >= *until => {
                info!("no answer in the ACK: hanging up");
                self.give_up_unanswered();
            }
            Phase::Running { max_until } if now >= *max_until => {
                self.push_event("max_duration", serde_json::json!({}));
                self.dialog_event(Event::Hangup);
                self.end(CallOutcome::Failed, true);
            }
            Phase::Running { .. } => {
                if let Some(dialog) = self.dialog.as_mut().filter(|d| d.poll_timeout().is_some_and(|at| now >= at)) {
                    dialog.handle_timeout(now);
                }
            }
            Phase::Transcribing { until, .. } if now >= *until => {
                warn!("message transcription timed out");
                self.push_event("transcription_failed", serde_json::json!({}));
                self.conclude();
            }
            _ => {}
        }
    }

    pub fn handle(&mut self, input: Input, now: Instant) {
        self.now = now;
        match input {
            Input::MediaBound(local) => self.media_bound(local),
            Input::CallBegun { reference } => self.call_begun(reference),
            Input::SipClosed => self.sip_closed(),
            Input::Sip(event) if event.call() == &self.sip_call => self.sip_event(event),
            Input::Sip(_) => {}
            Input::MediaClosed(stats) => self.media_closed(stats),
            Input::MessageRead(audio) => self.message_read(audio),
            Input::Transcribed(transcript) => self.transcribed(transcript),
            Input::Screened(screening) => self.screened(screening),
            // The rest is about the dialog with the caller: once the call is over, only the answers
            // the driver gives at once to the dialog's last actions (`StopRecording`) still count.
            _ if !matches!(self.phase, Phase::Running { .. } | Phase::Ending { .. }) => {}
            Input::Media(event) => self.media_event(event),
            Input::RecordingStopped { duration_ms, rms } => self.dialog_event(Event::RecordingStopped { duration_ms, rms }),
            Input::RecognitionQueued { accepted } => self.recognition_queued(accepted),
            Input::Recognized(heard) => self.recognized(heard),
            Input::Candidates(found) => self.candidates(found),
            Input::Chart(summary) => self.chart(summary),
            Input::Schedule(outcome) => {
                self.push_event(outcome.kind, outcome.detail);
                self.dialog_event(outcome.event);
            }
        }
    }

    // The answer phase.

    fn media_bound(&mut self, local: Option<LocalMedia>) {
        if !matches!(self.phase, Phase::Binding) {
            return;
        }
        let Some(local) = local else {
            warn!("no RTP port: rejecting");
            return self.reject(503, "Service Unavailable", None, Some(5));
        };
        self.local = Some(local);
        let caps = MediaCaps::default().with_srtp(self.rules.config.media.srtp, local.srtp_master);
        let answer = match &self.offer {
            Some(offer) => match sdp::negotiate(offer, &caps, local.addr, local.session_id) {
                Ok(n) => Answer { sdp: n.answer.clone(), negotiated: Some(n) },
                Err(SdpError::NoCommonCodec) => {
                    info!("no common codec: 488");
                    return self.reject(488, "Not Acceptable Here", Some("Incompatible media format: PCMU or PCMA required".into()), None);
                }
                Err(e) => {
                    info!(error = %e, "unusable offer: 488");
                    return self.reject(488, "Not Acceptable Here", Some(e.to_string()), None);
                }
            },
            None => Answer { sdp: sdp::make_offer(&caps, local.addr, local.session_id), negotiated: None },
        };
        let ring_ms = self.rules.config.calls.ring_ms;
        if ring_ms == 0 {
            return self.answer(answer);
        }
        self.sip(|call| UaCommand::Ringing { call });
        if self.sip_closed {
            return self.cancelled("cancelled while ringing");
        }
        self.phase = Phase::Ringing { answer, until: self.now + Duration::from_millis(ring_ms) };
    }

    fn reject(&mut self, status: u16, reason: &str, warning: Option<String>, retry_after: Option<u32>) {
        let reason = reason.to_string();
        self.sip(|call| UaCommand::Reject { call, status, reason, warning, retry_after });
        self.outcome = Some(CallOutcome::Rejected);
        self.phase = Phase::Done;
    }

    fn cancelled(&mut self, why: &'static str) {
        info!("{why}");
        self.outcome = Some(CallOutcome::Cancelled);
        self.phase = Phase::Done;
    }

    fn answer(&mut self, answer: Answer) {
        if self.sip_closed {
            return self.cancelled("cancelled before answer");
        }
        let (sdp, offerless) = (answer.sdp.clone(), answer.negotiated.is_none());
        self.sip(|call| UaCommand::Answer { call, sdp, offerless });
        match answer.negotiated {
            Some(negotiated) => self.answered(negotiated),
            None => self.phase = Phase::AwaitingAck { offer: answer.sdp, until: self.now + ACK_TIMEOUT },
        }
    }

    fn give_up_unanswered(&mut self) {
        self.sip(|call| UaCommand::Hangup { call });
        self.outcome = Some(CallOutcome::Failed);
        self.phase = Phase::Done;
    }

    fn answered(&mut self, negotiated: Negotiated) {
        let srtp = negotiated.srtp.map(|keys| keys.suite.name());
        info!(codec = ?negotiated.codec, dtmf_pt = ?negotiated.dtmf_pt, srtp = srtp.unwrap_or("off"), "call answered");
        self.record.started_at = self.wall();
        let sip_call_id = self.sip_call.0.clone();
        self.push_event("answered", serde_json::json!({ "sip_call_id": sip_call_id, "codec": format!("{:?}", negotiated.codec), "rfc4733": negotiated.dtmf_pt.is_some(), "srtp": srtp }));
        self.commands.push_back(Command::BeginCall);
        self.phase = Phase::Storing { negotiated };
    }

    fn call_begun(&mut self, reference: Option<String>) {
        if !matches!(self.phase, Phase::Storing { .. }) {
            return;
        }
        let Phase::Storing { negotiated } = std::mem::replace(&mut self.phase, Phase::Done) else { unreachable!() };
        let reference = reference.unwrap_or_else(|| std::mem::take(&mut self.fallback_reference));
        self.commands.push_back(Command::StartMedia { params: media_params(&negotiated), srtp: negotiated.srtp });
        let wall = self.wall();
        self.record.after_hours = self.rules.hours.is_after_hours(wall);
        let setup = CallSetup {
            after_hours: self.record.after_hours,
            reference,
            caller_phone: crate::phone::caller(&self.record.from).map(str::to_string),
            speech: self.rules.speech,
            today: wall.with_timezone(&self.rules.hours.time_zone()).date_naive(),
        };
        let factory = self.dialog_factory.take().expect("the dialog is built once");
        let mut dialog = factory(setup, wall);
        dialog.start(self.now);
        self.dialog = Some(dialog);
        self.phase = Phase::Running { max_until: self.now + Duration::from_secs(self.rules.config.calls.max_duration_s) };
    }

    // SIP and media during the call.

    fn sip_closed(&mut self) {
        self.sip_closed = true;
        match self.phase {
            Phase::Ringing { .. } => self.cancelled("cancelled while ringing"),
            Phase::AwaitingAck { .. } => self.give_up_unanswered(),
            Phase::Running { .. } => {
                self.dialog_event(Event::Hangup);
                self.end(CallOutcome::CallerHungUp, false);
            }
            _ => {}
        }
    }

    fn sip_event(&mut self, event: UaEvent) {
        if let Phase::AwaitingAck { offer, .. } = &self.phase {
            match event {
                UaEvent::CallAcked { answer: Some(answer), .. } => match sdp::accept_answer(offer, &answer) {
                    Ok(negotiated) => self.answered(negotiated),
                    Err(e) => {
                        info!(error = %e, "unusable answer in the ACK: hanging up");
                        self.give_up_unanswered();
                    }
                },
                UaEvent::CallAcked { answer: None, .. } | UaEvent::RemoteHangup { .. } | UaEvent::CallFailed { .. } => self.give_up_unanswered(),
                _ => {}
            }
            return;
        }
        if !matches!(self.phase, Phase::Running { .. }) {
            return;
        }
        match event {
            UaEvent::RemoteHangup { .. } => {
                self.dialog_event(Event::Hangup);
                self.end(CallOutcome::CallerHungUp, false);
            }
            UaEvent::CallFailed { reason, .. } => {
                self.push_event("sip_failure", serde_json::json!({ "reason": reason }));
                self.dialog_event(Event::Hangup);
                self.end(CallOutcome::Failed, false);
            }
            UaEvent::MediaChanged { on_hold, media, .. } => {
                self.push_event(if on_hold { "hold" } else { "unhold" }, serde_json::json!({}));
                self.commands.push_back(Command::SetHold(on_hold));
                if let Some(n) = media {
                    self.push_event("media_renegotiated", serde_json::json!({ "codec": format!("{:?}", n.codec), "rfc4733": n.dtmf_pt.is_some(), "srtp": n.srtp.map(|k| k.suite.name()) }));
                    self.commands.push_back(Command::Renegotiate { params: media_params(&n), srtp: n.srtp });
                }
            }
            UaEvent::DtmfInfo { digit, .. } => self.commands.push_back(Command::SipInfoDigit(digit)),
            UaEvent::Transfer { update, .. } => self.transfer_update(update),
            _ => {}
        }
    }

    fn media_event(&mut self, event: MediaEvent) {
        match event {
            MediaEvent::Digit { digit, .. } => self.dialog_event(Event::Digit(digit)),
            MediaEvent::PlaybackFinished { tag, interrupted } => {
                self.barge_in_playing = false;
                self.dialog_event(Event::PromptFinished { tag, interrupted });
            }
            MediaEvent::Audio(frame) => self.heard(&frame),
            MediaEvent::InactivityTimeout => {
                self.push_event("rtp_timeout", serde_json::json!({}));
                self.dialog_event(Event::Hangup);
                self.end(CallOutcome::Failed, true);
            }
        }
    }

    /// The call is over: the dialog's last actions are carried out, then the hangup (when the
    /// caller is still there) and the wrap-up.
    fn end(&mut self, outcome: CallOutcome, hangup: bool) {
        self.outcome = Some(outcome);
        self.phase = Phase::Ending { hangup };
    }

    /// A frame of the caller's audio while listening.
    fn heard(&mut self, frame: &[i16]) {
        match self.listener.frame(frame, self.now) {
            Some(Heard::Started) => {
                tracing::debug!(barge_in = self.barge_in_playing, "speech started");
                if self.barge_in_playing && self.dialog.as_ref().is_some_and(Dialog::voice_barge_in) {
                    self.commands.push_back(Command::StopPlayback);
                }
                self.dialog_event(Event::SpeechStarted);
            }
            Some(Heard::Utterance(audio)) => {
                tracing::debug!(ms = audio.len() / 8, "utterance ended");
                if self.rules.speech {
                    self.commands.push_back(Command::Recognize { audio, hints: self.hints.clone() });
                    self.speech_ended_pending = true;
                } else {
                    self.dialog_event(Event::SpeechUnavailable);
                    self.dialog_event(Event::SpeechEnded);
                }
            }
            None => {}
        }
    }

    /// A full recognizer queue tells the dialog at once, so the caller is moved to the keypad
    /// instead of waiting; then the dialog hears that the utterance ended.
    fn recognition_queued(&mut self, accepted: bool) {
        if !accepted {
            warn!("recognizer saturated: keypad from here on");
            self.push_event("asr_saturated", serde_json::json!({}));
            self.dialog_event(Event::SpeechUnavailable);
        }
        if std::mem::take(&mut self.speech_ended_pending) {
            self.dialog_event(Event::SpeechEnded);
        }
    }

    fn recognized(&mut self, heard: Option<(String, u64)>) {
        match heard {
            Some((text, recognize_ms)) => {
                tracing::debug!(%text, "heard");
                // The utterance ended one trailing silence before the endpointer said so.
                let after_end_ms = self.rules.config.speech.vad.trailing_silence_ms + recognize_ms;
                self.push_event("utterance_recognized", serde_json::json!({ "after_end_ms": after_end_ms }));
                self.dialog_event(Event::Speech { text });
            }
            None => self.dialog_event(Event::SpeechUnavailable),
        }
    }

    fn candidates(&mut self, found: Result<Vec<PatientSummary>, String>) {
        let found = found.unwrap_or_else(|e| {
            warn!(error = %e, "chart lookup failed: the caller goes on unidentified");
            self.push_event("ehr_error", serde_json::json!({ "during": "lookup" }));
            Vec::new()
        });
        let candidates = found.into_iter().map(|p| Candidate { id: p.id, given: p.given, family: p.family, phone: p.phone }).collect();
        self.dialog_event(Event::Candidates(candidates));
    }

    fn chart(&mut self, summary: Result<ChartSummary, String>) {
        match summary {
            Ok(summary) => {
                self.dialog_event(Event::OwnProvider(summary.pcp.as_ref().map(|p| p.id.clone())));
                self.pcp = summary.pcp.map(|p| format!("Practitioner/{}", p.id));
                self.dialog_event(Event::Medications(summary.medications.into_iter().map(|m| m.name).collect()));
            }
            Err(e) => {
                warn!(error = %e, "chart summary failed");
                self.push_event("ehr_error", serde_json::json!({ "during": "chart_summary" }));
                self.dialog_event(Event::Medications(Vec::new()));
            }
        }
    }

    /// How the transfer goes: progress on the timeline; the outcome to the dialog (which decides
    /// what the caller hears), the record and the audit trail.
    fn transfer_update(&mut self, update: TransferUpdate) {
        let (event, failure) = match update {
            TransferUpdate::Accepted { status } => return self.push_event("transfer_accepted", serde_json::json!({ "status": status })),
            TransferUpdate::Progress { status } => return self.push_event("transfer_progress", serde_json::json!({ "status": status })),
            TransferUpdate::Succeeded { status } => {
                self.push_event("transfer_connected", serde_json::json!({ "status": status }));
                self.record.outcome = Some(record::CallOutcome::Transferred);
                (Event::TransferSucceeded, None)
            }
            TransferUpdate::Failed { reason } => {
                warn!(%reason, "transfer failed: the caller hears the 911 prompt");
                (Event::TransferFailed { reason: reason.to_string() }, Some(reason.to_string()))
            }
        };
        let target = self.transfer.take().unwrap_or_default();
        let audit = AuditEvent {
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
        self.commands.push_back(Command::Audit { event: audit, at: self.wall() });
        self.dialog_event(event);
    }

    /// Carries out one thing the dialog asked for: a command, or an update of the record.
    fn apply(&mut self, action: Action) {
        match action {
            Action::Play { prompts, barge_in, tag } => {
                self.barge_in_playing = barge_in;
                self.commands.push_back(Command::Play { prompts, tag, barge_in });
            }
            Action::Listen { hints } => {
                self.hints = hints;
                self.listener.listen();
            }
            Action::StopListening => self.listener.stop(),
            Action::StartRecording => {
                self.commands.push_back(Command::StartRecording);
                self.record.recording = Some(format!("recordings/{}.clrec", self.record.call_id));
                // Each sentence is recognised and screened as it is said.
                if self.rules.speech {
                    self.hints.clear();
                    self.listener.listen();
                }
            }
            Action::StopRecording => {
                self.listener.stop();
                self.commands.push_back(Command::StopRecording);
            }
            Action::Lookup { birth_date } => self.commands.push_back(Command::Lookup { birth_date }),
            Action::ChartSummary { patient_id } => self.commands.push_back(Command::ChartSummary { patient_id }),
            Action::AlertOnCall => self.alert_on_call(),
            Action::Transfer { target, timeout } => {
                info!(%target, "transfer by REFER");
                self.transfer = Some(target.clone());
                self.sip(|call| UaCommand::Transfer { call, target, timeout });
            }
            Action::Hangup => self.sip(|call| UaCommand::Hangup { call }),
            Action::Log { kind, detail } => self.push_event(kind, detail),
            Action::Patient { birth_date, status, patient_id, matched_by } => {
                tracing::debug!(?birth_date, ?status, "patient");
                self.record.patient = PatientMatch { id: patient_id, birth_date, matched_by, status };
            }
            Action::Request { kind, chosen_by } => {
                self.record.urgent |= kind == RequestType::Urgent;
                self.record.request = Some(RequestChoice { kind: kind.name().into(), code: kind.code().to_string(), chosen_by });
            }
            Action::Urgent { red_flags } => {
                self.record.urgent = true;
                add_red_flags(&mut self.record, red_flags);
            }
            action @ (Action::FindSlots(_) | Action::Book(_) | Action::ListAppointments { .. } | Action::Cancel { .. }) => self.commands.push_back(Command::Schedule(action)),
            Action::Note { key, value } => {
                tracing::debug!(key, value, "follow-up note");
                self.push_event("note", serde_json::json!({ "key": key, "value": value }));
            }
        }
    }

    /// The record says the on-call alert is owed; an emergency in business hours alerts at once,
    /// not when the caller hangs up (after hours the end of the call raises it).
    fn alert_on_call(&mut self) {
        self.record.routing.on_call = true;
        self.push_event("on_call_alert", serde_json::json!({ "status": "pending" }));
        if self.record.after_hours {
            return;
        }
        let Some(to) = super::alert::owed_now(&self.rules.config, &self.record) else { return };
        self.push_event(super::alert::RAISED, serde_json::json!({}));
        self.commands.push_back(Command::SaveProgress);
        self.commands.push_back(Command::RaiseAlerts { record: Box::new(self.record.clone()), to });
    }

    // The wrap-up.

    fn media_closed(&mut self, stats: MediaStats) {
        if !matches!(self.phase, Phase::Closing) {
            return;
        }
        self.record.ended_at = Some(self.wall());
        if self.record.patient.status == MatchStatus::NotGiven && self.record.patient.birth_date.is_some() {
            self.record.patient.status = MatchStatus::NotFound;
        }
        let tenths = |ms: f64| (ms * 10.0).round() / 10.0;
        self.push_event(
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
        if let Some(to) = super::alert::owed_now(&self.rules.config, &self.record) {
            self.alerted_early = true;
            self.commands.push_back(Command::RaiseAlerts { record: Box::new(self.record.clone()), to });
        }
        if self.rules.transcripts && self.record.recording.is_some() {
            self.commands.push_back(Command::ReadMessage);
            self.phase = Phase::ReadingMessage;
        } else {
            self.conclude();
        }
    }

    fn message_read(&mut self, audio: Result<Vec<i16>, String>) {
        if !matches!(self.phase, Phase::ReadingMessage) {
            return;
        }
        match audio {
            Ok(audio) if audio.len() >= MIN_MESSAGE_SAMPLES => {
                self.commands.push_back(Command::Transcribe { audio, hints: self.hints.clone() });
                self.phase = Phase::Transcribing { until: self.now + TRANSCRIBE_TIMEOUT, started: self.now };
            }
            Ok(_) => self.conclude(),
            Err(e) => {
                warn!(error = %e, "cannot read the recording to transcribe it");
                self.conclude();
            }
        }
    }

    fn transcribed(&mut self, transcript: Result<ChartTranscript, ChartError>) {
        let Phase::Transcribing { started, .. } = self.phase else { return };
        match transcript {
            Ok(transcript) => {
                self.record.transcript_model = Some(transcript.model.clone());
                self.record.transcript_language = Some(transcript.language.clone());
                // The whole message can be long: the driver classifies it off the call task.
                self.commands.push_back(Command::Screen { text: transcript.text.clone() });
                self.phase = Phase::Screening { transcript, started };
            }
            Err(ChartError::Saturated(_)) => {
                self.push_event("transcription_failed", serde_json::json!({ "reason": "saturated" }));
                self.conclude();
            }
            Err(e) => {
                warn!(error = %e, "message transcription failed");
                self.push_event("transcription_failed", serde_json::json!({}));
                self.conclude();
            }
        }
    }

    /// A message that describes an emergency or an urgent symptom makes the call urgent even if
    /// the caller never said so to a question.
    fn screened(&mut self, screening: Option<Classification>) {
        if !matches!(self.phase, Phase::Screening { .. }) {
            return;
        }
        let Phase::Screening { transcript, started } = std::mem::replace(&mut self.phase, Phase::Done) else { unreachable!() };
        match screening {
            Some(screening) => {
                let ms = self.now.saturating_duration_since(started).as_millis() as u64;
                self.push_event("message_transcribed", serde_json::json!({ "ms": ms, "emergency": screening.is_emergency(), "model": transcript.model }));
                if screening.severity.is_some() && !self.record.urgent {
                    self.record.urgent = true;
                    let kind = if screening.is_emergency() { "message_emergency" } else { "message_urgent" };
                    self.push_event(kind, serde_json::json!({ "red_flags": screening.red_flag_ids() }));
                }
                add_red_flags(&mut self.record, screening.red_flag_ids());
            }
            None => {
                warn!("message screening failed: the transcript is kept unscreened");
                self.push_event("message_screening_failed", serde_json::json!({}));
            }
        }
        self.record.transcript = Some(transcript.text).filter(|t| !t.is_empty());
        self.conclude();
    }

    /// Routes on everything known now, stores the record, and raises an alert the message made
    /// owed (one raised before the transcript is not raised again).
    fn conclude(&mut self) {
        self.route();
        self.commands.push_back(Command::FinishCall);
        if !self.alerted_early
            && let Some(to) = super::alert::owed_now(&self.rules.config, &self.record)
        {
            self.commands.push_back(Command::RaiseAlerts { record: Box::new(self.record.clone()), to });
        }
        self.phase = Phase::Done;
    }

    /// Routes the call on what is known of it now (an urgent call keeps its on-call routing).
    fn route(&mut self) {
        let request = self.record.request.as_ref().and_then(|r| RequestType::from_name(&r.kind)).unwrap_or(RequestType::Provider);
        let alerted = self.record.routing.on_call;
        let input = RouteInput { request, urgent: self.record.urgent, dialed: &self.record.to, care_team: self.pcp.as_deref(), at: self.record.started_at };
        self.record.routing = self.rules.router.route(&input);
        self.record.routing.on_call |= alerted;
    }

    // Helpers.

    fn dialog_event(&mut self, event: Event) {
        if let Some(dialog) = self.dialog.as_mut() {
            dialog.handle(event, self.now);
        }
    }

    fn sip(&mut self, command: impl FnOnce(CallId) -> UaCommand) {
        self.commands.push_back(Command::Sip(command(self.sip_call.clone())));
    }

    fn wall(&self) -> DateTime<Utc> {
        self.origin.1 + chrono::Duration::from_std(self.now.saturating_duration_since(self.origin.0)).unwrap_or_default()
    }

    fn push_event(&mut self, kind: &str, detail: serde_json::Value) {
        let detail = match detail {
            serde_json::Value::Object(map) => map,
            other => serde_json::Map::from_iter([("value".to_string(), other)]),
        };
        let at = self.wall();
        self.record.events.push(CallEvent { at, kind: kind.into(), detail });
    }
}

fn media_params(n: &Negotiated) -> MediaParams {
    MediaParams { remote: n.remote_rtp, codec: n.codec, dtmf_pt: n.dtmf_pt, ptime_ms: n.ptime_ms }
}

/// Adds red flags to the record once each.
fn add_red_flags(record: &mut CallRecord, flags: Vec<String>) {
    for flag in flags {
        if !record.red_flags.contains(&flag) {
            record.red_flags.push(flag);
        }
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
