//! Scheduling in the embedded chart loaded with the demo practice: generated schedules in the
//! future, slot search, booking (joined slots for longer visits), rebooking, cancelling, the
//! chart summary, two callers racing for one slot through two connections, and the CLI.

mod common;

use std::process::Command;
use std::sync::{Arc, Barrier};

use chartline::ehr::BookError;
use chartline::ehr::Ehr;
use chartline::ehr::embedded::EmbeddedChart;
use chartline::schedule::{BookingRequest, SlotQuery, TimeConstraint, VisitType, slot_ids};
use chrono::{Datelike, Duration, Timelike, Utc};
use common::{BIN, repo_root};

const TZ: chrono_tz::Tz = chrono_tz::America::Chicago;

fn demo_chart(dir: &std::path::Path) -> EmbeddedChart {
    let chart = EmbeddedChart::open(&dir.join("chart.db")).unwrap().with_scheduling(TZ, 60);
    chart.ensure_demo_loaded(&repo_root().join("demo/practice")).unwrap().expect("demo loaded");
    chart
}

/// A patient with a PCP (the practitioner whose slots the tests book).
async fn patient_and_pcp(chart: &EmbeddedChart) -> (String, String) {
    for p in chart.patients().unwrap() {
        let s = chart.chart_summary(&p.id).await.unwrap();
        if let Some(pcp) = s.pcp {
            return (p.id, pcp.id);
        }
    }
    panic!("no demo patient has a PCP");
}

fn query(practitioner: &str, minutes: u32, limit: usize) -> SlotQuery {
    let from = Utc::now() + Duration::hours(1);
    SlotQuery { practitioner_id: Some(practitioner.into()), location_id: None, from, until: from + Duration::days(60), minutes, constraint: TimeConstraint::default(), exclude: vec![], limit }
}

fn request(patient: &str, slot: &str, visit: VisitType, replaces: Option<&str>) -> BookingRequest {
    BookingRequest { patient_id: patient.into(), slot_id: slot.into(), visit, replaces: replaces.map(str::to_string), call_id: format!("call-{}", uuid::Uuid::new_v4()) }
}

#[tokio::test]
async fn demo_schedules_lie_ahead_and_constraints_narrow_them() {
    let dir = tempfile::tempdir().unwrap();
    let chart = demo_chart(dir.path());
    let (_, pcp) = patient_and_pcp(&chart).await;
    let now = Utc::now();

    let offers = chart.free_slots(&query(&pcp, 15, 50)).await.unwrap();
    assert_eq!(offers.len(), 50, "a practitioner has plenty of free slots over 60 days");
    assert!(offers.windows(2).all(|w| w[0].start <= w[1].start), "earliest first");
    for s in &offers {
        let local = s.start.with_timezone(&TZ);
        assert!(s.start > now && s.practitioner_id == pcp && !s.location_name.is_empty() && !s.practitioner_name.is_empty());
        assert!(local.weekday().num_days_from_monday() < 5 && (8..17).contains(&local.hour()), "{local}");
    }

    // "Tuesday morning" in the practice's time zone.
    let mut q = query(&pcp, 15, 5);
    q.constraint = TimeConstraint { weekdays: vec![chrono::Weekday::Tue], before: chrono::NaiveTime::from_hms_opt(12, 0, 0), ..Default::default() };
    let tuesday = chart.free_slots(&q).await.unwrap();
    assert!(!tuesday.is_empty());
    for s in &tuesday {
        let local = s.start.with_timezone(&TZ);
        assert_eq!(local.weekday(), chrono::Weekday::Tue);
        assert!(local.hour() < 12);
    }

    // A 30-minute visit joins back-to-back slots of one practitioner.
    let long = chart.free_slots(&query(&pcp, 30, 5)).await.unwrap();
    assert!(!long.is_empty());
    for s in &long {
        assert!(s.end - s.start >= Duration::minutes(30), "{s:?}");
        let parts = slot_ids(&s.id);
        assert!(parts.len() >= 2 || s.end - s.start >= Duration::minutes(30));
        for id in parts {
            assert_eq!(chart.slot_status(id).unwrap().unwrap().0, "free");
        }
    }

    // Declined offers are not offered again.
    let mut q = query(&pcp, 15, 3);
    let first = chart.free_slots(&q).await.unwrap();
    q.exclude = first.iter().map(|s| s.id.clone()).collect();
    let next = chart.free_slots(&q).await.unwrap();
    assert!(next.iter().all(|s| !q.exclude.contains(&s.id)) && next.len() == 3);
    assert!(next[0].start >= first[2].start);
}

#[tokio::test]
async fn book_rebook_and_cancel() {
    let dir = tempfile::tempdir().unwrap();
    let chart = demo_chart(dir.path());
    let (patient, pcp) = patient_and_pcp(&chart).await;
    let before = chart.chart_summary(&patient).await.unwrap().appointments.len();

    let offer = chart.free_slots(&query(&pcp, 30, 1)).await.unwrap().remove(0);
    let first = request(&patient, &offer.id, VisitType::AnnualPhysical, None);
    let booked = chart.book(&first).await.unwrap();
    assert_eq!(booked.slot, offer);
    // The same call retrying the same booking gets it back, not a second one.
    let retried = chart.book(&first).await.unwrap();
    assert_eq!((&retried.appointment_id, &retried.confirmation, &retried.slot), (&booked.appointment_id, &booked.confirmation, &offer));
    assert_eq!(booked.confirmation.len(), 6);
    assert!(booked.confirmation.chars().all(|c| c.is_ascii_digit()));
    for id in slot_ids(&offer.id) {
        assert_eq!(chart.slot_status(id).unwrap().unwrap(), ("busy".to_string(), Some(booked.appointment_id.clone())));
    }
    let appointment = chart.appointment(&booked.appointment_id).unwrap().unwrap();
    assert_eq!(appointment["status"], "booked");
    assert_eq!(appointment["slot"].as_array().unwrap().len(), slot_ids(&offer.id).len());
    let summary = chart.chart_summary(&patient).await.unwrap();
    assert_eq!(summary.appointments.len(), before + 1);
    assert!(summary.appointments.iter().any(|a| a.id == booked.appointment_id && a.practitioner.as_deref() == Some(pcp.as_str())));
    let upcoming = chart.upcoming_appointments(&patient, Utc::now()).await.unwrap();
    let mine = upcoming.iter().find(|u| u.appointment_id == booked.appointment_id).unwrap();
    assert_eq!((mine.start, mine.practitioner_name.as_deref()), (offer.start, Some(offer.practitioner_name.as_str())));

    // The same slot again: taken. A slot that does not exist: not found.
    let again = chart.book(&request(&patient, slot_ids(&offer.id)[0], VisitType::FollowUp, None)).await;
    assert!(matches!(again, Err(BookError::SlotTaken)), "{again:?}");
    assert!(matches!(chart.book(&request(&patient, "no-such-slot", VisitType::FollowUp, None)).await, Err(BookError::NotFound(_))));

    // Rebooking onto a taken slot fails and keeps the old appointment.
    let mut q = query(&pcp, 15, 2);
    q.exclude = vec![offer.id.clone()];
    let others = chart.free_slots(&q).await.unwrap();
    let (taken, new_slot) = (&others[0], &others[1]);
    let (other_patient, _) = {
        let p = chart.patients().unwrap().into_iter().find(|p| p.id != patient).unwrap();
        (p.id, ())
    };
    chart.book(&request(&other_patient, &taken.id, VisitType::FollowUp, None)).await.unwrap();
    let failed = chart.book(&request(&patient, &taken.id, VisitType::FollowUp, Some(&booked.appointment_id))).await;
    assert!(matches!(failed, Err(BookError::SlotTaken)));
    assert_eq!(chart.appointment(&booked.appointment_id).unwrap().unwrap()["status"], "booked");
    assert_eq!(chart.slot_status(slot_ids(&offer.id)[0]).unwrap().unwrap().0, "busy");

    // Rebooking onto a free slot: the new one booked, the old one cancelled and its slots freed.
    let moved = chart.book(&request(&patient, &new_slot.id, VisitType::FollowUp, Some(&booked.appointment_id))).await.unwrap();
    assert_eq!(chart.appointment(&booked.appointment_id).unwrap().unwrap()["status"], "cancelled");
    for id in slot_ids(&offer.id) {
        assert_eq!(chart.slot_status(id).unwrap().unwrap(), ("free".to_string(), None));
    }
    assert_eq!(chart.slot_status(&new_slot.id).unwrap().unwrap().0, "busy");
    let ids: Vec<String> = chart.upcoming_appointments(&patient, Utc::now()).await.unwrap().into_iter().map(|u| u.appointment_id).collect();
    assert!(ids.contains(&moved.appointment_id) && !ids.contains(&booked.appointment_id));

    // Another patient cannot cancel it; the patient can, which frees the slot.
    assert!(matches!(chart.cancel_appointment(&other_patient, &moved.appointment_id, "c").await, Err(BookError::NotFound(_))));
    chart.cancel_appointment(&patient, &moved.appointment_id, "c").await.unwrap();
    assert_eq!(chart.slot_status(&new_slot.id).unwrap().unwrap(), ("free".to_string(), None));
    assert_eq!(chart.chart_summary(&patient).await.unwrap().appointments.len(), before);
    // Cancelling twice is harmless.
    chart.cancel_appointment(&patient, &moved.appointment_id, "c").await.unwrap();
}

/// Two callers on two connections to the same chart file pick the same slot at the same moment.
#[test]
fn two_callers_one_slot_exactly_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let chart = demo_chart(dir.path());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (patient, pcp) = rt.block_on(patient_and_pcp(&chart));
    let other = chart.patients().unwrap().into_iter().find(|p| p.id != patient).unwrap().id;
    let offers = rt.block_on(chart.free_slots(&query(&pcp, 15, 10))).unwrap();
    assert_eq!(offers.len(), 10);
    for offer in &offers {
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = [patient.clone(), other.clone()]
            .into_iter()
            .map(|who| {
                let barrier = barrier.clone();
                let path = dir.path().join("chart.db");
                let slot = offer.id.clone();
                std::thread::spawn(move || {
                    let mine = EmbeddedChart::open(&path).unwrap();
                    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
                    barrier.wait();
                    rt.block_on(mine.book(&request(&who, &slot, VisitType::FollowUp, None)))
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        let taken = results.iter().filter(|r| matches!(r, Err(BookError::SlotTaken))).count();
        assert_eq!((won.len(), taken), (1, 1), "{results:?}");
        let (status, holder) = chart.slot_status(&offer.id).unwrap().unwrap();
        assert_eq!((status.as_str(), holder.as_deref()), ("busy", Some(won[0].appointment_id.as_str())));
    }
}

fn cli(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).arg("--config").arg(config).current_dir(repo_root()).output().unwrap()
}

#[test]
fn cli_lists_slots_and_appointments_and_regenerates_the_same_pattern() {
    let make = || {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("c.toml");
        std::fs::write(&config, format!("data_dir = {:?}\n", dir.path().join("data"))).unwrap();
        (dir, config)
    };
    let (_a, config_a) = make();
    let (_b, config_b) = make();
    // `--from` a date next week: the same seed gives both charts the same free slots.
    let next_week = (Utc::now().with_timezone(&TZ).date_naive() + chrono::Days::new(7)).to_string();
    let list = |config: &std::path::Path, extra: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec!["chart", "slots", "--json", "--limit", "30", "--from", next_week.as_str()];
        args.extend_from_slice(extra);
        let out = cli(config, &args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap().as_array().unwrap().clone()
    };
    let a = list(&config_a, &[]);
    assert_eq!(a.len(), 30);
    assert_eq!(a, list(&config_b, &[]));
    let first_day = chrono::NaiveDate::parse_from_str(&next_week, "%Y-%m-%d").unwrap();
    for s in &a {
        let start: chrono::DateTime<Utc> = s["start"].as_str().unwrap().parse().unwrap();
        assert!(start.with_timezone(&TZ).date_naive() >= first_day);
    }
    let practitioner = a[0]["practitioner_id"].as_str().unwrap().to_string();
    let mine = list(&config_a, &["--practitioner", &practitioner]);
    assert!(!mine.is_empty() && mine.iter().all(|s| s["practitioner_id"] == practitioner.as_str()));

    // Another seed books other slots; the original seed brings the pattern back.
    let out = cli(&config_b, &["chart", "schedules", "--seed", "99"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["practitioners"].as_u64().unwrap() > 10 && report["free"].as_u64().unwrap() > 1000, "{report}");
    assert_ne!(a, list(&config_b, &[]));
    assert!(cli(&config_b, &["chart", "schedules", "--seed", "7"]).status.success());
    assert_eq!(a, list(&config_b, &[]));

    // Appointments of a demo patient (the demo's own, moved into the future).
    let out = cli(&config_a, &["chart", "patients", "--json"]);
    let patients: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = patients[0]["id"].as_str().unwrap();
    let out = cli(&config_a, &["chart", "appointments", id, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let upcoming: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for u in upcoming.as_array().unwrap() {
        assert!(u["start"].as_str().unwrap().parse::<chrono::DateTime<Utc>>().unwrap() > Utc::now());
    }

    // Bad input: a clear error, nothing changed.
    let out = cli(&config_a, &["chart", "slots", "--from", "next tuesday"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(a, list(&config_a, &[]));
}
