//! The caller's recording for the `<audio>` player: only to someone who may see the task, with
//! byte ranges so the browser can seek and stream.

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::store::audit::Outcome;

use super::app::{App, Client, WebError, Who};
use super::detail::authorized;
use super::range::{self, RangeReply};
use super::session::Session;

pub async fn recording(State(app): State<App>, Extension(session): Extension<Session>, Extension(client): Extension<Client>, Path(id): Path<String>, headers: HeaderMap) -> Result<Response, WebError> {
    let (record, _) = authorized(&app, &session, &client, &id, "play_recording")?;
    let relative = record.recording.clone().ok_or(WebError::NotFound)?;
    let relative_path = std::path::Path::new(&relative);
    if relative_path.is_absolute() || relative_path.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
        tracing::warn!(call_id = %id, "recording path leaves the data dir; refused");
        return Err(WebError::NotFound);
    }
    let path = app.config.data_dir.join(relative_path);
    // Recordings are sealed at rest: decrypted here into a WAV in memory (a 15-minute call is
    // about 14 MB), then served with ranges like a file. A recording cut short by a crash plays
    // up to its last complete second.
    let keys = app.store.keys();
    let wav = tokio::task::spawn_blocking(move || crate::store::recording::read_wav(&path, &keys)).await.map_err(|_| WebError::NotFound)?.map_err(|e| {
        tracing::warn!(call_id = %id, error = %e, "recording cannot be read");
        WebError::NotFound
    })?;
    let len = wav.len() as u64;
    let reply = range::parse(headers.get(header::RANGE).and_then(|v| v.to_str().ok()), len);
    let detail = match reply {
        RangeReply::Partial { start, end } => format!("bytes {start}-{end}"),
        _ => String::new(),
    };
    app.audit(&Who::of(&session, &client.0), "play_recording", Outcome::Success, record.patient.id.as_deref(), &id, &detail)?;
    let mut response = match reply {
        RangeReply::Unsatisfiable => {
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            r.headers_mut().insert(header::CONTENT_RANGE, HeaderValue::from_str(&format!("bytes */{len}")).expect("ascii"));
            return Ok(r);
        }
        RangeReply::Full => (StatusCode::OK, Body::from(wav)).into_response(),
        RangeReply::Partial { start, end } => {
            let bytes = wav[start as usize..=end as usize].to_vec();
            let mut r = (StatusCode::PARTIAL_CONTENT, Body::from(bytes)).into_response();
            r.headers_mut().insert(header::CONTENT_RANGE, HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")).expect("ascii"));
            r
        }
    };
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    response.headers_mut().insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    Ok(response)
}
