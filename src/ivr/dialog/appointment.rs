//! The appointment conversation (request type B): new, change or cancel, against the chart's
//! schedule. New: the kind of visit (it sets the length), the three earliest free slots with the
//! patient's own provider, then, if the caller accepts, with others at the same location; the
//! caller picks by key or by voice, or asks for other times ("Tuesday morning"); the pick is read
//! back (day, date, time, provider, location), confirmed, booked, and the confirmation number
//! given once with an offer to hear it again. A visit type or intent the caller already said ("I
//! need a follow-up appointment") is not asked again; spoken questions name no keys until a miss,
//! and the caller's voice may cut any question or list short. Change: the upcoming appointments are listed, one is picked, new slots offered and
//! booked with `replaces` (the chart frees the old slot only once the new one is booked). Cancel:
//! pick, confirm, cancel. A slot lost to another caller is said at once and the next slots
//! offered. Urgent symptoms are only offered slots within `urgent_max_days`, else they go to the
//! triage path (the message to staff, marked urgent). Whatever cannot be done by phone goes to
//! the message with what was learnt noted.

mod readback;
mod spoken;
mod steps;

use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::json;

pub use readback::ClipCheck;
pub(super) use steps::{Step, marks_urgent};

use super::{Dialog, Event, State};
use crate::ivr::Action;
use crate::media::PromptItem;
use crate::schedule::{Booked, BookingRequest, SchedulingConfig, Slot, SlotQuery, TimeConstraint, Upcoming, VisitType};
use crate::store::record::{InputMethod, MatchStatus};
use steps::{Intent, Search};

/// What the driver gives the dialog so callers can schedule.
#[derive(Clone)]
pub struct Scheduling {
    pub config: SchedulingConfig,
    /// The practice's time zone: days and times are read back and understood in it.
    pub time_zone: Tz,
    /// The wall clock at the instant passed to `Dialog::start` (the dialog's own time maps onto it).
    pub started_at: DateTime<Utc>,
    /// The call's id, sent with each booking (idempotency and audit).
    pub call_id: String,
    /// Which prompt clips exist (practitioner and location names).
    pub has_clip: ClipCheck,
}

/// The dialog's scheduling knowledge.
#[derive(Default)]
pub(super) struct Context {
    pub scheduling: Option<Scheduling>,
    pub anchor: Option<Instant>,
    /// How the caller was matched to a chart, and the chart.
    pub patient: (MatchStatus, Option<String>),
    pub own_provider: Option<String>,
    /// Triage found an urgent symptom in what the caller said.
    pub symptom_urgent: bool,
    /// The visit type the caller already named ("a follow-up appointment"): not asked again.
    pub visit_hint: Option<VisitType>,
    /// New, change or cancel, when the spoken request already said it.
    pub intent_hint: Option<&'static str>,
}

impl Dialog {
    fn sched(&self) -> &Scheduling {
        self.appt.scheduling.as_ref().expect("appointment steps run only with scheduling")
    }

    /// The wall clock now, on the dialog's (possibly simulated) time.
    fn wall_now(&self) -> DateTime<Utc> {
        let s = self.sched();
        let elapsed = match (self.now, self.appt.anchor) {
            (Some(now), Some(anchor)) => now.saturating_duration_since(anchor),
            _ => std::time::Duration::ZERO,
        };
        s.started_at + chrono::Duration::from_std(elapsed).unwrap_or_default()
    }

    fn local_today(&self) -> NaiveDate {
        self.wall_now().with_timezone(&self.sched().time_zone).date_naive()
    }

    /// Remembers what a spoken request or answer says about the appointment (visit type, intent),
    /// so those questions are skipped.
    pub(super) fn appointment_words(&mut self, text: &str) {
        if let Some(visit) = spoken::named_visit(text) {
            self.appt.visit_hint = Some(visit);
        }
        self.appt.intent_hint = spoken::named_intent(text);
    }

    /// The intent said with the request (taken once).
    pub(super) fn spoken_intent(&mut self) -> Option<&'static str> {
        self.appt.intent_hint.take()
    }

    /// The caller chose new, change or cancel.
    pub(super) fn start_appointment(&mut self, action: &str, _by: InputMethod) {
        if self.appt.scheduling.is_none() {
            return self.leave_message(vec![]);
        }
        let intent = match action {
            "change" => Intent::Change,
            "cancel" => Intent::Cancel,
            _ => Intent::New,
        };
        if intent == Intent::New {
            return self.ask_visit(None, vec![]);
        }
        let Some(patient_id) = self.appt.patient.1.clone() else {
            return self.appointment_staff("no_chart", vec!["appointment-no-chart"]);
        };
        self.log("appointment_list_requested", json!({ "intent": intent.name() }));
        let from = self.wall_now();
        self.wait_for(Step::Listing { intent }, Action::ListAppointments { patient_id, from });
    }

    /// Visit types this caller may book: a patient with a chart the usual ones, a caller without
    /// one (not found) what `[scheduling] new_patient_types` allows, an unsettled caller none.
    fn visit_types(&self) -> Vec<VisitType> {
        match self.appt.patient.0 {
            MatchStatus::Identified => vec![VisitType::FollowUp, VisitType::SickVisit, VisitType::AnnualPhysical],
            MatchStatus::NotFound => self.sched().config.new_patient_types.clone(),
            MatchStatus::Ambiguous | MatchStatus::NotGiven => Vec::new(),
        }
    }

    fn ask_visit(&mut self, replaces: Option<Upcoming>, lead: Vec<&str>) {
        let types = self.visit_types();
        if let Some(named) = self.appt.visit_hint.take().filter(|v| types.contains(v)) {
            return self.visit_chosen(replaces, named, InputMethod::Speech, lead);
        }
        match types.as_slice() {
            [] => self.appointment_staff("no_chart", [lead, vec!["appointment-no-chart"]].concat()),
            [only] => {
                let only = *only;
                self.visit_chosen(replaces, only, InputMethod::Dtmf, lead)
            }
            _ => self.ask_step(Step::Visit { replaces, types }, 0, Self::clips(&lead)),
        }
    }

    fn visit_chosen(&mut self, replaces: Option<Upcoming>, visit: VisitType, by: InputMethod, lead: Vec<&str>) {
        self.log("appointment_visit", json!({ "visit": visit.as_str(), "method": by }));
        let practitioner = replaces.as_ref().and_then(|u| u.practitioner_id.clone()).or_else(|| self.appt.own_provider.clone());
        let location = replaces.as_ref().and_then(|u| u.location_id.clone());
        let search = Search { visit, practitioner, location, constraint: TimeConstraint::default(), exclude: Vec::new(), replaces, urgent: self.appt.symptom_urgent };
        if visit == VisitType::SickVisit && self.speech && !search.urgent {
            return self.ask_step(Step::Symptom { search }, 0, Self::clips(&lead));
        }
        self.find(search, Self::clips(&lead));
    }

    fn query(&self, search: &Search) -> SlotQuery {
        let config = &self.sched().config;
        let now = self.wall_now();
        let days = if search.urgent { config.urgent_max_days.min(config.horizon_days) } else { config.horizon_days };
        SlotQuery {
            practitioner_id: search.practitioner.clone(),
            location_id: if search.practitioner.is_none() { search.location.clone() } else { None },
            from: now + chrono::Duration::minutes(config.min_lead_minutes as i64),
            until: now + chrono::Duration::days(days as i64),
            minutes: config.minutes(search.visit),
            constraint: search.constraint.clone(),
            exclude: search.exclude.clone(),
            limit: config.offers,
        }
    }

    /// Asks the chart for slots; `lead` is said before the offers (or before what replaces them).
    fn find(&mut self, search: Search, lead: Vec<PromptItem>) {
        let query = self.query(&search);
        self.wait_for(Step::Searching { search, lead }, Action::FindSlots(query));
    }

    /// Sends a request to the chart and waits for its answer (bounded by `lookup_timeout_ms`).
    fn wait_for(&mut self, step: Step, action: Action) {
        self.stop_listening();
        self.state = State::Appointment { step: Box::new(step), misses: 0 };
        self.actions.push_back(action);
        self.deadline = self.after(self.lookup_timeout());
    }

    fn slots_found(&mut self, mut search: Search, lead: Vec<PromptItem>, slots: Vec<Slot>) {
        let own = search.practitioner.is_some();
        if let Some(first) = slots.first() {
            if own && search.location.is_none() {
                search.location = Some(first.location_id.clone());
            }
            self.log("appointment_offers", json!({ "count": slots.len(), "own_provider": own, "urgent": search.urgent, "first": first.start }));
            return self.ask_step(Step::Offers { search, slots }, 0, lead);
        }
        let constrained = search.constraint != TimeConstraint::default();
        self.log("appointment_no_slots", json!({ "own_provider": own, "constrained": constrained, "excluded": search.exclude.len(), "urgent": search.urgent }));
        if own && search.urgent {
            // Soon matters more than who: any provider, without asking.
            search.practitioner = None;
            return self.find(search, lead);
        }
        if own {
            return self.ask_step(Step::Widen { search }, 0, lead);
        }
        let mut lead = lead;
        if constrained {
            lead.push(PromptItem::Clip("appointment-none-matching".into()));
            search.constraint = TimeConstraint::default();
            return self.find(search, lead);
        }
        if search.urgent {
            return self.triage_path(lead);
        }
        lead.push(PromptItem::Clip("appointment-none".into()));
        self.log("fallback_staff", json!({ "stage": "appointment", "reason": "no_slots" }));
        self.leave_message(lead)
    }

    /// Urgent symptoms with no slot soon enough: the message, marked urgent, for the care team.
    fn triage_path(&mut self, mut lead: Vec<PromptItem>) {
        self.log("appointment_triage", json!({ "reason": "urgent_symptom", "max_days": self.sched().config.urgent_max_days }));
        self.urgent = true;
        self.actions.push_back(Action::Urgent { red_flags: Vec::new() });
        lead.push(PromptItem::Clip("appointment-urgent".into()));
        self.leave_message(lead)
    }

    /// Nothing more to do by phone: the message, with a reason on the record.
    fn appointment_staff(&mut self, reason: &str, clips: Vec<&str>) {
        self.log("fallback_staff", json!({ "stage": "appointment", "reason": reason }));
        self.leave_message(Self::clips(&clips))
    }

    fn more_slots(&mut self, mut search: Search, slots: &[Slot]) {
        search.exclude.extend(slots.iter().map(|s| s.id.clone()));
        self.log("appointment_more", json!({ "excluded": search.exclude.len() }));
        self.find(search, Vec::new());
    }

    fn book(&mut self, search: Search, slot: Slot) {
        let Some(patient_id) = self.appt.patient.1.clone() else {
            // A caller without a chart: staff register them and book this time.
            self.log("appointment_requested", json!({ "slot_id": slot.id, "start": slot.start, "visit": search.visit.as_str() }));
            self.note("appointment_requested", format!("{} {} ({}, {})", search.visit.as_str(), slot.start.to_rfc3339(), slot.practitioner_name, slot.location_name));
            return self.leave_message(Self::clips(&["appointment-request-noted"]));
        };
        let request =
            BookingRequest { patient_id, slot_id: slot.id.clone(), visit: search.visit, replaces: search.replaces.as_ref().map(|u| u.appointment_id.clone()), call_id: self.sched().call_id.clone() };
        self.log("appointment_book", json!({ "slot_id": slot.id, "replaces": request.replaces }));
        self.wait_for(Step::Booking { search, slot }, Action::Book(request));
    }

    fn booked(&mut self, booked: Booked) {
        self.log(
            "appointment_booked",
            json!({
                "appointment_id": booked.appointment_id,
                "confirmation": booked.confirmation,
                "slot_id": booked.slot.id,
                "slot_start": booked.slot.start,
                "practitioner_id": booked.slot.practitioner_id,
                "location_id": booked.slot.location_id,
            }),
        );
        self.note("appointment_confirmation", booked.confirmation.clone());
        // The time was read back and confirmed just before: now the number, once, and an offer
        // to hear it again (a caller who hangs up has heard all that matters).
        let lead = Self::clips(&["appointment-booked", "appointment-arrive"]);
        self.ask_step(Step::Repeat { confirmation: booked.confirmation }, 0, lead);
    }

    /// After the confirmation number: again on request, then goodbye.
    fn repeat_answer(&mut self, confirmation: String, again: bool) {
        self.log("appointment_repeat", json!({ "again": again }));
        let mut prompts = Vec::new();
        if again {
            prompts.extend([Self::clip_item("confirmation-again"), PromptItem::Digits(confirmation)]);
        }
        prompts.push(Self::clip_item("appointment-goodbye"));
        self.close_with(prompts);
    }

    fn book_failed(&mut self, mut search: Search, slot: Slot, taken: bool) {
        if !taken {
            return self.appointment_failed("book");
        }
        self.log("appointment_slot_taken", json!({ "slot_id": slot.id }));
        search.exclude.push(slot.id);
        self.find(search, Self::clips(&["appointment-taken"]));
    }

    fn appointment_failed(&mut self, during: &str) {
        self.log("appointment_failed", json!({ "during": during }));
        self.leave_message(Self::clips(&["appointment-failed"]))
    }

    fn upcoming_listed(&mut self, intent: Intent, mut list: Vec<Upcoming>) {
        self.log("appointment_list", json!({ "intent": intent.name(), "count": list.len() }));
        if list.is_empty() {
            return match intent {
                Intent::Change => self.ask_visit(None, vec!["appointment-none-upcoming"]),
                _ => self.appointment_staff("none_upcoming", vec!["appointment-none-upcoming"]),
            };
        }
        list.truncate(9);
        self.ask_step(Step::Choose { intent, list }, 0, Vec::new());
    }

    fn upcoming_chosen(&mut self, intent: Intent, list: Vec<Upcoming>, pick: usize, by: InputMethod) {
        self.log("appointment_chosen", json!({ "intent": intent.name(), "index": pick, "method": by }));
        match intent {
            Intent::Cancel => self.ask_step(Step::ConfirmCancel { list, pick }, 0, Vec::new()),
            _ => {
                let chosen = list[pick].clone();
                self.ask_visit(Some(chosen), Vec::new())
            }
        }
    }

    fn cancel(&mut self, appointment: Upcoming) {
        let Some(patient_id) = self.appt.patient.1.clone() else { return self.appointment_failed("cancel") };
        let action = Action::Cancel { patient_id, appointment_id: appointment.appointment_id.clone(), call_id: self.sched().call_id.clone() };
        self.wait_for(Step::Cancelling { appointment }, action);
    }

    fn cancelled(&mut self, appointment: Upcoming) {
        self.log("appointment_cancelled", json!({ "appointment_id": appointment.appointment_id, "start": appointment.start }));
        self.note("appointment_cancelled", appointment.appointment_id);
        self.close_with(Self::clips(&["appointment-cancelled", "goodbye"]));
    }

    /// The last words of the call; it hangs up when they end.
    fn close_with(&mut self, prompts: Vec<PromptItem>) {
        self.stop_listening();
        self.state = State::Closing;
        self.play(prompts, false);
    }

    /// An answer from the chart; ignored unless the dialog is waiting for it (a late answer was
    /// already written to the record by the driver).
    pub(super) fn appointment_event(&mut self, event: Event) {
        let State::Appointment { step, .. } = self.state.clone() else { return };
        match (event, *step) {
            (Event::Slots(slots), Step::Searching { search, lead }) => self.slots_found(search, lead, slots),
            (Event::Booked(booked), Step::Booking { .. }) => self.booked(booked),
            (Event::BookFailed { taken }, Step::Booking { search, slot }) => self.book_failed(search, slot, taken),
            (Event::Appointments(list), Step::Listing { intent }) => self.upcoming_listed(intent, list),
            (Event::Cancelled, Step::Cancelling { appointment }) => self.cancelled(appointment),
            (Event::CancelFailed, Step::Cancelling { .. }) => self.appointment_failed("cancel"),
            (Event::ScheduleUnavailable, step) if step.waiting() => self.appointment_failed(step.name()),
            _ => {}
        }
    }
}
