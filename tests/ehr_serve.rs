//! `chartline serve` on the embedded chart: an empty chart gets the demo practice, and a call
//! finished in the store reaches the chart through the sync worker, with the refs written back.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chartline::ehr::embedded::EmbeddedChart;
use chartline::store::Store;
use chartline::store::record::{CallRecord, DeliveryStatus, InputMethod, MatchStatus, PatientMatch, RequestChoice};

fn wait_for(log: &Arc<Mutex<String>>, needle: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if log.lock().unwrap().contains(needle) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no {needle:?} in the log:\n{}", log.lock().unwrap());
}

#[test]
fn serve_loads_the_demo_and_delivers_finished_calls_to_the_chart() {
    let dir = tempfile::tempdir().unwrap();
    let sounds = dir.path().join("sounds");
    std::fs::create_dir_all(&sounds).unwrap();
    let spec = hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut wav = hound::WavWriter::create(sounds.join("welcome.wav"), spec).unwrap();
    (0..800).for_each(|_| wav.write_sample(0i16).unwrap());
    wav.finalize().unwrap();
    let data = dir.path().join("data");
    let (rtp_min, rtp_max) = common::free_rtp_range(10);
    let config = dir.path().join("chartline.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {data:?}\nsounds_dir = {sounds:?}\n[sip]\nlisten = \"127.0.0.1:{}\"\n[media]\nrtp_port_min = {rtp_min}\nrtp_port_max = {rtp_max}\n\
             [metrics]\nlisten = \"\"\n[ehr]\ndemo_dir = {:?}\n[ehr.retry]\npoll_ms = 50\n",
            common::free_port(),
            common::repo_root().join("demo/practice")
        ),
    )
    .unwrap();
    let mut child = Command::new(common::BIN).args(["serve", "--config"]).arg(&config).env("RUST_LOG", "info").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let stderr = child.stderr.take().unwrap();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = Kill(child);
    wait_for(&log, "chartline ready", Duration::from_secs(60));
    assert!(log.lock().unwrap().contains("demo practice loaded"), "{}", log.lock().unwrap());

    let chart = EmbeddedChart::open(&data.join("chart.db")).unwrap();
    let patient = chart.patients().unwrap().into_iter().next().expect("demo patients in the chart");
    let store = Store::open(&data.join("chartline.db")).unwrap();
    let mut record = CallRecord {
        call_id: format!("serve-{}", uuid::Uuid::new_v4()),
        started_at: chrono::Utc::now(),
        patient: PatientMatch { id: Some(patient.id.clone()), birth_date: Some(patient.birth_date), matched_by: Some(InputMethod::Dtmf), status: MatchStatus::Identified },
        request: Some(RequestChoice { kind: "billing".into(), code: "F".into(), chosen_by: InputMethod::Dtmf }),
        ..Default::default()
    };
    store.begin_call(&record).unwrap();
    record.ended_at = Some(chrono::Utc::now());
    store.finish_call(&record).unwrap();

    let deadline = Instant::now() + Duration::from_secs(15);
    let task = loop {
        if let Some(task) = chart.task(&record.call_id).unwrap() {
            break task;
        }
        assert!(Instant::now() < deadline, "the call never reached the chart:\n{}", log.lock().unwrap());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(task["for"]["reference"], format!("Patient/{}", patient.id));
    assert_eq!(task["code"]["coding"][0]["code"], "billing");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stored = store.call(&record.call_id).unwrap();
        if stored.ehr.status == DeliveryStatus::Delivered {
            assert_eq!(stored.ehr.refs, [format!("Communication/{}", record.call_id), format!("Task/{}", record.call_id)]);
            break;
        }
        assert!(Instant::now() < deadline, "call record never marked delivered");
        std::thread::sleep(Duration::from_millis(50));
    }
    // No patient data in the info log.
    assert!(!log.lock().unwrap().contains(&patient.birth_date.to_string()));
    assert!(!log.lock().unwrap().contains(&patient.family));
}
