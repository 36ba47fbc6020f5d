//! On-call alerts to a provider reached over SIP/TLS: Chartline opens the TLS connection itself and
//! verifies the peer's certificate against the system roots plus `[sip.tls] ca_file`. The provider's
//! phone is a minimal TLS UAS made here (SIPp has no TLS in this build) that answers the INVITE
//! 486 Busy Here. A phone whose certificate comes from a CA nobody configured is never sent the
//! INVITE: the attempt fails at once (503, transport error) instead of ringing out its timeout.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;

/// A closed practice whose on-call provider is reached at `phone`, one attempt, no backup.
fn practice(phone: &str, ca_file: &std::path::Path) -> String {
    format!(
        "[speech]\nmodel_path = \"models/not-imported.bin\"\n\
         [practice]\nholidays = []\n[practice.hours]\nmon = []\ntue = []\nwed = []\nthu = []\nfri = []\nsat = []\nsun = []\n\
         [routing]\non_call = [{{ provider = \"Practitioner/dr-a\", days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"] }}]\n\
         [sip.tls]\nca_file = {ca_file:?}\n\
         [oncall]\nring_timeout_s = 20\nmax_attempts = 1\nescalate_after_s = 20\nproviders = [{{ id = \"Practitioner/dr-a\", phone = \"{phone}\" }}]\n"
    )
}

/// A TLS phone on a free port serving `cert`: answers one INVITE with 486 and reads the ACK.
/// Joins to what it received (empty when the caller gave up during the handshake).
fn busy_tls_phone(cert: (rustls_pki_types::CertificateDer<'static>, rustls_pki_types::PrivateKeyDer<'static>)) -> (u16, JoinHandle<Vec<String>>) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider).with_safe_default_protocol_versions().unwrap().with_no_client_auth().with_single_cert(vec![cert.0], cert.1).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let phone = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut tls = rustls::StreamOwned::new(rustls::ServerConnection::new(Arc::new(config)).unwrap(), tcp);
        let mut received = Vec::new();
        let Some(invite) = read_message(&mut tls) else { return received };
        let header = |name: &str| invite.lines().find(|l| l.to_ascii_lowercase().starts_with(&format!("{}:", name.to_ascii_lowercase()))).unwrap_or_default().to_string();
        let busy =
            format!("SIP/2.0 486 Busy Here\r\n{}\r\n{}\r\n{};tag=busyphone\r\n{}\r\n{}\r\nContent-Length: 0\r\n\r\n", header("Via"), header("From"), header("To"), header("Call-ID"), header("CSeq"));
        tls.write_all(busy.as_bytes()).unwrap();
        tls.flush().unwrap();
        received.push(invite);
        received.extend(read_message(&mut tls));
        received
    });
    (port, phone)
}

/// One SIP message from a stream: the head, then Content-Length bytes of body.
fn read_message(stream: &mut impl Read) -> Option<String> {
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    while !bytes.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        bytes.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&bytes).to_string();
    let length: usize = head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0))).unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    Some(head + &String::from_utf8_lossy(&body))
}

fn alert_events(server: &Server, until: &str) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let calls = server.cli_json(&["calls", "list", "--json"]);
        let events = calls[0]["events"].as_array().cloned().unwrap_or_default();
        if events.iter().any(|e| e["kind"] == until) {
            return events.into_iter().filter(|e| e["kind"].as_str().is_some_and(|k| k.starts_with("alert_"))).collect();
        }
        assert!(Instant::now() < deadline, "no {until}: {calls:#}\n{}", server.log_text());
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn urgent_call(server: &Server) {
    let (ok, out) = sipp(server, "oncall_urgent_call.xml", &[]);
    assert!(ok, "urgent call failed:\n{out}\n---- chartline ----\n{}", server.log_text());
}

#[test]
fn an_alert_over_tls_verifies_the_phone_and_hears_its_answer() {
    require_tool("sipp");
    ensure_oncall_pcaps();
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("clinic-ca.pem");
    std::fs::write(&ca_file, pki.ca.pem()).unwrap();
    let (port, phone) = busy_tls_phone(pki.leaf("127.0.0.1"));
    let server = Server::start(&practice(&format!("sip:dr-a@127.0.0.1:{port};transport=tls"), &ca_file));
    urgent_call(&server);
    let received = phone.join().unwrap();
    assert_eq!(received.len(), 2, "INVITE and ACK over TLS: {received:#?}\n{}", server.log_text());
    assert!(received[0].starts_with("INVITE sip:dr-a@127.0.0.1:") && received[0].contains("Via: SIP/2.0/TLS "), "{}", received[0]);
    assert!(received[1].starts_with("ACK ") && received[1].contains("CSeq: 1 ACK"), "{}", received[1]);
    let events = alert_events(&server, "alert_failed");
    let unanswered = events.iter().find(|e| e["kind"] == "alert_unanswered").expect("the busy answer is on the timeline");
    assert_eq!(unanswered["status"], 486, "{events:#?}");
}

#[test]
fn a_phone_with_an_untrusted_certificate_is_not_called() {
    require_tool("sipp");
    ensure_oncall_pcaps();
    let (trusted, stranger) = (Pki::new(), Pki::new());
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("clinic-ca.pem");
    std::fs::write(&ca_file, trusted.ca.pem()).unwrap();
    let (port, phone) = busy_tls_phone(stranger.leaf("127.0.0.1"));
    let server = Server::start(&practice(&format!("sip:dr-a@127.0.0.1:{port};transport=tls"), &ca_file));
    let ended = Instant::now();
    urgent_call(&server);
    let events = alert_events(&server, "alert_failed");
    let unanswered = events.iter().find(|e| e["kind"] == "alert_unanswered").expect("the failed attempt is on the timeline");
    assert_eq!(unanswered["status"], 503, "a transport error, not a ring timeout: {events:#?}");
    assert!(phone.join().unwrap().is_empty(), "no SIP message crossed the untrusted connection");
    let log = server.log_text();
    assert!(log.contains("SIP connection failed") && log.to_lowercase().contains("certificate"), "the log says why: {log}");
    assert!(ended.elapsed() < Duration::from_secs(60), "failed at once, not after ringing");
}
