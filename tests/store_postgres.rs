//! The shared store on a real PostgreSQL server (started by scripts/postgres in a temp dir on a
//! free port, TLS required, stopped on drop): call records and the outbox round-trip through it
//! sealed, a plain connection is refused, and several `chartline outbox deliver` processes on one
//! database and one FHIR server (sekmet) deliver every result exactly once, including the rows
//! of a node killed with SIGKILL mid-delivery (its lease runs out, another node delivers them).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chartline::config::Config;
use chartline::store::Keys;
use chartline::store::config::PostgresConfig;
use chartline::store::postgres::PgStore;
use chartline::store::record::{CallEvent, CallRecord, DeliveryStatus, InputMethod, MatchStatus, PatientMatch, RequestChoice};
use common::FhirServer;

const CALL_ID_SYSTEM: &str = "https://chartline.dev/fhir/sid/call-id";
/// What no sealed column may show the database.
const PHI: [&str; 3] = ["Oduya", "1951-07-14", "chest pain since this morning"];

/// A throwaway PostgreSQL cluster of scripts/postgres.
struct PgServer {
    dir: tempfile::TempDir,
}

impl PgServer {
    fn start() -> PgServer {
        let server = PgServer { dir: tempfile::tempdir().unwrap() };
        let out = server.script(&["start", "--port", &common::free_port().to_string()]);
        assert!(out.status.success(), "scripts/postgres start: {}", String::from_utf8_lossy(&out.stderr));
        server
    }

    fn script(&self, args: &[&str]) -> std::process::Output {
        Command::new(common::repo_root().join("scripts/postgres")).args(args).arg("--dir").arg(self.dir.path()).output().unwrap()
    }

    fn url(&self) -> String {
        String::from_utf8(self.script(&["url"]).stdout).unwrap().trim().to_string()
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    fn config(&self) -> PostgresConfig {
        PostgresConfig { url: self.url(), ca_file: self.ca(), pool_size: 4 }
    }

    /// One query through psql (a client that is not Chartline) with the given sslmode; the rows
    /// unaligned, or the error.
    fn psql(&self, sslmode: &str, sql: &str) -> Result<String, String> {
        let url = self.url().replace("sslmode=require", &format!("sslmode={sslmode}"));
        let out = Command::new("psql").arg(url).args(["-At", "-c", sql]).env("PGSSLROOTCERT", self.ca()).output().unwrap();
        if out.status.success() { Ok(String::from_utf8_lossy(&out.stdout).into_owned()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self.script(&["stop"]);
    }
}

fn a_call(patient: Option<&str>) -> CallRecord {
    CallRecord {
        call_id: format!("pg-{}", uuid::Uuid::new_v4()),
        started_at: chrono::Utc::now(),
        from: "sip:+15550001111@pbx".into(),
        patient: PatientMatch {
            id: patient.map(str::to_string),
            birth_date: Some("1951-07-14".parse().unwrap()),
            matched_by: Some(InputMethod::Dtmf),
            status: if patient.is_some() { MatchStatus::Identified } else { MatchStatus::NotFound },
        },
        request: Some(RequestChoice { kind: "results".into(), code: "D".into(), chosen_by: InputMethod::Dtmf }),
        transcript: Some("This is Margaret Oduya, chest pain since this morning".into()),
        ..Default::default()
    }
}

fn event(kind: &str) -> CallEvent {
    CallEvent { at: chrono::Utc::now(), kind: kind.into(), detail: Default::default() }
}

/// Decodes a `bytea` column psql printed in hex (`\x…`) and says whether it shows any of [`PHI`].
fn shows_phi(hex_column: &str) -> bool {
    let bytes = hex::decode(hex_column.trim().trim_start_matches("\\x")).unwrap();
    PHI.iter().any(|p| bytes.windows(p.len()).any(|w| w == p.as_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_and_outbox_round_trip_sealed_over_required_tls() {
    let pg = PgServer::start();
    let keys = Arc::new(Keys::ephemeral());
    let store = PgStore::open(&pg.config(), keys.clone()).await.unwrap();
    // A second handle (another node) on the same database and keyring; migrations run again.
    let other = PgStore::open(&pg.config(), keys.clone()).await.unwrap();

    let mut call = a_call(None);
    let reference = store.begin_call(&call).await.unwrap();
    assert_eq!(reference.len(), 6, "{reference}");
    assert_ne!(other.begin_call(&a_call(None)).await.unwrap(), reference, "references are unique across nodes");
    call.events.push(event("answered"));
    store.save_progress(&call).await.unwrap();
    // Another node adds an event while this one still holds the call: kept at the finish.
    other.add_call_event(&call.call_id, event("alert_placed")).await.unwrap();
    call.ended_at = Some(chrono::Utc::now());
    call.events.push(event("ended"));
    store.finish_call(&call).await.unwrap();
    let stored = other.call(&reference).await.unwrap();
    let kinds: Vec<&str> = stored.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["answered", "alert_placed", "ended"]);
    assert_eq!(stored.transcript, call.transcript);

    // The outbox row: claimed once while the lease holds, retried with its error, delivered.
    let lease = chrono::Duration::seconds(30);
    let claimed = other.claim_due(lease, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].call_id.as_str(), claimed[0].attempts), (call.call_id.as_str(), 1));
    assert!(claimed[0].payload.contains("alert_placed"), "the EHR gets the merged timeline");
    assert!(store.claim_due(lease, 10).await.unwrap().is_empty(), "leased to the other node");
    store.release(&call.call_id).await.unwrap();
    assert_eq!(other.counts().await.unwrap(), [("delivering".to_string(), 1)], "only the lease holder gives a row back");
    other.mark_retry(&call.call_id, chrono::Utc::now(), "503 from Margaret Oduya's chart").await.unwrap();
    let rows = store.list().await.unwrap();
    assert_eq!((rows[0]["status"].as_str(), rows[0]["last_error"].as_str()), (Some("pending"), Some("503 from Margaret Oduya's chart")));
    let again = store.claim_due(lease, 10).await.unwrap();
    assert_eq!(again[0].attempts, 2);
    store.mark_delivered(&call.call_id, &["Task/7".to_string()], chrono::Utc::now()).await.unwrap();
    let delivered = other.call(&call.call_id).await.unwrap();
    assert_eq!((delivered.ehr.status, delivered.ehr.refs.clone()), (DeliveryStatus::Delivered, vec!["Task/7".to_string()]));
    assert_eq!(store.next_due().await.unwrap(), None);

    // What the database holds: ciphertext in the sealed columns, the plain ones readable.
    let id = &call.call_id;
    let row = pg.psql("verify-full", &format!("SELECT record, payload, status FROM calls JOIN outbox USING (call_id) WHERE call_id = '{id}'")).unwrap();
    let cols: Vec<&str> = row.trim().split('|').collect();
    assert_eq!(cols[2], "delivered");
    assert!(!shows_phi(cols[0]) && !shows_phi(cols[1]), "plaintext PHI in a sealed column: {row}");
    let error = pg.psql("verify-full", &format!("SELECT last_error FROM outbox WHERE call_id = '{id}'")).unwrap();
    assert!(error.trim().is_empty(), "cleared on delivery: {error}");
    // Another keyring (a node without the shared keys) cannot read the rows.
    let stranger = PgStore::open(&pg.config(), Arc::new(Keys::ephemeral())).await.unwrap();
    let err = stranger.call(id).await.unwrap_err().to_string();
    assert!(err.contains("keyring"), "{err}");

    // In transit: a plain connection is refused; Chartline refuses a server it cannot verify.
    let plain = pg.psql("disable", "SELECT 1").unwrap_err();
    assert!(plain.contains("no encryption"), "{plain}");
    let mut untrusted = pg.config();
    untrusted.ca_file = PathBuf::new();
    let err = PgStore::open(&untrusted, keys).await.err().expect("a server signed by an unknown CA is refused").to_string();
    assert!(err.to_lowercase().contains("certificate"), "{err}");
}

/// Writes a node's config: the shared data dir (one keyring) and database, its EHR at `ehr_base`.
fn node_config(dir: &Path, name: &str, pg: &PgServer, ehr_base: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    let data = dir.join("data");
    std::fs::write(
        &path,
        format!(
            "data_dir = {data:?}\n[ehr]\nadapter = \"fhir\"\n[ehr.fhir]\nbase_url = \"{ehr_base}\"\ntimeout_ms = 30000\n\
             [ehr.retry]\nbase_delay_ms = 200\nmax_delay_s = 1\npoll_ms = 50\nlease_s = 3\nconcurrency = 3\n\
             [store]\nbackend = \"postgres\"\n[store.postgres]\nurl = \"{}\"\nca_file = {:?}\n",
            pg.url(),
            pg.ca()
        ),
    )
    .unwrap();
    path
}

fn deliver(config: &Path) -> std::process::Child {
    Command::new(common::BIN).args(["outbox", "deliver", "--timeout-s", "90", "--config"]).arg(config).env("RUST_LOG", "warn").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_deliver_each_result_once_and_take_over_a_killed_nodes_leases() {
    const CALLS: usize = 24;
    let pg = PgServer::start();
    let fhir = FhirServer::start_fhir_server();
    fhir.load_demo(1).await;
    let patient = fhir.search("Patient?_count=1").await[0]["id"].as_str().unwrap().to_string();
    // An EHR that accepts connections and never answers: the doomed node hangs mid-delivery.
    let stall = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stall_base = format!("http://{}/fhir", stall.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in stall.incoming() {
            held.push(stream);
        }
    });

    let dir = tempfile::tempdir().unwrap();
    let doomed = node_config(dir.path(), "doomed", &pg, &stall_base);
    let nodes = [node_config(dir.path(), "node1", &pg, &fhir.base()), node_config(dir.path(), "node2", &pg, &fhir.base())];
    let store = Config::load(&nodes[0]).unwrap().open_shared_store().await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..CALLS {
        let mut call = a_call(Some(&patient));
        store.begin_call(&call).await.unwrap();
        call.ended_at = Some(chrono::Utc::now());
        store.finish_call(&call).await.unwrap();
        ids.push(call.call_id);
    }

    // The doomed node claims its share and is killed while those deliveries hang.
    let mut victim = deliver(&doomed);
    let deadline = Instant::now() + Duration::from_secs(30);
    let taken: Vec<String> = loop {
        let rows = store.list().await.unwrap();
        let delivering: Vec<String> = rows.iter().filter(|r| r["status"] == "delivering").map(|r| r["call_id"].as_str().unwrap().to_string()).collect();
        if delivering.len() == 3 {
            break delivering;
        }
        assert!(Instant::now() < deadline, "the doomed node claimed nothing: {rows:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    victim.kill().unwrap();
    victim.wait().unwrap();

    // Two nodes race over the rest, and over the dead node's rows once its lease runs out.
    let started = Instant::now();
    let racers: Vec<_> = nodes.iter().map(|n| deliver(n)).collect();
    let mut delivered = Vec::new();
    for racer in racers {
        let out = racer.wait_with_output().unwrap();
        assert!(out.status.success(), "outbox deliver: {}", String::from_utf8_lossy(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["remaining"], 0, "{report}");
        delivered.push(report["delivered"].as_u64().unwrap() as usize);
    }
    eprintln!("node1 delivered {}, node2 {}, in {:?}", delivered[0], delivered[1], started.elapsed());
    assert_eq!(delivered.iter().sum::<usize>(), CALLS, "each row delivered by exactly one node: {delivered:?}");

    let rows = store.list().await.unwrap();
    for row in &rows {
        let id = row["call_id"].as_str().unwrap();
        assert_eq!(row["status"], "delivered", "{row}");
        // Never claimed twice while a lease held: one attempt, two for the dead node's rows.
        let expected = if taken.iter().any(|t| t == id) { 2 } else { 1 };
        assert_eq!(row["attempts"], expected, "{row}");
    }
    for id in &ids {
        let comms = fhir.search(&format!("Communication?identifier={CALL_ID_SYSTEM}|{id}")).await;
        assert_eq!(comms.len(), 1, "call {id}: {} Communications", comms.len());
        let tasks = fhir.search(&format!("Task?identifier={CALL_ID_SYSTEM}|{id}")).await;
        assert_eq!(tasks.len(), 1, "call {id}: {} Tasks", tasks.len());
        let record = store.call(id).await.unwrap();
        assert_eq!(record.ehr.status, DeliveryStatus::Delivered, "call {id}");
        assert!(record.ehr.refs.contains(&format!("Task/{}", tasks[0]["id"].as_str().unwrap())), "{:?}", record.ehr.refs);
    }
    let total = fhir.get_json("Task?_summary=count").await;
    assert_eq!(total["total"], CALLS);
}
