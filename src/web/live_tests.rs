use chrono::Utc;

use super::*;
use crate::store::users::Role;

fn session(name: &str, role: Role, practitioner: Option<&str>) -> Session {
    Session {
        id: format!("{name}-session"),
        username: name.into(),
        display_name: format!("{name} (test)"),
        role,
        practitioner: practitioner.map(Into::into),
        csrf: "t".into(),
        created: Utc::now(),
        last_seen: Utc::now(),
    }
}

fn alert(id: &str, practitioner: Option<&str>) -> LiveAlert {
    let task = TaskItem {
        call_id: id.into(),
        started_at: Utc::now(),
        kind: "urgent".into(),
        urgent: true,
        red_flags: vec!["chest_pain".into()],
        patient_id: Some("pat-1".into()),
        practitioner: practitioner.map(Into::into),
        department: Some("nurse_pool".into()),
        location: None,
        on_call: false,
        after_hours: false,
        done: false,
    };
    LiveAlert { severity: "emergency", raised_at: Utc::now(), task }
}

#[test]
fn alerts_reach_only_pages_allowed_to_see_the_task() {
    let hub = Hub::new(4);
    let (mut nurse, _) = hub.subscribe(session("nina", Role::Nurse, None));
    let (mut mine, _) = hub.subscribe(session("drsmith", Role::Provider, Some("p1")));
    let (mut other, _) = hub.subscribe(session("drjones", Role::Provider, Some("p2")));
    let (mut desk, _) = hub.subscribe(session("frank", Role::FrontDesk, None));
    assert_eq!(hub.raise(alert("c1", Some("p1"))), 2);
    assert!(matches!(nurse.try_recv(), Ok(Push::Raised(a)) if a.task.call_id == "c1"));
    assert!(matches!(mine.try_recv(), Ok(Push::Raised(_))));
    assert!(other.try_recv().is_err(), "another provider's task stays invisible");
    assert!(desk.try_recv().is_err(), "urgent is clinical: not for the front desk");
}

#[test]
fn a_late_page_gets_the_unacknowledged_alerts_and_acknowledging_clears_them() {
    let hub = Hub::new(4);
    hub.raise(alert("c1", None));
    hub.raise(alert("c2", Some("p2")));
    let (mut early, _) = hub.subscribe(session("nina", Role::Nurse, None));
    let (_, replay) = hub.subscribe(session("drsmith", Role::Provider, Some("p1")));
    assert_eq!(replay.iter().map(|a| a.task.call_id.as_str()).collect::<Vec<_>>(), ["c1"]);
    assert!(hub.acknowledge("c2", &session("drsmith", Role::Provider, Some("p1"))).is_none(), "not theirs to acknowledge");
    let acked = hub.acknowledge("c1", &session("drsmith", Role::Provider, Some("p1"))).expect("pending");
    assert_eq!(acked.task.call_id, "c1");
    assert!(matches!(early.try_recv(), Ok(Push::Acknowledged { call_id, .. }) if call_id == "c1"));
    assert!(hub.acknowledge("c1", &session("nina", Role::Nurse, None)).is_none(), "acknowledged once");
    let (_, replay) = hub.subscribe(session("nina", Role::Nurse, None));
    assert_eq!(replay.len(), 1, "only c2 is left");
}

#[test]
fn a_page_that_falls_a_full_queue_behind_is_dropped_and_replays_on_reconnect() {
    let hub = Hub::new(2);
    let (mut slow, _) = hub.subscribe(session("nina", Role::Nurse, None));
    assert_eq!(hub.raise(alert("c1", None)), 1);
    assert_eq!(hub.raise(alert("c2", None)), 1);
    assert_eq!(hub.raise(alert("c3", None)), 0, "the full page is disconnected, not waited for");
    assert_eq!(hub.raise(alert("c4", None)), 0);
    let mut got = Vec::new();
    while let Ok(Push::Raised(a)) = slow.try_recv() {
        got.push(a.task.call_id);
    }
    assert_eq!(got, ["c1", "c2"]);
    assert!(slow.try_recv().is_err() && slow.is_closed(), "its stream ends: the browser reconnects");
    let (_, replay) = hub.subscribe(session("nina", Role::Nurse, None));
    assert_eq!(replay.len(), 4, "nothing unacknowledged is lost");
}

#[test]
fn closing_a_session_ends_its_pages_only() {
    let hub = Hub::new(4);
    let (mut first, _) = hub.subscribe(session("nina", Role::Nurse, None));
    let (second, _) = hub.subscribe(session("nina", Role::Nurse, None));
    let (mut other, _) = hub.subscribe(session("olga", Role::Nurse, None));
    assert_eq!(hub.close_session("nina-session"), 2);
    assert!(first.try_recv().is_err() && first.is_closed() && second.is_closed(), "both of the session's streams end");
    assert!(!other.is_closed());
    assert_eq!(hub.raise(alert("c1", None)), 1, "only the other session's page is left");
    assert!(matches!(other.try_recv(), Ok(Push::Raised(_))));
}

#[test]
fn acknowledgements_reach_the_phone_pages() {
    let hub = Hub::new(4);
    let mut acks = hub.acknowledgements();
    hub.raise(alert("c1", None));
    hub.acknowledge("c1", &session("nina", Role::Nurse, None)).expect("pending");
    assert_eq!(acks.try_recv().unwrap(), ("c1".to_string(), "nina (test)".to_string()));
    assert!(hub.acknowledge("c1", &session("nina", Role::Nurse, None)).is_none());
    assert!(acks.try_recv().is_err(), "a refused acknowledgement stops nothing");
}

#[test]
fn the_chime_is_a_valid_wav() {
    let reader = hound::WavReader::new(std::io::Cursor::new(chime())).unwrap();
    assert_eq!(reader.spec().sample_rate, 8000);
    assert_eq!(reader.len(), 6000);
}
