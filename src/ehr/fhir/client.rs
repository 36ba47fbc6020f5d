//! The HTTP side of the FHIR adapter: one request with the EHR's rules applied — authorisation
//! (a 401 refreshes the token once), 429 honours Retry-After (short waits inline, longer ones go
//! back to the outbox), 5xx and network errors are retried a few times with backoff, and an
//! OperationOutcome body is surfaced in the error. HTTPS certificates are always verified: against
//! the system's roots, plus a private CA when `ehr.fhir.ca_file` names one.

use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use super::super::error::{EhrError, operation_outcome_text};
use super::auth::{Auth, form_encode};
use crate::ehr::profiles::Body;

/// Longest Retry-After waited for inside one delivery; longer ones are left to the outbox policy.
const MAX_INLINE_RETRY_AFTER: Duration = Duration::from_secs(5);
/// Attempts per request for 5xx/network errors (the outbox retries beyond that).
const ATTEMPTS: u32 = 3;

pub struct FhirClient {
    http: reqwest::Client,
    base: String,
    auth: Auth,
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub location: Option<String>,
    pub body: Value,
}

/// Parses `Retry-After` (delta-seconds or an HTTP date).
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&chrono::Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

impl FhirClient {
    pub fn new(base: &str, timeout: Duration, auth: Auth) -> Result<Self, EhrError> {
        Self::with_ca_file(base, timeout, auth, Path::new(""))
    }

    /// A client that also trusts the CA certificates in `ca_file` (PEM; empty = system roots only).
    pub fn with_ca_file(base: &str, timeout: Duration, auth: Auth, ca_file: &Path) -> Result<Self, EhrError> {
        let mut builder = reqwest::Client::builder().timeout(timeout).connect_timeout(timeout.min(Duration::from_secs(5))).user_agent(concat!("chartline/", env!("CARGO_PKG_VERSION")));
        if !ca_file.as_os_str().is_empty() {
            builder = builder.tls_certs_merge(load_ca_file(ca_file)?);
        }
        let http = builder.build().map_err(|e| EhrError::Network(format!("HTTP client: {e}")))?;
        Ok(Self { http, base: base.trim_end_matches('/').to_string(), auth })
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") { path.to_string() } else { format!("{}/{}", self.base, path.trim_start_matches('/')) }
    }

    pub async fn get(&self, path: &str) -> Result<Response, EhrError> {
        self.send(Method::GET, path, None, &[]).await
    }

    /// Sends one request, retrying what the rules say may be retried.
    pub async fn send(&self, method: Method, path: &str, body: Option<&Body>, headers: &[(&str, String)]) -> Result<Response, EhrError> {
        let url = self.url(path);
        let mut refreshed = false;
        let mut force_refresh = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.send_once(method.clone(), &url, body, headers, std::mem::take(&mut force_refresh)).await;
            let retry_in = match &result {
                Ok(_) => return result,
                Err(EhrError::Http { status: 401, .. }) if self.auth.can_refresh() && !refreshed => {
                    refreshed = true;
                    force_refresh = true;
                    tracing::debug!("EHR answered 401; refreshing the access token");
                    Some(Duration::ZERO)
                }
                Err(EhrError::Http { status: 429, retry_after, .. }) => {
                    retry_after.filter(|d| *d <= MAX_INLINE_RETRY_AFTER).or(if retry_after.is_none() { Some(Duration::from_millis(500)) } else { None })
                }
                Err(EhrError::Http { status, .. }) if *status >= 500 => Some(Duration::from_millis(200 << attempt)),
                Err(EhrError::Network(_)) => Some(Duration::from_millis(200 << attempt)),
                Err(_) => None,
            };
            match retry_in {
                Some(wait) if attempt < ATTEMPTS || (refreshed && attempt == ATTEMPTS) => tokio::time::sleep(wait).await,
                _ => return result,
            }
        }
    }

    async fn send_once(&self, method: Method, url: &str, body: Option<&Body>, headers: &[(&str, String)], force_refresh: bool) -> Result<Response, EhrError> {
        let mut request = self.http.request(method.clone(), url).header("Accept", "application/fhir+json");
        if let Some(auth) = self.auth.header(&self.http, force_refresh).await? {
            request = request.header("Authorization", auth);
        }
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request = match body {
            Some(Body::Json(v)) => request.header("Content-Type", "application/fhir+json").body(v.to_string()),
            Some(Body::Form(pairs)) => {
                let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                request.header("Content-Type", "application/x-www-form-urlencoded").body(form_encode(&pairs))
            }
            None => request,
        };
        // Search URLs carry birth dates: errors name the path only.
        let path = strip_query(url);
        let response = request.send().await.map_err(|e| EhrError::Network(format!("{method} {path}: {}", describe(e))))?;
        let status = response.status();
        let location = response.headers().get("location").or_else(|| response.headers().get("content-location")).and_then(|v| v.to_str().ok()).map(str::to_string);
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        let bytes = response.bytes().await.map_err(|e| EhrError::Network(format!("{method} {path}: reading the body: {}", describe(e))))?;
        let body: Value = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
        if status.is_success() {
            return Ok(Response { status: status.as_u16(), location, body });
        }
        let outcome = operation_outcome_text(&body).or_else(|| {
            let text = String::from_utf8_lossy(&bytes);
            (!text.trim().is_empty()).then(|| text.chars().take(300).collect())
        });
        Err(EhrError::Http { method: method.to_string(), url: path, status: status.as_u16(), outcome, retry_after })
    }
}

/// The certificates of a PEM bundle, or a configuration error naming `ehr.fhir.ca_file`.
fn load_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>, EhrError> {
    let problem = |problem: String| EhrError::Config { key: "ehr.fhir.ca_file".into(), problem };
    let pem = std::fs::read(path).map_err(|e| problem(format!("cannot read {}: {e}", path.display())))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| problem(format!("{}: not a PEM certificate bundle: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(problem(format!("{} holds no PEM certificate", path.display())));
    }
    Ok(certs)
}

/// A transport error without its URL, with its cause (connection refused, timed out, ...); a
/// certificate the client does not trust says so and how to trust a private CA.
fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut text = kind.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    if text.contains("certificate") {
        text = format!("TLS certificate of the EHR not trusted (a private CA goes in ehr.fhir.ca_file): {text}");
    }
    text
}

/// Search parameters can hold patient data (birth dates): errors and logs carry the path only.
fn strip_query(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now: chrono::DateTime<chrono::Utc> = "2026-11-01T12:00:00Z".parse().unwrap();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Sun, 01 Nov 2026 12:00:30 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn ca_file_problems_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let missing = FhirClient::with_ca_file("https://h/fhir", Duration::from_secs(1), Auth::None, &dir.path().join("none.pem")).err().unwrap().to_string();
        assert!(missing.contains("ehr.fhir.ca_file") && missing.contains("none.pem"), "{missing}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let err = FhirClient::with_ca_file("https://h/fhir", Duration::from_secs(1), Auth::None, &empty).err().unwrap().to_string();
        assert!(err.contains("ehr.fhir.ca_file"), "{err}");
        let ca = rcgen::generate_simple_self_signed(vec!["fhir.local".to_string()]).unwrap();
        let good = dir.path().join("ca.pem");
        std::fs::write(&good, ca.cert.pem()).unwrap();
        assert!(FhirClient::with_ca_file("https://h/fhir", Duration::from_secs(1), Auth::None, &good).is_ok());
    }

    #[test]
    fn urls_and_queries() {
        let c = FhirClient::new("http://h/fhir/", Duration::from_secs(1), Auth::None).unwrap();
        assert_eq!(c.url("Patient?birthdate=1980-01-02"), "http://h/fhir/Patient?birthdate=1980-01-02");
        assert_eq!(c.url("http://other/x"), "http://other/x");
        assert_eq!(strip_query("http://h/fhir/Patient?birthdate=1980-01-02"), "http://h/fhir/Patient");
    }
}
