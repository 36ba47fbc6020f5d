//! The spoken conversation, with simulated time and the real triage rules: date of birth by voice
//! or keypad, chart matching, the spoken request and its follow-ups, emergencies, losing the
//! recogniser mid-call.

use std::time::Duration;

use super::tests::{Run, chart, date, setup};
use super::*;

pub(super) fn speech_run() -> Run {
    Run::with(IvrConfig::default(), setup(true))
}

/// A chart where `charts` are born on 1982-03-05 and nobody else.
pub(super) fn march_fifth(charts: Vec<Candidate>) -> impl Fn(NaiveDate) -> Vec<Candidate> {
    move |d| if d == date(1982, 3, 5) { charts.clone() } else { Vec::new() }
}

/// Greeting → spoken date → chart search answered with `charts` → read back → yes.
pub(super) fn identified_by_voice(charts: Vec<Candidate>) -> Run {
    let mut r = speech_run();
    r.finish_prompt();
    r.say("March fifth nineteen eighty two");
    r.search(march_fifth(charts));
    r.say("yes");
    r
}

pub(super) fn plays(actions: &[Action]) -> Vec<Vec<String>> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Play { prompts, .. } => Some(prompts.iter().filter_map(|p| if let PromptItem::Clip(n) = p { Some(n.clone()) } else { None }).collect()),
            _ => None,
        })
        .collect()
}

pub(super) fn logged<'a>(r: &'a Run, kind: &str) -> Vec<&'a serde_json::Value> {
    r.log
        .iter()
        .filter_map(|a| match a {
            Action::Log { kind: k, detail } if *k == kind => Some(detail),
            _ => None,
        })
        .collect()
}

fn listens(actions: &[Action]) -> bool {
    actions.iter().any(|a| matches!(a, Action::Listen { .. }))
}

#[test]
fn typical_speech_call_refill_with_medication_read_back() {
    let mut r = speech_run();
    let actions = r.finish_prompt();
    assert!(listens(&actions), "the date-of-birth turn listens");
    assert_eq!(r.clip_names(), ["dob-ask-speech"]);
    let actions = r.say("It's March fifth nineteen eighty two");
    assert!(actions.contains(&Action::Lookup { birth_date: date(1982, 3, 5) }), "the chart is searched first");
    assert!(actions.contains(&Action::StopListening), "no listening while the chart is searched");
    assert!(plays(&actions).is_empty());
    r.charts(vec![chart("p1", "Ann", "Lee", None)]);
    assert_eq!(r.last_prompts(), vec![PromptItem::Clip("i-heard".into()), PromptItem::Date(date(1982, 3, 5)), PromptItem::Clip("dob-confirm-speech".into())]);
    let actions = r.say("yes that's right");
    assert!(!actions.iter().any(|a| matches!(a, Action::Lookup { .. })), "no second lookup");
    assert!(actions.contains(&Action::Patient { birth_date: Some(date(1982, 3, 5)), status: MatchStatus::Identified, patient_id: Some("p1".into()), matched_by: Some(InputMethod::Speech) }));
    assert!(actions.contains(&Action::ChartSummary { patient_id: "p1".into() }));
    assert_eq!(r.clip_names(), ["ask-request"]);
    r.dialog.handle(Event::Medications(vec!["Simvastatin 20 MG Oral Tablet".into(), "lisinopril 10 MG Oral Tablet".into()]), r.now);
    r.say("I need a refill on my blood pressure pills");
    assert_eq!(r.clip_names(), ["label-refill", "is-that-right"]);
    let heard = logged(&r, "request_heard");
    assert_eq!(heard[0]["type"], "refill");
    assert!(!heard[0]["rules"].as_array().unwrap().is_empty(), "the rules that fired explain the choice");
    let actions = r.say("yeah");
    assert!(actions.contains(&Action::Request { kind: RequestType::Refill, chosen_by: InputMethod::Speech }));
    assert_eq!(r.clip_names(), ["ask-medication"]);
    let hints = actions.iter().find_map(|a| if let Action::Listen { hints } = a { Some(hints.clone()) } else { None }).unwrap();
    assert!(hints.iter().any(|h| h.contains("lisinopril")), "the chart's medications are the hints: {hints:?}");
    r.say("lysin oh pril");
    assert_eq!(r.clip_names(), ["i-heard", "med-lisinopril", "is-that-right"]);
    let actions = r.keys("1");
    assert!(actions.contains(&Action::Note { key: "medication", value: "lisinopril 10 MG Oral Tablet".into() }));
    assert!(actions.contains(&Action::StopListening));
    assert_eq!(r.clip_names(), ["record-after-tone", "tone"]);
    assert!(r.finish_prompt().contains(&Action::StartRecording));
    r.now += Duration::from_secs(6);
    r.dialog.handle(Event::SpeechEnded, r.now);
    assert!(!r.drain().contains(&Action::StopRecording), "the end of a sentence is not the end of the message");
    assert!(r.wait(Duration::from_secs(5)).contains(&Action::StopRecording), "a long silence ends it");
    r.dialog.handle(Event::RecordingStopped { duration_ms: 6000, rms: 0.1 }, r.now);
    r.drain();
    assert_eq!(r.clip_names(), ["message-saved", "reference-number", "next-steps", "goodbye"]);
    assert!(r.finish_prompt().contains(&Action::Hangup));
    assert_eq!(
        r.kinds(),
        [
            "greeting",
            "dob_entered",
            "dob_confirmed",
            "patient_lookup",
            "request_heard",
            "request_confirmed",
            "request_chosen",
            "medication_heard",
            "medication_confirmed",
            "recording_started",
            "message_silence",
            "recording_stopped",
            "reference_given",
            "goodbye"
        ]
    );
    assert_eq!(logged(&r, "dob_entered")[0]["method"], "speech");
    assert_eq!(logged(&r, "medication_confirmed")[0]["method"], "dtmf");
}

#[test]
fn dob_by_keys_and_voice_in_any_order() {
    let mut r = speech_run();
    r.finish_prompt();
    r.keys("07041990");
    assert_eq!(r.clip_names(), ["i-heard", "dob-confirm-speech"], "keys work in a speech turn");
    r.say("no");
    assert_eq!(r.clip_names(), ["dob-ask-speech"]);
    r.say("march 5th 1982");
    r.search(march_fifth(vec![chart("p1", "Ann", "Lee", None)]));
    let actions = r.keys("1");
    assert!(actions.contains(&Action::ChartSummary { patient_id: "p1".into() }));
    let confirmed = logged(&r, "dob_confirmed");
    assert_eq!(confirmed[0]["method"], "dtmf");
    assert_eq!(logged(&r, "dob_retry")[0]["method"], "speech");
}

#[test]
fn unparsed_and_future_spoken_dates_use_the_three_tries() {
    let mut r = speech_run();
    r.finish_prompt();
    r.say("my birthday is in the spring");
    assert_eq!(r.clip_names(), ["not-understood", "dob-ask-speech"]);
    r.say("December first twenty thirty");
    assert_eq!(r.clip_names(), ["not-understood", "dob-ask-speech"], "a future date is refused");
    r.say("umm");
    assert!(r.log.contains(&Action::Patient { birth_date: None, status: MatchStatus::NotGiven, patient_id: None, matched_by: None }));
    assert_eq!(r.clip_names(), ["dob-giveup", "ask-request"], "the call goes on");
}

#[test]
fn duplicate_birth_dates_narrowed_by_caller_id() {
    let r = identified_by_voice(vec![chart("p1", "Ann", "Lee", Some("555-000-1111")), chart("p2", "Bob", "Ray", Some("(555) 146-1616"))]);
    assert!(r.log.iter().any(|a| matches!(a, Action::Patient { status: MatchStatus::Identified, patient_id: Some(id), .. } if id == "p2")));
    assert_eq!(logged(&r, "patient_lookup")[0]["narrowed_by"], "phone");
    assert_eq!(r.clip_names(), ["ask-request"], "no name question");
}

#[test]
fn duplicate_birth_dates_narrowed_by_spoken_name() {
    let mut r = identified_by_voice(vec![chart("p1", "Maria123", "Garcia456", None), chart("p2", "Maria789", "Lopez12", None), chart("p3", "Ann", "Lee", None)]);
    assert_eq!(r.clip_names(), ["ask-name"]);
    let hints = r.log.iter().rev().find_map(|a| if let Action::Listen { hints } = a { Some(hints.clone()) } else { None }).unwrap();
    assert!(hints.contains(&"Garcia".to_string()), "{hints:?}");
    r.say("Maria");
    assert_eq!(r.clip_names(), ["not-understood", "ask-name"], "two Marias: ask again");
    let actions = r.say("my last name is Garsia");
    assert!(actions.contains(&Action::Patient { birth_date: Some(date(1982, 3, 5)), status: MatchStatus::Identified, patient_id: Some("p1".into()), matched_by: Some(InputMethod::Speech) }));
    assert_eq!(logged(&r, "patient_lookup")[0]["narrowed_by"], "name");
}

#[test]
fn unmatched_name_or_keypad_only_leaves_the_patient_ambiguous() {
    let twins = || vec![chart("p1", "Ann", "Lee", None), chart("p2", "Bo", "Lee", None)];
    let mut r = identified_by_voice(twins());
    r.say("Lee");
    r.say("Lee");
    assert!(r.log.iter().any(|a| matches!(a, Action::Patient { status: MatchStatus::Ambiguous, patient_id: None, .. })));
    assert_eq!(r.clip_names(), ["ask-request"]);

    let mut r = Run::with(IvrConfig::default(), setup(false));
    r.keys("03051982");
    r.keys("1");
    r.charts(twins());
    assert!(r.log.iter().any(|a| matches!(a, Action::Patient { status: MatchStatus::Ambiguous, matched_by: Some(InputMethod::Dtmf), .. })));
    assert_eq!(r.clip_names()[0], "menu-intro", "keypad callers are never asked their name");

    let mut r = identified_by_voice(vec![]);
    assert!(r.log.iter().any(|a| matches!(a, Action::Patient { status: MatchStatus::NotFound, .. })));
    r.say("billing question about my bill");
    assert_eq!(r.clip_names()[0], "label-billing");
}

#[test]
fn emergency_while_stating_the_request_interrupts_at_once() {
    let mut r = identified_by_voice(vec![chart("p1", "Ann", "Lee", None)]);
    let before = r.tag();
    // The caller barges in during the request prompt.
    r.dialog.handle(Event::SpeechStarted, r.now);
    r.dialog.handle(Event::Speech { text: "I'm having really bad chest pain and it's going down my left arm".into() }, r.now);
    let actions = r.drain();
    let first_play = plays(&actions).into_iter().next().unwrap();
    assert_eq!(first_play[0], "emergency", "the 911 prompt is the very next thing played");
    assert!(matches!(actions.iter().find(|a| matches!(a, Action::Play { .. })), Some(Action::Play { barge_in: false, .. })));
    let flags = actions.iter().find_map(|a| if let Action::Urgent { red_flags } = a { Some(red_flags.clone()) } else { None }).unwrap();
    assert!(!flags.is_empty());
    assert!(actions.contains(&Action::AlertOnCall));
    assert!(actions.contains(&Action::Request { kind: RequestType::Urgent, chosen_by: InputMethod::Speech }));
    // The old prompt's end is stale; the caller stays and leaves a message.
    r.dialog.handle(Event::PromptFinished { tag: before, interrupted: true }, r.now);
    assert!(r.drain().is_empty());
    assert!(r.finish_prompt().contains(&Action::StartRecording));
    r.keys("#");
    r.dialog.handle(Event::RecordingStopped { duration_ms: 5000, rms: 0.2 }, r.now);
    r.drain();
    assert!(r.clip_names().contains(&"next-steps-urgent".to_string()));
    assert_eq!(logged(&r, "emergency")[0]["stage"], "request");
}

#[test]
fn emergency_in_a_symptom_description() {
    let mut r = identified_by_voice(vec![chart("p1", "Ann", "Lee", None)]);
    r.keys("3");
    assert!(r.log.contains(&Action::Request { kind: RequestType::Symptom, chosen_by: InputMethod::Dtmf }));
    assert_eq!(r.clip_names(), ["ask-symptom"]);
    let actions = r.say("I can't breathe");
    assert_eq!(plays(&actions)[0][0], "emergency");
    assert!(actions.contains(&Action::AlertOnCall));
    assert!(!actions.iter().any(|a| matches!(a, Action::Request { .. })), "the request stays the caller's");
    assert_eq!(logged(&r, "emergency")[0]["stage"], "follow_up");
}

#[test]
fn an_urgent_symptom_marks_the_call_urgent_without_the_911_prompt() {
    let mut r = identified_by_voice(vec![chart("p1", "Ann", "Lee", None)]);
    r.keys("3");
    let actions = r.say("my fever is one oh four and it keeps getting worse");
    assert!(actions.iter().any(|a| matches!(a, Action::Urgent { red_flags } if red_flags.contains(&"high_fever".to_string()) && red_flags.contains(&"worsening".to_string()))), "{actions:?}");
    assert!(!actions.contains(&Action::AlertOnCall), "no page during the call: routing decides");
    assert!(!plays(&actions).iter().flatten().any(|clip| clip == "emergency"), "no 911 prompt");
    assert_eq!(logged(&r, "urgent_flags")[0]["stage"], "follow_up");
    assert_eq!(r.clip_names(), ["record-after-tone", "tone"], "the conversation goes on");
    r.finish_prompt();
    r.now += Duration::from_secs(4);
    r.dialog.handle(Event::SpeechEnded, r.now);
    assert!(r.wait(Duration::from_secs(5)).contains(&Action::StopRecording));
    r.dialog.handle(Event::RecordingStopped { duration_ms: 4000, rms: 0.1 }, r.now);
    r.drain();
    assert!(r.clip_names().contains(&"next-steps-urgent".to_string()), "{:?}", r.clip_names());
}

#[test]
fn a_calm_symptom_is_noted_and_screened() {
    let mut r = identified_by_voice(vec![chart("p1", "Ann", "Lee", None)]);
    r.say("I have a rash on my arm");
    assert_eq!(r.clip_names(), ["label-symptom", "is-that-right"]);
    r.say("yes");
    let actions = r.say("it's itchy and red since Monday");
    assert!(actions.contains(&Action::Note { key: "symptom", value: "it's itchy and red since Monday".into() }));
    assert!(!actions.contains(&Action::AlertOnCall));
    assert_eq!(r.clip_names(), ["record-after-tone", "tone"]);
}

#[test]
fn emergency_with_a_transfer_target() {
    let config = IvrConfig { emergency_transfer: Some("sip:nurse@clinic".into()), ..IvrConfig::default() };
    let mut r = Run::with(config, setup(true));
    r.finish_prompt();
    let actions = r.say("no, I'm having chest pain right now");
    assert!(actions.contains(&Action::Transfer { target: "sip:nurse@clinic".into(), timeout: Duration::from_secs(20) }));
    assert!(actions.contains(&Action::AlertOnCall));
    assert_eq!(plays(&actions), [["connecting", "ringback"]], "never silence while it connects");
    assert!(!r.dialog.is_done(), "the call is ours until the transfer went through");
}

#[test]
fn no_to_the_heard_request_opens_the_keypad_menu() {
    let mut r = identified_by_voice(vec![chart("p1", "Ann", "Lee", None)]);
    r.say("I'm calling about my blood test results");
    assert_eq!(r.clip_names(), ["label-results", "is-that-right"]);
    r.say("hmm maybe");
    assert_eq!(r.clip_names(), ["not-understood", "label-results", "is-that-right", "yes-no-help"], "how to answer, after a miss");
    r.keys("2");
    assert_eq!(r.clip_names()[0], "menu-intro");
    r.keys("2");
    assert!(r.log.contains(&Action::Request { kind: RequestType::Appointment, chosen_by: InputMethod::Dtmf }));
    assert_eq!(r.clip_names(), ["ask-appointment"]);
    let actions = r.say("I'd like to reschedule");
    assert!(actions.contains(&Action::Note { key: "appointment", value: "change".into() }));
}

#[test]
fn results_follow_up_keeps_the_utterance() {
    let mut r = identified_by_voice(vec![chart("p1", "Ann", "Lee", None)]);
    r.say("I'm calling about my blood test results");
    r.say("correct");
    assert_eq!(r.clip_names(), ["ask-test"]);
    let actions = r.say("the cholesterol one from last week");
    assert!(actions.contains(&Action::Note { key: "test", value: "the cholesterol one from last week".into() }));
}

#[test]
fn medication_without_read_back_is_noted_for_staff() {
    let mut r = identified_by_voice(vec![chart("p1", "Ann", "Lee", None)]);
    r.dialog.handle(Event::Medications(vec!["Zyxoprazole 5 MG Oral Tablet".into()]), r.now);
    r.keys("1");
    assert_eq!(r.clip_names(), ["ask-medication"]);
    let actions = r.say("zyxoprazole");
    assert!(actions.contains(&Action::Note { key: "medication", value: "Zyxoprazole 5 MG Oral Tablet".into() }));
    assert_eq!(r.clip_names(), ["medication-noted", "record-after-tone", "tone"]);

    let mut r = identified_by_voice(vec![chart("p1", "Ann", "Lee", None)]);
    r.keys("1");
    r.say("the little white one");
    assert!(r.log.contains(&Action::Note { key: "medication_spoken", value: "the little white one".into() }));
    assert_eq!(r.clip_names()[0], "medication-noted");
}

#[test]
fn speech_garbage_and_silence_fall_back_to_the_menu_then_staff() {
    let mut r = identified_by_voice(vec![]);
    r.say("blah blah");
    assert_eq!(r.clip_names(), ["not-understood", "ask-request"]);
    r.finish_prompt();
    r.wait(Duration::from_secs(8));
    assert_eq!(r.clip_names()[..2], ["no-input".to_string(), "menu-intro".to_string()]);
    assert!(r.kinds().contains(&"request_keypad"));
    for _ in 0..3 {
        r.finish_prompt();
        r.wait(Duration::from_secs(7));
    }
    assert_eq!(r.clip_names(), ["staff-default", "record-after-tone", "tone"]);
}

#[test]
fn barge_in_then_no_transcript_counts_as_not_understood() {
    let mut r = speech_run();
    r.finish_prompt();
    let tag = r.tag();
    r.dialog.handle(Event::SpeechStarted, r.now);
    r.dialog.handle(Event::PromptFinished { tag, interrupted: true }, r.now);
    assert!(r.drain().is_empty());
    let waiting = r.dialog.poll_timeout().unwrap();
    assert_eq!(waiting - r.now, Duration::from_secs(15), "the utterance timeout, not the silence timeout");
    r.wait(Duration::from_secs(15));
    assert_eq!(r.clip_names(), ["not-understood", "dob-ask-speech"]);
}

#[test]
fn the_greeting_listens_for_a_date_or_an_emergency_without_being_cut() {
    let mut r = speech_run();
    assert!(listens(&r.log), "listening from the first word");
    assert!(!r.dialog.voice_barge_in(), "the 911 disclaimer is not cut by the caller's voice");
    assert!(plays(&r.say("hello hi")).is_empty(), "small talk waits for the question");
    assert_eq!(logged(&r, "greeting_speech_ignored").len(), 1);
    assert_eq!(r.finish_prompt().iter().filter(|a| matches!(a, Action::Play { .. })).count(), 1);
    assert_eq!(r.clip_names(), ["dob-ask-speech"]);
    assert!(r.dialog.voice_barge_in());

    let mut r = speech_run();
    let actions = r.say("March fifth nineteen eighty two");
    assert!(actions.contains(&Action::Lookup { birth_date: date(1982, 3, 5) }));
    r.search(march_fifth(vec![chart("p1", "Ann", "Lee", None)]));
    assert_eq!(r.last_prompts(), vec![PromptItem::Clip("i-heard".into()), PromptItem::Date(date(1982, 3, 5)), PromptItem::Clip("dob-confirm-speech".into())]);
    assert_eq!(logged(&r, "dob_entered")[0]["during"], "greeting");
    let actions = r.say("yes");
    assert!(actions.contains(&Action::ChartSummary { patient_id: "p1".into() }));

    let mut r = speech_run();
    let actions = r.say("my husband collapsed and he is not breathing");
    assert_eq!(plays(&actions)[0][0], "emergency", "an emergency over the greeting is answered at once");
    assert!(actions.contains(&Action::AlertOnCall));
}

#[test]
fn speech_is_ignored_when_not_listening() {
    let mut r = Run::with(IvrConfig::default(), setup(false));
    r.finish_prompt();
    r.dialog.handle(Event::Speech { text: "march fifth nineteen eighty two".into() }, r.now);
    assert!(r.drain().is_empty(), "keypad-only call");
    assert!(!r.log.iter().any(|a| matches!(a, Action::Listen { .. })));
}

#[test]
fn recogniser_lost_mid_call_switches_to_keypad_at_once() {
    // During the date of birth.
    let mut r = speech_run();
    r.finish_prompt();
    r.dialog.handle(Event::SpeechStarted, r.now);
    r.dialog.handle(Event::SpeechUnavailable, r.now);
    let actions = r.drain();
    assert!(actions.contains(&Action::StopListening));
    assert_eq!(plays(&actions), [["enter-dob"]], "keypad prompt right away");
    // During the confirmation.
    r.keys("03051982");
    assert_eq!(r.clip_names(), ["i-heard", "dob-confirm"]);

    // During the spoken request: the keypad menu plays at once, and nothing listens again.
    let mut r = identified_by_voice(vec![chart("p1", "Ann", "Lee", None)]);
    r.dialog.handle(Event::SpeechUnavailable, r.now);
    let actions = r.drain();
    assert_eq!(plays(&actions)[0][0], "menu-intro");
    let from = r.log.len();
    r.keys("1");
    assert_eq!(r.clip_names(), ["record-after-tone", "tone"], "no medication question without speech");
    r.finish_prompt();
    assert!(!r.log[from..].iter().any(|a| matches!(a, Action::Listen { .. })));
    assert!(r.kinds().contains(&"speech_unavailable"));

    // During the name question: the caller is left ambiguous and goes on.
    let mut r = identified_by_voice(vec![chart("p1", "Ann", "Lee", None), chart("p2", "Bo", "Lee", None)]);
    r.dialog.handle(Event::SpeechUnavailable, r.now);
    r.drain();
    assert!(r.log.iter().any(|a| matches!(a, Action::Patient { status: MatchStatus::Ambiguous, .. })));
    assert_eq!(r.clip_names()[0], "menu-intro");
}

#[test]
fn keypad_appointment_follow_up() {
    let mut r = Run::with(IvrConfig::default(), setup(false));
    r.keys("03051982");
    r.keys("1");
    r.charts(vec![]);
    r.keys("2");
    assert_eq!(r.clip_names(), ["ask-appointment-keys"]);
    r.keys("7");
    assert_eq!(r.clip_names(), ["invalid-key", "ask-appointment-keys"]);
    let actions = r.keys("3");
    assert!(actions.contains(&Action::Note { key: "appointment", value: "cancel".into() }));
}

#[test]
fn after_hours_greeting_and_closing() {
    let mut r = Run::with(IvrConfig::default(), CallSetup { after_hours: true, ..setup(true) });
    assert_eq!(r.clip_names(), ["greeting", "practice-name", "disclaimer-911", "after-hours"]);
    r.keys("03051982");
    r.keys("1");
    r.charts(vec![]);
    r.keys("6");
    r.finish_prompt();
    r.keys("#");
    r.dialog.handle(Event::RecordingStopped { duration_ms: 3000, rms: 0.1 }, r.now);
    r.drain();
    assert!(r.clip_names().contains(&"next-steps-after-hours".to_string()));
}

#[test]
fn hangup_at_each_speech_step() {
    let steps: [&dyn Fn(&mut Run); 6] = [
        &|r| {
            r.finish_prompt();
        },
        &|r| {
            r.say("march fifth nineteen eighty two");
        },
        &|r| {
            r.charts(vec![chart("p1", "Ann", "Lee", None), chart("p2", "Bo", "Lee", None)]);
        },
        &|r| {
            r.say("yes");
        },
        &|r| {
            r.say("Ann");
        },
        &|r| {
            r.say("I need a refill");
        },
    ];
    for n in 0..=steps.len() {
        let mut r = speech_run();
        for step in steps.iter().take(n) {
            step(&mut r);
        }
        r.dialog.handle(Event::Hangup, r.now);
        r.drain();
        assert!(r.dialog.is_done(), "step {n}");
        assert_eq!(r.dialog.poll_timeout(), None);
        r.dialog.handle(Event::Speech { text: "yes".into() }, r.now);
        r.dialog.handle(Event::SpeechUnavailable, r.now);
        assert!(r.drain().is_empty(), "nothing after hang-up (step {n})");
    }
}

/// A chart of (birth date, patient) pairs.
fn chart_of(patients: Vec<(NaiveDate, Candidate)>) -> impl Fn(NaiveDate) -> Vec<Candidate> {
    move |d| patients.iter().filter(|(born, _)| *born == d).map(|(_, c)| c.clone()).collect()
}

#[test]
fn the_chart_picks_the_one_reading_of_a_digit_string_with_a_patient() {
    let mut r = speech_run();
    r.finish_prompt();
    let actions = r.say("11970");
    assert!(actions.contains(&Action::Lookup { birth_date: date(1970, 1, 19) }), "{actions:?}");
    r.search(chart_of(vec![(date(1970, 11, 9), chart("p1", "Ann", "Lee", None))]));
    assert_eq!(r.last_prompts(), vec![PromptItem::Clip("i-heard".into()), PromptItem::Date(date(1970, 11, 9)), PromptItem::Clip("dob-confirm-speech".into())]);
    assert_eq!(logged(&r, "dob_entered")[0]["readings"], 2);
    let actions = r.say("yes");
    assert!(actions.contains(&Action::Patient { birth_date: Some(date(1970, 11, 9)), status: MatchStatus::Identified, patient_id: Some("p1".into()), matched_by: Some(InputMethod::Speech) }));
}

#[test]
fn readings_of_two_patients_are_asked_again_then_left_to_staff() {
    let two = || chart_of(vec![(date(1970, 1, 19), chart("p1", "Ann", "Lee", None)), (date(1970, 11, 9), chart("p2", "Bo", "Ray", None))]);
    let mut r = speech_run();
    r.finish_prompt();
    for attempt in 1..=3 {
        r.say("11970");
        r.search(two());
        assert_eq!(logged(&r, "dob_ambiguous").len(), attempt);
        assert!(!r.log.iter().any(|a| matches!(a, Action::Patient { patient_id: Some(_), .. })), "never a guess");
    }
    assert_eq!(r.clip_names(), ["dob-giveup", "ask-request"]);
    assert!(r.log.contains(&Action::Patient { birth_date: None, status: MatchStatus::NotGiven, patient_id: None, matched_by: None }));
    let asked: Vec<_> = r.log.iter().filter_map(|a| if let Action::Play { prompts, .. } = a { Some(prompts.clone()) } else { None }).collect();
    assert!(asked.contains(&vec![PromptItem::Clip("dob-unclear".into()), PromptItem::Clip("dob-ask-speech".into())]), "{asked:?}");
}

#[test]
fn a_near_miss_of_one_patient_is_offered_and_confirmed_by_voice_or_key() {
    let ann = || chart_of(vec![(date(1982, 3, 5), chart("p1", "Ann", "Lee", None))]);
    let offer = vec![PromptItem::Clip("dob-did-you-say".into()), PromptItem::Date(date(1982, 3, 5)), PromptItem::Clip("yes-no-keys".into())];
    for answer in ["yes", "1"] {
        let mut r = speech_run();
        r.finish_prompt();
        r.say("May third nineteen eighty two");
        let lookups = r.search(ann());
        assert!(plays(&lookups).len() == 1, "one prompt once the search is over");
        assert_eq!(r.last_prompts(), offer);
        assert_eq!(logged(&r, "dob_near_miss").len(), 1);
        let actions = if answer == "1" { r.keys(answer) } else { r.say(answer) };
        assert!(
            actions.contains(&Action::Patient { birth_date: Some(date(1982, 3, 5)), status: MatchStatus::Identified, patient_id: Some("p1".into()), matched_by: Some(InputMethod::Speech) }),
            "{answer}"
        );
        assert_eq!(logged(&r, "dob_confirmed")[0]["near_miss"], true);
    }
    // "No": the date is asked again; an unclear answer hears the offer again.
    let mut r = speech_run();
    r.finish_prompt();
    r.say("May third nineteen eighty two");
    r.search(ann());
    r.say("what");
    assert_eq!(r.last_prompts()[0], PromptItem::Clip("not-understood".into()));
    assert_eq!(r.last_prompts()[1..], offer[..]);
    r.say("no");
    assert_eq!(r.clip_names(), ["dob-ask-speech"]);
    assert!(!r.log.iter().any(|a| matches!(a, Action::Patient { .. })));
}

#[test]
fn a_slow_chart_search_decides_on_what_it_found() {
    let mut r = speech_run();
    r.finish_prompt();
    r.say("11970");
    r.charts(vec![chart("p1", "Ann", "Lee", None)]); // 1970-01-19; 1970-11-09 never answers
    assert_eq!(r.pending_lookup(), Some(date(1970, 11, 9)));
    let actions = r.wait(Duration::from_millis(IvrConfig::default().lookup_timeout_ms));
    assert_eq!(logged(&r, "lookup_timeout").len(), 1);
    assert_eq!(plays(&actions), [["i-heard", "dob-confirm-speech"]], "read back, the caller confirms");
    assert_eq!(r.last_prompts()[1], PromptItem::Date(date(1970, 1, 19)));
}
