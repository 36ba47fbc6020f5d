//! Who may see and do what, and the queue's order and filters: pure functions over a task's
//! effective routing (the call's routing, overridden by a reassignment), unit-tested.
//!
//! - admin and nurse see every task;
//! - a provider sees tasks routed to them and tasks not routed to any provider; another
//!   provider's task is invisible (404);
//! - front desk sees non-clinical, non-urgent tasks not routed to a provider;
//! - only providers decide refills; whoever sees a task may reply, reassign and close it.

use chrono::{DateTime, Utc};

use crate::store::record::CallRecord;
use crate::store::tasks::TaskState;
use crate::store::users::Role;

use super::session::Session;

/// Request types the front desk handles (no clinical content).
pub const NON_CLINICAL: [&str; 6] = ["appointment", "billing", "records", "callback", "administrative", "unknown"];

/// One row of the queue: the call plus its local task state.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskItem {
    pub call_id: String,
    pub started_at: DateTime<Utc>,
    pub kind: String,
    pub urgent: bool,
    pub red_flags: Vec<String>,
    pub patient_id: Option<String>,
    /// Effective owner: practitioner id without the `Practitioner/` prefix.
    pub practitioner: Option<String>,
    pub department: Option<String>,
    pub location: Option<String>,
    pub on_call: bool,
    pub after_hours: bool,
    pub done: bool,
}

pub fn normalize_practitioner(id: &str) -> String {
    id.trim().trim_start_matches("Practitioner/").to_string()
}

impl TaskItem {
    pub fn new(record: &CallRecord, state: Option<&TaskState>) -> Self {
        let mut practitioner = record.routing.practitioner.as_deref().map(normalize_practitioner);
        let mut department = record.routing.department.clone();
        if let Some(state) = state.filter(|s| s.assigned_practitioner.is_some() || s.assigned_department.is_some()) {
            practitioner = state.assigned_practitioner.as_deref().map(normalize_practitioner);
            department = state.assigned_department.clone();
        }
        TaskItem {
            call_id: record.call_id.clone(),
            started_at: record.started_at,
            kind: record.request.as_ref().map_or_else(|| "unknown".to_string(), |r| r.kind.clone()),
            urgent: record.urgent,
            red_flags: record.red_flags.clone(),
            patient_id: record.patient.id.clone(),
            practitioner,
            department,
            location: record.routing.location.clone(),
            on_call: record.routing.on_call,
            after_hours: record.after_hours,
            done: state.is_some_and(|s| s.done),
        }
    }
}

pub fn can_view(session: &Session, task: &TaskItem) -> bool {
    match session.role {
        Role::Admin | Role::Nurse => true,
        Role::Provider => match (&task.practitioner, &session.practitioner) {
            (None, _) => true,
            (Some(owner), Some(me)) => normalize_practitioner(owner) == normalize_practitioner(me),
            (Some(_), None) => false,
        },
        Role::FrontDesk => task.practitioner.is_none() && !task.urgent && NON_CLINICAL.contains(&task.kind.as_str()),
    }
}

pub fn can_decide_refill(session: &Session, task: &TaskItem) -> bool {
    session.role == Role::Provider && session.practitioner.is_some() && task.kind == "refill" && can_view(session, task)
}

/// The queue filters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Filter {
    #[default]
    All,
    /// Routed to me (providers) or to my role's queues (staff).
    Mine,
    Department(String),
    Location(String),
    OnCall,
}

impl Filter {
    pub fn parse(name: &str, value: &str) -> Filter {
        match name {
            "mine" => Filter::Mine,
            "department" if !value.is_empty() => Filter::Department(value.to_string()),
            "location" if !value.is_empty() => Filter::Location(value.to_string()),
            "on_call" => Filter::OnCall,
            _ => Filter::All,
        }
    }

    pub fn matches(&self, session: &Session, task: &TaskItem) -> bool {
        match self {
            Filter::All => true,
            Filter::Mine => match session.role {
                Role::Provider => task.practitioner.is_some() && task.practitioner == session.practitioner.as_deref().map(normalize_practitioner),
                Role::Nurse => task.department.as_deref() == Some("nurse_pool"),
                Role::FrontDesk => matches!(task.department.as_deref(), Some("front_desk" | "scheduling")),
                Role::Admin => true,
            },
            Filter::Department(d) => task.department.as_deref() == Some(d.as_str()),
            Filter::Location(l) => task.location.as_deref() == Some(l.as_str()),
            Filter::OnCall => task.on_call,
        }
    }
}

/// Open tasks this person may see that pass the filter: urgent first, then red flags, then oldest.
pub fn queue(session: &Session, tasks: Vec<TaskItem>, filter: &Filter) -> Vec<TaskItem> {
    let mut open: Vec<TaskItem> = tasks.into_iter().filter(|t| !t.done && can_view(session, t) && filter.matches(session, t)).collect();
    open.sort_by(|a, b| b.urgent.cmp(&a.urgent).then_with(|| (!b.red_flags.is_empty()).cmp(&!a.red_flags.is_empty())).then_with(|| a.started_at.cmp(&b.started_at)));
    open
}

/// "3 d 4 h", "2 h 5 min", "12 min".
pub fn age(from: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (now - from).num_minutes().max(0);
    match minutes {
        m if m >= 24 * 60 => format!("{} d {} h", m / (24 * 60), (m / 60) % 24),
        m if m >= 60 => format!("{} h {} min", m / 60, m % 60),
        m => format!("{m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn session(role: Role, practitioner: Option<&str>) -> Session {
        Session { id: "s".into(), username: "u".into(), display_name: "U".into(), role, practitioner: practitioner.map(Into::into), csrf: String::new(), created: Utc::now(), last_seen: Utc::now() }
    }

    fn task(id: &str, kind: &str, practitioner: Option<&str>, urgent: bool, minutes_ago: i64) -> TaskItem {
        TaskItem {
            call_id: id.into(),
            started_at: Utc::now() - Duration::minutes(minutes_ago),
            kind: kind.into(),
            urgent,
            red_flags: vec![],
            patient_id: None,
            practitioner: practitioner.map(Into::into),
            department: Some(if kind == "billing" { "billing" } else { "nurse_pool" }.into()),
            location: Some("Main".into()),
            on_call: false,
            after_hours: false,
            done: false,
        }
    }

    #[test]
    fn providers_see_their_own_and_unowned_tasks_only() {
        let me = session(Role::Provider, Some("Practitioner/p1"));
        assert!(can_view(&me, &task("a", "refill", Some("p1"), false, 1)));
        assert!(can_view(&me, &task("b", "refill", None, false, 1)));
        assert!(!can_view(&me, &task("c", "refill", Some("p2"), false, 1)));
        assert!(can_view(&session(Role::Nurse, None), &task("c", "refill", Some("p2"), false, 1)));
    }

    #[test]
    fn front_desk_sees_non_clinical_only() {
        let desk = session(Role::FrontDesk, None);
        assert!(can_view(&desk, &task("a", "billing", None, false, 1)));
        assert!(!can_view(&desk, &task("b", "refill", None, false, 1)));
        assert!(!can_view(&desk, &task("c", "billing", None, true, 1)), "urgent is clinical");
    }

    #[test]
    fn only_providers_decide_refills() {
        let t = task("a", "refill", Some("p1"), false, 1);
        assert!(can_decide_refill(&session(Role::Provider, Some("p1")), &t));
        assert!(!can_decide_refill(&session(Role::Nurse, None), &t));
        assert!(!can_decide_refill(&session(Role::Provider, Some("p1")), &task("b", "billing", None, false, 1)));
    }

    #[test]
    fn queue_orders_urgent_then_oldest_and_filters() {
        let me = session(Role::Provider, Some("p1"));
        let mut done = task("done", "refill", None, true, 500);
        done.done = true;
        let tasks = vec![
            task("new", "refill", None, false, 5),
            task("old", "refill", Some("p1"), false, 90),
            task("urgent-new", "symptom", None, true, 1),
            task("other", "refill", Some("p2"), true, 900),
            done,
        ];
        let ids = |v: Vec<TaskItem>| v.into_iter().map(|t| t.call_id).collect::<Vec<_>>();
        assert_eq!(ids(queue(&me, tasks.clone(), &Filter::All)), ["urgent-new", "old", "new"]);
        assert_eq!(ids(queue(&me, tasks.clone(), &Filter::Mine)), ["old"]);
        assert_eq!(ids(queue(&me, tasks, &Filter::Department("billing".into()))), Vec::<String>::new());
    }

    #[test]
    fn ages_read_at_a_glance() {
        let now = Utc::now();
        assert_eq!(age(now - Duration::minutes(12), now), "12 min");
        assert_eq!(age(now - Duration::minutes(125), now), "2 h 5 min");
        assert_eq!(age(now - Duration::minutes(3 * 1440 + 250), now), "3 d 4 h");
    }
}
