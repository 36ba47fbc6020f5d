//! What the call is about: spoken ("In a few words, tell me why you're calling"), classified by
//! triage and confirmed, or chosen on the keypad menu; then one follow-up per request type
//! (which medication, new/change/cancel, which test, the symptom described).

use serde_json::json;

use super::{Answer, Dialog, FollowUp, Miss, State, explain};
use crate::ivr::Action;
use crate::ivr::matching::medication_clip;
use crate::media::PromptItem;
use crate::store::record::InputMethod;
use crate::triage::medication::best_match;
use crate::triage::{Classification, RequestType};

/// Spoken labels of the appointment follow-up, in key order 1–3.
const APPOINTMENT_CHOICES: [(&str, &str); 3] = [("new", "new book schedule make first"), ("change", "change reschedule move different"), ("cancel", "cancel cancellation")];

impl Dialog {
    /// Asks what the call is about: by voice when speech is on, else the keypad menu.
    pub(super) fn ask_request(&mut self, lead: Vec<PromptItem>) {
        if !self.speech {
            return self.open_menu(1, 0, lead);
        }
        let mut prompts = lead;
        prompts.push(PromptItem::Clip("ask-request".into()));
        self.ask(State::AskRequest { misses: 0 }, prompts);
    }

    /// A key during the spoken request question: 0 or # opens the full menu, others are page 1.
    pub(super) fn request_key(&mut self, misses: u32, digit: char) {
        if digit == '0' || digit == '#' {
            return self.open_menu(1, 0, vec![]);
        }
        self.menu_key(1, misses, digit)
    }

    pub(super) fn request_spoken(&mut self, misses: u32, text: &str, c: &Classification) {
        if text.is_empty() || (c.detected.is_none() && !c.urgent) {
            self.log("request_not_understood", json!({ "rules": c.rules.iter().map(|r| r.id.as_str()).collect::<Vec<_>>() }));
            return self.request_miss(misses, if text.is_empty() { Miss::NoInput } else { Miss::NotUnderstood });
        }
        let mut detail = explain(c);
        detail["method"] = json!("speech");
        self.log("request_heard", detail);
        self.appt.symptom_urgent |= super::appointment::marks_urgent(c);
        self.appointment_words(text);
        let rules = c.rules.iter().map(|r| r.id.clone()).collect();
        let prompts = Self::request_readback(c.request, self.speech);
        self.ask(State::ConfirmRequest { kind: c.request, rules, misses: 0 }, prompts);
    }

    pub(super) fn request_miss(&mut self, misses: u32, miss: Miss) {
        self.log(miss.kind(), json!({ "stage": "request" }));
        if misses + 1 >= self.config.speech_attempts {
            self.log("request_keypad", json!({ "reason": miss.kind() }));
            return self.open_menu(1, 0, Self::clips(&[miss.clip()]));
        }
        self.ask(State::AskRequest { misses: misses + 1 }, Self::clips(&[miss.clip(), "ask-request"]));
    }

    pub(super) fn request_readback(kind: RequestType, speech: bool) -> Vec<PromptItem> {
        let label = format!("label-{}", kind.name().replace('_', "-"));
        vec![PromptItem::Clip(label), PromptItem::Clip(if speech { "is-that-right" } else { "confirm-keys" }.into())]
    }

    pub(super) fn request_answer(&mut self, kind: RequestType, rules: Vec<String>, misses: u32, answer: Answer) {
        match answer {
            Answer::Yes(by) => {
                self.log("request_confirmed", json!({ "method": by }));
                self.choose_request(kind, InputMethod::Speech, rules)
            }
            Answer::No(by) => {
                self.log("request_rejected", json!({ "method": by }));
                self.appt.visit_hint = None;
                self.open_menu(1, 0, vec![])
            }
            Answer::Unclear(miss) => {
                self.log(miss.kind(), json!({ "stage": "request_confirm" }));
                if misses + 1 >= self.config.key_retries {
                    return self.staff_default("request_confirm");
                }
                let mut prompts = Self::clips(&[miss.clip()]);
                prompts.extend(Self::request_readback(kind, self.speech));
                prompts.extend(self.yes_no_help());
                self.ask(State::ConfirmRequest { kind, rules, misses: misses + 1 }, prompts);
            }
        }
    }

    pub(super) fn open_menu(&mut self, page: u8, misses: u32, lead: Vec<PromptItem>) {
        let mut prompts = lead;
        prompts.extend(self.menu_prompts(page));
        self.ask(State::Menu { page, misses }, prompts);
    }

    fn menu_prompts(&self, page: u8) -> Vec<PromptItem> {
        let mut names: Vec<&str> = vec!["menu-intro"];
        names.extend(self.config.menu.iter().filter(|e| e.page == page).map(|e| e.prompt.as_str()));
        if page == 1 {
            names.push("menu-more");
        }
        names.push("menu-repeat");
        Self::clips(&names)
    }

    pub(super) fn menu_key(&mut self, page: u8, misses: u32, digit: char) {
        if digit == '#' {
            return self.open_menu(page, misses, vec![]);
        }
        if digit == '0' && page == 1 {
            return self.open_menu(2, misses, vec![]);
        }
        let choice = self.config.menu.iter().find(|e| e.page == page && e.key == digit).and_then(|e| RequestType::from_code(e.code));
        match choice {
            Some(kind) => self.choose_request(kind, InputMethod::Dtmf, vec![]),
            None => self.menu_miss(page, misses, Miss::InvalidKey),
        }
    }

    pub(super) fn menu_miss(&mut self, page: u8, misses: u32, miss: Miss) {
        self.log(miss.kind(), json!({ "stage": "menu" }));
        if misses + 1 >= self.config.key_retries {
            return self.staff_default("menu");
        }
        self.open_menu(page, misses + 1, Self::clips(&[miss.clip()]));
    }

    /// The request is known: record it, then its follow-up question.
    pub(super) fn choose_request(&mut self, kind: RequestType, chosen_by: InputMethod, rules: Vec<String>) {
        self.log("request_chosen", json!({ "type": kind.name(), "code": kind.code().to_string(), "method": chosen_by, "rules": rules }));
        self.urgent |= kind == RequestType::Urgent;
        self.request = Some(kind);
        self.actions.push_back(Action::Request { kind, chosen_by });
        // "I need to cancel my appointment", confirmed: the intent is not asked again.
        if kind == RequestType::Appointment
            && chosen_by == InputMethod::Speech
            && let Some(action) = self.spoken_intent()
        {
            return self.appointment(action, InputMethod::Speech);
        }
        let step = match kind {
            RequestType::Refill if self.speech => FollowUp::Medication,
            RequestType::Appointment => FollowUp::Appointment,
            RequestType::Results if self.speech => FollowUp::Test,
            RequestType::Symptom if self.speech => FollowUp::Symptom,
            _ => return self.leave_message(vec![]),
        };
        let prompt = self.follow_up_prompt(step);
        self.ask(State::FollowUp { step, misses: 0 }, Self::clips(&[prompt]));
    }

    fn follow_up_prompt(&self, step: FollowUp) -> &'static str {
        match step {
            FollowUp::Medication => "ask-medication",
            FollowUp::Appointment if self.speech => "ask-appointment",
            FollowUp::Appointment => "ask-appointment-keys",
            FollowUp::Test => "ask-test",
            FollowUp::Symptom => "ask-symptom",
        }
    }

    pub(super) fn follow_up_key(&mut self, step: FollowUp, misses: u32, digit: char) {
        if step == FollowUp::Appointment {
            return match digit {
                '1'..='3' => self.appointment(APPOINTMENT_CHOICES[digit as usize - '1' as usize].0, InputMethod::Dtmf),
                _ => self.follow_up_miss(step, misses, Miss::InvalidKey),
            };
        }
        // Only a voice answers the other questions: a key skips them.
        self.log("follow_up_skipped", json!({ "method": "dtmf" }));
        self.leave_message(vec![])
    }

    pub(super) fn follow_up_spoken(&mut self, step: FollowUp, misses: u32, text: &str, c: &Classification) {
        if text.is_empty() {
            return self.follow_up_miss(step, misses, Miss::NoInput);
        }
        match step {
            FollowUp::Appointment => {
                self.appointment_words(text);
                if let Some(action) = self.spoken_intent() {
                    return self.appointment(action, InputMethod::Speech);
                }
                let labels: Vec<&str> = APPOINTMENT_CHOICES.iter().map(|(_, words)| *words).collect();
                match crate::triage::answer::menu_choice(text, &labels) {
                    Some(i) => self.appointment(APPOINTMENT_CHOICES[i].0, InputMethod::Speech),
                    None => self.follow_up_miss(step, misses, Miss::NotUnderstood),
                }
            }
            FollowUp::Medication => self.medication_spoken(text),
            FollowUp::Test => {
                self.log("test_noted", json!({ "method": "speech" }));
                self.note("test", text.to_string());
                self.leave_message(vec![])
            }
            FollowUp::Symptom => {
                let mut detail = explain(c);
                detail["method"] = json!("speech");
                self.log("symptom_noted", detail);
                self.note("symptom", text.to_string());
                self.leave_message(vec![])
            }
        }
    }

    pub(super) fn follow_up_miss(&mut self, step: FollowUp, misses: u32, miss: Miss) {
        self.log(miss.kind(), json!({ "stage": "follow_up" }));
        let limit = if step == FollowUp::Appointment { self.config.key_retries } else { self.config.speech_attempts };
        if misses + 1 >= limit {
            return self.leave_message(vec![]);
        }
        let prompt = self.follow_up_prompt(step);
        let mut prompts = Self::clips(&[miss.clip(), prompt]);
        if step == FollowUp::Appointment && self.speech {
            // The spoken question names no keys; asked again, it does.
            prompts.push(PromptItem::Clip("ask-appointment-keys".into()));
        }
        self.ask(State::FollowUp { step, misses: misses + 1 }, prompts);
    }

    fn appointment(&mut self, action: &str, by: InputMethod) {
        self.log("appointment_action", json!({ "action": action, "method": by }));
        self.note("appointment", action.to_string());
        self.start_appointment(action, by)
    }

    /// A spoken drug name: matched against the patient's active medications (or, without a chart,
    /// the triage vocabulary); read back when a clip names it, otherwise noted for staff.
    fn medication_spoken(&mut self, text: &str) {
        let vocabulary = self.triage.vocabulary("med");
        let from_chart = !self.medications.is_empty();
        let candidates = if from_chart { self.medications.clone() } else { vocabulary.clone() };
        let matched = best_match(text, &candidates).map(|(i, score)| (candidates[i].clone(), score));
        let clip = matched.as_ref().and_then(|(name, _)| medication_clip(name, &vocabulary));
        self.log("medication_heard", json!({ "matched": matched.is_some(), "from_chart": from_chart, "readback": clip.is_some(), "score": matched.as_ref().map(|m| m.1) }));
        match (matched, clip) {
            (Some((name, _)), Some(clip)) => {
                let prompts = vec![PromptItem::Clip("i-heard".into()), PromptItem::Clip(clip.clone()), PromptItem::Clip(if self.speech { "is-that-right" } else { "confirm-keys" }.into())];
                self.ask(State::ConfirmMedication { name, clip, spoken: text.to_string(), misses: 0 }, prompts);
            }
            (Some((name, _)), None) => {
                self.note("medication", name);
                self.note("medication_spoken", text.to_string());
                self.leave_message(Self::clips(&["medication-noted"]))
            }
            (None, _) => {
                self.note("medication_spoken", text.to_string());
                self.leave_message(Self::clips(&["medication-noted"]))
            }
        }
    }

    pub(super) fn medication_answer(&mut self, name: String, clip: String, spoken: String, misses: u32, answer: Answer) {
        match answer {
            Answer::Yes(by) => {
                self.log("medication_confirmed", json!({ "method": by }));
                self.note("medication", name);
                self.leave_message(vec![])
            }
            Answer::No(by) => {
                self.log("medication_rejected", json!({ "method": by }));
                self.note("medication_spoken", spoken);
                self.leave_message(Self::clips(&["medication-noted"]))
            }
            Answer::Unclear(miss) => {
                self.log(miss.kind(), json!({ "stage": "medication_confirm" }));
                if misses + 1 >= self.config.key_retries {
                    self.note("medication_spoken", spoken);
                    return self.leave_message(Self::clips(&["medication-noted"]));
                }
                let mut prompts = vec![
                    PromptItem::Clip(miss.clip().into()),
                    PromptItem::Clip("i-heard".into()),
                    PromptItem::Clip(clip.clone()),
                    PromptItem::Clip(if self.speech { "is-that-right" } else { "confirm-keys" }.into()),
                ];
                prompts.extend(self.yes_no_help());
                self.ask(State::ConfirmMedication { name, clip, spoken, misses: misses + 1 }, prompts);
            }
        }
    }
}
