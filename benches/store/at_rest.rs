//! Cost of encryption at rest (not run in CI):
//!   1. recordings: sealing a call's audio as the recorder does (20 ms frames, one-second
//!      AES-256-GCM chunks) and reading it back, in multiples of real time;
//!   2. the store: call-record transactions through `Store` (begin + finish with its outbox row),
//!      then the same statements on a raw file keyed with SQLCipher vs plain SQLite (WAL,
//!      synchronous=NORMAL), and a full read.
//!
//!   cargo bench --bench store_at_rest [-- CALLS]

use std::time::Instant;

use chartline::store::keys::Purpose;
use chartline::store::recording::{SealedWriter, read_pcm};
use chartline::store::{CallRecord, Keys, Store};

fn recordings(dir: &std::path::Path) {
    let keys = Keys::ephemeral();
    let seconds = 600usize;
    let audio: Vec<i16> = (0..8000 * seconds).map(|i| ((i as f32 * 0.07).sin() * 9000.0) as i16).collect();
    let path = dir.join("bench.clrec");
    let started = Instant::now();
    let mut w = SealedWriter::create(&path, keys.current(Purpose::Recordings), 8000, 8000).unwrap();
    for frame in audio.chunks(160) {
        w.write(frame).unwrap();
    }
    w.finish().unwrap();
    let seal = started.elapsed();
    let started = Instant::now();
    let pcm = read_pcm(&path, &keys).unwrap();
    let open = started.elapsed();
    assert_eq!(pcm.samples.len(), audio.len());
    let size = std::fs::metadata(&path).unwrap().len();
    println!(
        "recording, {seconds} s of 8 kHz audio: seal {:.1} ms ({:.0}x real time, {:.1} us per second of audio), read {:.1} ms ({:.0}x), file {} bytes ({:.2}% over raw PCM)",
        seal.as_secs_f64() * 1e3,
        seconds as f64 / seal.as_secs_f64(),
        seal.as_secs_f64() * 1e6 / seconds as f64,
        open.as_secs_f64() * 1e3,
        seconds as f64 / open.as_secs_f64(),
        size,
        (size as f64 / (audio.len() * 2) as f64 - 1.0) * 100.0
    );
}

fn record(i: usize) -> CallRecord {
    let mut r = CallRecord {
        call_id: format!("bench-{i}"),
        from: "sip:+15551234567@pbx".into(),
        to: "sip:ivr@clinic".into(),
        transcript: Some("I need a refill of my lisinopril, I am almost out ".repeat(8)),
        ..Default::default()
    };
    r.ended_at = Some(r.started_at);
    r
}

fn store(dir: &std::path::Path, calls: usize) {
    // Encrypted: the real Store.
    let store = Store::open(&dir.join("enc/chartline.db")).unwrap();
    let started = Instant::now();
    for i in 0..calls {
        let r = record(i);
        store.begin_call(&r).unwrap();
        store.finish_call(&r).unwrap();
    }
    let write_enc = started.elapsed();
    let started = Instant::now();
    let n = store.list_calls(calls).unwrap().len();
    let read_enc = started.elapsed();
    assert_eq!(n, calls);

    // The same statements on a raw file, once keyed (SQLCipher) and once plain: the cipher's share.
    let raw = |conn: rusqlite::Connection| {
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
        conn.execute_batch(
            "CREATE TABLE calls (call_id TEXT PRIMARY KEY, reference TEXT UNIQUE, started_at TEXT NOT NULL, ended_at TEXT, record TEXT NOT NULL);
            CREATE TABLE outbox (call_id TEXT PRIMARY KEY, payload TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending');",
        )
        .unwrap();
        let mut conn = conn;
        let started = Instant::now();
        for i in 0..calls {
            let r = record(i);
            let json = serde_json::to_string(&r).unwrap();
            let tx = conn.transaction().unwrap();
            tx.execute("INSERT INTO calls (call_id, started_at, record) VALUES (?1, ?2, ?3)", rusqlite::params![r.call_id, r.started_at.to_rfc3339(), json]).unwrap();
            tx.execute("UPDATE calls SET reference = ?1 WHERE call_id = ?2", rusqlite::params![format!("{i:06}"), r.call_id]).unwrap();
            tx.commit().unwrap();
            let tx = conn.transaction().unwrap();
            tx.execute("UPDATE calls SET ended_at = ?2, record = ?3 WHERE call_id = ?1", rusqlite::params![r.call_id, r.started_at.to_rfc3339(), json]).unwrap();
            tx.execute("INSERT INTO outbox (call_id, payload) VALUES (?1, ?2)", rusqlite::params![r.call_id, json]).unwrap();
            tx.commit().unwrap();
        }
        let write = started.elapsed();
        let started = Instant::now();
        let rows: Vec<String> = conn.prepare("SELECT record FROM calls ORDER BY started_at DESC").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        let _: Vec<CallRecord> = rows.iter().map(|j| serde_json::from_str(j).unwrap()).collect();
        (write, started.elapsed())
    };
    let key = chartline::store::keys::DataKey::random();
    let (write_keyed, read_keyed) = raw(chartline::store::cipher::open(&dir.join("keyed.db"), &[&key]).unwrap());
    let (write_plain, read_plain) = raw(rusqlite::Connection::open(dir.join("plain.db")).unwrap());
    let per = |d: std::time::Duration| d.as_secs_f64() * 1e6 / calls as f64;
    println!("store, {calls} calls: Store::begin_call + finish_call {:.0} us/call, list all {:.1} ms", per(write_enc), read_enc.as_secs_f64() * 1e3);
    println!(
        "same statements raw: SQLCipher {:.0} us/call vs plain SQLite {:.0} us/call ({:+.0}%); read all {:.1} ms vs {:.1} ms",
        per(write_keyed),
        per(write_plain),
        (per(write_keyed) / per(write_plain) - 1.0) * 100.0,
        read_keyed.as_secs_f64() * 1e3,
        read_plain.as_secs_f64() * 1e3
    );
}

fn main() {
    let calls = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(2000);
    let dir = tempfile::tempdir().unwrap();
    recordings(dir.path());
    store(dir.path(), calls);
}
