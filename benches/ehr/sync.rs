//! EHR sync benchmark (not run in CI; see benches/ehr/README.md):
//!   1. latency from call end (the store's `finish_call`) to the Task being visible by FHIR search,
//!      with the sync worker running on the shipped defaults and the FHIR server up: p50/p95;
//!   2. throughput draining a backlog of queued results after an outage (results/s).
//!
//! Starts its own sekmet-fhir on a free port in a temp dir.
//!
//!   cargo bench --bench ehr_sync [-- LATENCY_CALLS BACKLOG]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chartline::config::Config;
use chartline::ehr;
use chartline::store::Store;
use chartline::store::record::{CallRecord, InputMethod, MatchStatus, PatientMatch, RequestChoice};

const CALL_ID_SYSTEM: &str = "https://chartline.dev/fhir/sid/call-id";

#[allow(clippy::zombie_processes)] // a start that times out panics and ends the benchmark
fn sekmet(dir: &Path, port: u16) -> Child {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = root.join(".venv/bin/sekmet");
    let child = Command::new(if bin.exists() { bin } else { "sekmet".into() })
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sekmet (scripts/setup --test)");
    let deadline = Instant::now() + Duration::from_secs(90);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return child;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("sekmet did not start");
}

fn call(patient: &str, n: usize) -> CallRecord {
    CallRecord {
        call_id: format!("bench-{}", uuid::Uuid::new_v4()),
        started_at: chrono::Utc::now(),
        from: format!("sip:+1555{n:07}@pbx"),
        patient: PatientMatch { id: Some(patient.into()), birth_date: None, matched_by: Some(InputMethod::Dtmf), status: MatchStatus::Identified },
        request: Some(RequestChoice { kind: "refill".into(), code: "A".into(), chosen_by: InputMethod::Dtmf }),
        transcript: Some("I need a refill of my lisinopril please".into()),
        ..Default::default()
    }
}

fn finish(store: &Store, mut record: CallRecord) -> String {
    store.begin_call(&record).unwrap();
    record.ended_at = Some(chrono::Utc::now());
    store.finish_call(&record).unwrap();
    record.call_id
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let latency_calls = args.first().copied().unwrap_or(50);
    let backlog = args.get(1).copied().unwrap_or(1000);
    let fhir_dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = sekmet(fhir_dir.path(), port);
    let base = format!("http://127.0.0.1:{port}/fhir");
    let http = reqwest::Client::new();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/practice");
    let mut files: Vec<_> = std::fs::read_dir(&demo).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for file in files.iter().take(2) {
        let r = http.post(&base).header("Content-Type", "application/fhir+json").body(std::fs::read(file).unwrap()).send().await.unwrap();
        assert!(r.status().is_success());
    }
    let bundle: serde_json::Value = http.get(format!("{base}/Patient?_count=1")).send().await.unwrap().json().await.unwrap();
    let patient = bundle["entry"][0]["resource"]["id"].as_str().unwrap().to_string();

    // The shipped defaults ([ehr.retry] in config/chartline.toml), pointed at this server.
    let data = tempfile::tempdir().unwrap();
    let mut config = Config::embedded().unwrap();
    config.data_dir = data.path().to_path_buf();
    config.ehr.adapter = ehr::config::AdapterKind::Fhir;
    config.ehr.fhir.base_url = base.clone();
    let store = Store::open(&config.store_path()).unwrap();
    let adapter = config.open_ehr().unwrap();

    // 1. Latency, one call at a time, worker running.
    let worker = ehr::sync::spawn(store.clone(), adapter.clone(), config.ehr.retry.clone());
    let mut latencies = Vec::new();
    for n in 0..latency_calls {
        let started = Instant::now();
        let id = finish(&store, call(&patient, n));
        loop {
            let found: serde_json::Value = http.get(format!("{base}/Task?identifier={CALL_ID_SYSTEM}|{id}&_summary=count")).send().await.unwrap().json().await.unwrap();
            if found["total"].as_u64() == Some(1) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    worker.abort();
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "call end -> Task visible ({} calls, poll_ms={}): p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
        latencies.len(),
        config.ehr.retry.poll_ms,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95),
        latencies.last().unwrap()
    );

    // 2. Outage: the server goes away, a backlog builds, the server comes back, the backlog drains.
    //    Once with the shipped concurrency, once with twice that.
    let shipped = config.ehr.retry.concurrency;
    for concurrency in [shipped, shipped * 2] {
        let _ = server.kill();
        let _ = server.wait();
        for n in 0..backlog {
            finish(&store, call(&patient, n));
        }
        server = sekmet(fhir_dir.path(), port);
        let mut retry = config.ehr.retry.clone();
        retry.concurrency = concurrency;
        let started = Instant::now();
        let report = ehr::sync::deliver_until_idle(store.clone(), adapter.clone(), retry, Duration::from_secs(1800)).await.unwrap();
        let secs = started.elapsed().as_secs_f64();
        println!(
            "backlog of {backlog} after an outage (concurrency {concurrency}): delivered {} in {:.1} s = {:.1} results/s (remaining {})",
            report.delivered,
            secs,
            report.delivered as f64 / secs,
            report.remaining
        );
    }
    let total: serde_json::Value = http.get(format!("{base}/Task?_summary=count")).send().await.unwrap().json().await.unwrap();
    println!("Tasks on the server: {} (expected {})", total["total"], latency_calls + 2 * backlog);
    let _ = server.kill();
    let _ = server.wait();
}
