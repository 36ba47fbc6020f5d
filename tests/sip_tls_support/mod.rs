//! Peers for the SIP-over-TLS and SRTP tests: a minimal SIP client over a real TLS connection
//! (rustls, verifying Chartline's certificate); baresip is in `baresip_support`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chartline::sip::transport::Framer;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

/// A SIP client on one TLS connection that trusts only `ca_pem`.
pub struct TlsSipClient {
    stream: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    framer: Framer,
    pub local: std::net::SocketAddr,
}

impl TlsSipClient {
    pub fn connect(port: u16, ca_pem: &Path) -> Result<TlsSipClient, std::io::Error> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca_pem).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions().unwrap().with_root_certificates(roots).with_no_client_auth();
        let connection = rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("127.0.0.1").unwrap()).unwrap();
        let tcp = TcpStream::connect(("127.0.0.1", port))?;
        // Generous while handshaking (a loaded machine), short afterwards for polling reads.
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        let local = tcp.local_addr()?;
        let mut stream = rustls::StreamOwned::new(connection, tcp);
        // Complete the handshake now so a certificate problem shows here.
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock)?;
        }
        stream.sock.set_read_timeout(Some(Duration::from_millis(200)))?;
        Ok(TlsSipClient { stream, framer: Framer::default(), local })
    }

    pub fn send(&mut self, message: &str) {
        self.stream.write_all(message.as_bytes()).unwrap();
        self.stream.flush().unwrap();
    }

    /// The next whole SIP message, or `None` after `timeout`.
    pub fn receive(&mut self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(message) = self.framer.next_message().expect("framing") {
                return Some(String::from_utf8(message).unwrap());
            }
            if Instant::now() > deadline {
                return None;
            }
            let mut buf = [0u8; 4096];
            match self.stream.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.framer.push(&buf[..n]),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(e) => panic!("TLS read: {e}"),
            }
        }
    }

    /// Reads until a message whose first line starts with `start` (skipping e.g. 100 Trying).
    pub fn receive_until(&mut self, start: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        while let Some(message) = self.receive(deadline.saturating_duration_since(Instant::now())) {
            if message.starts_with(start) {
                return message;
            }
        }
        panic!("no message starting {start:?} within {timeout:?}");
    }
}

/// The value of the first header `name` in a SIP message.
pub fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message.split("\r\n\r\n").next()?.lines().filter_map(|l| l.split_once(':')).find(|(n, _)| n.trim().eq_ignore_ascii_case(name)).map(|(_, v)| v.trim())
}

/// The body of a SIP message.
pub fn body(message: &str) -> &str {
    message.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("")
}
