//! The on-call alert as a pure state machine: events and the current time in, actions out. It
//! calls the on-call provider, reads the menu when answered (1 plays the message, 2 calls the
//! patient and bridges, 3 acknowledges), retries an alert nobody acknowledged and escalates to the
//! backup; every outcome is an [`Action::Outcome`] for the task's timeline. An acknowledgement
//! elsewhere (the dashboard) stops the page: a ringing call is cancelled, a waiting retry dropped,
//! a menu being read ends with "acknowledged"; a bridge already under way goes on.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Who is called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Practitioner id, e.g. `Practitioner/on-call-a`.
    pub provider: String,
    /// What is dialed: a phone number or a `sip:` URI.
    pub dial: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertTiming {
    pub ring_timeout: Duration,
    pub retry_after: Duration,
    pub max_attempts: u32,
    pub escalate_after: Duration,
    pub menu_repeats: u32,
    pub key_timeout: Duration,
}

/// What the alert hears about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The provider's phone answered.
    Answered,
    /// The provider's call ended without an answer (SIP status).
    DialFailed {
        status: u16,
    },
    Digit(char),
    PromptFinished,
    ProviderHungUp,
    PatientAnswered,
    PatientFailed {
        status: u16,
    },
    PatientHungUp,
    /// Someone took the alert elsewhere (the dashboard's Acknowledge): the page stops.
    AcknowledgedElsewhere {
        by: String,
    },
}

/// What the driver says to the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// "Urgent message from a patient born … about … Press 1 …, 2 …, 3 …".
    Menu,
    /// The caller's recorded message (or "no message" when there is none).
    Message,
    Connecting,
    PatientUnreachable,
    Acknowledged,
    InvalidKey,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Call the provider (a new leg; the previous one is gone).
    Dial(Target),
    /// Stop ringing the provider (CANCEL).
    CancelDial,
    Play(Prompt),
    DialPatient,
    /// Relay media between the provider and the patient.
    Bridge,
    HangupProvider,
    HangupPatient,
    /// A step for the task's timeline and the audit trail.
    Outcome {
        kind: &'static str,
        detail: Value,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting to place the next attempt.
    Waiting,
    Ringing,
    /// The menu plays or waits for a key.
    Menu,
    PlayingMessage,
    CallingPatient,
    Bridged,
    /// The acknowledgement plays; then the provider is hung up.
    Closing,
    Done,
}

pub struct Alert {
    timing: AlertTiming,
    backup: Option<Target>,
    current: Target,
    escalated: bool,
    attempt: u32,
    target_since: Instant,
    state: State,
    deadline: Option<Instant>,
    repeats_left: u32,
    acknowledged: bool,
    actions: VecDeque<Action>,
}

impl Alert {
    /// Places the first call at `now`.
    pub fn start(primary: Target, backup: Option<Target>, timing: AlertTiming, now: Instant) -> Self {
        let mut alert = Self {
            repeats_left: timing.menu_repeats,
            timing,
            current: primary,
            backup,
            escalated: false,
            attempt: 0,
            target_since: now,
            state: State::Waiting,
            deadline: None,
            acknowledged: false,
            actions: VecDeque::new(),
        };
        alert.dial(now);
        alert
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The provider being called now.
    pub fn current(&self) -> &Target {
        &self.current
    }

    fn outcome(&mut self, kind: &'static str, mut detail: Value) {
        detail["provider"] = json!(self.current.provider);
        detail["attempt"] = json!(self.attempt);
        self.actions.push_back(Action::Outcome { kind, detail });
    }

    fn dial(&mut self, now: Instant) {
        self.attempt += 1;
        self.state = State::Ringing;
        self.deadline = Some(now + self.timing.ring_timeout);
        self.repeats_left = self.timing.menu_repeats;
        self.actions.push_back(Action::Dial(self.current.clone()));
        self.outcome("alert_placed", json!({}));
    }

    /// The current attempt ended unacknowledged: retry, escalate, or give up.
    fn next_attempt(&mut self, now: Instant) {
        let patience_left = now.duration_since(self.target_since) + self.timing.retry_after < self.timing.escalate_after;
        if self.attempt < self.timing.max_attempts && patience_left {
            self.state = State::Waiting;
            self.deadline = Some(now + self.timing.retry_after);
            return;
        }
        match self.backup.clone().filter(|_| !self.escalated) {
            Some(backup) => {
                let from = self.current.provider.clone();
                self.escalated = true;
                self.current = backup;
                self.attempt = 0;
                self.target_since = now;
                self.outcome("escalated", json!({ "from": from }));
                self.dial(now);
            }
            None => {
                self.outcome("alert_failed", json!({ "reason": "nobody acknowledged" }));
                self.finish();
            }
        }
    }

    fn finish(&mut self) {
        self.state = State::Done;
        self.deadline = None;
    }

    fn menu(&mut self) {
        self.state = State::Menu;
        self.deadline = None;
        self.actions.push_back(Action::Play(Prompt::Menu));
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_none_or(|d| d > now) {
            return;
        }
        self.deadline = None;
        match self.state {
            State::Waiting => self.dial(now),
            State::Ringing => {
                self.actions.push_back(Action::CancelDial);
                self.outcome("alert_unanswered", json!({ "reason": "ring timeout" }));
                self.next_attempt(now);
            }
            State::Menu if self.repeats_left > 0 => {
                self.repeats_left -= 1;
                self.menu();
            }
            State::Menu => {
                self.actions.push_back(Action::HangupProvider);
                self.outcome("alert_unanswered", json!({ "reason": "no key pressed" }));
                self.next_attempt(now);
            }
            _ => {}
        }
    }

    pub fn handle(&mut self, event: Event, now: Instant) {
        match (self.state, event) {
            (State::Ringing, Event::Answered) => {
                self.outcome("alert_answered", json!({}));
                self.menu();
            }
            (State::Ringing, Event::DialFailed { status }) => {
                self.outcome("alert_unanswered", json!({ "status": status }));
                self.next_attempt(now);
            }
            (State::Menu, Event::PromptFinished) => self.deadline = Some(now + self.timing.key_timeout),
            (State::Menu | State::PlayingMessage, Event::Digit(digit)) => self.key(digit),
            (State::PlayingMessage, Event::PromptFinished) => self.menu(),
            (State::Menu | State::PlayingMessage, Event::ProviderHungUp) => {
                self.outcome("alert_unanswered", json!({ "reason": "hung up without a choice" }));
                self.next_attempt(now);
            }
            (State::CallingPatient, Event::PatientAnswered) => {
                self.state = State::Bridged;
                self.actions.push_back(Action::Bridge);
                self.outcome("bridged", json!({}));
            }
            (State::CallingPatient, Event::PatientFailed { status }) => {
                self.outcome("patient_unreachable", json!({ "status": status }));
                self.actions.push_back(Action::Play(Prompt::PatientUnreachable));
                self.menu();
            }
            (State::CallingPatient, Event::ProviderHungUp) => {
                self.actions.push_back(Action::HangupPatient);
                self.outcome("bridge_abandoned", json!({}));
                self.finish();
            }
            (State::Bridged, Event::ProviderHungUp) => {
                self.actions.push_back(Action::HangupPatient);
                self.outcome("bridge_ended", json!({ "by": "provider" }));
                self.finish();
            }
            (State::Bridged, Event::PatientHungUp) => {
                self.actions.push_back(Action::HangupProvider);
                self.outcome("bridge_ended", json!({ "by": "patient" }));
                self.finish();
            }
            (State::Waiting | State::Ringing | State::Menu | State::PlayingMessage, Event::AcknowledgedElsewhere { by }) => self.stop_page(&by),
            (State::Closing, Event::PromptFinished | Event::ProviderHungUp) => {
                self.actions.push_back(Action::HangupProvider);
                self.finish();
            }
            _ => {}
        }
    }

    fn acknowledge(&mut self, how: &str) {
        if !self.acknowledged {
            self.acknowledged = true;
            self.outcome("acknowledged", json!({ "by": how }));
        }
    }

    /// The alert was taken on the dashboard by `by`: nobody else is called for it.
    fn stop_page(&mut self, by: &str) {
        self.acknowledged = true;
        self.outcome("page_stopped", json!({ "reason": "acknowledged on the dashboard", "by": by }));
        match self.state {
            State::Ringing => {
                self.actions.push_back(Action::CancelDial);
                self.finish();
            }
            State::Menu | State::PlayingMessage => {
                self.deadline = None;
                self.state = State::Closing;
                self.actions.push_back(Action::Play(Prompt::Acknowledged));
            }
            _ => self.finish(),
        }
    }

    fn key(&mut self, digit: char) {
        self.deadline = None;
        match digit {
            '1' => {
                self.state = State::PlayingMessage;
                self.outcome("message_played", json!({}));
                self.actions.push_back(Action::Play(Prompt::Message));
            }
            '2' => {
                self.acknowledge("callback");
                self.state = State::CallingPatient;
                self.actions.push_back(Action::Play(Prompt::Connecting));
                self.actions.push_back(Action::DialPatient);
            }
            '3' => {
                self.acknowledge("key");
                self.state = State::Closing;
                self.actions.push_back(Action::Play(Prompt::Acknowledged));
            }
            _ => {
                self.actions.push_back(Action::Play(Prompt::InvalidKey));
                self.menu();
            }
        }
    }
}

#[cfg(test)]
#[path = "alert_tests.rs"]
mod tests;
