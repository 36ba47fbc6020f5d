//! The practice view: calls per day by request type, after-hours share, and time from call to
//! provider response over the last two weeks, as inline SVG.

use axum::extract::{Extension, State};
use axum::response::Html;
use chrono::Utc;

use crate::store::audit::Outcome;

use super::app::{App, Client, WebError, Who};
use super::html::page as shell;
use super::plots::{self, CallPoint};
use super::session::Session;

const DAYS: usize = 14;

pub async fn page(State(app): State<App>, Extension(session): Extension<Session>, Extension(client): Extension<Client>) -> Result<Html<String>, WebError> {
    let states: std::collections::HashMap<String, _> = app.store.task_states()?.into_iter().map(|s| (s.call_id.clone(), s)).collect();
    let points: Vec<CallPoint> = super::queue::load(&app)?
        .into_iter()
        .map(|(record, task)| CallPoint {
            started_at: record.started_at,
            kind: task.kind,
            after_hours: record.after_hours,
            response: states.get(&record.call_id).and_then(|s| s.first_response_at).zip(record.ended_at).map(|(r, e)| r - e),
        })
        .collect();
    app.audit(&Who::of(&session, &client.0), "view_practice", Outcome::Success, None, "practice", "")?;
    let tz = app.tz();
    let today = Utc::now().with_timezone(&tz).date_naive();
    let days = plots::per_day(&points, tz, today, DAYS);
    let responses: Vec<_> = points.iter().filter_map(|p| p.response).collect();
    let total: usize = days.iter().map(|d| d.total).sum();
    let after: usize = days.iter().map(|d| d.after_hours).sum();
    let median = plots::median(&responses).map_or_else(|| "–".to_string(), |m| super::access::age(Utc::now() - m, Utc::now()));
    let body = format!(
        "<h1>Practice, last {DAYS} days</h1><div class=\"stats\"><div class=\"stat\"><b>{total}</b>calls</div><div class=\"stat\"><b>{}%</b>after hours</div><div class=\"stat\"><b>{median}</b>median response</div></div>\
<h2>Calls per day by request type</h2><div class=\"card\">{}</div><h2>After-hours share</h2><div class=\"card\">{}</div>\
<h2>Time from call to provider response</h2><div class=\"card\">{}<p class=\"muted\">{} answered of {} calls</p></div>",
        (100 * after).checked_div(total).unwrap_or(0),
        plots::calls_per_day_svg(&days),
        plots::after_hours_svg(&days),
        plots::response_svg(&responses),
        responses.len(),
        points.len(),
    );
    Ok(Html(shell("Practice", Some(&session), &body)))
}
