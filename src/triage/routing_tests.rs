use chrono::TimeZone;

use super::*;
use crate::triage::hours::WeeklyHours;

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn config() -> RoutingConfig {
    RoutingConfig {
        locations: vec![LocationRule { number: "+1 (555) 010-2000".into(), location: "Main Street Clinic".into() }, LocationRule { number: "555-010-3000".into(), location: "Lakeside Clinic".into() }],
        default_location: "Main Street Clinic".into(),
        on_call: vec![
            OnCallEntry { provider: "Practitioner/dr-adams".into(), days: vec!["mon".into(), "tue".into(), "wed".into()], from: None, until: None },
            OnCallEntry { provider: "Practitioner/dr-baker".into(), days: vec!["thu".into(), "fri".into(), "sat".into(), "sun".into()], from: None, until: None },
            OnCallEntry { provider: "Practitioner/dr-cruz".into(), days: vec![], from: Some("2026-12-24T17:00".into()), until: Some("2026-12-28T08:00".into()) },
        ],
        on_call_fallback: "Practitioner/answering-service".into(),
        ..RoutingConfig::default()
    }
}

fn router() -> Router {
    let hours = PracticeHours::new("America/Chicago", &WeeklyHours::default(), &["2026-12-25".into()]).unwrap();
    Router::new(&config(), hours).unwrap()
}

fn input(request: RequestType, at: DateTime<Utc>) -> RouteInput<'static> {
    RouteInput { request, urgent: false, dialed: "sip:+15550103000@pbx.local", care_team: Some("Practitioner/dr-pcp"), at }
}

// Tuesday 2026-12-01 10:00 in Chicago (UTC-6).
fn tuesday_morning() -> DateTime<Utc> {
    utc(2026, 12, 1, 16, 0)
}

#[test]
fn in_hours_clinical_requests_go_to_the_pcp_and_the_type_department() {
    let r = router().route(&input(RequestType::Refill, tuesday_morning()));
    assert_eq!(r.practitioner.as_deref(), Some("Practitioner/dr-pcp"));
    assert_eq!(r.department.as_deref(), Some("nurse_pool"));
    assert_eq!(r.location.as_deref(), Some("Lakeside Clinic"));
    assert!(!r.on_call);
}

#[test]
fn in_hours_office_requests_have_no_practitioner() {
    for (kind, department) in [(RequestType::Billing, "billing"), (RequestType::Appointment, "scheduling"), (RequestType::Records, "records"), (RequestType::Administrative, "front_desk")] {
        let r = router().route(&input(kind, tuesday_morning()));
        assert_eq!(r.practitioner, None, "{kind:?}");
        assert_eq!(r.department.as_deref(), Some(department), "{kind:?}");
    }
}

#[test]
fn after_hours_symptoms_and_emergencies_page_on_call_others_wait() {
    let router = router();
    // Tuesday 2026-12-01 20:00 local = 02:00 UTC Wednesday: Tuesday night, dr-adams.
    let night = utc(2026, 12, 2, 2, 0);
    let r = router.route(&input(RequestType::Symptom, night));
    assert_eq!((r.practitioner.as_deref(), r.on_call), (Some("Practitioner/dr-adams"), true));
    let r = router.route(&RouteInput { urgent: true, ..input(RequestType::Urgent, night) });
    assert!(r.on_call);
    let r = router.route(&input(RequestType::Billing, night));
    assert_eq!((r.practitioner, r.on_call), (None, false));
    let r = router.route(&input(RequestType::Refill, night));
    assert_eq!((r.practitioner.as_deref(), r.on_call), (Some("Practitioner/dr-pcp"), false));
}

#[test]
fn a_night_belongs_to_the_day_it_started_until_handover() {
    let router = router();
    // Thursday 2026-12-03 07:30 local (13:30 UTC): still Wednesday's night → dr-adams.
    assert_eq!(router.on_call_provider(utc(2026, 12, 3, 13, 30)).as_deref(), Some("Practitioner/dr-adams"));
    // Thursday 08:00 local: Thursday's duty → dr-baker.
    assert_eq!(router.on_call_provider(utc(2026, 12, 3, 14, 0)).as_deref(), Some("Practitioner/dr-baker"));
    // Monday 2026-11-30 03:00 local is Sunday's night → dr-baker.
    assert_eq!(router.on_call_provider(utc(2026, 11, 30, 9, 0)).as_deref(), Some("Practitioner/dr-baker"));
}

#[test]
fn dated_cover_beats_the_weekly_rota_and_holidays_are_after_hours() {
    let router = router();
    // Christmas Day 10:00 local: a holiday, so after hours, and dr-cruz's dated cover.
    let christmas = utc(2026, 12, 25, 16, 0);
    assert!(router.is_after_hours(christmas));
    let r = router.route(&input(RequestType::Symptom, christmas));
    assert_eq!((r.practitioner.as_deref(), r.on_call), (Some("Practitioner/dr-cruz"), true));
    // 2026-12-28 08:00 local: the dated cover has ended; Monday → dr-adams.
    assert_eq!(router.on_call_provider(utc(2026, 12, 28, 14, 0)).as_deref(), Some("Practitioner/dr-adams"));
}

#[test]
fn fallback_on_call_and_unknown_numbers() {
    let mut cfg = config();
    cfg.on_call.retain(|e| e.from.is_some());
    let hours = PracticeHours::new("America/Chicago", &WeeklyHours::default(), &[]).unwrap();
    let router = Router::new(&cfg, hours).unwrap();
    assert_eq!(router.on_call_provider(utc(2026, 12, 2, 2, 0)).as_deref(), Some("Practitioner/answering-service"));
    assert_eq!(router.location("tel:+1-555-010-2000").as_deref(), Some("Main Street Clinic"));
    assert_eq!(router.location("sip:ivr@127.0.0.1").as_deref(), Some("Main Street Clinic"), "default location");
}

#[test]
fn bad_config_names_the_key() {
    let hours = || PracticeHours::new("America/Chicago", &WeeklyHours::default(), &[]).unwrap();
    let mut cfg = config();
    cfg.on_call[0].days.push("funday".into());
    assert_eq!(Router::new(&cfg, hours()).err().unwrap().key, "on_call[0]");
    let mut cfg = config();
    cfg.departments.insert("refils".into(), "x".into());
    assert_eq!(Router::new(&cfg, hours()).err().unwrap().key, "departments.refils");
    let mut cfg = config();
    cfg.on_call[2].until = Some("2026-12-20T08:00".into());
    assert_eq!(Router::new(&cfg, hours()).err().unwrap().key, "on_call[2]");
    let mut cfg = config();
    cfg.handover = "8am".into();
    assert_eq!(Router::new(&cfg, hours()).err().unwrap().key, "handover");
}
