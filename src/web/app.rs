//! The dashboard's shared state, router and the guard every request passes: session lookup
//! (no page without login), CSRF check on every POST, server time per request (`Server-Timing`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use crate::store::audit::{AuditEvent, Outcome};
use crate::store::{Store, StoreError};

use super::lockout::LockoutPolicy;
use super::session::{COOKIE, LOGIN_COOKIE, Session, SessionTable};
use super::{actions, audio, audit_page, detail, html, live, login, practice, queue};
use crate::crypto::constant_time_eq;

/// Largest form body accepted (a reply is a few hundred characters).
const MAX_FORM: usize = 64 * 1024;

pub struct AppState {
    pub store: Store,
    pub config: Arc<super::DashboardConfig>,
    pub sessions: Mutex<SessionTable>,
    pub lockout: LockoutPolicy,
    /// Cookies carry `Secure` when the dashboard is served over HTTPS.
    pub secure_cookies: bool,
    pub ehr: super::Chart,
    /// Unacknowledged alerts and the pages listening for them (shared with the call side).
    pub live: Arc<super::live::Hub>,
}

pub type App = Arc<AppState>;

impl AppState {
    pub fn new(store: Store, config: Arc<super::DashboardConfig>, ehr: super::Chart, live: Arc<super::live::Hub>) -> App {
        let web = &config.web;
        Arc::new(AppState {
            sessions: Mutex::new(SessionTable::new(chrono::Duration::minutes(web.session_idle_min as i64), chrono::Duration::hours(web.session_max_hours as i64))),
            lockout: LockoutPolicy { max_failures: web.lockout_failures, window: chrono::Duration::minutes(web.lockout_window_min as i64) },
            secure_cookies: web.tls,
            store,
            config,
            ehr,
            live,
        })
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.config.practice.tz()
    }

    /// Appends to the audit trail; an entry that cannot be written fails the request.
    pub fn audit(&self, who: &Who, action: &str, outcome: Outcome, patient: Option<&str>, object: &str, detail: &str) -> Result<(), WebError> {
        let event = AuditEvent {
            who: who.username.clone(),
            role: who.role.clone(),
            action: action.into(),
            outcome: Some(outcome),
            patient: patient.unwrap_or_default().into(),
            source: who.source.clone(),
            object: object.into(),
            detail: detail.into(),
        };
        self.store.audit(&event, Utc::now())?;
        Ok(())
    }

    pub fn cookie(&self, name: &str, value: &str, path: &str, max_age_s: i64) -> HeaderValue {
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        HeaderValue::from_str(&format!("{name}={value}; Path={path}; Max-Age={max_age_s}; HttpOnly; SameSite=Strict{secure}")).expect("cookie values are hex")
    }
}

/// Who is asking, for the audit trail (also for requests without a session).
#[derive(Debug, Clone)]
pub struct Who {
    pub username: String,
    pub role: String,
    pub source: String,
}

impl Who {
    pub fn of(session: &Session, source: &str) -> Self {
        Who { username: session.username.clone(), role: session.role.as_str().into(), source: source.into() }
    }
}

/// The client's address, from the connection.
#[derive(Debug, Clone)]
pub struct Client(pub String);

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("the chart could not be updated: {0}")]
    Ehr(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            WebError::NotFound => (StatusCode::NOT_FOUND, "Not found, or not yours to see.".to_string()),
            WebError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            WebError::Ehr(m) => (StatusCode::BAD_GATEWAY, format!("The chart could not be updated, nothing was saved: {m}")),
            WebError::Store(_) | WebError::Io(_) => {
                tracing::error!(error = %self, "dashboard request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong; nothing was changed.".into())
            }
        };
        let body = format!("<div class=\"err\">{}</div><p><a href=\"/\">Back to the queue</a></p>", html::esc(&message));
        (status, Html(html::page("Error", None, &body))).into_response()
    }
}

pub fn router(app: App) -> Router {
    Router::new()
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/", get(queue::page))
        .route("/tasks/{id}", get(detail::page))
        .route("/tasks/{id}/recording", get(audio::recording))
        .route("/tasks/{id}/refill", post(actions::refill))
        .route("/tasks/{id}/reply", post(actions::reply))
        .route("/tasks/{id}/reassign", post(actions::reassign))
        .route("/tasks/{id}/done", post(actions::done))
        .route("/practice", get(practice::page))
        .route("/audit", get(audit_page::page))
        .route("/live/alerts", get(live::stream))
        .route("/live/alerts/{id}/ack", post(live::acknowledge))
        .route("/live/alerts.js", get(live::script))
        .route("/live/alert.wav", get(live::sound))
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// The value of `field` in an urlencoded form body.
pub fn form_field(body: &[u8], field: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).ok()?.into_iter().find(|(k, _)| k == field).map(|(_, v)| v)
}

fn forbidden(message: &str) -> Response {
    let body = format!("<div class=\"err\">{}</div><p><a href=\"/\">Back</a></p>", html::esc(message));
    (StatusCode::FORBIDDEN, Html(html::page("Forbidden", None, &body))).into_response()
}

async fn guard(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let source = req.extensions().get::<ConnectInfo<SocketAddr>>().map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string());
    req.extensions_mut().insert(Client(source.clone()));
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let now: DateTime<Utc> = Utc::now();

    let response = 'handled: {
        let session = cookie_value(req.headers(), COOKIE).and_then(|token| app.sessions.lock().touch(&token, now));
        let expected_csrf = if path == "/login" {
            cookie_value(req.headers(), LOGIN_COOKIE)
        } else {
            match &session {
                Some(s) => Some(s.csrf.clone()),
                None => break 'handled Redirect::to("/login").into_response(),
            }
        };
        if method == Method::POST {
            let (parts, body) = req.into_parts();
            let Ok(bytes) = to_bytes(body, MAX_FORM).await else {
                break 'handled (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response();
            };
            let given = form_field(&bytes, "csrf").unwrap_or_default();
            let valid = expected_csrf.as_deref().is_some_and(|expected| !expected.is_empty() && constant_time_eq(expected, &given));
            if !valid {
                let who = session.as_ref().map_or_else(|| Who { username: String::new(), role: String::new(), source: source.clone() }, |s| Who::of(s, &source));
                let _ = app.audit(&who, "csrf_rejected", Outcome::Denied, None, &path, "");
                tracing::warn!(path = %path, "POST without a valid CSRF token refused");
                break 'handled forbidden("This form has expired or did not come from Chartline. Go back, reload the page and try again.");
            }
            req = Request::from_parts(parts, Body::from(bytes));
        }
        if let Some(session) = session {
            req.extensions_mut().insert(session);
        }
        next.run(req).await
    };
    let mut response = response;
    let elapsed = started.elapsed();
    tracing::debug!(method = %method, path = %path, status = response.status().as_u16(), ms = elapsed.as_secs_f64() * 1000.0, "dashboard request");
    if let Ok(value) = HeaderValue::from_str(&format!("app;dur={:.2}", elapsed.as_secs_f64() * 1000.0)) {
        response.headers_mut().insert("server-timing", value);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert("x-frame-options", HeaderValue::from_static("DENY"));
    response.headers_mut().insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response.headers_mut().insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    // One script, ours (the live alert stream, same origin); inline styles only (one small <style> per page).
    response.headers_mut().insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; media-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    response
}
