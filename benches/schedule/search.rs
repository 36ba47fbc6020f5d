//! Scheduling benchmark (not run in CI): what a caller waits for while the dialog looks for slots.
//!   1. demo practice load with generated schedules (all practitioners, `horizon_days` = 60);
//!   2. embedded chart: free-slot search p50/p95 for the queries a dialog makes, and booking;
//!   3. FHIR (sekmet-fhir started on a free port): free-slot search and booking p50/p95.
//!
//!   cargo bench --bench schedule_search

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chartline::config::Config;
use chartline::ehr::Ehr;
use chartline::ehr::embedded::EmbeddedChart;
use chartline::schedule::{BookingRequest, SlotQuery, SpokenChoice, TimeConstraint, VisitType, parse_choice};
use chrono::Utc;

const TZ: chrono_tz::Tz = chrono_tz::America::Chicago;

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn report(name: &str, samples: &mut [Duration]) {
    println!("{name:<48} n={:<4} p50 {:>8.2} ms  p95 {:>8.2} ms", samples.len(), percentile(samples, 0.5).as_secs_f64() * 1e3, percentile(samples, 0.95).as_secs_f64() * 1e3);
}

fn query(practitioner: Option<&str>, spoken: &str, minutes: u32) -> SlotQuery {
    let today = Utc::now().with_timezone(&TZ).date_naive();
    let constraint = match parse_choice(spoken, today) {
        Some(SpokenChoice::Constraint(c)) => c,
        _ => TimeConstraint::default(),
    };
    let from = Utc::now() + chrono::Duration::hours(1);
    SlotQuery { practitioner_id: practitioner.map(str::to_string), location_id: None, from, until: from + chrono::Duration::days(60), minutes, constraint, exclude: vec![], limit: 3 }
}

const SPOKEN: [&str; 5] = ["", "Tuesday morning", "anything after three next week", "the 14th", "Friday afternoon in two weeks"];

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

#[tokio::main]
async fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let chart = EmbeddedChart::open(&dir.path().join("chart.db")).unwrap().with_scheduling(TZ, 60);
    let t = Instant::now();
    chart.ensure_demo_loaded(&root.join("demo/practice")).unwrap();
    println!("demo practice load incl. schedules: {:.2} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let generated = chart.generate_schedules(7, Utc::now()).unwrap();
    println!("schedule generation alone: {:.2} s ({} practitioners, {} slots, {} free)", t.elapsed().as_secs_f64(), generated.practitioners, generated.slots, generated.free);

    let any = chart.free_slots(&query(None, "", 15)).await.unwrap();
    let practitioners: Vec<String> = {
        let mut p: Vec<String> = chart.free_slots(&SlotQuery { limit: 2000, ..query(None, "", 15) }).await.unwrap().into_iter().map(|s| s.practitioner_id).collect();
        p.sort();
        p.dedup();
        p
    };
    assert!(!any.is_empty() && practitioners.len() > 5);
    for (label, who) in [("embedded free_slots, one practitioner", true), ("embedded free_slots, anyone", false)] {
        let mut samples = Vec::new();
        let mut answered = 0;
        for i in 0..100 {
            let q = query(who.then(|| practitioners[i % practitioners.len()].as_str()), SPOKEN[i % SPOKEN.len()], [15, 20, 30][i % 3]);
            let t = Instant::now();
            let offers = chart.free_slots(&q).await.unwrap();
            samples.push(t.elapsed());
            answered += usize::from(!offers.is_empty());
        }
        report(label, &mut samples);
        println!("  ({answered} of 100 queries found offers)");
    }
    let patient = chart.patients().unwrap()[0].id.clone();
    let mut samples = Vec::new();
    for i in 0..50 {
        let offer = chart.free_slots(&query(Some(&practitioners[i % practitioners.len()]), "", 15)).await.unwrap().remove(0);
        let request = BookingRequest { patient_id: patient.clone(), slot_id: offer.id, visit: VisitType::FollowUp, replaces: None, call_id: format!("bench-{i}") };
        let t = Instant::now();
        chart.book(&request).await.unwrap();
        samples.push(t.elapsed());
    }
    report("embedded book", &mut samples);

    // FHIR: the practice, one patient and 14 days of five practitioners' schedules.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let fhir_dir = tempfile::tempdir().unwrap();
    let mut server = sekmet(fhir_dir.path(), port);
    let base = format!("http://127.0.0.1:{port}/fhir");
    let http = reqwest::Client::new();
    let mut files: Vec<_> = std::fs::read_dir(root.join("demo/practice")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for f in &files[..2] {
        let r = http.post(&base).header("Content-Type", "application/fhir+json").body(std::fs::read(f).unwrap()).send().await.unwrap();
        assert!(r.status().is_success());
    }
    let chosen: Vec<String> = practitioners.iter().take(5).cloned().collect();
    let bundle = chart.schedule_bundle(Utc::now(), Utc::now() + chrono::Duration::days(14), &chosen).unwrap();
    let t = Instant::now();
    let r = http.post(&base).header("Content-Type", "application/fhir+json").body(bundle.to_string()).send().await.unwrap();
    assert!(r.status().is_success());
    println!("FHIR load of {} Schedule/Slot entries: {:.2} s", bundle["entry"].as_array().unwrap().len(), t.elapsed().as_secs_f64());
    let fhir = Config::parse(&format!("[ehr]\nadapter = \"fhir\"\n[ehr.fhir]\nbase_url = \"{base}\"\n"), "bench").unwrap().open_ehr().unwrap();
    let fhir_patient =
        chartline::ehr::embedded::import::resources_of(serde_json::from_slice(&std::fs::read(&files[1]).unwrap()).unwrap()).into_iter().find(|r| r["resourceType"] == "Patient").unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
    let mut samples = Vec::new();
    for i in 0..30 {
        let mut q = query(Some(&chosen[i % chosen.len()]), SPOKEN[i % 2], [15, 30][i % 2]);
        q.until = Utc::now() + chrono::Duration::days(14);
        let t = Instant::now();
        std::hint::black_box(fhir.free_slots(&q).await.unwrap());
        samples.push(t.elapsed());
    }
    report("FHIR free_slots, one practitioner (14 days)", &mut samples);
    let mut samples = Vec::new();
    for i in 0..20 {
        let mut q = query(Some(&chosen[i % chosen.len()]), "", 15);
        q.until = Utc::now() + chrono::Duration::days(14);
        let offer = fhir.free_slots(&q).await.unwrap().remove(0);
        let request = BookingRequest { patient_id: fhir_patient.clone(), slot_id: offer.id, visit: VisitType::FollowUp, replaces: None, call_id: format!("bench-{i}") };
        let t = Instant::now();
        fhir.book(&request).await.unwrap();
        samples.push(t.elapsed());
    }
    report("FHIR book (read slots + transaction)", &mut samples);
    let _ = server.kill();
    let _ = server.wait();
}
