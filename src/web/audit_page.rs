//! `/audit`: recent audit entries and the chain's state, for admins only.

use std::fmt::Write;

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::store::audit::{Outcome, Verification};
use crate::store::users::Role;

use super::app::{App, Client, WebError, Who};
use super::html::{esc, page as shell};
use super::session::Session;

pub async fn page(State(app): State<App>, Extension(session): Extension<Session>, Extension(client): Extension<Client>) -> Result<Response, WebError> {
    let who = Who::of(&session, &client.0);
    if session.role != Role::Admin {
        app.audit(&who, "view_audit", Outcome::Denied, None, "audit", "")?;
        let body = "<div class=\"err\">The audit trail is for administrators.</div>";
        return Ok((StatusCode::FORBIDDEN, Html(shell("Forbidden", Some(&session), body))).into_response());
    }
    app.audit(&who, "view_audit", Outcome::Success, None, "audit", "")?;
    let state = match app.store.verify_audit()? {
        Verification::Intact { count } => format!("<div class=\"okmsg\">Chain intact: {count} entries.</div>"),
        Verification::Broken { seq, problem } => format!("<div class=\"err\">Chain broken at entry {seq}: {}</div>", esc(&problem)),
    };
    let mut body = format!("<h1>Audit trail</h1>{state}<div class=\"card\"><ul class=\"plain\">");
    let tz = app.tz();
    for e in app.store.audit_entries(None, 200)? {
        let at = chrono::DateTime::parse_from_rfc3339(&e.at).map(|t| t.with_timezone(&tz).format("%b %-d %H:%M:%S").to_string()).unwrap_or(e.at.clone());
        let _ = write!(
            body,
            "<li><span class=\"muted\">#{} {at} · {}</span><br><strong>{}</strong> {} <span class=\"badge{}\">{}</span> {} <span class=\"muted\">{}</span></li>",
            e.seq,
            esc(&e.source),
            esc(if e.who.is_empty() { "-" } else { &e.who }),
            esc(&e.action),
            if e.outcome == "success" { "" } else { " red" },
            esc(&e.outcome),
            esc(&e.object),
            esc(&e.detail),
        );
    }
    body.push_str("</ul></div>");
    Ok(Html(shell("Audit", Some(&session), &body)).into_response())
}
