//! Appointments by voice through SIP with the real Whisper model: the caller types the date of
//! birth and presses 2 for appointments, then says what they want ("a new appointment", "a
//! follow-up visit", "the first one", "yes") in piper-synthesized speech. The booking must land in
//! the embedded chart; the test prints the time from choosing appointments to the confirmation
//! read-back.

mod common;

mod appointment_support;

use std::time::Duration;

use appointment_support::*;
use common::*;

fn start() -> Server {
    require_tool("sipp");
    speech_model();
    let server = Server::start(&always_open());
    server.wait_for_log("speech recognition ready", Duration::from_secs(60));
    server
}

/// Recognition of a short answer on this 2-core machine, with margin.
const HEARD_S: f64 = 2.0;

#[test]
fn spoken_booking_lands_in_the_chart() {
    let server = start();
    let dir = server.dir.path().to_path_buf();
    let patient = demo_patient("bc1e5a2d");
    // One continuous stream: separate captures restart the RTP sequence numbers, and a restart
    // that looks like old packets is dropped by the receiver.
    let (new, new_s) = spoken(&dir, "new", "A new appointment, please.");
    let (visit, visit_s) = spoken(&dir, "visit", "A follow-up visit.");
    let (first, first_s) = spoken(&dir, "first", "The first one.");
    let (yes, yes_s) = spoken(&dir, "yes", "Yes.");
    // The caller speaks when the prompt has said what they need (the offers: up to option one).
    let offers = clips_s(&["offers-lead-speech", "option", "digit-1"]) + slot_s(&patient.pcp, true);
    let confirm = clips_s(&["you-chose", "is-that-right"]) + slot_s(&patient.pcp, true);
    let turns = [
        (Send::Keys(patient.dob_keys.clone()), 3.5),
        (Send::Keys("1".into()), 3.0),
        (Send::Keys("2".into()), clips_s(&["ask-appointment"]) + 0.5),
        (Send::Speech(new, new_s), new_s + HEARD_S + clips_s(&["appointment-visit-ask", "visit-keys-standard"]) + 0.5),
        (Send::Speech(visit, visit_s), visit_s + HEARD_S + offers + 0.5),
        (Send::Speech(first, first_s), first_s + HEARD_S + confirm + 0.5),
        (Send::Speech(yes, yes_s), yes_s + HEARD_S + 1.0),
    ];
    let (stream, seconds) = one_stream(&dir, "speech-book", &turns);
    finish_sipp(&server, spawn_sipp(&server, &scenario(&dir, "speech-book", &[(stream, seconds)])));

    let call = the_call(&server, 0, 1);
    let kinds = event_kinds(&call);
    assert_eq!(call["patient"]["id"], patient.id.as_str(), "{call:#}");
    let booked = event(&call, "appointment_booked").unwrap_or_else(|| panic!("not booked: {kinds:?}"));
    for (kind, method) in [("appointment_action", "speech"), ("appointment_visit", "speech"), ("appointment_pick", "speech")] {
        assert_eq!(event(&call, kind).unwrap_or_else(|| panic!("{kind}: {kinds:?}"))["method"], method, "{kind}");
    }
    let listed = appointments(&server, &patient.id);
    let stored = listed.iter().find(|a| a["appointment_id"] == booked["appointment_id"]).unwrap_or_else(|| panic!("not in the chart: {listed:#?}"));
    assert_eq!(stored["start"], booked["slot_start"]);
    let seconds = time_to_confirmation(&call);
    eprintln!("spoken booking: {seconds:.1} s from choosing appointments to the confirmation read-back (target 30 s)\n{}", timeline(&call));
    // The caller's pauses are fixed; recognition time on a loaded machine comes on top of them.
    assert!(seconds <= 60.0, "{seconds:.1} s: {kinds:?}");
}
