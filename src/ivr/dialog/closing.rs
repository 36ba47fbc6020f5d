//! The end of the call: the emergency path, the message after the tone, the reference number and
//! what happens next.

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
    /// provider alerted. Without a transfer the caller may stay and leave a message.
    pub(super) fn emergency(&mut self, c: &Classification) {
        self.alerted = true;
        self.urgent = true;
        let stage = self.stage();
        let transfer = self.config.emergency_transfer.clone();
        if transfer.is_none() {
            self.stop_listening();
            self.state = State::Beep;
            self.play(Self::clips(&["emergency", "emergency-stay", "tone"]), false);
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
        if let Some(target) = transfer {
            self.stop_listening();
            self.actions.push_back(Action::Transfer { target });
            self.state = State::Done;
            self.deadline = None;
        }
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
