//! The alert driver's decisions: who a call alerts and when it still owes that, whom the phone
//! page calls, what the provider hears first, and how each outcome is audited.

use chrono::NaiveDate;
use serde_json::json;

use super::*;
use crate::oncall::config::ProviderEntry;
use crate::store::record::{RequestChoice, Routing};

fn config() -> CallConfig {
    let mut config = CallConfig::default();
    config.alerts.staff_line = "+15550100".into();
    config.oncall.providers = vec![
        ProviderEntry { id: "Practitioner/dr-a".into(), phone: "+15550111".into(), backup: "Practitioner/dr-b".into() },
        ProviderEntry { id: "Practitioner/dr-b".into(), phone: "sip:drb@10.0.0.7".into(), backup: String::new() },
    ];
    config
}

fn event(kind: &str) -> CallEvent {
    CallEvent { at: Utc::now(), kind: kind.into(), detail: Default::default() }
}

fn urgent_call(after_hours: bool) -> CallRecord {
    CallRecord { call_id: "c1".into(), after_hours, urgent: true, ..Default::default() }
}

#[test]
fn an_emergency_event_outranks_urgency() {
    let mut record = CallRecord::default();
    assert_eq!(severity(&record), None);
    record.urgent = true;
    assert_eq!(severity(&record), Some(Severity::Urgent));
    record.events.push(event("emergency"));
    assert_eq!(severity(&record), Some(Severity::Emergency));
}

#[test]
fn an_urgent_business_hours_call_owes_the_dashboard_and_the_staff_line_until_raised() {
    let config = config();
    let mut record = urgent_call(false);
    let to = owed_now(&config, &record).expect("owed");
    assert!(to.dashboard && to.staff_line && !to.on_call, "{to:?}");
    record.events.push(event(RAISED));
    assert_eq!(owed_now(&config, &record), None, "raised during the call: not again at its end");
    assert_eq!(owed_now(&config, &CallRecord::default()), None, "a routine call owes nothing");
}

#[test]
fn after_hours_only_an_on_call_routed_call_pages() {
    let config = config();
    let mut record = urgent_call(true);
    assert_eq!(owed_now(&config, &record), None);
    record.routing.on_call = true;
    assert_eq!(owed_now(&config, &record), Some(Recipients { on_call: true, ..Default::default() }));
}

#[test]
fn a_stored_call_owes_its_page_until_something_settles_it() {
    let config = config();
    let mut record = urgent_call(false);
    assert!(owed(&config, &record));
    record.events.push(event("dashboard_alert"));
    assert!(owed(&config, &record), "the dashboard push does not settle the phone page");
    for settled in SETTLED {
        let mut record = record.clone();
        record.events.push(event(settled));
        assert!(!owed(&config, &record), "{settled}");
    }
}

#[test]
fn the_staff_line_page_calls_the_line_then_its_backup() {
    let mut config = config();
    let to = Recipients { staff_line: true, ..Default::default() };
    let (primary, backup) = targets(&config, &urgent_call(false), to).unwrap();
    assert_eq!((primary.provider.as_str(), primary.dial.as_str(), backup), ("staff_line", "+15550100", None));
    config.alerts.staff_backup = "+15550199".into();
    let (_, backup) = targets(&config, &urgent_call(false), to).unwrap();
    assert_eq!(backup.map(|b| b.dial), Some("+15550199".to_string()));
}

#[test]
fn the_on_call_page_calls_the_routed_provider_then_their_backup_or_says_why_not() {
    let config = config();
    let to = Recipients { on_call: true, ..Default::default() };
    let mut record = urgent_call(true);
    assert_eq!(targets(&config, &record, to).unwrap_err()["reason"], "no on-call provider for this time");
    record.routing = Routing { practitioner: Some("Practitioner/dr-a".into()), on_call: true, ..Default::default() };
    let (primary, backup) = targets(&config, &record, to).unwrap();
    assert_eq!((primary.dial.as_str(), backup.map(|b| b.dial)), ("+15550111", Some("sip:drb@10.0.0.7".to_string())));
    record.routing.practitioner = Some("Practitioner/dr-b".into());
    assert_eq!(targets(&config, &record, to).unwrap().1, None, "no backup configured");
    record.routing.practitioner = Some("Practitioner/unknown".into());
    let why = targets(&config, &record, to).unwrap_err();
    assert_eq!((why["provider"].as_str(), why["reason"].as_str()), (Some("Practitioner/unknown"), Some("no phone number configured")));
}

#[test]
fn the_menu_says_the_birth_date_and_the_request_before_the_keys() {
    let mut record = urgent_call(true);
    let clips = |items: Vec<PromptItem>| items.into_iter().map(|i| if let PromptItem::Clip(c) = i { c } else { "<date>".into() }).collect::<Vec<_>>();
    assert_eq!(clips(menu(&record)), ["oncall-urgent-no-dob", "oncall-menu"]);
    record.patient.birth_date = NaiveDate::from_ymd_opt(1982, 3, 5);
    record.request = Some(RequestChoice { kind: "prior_auth".into(), code: "G".into(), chosen_by: crate::store::record::InputMethod::Dtmf });
    assert_eq!(clips(menu(&record)), ["oncall-urgent-born", "<date>", "oncall-about", "label-prior-auth", "oncall-menu"]);
}

#[test]
fn outcomes_are_audited_with_who_whether_it_failed_and_the_attempt() {
    let answered = audit_entry(Audience::OnCall, "c1", "p1", "acknowledged", &json!({ "provider": "Practitioner/dr-a", "attempt": 2 }));
    assert_eq!((answered.who.as_str(), answered.role.as_str(), answered.action.as_str()), ("Practitioner/dr-a", "on_call", "oncall_acknowledged"));
    assert_eq!((answered.outcome, answered.detail.as_str(), answered.source.as_str(), answered.patient.as_str()), (Some(Outcome::Success), "attempt 2", "phone", "p1"));
    for failed in ["alert_failed", "alert_unanswered", "patient_unreachable"] {
        assert_eq!(audit_entry(Audience::StaffLine, "c1", "", failed, &json!({})).outcome, Some(Outcome::Failure), "{failed}");
    }
    let pushed = audit_entry(Audience::Dashboard, "c1", "", "dashboard_alert", &json!({ "pages": 3 }));
    assert_eq!((pushed.who.as_str(), pushed.action.as_str(), pushed.detail.as_str(), pushed.source.as_str()), ("chartline", "alert_dashboard_alert", "3 pages", "dashboard"));
}

#[test]
fn the_live_alert_of_a_call_without_a_request_is_shown_as_urgent() {
    let alert = live_alert(&urgent_call(false), Severity::Emergency);
    assert_eq!((alert.severity, alert.task.kind.as_str()), ("emergency", "urgent"));
}
