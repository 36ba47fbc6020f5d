//! Live alerts on the dashboard: the hub that holds the alerts nobody acknowledged yet and the open
//! pages listening for them, the Server-Sent Events stream each page opens, and the acknowledge
//! action.
//!
//! Each open page gets its own bounded queue (`[alerts] push_buffer` events) and only the alerts
//! its user may see (`access::can_view`). Overflow policy: a page that falls a full queue behind is
//! disconnected rather than slowing the caller side; its EventSource reconnects, and every
//! connection starts with a replay of the unacknowledged alerts, so nothing is lost.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Extension, Path, State};
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use futures_util::stream::{self, Stream, StreamExt};
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::store::audit::Outcome;
use crate::store::record::CallEvent;

use super::access::{self, TaskItem};
use super::app::{App, Client, WebError, Who};
use super::html::url;
use super::session::Session;

/// One alert raised for a call.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveAlert {
    pub severity: &'static str,
    pub raised_at: DateTime<Utc>,
    /// The call as the queue sees it: who may see the alert follows from it.
    pub task: TaskItem,
}

/// What a page is told.
#[derive(Debug, Clone, PartialEq)]
pub enum Push {
    Raised(LiveAlert),
    Acknowledged { call_id: String, by: String },
}

struct Page {
    session: Session,
    tx: mpsc::Sender<Push>,
}

pub struct Hub {
    pending: Mutex<Vec<LiveAlert>>,
    pages: Mutex<Vec<Page>>,
    buffer: usize,
}

impl Hub {
    pub fn new(buffer: usize) -> Self {
        Hub { pending: Mutex::new(Vec::new()), pages: Mutex::new(Vec::new()), buffer: buffer.max(1) }
    }

    /// Holds `alert` until it is acknowledged and sends it to every open page allowed to see it.
    /// Returns how many pages received it.
    pub fn raise(&self, alert: LiveAlert) -> usize {
        {
            let mut pending = self.pending.lock();
            pending.retain(|a| a.task.call_id != alert.task.call_id);
            pending.push(alert.clone());
        }
        self.send(|session| access::can_view(session, &alert.task), Push::Raised(alert.clone()))
    }

    /// Takes the alert off the pending list if `session` may see it, and tells every page that
    /// showed it. `None` when there is no such alert for this person (gone, or not theirs).
    pub fn acknowledge(&self, call_id: &str, session: &Session) -> Option<LiveAlert> {
        let alert = {
            let mut pending = self.pending.lock();
            let at = pending.iter().position(|a| a.task.call_id == call_id && access::can_view(session, &a.task))?;
            pending.remove(at)
        };
        self.send(|s| access::can_view(s, &alert.task), Push::Acknowledged { call_id: call_id.to_string(), by: session.display_name.clone() });
        Some(alert)
    }

    /// Registers an open page: its queue, and the unacknowledged alerts it may see (to replay).
    pub fn subscribe(&self, session: Session) -> (mpsc::Receiver<Push>, Vec<LiveAlert>) {
        let (tx, rx) = mpsc::channel(self.buffer);
        let replay = self.pending.lock().iter().filter(|a| access::can_view(&session, &a.task)).cloned().collect();
        self.pages.lock().push(Page { session, tx });
        (rx, replay)
    }

    pub fn pending(&self) -> Vec<LiveAlert> {
        self.pending.lock().clone()
    }

    fn send(&self, allowed: impl Fn(&Session) -> bool, push: Push) -> usize {
        let mut delivered = 0;
        self.pages.lock().retain(|page| {
            if !allowed(&page.session) {
                return !page.tx.is_closed();
            }
            match page.tx.try_send(push.clone()) {
                Ok(()) => {
                    delivered += 1;
                    true
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(user = %page.session.username, "dashboard page too far behind on alerts: disconnected, it replays on reconnect");
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
        delivered
    }
}

#[derive(Serialize)]
struct AlertJson<'a> {
    call_id: &'a str,
    severity: &'a str,
    kind: String,
    red_flags: Vec<String>,
    raised_at: String,
    link: String,
    ack: String,
}

fn sse_event(push: &Push) -> Event {
    match push {
        Push::Raised(alert) => {
            let id = &alert.task.call_id;
            let json = AlertJson {
                call_id: id,
                severity: alert.severity,
                kind: super::html::label(&alert.task.kind),
                red_flags: alert.task.red_flags.iter().map(|f| super::html::label(f)).collect(),
                raised_at: alert.raised_at.to_rfc3339(),
                link: format!("/tasks/{}", url(id)),
                ack: format!("/live/alerts/{}/ack", url(id)),
            };
            Event::default().event("alert").data(serde_json::to_string(&json).unwrap_or_default())
        }
        Push::Acknowledged { call_id, by } => Event::default().event("acknowledged").data(serde_json::json!({ "call_id": call_id, "by": by }).to_string()),
    }
}

/// `GET /live/alerts`: the page's event stream, starting with the unacknowledged alerts.
pub async fn stream(State(app): State<App>, Extension(session): Extension<Session>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (rx, replay) = app.live.subscribe(session);
    let replayed = stream::iter(replay.into_iter().map(|a| Ok(sse_event(&Push::Raised(a)))));
    let live = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|push| (Ok(sse_event(&push)), rx)) });
    Sse::new(replayed.chain(live)).keep_alive(KeepAlive::new().interval(Duration::from_secs(app.config.alerts.keepalive_s)))
}

/// `POST /live/alerts/{id}/ack`: the alert leaves every page, the call's timeline and the audit
/// trail name who acknowledged it.
pub async fn acknowledge(State(app): State<App>, Extension(session): Extension<Session>, Extension(client): Extension<Client>, Path(id): Path<String>) -> Result<Response, WebError> {
    let who = Who::of(&session, &client.0);
    let Some(alert) = app.live.acknowledge(&id, &session) else {
        app.audit(&who, "alert_acknowledge", Outcome::Denied, None, &id, "no unacknowledged alert for this user")?;
        return Err(WebError::BadRequest("This alert was already acknowledged (or is not yours to see).".into()));
    };
    let detail = serde_json::json!({ "by": session.username, "name": session.display_name });
    let event = CallEvent { at: Utc::now(), kind: "dashboard_acknowledged".into(), detail: detail.as_object().cloned().unwrap_or_default() };
    if let Err(e) = app.store.add_call_event(&id, event) {
        tracing::warn!(error = %e, "cannot record the acknowledgement on the call");
    }
    app.audit(&who, "alert_acknowledge", Outcome::Success, alert.task.patient_id.as_deref(), &id, alert.severity)?;
    Ok(Redirect::to(&format!("/tasks/{}?ok={}", url(&id), url("Alert acknowledged"))).into_response())
}

/// The page script: opens the stream, shows banners, plays the sound once allowed.
pub async fn script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("live.js")).into_response()
}

/// The alert sound: two short tones, made once (WAV, 8 kHz mono).
pub async fn sound() -> Response {
    static WAV: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let wav = WAV.get_or_init(chime).clone();
    ([(header::CONTENT_TYPE, "audio/wav")], wav).into_response()
}

fn chime() -> Vec<u8> {
    let spec = hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut out = std::io::Cursor::new(Vec::new());
    if let Ok(mut wav) = hound::WavWriter::new(&mut out, spec) {
        for hz in [880.0f32, 660.0, 880.0] {
            for n in 0..spec.sample_rate / 4 {
                let _ = wav.write_sample(((n as f32 * hz * std::f32::consts::TAU / spec.sample_rate as f32).sin() * 12000.0) as i16);
            }
        }
        let _ = wav.finalize();
    }
    out.into_inner()
}

#[cfg(test)]
#[path = "live_tests.rs"]
mod tests;
