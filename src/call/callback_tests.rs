//! The callback line's decisions: which calls reach it, the order the provider hears their tasks
//! in, and which actions are audited as failures.

use chrono::TimeZone;

use super::*;
use crate::store::record::Routing;

fn call(id: &str, minute: u32, urgent: bool, practitioner: &str) -> (TaskItem, CallRecord) {
    let record = CallRecord {
        call_id: id.into(),
        started_at: Utc.with_ymd_and_hms(2026, 11, 25, 15, minute, 0).unwrap(),
        urgent,
        routing: Routing { practitioner: Some(format!("Practitioner/{practitioner}")), ..Default::default() },
        ..Default::default()
    };
    (TaskItem::new(&record, None), record)
}

#[test]
fn the_callback_number_matches_by_user_part_or_national_number() {
    let mut oncall = OnCallConfig::default();
    assert!(!is_callback_line(&oncall, "sip:7000@pbx"), "off when no number is set");
    oncall.callback_number = "7000".into();
    assert!(is_callback_line(&oncall, "sip:7000@pbx"));
    assert!(!is_callback_line(&oncall, "sip:7001@pbx"));
    oncall.callback_number = "+1 555-010-7000".into();
    assert!(is_callback_line(&oncall, "sip:5550107000@pbx"));
    assert!(is_callback_line(&oncall, "sip:+15550107000@pbx;user=phone"));
    assert!(!is_callback_line(&oncall, "sip:+15550102000@pbx"));
}

#[test]
fn the_providers_open_tasks_come_urgent_first_then_oldest_first() {
    let mut done = call("done", 1, true, "dr-a");
    done.0.done = true;
    let calls = vec![call("late", 30, false, "dr-a"), call("other", 2, true, "dr-b"), done, call("early", 10, false, "dr-a"), call("urgent", 40, true, "dr-a")];
    let order: Vec<String> = open_tasks(calls.into_iter(), "dr-a").into_iter().map(|r| r.call_id).collect();
    assert_eq!(order, ["urgent", "early", "late"]);
}

#[test]
fn refused_and_unreachable_actions_are_audited_as_failures() {
    assert_eq!(audit_outcome("callback_pin_rejected"), Outcome::Failure);
    assert_eq!(audit_outcome("callback_patient_unreachable"), Outcome::Failure);
    assert_eq!(audit_outcome("task_done"), Outcome::Success);
    assert_eq!(audit_outcome("callback_bridged"), Outcome::Success);
}
