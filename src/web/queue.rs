//! The queue: open tasks this person may see, urgent first then oldest, with filters and counts.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

use axum::extract::{Extension, Query, State};
use axum::response::Html;
use chrono::Utc;
use serde::Deserialize;

use crate::store::audit::Outcome;
use crate::store::record::CallRecord;

use super::access::{self, Filter, TaskItem};
use super::app::{App, Client, WebError, Who};
use super::html::{self, esc, label, url};
use super::session::Session;

/// How many recent calls the queue and the practice view look at.
pub const WINDOW: usize = 5000;

/// Finished calls with their task state.
pub fn load(app: &App) -> Result<Vec<(CallRecord, TaskItem)>, WebError> {
    let states: HashMap<String, _> = app.store.task_states()?.into_iter().map(|s| (s.call_id.clone(), s)).collect();
    Ok(app
        .store
        .list_calls(WINDOW)?
        .into_iter()
        .filter(|c| c.ended_at.is_some())
        .map(|c| {
            let item = TaskItem::new(&c, states.get(&c.call_id));
            (c, item)
        })
        .collect())
}

#[derive(Deserialize, Default)]
pub struct QueueQuery {
    #[serde(default)]
    filter: String,
    #[serde(default)]
    value: String,
}

pub async fn page(State(app): State<App>, Extension(session): Extension<Session>, Extension(client): Extension<Client>, Query(q): Query<QueueQuery>) -> Result<Html<String>, WebError> {
    let now = Utc::now();
    let tasks: Vec<TaskItem> = load(&app)?.into_iter().map(|(_, t)| t).collect();
    let visible: Vec<&TaskItem> = tasks.iter().filter(|t| !t.done && access::can_view(&session, t)).collect();
    let departments: BTreeSet<String> = visible.iter().filter_map(|t| t.department.clone()).collect();
    let locations: BTreeSet<String> = visible.iter().filter_map(|t| t.location.clone()).collect();
    let filter = Filter::parse(&q.filter, &q.value);
    let open = access::queue(&session, tasks.clone(), &filter);
    app.audit(&Who::of(&session, &client.0), "view_queue", Outcome::Success, None, "queue", &q.filter)?;

    let urgent = open.iter().filter(|t| t.urgent).count();
    let oldest = open.iter().map(|t| t.started_at).min().map_or_else(|| "–".to_string(), |t| access::age(t, now));
    let mut body = format!(
        "<h1>Open requests</h1><div class=\"stats\"><div class=\"stat\"><b>{}</b>open</div><div class=\"stat\"><b style=\"color:#c62828\">{urgent}</b>urgent</div><div class=\"stat\"><b>{}</b>oldest</div></div>",
        open.len(),
        esc(&oldest)
    );
    body.push_str("<nav class=\"filters\">");
    for (name, text) in [("", "All"), ("mine", "Mine"), ("on_call", "On call")] {
        let on = if q.filter == name { " on" } else { "" };
        let _ = write!(body, "<a class=\"{on}\" href=\"/?filter={name}\">{text}</a>");
    }
    for (name, values) in [("department", &departments), ("location", &locations)] {
        for value in values.iter() {
            let on = if q.filter == name && &q.value == value { " on" } else { "" };
            let _ = write!(body, "<a class=\"{on}\" href=\"/?filter={name}&amp;value={}\">{}</a>", url(value), esc(&label(value)));
        }
    }
    body.push_str("</nav>");
    if open.is_empty() {
        body.push_str("<p class=\"card\">Nothing open here.</p>");
    }
    for task in &open {
        let flags: String = task.red_flags.iter().map(|f| format!("<span class=\"badge red\">{}</span>", esc(&label(f)))).collect();
        let owner = task.practitioner.as_deref().map(|p| format!("Practitioner {p}")).or_else(|| task.department.as_deref().map(label)).unwrap_or_else(|| "Unassigned".into());
        let _ = write!(
            body,
            "<a class=\"card task{}\" href=\"/tasks/{}\"><div class=\"row\"><strong>{}</strong>{}{}{}</div>\
<div class=\"muted\">{} ago · {}{}{}</div></a>",
            if task.urgent { " urgent" } else { "" },
            url(&task.call_id),
            esc(&label(&task.kind)),
            if task.urgent { "<span class=\"badge red\">Urgent</span>" } else { "" },
            if task.after_hours { "<span class=\"badge\">After hours</span>" } else { "" },
            flags,
            esc(&access::age(task.started_at, now)),
            esc(&owner),
            task.location.as_deref().map(|l| format!(" · {}", esc(l))).unwrap_or_default(),
            if task.on_call { " · on call" } else { "" },
        );
    }
    Ok(Html(html::page("Queue", Some(&session), &body)))
}
