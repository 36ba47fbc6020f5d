use super::*;

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn target(name: &str) -> Target {
    Target { provider: format!("Practitioner/{name}"), dial: format!("+1555010000{}", name.len()) }
}

fn timing() -> AlertTiming {
    AlertTiming { ring_timeout: s(30), retry_after: s(60), max_attempts: 2, escalate_after: s(600), menu_repeats: 1, key_timeout: s(8) }
}

fn drain(alert: &mut Alert) -> Vec<Action> {
    std::iter::from_fn(|| alert.poll_action()).collect()
}

fn kinds(actions: &[Action]) -> Vec<&'static str> {
    actions.iter().filter_map(|a| if let Action::Outcome { kind, .. } = a { Some(*kind) } else { None }).collect()
}

/// Runs the timers up to `until`, returning every action.
fn run_until(alert: &mut Alert, until: Instant) -> Vec<Action> {
    let mut all = Vec::new();
    while let Some(at) = alert.poll_timeout().filter(|t| *t <= until) {
        alert.handle_timeout(at);
        all.extend(drain(alert));
    }
    all
}

#[test]
fn answered_alert_plays_message_then_acknowledges() {
    let t0 = Instant::now();
    let mut alert = Alert::start(target("a"), Some(target("bb")), timing(), t0);
    let first = drain(&mut alert);
    assert_eq!(first[0], Action::Dial(target("a")));
    assert_eq!(kinds(&first), ["alert_placed"]);
    alert.handle(Event::Answered, t0 + s(5));
    assert_eq!(drain(&mut alert), vec![Action::Outcome { kind: "alert_answered", detail: json!({ "provider": "Practitioner/a", "attempt": 1 }) }, Action::Play(Prompt::Menu)]);
    alert.handle(Event::Digit('1'), t0 + s(7));
    assert_eq!(drain(&mut alert).last(), Some(&Action::Play(Prompt::Message)));
    alert.handle(Event::PromptFinished, t0 + s(30));
    assert_eq!(drain(&mut alert), vec![Action::Play(Prompt::Menu)], "back to the menu after the message");
    alert.handle(Event::Digit('3'), t0 + s(32));
    let acts = drain(&mut alert);
    assert_eq!(kinds(&acts), ["acknowledged"]);
    assert!(acts.contains(&Action::Play(Prompt::Acknowledged)));
    alert.handle(Event::PromptFinished, t0 + s(34));
    assert_eq!(drain(&mut alert), vec![Action::HangupProvider]);
    assert!(alert.is_done());
}

#[test]
fn key_two_calls_the_patient_and_bridges_until_either_hangs_up() {
    let t0 = Instant::now();
    let mut alert = Alert::start(target("a"), None, timing(), t0);
    alert.handle(Event::Answered, t0 + s(2));
    alert.handle(Event::PromptFinished, t0 + s(12));
    drain(&mut alert);
    alert.handle(Event::Digit('2'), t0 + s(13));
    let acts = drain(&mut alert);
    assert_eq!(kinds(&acts), ["acknowledged"]);
    assert!(acts.contains(&Action::DialPatient) && acts.contains(&Action::Play(Prompt::Connecting)));
    assert_eq!(alert.poll_timeout(), None, "no key timeout while the patient rings");
    alert.handle(Event::PatientAnswered, t0 + s(20));
    let acts = drain(&mut alert);
    assert!(acts.contains(&Action::Bridge));
    assert_eq!(kinds(&acts), ["bridged"]);
    alert.handle(Event::PatientHungUp, t0 + s(80));
    let acts = drain(&mut alert);
    assert!(acts.contains(&Action::HangupProvider));
    assert_eq!(kinds(&acts), ["bridge_ended"]);
    assert!(alert.is_done());
}

#[test]
fn unreachable_patient_returns_to_the_menu() {
    let t0 = Instant::now();
    let mut alert = Alert::start(target("a"), None, timing(), t0);
    alert.handle(Event::Answered, t0);
    alert.handle(Event::Digit('2'), t0 + s(1));
    drain(&mut alert);
    alert.handle(Event::PatientFailed { status: 486 }, t0 + s(5));
    let acts = drain(&mut alert);
    assert_eq!(kinds(&acts), ["patient_unreachable"]);
    assert_eq!(acts[1..], [Action::Play(Prompt::PatientUnreachable), Action::Play(Prompt::Menu)]);
    alert.handle(Event::Digit('3'), t0 + s(9));
    assert!(kinds(&drain(&mut alert)).is_empty(), "acknowledged once only");
}

#[test]
fn nobody_answers_retries_then_escalates_then_fails() {
    let t0 = Instant::now();
    let mut alert = Alert::start(target("a"), Some(target("bb")), timing(), t0);
    drain(&mut alert);
    // Attempt 1 rings out at 30 s, attempt 2 starts after 60 s more and rings out too.
    let acts = run_until(&mut alert, t0 + s(120));
    assert_eq!(kinds(&acts), ["alert_unanswered", "alert_placed", "alert_unanswered", "escalated", "alert_placed"]);
    assert_eq!(acts.iter().filter(|a| **a == Action::CancelDial).count(), 2);
    assert_eq!(acts.last(), Some(&Action::Outcome { kind: "alert_placed", detail: json!({ "provider": "Practitioner/bb", "attempt": 1 }) }));
    assert!(acts.contains(&Action::Dial(target("bb"))));
    // The backup's phone is busy twice: the alert fails.
    alert.handle(Event::DialFailed { status: 486 }, t0 + s(125));
    run_until(&mut alert, t0 + s(190));
    alert.handle(Event::DialFailed { status: 486 }, t0 + s(191));
    let acts = drain(&mut alert);
    assert_eq!(kinds(&acts), ["alert_unanswered", "alert_failed"]);
    assert!(alert.is_done());
}

#[test]
fn escalates_early_when_the_provider_keeps_the_alert_waiting() {
    let t0 = Instant::now();
    let timing = AlertTiming { max_attempts: 5, escalate_after: s(100), ..timing() };
    let mut alert = Alert::start(target("a"), Some(target("bb")), timing, t0);
    drain(&mut alert);
    let acts = run_until(&mut alert, t0 + s(125));
    // 0 s ring, 30 s out, 90 s ring again, 120 s out: 120 + 60 > 100, so the backup now.
    assert_eq!(kinds(&acts), ["alert_unanswered", "alert_placed", "alert_unanswered", "escalated", "alert_placed"]);
}

#[test]
fn answered_but_silent_counts_as_unanswered() {
    let t0 = Instant::now();
    let mut alert = Alert::start(target("a"), None, AlertTiming { max_attempts: 1, ..timing() }, t0);
    alert.handle(Event::Answered, t0 + s(3));
    alert.handle(Event::PromptFinished, t0 + s(13));
    drain(&mut alert);
    let acts = run_until(&mut alert, t0 + s(22));
    assert_eq!(acts, vec![Action::Play(Prompt::Menu)], "menu repeated once, 8 s after it ended");
    alert.handle(Event::PromptFinished, t0 + s(32));
    let acts = run_until(&mut alert, t0 + s(60));
    assert!(acts.contains(&Action::HangupProvider));
    assert_eq!(kinds(&acts), ["alert_unanswered", "alert_failed"]);
}

#[test]
fn invalid_key_repeats_the_menu() {
    let t0 = Instant::now();
    let mut alert = Alert::start(target("a"), None, timing(), t0);
    alert.handle(Event::Answered, t0);
    drain(&mut alert);
    alert.handle(Event::Digit('9'), t0 + s(1));
    assert_eq!(drain(&mut alert), vec![Action::Play(Prompt::InvalidKey), Action::Play(Prompt::Menu)]);
}

#[test]
fn acknowledged_on_the_dashboard_stops_the_page_wherever_it_is() {
    let t0 = Instant::now();
    let ack = || Event::AcknowledgedElsewhere { by: "Nina".into() };
    let stopped = |acts: &[Action]| acts.iter().any(|a| matches!(a, Action::Outcome { kind: "page_stopped", detail } if detail["by"] == "Nina"));

    // Ringing: the call is cancelled, no retry, no escalation later.
    let mut alert = Alert::start(target("a"), Some(target("bb")), timing(), t0);
    drain(&mut alert);
    alert.handle(ack(), t0 + s(3));
    let acts = drain(&mut alert);
    assert!(stopped(&acts) && acts.contains(&Action::CancelDial), "{acts:?}");
    assert!(alert.is_done());
    assert_eq!(alert.poll_timeout(), None, "nothing more is placed");

    // Waiting for the retry: it is dropped.
    let mut alert = Alert::start(target("a"), Some(target("bb")), timing(), t0);
    alert.handle(Event::DialFailed { status: 486 }, t0 + s(2));
    drain(&mut alert);
    assert!(alert.poll_timeout().is_some(), "a retry is due");
    alert.handle(ack(), t0 + s(10));
    let acts = drain(&mut alert);
    assert!(stopped(&acts) && !acts.iter().any(|a| matches!(a, Action::Dial(_))), "{acts:?}");
    assert!(alert.is_done());
    assert!(run_until(&mut alert, t0 + s(3600)).is_empty());

    // The menu is being read: "acknowledged", then the staff member is hung up.
    let mut alert = Alert::start(target("a"), None, timing(), t0);
    alert.handle(Event::Answered, t0 + s(2));
    drain(&mut alert);
    alert.handle(ack(), t0 + s(4));
    let acts = drain(&mut alert);
    assert!(stopped(&acts) && acts.contains(&Action::Play(Prompt::Acknowledged)), "{acts:?}");
    alert.handle(Event::Digit('3'), t0 + s(5));
    assert!(kinds(&drain(&mut alert)).is_empty(), "no second acknowledgement");
    alert.handle(Event::PromptFinished, t0 + s(6));
    assert_eq!(drain(&mut alert), vec![Action::HangupProvider]);
    assert!(alert.is_done());

    // A bridge to the patient already under way goes on.
    let mut alert = Alert::start(target("a"), None, timing(), t0);
    alert.handle(Event::Answered, t0 + s(2));
    alert.handle(Event::Digit('2'), t0 + s(4));
    alert.handle(Event::PatientAnswered, t0 + s(8));
    drain(&mut alert);
    alert.handle(ack(), t0 + s(9));
    assert!(drain(&mut alert).is_empty());
    assert!(!alert.is_done());
}
