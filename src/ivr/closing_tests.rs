//! The end of the call on simulated time: the emergency transfer (connected, refused, never
//! answered), the message recorded whole across pauses and screened sentence by sentence, and
//! the keypad menu still hearing an emergency.

use std::time::Duration;

use super::speech_tests::{identified_by_voice, logged, plays};
use super::tests::{Run, chart, setup};
use super::*;

const CHEST: &str = "my chest hurts and my left arm is numb";

fn transfer_run() -> Run {
    let config = IvrConfig { emergency_transfer: Some("sip:nurse@10.0.0.5".into()), ..IvrConfig::default() };
    let mut r = Run::with(config, setup(true));
    r.finish_prompt();
    r
}

/// A speech caller at the message: the tone has played and recording started.
fn recording(config: IvrConfig) -> Run {
    let mut r = Run::with(config, setup(true));
    r.finish_prompt();
    r.say("March fifth nineteen eighty two");
    r.charts(vec![chart("p1", "Ann", "Lee", None)]);
    r.say("yes");
    r.keys("3");
    r.say("it's itchy and red since Monday");
    assert_eq!(r.clip_names(), ["record-after-tone", "tone"]);
    assert!(r.finish_prompt().contains(&Action::StartRecording));
    r
}

/// One sentence of the message: talking for `ms`, then the endpointer's end and the transcript.
fn sentence(r: &mut Run, ms: u64, text: &str) -> Vec<Action> {
    r.dialog.handle(Event::SpeechStarted, r.now);
    r.now += Duration::from_millis(ms);
    r.dialog.handle(Event::SpeechEnded, r.now);
    let mut actions = r.drain();
    r.now += Duration::from_millis(400);
    r.dialog.handle(Event::Speech { text: text.into() }, r.now);
    actions.extend(r.drain());
    actions
}

fn stops(actions: &[Action]) -> bool {
    actions.contains(&Action::StopRecording)
}

#[test]
fn a_connected_transfer_ends_our_leg() {
    let mut r = transfer_run();
    let actions = r.say("I'm having chest pain right now");
    assert_eq!(plays(&actions), [["connecting", "ringback"]]);
    assert_eq!(logged(&r, "transfer_started")[0]["target"], "sip:nurse@10.0.0.5");
    // Ringback goes on while the far end connects.
    assert_eq!(plays(&r.finish_prompt()), [["ringback"]]);
    assert_eq!(plays(&r.finish_prompt()), [["ringback"]]);
    r.now += Duration::from_secs(3);
    r.dialog.handle(Event::TransferSucceeded, r.now);
    let actions = r.drain();
    assert!(actions.contains(&Action::Hangup), "BYE once the caller is connected elsewhere");
    assert!(r.dialog.is_done());
    let done = logged(&r, "transfer")[0].clone();
    assert_eq!(done["outcome"], "succeeded");
    assert_eq!(done["target"], "sip:nurse@10.0.0.5");
    assert_eq!(done["ms"], 3000);
}

#[test]
fn a_failed_transfer_plays_the_911_prompt_and_takes_a_message() {
    let mut r = transfer_run();
    r.say("I'm having chest pain right now");
    r.now += Duration::from_millis(800);
    r.dialog.handle(Event::TransferFailed { reason: "REFER rejected with 603".into() }, r.now);
    let actions = r.drain();
    assert_eq!(plays(&actions), [["emergency", "emergency-stay", "tone"]]);
    assert_eq!(logged(&r, "transfer")[0]["outcome"], "failed");
    assert_eq!(logged(&r, "transfer")[0]["reason"], "REFER rejected with 603");
    assert!(r.finish_prompt().contains(&Action::StartRecording), "the urgent message may be left");
    r.keys("#");
    r.dialog.handle(Event::RecordingStopped { duration_ms: 5000, rms: 0.2 }, r.now);
    r.drain();
    assert!(r.clip_names().contains(&"next-steps-urgent".to_string()));
}

#[test]
fn a_transfer_never_answered_still_ends_in_the_911_prompt() {
    let mut r = transfer_run();
    r.say("I'm having chest pain right now");
    assert!(r.wait(Duration::from_secs(20)).is_empty(), "the SIP side has until its own timeout");
    let actions = r.wait(Duration::from_secs(3));
    assert_eq!(plays(&actions), [["emergency", "emergency-stay", "tone"]]);
    assert_eq!(logged(&r, "transfer")[0]["outcome"], "failed");
}

#[test]
fn pauses_do_not_end_the_message_a_long_silence_does() {
    let mut r = recording(IvrConfig::default());
    for part in ["my knee has been swelling", "since I started the new pills", "please call me back"] {
        assert!(!stops(&sentence(&mut r, 2500, part)), "{part}");
        assert!(!stops(&r.wait(Duration::from_secs(2))), "a 2 s pause after {part:?}");
    }
    // 2.4 s of the silence passed already (transcript + pause): 5 s in all ends the message.
    assert!(!stops(&r.wait(Duration::from_millis(2500))));
    assert!(stops(&r.wait(Duration::from_millis(200))));
    assert_eq!(logged(&r, "message_silence")[0]["silence_ms"], 5000);
    assert!(logged(&r, "emergency").is_empty());
}

#[test]
fn an_emergency_in_the_message_plays_the_911_prompt_at_once_and_recording_goes_on() {
    let mut r = recording(IvrConfig::default());
    sentence(&mut r, 2000, "I wanted to ask about my prescription");
    r.wait(Duration::from_secs(2));
    let actions = sentence(&mut r, 3000, CHEST);
    assert_eq!(plays(&actions), [["emergency"]], "the 911 prompt as soon as the sentence is known");
    assert!(actions.contains(&Action::AlertOnCall));
    assert!(!stops(&actions), "the message goes on");
    assert_eq!(logged(&r, "emergency")[0]["stage"], "message");
    // No silence counts while the prompt plays; after it, the caller may go on.
    assert!(!stops(&r.wait(Duration::from_secs(6))));
    r.finish_prompt();
    assert!(!stops(&sentence(&mut r, 2000, "it started an hour ago")));
    let actions = r.keys("5");
    assert!(stops(&actions), "any key ends the message");
    r.dialog.handle(Event::RecordingStopped { duration_ms: 20_000, rms: 0.2 }, r.now);
    r.drain();
    assert!(r.clip_names().contains(&"next-steps-urgent".to_string()));
}

#[test]
fn an_emergency_in_the_message_with_a_transfer_keeps_recording_until_the_outcome() {
    let mut r = recording(IvrConfig { emergency_transfer: Some("201".into()), ..IvrConfig::default() });
    let actions = sentence(&mut r, 3000, CHEST);
    assert!(actions.iter().any(|a| matches!(a, Action::Transfer { target, .. } if target == "201")));
    assert!(!stops(&actions));
    r.dialog.handle(Event::TransferFailed { reason: "no final NOTIFY within 20000 ms".into() }, r.now);
    assert_eq!(plays(&r.drain()), [["emergency"]], "back to the message being recorded");
    r.dialog.handle(Event::Hangup, r.now);
    assert!(stops(&r.drain()), "hang-up keeps what was said");
}

#[test]
fn the_message_ends_at_its_maximum_length_even_while_talking() {
    let mut r = recording(IvrConfig { max_message_s: 10, ..IvrConfig::default() });
    r.dialog.handle(Event::SpeechStarted, r.now);
    assert!(!stops(&r.wait(Duration::from_secs(9))));
    assert!(stops(&r.wait(Duration::from_secs(1))));
    assert_eq!(logged(&r, "message_max_length").len(), 1);
}

#[test]
fn the_keypad_menu_after_speech_failed_hears_an_emergency() {
    let mut r = identified_by_voice(vec![chart("p1", "Ann", "Lee", None)]);
    r.say("I'm calling about my blood test results");
    r.say("hmm maybe");
    let actions = r.keys("2");
    assert_eq!(r.clip_names()[0], "menu-intro");
    assert!(actions.iter().any(|a| matches!(a, Action::Listen { .. })), "the menu listens for red flags");
    assert!(!r.dialog.voice_barge_in(), "a voice does not cut the menu");
    // Other speech leaves the menu waiting for a key; it is not stuck.
    r.finish_prompt();
    r.say("um I'm not sure which one");
    assert_eq!(r.dialog.poll_timeout(), Some(r.now + Duration::from_millis(6000)));
    let actions = r.say("I think I'm having a stroke, my face is drooping");
    assert_eq!(plays(&actions)[0][0], "emergency");
    assert_eq!(logged(&r, "emergency")[0]["stage"], "menu");
}
