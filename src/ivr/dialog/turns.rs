//! Turn-taking with the recogniser: what each turn listens for, answers by key or voice, one
//! utterance dispatched to its turn (red flags first), and the switch to keypad prompts when the
//! recogniser goes away.

use serde_json::json;

use super::{Answer, Dialog, FollowUp, Miss, State};
use crate::media::PromptItem;
use crate::store::record::{InputMethod, MatchStatus};

impl Dialog {
    /// Words the recogniser should expect in the current turn; `None` = the turn takes no speech.
    pub(super) fn hints(&self) -> Option<Vec<String>> {
        let words = |w: &[&str]| Some(w.iter().map(|s| s.to_string()).collect());
        match &self.state {
            State::Greeting | State::Dob { .. } => words(crate::speech::dates::DOB_HINTS),
            State::Confirm { .. } | State::ConfirmRequest { .. } | State::ConfirmMedication { .. } => words(&["yes", "no"]),
            State::Name { candidates, .. } => Some(candidates.iter().flat_map(|c| [c.given.clone(), c.family.clone()]).map(|n| n.chars().filter(|c| !c.is_ascii_digit()).collect()).collect()),
            State::AskRequest { .. } => words(&["prescription refill", "appointment", "test results", "referral", "billing", "prior authorization", "medical records", "call back", "symptoms"]),
            State::FollowUp { step: FollowUp::Medication, .. } => Some(self.medications.iter().take(20).cloned().collect()),
            State::FollowUp { step: FollowUp::Appointment, .. } => words(&["new appointment", "change", "reschedule", "cancel"]),
            State::FollowUp { step: FollowUp::Test, .. } => Some(self.triage.vocabulary("test")),
            State::FollowUp { step: FollowUp::Symptom, .. } => Some(Vec::new()),
            State::Appointment { step, .. } => step.hints(),
            // The keypad menu (after a request was not understood) still hears an emergency.
            State::Menu { .. } => Some(Vec::new()),
            _ => None,
        }
    }

    pub(super) fn key_answer(digit: char) -> Answer {
        match digit {
            '1' => Answer::Yes(InputMethod::Dtmf),
            '2' => Answer::No(InputMethod::Dtmf),
            _ => Answer::Unclear(Miss::InvalidKey),
        }
    }

    pub(super) fn spoken_answer(text: &str) -> Answer {
        match crate::triage::answer::yes_no(text) {
            Some(true) => Answer::Yes(InputMethod::Speech),
            Some(false) => Answer::No(InputMethod::Speech),
            None => Answer::Unclear(Miss::NotUnderstood),
        }
    }

    /// One utterance of the caller in a listening turn: red flags first, then the turn's answer.
    pub(super) fn speech_heard(&mut self, text: &str) {
        let classification = self.triage.classify(text);
        if classification.is_emergency() && !self.alerted {
            return self.emergency(&classification);
        }
        if classification.severity == Some(crate::triage::Severity::Urgent) {
            self.urgent_flags(&classification);
        }
        match self.state.clone() {
            State::Greeting => self.dob_over_greeting(text),
            State::Dob { attempt, digits } if digits.is_empty() => self.dob_spoken(attempt, text),
            State::Confirm { attempt, date, method, misses, chart } => self.confirm_answer(attempt, date, method, misses, chart, Self::spoken_answer(text)),
            State::Name { date, method, candidates, misses } => self.name_spoken(date, method, candidates, misses, text),
            State::AskRequest { misses } => self.request_spoken(misses, text, &classification),
            State::ConfirmRequest { kind, rules, misses } => self.request_answer(kind, rules, misses, Self::spoken_answer(text)),
            State::FollowUp { step, misses } => self.follow_up_spoken(step, misses, text, &classification),
            State::ConfirmMedication { name, clip, spoken, misses } => self.medication_answer(name, clip, spoken, misses, Self::spoken_answer(text)),
            State::Appointment { step, misses } => self.appointment_spoken(*step, misses, text, &classification),
            // Only screened: the menu is answered by key, whose wait starts again.
            State::Menu { .. } => self.deadline = self.after(self.config.first_digit_timeout()),
            _ => {}
        }
    }

    /// Speech recognition went away: the current turn is asked again with keypad prompts, or
    /// skipped when only a voice could answer it.
    pub(super) fn speech_lost(&mut self) {
        if !self.speech {
            return;
        }
        let stage = self.stage();
        self.log("speech_unavailable", json!({ "stage": stage }));
        self.speech = false;
        self.stop_listening();
        match self.state.clone() {
            State::Dob { attempt, digits } if digits.is_empty() => self.ask(State::Dob { attempt, digits }, Self::clips(&["enter-dob"])),
            State::Confirm { attempt, date, method, misses, chart } => {
                let prompts = Self::dob_question(date, &chart, false);
                self.ask(State::Confirm { attempt, date, method, misses, chart }, prompts)
            }
            State::Name { date, method, candidates, .. } => self.settle_patient(date, method, MatchStatus::Ambiguous, None, candidates.len()),
            State::AskRequest { .. } => self.open_menu(1, 0, vec![]),
            State::ConfirmRequest { kind, rules, misses } => {
                let prompts = Self::request_readback(kind, false);
                self.ask(State::ConfirmRequest { kind, rules, misses }, prompts)
            }
            State::FollowUp { step: FollowUp::Appointment, misses } => self.ask(State::FollowUp { step: FollowUp::Appointment, misses }, Self::clips(&["ask-appointment-keys"])),
            State::FollowUp { .. } => self.leave_message(vec![]),
            State::ConfirmMedication { spoken, .. } => {
                self.note("medication_spoken", spoken);
                self.leave_message(vec![]);
            }
            State::Appointment { step, misses } => self.appointment_keypad(*step, misses),
            // No sentence ends any more: the message ends by key or at its maximum length.
            State::Recording => {
                self.silence_ends = None;
                self.deadline = self.message_ends;
            }
            _ => {}
        }
    }

    /// After a missed yes/no question by voice: how to answer, by voice or key.
    pub(super) fn yes_no_help(&self) -> Vec<PromptItem> {
        if self.speech { Self::clips(&["yes-no-help"]) } else { Vec::new() }
    }
}
