//! One keypad booking through SIP with `[ehr] adapter = "fhir"` against a real FHIR R4 server
//! (sekmet, started by the test) holding the demo practice and two weeks of the patient's
//! provider's schedule as Schedule/Slot resources: the Appointment must exist on the server for
//! the patient and the slot read back, and that Slot must be busy.

mod common;

mod appointment_support;

use appointment_support::*;
use chartline::ehr::embedded::EmbeddedChart;
use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn keypad_booking_through_fhir() {
    require_tool("sipp");
    let fhir = FhirServer::start_fhir_server();
    // The first demo patient file (sorted) and the shared practice bundle.
    let files = fhir.load_demo(1).await;
    let patient = demo_patient("004b452b");
    assert!(files.iter().any(|f| f.to_string_lossy().contains(&patient.id)), "{files:?}");
    // Its provider's schedule, generated as for the embedded chart, posted as Schedule/Slot.
    let scratch = tempfile::tempdir().unwrap();
    let tz: chrono_tz::Tz = chrono_tz::America::Chicago;
    let local = EmbeddedChart::open(&scratch.path().join("c.db")).unwrap().with_scheduling(tz, 60);
    local.import(&files).unwrap();
    let now = chrono::Utc::now();
    local.generate_schedules(7, now).unwrap();
    let bundle = local.schedule_bundle(now, now + chrono::Duration::days(14), std::slice::from_ref(&patient.pcp)).unwrap();
    let r = reqwest::Client::new().post(fhir.base()).header("Content-Type", "application/fhir+json").body(bundle.to_string()).send().await.unwrap();
    assert!(r.status().is_success(), "loading schedules: {}", r.text().await.unwrap_or_default());

    let server = Server::start(&format!("{KEYPAD_ONLY}{}[ehr]\nadapter = \"fhir\"\n[ehr.fhir]\nbase_url = \"{}\"\n", always_open(), fhir.base()));
    let dir = server.dir.path().to_path_buf();
    let steps = [("2", 2.0), ("1", 2.0), ("1", 3.0), ("1", 3.0), ("1", 2.0)];
    let turns = caller(&dir, &patient, &steps);
    let path = scenario(&dir, "fhir-book", &turns);
    let child = spawn_sipp(&server, &path);
    let server = tokio::task::spawn_blocking(move || {
        finish_sipp(&server, child);
        server
    })
    .await
    .unwrap();
    let call = tokio::task::block_in_place(|| the_call(&server, 0, 1));
    let booked = event(&call, "appointment_booked").unwrap_or_else(|| panic!("not booked: {:?}\n{}", event_kinds(&call), server.log_text()));
    let appointment = fhir.get_json(&format!("Appointment/{}", booked["appointment_id"].as_str().unwrap())).await;
    assert_eq!(appointment["status"], "booked", "{appointment:#}");
    let participants = appointment["participant"].to_string();
    assert!(participants.contains(&format!("Patient/{}", patient.id)), "{participants}");
    let slot = fhir.get_json(&format!("Slot/{}", booked["slot_id"].as_str().unwrap())).await;
    assert_eq!(slot["status"], "busy", "{slot:#}");
    let start: chrono::DateTime<chrono::Utc> = appointment["start"].as_str().unwrap().parse().unwrap();
    assert_eq!(serde_json::json!(start), booked["slot_start"]);
    eprintln!("FHIR keypad booking, barge-in caller: {:.1} s from choosing appointments to the confirmation read-back", time_to_confirmation(&call));
}
