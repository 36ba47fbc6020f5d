//! The caller's recording for the `<audio>` player: only to someone who may see the task, with
//! byte ranges so the browser can seek and stream.

use std::io::SeekFrom;

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

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
    let mut file = tokio::fs::File::open(&path).await.map_err(|_| WebError::NotFound)?;
    let len = file.metadata().await?.len();
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
        RangeReply::Full => {
            let mut bytes = Vec::with_capacity(len as usize);
            file.read_to_end(&mut bytes).await?;
            (StatusCode::OK, Body::from(bytes)).into_response()
        }
        RangeReply::Partial { start, end } => {
            file.seek(SeekFrom::Start(start)).await?;
            let mut bytes = vec![0u8; (end - start + 1) as usize];
            file.read_exact(&mut bytes).await?;
            let mut r = (StatusCode::PARTIAL_CONTENT, Body::from(bytes)).into_response();
            r.headers_mut().insert(header::CONTENT_RANGE, HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")).expect("ascii"));
            r
        }
    };
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    response.headers_mut().insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    Ok(response)
}
