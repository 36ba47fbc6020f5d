//! Exactly-once delivery of call results through the outbox, with a real FHIR server that goes
//! away and a delivering process that is killed with SIGKILL mid-delivery. `chartline outbox
//! deliver` runs as a subprocess on the same store.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chartline::store::Store;
use chartline::store::record::{CallRecord, DeliveryStatus, InputMethod, MatchStatus, PatientMatch, RequestChoice};
use common::FhirServer;

const CALL_ID_SYSTEM: &str = "https://chartline.dev/fhir/sid/call-id";

struct Setup {
    _dir: tempfile::TempDir,
    config: PathBuf,
    data: PathBuf,
}

fn setup(server: &FhirServer, concurrency: usize) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("chartline.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {data:?}\n[ehr]\nadapter = \"fhir\"\n[ehr.fhir]\nbase_url = \"{}\"\ntimeout_ms = 3000\n\
             [ehr.retry]\nbase_delay_ms = 200\nmax_delay_s = 1\njitter = 0.2\npoll_ms = 50\nlease_s = 2\nconcurrency = {concurrency}\n",
            server.base()
        ),
    )
    .unwrap();
    Setup { _dir: dir, config, data }
}

/// Queues `n` finished calls for an identified demo patient, as a call would.
fn queue_calls(data: &Path, patient: &str, n: usize) -> Vec<String> {
    let store = Store::open(&data.join("chartline.db")).unwrap();
    (0..n)
        .map(|i| {
            let mut record = CallRecord {
                call_id: format!("fault-{}", uuid::Uuid::new_v4()),
                started_at: chrono::Utc::now(),
                from: format!("sip:+1555000{:04}@pbx", i),
                patient: PatientMatch { id: Some(patient.into()), birth_date: None, matched_by: Some(InputMethod::Dtmf), status: MatchStatus::Identified },
                request: Some(RequestChoice { kind: "results".into(), code: "D".into(), chosen_by: InputMethod::Dtmf }),
                transcript: Some(format!("message number {i}")),
                ..Default::default()
            };
            store.begin_call(&record).unwrap();
            record.ended_at = Some(chrono::Utc::now());
            store.finish_call(&record).unwrap();
            record.call_id
        })
        .collect()
}

fn outbox_rows(data: &Path) -> Vec<serde_json::Value> {
    let store = Store::open(&data.join("chartline.db")).unwrap();
    store.with(|c| chartline::store::outbox::list(c)).unwrap()
}

fn count(rows: &[serde_json::Value], status: &str) -> usize {
    rows.iter().filter(|r| r["status"] == status).count()
}

fn deliver(config: &Path, timeout_s: u64) -> serde_json::Value {
    let out = Command::new(common::BIN).args(["outbox", "deliver", "--timeout-s", &timeout_s.to_string(), "--config"]).arg(config).env("RUST_LOG", "warn").output().unwrap();
    assert!(out.status.success(), "outbox deliver failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn first_patient(server: &FhirServer) -> String {
    let patients = server.search("Patient?_count=1").await;
    patients[0]["id"].as_str().unwrap().to_string()
}

/// Each call id has exactly one Task and one Communication on the server, and the call record
/// says delivered with those references.
async fn assert_exactly_once(server: &FhirServer, data: &Path, ids: &[String]) {
    let store = Store::open(&data.join("chartline.db")).unwrap();
    for id in ids {
        let tasks = server.search(&format!("Task?identifier={CALL_ID_SYSTEM}|{id}")).await;
        assert_eq!(tasks.len(), 1, "call {id}: {} Tasks", tasks.len());
        let comms = server.search(&format!("Communication?identifier={CALL_ID_SYSTEM}|{id}")).await;
        assert_eq!(comms.len(), 1, "call {id}: {} Communications", comms.len());
        let record = store.call(id).unwrap();
        assert_eq!(record.ehr.status, DeliveryStatus::Delivered, "call {id}");
        assert!(record.ehr.refs.contains(&format!("Task/{}", tasks[0]["id"].as_str().unwrap())), "{:?}", record.ehr.refs);
        assert!(record.ehr.delivered_at.is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_then_recovery_delivers_each_result_once() {
    let mut server = FhirServer::start_fhir_server();
    server.load_demo(1).await;
    let patient = first_patient(&server).await;
    let s = setup(&server, 4);
    server.stop();

    let ids = queue_calls(&s.data, &patient, 20);
    let report = deliver(&s.config, 15);
    assert_eq!(report["delivered"], 0);
    assert_eq!(report["remaining"], 20, "{report}");
    let rows = outbox_rows(&s.data);
    assert_eq!(rows.len(), 20);
    for row in &rows {
        // Tried, failed, and handed back as pending (not left claimed) when the run stopped.
        assert!(row["attempts"].as_i64().unwrap() >= 1, "{row}");
        assert_eq!(row["status"], "pending", "{row}");
        let error = row["last_error"].as_str().unwrap_or("cannot reach (attempt cut short)");
        assert!(error.contains("cannot reach"), "{row}");
    }
    assert!(rows.iter().filter(|r| r["last_error"].is_string()).count() >= 15, "{rows:?}");

    server.restart();
    let report = deliver(&s.config, 120);
    assert_eq!(report["remaining"], 0, "{report}");
    let rows = outbox_rows(&s.data);
    assert_eq!(count(&rows, "delivered"), 20, "{rows:?}");
    assert_exactly_once(&server, &s.data, &ids).await;
    // A second run finds nothing to do and writes nothing.
    let report = deliver(&s.config, 10);
    assert_eq!(report["delivered"], 0);
    let total = server.get_json("Task?_summary=count").await;
    assert_eq!(total["total"], 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_delivery_loses_nothing_and_duplicates_nothing() {
    let server = FhirServer::start_fhir_server();
    server.load_demo(1).await;
    let patient = first_patient(&server).await;
    let s = setup(&server, 1);
    let ids = queue_calls(&s.data, &patient, 20);

    let mut left_delivering = 0;
    let mut kills = 0;
    for stop_at in [3, 8, 13] {
        let mut child =
            Command::new(common::BIN).args(["outbox", "deliver", "--timeout-s", "120", "--config"]).arg(&s.config).env("RUST_LOG", "warn").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let delivered = count(&outbox_rows(&s.data), "delivered");
            if delivered >= stop_at || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        let rows = outbox_rows(&s.data);
        assert!(count(&rows, "delivered") < 20, "the delivering process finished before it was killed");
        left_delivering += count(&rows, "delivering");
    }
    assert_eq!(kills, 3);
    assert!(left_delivering >= 1, "no kill landed mid-delivery (no row left claimed)");

    // A fresh process picks up the claimed rows once their lease runs out, and the rest.
    let report = deliver(&s.config, 120);
    assert_eq!(report["remaining"], 0, "{report}");
    assert_eq!(count(&outbox_rows(&s.data), "delivered"), 20);
    assert_exactly_once(&server, &s.data, &ids).await;
    assert_eq!(server.get_json("Task?_summary=count").await["total"], 20);
}
