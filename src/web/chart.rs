//! The chart on the call detail page, and the refill decision's write-through. The EHR module is
//! not merged on this branch yet: without a chart the page says so and the refill form asks for
//! the medication by name; the summary type plugs in here.

use std::fmt::Write;

use super::app::App;
use super::html::esc;

/// The patient's chart summary, when a chart is connected and the patient was identified.
pub type Summary = Option<()>;

pub async fn load(_app: &App, _patient_id: Option<&str>) -> Summary {
    None
}

pub fn patient_name(_chart: &Summary) -> Option<String> {
    None
}

pub fn allergies_html(_chart: &Summary) -> String {
    "<p class=\"muted\">Allergies: no chart connected.</p>".into()
}

/// One Approve/Deny pair per active medication; without a chart, a field for the medication.
pub fn refill_forms(_chart: &Summary, base: &str, csrf: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<form method=\"post\" action=\"{base}/refill\">{csrf}<label for=\"med\">Medication</label><input id=\"med\" name=\"medication\" required>\
<input type=\"hidden\" name=\"medication_id\" value=\"\"><div class=\"row\" style=\"margin-top:.5rem\">\
<button class=\"ok\" name=\"decision\" value=\"approve\" type=\"submit\">Approve refill</button>\
<button class=\"no\" name=\"decision\" value=\"deny\" type=\"submit\">Deny</button></div></form>"
    );
    out
}

pub fn summary_html(_chart: &Summary, _tz: &chrono_tz::Tz) -> String {
    format!("<h2>Chart</h2><div class=\"card muted\">{}</div>", esc("No chart connected."))
}

pub fn medication_name(_chart: &Summary, _medication_id: &str) -> Option<String> {
    None
}

/// Writes the decision to the chart; returns the references written (none without a chart).
pub async fn record_refill(_app: &App, _call_id: &str, _medication_id: &str, _approved: bool, _by: &str, _at: chrono::DateTime<chrono::Utc>) -> Result<Vec<String>, super::app::WebError> {
    Ok(Vec::new())
}

pub async fn reply(_app: &App, _call_id: &str, _author: &str, _text: &str) -> Result<Vec<String>, super::app::WebError> {
    Ok(Vec::new())
}

pub async fn reassign(_app: &App, _call_id: &str, _practitioner: Option<&str>) -> Result<(), super::app::WebError> {
    Ok(())
}

pub async fn complete(_app: &App, _call_id: &str) -> Result<(), super::app::WebError> {
    Ok(())
}
