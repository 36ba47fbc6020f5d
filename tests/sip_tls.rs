//! SIP over TLS against the real `chartline` binary: a rustls client that trusts only the
//! certificate Chartline generated (and logged the fingerprint of) exchanges OPTIONS and whole
//! calls on one TLS connection, and baresip, a real softphone, calls over `transport=tls`. A call
//! whose connection the PBX closed is hung up over a new TLS connection to its Contact.

mod baresip_support;
mod common;
mod sip_tls_support;

use std::path::Path;
use std::time::Duration;

use baresip_support::Baresip;
use common::*;
use sip_tls_support::*;

fn tls_server() -> (Server, u16) {
    let tls_port = free_port();
    let server = Server::start_sip_only(&format!("[sip.tls]\nenabled = true\nlisten = \"127.0.0.1:{tls_port}\"\n"));
    (server, tls_port)
}

fn invite(uri: &str, client: &TlsSipClient, call_id: &str) -> String {
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    format!(
        "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch=z9hG4bK-{call_id}\r\nMax-Forwards: 70\r\nFrom: <sip:pbx@127.0.0.1>;tag=f-{call_id}\r\nTo: <{uri}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:pbx@{local};transport=tls>\r\nContent-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{sdp}",
        local = client.local,
        len = sdp.len()
    )
}

fn in_dialog(method: &str, uri: &str, client: &TlsSipClient, call_id: &str, to_tag: &str, cseq: u32) -> String {
    format!(
        "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch=z9hG4bK-{method}-{call_id}\r\nMax-Forwards: 70\r\nFrom: <sip:pbx@127.0.0.1>;tag=f-{call_id}\r\nTo: <{uri}>;tag={to_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n",
        local = client.local
    )
}

fn to_tag(response: &str) -> String {
    header(response, "To").and_then(|v| v.split(";tag=").nth(1)).expect("To tag").to_string()
}

#[test]
fn options_and_calls_over_one_tls_connection() {
    let (server, tls_port) = tls_server();
    let cert = server.data_dir().join("sip/cert.pem");
    let pem = std::fs::read_to_string(&cert).expect("a certificate generated under <data_dir>/sip/");
    let fingerprint = chartline::crypto::tls::fingerprint(&pem, &cert).unwrap();
    server.wait_for_log("SIP listening on TLS", Duration::from_secs(5));
    assert!(server.log_text().contains(&fingerprint), "the certificate's fingerprint is logged");

    let mut client = TlsSipClient::connect(tls_port, &cert).expect("TLS handshake trusting the generated certificate");
    let options = format!(
        "OPTIONS sip:ivr@127.0.0.1:{tls_port};transport=tls SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch=z9hG4bK-opt1\r\nMax-Forwards: 70\r\nFrom: <sip:pbx@127.0.0.1>;tag=o1\r\nTo: <sip:ivr@127.0.0.1>\r\nCall-ID: opt-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        local = client.local
    );
    client.send(&options);
    let ok = client.receive_until("SIP/2.0", Duration::from_secs(5));
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    assert!(header(&ok, "Via").unwrap().starts_with("SIP/2.0/TLS"), "{ok}");

    // A call on the same connection: 200 with a TLS Contact on the TLS port, then our BYE.
    let uri = format!("sip:ivr@127.0.0.1:{tls_port};transport=tls");
    client.send(&invite(&uri, &client, "tls-call-1"));
    let answer = client.receive_until("SIP/2.0 200", Duration::from_secs(10));
    assert_eq!(header(&answer, "Contact"), Some(format!("<sip:chartline@127.0.0.1:{tls_port};transport=tls>").as_str()), "{answer}");
    assert!(body(&answer).contains("m=audio"), "{answer}");
    let tag = to_tag(&answer);
    client.send(&in_dialog("ACK", &uri, &client, "tls-call-1", &tag, 1));
    std::thread::sleep(Duration::from_millis(500));
    client.send(&in_dialog("BYE", &uri, &client, "tls-call-1", &tag, 2));
    let bye_ok = client.receive_until("SIP/2.0 200", Duration::from_secs(5));
    assert!(bye_ok.contains("CSeq: 2 BYE"), "{bye_ok}");

    // A sips: request URI gets a sips: Contact (RFC 5630).
    let sips = format!("sips:ivr@127.0.0.1:{tls_port}");
    client.send(&invite(&sips, &client, "tls-call-2"));
    let answer = client.receive_until("SIP/2.0 200", Duration::from_secs(10));
    assert_eq!(header(&answer, "Contact"), Some(format!("<sips:chartline@127.0.0.1:{tls_port}>").as_str()), "{answer}");
    let tag = to_tag(&answer);
    client.send(&in_dialog("ACK", &sips, &client, "tls-call-2", &tag, 1));
    client.send(&in_dialog("BYE", &sips, &client, "tls-call-2", &tag, 2));
    client.receive_until("SIP/2.0 200", Duration::from_secs(5));

    let calls = server.wait_for_calls(2, Duration::from_secs(10));
    assert_eq!(calls.len(), 2, "both TLS calls are recorded");
}

#[test]
fn a_call_whose_connection_closed_is_hung_up_over_a_new_connection_to_its_contact() {
    use std::io::Write;
    // The PBX's own TLS listener, with a certificate from the clinic's CA that Chartline trusts.
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("clinic-ca.pem");
    std::fs::write(&ca_file, pki.ca.pem()).unwrap();
    let (cert, key) = pki.leaf("127.0.0.1");
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider).with_safe_default_protocol_versions().unwrap().with_no_client_auth().with_single_cert(vec![cert], key).unwrap();
    let pbx = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let pbx_port = pbx.local_addr().unwrap().port();

    let tls_port = free_port();
    let server = Server::start_sip_only(&format!("[sip.tls]\nenabled = true\nlisten = \"127.0.0.1:{tls_port}\"\nca_file = {ca_file:?}\n[media]\ninactivity_timeout_s = 3\n"));
    let mut client = TlsSipClient::connect(tls_port, &server.data_dir().join("sip/cert.pem")).unwrap();
    let uri = format!("sip:ivr@127.0.0.1:{tls_port};transport=tls");
    let request = invite(&uri, &client, "tls-reconnect").replace(&format!("Contact: <sip:pbx@{};transport=tls>", client.local), &format!("Contact: <sip:pbx@127.0.0.1:{pbx_port};transport=tls>"));
    client.send(&request);
    let answer = client.receive_until("SIP/2.0 200", Duration::from_secs(10));
    let tag = to_tag(&answer);
    client.send(&in_dialog("ACK", &uri, &client, "tls-reconnect", &tag, 1));
    std::thread::sleep(Duration::from_millis(300));
    drop(client); // the PBX closes the connection the call came on

    // No RTP: Chartline hangs up after 3 s, dialling the Contact over TLS for its BYE.
    pbx.set_nonblocking(true).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let tcp = loop {
        match pbx.accept() {
            Ok((tcp, _)) => break tcp,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("Chartline never connected to the Contact for its BYE ({e})\n{}", server.log_text()),
        }
    };
    tcp.set_nonblocking(false).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut tls = rustls::StreamOwned::new(rustls::ServerConnection::new(std::sync::Arc::new(config)).unwrap(), tcp);
    let mut framer = chartline::sip::transport::Framer::default();
    let bye = loop {
        if let Some(message) = framer.next_message().unwrap() {
            break String::from_utf8(message).unwrap();
        }
        let mut buf = [0u8; 4096];
        let n = std::io::Read::read(&mut tls, &mut buf).expect("the BYE arrives on the new connection");
        assert!(n > 0, "connection closed before the BYE");
        framer.push(&buf[..n]);
    };
    assert!(bye.starts_with(&format!("BYE sip:pbx@127.0.0.1:{pbx_port};transport=tls SIP/2.0")), "{bye}");
    assert!(header(&bye, "Via").unwrap().starts_with("SIP/2.0/TLS"), "{bye}");
    assert_eq!(header(&bye, "Call-ID"), Some("tls-reconnect"));
    let ok = format!(
        "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: tls-reconnect\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
        header(&bye, "Via").unwrap(),
        header(&bye, "From").unwrap(),
        header(&bye, "To").unwrap(),
        header(&bye, "CSeq").unwrap()
    );
    tls.write_all(ok.as_bytes()).unwrap();
    tls.flush().unwrap();
    let calls = server.wait_for_calls(1, Duration::from_secs(10));
    assert_eq!(calls.len(), 1, "the call is recorded");
    wait_for_metric(&server, "chartline_live_dialogs 0", Duration::from_secs(15));
}

#[test]
fn a_client_that_does_not_trust_the_certificate_cannot_connect() {
    let (server, tls_port) = tls_server();
    server.wait_for_log("SIP listening on TLS", Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let other_pem = dir.path().join("other.pem");
    std::fs::write(&other_pem, other.cert.pem()).unwrap();
    let err = TlsSipClient::connect(tls_port, &other_pem).err().expect("the handshake fails against an unknown certificate");
    assert!(err.to_string().to_lowercase().contains("certificate"), "{err}");
    // Plain SIP on the TLS port is not SIP to us: no answer, and the server keeps serving TLS.
    use std::io::{Read, Write};
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", tls_port)).unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    plain.write_all(b"OPTIONS sip:ivr@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bK-p\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: p\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").unwrap();
    let mut buf = [0u8; 512];
    let n = plain.read(&mut buf).unwrap_or(0);
    assert!(!String::from_utf8_lossy(&buf[..n]).contains("SIP/2.0"), "no SIP answer on the TLS port to plaintext");
    let cert = server.data_dir().join("sip/cert.pem");
    assert!(TlsSipClient::connect(tls_port, &cert).is_ok());
}

fn silence_wav(dir: &Path, seconds: f64) -> std::path::PathBuf {
    let path = dir.join("silence.wav");
    let spec = hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut wav = hound::WavWriter::create(&path, spec).unwrap();
    for _ in 0..(seconds * 8000.0) as usize {
        wav.write_sample(0i16).unwrap();
    }
    wav.finalize().unwrap();
    path
}

#[test]
fn baresip_calls_over_tls() {
    require_tool("baresip");
    let (server, tls_port) = tls_server();
    let cert = server.data_dir().join("sip/cert.pem");
    let mic = silence_wav(server.dir.path(), 30.0);
    let mut phone = Baresip::start(&mic, Some(&cert), "");
    phone.command("dial", &format!("sip:ivr@127.0.0.1:{tls_port};transport=tls"));
    phone.wait_event("CALL_ESTABLISHED", Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(1));
    phone.command("hangup", "");
    phone.wait_event("CALL_CLOSED", Duration::from_secs(10));
    let calls = server.wait_for_calls(1, Duration::from_secs(10));
    assert_eq!(calls.len(), 1, "the TLS call is recorded");
}
