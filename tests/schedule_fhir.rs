//! Scheduling through the FHIR adapter against a real FHIR R4 server (sekmet-fhir, started by the
//! test): the demo schedules loaded as Schedule/Slot resources, the same offers as the embedded
//! chart, concurrent bookings of one slot (exactly one Appointment, the slot busy, the other caller
//! told SlotTaken), rebooking and cancelling.

mod common;

use std::sync::Arc;

use chartline::config::Config;
use chartline::ehr::BookError;
use chartline::ehr::Ehr;
use chartline::ehr::embedded::EmbeddedChart;
use chartline::schedule::{BookingRequest, SlotQuery, TimeConstraint, VisitType, slot_ids};
use chrono::{Duration, Utc};
use common::FhirServer;

const TZ: chrono_tz::Tz = chrono_tz::America::Chicago;

struct Setup {
    server: FhirServer,
    fhir: Arc<dyn Ehr>,
    local: EmbeddedChart,
    _dir: tempfile::TempDir,
    patients: Vec<String>,
    practitioner: String,
}

/// sekmet with the demo practice, three patients and two weeks of one PCP's generated schedule;
/// an embedded chart with the same files and schedules for comparison.
async fn setup() -> Setup {
    let server = FhirServer::start_fhir_server();
    let files = server.load_demo(3).await;
    let dir = tempfile::tempdir().unwrap();
    let local = EmbeddedChart::open(&dir.path().join("c.db")).unwrap().with_scheduling(TZ, 60);
    local.import(&files).unwrap();
    let now = Utc::now();
    local.generate_schedules(7, now).unwrap();
    let mut patients = Vec::new();
    let mut practitioner = None;
    for p in local.patients().unwrap() {
        if let Some(pcp) = local.chart_summary(&p.id).await.unwrap().pcp {
            practitioner.get_or_insert(pcp.id);
        }
        patients.push(p.id);
    }
    let practitioner = practitioner.expect("a loaded patient with a PCP");
    let bundle = local.schedule_bundle(now, now + Duration::days(14), std::slice::from_ref(&practitioner)).unwrap();
    assert!(bundle["entry"].as_array().unwrap().len() > 50);
    let r = reqwest::Client::new().post(server.base()).header("Content-Type", "application/fhir+json").body(bundle.to_string()).send().await.unwrap();
    assert!(r.status().is_success(), "loading schedules: {}", r.text().await.unwrap());
    let config = Config::parse(&format!("[ehr]\nadapter = \"fhir\"\n[ehr.fhir]\nbase_url = \"{}\"\n", server.base()), "test").unwrap();
    let fhir = config.open_ehr().unwrap();
    Setup { server, fhir, local, _dir: dir, patients, practitioner }
}

fn query(practitioner: &str, minutes: u32, limit: usize) -> SlotQuery {
    let from = Utc::now() + Duration::hours(1);
    SlotQuery { practitioner_id: Some(practitioner.into()), location_id: None, from, until: from + Duration::days(12), minutes, constraint: TimeConstraint::default(), exclude: vec![], limit }
}

fn request(patient: &str, slot: &str, visit: VisitType, replaces: Option<&str>) -> BookingRequest {
    BookingRequest { patient_id: patient.into(), slot_id: slot.into(), visit, replaces: replaces.map(str::to_string), call_id: format!("call-{}", uuid::Uuid::new_v4()) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fhir_scheduling_matches_the_chart_and_never_double_books() {
    let s = setup().await;

    // The server offers what the embedded chart offers for the same schedules.
    for (minutes, afternoons) in [(15, false), (30, false), (20, true)] {
        let mut q = query(&s.practitioner, minutes, 6);
        if afternoons {
            q.constraint.after = chrono::NaiveTime::from_hms_opt(13, 0, 0);
        }
        let remote = s.fhir.free_slots(&q).await.unwrap();
        assert_eq!(remote.len(), 6, "{minutes} min");
        assert_eq!(remote, s.local.free_slots(&q).await.unwrap(), "{minutes} min");
    }

    // Two callers book the same slot at the same moment, five times over.
    let offers = s.fhir.free_slots(&query(&s.practitioner, 15, 5)).await.unwrap();
    for offer in &offers {
        let callers: Vec<_> = s.patients[..2]
            .iter()
            .map(|patient| {
                let (fhir, req) = (s.fhir.clone(), request(patient, &offer.id, VisitType::FollowUp, None));
                tokio::spawn(async move { fhir.book(&req).await })
            })
            .collect();
        let mut results = Vec::new();
        for c in callers {
            results.push(c.await.unwrap());
        }
        let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        let taken = results.iter().filter(|r| matches!(r, Err(BookError::SlotTaken))).count();
        assert_eq!((won.len(), taken), (1, 1), "{results:?}");
        let booked = s.server.search(&format!("Appointment?slot=Slot/{}&status=booked", offer.id)).await;
        assert_eq!(booked.len(), 1, "exactly one Appointment holds the slot");
        assert_eq!(booked[0]["id"], won[0].appointment_id.as_str());
        assert_eq!(s.server.get_json(&format!("Slot/{}", offer.id)).await["status"], "busy");
    }
    // A slot taken earlier is refused outright.
    let again = s.fhir.book(&request(&s.patients[2], &offers[0].id, VisitType::FollowUp, None)).await;
    assert!(matches!(again, Err(BookError::SlotTaken)), "{again:?}");
    // Taken slots are no longer offered.
    let now_free = s.fhir.free_slots(&query(&s.practitioner, 15, 20)).await.unwrap();
    assert!(now_free.iter().all(|f| offers.iter().all(|o| o.id != f.id)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fhir_book_rebook_cancel() {
    let s = setup().await;
    let patient = &s.patients[0];
    let offer = s.fhir.free_slots(&query(&s.practitioner, 30, 1)).await.unwrap().remove(0);
    let first = request(patient, &offer.id, VisitType::AnnualPhysical, None);
    let booked = s.fhir.book(&first).await.unwrap();
    assert_eq!(booked.slot, offer);
    // The same call retrying (its answer lost) gets the same booking back; nothing new is written.
    let retried = s.fhir.book(&first).await.unwrap();
    assert_eq!((&retried.appointment_id, &retried.confirmation), (&booked.appointment_id, &booked.confirmation));
    assert_eq!(s.server.search(&format!("Appointment?slot=Slot/{}", slot_ids(&offer.id)[0])).await.len(), 1);
    let appointment = s.server.get_json(&format!("Appointment/{}", booked.appointment_id)).await;
    assert_eq!(appointment["status"], "booked");
    let actors: Vec<&str> = appointment["participant"].as_array().unwrap().iter().map(|p| p["actor"]["reference"].as_str().unwrap()).collect();
    assert_eq!(actors, [format!("Patient/{patient}"), format!("Practitioner/{}", s.practitioner), format!("Location/{}", offer.location_id)]);
    let confirmation = appointment["identifier"].as_array().unwrap().iter().find(|i| i["system"].as_str().unwrap().ends_with("confirmation")).unwrap();
    assert_eq!(confirmation["value"], booked.confirmation.as_str());
    for id in slot_ids(&offer.id) {
        assert_eq!(s.server.get_json(&format!("Slot/{id}")).await["status"], "busy");
    }
    let upcoming = s.fhir.upcoming_appointments(patient, Utc::now()).await.unwrap();
    let mine = upcoming.iter().find(|u| u.appointment_id == booked.appointment_id).expect("listed");
    assert_eq!((mine.start, mine.practitioner_name.as_deref()), (offer.start, Some(offer.practitioner_name.as_str())));
    // The chart summary (Appointment?patient=&date=ge) sees it too.
    assert!(s.fhir.chart_summary(patient).await.unwrap().appointments.iter().any(|a| a.id == booked.appointment_id));

    // Move it: the new slot busy, the old appointment cancelled and its slots free.
    let mut q = query(&s.practitioner, 15, 1);
    q.exclude = slot_ids(&offer.id).into_iter().map(str::to_string).collect();
    let new_slot = s.fhir.free_slots(&q).await.unwrap().remove(0);
    let moved = s.fhir.book(&request(patient, &new_slot.id, VisitType::FollowUp, Some(&booked.appointment_id))).await.unwrap();
    assert_eq!(s.server.get_json(&format!("Appointment/{}", booked.appointment_id)).await["status"], "cancelled");
    for id in slot_ids(&offer.id) {
        assert_eq!(s.server.get_json(&format!("Slot/{id}")).await["status"], "free");
    }
    assert_eq!(s.server.get_json(&format!("Slot/{}", new_slot.id)).await["status"], "busy");

    // Someone else cannot cancel it; the patient can.
    assert!(matches!(s.fhir.cancel_appointment(&s.patients[1], &moved.appointment_id, "c").await, Err(BookError::NotFound(_))));
    s.fhir.cancel_appointment(patient, &moved.appointment_id, "c").await.unwrap();
    assert_eq!(s.server.get_json(&format!("Slot/{}", new_slot.id)).await["status"], "free");
    let ids: Vec<String> = s.fhir.upcoming_appointments(patient, Utc::now()).await.unwrap().into_iter().map(|u| u.appointment_id).collect();
    assert!(!ids.contains(&moved.appointment_id) && !ids.contains(&booked.appointment_id));
    assert!(matches!(s.fhir.book(&request(patient, "no-such-slot", VisitType::FollowUp, None)).await, Err(BookError::NotFound(_))));
}

/// Both callers read the slot as free before either writes: the version check alone decides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fhir_stale_read_cannot_double_book() {
    use chartline::ehr::fhir::{auth::Auth, client::FhirClient, schedule};
    let s = setup().await;
    let client = FhirClient::new(&s.server.base(), std::time::Duration::from_secs(10), Auth::None).unwrap();
    let offer = s.fhir.free_slots(&query(&s.practitioner, 30, 1)).await.unwrap().remove(0);
    let now = Utc::now();
    let first = schedule::prepare(&client, &request(&s.patients[0], &offer.id, VisitType::AnnualPhysical, None), now).await.unwrap();
    let second = schedule::prepare(&client, &request(&s.patients[1], &offer.id, VisitType::AnnualPhysical, None), now).await.unwrap();
    let won = schedule::commit(&client, first).await.unwrap();
    let lost = schedule::commit(&client, second).await;
    assert!(matches!(lost, Err(BookError::SlotTaken)), "{lost:?}");
    for id in slot_ids(&offer.id) {
        let booked = s.server.search(&format!("Appointment?slot=Slot/{id}")).await;
        assert_eq!(booked.len(), 1, "the losing transaction wrote nothing");
        assert_eq!(booked[0]["id"], won.appointment_id.as_str());
    }
}
