//! Every branch of the keypad flow, with simulated time; `Run` is the harness the speech tests
//! share.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::*;

pub(super) struct Run {
    pub dialog: Dialog,
    pub now: Instant,
    pub log: Vec<Action>,
    /// Chart lookups answered so far.
    pub answered: usize,
}

/// The embedded triage rules, compiled once for all tests.
pub(super) fn triage() -> Arc<Triage> {
    static TRIAGE: OnceLock<Arc<Triage>> = OnceLock::new();
    TRIAGE.get_or_init(|| Arc::new(Triage::embedded().expect("embedded rules"))).clone()
}

/// The speech engine's date parser, as the server passes it.
pub(super) fn test_dates(text: &str, today: NaiveDate) -> Vec<NaiveDate> {
    crate::speech::dates::parse_dates(text, today).unwrap_or_default()
}

pub(super) fn setup(speech: bool) -> CallSetup {
    CallSetup { after_hours: false, reference: "100042".into(), caller_phone: Some("+1 555-146-1616".into()), speech, today: date(2026, 11, 25) }
}

impl Run {
    fn new() -> Self {
        Self::with(IvrConfig::default(), setup(false))
    }

    pub(super) fn with(config: IvrConfig, setup: CallSetup) -> Self {
        let mut run = Self { dialog: Dialog::new(config, setup, triage(), test_dates), now: Instant::now(), log: Vec::new(), answered: 0 };
        run.dialog.start(run.now);
        run.drain();
        run
    }

    /// The chart lookup answers with these charts.
    pub(super) fn charts(&mut self, candidates: Vec<Candidate>) -> Vec<Action> {
        self.answered += 1;
        self.dialog.handle(Event::Candidates(candidates), self.now);
        self.drain()
    }

    /// The date of the lookup the dialog waits for, if any.
    pub(super) fn pending_lookup(&self) -> Option<NaiveDate> {
        let asked: Vec<NaiveDate> = self.log.iter().filter_map(|a| if let Action::Lookup { birth_date } = a { Some(*birth_date) } else { None }).collect();
        asked.get(self.answered).copied()
    }

    /// Answers the lookups of a chart search one after another from `chart` (birth date →
    /// charts) until the dialog asks no more; returns what it did meanwhile.
    pub(super) fn search(&mut self, chart: impl Fn(NaiveDate) -> Vec<Candidate>) -> Vec<Action> {
        let mut actions = Vec::new();
        while let Some(date) = self.pending_lookup() {
            actions.extend(self.charts(chart(date)));
        }
        actions
    }

    pub(super) fn say(&mut self, text: &str) -> Vec<Action> {
        self.now += Duration::from_millis(500);
        self.dialog.handle(Event::SpeechStarted, self.now);
        self.now += Duration::from_millis(1500);
        self.dialog.handle(Event::Speech { text: text.into() }, self.now);
        self.drain()
    }

    pub(super) fn drain(&mut self) -> Vec<Action> {
        let actions: Vec<Action> = std::iter::from_fn(|| self.dialog.poll_action()).collect();
        self.log.extend(actions.clone());
        actions
    }

    pub(super) fn tag(&self) -> u64 {
        self.log.iter().rev().find_map(|a| if let Action::Play { tag, .. } = a { Some(*tag) } else { None }).unwrap()
    }

    pub(super) fn last_prompts(&self) -> Vec<PromptItem> {
        self.log.iter().rev().find_map(|a| if let Action::Play { prompts, .. } = a { Some(prompts.clone()) } else { None }).unwrap()
    }

    pub(super) fn finish_prompt(&mut self) -> Vec<Action> {
        let tag = self.tag();
        self.dialog.handle(Event::PromptFinished { tag, interrupted: false }, self.now);
        self.drain()
    }

    pub(super) fn keys(&mut self, keys: &str) -> Vec<Action> {
        for k in keys.chars() {
            self.now += Duration::from_millis(300);
            self.dialog.handle(Event::Digit(k), self.now);
        }
        self.drain()
    }

    pub(super) fn wait(&mut self, by: Duration) -> Vec<Action> {
        self.now += by;
        self.dialog.handle_timeout(self.now);
        self.drain()
    }

    pub(super) fn kinds(&self) -> Vec<&'static str> {
        self.log.iter().filter_map(|a| if let Action::Log { kind, .. } = a { Some(*kind) } else { None }).collect()
    }

    pub(super) fn clip_names(&self) -> Vec<String> {
        self.last_prompts().iter().filter_map(|p| if let PromptItem::Clip(n) = p { Some(n.clone()) } else { None }).collect()
    }
}

pub(super) fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub(super) fn chart(id: &str, given: &str, family: &str, phone: Option<&str>) -> Candidate {
    Candidate { id: id.into(), given: given.into(), family: family.into(), phone: phone.map(String::from) }
}

#[test]
fn happy_path_keypad_call() {
    let mut r = Run::new();
    assert_eq!(r.clip_names(), ["greeting", "practice-name", "disclaimer-911"]);
    r.finish_prompt();
    assert_eq!(r.clip_names(), ["enter-dob"]);
    r.finish_prompt();
    r.keys("03051982");
    assert_eq!(r.last_prompts(), vec![PromptItem::Clip("i-heard".into()), PromptItem::Date(date(1982, 3, 5)), PromptItem::Clip("dob-confirm".into())]);
    let actions = r.keys("1");
    assert!(actions.contains(&Action::Lookup { birth_date: date(1982, 3, 5) }));
    let actions = r.charts(vec![chart("p1", "Ann", "Lee", None)]);
    assert!(actions.contains(&Action::Patient { birth_date: Some(date(1982, 3, 5)), status: MatchStatus::Identified, patient_id: Some("p1".into()), matched_by: Some(InputMethod::Dtmf) }));
    assert_eq!(r.clip_names()[0], "menu-intro");
    assert!(r.clip_names().contains(&"menu-refill".to_string()));
    let actions = r.keys("1");
    assert!(actions.contains(&Action::Request { kind: RequestType::Refill, chosen_by: InputMethod::Dtmf }));
    assert_eq!(r.clip_names(), ["record-after-tone", "tone"]);
    assert!(r.finish_prompt().contains(&Action::StartRecording));
    assert!(r.keys("#").contains(&Action::StopRecording));
    r.dialog.handle(Event::RecordingStopped { duration_ms: 4000, rms: 0.1 }, r.now);
    r.drain();
    assert!(r.last_prompts().contains(&PromptItem::Digits("100042".into())));
    assert_eq!(r.clip_names(), ["message-saved", "reference-number", "next-steps", "goodbye"]);
    assert!(r.finish_prompt().contains(&Action::Hangup));
    assert!(r.dialog.is_done());
    assert_eq!(r.kinds(), ["greeting", "dob_entered", "dob_confirmed", "patient_lookup", "request_chosen", "recording_started", "message_key", "recording_stopped", "reference_given", "goodbye"]);
}

#[test]
fn typing_during_greeting_counts_as_dob() {
    let mut r = Run::new();
    r.keys("03051982");
    assert_eq!(r.last_prompts()[1], PromptItem::Date(date(1982, 3, 5)));
}

#[test]
fn wrong_dob_then_retry_and_invalid_date() {
    let mut r = Run::new();
    r.finish_prompt();
    r.keys("02301982");
    assert_eq!(r.clip_names(), ["dob-invalid", "enter-dob"]);
    r.keys("03051982");
    r.keys("2");
    assert_eq!(r.clip_names(), ["enter-dob"], "2 = enter again");
    r.keys("12311999");
    r.keys("1");
    assert!(r.log.contains(&Action::Lookup { birth_date: date(1999, 12, 31) }));
    assert!(r.kinds().contains(&"dob_invalid") && r.kinds().contains(&"dob_retry"));
}

#[test]
fn three_failed_dob_tries_go_on_with_message_for_staff() {
    let mut r = Run::new();
    r.finish_prompt();
    for _ in 0..3 {
        r.keys("99999999");
    }
    assert!(r.log.contains(&Action::Patient { birth_date: None, status: MatchStatus::NotGiven, patient_id: None, matched_by: None }));
    assert_eq!(r.clip_names()[..2], ["dob-giveup".to_string(), "menu-intro".to_string()]);
    assert!(r.kinds().contains(&"fallback_staff"));
}

#[test]
fn silence_everywhere_still_ends_with_a_message_and_reference() {
    let mut r = Run::new();
    r.finish_prompt(); // greeting
    for _ in 0..3 {
        r.finish_prompt();
        r.wait(Duration::from_secs(7));
    }
    assert!(r.kinds().iter().filter(|k| **k == "no_input").count() >= 2);
    assert_eq!(r.clip_names()[0], "dob-giveup");
    for _ in 0..3 {
        r.finish_prompt();
        r.wait(Duration::from_secs(7));
    }
    assert_eq!(r.clip_names(), ["staff-default", "record-after-tone", "tone"]);
    r.finish_prompt();
    let actions = r.wait(Duration::from_secs(121));
    assert!(actions.contains(&Action::StopRecording), "maximum message length");
    r.dialog.handle(Event::RecordingStopped { duration_ms: 120_000, rms: 0.0 }, r.now);
    r.drain();
    assert_eq!(r.clip_names()[0], "message-empty");
    assert!(r.finish_prompt().contains(&Action::Hangup));
}

#[test]
fn partial_digits_then_timeout_are_judged() {
    let mut r = Run::new();
    r.finish_prompt();
    r.keys("0305");
    r.wait(Duration::from_secs(5));
    assert_eq!(r.clip_names(), ["dob-invalid", "enter-dob"]);
}

#[test]
fn invalid_keys_and_repeat_in_menu_and_page_two() {
    let mut r = Run::new();
    r.keys("03051982");
    r.keys("1");
    r.charts(vec![]);
    r.keys("#");
    assert_eq!(r.clip_names()[0], "menu-intro", "# repeats");
    r.keys("0");
    assert!(r.clip_names().contains(&"menu-provider".to_string()));
    r.keys("5");
    assert_eq!(r.clip_names()[0], "invalid-key");
    r.keys("2");
    assert!(r.log.contains(&Action::Request { kind: RequestType::Provider, chosen_by: InputMethod::Dtmf }));
}

#[test]
fn urgent_menu_choice_gets_urgent_closing() {
    let mut r = Run::new();
    r.keys("03051982");
    r.keys("1");
    r.wait(Duration::from_secs(4)); // lookup times out
    assert!(r.log.iter().any(|a| matches!(a, Action::Patient { status: MatchStatus::NotFound, .. })));
    r.keys("*");
    r.finish_prompt();
    r.keys("#");
    r.dialog.handle(Event::RecordingStopped { duration_ms: 3000, rms: 0.1 }, r.now);
    r.drain();
    assert!(r.clip_names().contains(&"next-steps-urgent".to_string()));
}

#[test]
fn confirm_silence_reprompts_then_asks_again() {
    let mut r = Run::new();
    r.keys("03051982");
    r.finish_prompt();
    r.wait(Duration::from_secs(7));
    assert_eq!(r.clip_names()[0], "no-input");
    r.keys("7");
    assert_eq!(r.clip_names()[0], "invalid-key");
}

#[test]
fn hangup_at_each_stage_stops_cleanly() {
    for steps in 0..6 {
        let mut r = Run::new();
        let script: [&dyn Fn(&mut Run); 5] = [
            &|r| {
                r.finish_prompt();
            },
            &|r| {
                r.keys("03051982");
            },
            &|r| {
                r.keys("1");
            },
            &|r| {
                r.charts(vec![chart("p1", "Ann", "Lee", None)]);
            },
            &|r| {
                r.keys("1");
                r.finish_prompt();
            },
        ];
        for step in script.iter().take(steps) {
            step(&mut r);
        }
        let recording = steps == 5;
        r.dialog.handle(Event::Hangup, r.now);
        let actions = r.drain();
        assert_eq!(actions.contains(&Action::StopRecording), recording, "step {steps}");
        assert!(r.dialog.is_done());
        assert_eq!(r.dialog.poll_timeout(), None);
        r.keys("1");
        assert!(r.drain().is_empty(), "nothing after hang-up");
    }
}

#[test]
fn stale_prompt_events_are_ignored() {
    let mut r = Run::new();
    let greeting = r.tag();
    r.keys("0");
    r.dialog.handle(Event::PromptFinished { tag: greeting, interrupted: true }, r.now);
    assert!(r.drain().is_empty());
}
