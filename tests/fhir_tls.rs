//! The FHIR client verifies the server's certificate. A real FHIR server (sekmet) sits behind a
//! TLS front end whose certificate comes from a private CA made here: without `ca_file` the
//! delivery fails with an error that says the certificate is not trusted and the result stays
//! queued; with the CA in `ehr.fhir.ca_file` the same queued result is delivered; a certificate
//! from that CA for another host name is still refused.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use chartline::store::Store;
use chartline::store::record::{CallRecord, InputMethod, MatchStatus, PatientMatch, RequestChoice};
use common::{FhirServer, Pki};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

const CALL_ID_SYSTEM: &str = "https://chartline.dev/fhir/sid/call-id";

/// A TLS front end on a free port forwarding to the plain-HTTP FHIR server.
async fn tls_front(cert: (CertificateDer<'static>, PrivateKeyDer<'static>), upstream: u16) -> u16 {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider).with_safe_default_protocol_versions().unwrap().with_no_client_auth().with_single_cert(vec![cert.0], cert.1).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else { return };
                if let Ok(mut plain) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                }
            });
        }
    });
    port
}

fn config(dir: &Path, data: &Path, base: &str, ca_file: Option<&Path>) -> PathBuf {
    let path = dir.join(format!("chartline-{}.toml", ca_file.is_some()));
    let ca = ca_file.map(|p| format!("ca_file = {p:?}\n")).unwrap_or_default();
    std::fs::write(
        &path,
        format!(
            "data_dir = {data:?}\n[ehr]\nadapter = \"fhir\"\n[ehr.fhir]\nbase_url = \"{base}\"\ntimeout_ms = 3000\n{ca}\
             [ehr.retry]\nbase_delay_ms = 200\nmax_delay_s = 1\njitter = 0.2\npoll_ms = 50\nlease_s = 2\nconcurrency = 1\n"
        ),
    )
    .unwrap();
    path
}

fn queue_call(data: &Path, patient: &str) -> String {
    let store = Store::open(&data.join("chartline.db")).unwrap();
    let mut record = CallRecord {
        call_id: format!("tls-{}", uuid::Uuid::new_v4()),
        started_at: chrono::Utc::now(),
        from: "sip:+15550001111@pbx".into(),
        patient: PatientMatch { id: Some(patient.into()), birth_date: None, matched_by: Some(InputMethod::Dtmf), status: MatchStatus::Identified },
        request: Some(RequestChoice { kind: "results".into(), code: "D".into(), chosen_by: InputMethod::Dtmf }),
        transcript: Some("calling about my lab results".into()),
        ..Default::default()
    };
    store.begin_call(&record).unwrap();
    record.ended_at = Some(chrono::Utc::now());
    store.finish_call(&record).unwrap();
    record.call_id
}

fn outbox_row(data: &Path) -> serde_json::Value {
    let store = Store::open(&data.join("chartline.db")).unwrap();
    store.with(|c| chartline::store::outbox::list(c)).unwrap().remove(0)
}

async fn deliver(config: PathBuf, timeout_s: u64) -> serde_json::Value {
    let out = tokio::task::spawn_blocking(move || {
        Command::new(common::BIN).args(["outbox", "deliver", "--timeout-s", &timeout_s.to_string(), "--config"]).arg(&config).env("RUST_LOG", "warn").output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "outbox deliver failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_certificate_keeps_the_result_queued_until_the_ca_is_configured() {
    let server = FhirServer::start_fhir_server();
    server.load_demo(1).await;
    let patient = server.search("Patient?_count=1").await[0]["id"].as_str().unwrap().to_string();
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("clinic-ca.pem");
    std::fs::write(&ca_file, pki.ca.pem()).unwrap();
    let front = tls_front(pki.leaf("127.0.0.1"), server.port).await;
    let base = format!("https://127.0.0.1:{front}/fhir");

    // System roots only: the private CA is not trusted.
    let data = dir.path().join("data");
    let call_id = queue_call(&data, &patient);
    let report = deliver(config(dir.path(), &data, &base, None), 4).await;
    assert_eq!((report["delivered"].as_u64(), report["remaining"].as_u64()), (Some(0), Some(1)), "{report}");
    let row = outbox_row(&data);
    assert_eq!(row["status"], "pending", "still queued: {row}");
    let error = row["last_error"].as_str().expect("the failure is recorded");
    assert!(error.contains("certificate") && error.contains("ehr.fhir.ca_file"), "{error}");
    assert!(server.search(&format!("Task?identifier={CALL_ID_SYSTEM}|{call_id}")).await.is_empty(), "nothing reached the server");

    // The clinic's CA configured: the same queued result goes through.
    let report = deliver(config(dir.path(), &data, &base, Some(&ca_file)), 30).await;
    assert_eq!(report["remaining"].as_u64(), Some(0), "{report}");
    assert_eq!(outbox_row(&data)["status"], "delivered");
    assert_eq!(server.search(&format!("Task?identifier={CALL_ID_SYSTEM}|{call_id}")).await.len(), 1);
    assert_eq!(server.search(&format!("Communication?identifier={CALL_ID_SYSTEM}|{call_id}")).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_ca_does_not_excuse_the_wrong_host_name() {
    let server = FhirServer::start_fhir_server();
    server.load_demo(1).await;
    let patient = server.search("Patient?_count=1").await[0]["id"].as_str().unwrap().to_string();
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("clinic-ca.pem");
    std::fs::write(&ca_file, pki.ca.pem()).unwrap();
    let front = tls_front(pki.leaf("ehr.other-clinic.example"), server.port).await;
    let data = dir.path().join("data");
    queue_call(&data, &patient);
    let report = deliver(config(dir.path(), &data, &format!("https://127.0.0.1:{front}/fhir"), Some(&ca_file)), 4).await;
    assert_eq!(report["remaining"].as_u64(), Some(1), "{report}");
    let row = outbox_row(&data);
    assert_eq!(row["status"], "pending");
    let error = row["last_error"].as_str().unwrap();
    assert!(error.contains("certificate") && error.to_lowercase().contains("name"), "{error}");
}

#[test]
fn an_unreadable_ca_file_stops_the_start_with_the_key_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = config(dir.path(), &data, "https://127.0.0.1:9/fhir", Some(&dir.path().join("missing-ca.pem")));
    let out = Command::new(common::BIN).args(["outbox", "deliver", "--timeout-s", "1", "--config"]).arg(&path).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ehr.fhir.ca_file") && stderr.contains("missing-ca.pem"), "{stderr}");
}
