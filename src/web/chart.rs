//! The chart on the call detail page, read and written through the EHR module (`Arc<dyn Ehr>`):
//! the summary (medications with last fill, allergies, problems, upcoming appointments, care
//! team), and the write-through of refill decisions, replies, reassignment and completion. The
//! chart is written first; only when it accepted the change is it stored locally.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use crate::ehr::{ChartSummary, RefillDecision, Reply, TaskStatus, TaskUpdate};

use super::app::{App, WebError};
use super::html::esc;

/// The patient's chart summary, when a chart is connected and the patient was identified.
pub type Summary = Option<ChartSummary>;

pub async fn load(app: &App, patient_id: Option<&str>) -> Summary {
    let (ehr, id) = (app.ehr.as_ref()?, patient_id?);
    match ehr.chart_summary(id).await {
        Ok(summary) => Some(summary),
        Err(e) => {
            tracing::warn!(error = %e, "chart summary unavailable");
            None
        }
    }
}

pub fn patient_name(chart: &Summary) -> Option<String> {
    chart.as_ref()?.patient.as_ref().map(|p| format!("{} {}", p.given, p.family))
}

pub fn allergies_html(chart: &Summary) -> String {
    match chart {
        None => "<p class=\"muted\">Allergies: no chart for this caller.</p>".into(),
        Some(c) if c.allergies.is_empty() => "<p><strong>Allergies:</strong> none recorded</p>".into(),
        Some(c) => {
            let list: Vec<String> = c
                .allergies
                .iter()
                .map(|a| format!("<span class=\"badge red\">{}{}</span>", esc(&a.substance), a.criticality.as_deref().map(|k| format!(" ({})", esc(k))).unwrap_or_default()))
                .collect();
            format!("<p><strong>Allergies:</strong> {}</p>", list.join(""))
        }
    }
}

fn manual_form(base: &str, csrf: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{base}/refill\">{csrf}<label for=\"med\">Medication</label><input id=\"med\" name=\"medication\" required>\
<input type=\"hidden\" name=\"medication_id\" value=\"\"><div class=\"row\" style=\"margin-top:.5rem\">\
<button class=\"ok\" name=\"decision\" value=\"approve\" type=\"submit\">Approve refill</button>\
<button class=\"no\" name=\"decision\" value=\"deny\" type=\"submit\">Deny</button></div></form>"
    )
}

/// One Approve/Deny pair per active medication, with its last fill; without a chart, a field
/// for the medication (recorded locally only).
pub fn refill_forms(chart: &Summary, base: &str, csrf: &str) -> String {
    let Some(chart) = chart.as_ref().filter(|c| !c.medications.is_empty()) else { return manual_form(base, csrf) };
    let mut out = String::new();
    for m in &chart.medications {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"{base}/refill\" class=\"card\" style=\"box-shadow:none;border:1px solid #e3e7ee\">{csrf}\
<input type=\"hidden\" name=\"medication_id\" value=\"{}\"><div><strong>{}</strong></div><div class=\"muted\">Last filled {}</div>\
<div class=\"row\" style=\"margin-top:.4rem\"><button class=\"ok\" name=\"decision\" value=\"approve\" type=\"submit\">Approve refill</button>\
<button class=\"no\" name=\"decision\" value=\"deny\" type=\"submit\">Deny</button></div></form>",
            esc(&m.id),
            esc(&m.name),
            m.last_filled.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_else(|| "unknown".into()),
        );
    }
    out
}

pub fn medication_name(chart: &Summary, medication_id: &str) -> Option<String> {
    chart.as_ref()?.medications.iter().find(|m| m.id == medication_id && !medication_id.is_empty()).map(|m| m.name.clone())
}

pub fn summary_html(chart: &Summary, tz: &chrono_tz::Tz) -> String {
    let Some(c) = chart else { return "<h2>Chart</h2><div class=\"card muted\">No chart for this caller (patient not identified, or the chart is unavailable).</div>".into() };
    let mut out = String::from("<h2>Chart</h2><div class=\"card\">");
    let list = |out: &mut String, title: &str, items: Vec<String>| {
        let _ = write!(out, "<div><strong>{title}</strong></div><ul class=\"plain\">");
        if items.is_empty() {
            out.push_str("<li class=\"muted\">none</li>");
        }
        for item in items {
            let _ = write!(out, "<li>{item}</li>");
        }
        out.push_str("</ul>");
    };
    list(
        &mut out,
        "Active medications",
        c.medications.iter().map(|m| format!("{} <span class=\"muted\">last filled {}</span>", esc(&m.name), m.last_filled.map(|d| d.to_string()).unwrap_or_else(|| "?".into()))).collect(),
    );
    list(&mut out, "Allergies", c.allergies.iter().map(|a| esc(&a.substance)).collect());
    list(&mut out, "Problems", c.problems.iter().map(|p| esc(&p.name)).collect());
    list(
        &mut out,
        "Upcoming appointments",
        c.appointments.iter().map(|a| format!("{} {}", a.start.with_timezone(tz).format("%a %b %-d %H:%M"), esc(a.description.as_deref().unwrap_or("")))).collect(),
    );
    let pcp = c.pcp.as_ref().map(|p| p.id.clone());
    list(&mut out, "Care team", c.care_team.iter().map(|p| format!("{}{}", esc(&p.name), if pcp.as_deref() == Some(p.id.as_str()) { " <span class=\"badge\">PCP</span>" } else { "" })).collect());
    out.push_str("</div>");
    out
}

fn ehr_error(e: crate::ehr::EhrError) -> WebError {
    WebError::Ehr(e.to_string())
}

/// Writes the decision to the chart (renewed MedicationRequest when approved, Task completed,
/// Provenance); returns the references written. Without a chart or a chart medication, nothing
/// is written there.
pub async fn record_refill(app: &App, call_id: &str, medication_id: &str, approved: bool, by: &str, at: DateTime<Utc>) -> Result<Vec<String>, WebError> {
    let Some(ehr) = app.ehr.as_ref().filter(|_| !medication_id.is_empty()) else { return Ok(Vec::new()) };
    let decision = RefillDecision { medication_id: medication_id.into(), approved, by: by.into(), note: None, at };
    ehr.record_refill(call_id, &decision).await.map_err(ehr_error)
}

/// A task update for the chart. A chart that has no task for the call yet (its result is still
/// in the outbox, or the call was never sent) keeps the change local only: it is logged and the
/// dashboard still records it. Any other chart error refuses the action, nothing saved.
async fn update(app: &App, call_id: &str, update: TaskUpdate) -> Result<Vec<String>, WebError> {
    let Some(ehr) = app.ehr.as_ref() else { return Ok(Vec::new()) };
    match ehr.update_task(call_id, &update).await {
        Ok(refs) => Ok(refs),
        Err(crate::ehr::EhrError::NotFound(what)) => {
            tracing::warn!(call_id, missing = %what, "the chart has no task for this call yet; the change is kept locally");
            Ok(Vec::new())
        }
        Err(e) => Err(ehr_error(e)),
    }
}

/// A reply as a Communication in response to the call's.
pub async fn reply(app: &App, call_id: &str, author: &str, text: &str) -> Result<Vec<String>, WebError> {
    update(app, call_id, TaskUpdate { reply: Some(Reply { author: author.into(), text: text.into() }), ..Default::default() }).await
}

pub async fn reassign(app: &App, call_id: &str, practitioner: Option<&str>) -> Result<(), WebError> {
    if let Some(p) = practitioner {
        update(app, call_id, TaskUpdate { owner: Some(p.into()), ..Default::default() }).await?;
    }
    Ok(())
}

pub async fn complete(app: &App, call_id: &str) -> Result<(), WebError> {
    update(app, call_id, TaskUpdate { status: Some(TaskStatus::Completed), ..Default::default() }).await.map(|_| ())
}

/// A practitioner's name from the patient's care team, when the chart knows them.
pub fn practitioner_name(chart: &Summary, id: &str) -> Option<String> {
    let c = chart.as_ref()?;
    c.care_team.iter().chain(c.pcp.iter()).find(|p| p.id == id).map(|p| p.name.clone())
}
