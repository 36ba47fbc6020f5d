//! The end of the call: the emergency path (911 prompt, or a transfer that falls back to it), the
//! message after the tone (screened sentence by sentence while it is said, ended by a key, a long
//! silence or its maximum length), the reference number and what happens next.

use serde_json::json;

use super::{Dialog, State, explain};
use crate::ivr::Action;
use crate::media::PromptItem;
use crate::store::record::InputMethod;
use crate::triage::{Classification, RequestType};

impl Dialog {
    /// Red flags of urgent severity (high fever, worsening, a medication reaction): no 911 prompt,
    /// the conversation goes on, but the call is marked urgent for same-day (or on-call) handling.
    pub(super) fn urgent_flags(&mut self, c: &Classification) {
        self.urgent = true;
        let mut detail = explain(c);
        detail["stage"] = json!(self.stage());
        self.log("urgent_flags", detail);
        self.actions.push_back(Action::Urgent { red_flags: c.red_flag_ids() });
    }

    /// A red flag of emergency severity in what the caller said: the 911 prompt at once
    /// (interrupting what plays) or the configured transfer, the call marked urgent, the on-call
    /// provider alerted. Without a transfer (or when it fails) the caller may stay and leave a
    /// message; one being recorded goes on under the 911 prompt.
    pub(super) fn emergency(&mut self, c: &Classification) {
        self.alerted = true;
        self.urgent = true;
        let stage = self.stage();
        let recording = self.state == State::Recording;
        let transfer = self.config.emergency_transfer.clone();
        match &transfer {
            Some(target) => self.start_transfer(target.clone(), recording),
            None => self.emergency_prompt(recording),
        }
        let mut detail = explain(c);
        detail["stage"] = json!(stage);
        detail["action"] = json!(if transfer.is_some() { "transfer" } else { "prompt_911" });
        self.log("emergency", detail);
        self.actions.push_back(Action::Urgent { red_flags: c.red_flag_ids() });
        self.actions.push_back(Action::AlertOnCall);
        if self.request.is_none() {
            self.request = Some(RequestType::Urgent);
            self.actions.push_back(Action::Request { kind: RequestType::Urgent, chosen_by: InputMethod::Speech });
        }
    }

    /// The 911 prompt; then the message after the tone, or the one being recorded goes on.
    fn emergency_prompt(&mut self, recording: bool) {
        if recording {
            self.state = State::Recording;
            self.silence_ends = None;
            self.deadline = self.message_ends;
            return self.play_keeping_deadline(Self::clips(&["emergency"]));
        }
        self.stop_listening();
        self.state = State::Beep;
        self.play(Self::clips(&["emergency", "emergency-stay", "tone"]), false);
    }

    /// "Connecting you now" and ringback while the transfer runs; the SIP side answers within
    /// `transfer_timeout_ms` (a little later still, this dialog gives up on it by itself).
    fn start_transfer(&mut self, target: String, recording: bool) {
        if !recording {
            self.stop_listening();
        }
        let timeout = self.config.transfer_timeout();
        self.log("transfer_started", json!({ "target": target, "reason": "emergency", "timeout_ms": self.config.transfer_timeout_ms }));
        self.actions.push_back(Action::Transfer { target: target.clone(), timeout });
        self.state = State::Transferring { target, recording };
        self.play(Self::clips(&["connecting", "ringback"]), false);
        let now = self.now.expect("handling an event");
        let gives_up = now + timeout + std::time::Duration::from_secs(2);
        self.transfer_ends = Some((gives_up, now));
        self.deadline = Some(gives_up);
    }

    /// Plays without cancelling the deadline that runs (message length, transfer).
    pub(super) fn play_keeping_deadline(&mut self, prompts: Vec<crate::media::PromptItem>) {
        let deadline = self.deadline;
        self.play(prompts, false);
        self.deadline = deadline;
    }

    /// Logs how the transfer ended (target, outcome, how long it took); whether the message is
    /// being recorded, or `None` when no transfer runs.
    fn transfer_outcome(&mut self, outcome: &str, reason: Option<&str>) -> Option<bool> {
        let State::Transferring { target, recording } = self.state.clone() else { return None };
        let ms = match (self.transfer_ends.take(), self.now) {
            (Some((_, started)), Some(now)) => now.saturating_duration_since(started).as_millis() as u64,
            _ => 0,
        };
        self.log("transfer", json!({ "target": target, "outcome": outcome, "reason": reason, "ms": ms }));
        Some(recording)
    }

    /// The caller is connected elsewhere: our leg ends (BYE).
    pub(super) fn transfer_succeeded(&mut self) {
        let Some(recording) = self.transfer_outcome("succeeded", None) else { return };
        if recording {
            self.actions.push_back(Action::StopRecording);
        }
        self.stop_listening();
        self.actions.push_back(Action::Hangup);
        self.state = State::Done;
        self.deadline = None;
    }

    /// The transfer did not happen: the 911 prompt, and the emergency path goes on.
    pub(super) fn transfer_failed(&mut self, reason: &str) {
        let Some(recording) = self.transfer_outcome("failed", Some(reason)) else { return };
        self.deadline = None;
        self.emergency_prompt(recording);
    }

    /// The caller started (`true`) or stopped talking while leaving the message: a silence of
    /// `message_end_silence_ms` from the end of the last sentence ends it.
    pub(super) fn message_speech(&mut self, talking: bool) {
        match (talking, self.now) {
            (true, _) => {
                self.silence_ends = None;
                self.deadline = self.message_ends;
            }
            (false, Some(now)) => self.silence_started(now),
            (false, None) => {}
        }
    }

    /// A silence starts now (recording, speech on).
    pub(super) fn silence_started(&mut self, now: std::time::Instant) {
        self.silence_ends = self.speech.then(|| now + self.config.message_end_silence());
        self.deadline = match (self.message_ends, self.silence_ends) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// One sentence of the message, transcribed as it was said: an emergency in it is acted on
    /// now, not after the call. The message's own transcript is made from the whole recording.
    pub(super) fn screen_message(&mut self, text: &str) {
        let classification = self.triage.classify(text);
        if classification.is_emergency() && !self.alerted {
            self.emergency(&classification);
        } else if classification.severity == Some(crate::triage::Severity::Urgent) && !self.urgent {
            self.urgent_flags(&classification);
        }
    }

    pub(super) fn stop_message(&mut self) {
        self.message_ends = None;
        self.silence_ends = None;
        self.deadline = None;
        self.actions.push_back(Action::StopRecording);
    }

    /// The message is being recorded (also while a transfer runs over it).
    pub(super) fn recording(&self) -> bool {
        matches!(self.state, State::Recording | State::Transferring { recording: true, .. })
    }

    /// Nothing understood at a step: the message goes to staff.
    pub(super) fn staff_default(&mut self, stage: &str) {
        self.log("fallback_staff", json!({ "stage": stage }));
        self.leave_message(Self::clips(&["staff-default"]));
    }

    pub(super) fn leave_message(&mut self, lead: Vec<PromptItem>) {
        self.stop_listening();
        self.state = State::Beep;
        let mut prompts = lead;
        prompts.extend(Self::clips(&["record-after-tone", "tone"]));
        self.play(prompts, false);
    }

    pub(super) fn recording_stopped(&mut self, duration_ms: u64, rms: f32) {
        if !matches!(self.state, State::Recording | State::Done) {
            return;
        }
        let empty = duration_ms < 700 || rms < 0.002;
        self.log("recording_stopped", json!({ "duration_ms": duration_ms, "empty": empty }));
        if self.state == State::Done {
            return;
        }
        self.state = State::Closing;
        let next = if self.urgent {
            "next-steps-urgent"
        } else if self.setup.after_hours {
            "next-steps-after-hours"
        } else {
            "next-steps"
        };
        let mut prompts = Self::clips(&[if empty { "message-empty" } else { "message-saved" }, "reference-number"]);
        prompts.push(PromptItem::Digits(self.setup.reference.clone()));
        prompts.extend(Self::clips(&[next, "goodbye"]));
        let reference = self.setup.reference.clone();
        self.log("reference_given", json!({ "reference": reference, "next_steps": next }));
        self.play(prompts, false);
    }
}
