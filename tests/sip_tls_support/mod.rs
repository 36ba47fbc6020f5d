//! Peers for the SIP-over-TLS and SRTP tests: a minimal SIP client over a real TLS connection
//! (rustls, verifying Chartline's certificate), and baresip configured for TLS and SDES-SRTP.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chartline::sip::transport::Framer;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

use crate::common::free_port;

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

/// baresip dialling over TLS (trusting `ca_pem`), with `mediaenc` (e.g. `srtp-mand`) when given.
pub struct Baresip {
    child: Child,
    ctrl: TcpStream,
    pub dir: tempfile::TempDir,
    pending: Vec<u8>,
}

impl Baresip {
    pub fn start(microphone: &Path, ca_pem: &Path, mediaenc: Option<&str>) -> Baresip {
        let dir = tempfile::tempdir().unwrap();
        let (sip, ctrl) = (free_port(), free_port());
        let config = format!(
            "poll_method epoll\nsip_listen 127.0.0.1:{sip}\nsip_cafile {ca}\nnet_interface 127.0.0.1\naudio_source aufile,{mic}\naudio_player aubridge,sink\naudio_alert aubridge,sink\n\
             module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule aufile.so\nmodule aubridge.so\nmodule srtp.so\n\
             module_app account.so\nmodule_app menu.so\nmodule_app ctrl_tcp.so\nctrl_tcp_listen 127.0.0.1:{ctrl}\n",
            mic = microphone.display(),
            ca = ca_pem.display(),
        );
        std::fs::write(dir.path().join("config"), config).unwrap();
        let mediaenc = mediaenc.map(|m| format!(";mediaenc={m}")).unwrap_or_default();
        std::fs::write(dir.path().join("accounts"), format!("<sip:caller@127.0.0.1>;regint=0;audio_codecs=PCMU;answermode=manual{mediaenc}\n")).unwrap();
        let log = std::fs::File::create(dir.path().join("baresip.log")).unwrap();
        let child = Command::new("baresip").arg("-f").arg(dir.path()).arg("-v").stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log).spawn().expect("start baresip");
        let deadline = Instant::now() + Duration::from_secs(10);
        let ctrl = loop {
            match TcpStream::connect(("127.0.0.1", ctrl)) {
                Ok(stream) => break stream,
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
                Err(e) => panic!("baresip ctrl_tcp did not come up: {e}"),
            }
        };
        ctrl.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        Baresip { child, ctrl, dir, pending: Vec::new() }
    }

    /// What baresip printed so far (for failure messages and checks).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("baresip.log")).unwrap_or_default()
    }

    /// Sends one ctrl_tcp command (a netstring of JSON).
    pub fn command(&mut self, command: &str, params: &str) {
        let json = serde_json::json!({ "command": command, "params": params, "token": command }).to_string();
        write!(self.ctrl, "{}:{},", json.len(), json).unwrap();
    }

    /// Reads netstrings until an event of `kind` arrives.
    pub fn wait_event(&mut self, kind: &str, timeout: Duration) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(message) = self.next_netstring() {
                if message["type"] == kind {
                    return message;
                }
            }
            assert!(Instant::now() < deadline, "baresip event {kind} not seen within {timeout:?}; baresip log:\n{}", self.log());
            let mut buf = [0u8; 4096];
            if let Ok(n) = self.ctrl.read(&mut buf) {
                self.pending.extend_from_slice(&buf[..n]);
            }
        }
    }

    fn next_netstring(&mut self) -> Option<serde_json::Value> {
        let colon = self.pending.iter().position(|&b| b == b':')?;
        let len: usize = std::str::from_utf8(&self.pending[..colon]).ok()?.parse().ok()?;
        if self.pending.len() < colon + 1 + len + 1 {
            return None;
        }
        let value = serde_json::from_slice(&self.pending[colon + 1..colon + 1 + len]).unwrap_or_default();
        self.pending.drain(..colon + 2 + len);
        Some(value)
    }

    pub fn keys(&mut self, digits: &str) {
        for digit in digits.chars() {
            self.command("sndcode", &digit.to_string());
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- baresip log ----\n{}", self.log());
        }
    }
}
