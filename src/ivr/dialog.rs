//! The patient line's conversation as a pure state machine: events and the current time in,
//! actions out. Greeting → date of birth (keypad or speech, read back, confirmed, 3 tries) → chart
//! match (caller ID, then a spoken name) → the request (spoken and confirmed, or the keypad menu)
//! → a follow-up per request type → message after the tone → reference number → goodbye.
//!
//! Every utterance is screened for red flags: an emergency interrupts whatever plays with the 911
//! prompt (or a transfer), marks the call urgent and alerts the on-call provider. When speech
//! recognition is off or goes away, the keypad flow carries the rest of the call. Silence and
//! garbage are re-prompted, then the caller goes on with the message left for staff: never stuck,
//! never silent.
//!
//! The steps live in `identify` (date of birth, chart), `request` (request and follow-ups) and
//! `closing` (emergency, message, goodbye), `turns` (listening, answers, losing the recogniser),
//! `appointment` (booking, changing and cancelling appointments against the chart's schedule);
//! this file holds the types and the event plumbing.

mod appointment;
mod closing;
mod identify;
mod request;
mod turns;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use serde_json::json;

use super::IvrConfig;
use super::dob_search::ChartSearch;
use crate::media::PromptItem;
use crate::schedule::{Booked, BookingRequest, Slot, SlotQuery, Upcoming};
use crate::store::record::{InputMethod, MatchStatus};
use crate::triage::{Classification, RequestType, Triage};

pub use appointment::{ClipCheck, Scheduling};
use identify::DobChart;

/// Every reading of a spoken date of birth, none when it holds no date
/// (`speech::dates::parse_dates(text, today).unwrap_or_default()` in the server).
pub type DateParser = fn(&str, NaiveDate) -> Vec<NaiveDate>;

/// What the driver knows when the call is answered.
#[derive(Debug, Clone, PartialEq)]
pub struct CallSetup {
    /// Outside the practice schedule (`triage::hours`).
    pub after_hours: bool,
    /// The call's reference number, read back at the end.
    pub reference: String,
    /// Caller ID as received (any format).
    pub caller_phone: Option<String>,
    /// A speech model is loaded: speech turns are offered.
    pub speech: bool,
    /// The practice's local date (birth dates after it are refused).
    pub today: NaiveDate,
}

/// A chart with the birth date the caller gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: String,
    pub given: String,
    pub family: String,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Digit(char),
    PromptFinished {
        tag: u64,
        interrupted: bool,
    },
    /// The caller started talking (barge-in: the driver already stopped a barge-in prompt).
    SpeechStarted,
    /// Final transcript of one utterance heard while listening.
    Speech {
        text: String,
    },
    /// The caller stopped talking (an utterance ended; its transcript follows as `Speech`).
    SpeechEnded,
    /// No model, or the recogniser pool is saturated: keypad for the rest of the call.
    SpeechUnavailable,
    /// The answer to `Action::Lookup`: charts with that birth date.
    Candidates(Vec<Candidate>),
    /// The answer to `Action::ChartSummary`: the patient's active medications (display texts).
    Medications(Vec<String>),
    RecordingStopped {
        duration_ms: u64,
        rms: f32,
    },
    /// The identified patient's own provider (Practitioner id), from the chart summary.
    OwnProvider(Option<String>),
    /// The answer to `Action::FindSlots`: free slots, earliest first.
    Slots(Vec<Slot>),
    /// The answer to `Action::Book`.
    Booked(Booked),
    /// `Action::Book` failed: `taken` when another caller got the slot first.
    BookFailed {
        taken: bool,
    },
    /// The answer to `Action::ListAppointments`.
    Appointments(Vec<Upcoming>),
    /// `Action::Cancel` went through: the slot is free again.
    Cancelled,
    /// `Action::Cancel` failed.
    CancelFailed,
    /// The chart could not answer a schedule question (search or listing).
    ScheduleUnavailable,
    /// The `Action::Transfer` went through: the caller is connected elsewhere.
    TransferSucceeded,
    /// The `Action::Transfer` did not happen (refused, the new call failed, timed out).
    TransferFailed {
        reason: String,
    },
    Hangup,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Play {
        prompts: Vec<PromptItem>,
        barge_in: bool,
        tag: u64,
    },
    /// Turn speech recognition on for this turn (hints = words for the recogniser's prompt); it
    /// stays on until `StopListening` or the next `Listen`.
    Listen {
        hints: Vec<String>,
    },
    StopListening,
    StartRecording,
    StopRecording,
    /// Find the charts with this birth date; answer with `Event::Candidates`.
    Lookup {
        birth_date: NaiveDate,
    },
    /// Fetch the identified patient's active medications; answer with `Event::Medications`.
    ChartSummary {
        patient_id: String,
    },
    /// The call is urgent (red flags by id).
    Urgent {
        red_flags: Vec<String>,
    },
    /// Page the provider on call now.
    AlertOnCall,
    /// Transfer the call (emergency, when `ivr.emergency_transfer` is set); answer with
    /// `Event::TransferSucceeded` or `Event::TransferFailed` within `timeout`.
    Transfer {
        target: String,
        timeout: std::time::Duration,
    },
    Hangup,
    /// A step for the call record's timeline.
    Log {
        kind: &'static str,
        detail: serde_json::Value,
    },
    Patient {
        birth_date: Option<NaiveDate>,
        status: MatchStatus,
        patient_id: Option<String>,
        matched_by: Option<InputMethod>,
    },
    Request {
        kind: RequestType,
        chosen_by: InputMethod,
    },
    /// A follow-up answer for the record (`medication`, `medication_spoken`, `appointment`,
    /// `test`, `symptom`).
    Note {
        key: &'static str,
        value: String,
    },
    /// Look for free slots; answer with `Event::Slots` (or `ScheduleUnavailable`).
    FindSlots(SlotQuery),
    /// Book a slot; answer with `Event::Booked` or `Event::BookFailed`.
    Book(BookingRequest),
    /// The patient's upcoming appointments from `from` on; answer with `Event::Appointments`.
    ListAppointments {
        patient_id: String,
        from: chrono::DateTime<chrono::Utc>,
    },
    /// Cancel an appointment; answer with `Event::Cancelled` or `Event::CancelFailed`.
    Cancel {
        patient_id: String,
        appointment_id: String,
        call_id: String,
    },
}

/// The follow-up question after the request type is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FollowUp {
    Medication,
    Appointment,
    Test,
    Symptom,
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    Greeting,
    Dob {
        attempt: u32,
        digits: String,
    },
    /// The readings of a spoken date of birth are looked up before anything is read back.
    Search {
        attempt: u32,
        search: ChartSearch,
    },
    Confirm {
        attempt: u32,
        date: NaiveDate,
        method: InputMethod,
        misses: u32,
        chart: DobChart,
    },
    Lookup {
        date: NaiveDate,
        method: InputMethod,
    },
    Name {
        date: NaiveDate,
        method: InputMethod,
        candidates: Vec<Candidate>,
        misses: u32,
    },
    AskRequest {
        misses: u32,
    },
    ConfirmRequest {
        kind: RequestType,
        rules: Vec<String>,
        misses: u32,
    },
    Menu {
        page: u8,
        misses: u32,
    },
    FollowUp {
        step: FollowUp,
        misses: u32,
    },
    ConfirmMedication {
        name: String,
        clip: String,
        spoken: String,
        misses: u32,
    },
    Appointment {
        step: Box<appointment::Step>,
        misses: u32,
    },
    Beep,
    Recording,
    /// An emergency transfer runs; `recording` when the message was being recorded (it goes on).
    Transferring {
        target: String,
        recording: bool,
    },
    Closing,
    Done,
}

/// Why a turn is asked again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Miss {
    NoInput,
    NotUnderstood,
    InvalidKey,
}

impl Miss {
    fn clip(self) -> &'static str {
        match self {
            Miss::NoInput => "no-input",
            Miss::NotUnderstood => "not-understood",
            Miss::InvalidKey => "invalid-key",
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Miss::NoInput => "no_input",
            Miss::NotUnderstood => "not_understood",
            Miss::InvalidKey => "invalid_key",
        }
    }
}

/// An answer to a yes/no question, by key or by voice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Yes(InputMethod),
    No(InputMethod),
    Unclear(Miss),
}

pub struct Dialog {
    config: IvrConfig,
    setup: CallSetup,
    triage: Arc<Triage>,
    parse_date: DateParser,
    /// Speech turns are offered (false from the start without a model, or after
    /// `SpeechUnavailable`).
    speech: bool,
    listening: bool,
    /// The caller is talking: a transcript is on its way.
    hearing: bool,
    urgent: bool,
    /// The emergency path ran (once per call).
    alerted: bool,
    request: Option<RequestType>,
    medications: Vec<String>,
    /// What the appointment conversation needs: the schedule rules, who the patient is.
    appt: appointment::Context,
    state: State,
    deadline: Option<Instant>,
    /// While recording: the end at `max_message_s`, and the end of the current silence (none
    /// while the caller talks or a prompt plays).
    message_ends: Option<Instant>,
    silence_ends: Option<Instant>,
    /// The running transfer gives up (when the SIP side never answers) and when it started.
    transfer_ends: Option<(Instant, Instant)>,
    /// The time of the event being handled (none before `start`).
    now: Option<Instant>,
    tag: u64,
    actions: VecDeque<Action>,
}

impl Dialog {
    pub fn new(config: IvrConfig, setup: CallSetup, triage: Arc<Triage>, parse_date: DateParser) -> Self {
        let speech = setup.speech;
        Self {
            config,
            setup,
            triage,
            parse_date,
            speech,
            listening: false,
            hearing: false,
            urgent: false,
            alerted: false,
            request: None,
            medications: Vec::new(),
            appt: appointment::Context::default(),
            state: State::Greeting,
            deadline: None,
            message_ends: None,
            silence_ends: None,
            transfer_ends: None,
            now: None,
            tag: 0,
            actions: VecDeque::new(),
        }
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    fn log(&mut self, kind: &'static str, detail: serde_json::Value) {
        self.actions.push_back(Action::Log { kind, detail });
    }

    fn play(&mut self, prompts: Vec<PromptItem>, barge_in: bool) {
        self.tag += 1;
        self.deadline = None;
        self.actions.push_back(Action::Play { prompts, barge_in, tag: self.tag });
    }

    fn clips(names: &[&str]) -> Vec<PromptItem> {
        names.iter().map(|n| PromptItem::Clip(n.to_string())).collect()
    }

    /// A deadline `wait` after the event being handled.
    fn after(&self, wait: std::time::Duration) -> Option<Instant> {
        self.now.map(|now| now + wait)
    }

    fn listen(&mut self, hints: Vec<String>) {
        self.listening = true;
        self.actions.push_back(Action::Listen { hints });
    }

    fn stop_listening(&mut self) {
        self.hearing = false;
        if self.listening {
            self.listening = false;
            self.actions.push_back(Action::StopListening);
        }
    }

    /// Enters a turn: plays its prompt (barge-in) and listens when the turn takes speech.
    fn ask(&mut self, state: State, prompts: Vec<PromptItem>) {
        self.state = state;
        self.hearing = false;
        match self.hints() {
            Some(hints) if self.speech => self.listen(hints),
            _ => self.stop_listening(),
        }
        self.play(prompts, true);
    }

    /// Lets callers book, change and cancel appointments (without it, an appointment request is
    /// noted and goes to the message).
    pub fn with_scheduling(mut self, scheduling: Scheduling) -> Self {
        self.appt.scheduling = Some(scheduling);
        self
    }

    pub fn start(&mut self, now: Instant) {
        self.now = Some(now);
        self.appt.anchor = Some(now);
        let practice = self.config.practice_prompt.clone();
        let mut names = vec!["greeting", practice.as_str(), "disclaimer-911"];
        if self.setup.after_hours {
            names.push("after-hours");
        }
        let prompts = Self::clips(&names);
        self.log("greeting", json!({ "after_hours": self.setup.after_hours, "speech": self.speech }));
        // Listen from the first word: a caller may give the date of birth (or an emergency) over
        // the greeting, which still plays to its end.
        if let Some(hints) = self.hints().filter(|_| self.speech) {
            self.listen(hints);
        }
        self.play(prompts, true);
    }

    /// Whether the caller's voice should stop the prompt playing now (keys always do when the
    /// prompt allows barge-in). Not during the greeting: its 911 disclaimer is always heard.
    /// Nor over the keypad menu, which listens only for an emergency.
    pub fn voice_barge_in(&self) -> bool {
        !matches!(self.state, State::Greeting | State::Menu { .. })
    }

    pub fn handle(&mut self, event: Event, now: Instant) {
        if self.state == State::Done {
            return;
        }
        self.now = Some(now);
        match event {
            Event::Hangup => self.hangup(),
            Event::PromptFinished { tag, interrupted } if tag == self.tag => self.prompt_finished(interrupted, now),
            Event::PromptFinished { .. } => {}
            Event::Digit(digit) => {
                self.hearing = false;
                self.digit(digit, now)
            }
            Event::SpeechStarted if self.state == State::Recording => self.message_speech(true),
            Event::SpeechEnded if self.state == State::Recording => self.message_speech(false),
            Event::Speech { text } if self.state == State::Recording => self.screen_message(text.trim()),
            Event::SpeechStarted => {
                if self.listening && self.speech {
                    self.hearing = true;
                    self.deadline = Some(now + self.config.utterance_timeout());
                }
            }
            Event::Speech { text } => {
                if self.listening && self.speech {
                    self.hearing = false;
                    self.deadline = None;
                    self.speech_heard(text.trim());
                }
            }
            Event::SpeechEnded => {}
            Event::TransferSucceeded => self.transfer_succeeded(),
            Event::TransferFailed { reason } => self.transfer_failed(&reason),
            Event::SpeechUnavailable => self.speech_lost(),
            Event::Candidates(candidates) => self.candidates(candidates),
            Event::Medications(list) => self.medications = list,
            Event::RecordingStopped { duration_ms, rms } => self.recording_stopped(duration_ms, rms),
            Event::OwnProvider(id) => self.appt.own_provider = id,
            event => self.appointment_event(event),
        }
    }

    fn hangup(&mut self) {
        let stage = self.stage();
        if self.recording() {
            self.actions.push_back(Action::StopRecording);
        }
        self.log("hangup", json!({ "by": "caller", "stage": stage }));
        self.state = State::Done;
        self.deadline = None;
    }

    fn stage(&self) -> &'static str {
        match self.state {
            State::Greeting => "greeting",
            State::Dob { .. } => "dob",
            State::Confirm { .. } => "dob_confirm",
            State::Search { .. } | State::Lookup { .. } => "lookup",
            State::Name { .. } => "name",
            State::AskRequest { .. } => "request",
            State::ConfirmRequest { .. } => "request_confirm",
            State::Menu { .. } => "menu",
            State::FollowUp { .. } | State::ConfirmMedication { .. } => "follow_up",
            State::Appointment { .. } => "appointment",
            State::Beep | State::Recording => "message",
            State::Transferring { .. } => "transfer",
            State::Closing => "closing",
            State::Done => "done",
        }
    }

    fn prompt_finished(&mut self, interrupted: bool, now: Instant) {
        match &self.state {
            State::Greeting => self.ask_dob(1),
            State::Beep => {
                self.state = State::Recording;
                self.actions.push_back(Action::StartRecording);
                self.log("recording_started", json!({}));
                self.message_ends = Some(now + std::time::Duration::from_secs(self.config.max_message_s));
                self.silence_started(now);
            }
            // The 911 prompt over the message ended: the caller goes on, a new silence counts.
            State::Recording => self.silence_started(now),
            State::Transferring { .. } => self.play_keeping_deadline(Self::clips(&["ringback"])),
            State::Closing => {
                self.log("goodbye", json!({}));
                self.actions.push_back(Action::Hangup);
                self.state = State::Done;
            }
            State::Search { .. } | State::Lookup { .. } | State::Done => {}
            State::Appointment { step, .. } if step.waiting() => {}
            _ => {
                // A turn: wait for the answer (unless a key or the caller's voice cut the prompt).
                if !interrupted && !self.hearing {
                    let wait = if self.listening { self.config.speech_timeout() } else { self.config.first_digit_timeout() };
                    self.deadline = Some(now + wait);
                }
            }
        }
    }

    fn digit(&mut self, digit: char, now: Instant) {
        match self.state.clone() {
            State::Greeting => {
                // Typing during the greeting starts the date of birth at once.
                self.state = State::Dob { attempt: 1, digits: String::new() };
                self.tag += 1; // the greeting's end no longer matters
                self.digit(digit, now);
            }
            State::Dob { attempt, digits } => self.dob_digit(attempt, digits, digit, now),
            State::Confirm { attempt, date, method, misses, chart } => {
                let answer = Self::key_answer(digit);
                self.confirm_answer(attempt, date, method, misses, chart, answer)
            }
            State::Name { date, method, candidates, .. } => {
                self.log("name_skipped", json!({ "method": "dtmf" }));
                self.settle_patient(date, method, MatchStatus::Ambiguous, None, candidates.len());
            }
            State::AskRequest { misses } => self.request_key(misses, digit),
            State::ConfirmRequest { kind, rules, misses } => self.request_answer(kind, rules, misses, Self::key_answer(digit)),
            State::Menu { page, misses } => self.menu_key(page, misses, digit),
            State::FollowUp { step, misses } => self.follow_up_key(step, misses, digit),
            State::ConfirmMedication { name, clip, spoken, misses } => self.medication_answer(name, clip, spoken, misses, Self::key_answer(digit)),
            State::Appointment { step, misses } => self.appointment_key(*step, misses, digit),
            // Any key ends the message (the prompt says pound).
            State::Recording => {
                self.log("message_key", json!({ "key": digit.to_string() }));
                self.stop_message();
            }
            State::Search { .. } | State::Lookup { .. } | State::Beep | State::Transferring { .. } | State::Closing | State::Done => {}
        }
    }

    fn note(&mut self, key: &'static str, value: String) {
        self.actions.push_back(Action::Note { key, value });
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_none_or(|d| d > now) {
            return;
        }
        self.now = Some(now);
        self.deadline = None;
        let miss = if self.hearing { Miss::NotUnderstood } else { Miss::NoInput };
        self.hearing = false;
        match self.state.clone() {
            State::Dob { attempt, digits } => {
                if digits.is_empty() {
                    self.log(miss.kind(), json!({ "stage": "dob" }));
                    self.retry_dob(attempt, miss.clip());
                } else {
                    self.dob_entered(attempt, &digits);
                }
            }
            State::Confirm { attempt, date, method, misses, chart } => self.confirm_answer(attempt, date, method, misses, chart, Answer::Unclear(miss)),
            State::Search { attempt, search } => self.search_timeout(attempt, search),
            State::Lookup { .. } => {
                self.log("lookup_timeout", json!({}));
                self.candidates(Vec::new())
            }
            State::Name { date, method, candidates, misses } => self.name_miss(date, method, candidates, misses, miss),
            State::AskRequest { misses } => self.request_miss(misses, miss),
            State::ConfirmRequest { kind, rules, misses } => self.request_answer(kind, rules, misses, Answer::Unclear(miss)),
            State::Menu { page, misses } => self.menu_miss(page, misses, miss),
            State::FollowUp { step, misses } => self.follow_up_miss(step, misses, miss),
            State::ConfirmMedication { name, clip, spoken, misses } => self.medication_answer(name, clip, spoken, misses, Answer::Unclear(miss)),
            State::Appointment { step, misses } => self.appointment_timeout(*step, misses, miss),
            State::Recording if self.message_ends.is_some_and(|end| end <= now) => {
                self.log("message_max_length", json!({ "max_s": self.config.max_message_s }));
                self.stop_message();
            }
            State::Recording => {
                self.log("message_silence", json!({ "silence_ms": self.config.message_end_silence_ms }));
                self.stop_message();
            }
            State::Transferring { .. } => self.transfer_failed("no answer from the SIP stack"),
            State::Greeting | State::Beep | State::Closing | State::Done => {}
        }
    }
}

/// The explanation of a classification for the call record.
fn explain(c: &Classification) -> serde_json::Value {
    json!({
        "type": c.request.name(),
        "code": c.request.code().to_string(),
        "detected_type": c.detected.map(RequestType::name),
        "rules": c.rules.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        "red_flags": c.red_flag_ids(),
        "severity": c.severity,
    })
}

#[cfg(test)]
#[path = "dialog_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "speech_tests.rs"]
mod speech_tests;

#[cfg(test)]
#[path = "timing_tests.rs"]
mod timing_tests;

#[cfg(test)]
#[path = "closing_tests.rs"]
mod closing_tests;

#[cfg(test)]
#[path = "appointment_tests.rs"]
mod appointment_tests;
