//! Appointments end to end through SIP on the embedded chart with the demo practice's schedules:
//! SIPp calls in with RFC 4733 keys and books, changes and cancels; two callers race for one slot.
//! The call record must carry the outcome and the chart must agree (the appointment listed, its
//! slot no longer free; the moved or cancelled one gone). Each test prints the time from choosing
//! "appointments" to the confirmation read-back, from the record's timeline.

mod common;

mod appointment_support;

use std::process::Child;

use appointment_support::*;
use common::*;

/// A caller who listens to each prompt until it has said what they need (a menu to its end, the
/// offers up to the option they take, since the offers start with "press the option number at
/// any time") and answers 0.7 s later.
#[test]
fn keypad_booking_lands_in_the_chart() {
    let server = start_server();
    let dir = server.dir.path().to_path_buf();
    let patient = demo_patient("bc1e5a2d");
    let react = 0.7;
    let visit = clips_s(&["visit-keys-standard"]);
    let offers = clips_s(&["appointment-offers", "option", "digit-1"]) + slot_s(&patient.pcp, true);
    let confirm = clips_s(&["you-chose", "book-keys"]) + slot_s(&patient.pcp, true);
    // After the number, star to hear it again; then the goodbye and Chartline's BYE.
    let booked = clips_s(&["appointment-booked", "appointment-arrive", "confirmation-number", "confirmation-repeat-keys"]) + 2.5;
    let steps = [("2", clips_s(&["ask-appointment-keys"]) + react), ("1", visit + react), ("1", offers + 0.3 + react), ("1", confirm + react), ("1", booked + react), ("*", 1.0)];
    let turns = caller(&dir, &patient, &steps);
    finish_sipp(&server, spawn_sipp(&server, &scenario(&dir, "book", &turns)));

    let call = the_call(&server, 0, 1);
    assert_eq!(call["patient"]["id"], patient.id.as_str(), "{call:#}");
    assert_eq!(call["request"]["type"], "appointment");
    let booked = event(&call, "appointment_booked").unwrap_or_else(|| panic!("{:?}", event_kinds(&call)));
    let appointment_id = booked["appointment_id"].as_str().unwrap();
    let confirmation = booked["confirmation"].as_str().unwrap();
    assert!(!confirmation.is_empty() && confirmation.chars().all(|c| c.is_ascii_digit()), "{confirmation}");
    assert!(event_kinds(&call).contains(&"goodbye".to_string()), "the call ends after the read-back: {:?}", event_kinds(&call));
    assert_eq!(event(&call, "appointment_repeat").expect("the number repeated on star")["again"], true);
    // The chart: the appointment is the patient's, at the slot read back; the slot is taken.
    let listed = appointments(&server, &patient.id);
    let stored = listed.iter().find(|a| a["appointment_id"] == appointment_id).unwrap_or_else(|| panic!("{appointment_id} not in {listed:#?}"));
    assert_eq!(stored["start"], booked["slot_start"]);
    assert!(!free_slot_ids(&server, booked["practitioner_id"].as_str().unwrap()).contains(&booked["slot_id"].as_str().unwrap().to_string()), "the booked slot is no longer free");
    let seconds = time_to_confirmation(&call);
    eprintln!("keypad booking, caller listening: {seconds:.1} s from choosing appointments to the confirmation read-back (target 30 s)");
    assert!(seconds <= 30.0, "{seconds:.1} s");
}

/// An expert caller: each key 2 s into the prompt (barge-in).
#[test]
fn keypad_change_moves_the_appointment() {
    let server = start_server();
    let dir = server.dir.path().to_path_buf();
    let patient = demo_patient("289105c3");
    let before = appointments(&server, &patient.id);
    assert!(!before.is_empty(), "the demo gives every patient an upcoming appointment");
    let old_id = before[0]["appointment_id"].as_str().unwrap().to_string();
    let steps = [("2", 2.0), ("2", 2.0), ("1", 2.0), ("1", 2.0), ("1", 2.0), ("1", 2.0), ("1", 1.0)];
    finish_sipp(&server, spawn_sipp(&server, &scenario(&dir, "change", &caller(&dir, &patient, &steps))));

    let call = the_call(&server, 0, 1);
    let booked = event(&call, "appointment_booked").unwrap_or_else(|| panic!("{:?}", event_kinds(&call)));
    let ehr = event(&call, "ehr_booked").expect("ehr_booked on the timeline");
    assert_eq!(ehr["replaced"], old_id.as_str(), "the first listed appointment was moved");
    let after = appointments(&server, &patient.id);
    assert!(after.iter().any(|a| a["appointment_id"] == booked["appointment_id"]), "new appointment listed: {after:#?}");
    assert!(!after.iter().any(|a| a["appointment_id"] == old_id.as_str()), "old appointment gone: {after:#?}");
    assert_eq!(after.len(), before.len(), "moved, not added");
    eprintln!("keypad change, barge-in caller: {:.1} s from choosing appointments to the confirmation read-back", time_to_confirmation(&call));
}

#[test]
fn keypad_cancel_frees_the_appointment() {
    let server = start_server();
    let dir = server.dir.path().to_path_buf();
    let patient = demo_patient("6b65fb8e");
    let before = appointments(&server, &patient.id);
    assert!(!before.is_empty());
    let old_id = before[0]["appointment_id"].as_str().unwrap().to_string();
    let steps = [("2", 2.0), ("3", 2.0), ("1", 2.0), ("1", 3.0)];
    finish_sipp(&server, spawn_sipp(&server, &scenario(&dir, "cancel", &caller(&dir, &patient, &steps))));

    let call = the_call(&server, 0, 1);
    let cancelled = event(&call, "appointment_cancelled").unwrap_or_else(|| panic!("{:?}", event_kinds(&call)));
    assert_eq!(cancelled["appointment_id"], old_id.as_str());
    assert!(event(&call, "ehr_cancelled").is_some());
    let after = appointments(&server, &patient.id);
    assert_eq!(after.len(), before.len() - 1, "{after:#?}");
    assert!(!after.iter().any(|a| a["appointment_id"] == old_id.as_str()));
}

/// Two patients of one provider call at once and pick the same first offer: exactly one gets
/// it; the other hears at once that it was taken, gets the next offers and books one of them.
#[test]
fn two_callers_racing_for_one_slot() {
    let server = start_server();
    let dir = server.dir.path().to_path_buf();
    let (a, b) = (demo_patient("c0fd0785"), demo_patient("d63ff05d"));
    assert_eq!(a.pcp, b.pcp, "the same own provider: the same first offers");
    // Both pick option 1 and confirm at the same moment; the loser then picks again from the
    // fresh offers (the winner's extra keys fall after its confirmation number and are ignored).
    let steps = [("2", 2.0), ("1", 2.0), ("1", 2.5), ("1", 2.5), ("1", 4.0), ("1", 2.5), ("1", 2.0)];
    let dirs = [dir.join("a"), dir.join("b")];
    let runs: Vec<Child> = [&a, &b]
        .iter()
        .zip(&dirs)
        .map(|(p, d)| {
            std::fs::create_dir_all(d).unwrap();
            spawn_sipp(&server, &scenario(d, "race", &caller(d, p, &steps)))
        })
        .collect();
    for child in runs {
        finish_sipp(&server, child);
    }
    let calls = [the_call(&server, 0, 2), the_call(&server, 1, 2)];
    let booked: Vec<&serde_json::Value> = calls.iter().map(|c| event(c, "appointment_booked").unwrap_or_else(|| panic!("{:?}", event_kinds(c)))).collect();
    assert_ne!(booked[0]["slot_id"], booked[1]["slot_id"], "never one slot twice");
    let losers: Vec<&serde_json::Value> = calls.iter().filter(|c| event(c, "appointment_slot_taken").is_some()).collect();
    assert_eq!(losers.len(), 1, "exactly one caller lost the race");
    let loser = losers[0];
    let winner = calls.iter().find(|c| event(c, "appointment_slot_taken").is_none()).unwrap();
    let contested = &event(loser, "appointment_slot_taken").unwrap()["slot_id"];
    assert_eq!(&event(winner, "appointment_booked").unwrap()["slot_id"], contested, "the winner holds the contested slot");
    // Told at once: from the failed booking to the fresh offers.
    let events = loser["events"].as_array().unwrap();
    let tried = events.iter().rev().find(|e| e["kind"] == "appointment_book" && &e["slot_id"] == contested).unwrap();
    let offered = events.iter().filter(|e| e["kind"] == "appointment_offers").map(at).find(|t| *t > at(tried)).expect("fresh offers");
    let told_ms = (offered - at(tried)).num_milliseconds();
    eprintln!("race: the loser heard of it and got new offers {told_ms} ms after trying to book");
    assert!(told_ms < 1000, "{told_ms} ms");
    let listed_a = appointments(&server, &a.id);
    let listed_b = appointments(&server, &b.id);
    let holders = [listed_a, listed_b]
        .iter()
        .filter(|l| l.iter().any(|x| x["start"] == event(winner, "appointment_booked").unwrap()["slot_start"] && x["practitioner_id"].as_str() == Some(a.pcp.as_str())))
        .count();
    assert_eq!(holders, 1, "one chart holds the contested time");
}
