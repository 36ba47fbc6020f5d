//! Encryption at rest through the command line: key rotation (master only, and with
//! re-encryption of the store, the chart and the recordings), the master key from the
//! environment, a wrong key refused with a clear message, and a plaintext store from before
//! encryption taken over without losing a row.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chartline::store::keys::Purpose;
use chartline::store::recording::{SealedWriter, read_pcm};
use chartline::store::{CallRecord, Keys, Store};
use common::*;

struct Site {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("chartline.toml");
        std::fs::write(&config, format!("data_dir = {:?}\n", dir.path().join("data"))).unwrap();
        Site { dir, config }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, args: &[&str], env: Option<&str>) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.args(args).arg("--config").arg(&self.config).current_dir(repo_root()).env_remove("CHARTLINE_MASTER_KEY");
        if let Some(key) = env {
            cmd.env("CHARTLINE_MASTER_KEY", key);
        }
        cmd.output().unwrap()
    }

    fn ok(&self, args: &[&str], env: Option<&str>) -> String {
        let out = self.run(args, env);
        assert!(out.status.success(), "chartline {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// A finished call with a sealed two-second recording.
    fn seed_call(&self) -> Vec<i16> {
        let store = Store::open(&self.data().join("chartline.db")).unwrap();
        let record = CallRecord {
            call_id: "call-1".into(),
            recording: Some("recordings/call-1.clrec".into()),
            patient: chartline::store::record::PatientMatch { birth_date: chrono::NaiveDate::from_ymd_opt(1951, 7, 14), ..Default::default() },
            ended_at: Some(chrono::Utc::now()),
            ..Default::default()
        };
        store.begin_call(&record).unwrap();
        store.finish_call(&record).unwrap();
        let audio: Vec<i16> = (0..16_000).map(|i| ((i as f32 * 0.05).sin() * 9000.0) as i16).collect();
        let mut w = SealedWriter::create(&self.data().join("recordings/call-1.clrec"), store.keys().current(Purpose::Recordings), 8000, 8000).unwrap();
        w.write(&audio).unwrap();
        w.finish().unwrap();
        audio
    }

    fn exported(&self, env: Option<&str>) -> Vec<i16> {
        let out = self.dir.path().join("out.wav");
        self.ok(&["recording", "export", "call-1", out.to_str().unwrap()], env);
        hound::WavReader::open(&out).unwrap().into_samples::<i16>().map(Result::unwrap).collect()
    }
}

fn key_file(data: &Path) -> String {
    std::fs::read_to_string(data.join("keys/master.key")).unwrap().trim().to_string()
}

#[test]
fn rotation_rewraps_then_reencrypts_and_everything_still_reads() {
    let site = Site::new();
    let audio = site.seed_call();
    site.ok(&["chart", "patients", "--json"], None); // loads the demo practice into chart.db
    let keys_before = Keys::for_data_dir(&site.data()).unwrap();
    let master_before = key_file(&site.data());

    let report: serde_json::Value = serde_json::from_str(&site.ok(&["key", "rotate"], None)).unwrap();
    assert_ne!(report["old_master_id"], report["new_master_id"]);
    assert_ne!(key_file(&site.data()), master_before, "a new master key is installed");
    let after = Keys::for_data_dir(&site.data()).unwrap();
    assert_eq!(after.current(Purpose::Store), keys_before.current(Purpose::Store), "the data keys stay");
    assert_eq!(site.exported(None), audio);

    let report: serde_json::Value = serde_json::from_str(&site.ok(&["key", "rotate", "--reencrypt"], None)).unwrap();
    assert_eq!(report["databases_rekeyed"].as_array().unwrap().len(), 2, "{report:#}");
    assert_eq!(report["recordings_resealed"], 1);
    let after = Keys::for_data_dir(&site.data()).unwrap();
    for purpose in [Purpose::Store, Purpose::Chart, Purpose::Recordings] {
        assert_ne!(after.current(purpose), keys_before.current(purpose), "{purpose:?} has a new data key");
        assert_eq!(after.all(purpose).len(), 1, "the old {purpose:?} key is gone");
    }
    let call: serde_json::Value = serde_json::from_str(&site.ok(&["calls", "show", "call-1", "--json"], None)).unwrap();
    assert_eq!(call["patient"]["birth_date"], "1951-07-14");
    assert!(site.ok(&["chart", "patients", "--json"], None).len() > 100, "the chart still reads");
    assert_eq!(site.exported(None), audio);
    assert_eq!(read_pcm(&site.data().join("recordings/call-1.clrec"), &after).unwrap().key_id.as_deref(), Some(after.current(Purpose::Recordings).id.as_str()));
}

#[test]
fn master_key_from_the_environment_and_a_wrong_key_is_named() {
    let site = Site::new();
    let audio = site.seed_call();
    let master = key_file(&site.data());
    std::fs::remove_file(site.data().join("keys/master.key")).unwrap();

    let out = site.run(&["calls", "list", "--json"], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("master.key") && err.contains("refusing"), "no key: a clear refusal, no new key: {err}");
    assert!(!site.data().join("keys/master.key").exists());

    let out = site.run(&["calls", "list", "--json"], Some(&"ab".repeat(32)));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not open the keyring"), "{err}");

    assert_eq!(site.exported(Some(&master)), audio);
    let out = site.run(&["key", "rotate"], Some(&master));
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--new-key-file"));
    let new_file = site.dir.path().join("next.key");
    site.ok(&["key", "rotate", "--new-key-file", new_file.to_str().unwrap()], Some(&master));
    let next = std::fs::read_to_string(&new_file).unwrap().trim().to_string();
    assert_ne!(next, master);
    assert!(!site.run(&["calls", "list"], Some(&master)).status.success(), "the old key no longer opens the keyring");
    assert_eq!(site.exported(Some(&next)), audio);
}

#[test]
fn a_plaintext_store_from_before_encryption_is_encrypted_with_its_rows() {
    let site = Site::new();
    std::fs::create_dir_all(site.data()).unwrap();
    let db = site.data().join("chartline.db");
    {
        let plain = rusqlite::Connection::open(&db).unwrap();
        plain.execute_batch("CREATE TABLE calls (call_id TEXT PRIMARY KEY, reference TEXT UNIQUE, started_at TEXT NOT NULL, ended_at TEXT, record TEXT NOT NULL);").unwrap();
        let record = CallRecord { call_id: "old-1".into(), ended_at: Some(chrono::Utc::now()), ..Default::default() };
        plain.execute("INSERT INTO calls VALUES ('old-1', '100001', ?1, ?1, ?2)", rusqlite::params![record.started_at.to_rfc3339(), serde_json::to_string(&record).unwrap()]).unwrap();
    }
    assert!(std::fs::read(&db).unwrap().starts_with(b"SQLite format 3"));
    let calls: serde_json::Value = serde_json::from_str(&site.ok(&["calls", "list", "--json"], None)).unwrap();
    assert_eq!(calls[0]["call_id"], "old-1");
    assert!(!std::fs::read(&db).unwrap().starts_with(b"SQLite format 3"), "now encrypted");
    let calls: serde_json::Value = serde_json::from_str(&site.ok(&["calls", "list", "--json"], None)).unwrap();
    assert_eq!(calls.as_array().unwrap().len(), 1);
}
