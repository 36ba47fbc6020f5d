//! The patient line's keypad flow as a pure state machine: events and the current time in, actions
//! out. Greeting → date of birth (8 digits, read back, confirmed, 3 tries) → chart lookup → request
//! menu → message after the tone → reference number → goodbye. Silence and wrong keys are
//! re-prompted, then the caller goes on with the message left for staff: never stuck, never silent.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use serde_json::json;

use super::IvrConfig;
use super::keypad_date::parse_keypad_date;
use crate::media::PromptItem;
use crate::store::record::{InputMethod, MatchStatus};
use crate::triage::RequestType;

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Digit(char),
    PromptFinished { tag: u64, interrupted: bool },
    RecordingStopped { duration_ms: u64, rms: f32 },
    LookupResult { status: MatchStatus, patient_id: Option<String> },
    Hangup,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Play { prompts: Vec<PromptItem>, barge_in: bool, tag: u64 },
    StartRecording,
    StopRecording,
    /// Find the patient; answer with `Event::LookupResult`.
    Lookup { birth_date: NaiveDate },
    Hangup,
    /// A step for the call record's timeline.
    Log { kind: &'static str, detail: serde_json::Value },
    Patient { birth_date: Option<NaiveDate>, status: MatchStatus, patient_id: Option<String>, matched_by: Option<InputMethod> },
    Request { kind: RequestType, chosen_by: InputMethod },
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    Greeting,
    Dob { attempt: u32, digits: String, prompting: bool },
    Confirm { attempt: u32, date: NaiveDate, misses: u32, prompting: bool },
    Lookup { date: NaiveDate },
    Menu { page: u8, misses: u32, prompting: bool },
    Beep,
    Recording,
    Closing,
    Done,
}

pub struct Dialog {
    config: IvrConfig,
    after_hours: bool,
    reference: String,
    urgent: bool,
    state: State,
    deadline: Option<Instant>,
    tag: u64,
    actions: VecDeque<Action>,
}

impl Dialog {
    pub fn new(config: IvrConfig, after_hours: bool, reference: String) -> Self {
        Self { config, after_hours, reference, urgent: false, state: State::Greeting, deadline: None, tag: 0, actions: VecDeque::new() }
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

    pub fn start(&mut self, _now: Instant) {
        let mut names = vec!["greeting", "disclaimer-911"];
        if self.after_hours {
            names.push("after-hours");
        }
        self.log("greeting", json!({ "after_hours": self.after_hours }));
        self.play(Self::clips(&names), true);
    }

    pub fn handle(&mut self, event: Event, now: Instant) {
        if self.state == State::Done {
            return;
        }
        match event {
            Event::Hangup => self.hangup(),
            Event::PromptFinished { tag, interrupted } if tag == self.tag => self.prompt_finished(interrupted, now),
            Event::PromptFinished { .. } => {}
            Event::Digit(digit) => self.digit(digit, now),
            Event::RecordingStopped { duration_ms, rms } => self.recording_stopped(duration_ms, rms),
            Event::LookupResult { status, patient_id } => self.lookup_result(status, patient_id),
        }
    }

    fn hangup(&mut self) {
        let stage = self.stage();
        if self.state == State::Recording {
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
            State::Lookup { .. } => "lookup",
            State::Menu { .. } => "menu",
            State::Beep | State::Recording => "message",
            State::Closing => "closing",
            State::Done => "done",
        }
    }

    fn prompt_finished(&mut self, interrupted: bool, now: Instant) {
        match &mut self.state {
            State::Greeting => self.ask_dob(1),
            State::Dob { prompting, .. } | State::Confirm { prompting, .. } | State::Menu { prompting, .. } => {
                *prompting = false;
                if !interrupted {
                    self.deadline = Some(now + self.config.first_digit_timeout());
                }
            }
            State::Beep => {
                self.state = State::Recording;
                self.actions.push_back(Action::StartRecording);
                self.log("recording_started", json!({}));
                self.deadline = Some(now + Duration::from_secs(self.config.max_message_s));
            }
            State::Closing => {
                self.log("goodbye", json!({}));
                self.actions.push_back(Action::Hangup);
                self.state = State::Done;
            }
            State::Lookup { .. } | State::Recording | State::Done => {}
        }
    }

    fn ask_dob(&mut self, attempt: u32) {
        if attempt > self.config.dob_attempts {
            self.log("fallback_staff", json!({ "stage": "dob" }));
            self.actions.push_back(Action::Patient { birth_date: None, status: MatchStatus::NotGiven, patient_id: None, matched_by: None });
            self.state = State::Menu { page: 1, misses: 0, prompting: true };
            let mut prompts = Self::clips(&["dob-giveup"]);
            prompts.extend(self.menu_prompts(1));
            return self.play(prompts, true);
        }
        self.state = State::Dob { attempt, digits: String::new(), prompting: true };
        self.play(Self::clips(&["enter-dob"]), true);
    }

    fn digit(&mut self, digit: char, now: Instant) {
        match self.state.clone() {
            State::Greeting => {
                // Typing during the greeting starts the date of birth at once.
                self.state = State::Dob { attempt: 1, digits: String::new(), prompting: false };
                self.tag += 1; // the greeting's end no longer matters
                self.digit(digit, now);
            }
            State::Dob { attempt, mut digits, .. } => {
                if digit == '#' || digit == '*' {
                    if digits.is_empty() && digit == '*' {
                        return self.ask_dob(attempt);
                    }
                    return self.dob_entered(attempt, &digits);
                }
                digits.push(digit);
                if digits.len() == 8 {
                    return self.dob_entered(attempt, &digits);
                }
                self.state = State::Dob { attempt, digits, prompting: false };
                self.deadline = Some(now + self.config.inter_digit_timeout());
            }
            State::Confirm { attempt, date, misses, .. } => match digit {
                '1' => {
                    self.log("dob_confirmed", json!({ "method": "dtmf" }));
                    self.state = State::Lookup { date };
                    self.actions.push_back(Action::Lookup { birth_date: date });
                    self.deadline = Some(now + Duration::from_millis(self.config.lookup_timeout_ms));
                }
                '2' => {
                    self.log("dob_retry", json!({ "attempt": attempt }));
                    self.ask_dob(attempt + 1);
                }
                _ => self.confirm_miss(attempt, date, misses, "invalid-key"),
            },
            State::Menu { page, misses, .. } => self.menu_key(page, misses, digit),
            State::Recording if digit == '#' => {
                self.actions.push_back(Action::StopRecording);
                self.deadline = None;
            }
            State::Lookup { .. } | State::Beep | State::Recording | State::Closing | State::Done => {}
        }
    }

    fn dob_entered(&mut self, attempt: u32, digits: &str) {
        let today = chrono::Utc::now().date_naive();
        match parse_keypad_date(digits, today) {
            Ok(date) => {
                self.log("dob_entered", json!({ "method": "dtmf", "attempt": attempt }));
                self.state = State::Confirm { attempt, date, misses: 0, prompting: true };
                let mut prompts = Self::clips(&["i-heard"]);
                prompts.push(PromptItem::Date(date));
                prompts.push(PromptItem::Clip("dob-confirm".into()));
                self.play(prompts, true);
            }
            Err(problem) => {
                self.log("dob_invalid", json!({ "attempt": attempt, "problem": problem.to_string() }));
                self.retry_dob(attempt, "dob-invalid");
            }
        }
    }

    fn retry_dob(&mut self, attempt: u32, apology: &str) {
        if attempt >= self.config.dob_attempts {
            return self.ask_dob(attempt + 1);
        }
        self.state = State::Dob { attempt: attempt + 1, digits: String::new(), prompting: true };
        self.play(Self::clips(&[apology, "enter-dob"]), true);
    }

    fn confirm_miss(&mut self, attempt: u32, date: NaiveDate, misses: u32, apology: &str) {
        self.log(if apology == "no-input" { "no_input" } else { "invalid_key" }, json!({ "stage": "dob_confirm" }));
        if misses + 1 >= self.config.key_retries {
            return self.ask_dob(attempt + 1);
        }
        self.state = State::Confirm { attempt, date, misses: misses + 1, prompting: true };
        let mut prompts = Self::clips(&[apology, "i-heard"]);
        prompts.push(PromptItem::Date(date));
        prompts.push(PromptItem::Clip("dob-confirm".into()));
        self.play(prompts, true);
    }

    fn lookup_result(&mut self, status: MatchStatus, patient_id: Option<String>) {
        let State::Lookup { date } = self.state else { return };
        self.log("patient_lookup", json!({ "status": status }));
        self.actions.push_back(Action::Patient { birth_date: Some(date), status, patient_id, matched_by: Some(InputMethod::Dtmf) });
        self.state = State::Menu { page: 1, misses: 0, prompting: true };
        let prompts = self.menu_prompts(1);
        self.play(prompts, true);
    }

    fn menu_prompts(&self, page: u8) -> Vec<PromptItem> {
        let mut names: Vec<&str> = vec!["menu-intro"];
        names.extend(self.config.menu.iter().filter(|e| e.page == page).map(|e| e.prompt.as_str()));
        if page == 1 {
            names.push("menu-more");
        }
        names.push("menu-repeat");
        names.iter().map(|n| PromptItem::Clip(n.to_string())).collect()
    }

    fn menu_key(&mut self, page: u8, misses: u32, digit: char) {
        if digit == '#' {
            self.state = State::Menu { page, misses, prompting: true };
            let prompts = self.menu_prompts(page);
            return self.play(prompts, true);
        }
        if digit == '0' && page == 1 {
            self.state = State::Menu { page: 2, misses, prompting: true };
            let prompts = self.menu_prompts(2);
            return self.play(prompts, true);
        }
        let choice = self.config.menu.iter().find(|e| e.page == page && e.key == digit).and_then(|e| RequestType::from_code(e.code));
        match choice {
            Some(kind) => {
                self.log("request_chosen", json!({ "type": kind.name(), "code": kind.code().to_string(), "method": "dtmf" }));
                self.urgent = kind == RequestType::Urgent;
                self.actions.push_back(Action::Request { kind, chosen_by: InputMethod::Dtmf });
                self.to_message();
            }
            None => self.menu_miss(page, misses, "invalid-key"),
        }
    }

    fn menu_miss(&mut self, page: u8, misses: u32, apology: &str) {
        self.log(if apology == "no-input" { "no_input" } else { "invalid_key" }, json!({ "stage": "menu" }));
        if misses + 1 >= self.config.key_retries {
            self.log("fallback_staff", json!({ "stage": "menu" }));
            let mut prompts = Self::clips(&["staff-default"]);
            prompts.extend(Self::clips(&["record-after-tone", "tone"]));
            self.state = State::Beep;
            return self.play(prompts, false);
        }
        self.state = State::Menu { page, misses: misses + 1, prompting: true };
        let mut prompts = Self::clips(&[apology]);
        prompts.extend(self.menu_prompts(page));
        self.play(prompts, true);
    }

    fn to_message(&mut self) {
        self.state = State::Beep;
        self.play(Self::clips(&["record-after-tone", "tone"]), false);
    }

    fn recording_stopped(&mut self, duration_ms: u64, rms: f32) {
        if !matches!(self.state, State::Recording | State::Done) {
            return;
        }
        let empty = duration_ms < 700 || rms < 0.002;
        self.log("recording_stopped", json!({ "duration_ms": duration_ms, "empty": empty }));
        if self.state == State::Done {
            return;
        }
        self.state = State::Closing;
        let mut prompts = Self::clips(&[if empty { "message-empty" } else { "message-saved" }, "reference-number"]);
        prompts.push(PromptItem::Digits(self.reference.clone()));
        prompts.push(PromptItem::Clip(if self.urgent { "next-steps-urgent" } else { "next-steps" }.into()));
        prompts.push(PromptItem::Clip("goodbye".into()));
        let reference = self.reference.clone();
        self.log("reference_given", json!({ "reference": reference }));
        self.play(prompts, false);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_none_or(|d| d > now) {
            return;
        }
        self.deadline = None;
        match self.state.clone() {
            State::Dob { attempt, digits, .. } => {
                if digits.is_empty() {
                    self.log("no_input", json!({ "stage": "dob" }));
                    self.retry_dob(attempt, "no-input");
                } else {
                    self.dob_entered(attempt, &digits);
                }
            }
            State::Confirm { attempt, date, misses, .. } => self.confirm_miss(attempt, date, misses, "no-input"),
            State::Lookup { .. } => self.lookup_result(MatchStatus::NotFound, None),
            State::Menu { page, misses, .. } => self.menu_miss(page, misses, "no-input"),
            State::Recording => {
                self.log("message_max_length", json!({ "max_s": self.config.max_message_s }));
                self.actions.push_back(Action::StopRecording);
            }
            State::Greeting | State::Beep | State::Closing | State::Done => {}
        }
    }
}

#[cfg(test)]
#[path = "dialog_tests.rs"]
mod tests;
