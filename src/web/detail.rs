//! The call detail: what was asked, red flags, the chart, the recording, the transcript, the
//! reply thread, the actions and the call's timeline.

use std::fmt::Write;

use axum::extract::{Extension, Path, Query, State};
use axum::response::Html;
use serde::Deserialize;

use crate::store::audit::Outcome;
use crate::store::record::{CallRecord, MatchStatus};
use crate::store::users::Role;

use super::access::{self, TaskItem};
use super::app::{App, Client, WebError, Who};
use super::html::{self, csrf_field, esc, label, url};
use super::session::Session;

/// The call and its task, when this person may see it; otherwise 404 (and a `denied` audit entry),
/// so another provider's tasks do not even show that they exist. A call still in progress is no
/// task yet: nothing can be done to it.
pub fn authorized(app: &App, session: &Session, client: &Client, call_id: &str, action: &str) -> Result<(CallRecord, TaskItem), WebError> {
    stored(app, session, client, call_id, action, false)
}

/// [`authorized`], and a call still in progress too (as far as it was saved), for the page a live
/// alert links to.
fn stored(app: &App, session: &Session, client: &Client, call_id: &str, action: &str, in_progress: bool) -> Result<(CallRecord, TaskItem), WebError> {
    let who = Who::of(session, &client.0);
    let record = match app.store.call(call_id) {
        Ok(record) if (in_progress || record.ended_at.is_some()) && record.call_id == call_id => record,
        Ok(_) | Err(crate::store::StoreError::NotFound(_)) => {
            app.audit(&who, action, Outcome::Denied, None, call_id, "no such task")?;
            return Err(WebError::NotFound);
        }
        Err(e) => return Err(e.into()),
    };
    let state = app.store.task_state(call_id)?;
    let item = TaskItem::new(&record, Some(&state));
    if !access::can_view(session, &item) {
        app.audit(&who, action, Outcome::Denied, record.patient.id.as_deref(), call_id, "not permitted for this role/owner")?;
        return Err(WebError::NotFound);
    }
    Ok((record, item))
}

#[derive(Deserialize, Default)]
pub struct Notice {
    #[serde(default)]
    ok: String,
}

pub async fn page(
    State(app): State<App>,
    Extension(session): Extension<Session>,
    Extension(client): Extension<Client>,
    Path(id): Path<String>,
    Query(notice): Query<Notice>,
) -> Result<Html<String>, WebError> {
    let (record, task) = stored(&app, &session, &client, &id, "view_task", true)?;
    let in_progress = record.ended_at.is_none();
    app.audit(&Who::of(&session, &client.0), "view_task", Outcome::Success, record.patient.id.as_deref(), &id, "")?;
    let tz = app.tz();
    let chart = super::chart::load(&app, record.patient.id.as_deref()).await;
    let state = app.store.task_state(&id)?;
    let csrf = csrf_field(&session);
    let base = format!("/tasks/{}", url(&id));
    let mut body = String::with_capacity(8000);

    if in_progress {
        body.push_str(
            "<div class=\"okmsg\" role=\"status\" id=\"in-progress\">Call in progress: this is what is known so far. The message, replies and actions come once the call ends; reload to see it.</div>",
        );
    }
    if !notice.ok.is_empty() {
        let _ = write!(body, "<div class=\"okmsg\" role=\"status\" id=\"notice\">{}</div>", esc(&notice.ok));
    }
    let flags: String = record.red_flags.iter().map(|f| format!("<span class=\"badge red\">{}</span>", esc(&label(f)))).collect();
    let _ = write!(
        body,
        "<h1>{}{}</h1><div class=\"row\">{}{}{}<span class=\"badge\">{}</span></div>",
        esc(&label(&task.kind)),
        if task.urgent { " <span class=\"badge red\">Urgent</span>" } else { "" },
        flags,
        if task.after_hours { "<span class=\"badge\">After hours</span>" } else { "" },
        if task.on_call { "<span class=\"badge\">On call</span>" } else { "" },
        if state.done { "Done" } else { "Open" },
    );
    let started = record.started_at.with_timezone(&tz).format("%a %b %-d, %H:%M");
    let _ = write!(
        body,
        "<div class=\"card\"><div><strong>{}</strong></div><div class=\"muted\">Born {} · {} · called {started} from {}</div><div class=\"muted\">{}</div></div>",
        esc(&super::chart::patient_name(&chart).unwrap_or_else(|| record.patient.id.clone().unwrap_or_else(|| "Patient not identified".into()))),
        record.patient.birth_date.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_else(|| "?".into()),
        match record.patient.status {
            MatchStatus::Identified => "identified",
            MatchStatus::Ambiguous => "several patients match",
            MatchStatus::NotFound => "no chart match",
            MatchStatus::NotGiven => "no date of birth given",
        },
        esc(crate::phone::user_part(&record.from)),
        esc(&[
            task.practitioner.as_deref().map(|p| super::chart::practitioner_name(&chart, p).unwrap_or_else(|| format!("Practitioner {p}"))),
            task.department.as_deref().map(label),
            task.location.clone()
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ")),
    );

    // Refill: medication, last fill and allergies on the same screen as the decision.
    if task.kind == "refill" {
        body.push_str("<h2>Refill</h2><div class=\"card\">");
        body.push_str(&super::chart::allergies_html(&chart));
        let decisions = app.store.refill_decisions(&id)?;
        for d in &decisions {
            let _ = write!(
                body,
                "<div class=\"okmsg\">{} {} by {} at {}</div>",
                esc(&d.medication),
                if d.approved { "approved" } else { "denied" },
                esc(&d.decided_by),
                d.at.with_timezone(&tz).format("%b %-d %H:%M")
            );
        }
        if access::can_decide_refill(&session, &task) && decisions.is_empty() {
            body.push_str(&super::chart::refill_forms(&chart, &base, &csrf));
        } else if decisions.is_empty() {
            body.push_str("<p class=\"muted\">A provider decides refills.</p>");
        }
        body.push_str("</div>");
    }

    body.push_str("<h2>Message</h2><div class=\"card\">");
    if record.recording.is_some() && !in_progress {
        let _ = write!(body, "<audio id=\"recording\" controls preload=\"metadata\" src=\"{base}/recording\"></audio>");
    }
    let _ = write!(body, "<p>{}</p></div>", record.transcript.as_deref().map(esc).unwrap_or_else(|| "<span class=\"muted\">No transcript.</span>".into()));

    body.push_str(&super::chart::summary_html(&chart, &tz));

    if !in_progress {
        actions_html(&app, &id, &tz, &base, &csrf, state.done, &mut body)?;
    }
    timeline_html(&record, &tz, &mut body);
    Ok(Html(html::page(&label(&task.kind), Some(&session), &body)))
}

/// The reply thread, reassign and done (a finished call's task only).
fn actions_html(app: &App, id: &str, tz: &chrono_tz::Tz, base: &str, csrf: &str, done: bool, body: &mut String) -> Result<(), WebError> {
    // Reply thread.
    body.push_str("<h2>Replies</h2><div class=\"card\"><ul class=\"plain\">");
    for reply in app.store.replies(id)? {
        let _ = write!(body, "<li><span class=\"muted\">{} · {}</span><br>{}</li>", esc(&reply.author), reply.at.with_timezone(tz).format("%b %-d %H:%M"), esc(&reply.text));
    }
    let _ = write!(
        body,
        "</ul><form method=\"post\" action=\"{base}/reply\">{csrf}<label for=\"reply\">Reply to the patient</label><textarea id=\"reply\" name=\"text\" maxlength=\"2000\" required></textarea><p><button type=\"submit\">Send reply</button></p></form></div>"
    );

    // Reassign and done.
    let mut options = String::new();
    for user in app.store.users()?.into_iter().filter(|u| u.role == Role::Provider) {
        if let Some(p) = &user.practitioner {
            let _ = write!(options, "<option value=\"p:{}\">{}</option>", esc(p), esc(&user.display_name));
        }
    }
    let departments: std::collections::BTreeSet<&String> = app.config.routing.departments.values().chain(std::iter::once(&app.config.routing.default_department)).collect();
    for d in departments {
        let _ = write!(options, "<option value=\"d:{}\">{} queue</option>", esc(d), esc(&label(d)));
    }
    let _ = write!(
        body,
        "<h2>Actions</h2><div class=\"card\"><form class=\"row\" method=\"post\" action=\"{base}/reassign\">{csrf}<select name=\"to\" aria-label=\"Reassign to\">{options}</select><button class=\"plain\" type=\"submit\">Reassign</button></form>\
<form method=\"post\" action=\"{base}/done\" style=\"margin-top:.5rem\">{csrf}<button type=\"submit\" class=\"plain\">{}</button></form></div>",
        if done { "Reopen" } else { "Mark done" }
    );
    Ok(())
}

fn timeline_html(record: &CallRecord, tz: &chrono_tz::Tz, body: &mut String) {
    body.push_str("<h2>Call timeline</h2><div class=\"card\"><ul class=\"plain\">");
    for event in &record.events {
        let detail = event.detail.iter().map(|(k, v)| format!("{k}: {}", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))).collect::<Vec<_>>().join(", ");
        let _ = write!(body, "<li><span class=\"muted\">{}</span> {} <span class=\"muted\">{}</span></li>", event.at.with_timezone(tz).format("%H:%M:%S"), esc(&label(&event.kind)), esc(&detail));
    }
    body.push_str("</ul></div>");
}
