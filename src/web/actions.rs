//! One-tap actions on a task: refill approve/deny, reply, reassign, done/reopen. Each is checked
//! against the person's role, written (through the chart when one is connected), audited, and
//! answered with a redirect back to the task that shows what happened.

use axum::extract::{Extension, Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;

use crate::store::audit::Outcome;
use crate::store::tasks::RefillRecord;
use crate::store::users::Role;

use super::access;
use super::app::{App, Client, WebError, Who};
use super::detail::authorized;
use super::html::{esc, page, url};
use super::session::Session;

fn back(id: &str, message: &str) -> Response {
    Redirect::to(&format!("/tasks/{}?ok={}", url(id), url(message))).into_response()
}

#[derive(Deserialize)]
pub struct RefillForm {
    decision: String,
    #[serde(default)]
    medication_id: String,
    #[serde(default)]
    medication: String,
}

pub async fn refill(
    State(app): State<App>,
    Extension(session): Extension<Session>,
    Extension(client): Extension<Client>,
    Path(id): Path<String>,
    Form(form): Form<RefillForm>,
) -> Result<Response, WebError> {
    let (record, task) = authorized(&app, &session, &client, &id, "refill_decision")?;
    let who = Who::of(&session, &client.0);
    let patient = record.patient.id.as_deref();
    if !access::can_decide_refill(&session, &task) {
        app.audit(&who, "refill_decision", Outcome::Denied, patient, &id, "not a provider")?;
        let body = "<div class=\"err\">Only the patient's provider can decide a refill.</div>";
        return Ok((StatusCode::FORBIDDEN, Html(page("Forbidden", Some(&session), body))).into_response());
    }
    let approved = match form.decision.as_str() {
        "approve" => true,
        "deny" => false,
        other => return Err(WebError::BadRequest(format!("unknown decision {other:?}: expected approve or deny"))),
    };
    if !app.store.refill_decisions(&id)?.is_empty() {
        return Err(WebError::BadRequest("This refill was already decided.".into()));
    }
    let chart = super::chart::load(&app, patient).await;
    let medication = super::chart::medication_name(&chart, &form.medication_id).unwrap_or_else(|| form.medication.trim().to_string());
    if medication.is_empty() {
        return Err(WebError::BadRequest("Name the medication to decide on.".into()));
    }
    let at = Utc::now();
    let practitioner = session.practitioner.clone().unwrap_or_default();
    let refs = match super::chart::record_refill(&app, &id, &form.medication_id, approved, &practitioner, at).await {
        Ok(refs) => refs,
        Err(e) => {
            app.audit(&who, if approved { "refill_approve" } else { "refill_deny" }, Outcome::Failure, patient, &id, &form.medication_id)?;
            return Err(e);
        }
    };
    let decision = RefillRecord { medication_id: form.medication_id.clone(), medication: medication.clone(), approved, decided_by: session.username.clone(), at, refs: refs.join(" ") };
    app.store.record_refill_decision(&id, &decision)?;
    app.audit(&who, if approved { "refill_approve" } else { "refill_deny" }, Outcome::Success, patient, &id, &form.medication_id)?;
    Ok(back(&id, &format!("Refill {}: {medication}", if approved { "approved" } else { "denied" })))
}

#[derive(Deserialize)]
pub struct ReplyForm {
    text: String,
}

pub async fn reply(
    State(app): State<App>,
    Extension(session): Extension<Session>,
    Extension(client): Extension<Client>,
    Path(id): Path<String>,
    Form(form): Form<ReplyForm>,
) -> Result<Response, WebError> {
    let (record, _) = authorized(&app, &session, &client, &id, "reply")?;
    let text = form.text.trim();
    if text.is_empty() || text.chars().count() > 2000 {
        return Err(WebError::BadRequest("A reply needs 1-2000 characters.".into()));
    }
    let at = Utc::now();
    let author = session.practitioner.clone().unwrap_or_else(|| session.username.clone());
    let refs = super::chart::reply(&app, &id, &author, text).await?;
    app.store.add_reply(&id, &session.display_name, text, at, &refs.join(" "))?;
    app.audit(&Who::of(&session, &client.0), "reply", Outcome::Success, record.patient.id.as_deref(), &id, "")?;
    Ok(back(&id, "Reply sent"))
}

#[derive(Deserialize)]
pub struct ReassignForm {
    to: String,
}

pub async fn reassign(
    State(app): State<App>,
    Extension(session): Extension<Session>,
    Extension(client): Extension<Client>,
    Path(id): Path<String>,
    Form(form): Form<ReassignForm>,
) -> Result<Response, WebError> {
    let (record, _) = authorized(&app, &session, &client, &id, "reassign")?;
    let (practitioner, department) = match form.to.split_once(':') {
        Some(("p", p)) if app.store.users()?.iter().any(|u| u.role == Role::Provider && u.practitioner.as_deref() == Some(p)) => (Some(p.to_string()), None),
        Some(("d", d)) if app.config.routing.departments.values().any(|v| v == d) || app.config.routing.default_department == d => (None, Some(d.to_string())),
        _ => return Err(WebError::BadRequest(format!("cannot reassign to {:?}: not a provider or a department", form.to))),
    };
    super::chart::reassign(&app, &id, practitioner.as_deref()).await?;
    app.store.reassign_task(&id, practitioner.as_deref(), department.as_deref())?;
    app.audit(&Who::of(&session, &client.0), "reassign", Outcome::Success, record.patient.id.as_deref(), &id, &form.to)?;
    let view = authorized(&app, &session, &client, &id, "view_task");
    Ok(match view {
        Ok(_) => back(&id, "Reassigned"),
        // Given away to someone else: this person can no longer open it.
        Err(_) => Html(page("Reassigned", Some(&session), &format!("<div class=\"okmsg\">Reassigned to {}.</div><p><a href=\"/\">Back to the queue</a></p>", esc(&form.to)))).into_response(),
    })
}

pub async fn done(State(app): State<App>, Extension(session): Extension<Session>, Extension(client): Extension<Client>, Path(id): Path<String>) -> Result<Response, WebError> {
    let (record, task) = authorized(&app, &session, &client, &id, "mark_done")?;
    let who = Who::of(&session, &client.0);
    if task.done {
        app.store.reopen_task(&id)?;
        app.audit(&who, "reopen", Outcome::Success, record.patient.id.as_deref(), &id, "")?;
        return Ok(back(&id, "Reopened"));
    }
    super::chart::complete(&app, &id).await?;
    app.store.mark_task_done(&id, &session.username, Utc::now())?;
    app.audit(&who, "mark_done", Outcome::Success, record.patient.id.as_deref(), &id, "")?;
    Ok(Redirect::to("/").into_response())
}
