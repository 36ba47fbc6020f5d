//! The appointment conversation with simulated time: booking, the slot lost to another caller,
//! no slots, other providers, hanging up mid-offer, garbage keys, "none of those", a caller
//! without a chart, urgent symptoms, change and cancel, and the chart not answering.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};

use super::tests::{Run, chart, setup, test_dates, triage};
use super::*;
use crate::schedule::{SchedulingConfig, TimeConstraint, VisitType};

/// 15:00 UTC = 9:00 in Chicago, Wednesday 2026-11-25.
fn started() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap()
}

fn scheduling(config: SchedulingConfig) -> Scheduling {
    Scheduling {
        config,
        time_zone: "America/Chicago".parse().unwrap(),
        started_at: started(),
        call_id: "call-1".into(),
        has_clip: Arc::new(|name: &str| name == "practitioner-dr-own" || name == "location-main"),
    }
}

fn run_with(speech: bool, config: SchedulingConfig) -> Run {
    let dialog = Dialog::new(IvrConfig::default(), setup(speech), triage(), test_dates).with_scheduling(scheduling(config));
    let mut run = Run { dialog, now: Instant::now(), log: Vec::new(), answered: 0 };
    run.dialog.start(run.now);
    run.drain();
    run
}

/// A slot `hours` after the call started.
fn slot(id: &str, hours: i64, practitioner: &str) -> Slot {
    let start = started() + chrono::Duration::hours(hours);
    Slot {
        id: id.into(),
        start,
        end: start + chrono::Duration::minutes(15),
        practitioner_id: practitioner.into(),
        practitioner_name: "Dr. Own".into(),
        location_id: "main".into(),
        location_name: "Main".into(),
    }
}

fn upcoming(id: &str, hours: i64) -> Upcoming {
    Upcoming {
        appointment_id: id.into(),
        start: started() + chrono::Duration::hours(hours),
        practitioner_id: Some("dr-other".into()),
        practitioner_name: None,
        location_id: Some("north".into()),
        location_name: None,
    }
}

impl Run {
    /// Keypad: date of birth, confirmed, one chart (with an own provider), menu 2, then `choice`
    /// (1 new, 2 change, 3 cancel).
    fn appointment_by_keys(&mut self, charts: Vec<Candidate>, choice: &str) -> Vec<Action> {
        self.finish_prompt();
        self.keys("03051982");
        self.keys("1");
        let found = !charts.is_empty();
        self.charts(charts);
        if found {
            self.dialog.handle(Event::OwnProvider(Some("dr-own".into())), self.now);
        }
        self.keys("2");
        assert!(self.clip_names()[0].starts_with("ask-appointment"), "{:?}", self.clip_names());
        self.keys(choice)
    }

    fn event(&mut self, event: Event) -> Vec<Action> {
        self.now += Duration::from_millis(40);
        self.dialog.handle(event, self.now);
        self.drain()
    }

    fn log_detail(&self, kind: &str) -> serde_json::Value {
        self.log
            .iter()
            .rev()
            .find_map(|a| match a {
                Action::Log { kind: k, detail } if *k == kind => Some(detail.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no {kind} in {:?}", self.kinds()))
    }
}

fn query_of(actions: &[Action]) -> SlotQuery {
    actions.iter().find_map(|a| if let Action::FindSlots(q) = a { Some(q.clone()) } else { None }).unwrap_or_else(|| panic!("no FindSlots in {actions:?}"))
}

fn booking_of(actions: &[Action]) -> BookingRequest {
    actions.iter().find_map(|a| if let Action::Book(b) = a { Some(b.clone()) } else { None }).unwrap_or_else(|| panic!("no Book in {actions:?}"))
}

fn ann() -> Vec<Candidate> {
    vec![chart("p1", "Ann", "Lee", None)]
}

fn three_slots() -> Vec<Slot> {
    vec![slot("s1", 24, "dr-own"), slot("s2", 48, "dr-own"), slot("s3", 49, "dr-own")]
}

#[test]
fn keypad_booking_reads_back_confirms_books_and_gives_the_number() {
    let mut r = run_with(false, SchedulingConfig::default());
    r.appointment_by_keys(ann(), "1");
    assert_eq!(r.clip_names(), ["visit-keys-standard"]);
    let query = query_of(&r.keys("1"));
    assert_eq!(query.practitioner_id.as_deref(), Some("dr-own"));
    assert_eq!(query.minutes, 15, "a follow-up is 15 minutes");
    assert_eq!(query.limit, 3);
    let lead = query.from - started();
    assert!(lead >= chrono::Duration::minutes(60) && lead < chrono::Duration::seconds(3610), "no slot within the lead time: {lead}");
    assert_eq!((query.until - query.from).num_days(), 59);
    r.event(Event::Slots(three_slots()));
    let names = r.clip_names();
    assert_eq!(names[..3], ["appointment-offers", "option", "digit-1"]);
    // s1: Thursday 2026-11-26 9:00 Chicago with the own provider, named by its clip, at "main".
    assert_eq!(names[3..13], ["weekday-thu", "month-11", "ordinal-26", "at", "number-9", "time-am", "with", "practitioner-dr-own", "at", "location-main"]);
    assert_eq!(names.last().unwrap(), "offers-keys");
    assert_eq!(names.iter().filter(|n| *n == "practitioner-dr-own").count(), 1, "one provider named once for three times");
    r.keys("2");
    assert_eq!(r.clip_names()[..2], ["you-chose", "weekday-fri"]);
    assert_eq!(r.clip_names().last().unwrap(), "book-keys");
    let booking = booking_of(&r.keys("1"));
    assert_eq!(booking, BookingRequest { patient_id: "p1".into(), slot_id: "s2".into(), visit: VisitType::FollowUp, replaces: None, call_id: "call-1".into() });
    let booked = Booked { appointment_id: "a9".into(), confirmation: "4711".into(), slot: slot("s2", 48, "dr-own") };
    r.event(Event::Booked(booked));
    // Read back and confirmed just before: now the number once, and an offer to repeat it.
    let prompts = r.last_prompts();
    assert_eq!(prompts[..3], [PromptItem::Clip("appointment-booked".into()), PromptItem::Clip("appointment-arrive".into()), PromptItem::Clip("confirmation-number".into())]);
    assert_eq!(prompts.iter().filter(|p| **p == PromptItem::Digits("4711".into())).count(), 1);
    assert!(!r.clip_names().iter().any(|n| n.starts_with("weekday-")), "no second read-back of the time");
    assert_eq!(r.clip_names().last().unwrap(), "confirmation-repeat-keys");
    let detail = r.log_detail("appointment_booked");
    assert_eq!((detail["appointment_id"].as_str(), detail["confirmation"].as_str()), (Some("a9"), Some("4711")));
    assert_eq!(detail["slot_start"], serde_json::json!(started() + chrono::Duration::hours(48)));
    // Star: the number again, then goodbye and hang up.
    r.finish_prompt();
    r.keys("1");
    assert_eq!(r.clip_names().last().unwrap(), "confirmation-repeat-keys", "a stray key changes nothing");
    r.keys("*");
    assert_eq!(r.last_prompts(), [PromptItem::Clip("confirmation-again".into()), PromptItem::Digits("4711".into()), PromptItem::Clip("appointment-goodbye".into())]);
    assert!(r.finish_prompt().contains(&Action::Hangup));
    assert!(r.dialog.is_done());
}

#[test]
fn silence_after_the_confirmation_number_says_goodbye() {
    let mut r = run_with(true, SchedulingConfig::default());
    r.appointment_by_keys(ann(), "1");
    r.keys("1");
    r.event(Event::Slots(three_slots()));
    r.keys("1");
    r.keys("1");
    r.event(Event::Booked(Booked { appointment_id: "a9".into(), confirmation: "4711".into(), slot: slot("s1", 24, "dr-own") }));
    assert_eq!(r.clip_names().last().unwrap(), "confirmation-repeat-speech");
    r.finish_prompt();
    r.wait(Duration::from_secs(8));
    assert_eq!(r.clip_names(), ["appointment-goodbye"]);
    assert_eq!(r.log_detail("appointment_repeat")["again"], false);
    assert!(r.finish_prompt().contains(&Action::Hangup));
    // By voice: "repeat that" says it again.
    let mut r = run_with(true, SchedulingConfig::default());
    r.appointment_by_keys(ann(), "1");
    r.keys("1");
    r.event(Event::Slots(three_slots()));
    r.keys("11");
    r.event(Event::Booked(Booked { appointment_id: "a9".into(), confirmation: "4711".into(), slot: slot("s1", 24, "dr-own") }));
    r.say("can you repeat that");
    assert_eq!(r.clip_names(), ["confirmation-again", "appointment-goodbye"]);
}

#[test]
fn the_visit_type_said_with_the_request_is_not_asked_again() {
    let mut r = run_with(true, SchedulingConfig::default());
    r.finish_prompt();
    r.keys("03051982");
    r.keys("1");
    r.charts(ann());
    r.dialog.handle(Event::OwnProvider(Some("dr-own".into())), r.now);
    // The spoken request names the visit: confirmed, then straight to the offers.
    r.say("I need to book a follow-up appointment");
    assert_eq!(r.clip_names(), ["label-appointment", "is-that-right"]);
    let query = query_of(&r.say("yes"));
    assert_eq!(query.minutes, 15);
    assert_eq!(r.log_detail("appointment_action")["action"], "new");
    assert_eq!(r.log_detail("appointment_visit")["method"], "speech");

    // Pressed 2, then new and the type in one answer.
    let mut r = run_with(true, SchedulingConfig::default());
    r.appointment_by_keys(ann(), "");
    assert_eq!(r.clip_names(), ["ask-appointment"], "no key list for a voice caller");
    let query = query_of(&r.say("a new physical please"));
    assert_eq!(query.minutes, 30);

    // Only the intent: the visit question, without keys until a miss.
    let mut r = run_with(true, SchedulingConfig::default());
    r.appointment_by_keys(ann(), "");
    r.say("a new appointment please");
    assert_eq!(r.clip_names(), ["visit-ask-standard"]);
    r.say("hmm");
    assert_eq!(r.clip_names(), ["not-understood", "visit-ask-standard", "visit-keys-standard"]);
    assert_eq!(query_of(&r.keys("3")).minutes, 30);

    // Not understood at the intent question: asked again with the keys.
    let mut r = run_with(true, SchedulingConfig::default());
    r.appointment_by_keys(ann(), "");
    r.say("hmm");
    assert_eq!(r.clip_names(), ["not-understood", "ask-appointment", "ask-appointment-keys"]);
}

#[test]
fn a_slot_taken_by_another_caller_is_said_at_once_and_the_next_offered() {
    let mut r = run_with(false, SchedulingConfig::default());
    r.appointment_by_keys(ann(), "1");
    r.keys("1");
    r.event(Event::Slots(three_slots()));
    r.keys("1");
    r.keys("1");
    let again = query_of(&r.event(Event::BookFailed { taken: true }));
    assert_eq!(again.exclude, ["s1"], "the lost slot is not offered again");
    r.event(Event::Slots(vec![slot("s2", 48, "dr-own"), slot("s4", 50, "dr-own")]));
    assert_eq!(r.clip_names()[..2], ["appointment-taken", "appointment-offers"]);
    r.keys("2");
    assert_eq!(booking_of(&r.keys("1")).slot_id, "s4");
}

#[test]
fn no_slots_with_the_own_provider_asks_for_others_then_goes_to_staff() {
    let mut r = run_with(false, SchedulingConfig::default());
    r.appointment_by_keys(ann(), "1");
    r.keys("1");
    r.event(Event::Slots(three_slots()));
    // "Other times" (0): the next of the own provider's, none left.
    let more = query_of(&r.keys("0"));
    assert_eq!(more.exclude, ["s1", "s2", "s3"]);
    r.event(Event::Slots(vec![]));
    assert_eq!(r.clip_names(), ["appointment-widen", "yes-no-keys"]);
    let others = query_of(&r.keys("1"));
    assert_eq!((others.practitioner_id, others.location_id.as_deref()), (None, Some("main")), "others at the same location");
    r.event(Event::Slots(vec![]));
    assert_eq!(r.clip_names(), ["appointment-none", "record-after-tone", "tone"]);
    assert_eq!(r.log_detail("fallback_staff")["reason"], "no_slots");
}

#[test]
fn declining_other_providers_goes_to_the_message() {
    let mut r = run_with(false, SchedulingConfig::default());
    r.appointment_by_keys(ann(), "1");
    r.keys("1");
    r.event(Event::Slots(vec![]));
    r.keys("2");
    assert_eq!(r.clip_names(), ["appointment-staff", "record-after-tone", "tone"]);
}

#[test]
fn hanging_up_mid_offer_books_nothing_and_late_answers_are_ignored() {
    let mut r = run_with(false, SchedulingConfig::default());
    r.appointment_by_keys(ann(), "1");
    r.keys("1");
    r.event(Event::Slots(three_slots()));
    r.event(Event::Hangup);
    assert!(r.dialog.is_done());
    assert_eq!(r.log_detail("hangup")["stage"], "appointment");
    assert!(r.keys("1").is_empty());
    assert!(r.event(Event::Slots(three_slots())).is_empty());
    assert!(!r.log.iter().any(|a| matches!(a, Action::Book(_))));
}

#[test]
fn garbage_keys_are_reprompted_then_the_call_goes_to_staff() {
    let mut r = run_with(false, SchedulingConfig::default());
    r.appointment_by_keys(ann(), "1");
    r.keys("1");
    r.event(Event::Slots(three_slots()));
    r.keys("7");
    assert_eq!(r.clip_names()[..2], ["invalid-key", "appointment-offers"]);
    r.keys("#");
    assert_eq!(r.clip_names()[0], "appointment-offers", "pound repeats the offers");
    r.keys("*");
    r.keys("9");
    assert_eq!(r.clip_names(), ["staff-default", "record-after-tone", "tone"]);
    // Silence in the visit question counts too.
    let mut r = run_with(false, SchedulingConfig::default());
    r.appointment_by_keys(ann(), "1");
    r.finish_prompt();
    r.wait(Duration::from_secs(7));
    assert_eq!(r.clip_names(), ["no-input", "visit-keys-standard"]);
}

#[test]
fn spoken_picks_and_none_of_those() {
    let mut r = run_with(true, SchedulingConfig::default());
    r.appointment_by_keys(ann(), "1");
    r.say("a follow up visit");
    assert_eq!(r.log_detail("appointment_visit")["visit"], "follow_up");
    r.event(Event::Slots(three_slots()));
    assert_eq!(r.clip_names().last().unwrap(), "offers-speech");
    let more = query_of(&r.say("no, none of those"));
    assert_eq!(more.exclude.len(), 3);
    r.event(Event::Slots(vec![slot("s4", 72, "dr-own"), slot("s5", 96, "dr-own")]));
    r.say("the second one");
    assert_eq!(r.log_detail("appointment_pick")["index"], 1);
    assert_eq!(r.clip_names().last().unwrap(), "is-that-right");
    assert_eq!(booking_of(&r.say("yes")).slot_id, "s5");
}

#[test]
fn a_caller_without_a_chart_may_book_only_new_patient_visits() {
    let mut r = run_with(false, SchedulingConfig::default());
    let query = query_of(&r.appointment_by_keys(vec![], "1"));
    assert_eq!(query.minutes, 30, "the only allowed type (new patient), asked no question");
    assert_eq!(query.practitioner_id, None);
    r.event(Event::Slots(vec![slot("s1", 24, "dr-x")]));
    assert!(r.clip_names().contains(&"with-another-provider".to_string()), "no clip for dr-x: generic words");
    r.keys("1");
    r.keys("1");
    assert!(!r.log.iter().any(|a| matches!(a, Action::Book(_))), "no chart to book into");
    assert!(r.log.iter().any(|a| matches!(a, Action::Note { key: "appointment_requested", .. })));
    assert_eq!(r.clip_names(), ["appointment-request-noted", "record-after-tone", "tone"]);

    let config = SchedulingConfig { new_patient_types: vec![], ..Default::default() };
    let mut r = run_with(false, config);
    r.appointment_by_keys(vec![], "1");
    assert_eq!(r.clip_names(), ["appointment-no-chart", "record-after-tone", "tone"]);
    let mut r = run_with(false, SchedulingConfig::default());
    r.appointment_by_keys(vec![], "3");
    assert_eq!(r.clip_names(), ["appointment-no-chart", "record-after-tone", "tone"], "nothing to cancel without a chart");
}

#[test]
fn urgent_symptoms_are_offered_only_the_next_day_else_the_triage_path() {
    let mut r = run_with(true, SchedulingConfig::default());
    r.appointment_by_keys(ann(), "1");
    r.say("a sick visit");
    assert_eq!(r.clip_names(), ["appointment-ask-symptom"]);
    let query = query_of(&r.say("I have had a high fever for three days"));
    assert!(query.until - query.from <= chrono::Duration::days(1), "urgent: within urgent_max_days, never next week");
    assert_eq!(query.minutes, 20);
    // Nothing soon with the own provider: anyone, at once, then the triage path.
    let anyone = query_of(&r.event(Event::Slots(vec![])));
    assert_eq!(anyone.practitioner_id, None);
    let actions = r.event(Event::Slots(vec![]));
    assert!(actions.contains(&Action::Urgent { red_flags: vec![] }));
    assert_eq!(r.clip_names(), ["appointment-urgent", "record-after-tone", "tone"]);
    assert_eq!(r.log_detail("appointment_triage")["reason"], "urgent_symptom");
}

#[test]
fn change_lists_picks_rebooks_with_replaces() {
    let mut r = run_with(false, SchedulingConfig::default());
    let actions = r.appointment_by_keys(ann(), "2");
    let from = actions
        .iter()
        .find_map(|a| match a {
            Action::ListAppointments { patient_id, from } if patient_id == "p1" => Some(*from),
            _ => None,
        })
        .expect("ListAppointments");
    assert!(from >= started() && from - started() < chrono::Duration::seconds(10), "from now on the simulated clock: {from}");
    r.event(Event::Appointments(vec![upcoming("a1", 100), upcoming("a2", 200)]));
    let names = r.clip_names();
    assert_eq!(names[..3], ["appointment-list", "option", "digit-1"]);
    assert!(names.contains(&"with-another-provider".to_string()));
    assert_eq!(names.last().unwrap(), "list-keys");
    r.keys("2");
    let query = query_of(&r.keys("1"));
    assert_eq!(query.practitioner_id.as_deref(), Some("dr-other"), "the same provider as the appointment moved");
    r.event(Event::Slots(vec![slot("s7", 30, "dr-other")]));
    r.keys("1");
    let booking = booking_of(&r.keys("1"));
    assert_eq!(booking.replaces.as_deref(), Some("a2"));
}

#[test]
fn change_with_nothing_upcoming_offers_a_new_appointment() {
    let mut r = run_with(false, SchedulingConfig::default());
    r.appointment_by_keys(ann(), "2");
    r.event(Event::Appointments(vec![]));
    assert_eq!(r.clip_names(), ["appointment-none-upcoming", "visit-keys-standard"]);
}

#[test]
fn cancel_picks_confirms_and_frees_the_slot() {
    let mut r = run_with(false, SchedulingConfig::default());
    r.appointment_by_keys(ann(), "3");
    r.event(Event::Appointments(vec![upcoming("a1", 100)]));
    r.keys("1");
    assert_eq!(r.clip_names()[0], "cancel-confirm");
    r.keys("2");
    assert_eq!(r.clip_names()[0], "appointment-list", "no: back to the list");
    r.keys("1");
    let actions = r.keys("1");
    assert!(actions.contains(&Action::Cancel { patient_id: "p1".into(), appointment_id: "a1".into(), call_id: "call-1".into() }));
    r.event(Event::Cancelled);
    assert_eq!(r.clip_names(), ["appointment-cancelled", "goodbye"]);
    assert!(r.finish_prompt().contains(&Action::Hangup));
    assert_eq!(r.log_detail("appointment_cancelled")["appointment_id"], "a1");
}

#[test]
fn the_chart_not_answering_or_failing_goes_to_staff() {
    let mut r = run_with(false, SchedulingConfig::default());
    r.appointment_by_keys(ann(), "1");
    r.keys("1");
    // A prompt that ends while waiting does not start a caller turn.
    r.finish_prompt();
    r.wait(Duration::from_millis(3100));
    assert_eq!(r.log_detail("appointment_timeout")["step"], "search");
    assert_eq!(r.clip_names(), ["appointment-failed", "record-after-tone", "tone"]);

    let mut r = run_with(false, SchedulingConfig::default());
    r.appointment_by_keys(ann(), "1");
    r.keys("1");
    r.event(Event::Slots(three_slots()));
    r.keys("11");
    r.event(Event::BookFailed { taken: false });
    assert_eq!(r.clip_names(), ["appointment-failed", "record-after-tone", "tone"]);

    let mut r = run_with(false, SchedulingConfig::default());
    r.appointment_by_keys(ann(), "3");
    r.event(Event::ScheduleUnavailable);
    assert_eq!(r.log_detail("appointment_failed")["during"], "list");
}

#[test]
fn speech_lost_mid_offer_reads_the_keypad_prompt() {
    let mut r = run_with(true, SchedulingConfig::default());
    r.appointment_by_keys(ann(), "1");
    r.keys("1");
    r.event(Event::Slots(three_slots()));
    assert_eq!(r.clip_names().last().unwrap(), "offers-speech");
    r.event(Event::SpeechUnavailable);
    assert_eq!(r.clip_names().last().unwrap(), "offers-keys");
}

#[test]
fn without_scheduling_the_appointment_goes_to_the_message() {
    let mut r = Run::with(IvrConfig::default(), setup(false));
    r.appointment_by_keys(ann(), "1");
    assert_eq!(r.clip_names(), ["record-after-tone", "tone"]);
}

#[test]
fn a_spoken_time_of_week_searches_again_with_that_constraint() {
    let mut r = run_with(true, SchedulingConfig::default());
    r.appointment_by_keys(ann(), "1");
    r.say("an annual physical");
    r.event(Event::Slots(three_slots()));
    assert_eq!(r.clip_names()[0], "offers-lead-speech");
    let query = query_of(&r.say("do you have anything Tuesday morning"));
    assert_eq!(query.minutes, 30, "an annual physical is 30 minutes");
    assert_eq!(query.constraint.weekdays, [chrono::Weekday::Tue]);
    assert!(query.constraint.before.is_some_and(|t| t <= chrono::NaiveTime::from_hms_opt(12, 0, 0).unwrap()), "{:?}", query.constraint);
    assert!(query.exclude.is_empty(), "fresh offers for the new constraint");
    // Nothing then with the own provider, and no to others: the own provider's earliest times.
    r.event(Event::Slots(vec![]));
    assert_eq!(r.clip_names(), ["appointment-widen", "yes-no-keys"]);
    let plain = query_of(&r.say("no"));
    assert_eq!((plain.practitioner_id.as_deref(), plain.constraint), (Some("dr-own"), TimeConstraint::default()));
    r.event(Event::Slots(three_slots()));
    assert_eq!(r.clip_names()[..2], ["appointment-none-matching", "offers-lead-speech"]);
}

#[test]
fn several_allowed_types_for_a_new_patient_are_read_with_their_keys() {
    let config = SchedulingConfig { new_patient_types: vec![VisitType::NewPatient, VisitType::SickVisit], ..Default::default() };
    let mut r = run_with(false, config);
    r.appointment_by_keys(vec![], "1");
    assert_eq!(r.clip_names(), ["visit-new-patient", "press", "digit-1", "visit-sick-visit", "press", "digit-2"]);
    assert_eq!(query_of(&r.keys("2")).minutes, 20);
}

#[test]
fn a_voice_caller_hears_the_list_with_a_short_question_and_the_keys_after_a_miss() {
    let mut r = run_with(true, SchedulingConfig::default());
    r.appointment_by_keys(ann(), "3");
    r.event(Event::Appointments(vec![upcoming("a1", 100), upcoming("a2", 200)]));
    assert_eq!(r.clip_names().last().unwrap(), "list-speech");
    r.say("hmm");
    assert_eq!(r.clip_names()[0], "not-understood");
    assert_eq!(r.clip_names().last().unwrap(), "list-keys");
    r.say("the second one");
    assert_eq!(r.clip_names()[0], "cancel-confirm");
    assert_eq!(r.log_detail("appointment_chosen")["index"], 1);
}
