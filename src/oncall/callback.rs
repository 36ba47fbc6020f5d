//! The provider callback line as a pure state machine: PIN entry, the number of tasks waiting,
//! then each task in turn (request type, date of birth, recording) with 1 = call the patient back
//! (bridged), 2 = mark done, 3 = next. Events and the current time in, actions out.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const PIN_TRIES: u32 = 3;
const MAX_PIN: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Digit(char),
    PromptFinished,
    /// The PIN was checked: the provider's waiting tasks, or `None` for a wrong PIN.
    PinChecked(Option<usize>),
    PatientAnswered,
    PatientFailed {
        status: u16,
    },
    PatientHungUp,
}

/// What to say; `Task(i)` is the whole task (type, DOB, recording, keys), `TaskKeys(i)` the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Say {
    AskPin,
    PinWrong,
    Locked,
    Waiting(usize),
    Task(usize),
    TaskKeys(usize),
    MarkedDone,
    Connecting,
    PatientUnreachable,
    NoMore,
    InvalidKey,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Play(Say),
    CheckPin(String),
    CallBack(usize),
    Bridge,
    HangupPatient,
    MarkDone(usize),
    /// End the provider's call.
    Hangup,
    Outcome {
        kind: &'static str,
        detail: Value,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pin,
    Checking,
    /// A task is presented (or its keys wait) — `waited` once the key timeout passed once.
    Task {
        index: usize,
        waited: bool,
    },
    CallingBack(usize),
    Bridged(usize),
    Closing,
    Done,
}

pub struct CallbackLine {
    key_timeout: Duration,
    state: State,
    digits: String,
    tries: u32,
    tasks: usize,
    deadline: Option<Instant>,
    actions: VecDeque<Action>,
}

impl CallbackLine {
    pub fn start(key_timeout: Duration) -> Self {
        let mut line = Self { key_timeout, state: State::Pin, digits: String::new(), tries: 0, tasks: 0, deadline: None, actions: VecDeque::new() };
        line.actions.push_back(Action::Play(Say::AskPin));
        line
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

    fn play(&mut self, say: Say) {
        self.actions.push_back(Action::Play(say));
    }

    fn close(&mut self, say: Say) {
        self.play(say);
        self.state = State::Closing;
        self.deadline = None;
    }

    /// The caller hung up: a patient call in progress ends too.
    pub fn hangup(&mut self) {
        if matches!(self.state, State::CallingBack(_) | State::Bridged(_)) {
            self.actions.push_back(Action::HangupPatient);
        }
        self.state = State::Done;
        self.deadline = None;
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_none_or(|d| d > now) {
            return;
        }
        self.deadline = None;
        match self.state {
            State::Pin if !self.digits.is_empty() => self.submit_pin(),
            State::Pin => self.wrong_pin(),
            State::Task { index, waited: false } => {
                self.state = State::Task { index, waited: true };
                self.play(Say::TaskKeys(index));
            }
            State::Task { .. } => {
                self.actions.push_back(Action::Outcome { kind: "callback_line_timeout", detail: json!({}) });
                self.close(Say::NoMore);
            }
            _ => {}
        }
    }

    pub fn handle(&mut self, event: Event, now: Instant) {
        match (self.state, event) {
            (State::Pin, Event::Digit('#')) => self.submit_pin(),
            (State::Pin, Event::Digit(d)) if d.is_ascii_digit() => {
                self.digits.push(d);
                self.deadline = Some(now + self.key_timeout);
                if self.digits.len() >= MAX_PIN {
                    self.submit_pin();
                }
            }
            (State::Pin, Event::PromptFinished) if self.digits.is_empty() => self.deadline = Some(now + self.key_timeout),
            (State::Checking, Event::PinChecked(None)) => self.wrong_pin(),
            (State::Checking, Event::PinChecked(Some(tasks))) => {
                self.tasks = tasks;
                self.actions.push_back(Action::Outcome { kind: "callback_line_login", detail: json!({ "waiting": tasks }) });
                self.play(Say::Waiting(tasks));
                self.present(0);
            }
            (State::Task { .. }, Event::PromptFinished) => self.deadline = Some(now + self.key_timeout),
            (State::Task { index, .. }, Event::Digit(digit)) => self.key(index, digit),
            (State::CallingBack(index), Event::PatientAnswered) => {
                self.state = State::Bridged(index);
                self.actions.push_back(Action::Bridge);
            }
            (State::CallingBack(index), Event::PatientFailed { status }) => {
                self.actions.push_back(Action::Outcome { kind: "patient_unreachable", detail: json!({ "task": index, "status": status }) });
                self.play(Say::PatientUnreachable);
                self.state = State::Task { index, waited: false };
                self.play(Say::TaskKeys(index));
            }
            (State::Bridged(index), Event::PatientHungUp) => {
                // Back to the same task: the provider may now mark it done.
                self.state = State::Task { index, waited: false };
                self.play(Say::TaskKeys(index));
            }
            (State::Closing, Event::PromptFinished) => {
                self.actions.push_back(Action::Hangup);
                self.state = State::Done;
            }
            _ => {}
        }
    }

    fn submit_pin(&mut self) {
        self.deadline = None;
        self.state = State::Checking;
        self.actions.push_back(Action::CheckPin(std::mem::take(&mut self.digits)));
    }

    fn wrong_pin(&mut self) {
        self.tries += 1;
        self.digits.clear();
        self.actions.push_back(Action::Outcome { kind: "callback_line_pin_rejected", detail: json!({ "try": self.tries }) });
        if self.tries >= PIN_TRIES {
            return self.close(Say::Locked);
        }
        self.state = State::Pin;
        self.play(Say::PinWrong);
        self.play(Say::AskPin);
    }

    fn present(&mut self, index: usize) {
        if index >= self.tasks {
            return self.close(Say::NoMore);
        }
        self.state = State::Task { index, waited: false };
        self.deadline = None;
        self.play(Say::Task(index));
    }

    fn key(&mut self, index: usize, digit: char) {
        self.deadline = None;
        match digit {
            '1' => {
                self.state = State::CallingBack(index);
                self.play(Say::Connecting);
                self.actions.push_back(Action::CallBack(index));
            }
            '2' => {
                self.actions.push_back(Action::MarkDone(index));
                self.play(Say::MarkedDone);
                self.present(index + 1);
            }
            '3' => self.present(index + 1),
            _ => {
                self.play(Say::InvalidKey);
                self.play(Say::TaskKeys(index));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn drain(line: &mut CallbackLine) -> Vec<Action> {
        std::iter::from_fn(|| line.poll_action()).collect()
    }

    fn keys(line: &mut CallbackLine, keys: &str, now: Instant) {
        for k in keys.chars() {
            line.handle(Event::Digit(k), now);
        }
    }

    #[test]
    fn pin_then_tasks_one_by_one() {
        let t0 = Instant::now();
        let mut line = CallbackLine::start(s(6));
        assert_eq!(drain(&mut line), vec![Action::Play(Say::AskPin)]);
        keys(&mut line, "4321#", t0);
        assert_eq!(drain(&mut line), vec![Action::CheckPin("4321".into())]);
        line.handle(Event::PinChecked(Some(2)), t0);
        let acts = drain(&mut line);
        assert_eq!(acts[1..], [Action::Play(Say::Waiting(2)), Action::Play(Say::Task(0))]);
        keys(&mut line, "2", t0 + s(3));
        assert_eq!(drain(&mut line), vec![Action::MarkDone(0), Action::Play(Say::MarkedDone), Action::Play(Say::Task(1))]);
        keys(&mut line, "3", t0 + s(5));
        assert_eq!(drain(&mut line), vec![Action::Play(Say::NoMore)]);
        line.handle(Event::PromptFinished, t0 + s(7));
        assert_eq!(drain(&mut line), vec![Action::Hangup]);
        assert!(line.is_done());
    }

    #[test]
    fn call_back_bridges_then_returns_to_the_task() {
        let t0 = Instant::now();
        let mut line = CallbackLine::start(s(6));
        keys(&mut line, "12345678", t0);
        assert!(drain(&mut line).contains(&Action::CheckPin("12345678".into())), "eight digits submit without #");
        line.handle(Event::PinChecked(Some(1)), t0);
        drain(&mut line);
        keys(&mut line, "1", t0 + s(2));
        assert_eq!(drain(&mut line), vec![Action::Play(Say::Connecting), Action::CallBack(0)]);
        line.handle(Event::PatientAnswered, t0 + s(8));
        assert_eq!(drain(&mut line), vec![Action::Bridge]);
        line.handle(Event::PatientHungUp, t0 + s(60));
        assert_eq!(drain(&mut line), vec![Action::Play(Say::TaskKeys(0))]);
        keys(&mut line, "2", t0 + s(62));
        assert_eq!(drain(&mut line)[0], Action::MarkDone(0));
        line.hangup();
        assert!(line.is_done());
    }

    #[test]
    fn three_wrong_pins_end_the_call_and_silence_counts() {
        let t0 = Instant::now();
        let mut line = CallbackLine::start(s(6));
        drain(&mut line);
        keys(&mut line, "0000#", t0);
        line.handle(Event::PinChecked(None), t0);
        assert_eq!(drain(&mut line)[2..], [Action::Play(Say::PinWrong), Action::Play(Say::AskPin)]);
        line.handle(Event::PromptFinished, t0 + s(3));
        line.handle_timeout(t0 + s(9));
        drain(&mut line);
        keys(&mut line, "1111", t0 + s(10));
        line.handle_timeout(t0 + s(16));
        assert_eq!(drain(&mut line), vec![Action::CheckPin("1111".into())], "a PIN without # is taken after the key timeout");
        line.handle(Event::PinChecked(None), t0 + s(17));
        let acts = drain(&mut line);
        assert_eq!(acts.last(), Some(&Action::Play(Say::Locked)));
        line.handle(Event::PromptFinished, t0 + s(19));
        assert_eq!(drain(&mut line), vec![Action::Hangup]);
    }

    #[test]
    fn unanswered_patient_and_idle_provider() {
        let t0 = Instant::now();
        let mut line = CallbackLine::start(s(6));
        keys(&mut line, "1234#", t0);
        line.handle(Event::PinChecked(Some(1)), t0);
        keys(&mut line, "1", t0);
        drain(&mut line);
        line.handle(Event::PatientFailed { status: 486 }, t0 + s(5));
        assert_eq!(drain(&mut line)[1..], [Action::Play(Say::PatientUnreachable), Action::Play(Say::TaskKeys(0))]);
        line.handle(Event::PromptFinished, t0 + s(8));
        line.handle_timeout(t0 + s(14));
        assert_eq!(drain(&mut line), vec![Action::Play(Say::TaskKeys(0))], "keys repeated once");
        line.handle(Event::PromptFinished, t0 + s(17));
        line.handle_timeout(t0 + s(23));
        assert_eq!(drain(&mut line).last(), Some(&Action::Play(Say::NoMore)));
    }
}
