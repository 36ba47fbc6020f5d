//! Errors of the EHR adapters, classified so the sync worker knows whether a retry can help.

use std::time::Duration;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum EhrError {
    #[error("EHR configuration: `{key}` {problem}")]
    Config { key: String, problem: String },
    #[error("embedded chart database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: not a FHIR bundle: {problem}")]
    Import { path: String, problem: String },
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot reach the EHR: {0}")]
    Network(String),
    #[error("EHR answered {status} to {method} {url}{}", outcome_suffix(.outcome))]
    Http { method: String, url: String, status: u16, outcome: Option<String>, retry_after: Option<Duration> },
    #[error("authorization: {0}")]
    Auth(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("unexpected EHR response: {0}")]
    Protocol(String),
}

fn outcome_suffix(outcome: &Option<String>) -> String {
    outcome.as_ref().map(|o| format!(": {o}")).unwrap_or_default()
}

impl EhrError {
    /// True when the same request may succeed later (network, 408/429/5xx, expired token).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Network(_) => true,
            Self::Http { status, .. } => matches!(status, 401 | 408 | 409 | 423 | 429) || *status >= 500,
            Self::Auth(_) => true,
            Self::Db(_) => true,
            _ => false,
        }
    }

    /// A server's Retry-After, when it gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The diagnostics of an OperationOutcome body, joined, or None when the body is something else.
pub fn operation_outcome_text(body: &serde_json::Value) -> Option<String> {
    if body.get("resourceType")?.as_str()? != "OperationOutcome" {
        return None;
    }
    let parts: Vec<String> = body
        .get("issue")?
        .as_array()?
        .iter()
        .map(|issue| {
            let severity = issue.get("severity").and_then(|v| v.as_str()).unwrap_or("error");
            let code = issue.get("code").and_then(|v| v.as_str()).unwrap_or("");
            let text = issue.get("diagnostics").and_then(|v| v.as_str()).or_else(|| issue.pointer("/details/text").and_then(|v| v.as_str())).unwrap_or("");
            format!("{severity} {code}: {text}").trim().to_string()
        })
        .collect();
    Some(parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_outcome_is_summarised() {
        let body = serde_json::json!({"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": "invalid", "diagnostics": "Task.status is required"},
            {"severity": "warning", "code": "processing", "details": {"text": "odd"}}]});
        assert_eq!(operation_outcome_text(&body).unwrap(), "error invalid: Task.status is required; warning processing: odd");
        assert_eq!(operation_outcome_text(&serde_json::json!({"resourceType": "Task"})), None);
    }

    #[test]
    fn transient_classification() {
        let http = |status| EhrError::Http { method: "POST".into(), url: "u".into(), status, outcome: None, retry_after: None };
        assert!(http(503).is_transient());
        assert!(http(429).is_transient());
        assert!(!http(400).is_transient());
        assert!(!http(422).is_transient());
        assert!(EhrError::Network("refused".into()).is_transient());
    }
}

/// Why a booking or a cancellation failed.
#[derive(Debug, thiserror::Error)]
pub enum BookError {
    /// Someone else booked it first: offer the next slots.
    #[error("the slot was just taken")]
    SlotTaken,
    #[error("no such {0}")]
    NotFound(String),
    #[error("this chart cannot schedule: {0}")]
    Unsupported(String),
    #[error(transparent)]
    Ehr(#[from] EhrError),
}
