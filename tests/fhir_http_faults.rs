//! HTTP rules of the FHIR adapter that a well-behaved test server never triggers, against a small
//! axum FHIR endpoint run by the test: 429 with Retry-After is honoured, 5xx is retried, an
//! OperationOutcome reaches the error, and a permanent rejection lands in the dead letter, is listed
//! by `chartline outbox --json` and is sent again by `chartline outbox retry`.

mod common;

use std::collections::VecDeque;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use chartline::config::Config;
use chartline::ehr;
use chartline::store::Store;
use chartline::store::record::CallRecord;
use parking_lot::Mutex;
use serde_json::{Value, json};

/// Scripted answers: each POST takes the next status (201 once the script is empty).
struct Fake {
    script: Mutex<VecDeque<(u16, Option<u64>)>>,
    posts: Mutex<Vec<(Instant, String, Option<String>)>>,
}

async fn create(State(fake): State<Arc<Fake>>, Path(kind): Path<String>, headers: HeaderMap, body: String) -> Response {
    let condition = headers.get("if-none-exist").and_then(|v| v.to_str().ok()).map(str::to_string);
    fake.posts.lock().push((Instant::now(), kind.clone(), condition));
    let next = fake.script.lock().pop_front();
    match next {
        Some((429, retry_after)) => {
            let mut r = (StatusCode::TOO_MANY_REQUESTS, "slow down").into_response();
            if let Some(s) = retry_after {
                r.headers_mut().insert("retry-after", s.to_string().parse().unwrap());
            }
            r
        }
        Some((422, _)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid", "diagnostics": "Task.owner must reference a Practitioner"}]})),
        )
            .into_response(),
        Some((status, _)) => (StatusCode::from_u16(status).unwrap(), "unavailable").into_response(),
        None => {
            let mut resource: Value = serde_json::from_str(&body).unwrap_or(json!({}));
            resource["id"] = json!(format!("{}", fake.posts.lock().len()));
            (StatusCode::CREATED, Json(resource)).into_response()
        }
    }
}

async fn start(script: Vec<(u16, Option<u64>)>) -> (Arc<Fake>, String) {
    let fake = Arc::new(Fake { script: Mutex::new(script.into()), posts: Mutex::new(Vec::new()) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/fhir", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/fhir/{kind}", post(create)).with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (fake, base)
}

fn config_text(base: &str, data: &std::path::Path) -> String {
    format!("data_dir = {data:?}\n[ehr]\nadapter = \"fhir\"\n[ehr.fhir]\nbase_url = \"{base}\"\n[ehr.retry]\nbase_delay_ms = 100\nmax_delay_s = 1\npoll_ms = 20\n")
}

fn a_call() -> CallRecord {
    CallRecord { call_id: format!("c-{}", uuid::Uuid::new_v4()), started_at: chrono::Utc::now(), ended_at: Some(chrono::Utc::now()), ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_and_server_errors_are_retried() {
    let (fake, base) = start(vec![(429, Some(1)), (503, None)]).await;
    let dir = tempfile::tempdir().unwrap();
    let ehr = Config::parse(&config_text(&base, dir.path()), "t").unwrap().open_ehr().unwrap();
    let refs = ehr.write_call(&a_call()).await.unwrap();
    assert_eq!(refs.len(), 2);
    let posts = fake.posts.lock().clone();
    // Communication: 429, then (≥1 s later, as Retry-After said) 503, then 201; Task: 201.
    assert_eq!(posts.len(), 4, "{posts:?}");
    assert!(posts[1].0 - posts[0].0 >= Duration::from_millis(950), "Retry-After not honoured: {:?}", posts[1].0 - posts[0].0);
    assert!(posts.iter().all(|(_, _, condition)| condition.as_deref().is_some_and(|c| c.starts_with("identifier="))));
    assert_eq!(posts[3].1, "Task");

    // Three 5xx in a row: the request gives up (the outbox retries later) with the status in the error.
    let (_fake, base) = start(vec![(503, None), (502, None), (500, None)]).await;
    let ehr = Config::parse(&config_text(&base, dir.path()), "t").unwrap().open_ehr().unwrap();
    let err = ehr.write_call(&a_call()).await.unwrap_err();
    assert!(err.is_transient() && err.to_string().contains("500"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_retry_after_goes_back_to_the_outbox() {
    let (_fake, base) = start(vec![(429, Some(120))]).await;
    let dir = tempfile::tempdir().unwrap();
    let ehr = Config::parse(&config_text(&base, dir.path()), "t").unwrap().open_ehr().unwrap();
    let started = Instant::now();
    let err = ehr.write_call(&a_call()).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "a 2-minute Retry-After must not block the delivery");
    assert!(err.is_transient());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejection_is_dead_lettered_listed_and_retried_on_request() {
    let (fake, base) = start(vec![(422, None)]).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config_path = dir.path().join("c.toml");
    std::fs::write(&config_path, config_text(&base, &data)).unwrap();
    let config = Config::load(&config_path).unwrap();
    let store = Store::open(&config.store_path()).unwrap();
    let mut call = a_call();
    store.begin_call(&call).unwrap();
    call.ended_at = Some(chrono::Utc::now());
    store.finish_call(&call).unwrap();

    let adapter = config.open_ehr().unwrap();
    let report = ehr::sync::deliver_until_idle(store.clone(), adapter.clone(), config.ehr.retry.clone(), Duration::from_secs(20)).await.unwrap();
    assert_eq!((report.delivered, report.dead_lettered), (0, 1), "{report:?}");

    let cli = |args: &[&str]| {
        let out = Command::new(common::BIN).args(args).arg("--config").arg(&config_path).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let rows: Value = serde_json::from_str(&cli(&["outbox", "--json"])).unwrap();
    assert_eq!(rows[0]["status"], "dead_letter");
    let error = rows[0]["last_error"].as_str().unwrap();
    assert!(error.contains("422") && error.contains("Task.owner must reference a Practitioner"), "{error}");
    assert_eq!(store.call(&call.call_id).unwrap().ehr.status, chartline::store::record::DeliveryStatus::Failed);

    // Fixed on the EHR side: send it again; the fake now accepts.
    assert!(cli(&["outbox", "retry", "--all"]).contains("1 result"));
    let report = ehr::sync::deliver_until_idle(store.clone(), adapter, config.ehr.retry.clone(), Duration::from_secs(20)).await.unwrap();
    assert_eq!(report.delivered, 1, "{report:?}");
    let record = store.call(&call.call_id).unwrap();
    assert_eq!(record.ehr.status, chartline::store::record::DeliveryStatus::Delivered);
    assert_eq!(record.ehr.refs.len(), 2);
    assert_eq!(fake.posts.lock().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_do_not_carry_patient_data() {
    // Nothing listens on this port.
    let port = common::free_port();
    let dir = tempfile::tempdir().unwrap();
    let ehr = Config::parse(&config_text(&format!("http://127.0.0.1:{port}/fhir"), dir.path()), "t").unwrap().open_ehr().unwrap();
    let query = chartline::ehr::PatientQuery { birth_date: "1961-07-23".parse().unwrap(), phone: Some("555-146-1616".into()), name: Some("Okafor".into()) };
    let err = ehr.find_patients(&query).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(err.is_transient(), "{text}");
    assert!(text.contains("/fhir/Patient") && text.contains("connection"), "{text}");
    for secret in ["1961-07-23", "1961", "555", "Okafor"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}
