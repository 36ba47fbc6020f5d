//! The turns of the appointment conversation: what each step says, and the caller's answer to it
//! by key or by voice (picks, "none of those", new times, yes/no), misses and re-prompts.

use serde_json::json;

use super::readback::{Said, label, read_back};
use super::spoken::wants_repeat;
use crate::ivr::dialog::{Answer, Dialog, Miss, State, explain};
use crate::media::PromptItem;
use crate::schedule::{Slot, SpokenChoice, TimeConstraint, Upcoming, VisitType, parse_choice};
use crate::store::record::InputMethod;
use crate::triage::Classification;
use crate::triage::answer::{menu_choice, yes_no};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::ivr::dialog) enum Intent {
    New,
    Change,
    Cancel,
}

impl Intent {
    pub(super) fn name(self) -> &'static str {
        match self {
            Intent::New => "new",
            Intent::Change => "change",
            Intent::Cancel => "cancel",
        }
    }
}

/// One search for slots and what it learnt so far.
#[derive(Debug, Clone, PartialEq)]
pub(in crate::ivr::dialog) struct Search {
    pub visit: VisitType,
    /// The patient's own provider; `None` once the caller accepted others (or none is known).
    pub practitioner: Option<String>,
    /// Where the own provider works: the place others are looked for.
    pub location: Option<String>,
    pub constraint: TimeConstraint,
    /// Slots offered and passed over, or lost to another caller.
    pub exclude: Vec<String>,
    /// The appointment being moved.
    pub replaces: Option<Upcoming>,
    /// Urgent symptoms: only slots within `urgent_max_days`.
    pub urgent: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(in crate::ivr::dialog) enum Step {
    Visit {
        replaces: Option<Upcoming>,
        types: Vec<VisitType>,
    },
    Symptom {
        search: Search,
    },
    Searching {
        search: Search,
        lead: Vec<PromptItem>,
    },
    /// The own provider has nothing: others at the same location?
    Widen {
        search: Search,
    },
    Offers {
        search: Search,
        slots: Vec<Slot>,
    },
    ConfirmSlot {
        search: Search,
        slots: Vec<Slot>,
        pick: usize,
    },
    Booking {
        search: Search,
        slot: Slot,
    },
    Listing {
        intent: Intent,
    },
    Choose {
        intent: Intent,
        list: Vec<Upcoming>,
    },
    ConfirmCancel {
        list: Vec<Upcoming>,
        pick: usize,
    },
    Cancelling {
        appointment: Upcoming,
    },
    /// Booked and the confirmation number said once: "to hear it again, press star".
    Repeat {
        confirmation: String,
    },
}

const VISIT_WORDS: [(VisitType, &str); 4] = [
    (VisitType::FollowUp, "follow up followup check recheck"),
    (VisitType::SickVisit, "sick ill unwell symptoms"),
    (VisitType::AnnualPhysical, "annual physical yearly checkup exam wellness"),
    (VisitType::NewPatient, "new patient first"),
];

impl Step {
    /// Waiting for the chart, not for the caller.
    pub(in crate::ivr::dialog) fn waiting(&self) -> bool {
        matches!(self, Step::Searching { .. } | Step::Booking { .. } | Step::Listing { .. } | Step::Cancelling { .. })
    }

    pub(super) fn name(&self) -> &'static str {
        match self {
            Step::Visit { .. } => "visit",
            Step::Symptom { .. } => "symptom",
            Step::Searching { .. } => "search",
            Step::Widen { .. } => "widen",
            Step::Offers { .. } => "offers",
            Step::ConfirmSlot { .. } => "confirm_slot",
            Step::Booking { .. } => "book",
            Step::Listing { .. } => "list",
            Step::Choose { .. } => "choose",
            Step::ConfirmCancel { .. } => "confirm_cancel",
            Step::Cancelling { .. } => "cancel",
            Step::Repeat { .. } => "repeat",
        }
    }

    /// Words for the recogniser in this step; `None` while waiting for the chart.
    pub(in crate::ivr::dialog) fn hints(&self) -> Option<Vec<String>> {
        let words: &[&str] = match self {
            Step::Visit { .. } => &["follow-up visit", "sick visit", "annual physical", "new patient"],
            Step::Symptom { .. } => &[],
            Step::Widen { .. } | Step::ConfirmSlot { .. } | Step::ConfirmCancel { .. } => &["yes", "no"],
            Step::Offers { .. } => {
                &["the first one", "the second one", "the third one", "none of those", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "morning", "afternoon", "next week", "after"]
            }
            Step::Choose { .. } => &["the first one", "the second one", "the third one"],
            Step::Repeat { .. } => &["repeat", "again", "no thank you"],
            _ => return None,
        };
        Some(words.iter().map(|w| w.to_string()).collect())
    }
}

/// Triage marks the words urgent: asked as urgent, or a red flag (urgent severity; emergencies
/// were already answered by the emergency path).
pub(in crate::ivr::dialog) fn marks_urgent(c: &Classification) -> bool {
    c.urgent || !c.red_flags.is_empty()
}

fn key_index(digit: char, count: usize) -> Option<usize> {
    digit.to_digit(10).map(|d| d as usize).filter(|d| (1..=count).contains(d)).map(|d| d - 1)
}

impl Dialog {
    pub(super) fn clip_item(name: &str) -> PromptItem {
        PromptItem::Clip(name.into())
    }

    pub(super) fn slot_read_back(&self, slot: &Slot, names: bool) -> Vec<PromptItem> {
        let own = self.appt.own_provider.as_deref() == Some(slot.practitioner_id.as_str());
        let said = Said { start: slot.start, practitioner_id: Some(&slot.practitioner_id), location_id: Some(&slot.location_id), own, names };
        read_back(&said, self.sched().time_zone, &self.sched().has_clip)
    }

    fn upcoming_read_back(&self, appointment: &Upcoming, names: bool) -> Vec<PromptItem> {
        let own = appointment.practitioner_id.is_some() && appointment.practitioner_id == self.appt.own_provider;
        let said = Said { start: appointment.start, practitioner_id: appointment.practitioner_id.as_deref(), location_id: appointment.location_id.as_deref(), own, names };
        read_back(&said, self.sched().time_zone, &self.sched().has_clip)
    }

    /// "Option 1, <item>. Option 2, …"; `who` names the provider and place of an item, said only
    /// when it changes from the item before (three times with one doctor name her once).
    fn numbered<T, W: PartialEq>(&self, items: &[T], who: impl Fn(&T) -> W, say: impl Fn(&Self, &T, bool) -> Vec<PromptItem>) -> Vec<PromptItem> {
        let mut prompts = Vec::new();
        for (i, item) in items.iter().enumerate() {
            prompts.push(Self::clip_item("option"));
            prompts.push(PromptItem::Clip(format!("digit-{}", i + 1)));
            let names = i == 0 || who(&items[i - 1]) != who(item);
            prompts.extend(say(self, item, names));
        }
        prompts
    }

    fn repeat_clip(&self) -> PromptItem {
        Self::clip_item(if self.speech { "confirmation-repeat-speech" } else { "confirmation-repeat-keys" })
    }

    fn confirm_clip(&self) -> PromptItem {
        Self::clip_item(if self.speech { "is-that-right" } else { "confirm-keys" })
    }

    /// What a step says when it is asked; `help` adds the keys to a spoken question (asked
    /// again after a miss: the first time a voice caller hears only the question).
    fn step_prompts(&self, step: &Step, help: bool) -> Vec<PromptItem> {
        let mut prompts = Vec::new();
        match step {
            Step::Visit { types, .. } => {
                let standard = *types == [VisitType::FollowUp, VisitType::SickVisit, VisitType::AnnualPhysical];
                if self.speech {
                    // The usual three named in the question itself.
                    prompts.push(Self::clip_item(if standard { "visit-ask-standard" } else { "appointment-visit-ask" }));
                }
                if standard {
                    if !self.speech || help {
                        // The usual list in one clip: shorter than naming each key.
                        prompts.push(Self::clip_item("visit-keys-standard"));
                    }
                    return prompts;
                }
                for (i, visit) in types.iter().enumerate() {
                    prompts.push(PromptItem::Clip(format!("visit-{}", visit.as_str().replace('_', "-"))));
                    prompts.push(Self::clip_item("press"));
                    prompts.push(PromptItem::Clip(format!("digit-{}", i + 1)));
                }
            }
            Step::Symptom { .. } => prompts.push(Self::clip_item("appointment-ask-symptom")),
            Step::Widen { .. } => prompts.extend([Self::clip_item("appointment-widen"), Self::clip_item("yes-no-keys")]),
            Step::Offers { slots, .. } => {
                prompts.push(Self::clip_item(if self.speech { "offers-lead-speech" } else { "appointment-offers" }));
                prompts.extend(self.numbered(slots, |s| (s.practitioner_id.clone(), s.location_id.clone()), |d, s, names| d.slot_read_back(s, names)));
                prompts.push(Self::clip_item(if self.speech { "offers-speech" } else { "offers-keys" }));
            }
            Step::ConfirmSlot { slots, pick, .. } => {
                prompts.push(Self::clip_item("you-chose"));
                prompts.extend(self.slot_read_back(&slots[*pick], true));
                prompts.push(Self::clip_item(if self.speech { "is-that-right" } else { "book-keys" }));
            }
            Step::Choose { list, .. } => {
                prompts.push(Self::clip_item("appointment-list"));
                prompts.extend(self.numbered(list, |a| (a.practitioner_id.clone(), a.location_id.clone()), |d, a, names| d.upcoming_read_back(a, names)));
                // A voice caller heard the option numbers: just the question, keys after a miss.
                prompts.push(Self::clip_item(if self.speech && !help { "list-speech" } else { "list-keys" }));
            }
            Step::ConfirmCancel { list, pick } => {
                prompts.push(Self::clip_item("cancel-confirm"));
                prompts.extend(self.upcoming_read_back(&list[*pick], true));
                prompts.push(self.confirm_clip());
            }
            Step::Repeat { confirmation } => prompts.extend([Self::clip_item("confirmation-number"), PromptItem::Digits(confirmation.clone()), self.repeat_clip()]),
            Step::Searching { .. } | Step::Booking { .. } | Step::Listing { .. } | Step::Cancelling { .. } => {}
        }
        prompts
    }

    pub(super) fn ask_step(&mut self, step: Step, misses: u32, lead: Vec<PromptItem>) {
        let mut prompts = lead;
        prompts.extend(self.step_prompts(&step, misses > 0));
        self.ask(State::Appointment { step: Box::new(step), misses }, prompts);
    }

    pub(in crate::ivr::dialog) fn appointment_key(&mut self, step: Step, misses: u32, digit: char) {
        if digit == '#' && !step.waiting() {
            return self.ask_step(step, misses, Vec::new());
        }
        match step {
            Step::Visit { replaces, types } => match key_index(digit, types.len()) {
                Some(i) => self.visit_chosen(replaces, types[i], InputMethod::Dtmf, vec![]),
                None => self.appointment_miss(Step::Visit { replaces, types }, misses, Miss::InvalidKey),
            },
            Step::Symptom { search } => {
                self.log("follow_up_skipped", json!({ "method": "dtmf", "stage": "appointment_symptom" }));
                self.find(search, Vec::new())
            }
            Step::Offers { search, slots } => match (digit, key_index(digit, slots.len())) {
                (_, Some(i)) => self.pick_slot(search, slots, i, InputMethod::Dtmf),
                ('0', None) => self.more_slots(search, &slots),
                _ => self.appointment_miss(Step::Offers { search, slots }, misses, Miss::InvalidKey),
            },
            Step::Choose { intent, list } => match key_index(digit, list.len()) {
                Some(i) => self.upcoming_chosen(intent, list, i, InputMethod::Dtmf),
                None => self.appointment_miss(Step::Choose { intent, list }, misses, Miss::InvalidKey),
            },
            step @ (Step::Widen { .. } | Step::ConfirmSlot { .. } | Step::ConfirmCancel { .. }) => self.step_answer(step, misses, Self::key_answer(digit)),
            Step::Repeat { confirmation } if digit == '*' => self.repeat_answer(confirmation, true),
            // A stray key after the booking changes nothing; silence then says goodbye.
            Step::Repeat { .. } => {}
            Step::Searching { .. } | Step::Booking { .. } | Step::Listing { .. } | Step::Cancelling { .. } => {}
        }
    }

    pub(in crate::ivr::dialog) fn appointment_spoken(&mut self, step: Step, misses: u32, text: &str, c: &Classification) {
        if step.waiting() {
            return;
        }
        if text.is_empty() {
            return self.appointment_miss(step, misses, Miss::NoInput);
        }
        self.appt.symptom_urgent |= marks_urgent(c);
        match step {
            Step::Repeat { confirmation } => self.repeat_answer(confirmation, wants_repeat(text)),
            Step::Visit { replaces, types } => {
                let labels: Vec<&str> = types.iter().map(|t| VISIT_WORDS.iter().find(|(v, _)| v == t).map_or("", |(_, w)| *w)).collect();
                match menu_choice(text, &labels) {
                    Some(i) => self.visit_chosen(replaces, types[i], InputMethod::Speech, vec![]),
                    None => self.appointment_miss(Step::Visit { replaces, types }, misses, Miss::NotUnderstood),
                }
            }
            Step::Symptom { mut search } => {
                let mut detail = explain(c);
                detail["method"] = json!("speech");
                self.log("symptom_noted", detail);
                self.note("symptom", text.to_string());
                search.urgent |= marks_urgent(c);
                self.find(search, Vec::new())
            }
            Step::Offers { search, slots } => self.offer_spoken(search, slots, misses, text),
            Step::Choose { intent, list } => {
                let labels: Vec<String> = list.iter().map(|a| label(a.start, self.sched().time_zone)).collect();
                match menu_choice(text, &labels.iter().map(String::as_str).collect::<Vec<_>>()) {
                    Some(i) => self.upcoming_chosen(intent, list, i, InputMethod::Speech),
                    None => self.appointment_miss(Step::Choose { intent, list }, misses, Miss::NotUnderstood),
                }
            }
            step => self.step_answer(step, misses, Self::spoken_answer(text)),
        }
    }

    /// "The second one", "Tuesday morning", "anything after three next week", "none of those".
    fn offer_spoken(&mut self, mut search: Search, slots: Vec<Slot>, misses: u32, text: &str) {
        let today = self.local_today();
        match parse_choice(text, today) {
            Some(SpokenChoice::Pick(i)) if i < slots.len() => return self.pick_slot(search, slots, i, InputMethod::Speech),
            Some(SpokenChoice::Constraint(constraint)) => {
                self.log(
                    "appointment_constraint",
                    json!({ "weekdays": constraint.weekdays.len(), "from_date": constraint.from_date, "to_date": constraint.to_date, "after": constraint.after, "before": constraint.before }),
                );
                search.constraint = constraint;
                search.exclude.clear();
                return self.find(search, Vec::new());
            }
            Some(SpokenChoice::Other) => return self.more_slots(search, &slots),
            _ => {}
        }
        let labels: Vec<String> = slots.iter().map(|s| label(s.start, self.sched().time_zone)).collect();
        if let Some(i) = menu_choice(text, &labels.iter().map(String::as_str).collect::<Vec<_>>()) {
            return self.pick_slot(search, slots, i, InputMethod::Speech);
        }
        if yes_no(text) == Some(false) {
            return self.more_slots(search, &slots);
        }
        self.appointment_miss(Step::Offers { search, slots }, misses, Miss::NotUnderstood)
    }

    fn pick_slot(&mut self, search: Search, slots: Vec<Slot>, pick: usize, by: InputMethod) {
        self.log("appointment_pick", json!({ "index": pick, "method": by }));
        self.ask_step(Step::ConfirmSlot { search, slots, pick }, 0, Vec::new());
    }

    /// A yes/no step answered.
    fn step_answer(&mut self, step: Step, misses: u32, answer: Answer) {
        let by = match answer {
            Answer::Unclear(miss) => return self.appointment_miss(step, misses, miss),
            Answer::Yes(by) | Answer::No(by) => by,
        };
        let yes = matches!(answer, Answer::Yes(_));
        self.log("appointment_answer", json!({ "step": step.name(), "yes": yes, "method": by }));
        match (step, yes) {
            (Step::Widen { mut search }, true) => {
                search.practitioner = None;
                self.find(search, Vec::new())
            }
            (Step::Widen { search }, false) if search.urgent => self.triage_path(Vec::new()),
            (Step::Widen { mut search }, false) if search.constraint != TimeConstraint::default() => {
                // Not another provider: the own provider's earliest times without the constraint.
                search.constraint = TimeConstraint::default();
                self.find(search, vec![Self::clip_item("appointment-none-matching")])
            }
            (Step::Widen { .. }, false) => self.appointment_staff("declined_others", vec!["appointment-staff"]),
            (Step::ConfirmSlot { search, slots, pick }, true) => {
                let slot = slots[pick].clone();
                self.book(search, slot)
            }
            (Step::ConfirmSlot { search, slots, .. }, false) => self.ask_step(Step::Offers { search, slots }, 0, Vec::new()),
            (Step::ConfirmCancel { list, pick }, true) => {
                let appointment = list[pick].clone();
                self.cancel(appointment)
            }
            (Step::ConfirmCancel { list, .. }, false) => self.ask_step(Step::Choose { intent: Intent::Cancel, list }, 0, Vec::new()),
            _ => {}
        }
    }

    fn appointment_miss(&mut self, step: Step, misses: u32, miss: Miss) {
        self.log(miss.kind(), json!({ "stage": "appointment", "step": step.name() }));
        match step {
            Step::Symptom { search } => return self.find(search, Vec::new()),
            // Silence after the confirmation number: goodbye.
            Step::Repeat { confirmation } => return self.repeat_answer(confirmation, false),
            _ => {}
        }
        if misses + 1 >= self.config.key_retries {
            return self.staff_default("appointment");
        }
        let mut lead = vec![Self::clip_item(miss.clip())];
        if matches!(step, Step::Widen { .. } | Step::ConfirmSlot { .. } | Step::ConfirmCancel { .. }) {
            lead.extend(self.yes_no_help());
        }
        self.ask_step(step, misses + 1, lead);
    }

    /// A deadline: the chart did not answer in time, or the caller did not.
    pub(in crate::ivr::dialog) fn appointment_timeout(&mut self, step: Step, misses: u32, miss: Miss) {
        if step.waiting() {
            self.log("appointment_timeout", json!({ "step": step.name() }));
            return self.appointment_failed(step.name());
        }
        self.appointment_miss(step, misses, miss)
    }

    /// Speech went away: the step is asked again with keypad prompts (the symptom is skipped).
    pub(in crate::ivr::dialog) fn appointment_keypad(&mut self, step: Step, misses: u32) {
        match step {
            Step::Symptom { search } => self.find(search, Vec::new()),
            step if step.waiting() => self.state = State::Appointment { step: Box::new(step), misses },
            step => self.ask_step(step, misses, Vec::new()),
        }
    }
}
