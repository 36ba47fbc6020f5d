//! baresip, a real softphone, driven over its ctrl_tcp interface: plain UDP calls, or SIP over
//! TLS (trusting `ca_pem`) with a media encryption such as `srtp-mand`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::free_port;

/// A baresip process with its config dir; over TLS it trusts `ca_pem`, and `mediaenc` (e.g.
/// `srtp-mand`) is set on the account when given.
pub struct Baresip {
    child: Child,
    ctrl: TcpStream,
    pub dir: tempfile::TempDir,
    pending: Vec<u8>,
}

impl Baresip {
    pub fn start(microphone: &Path, ca_pem: Option<&Path>, mediaenc: Option<&str>) -> Baresip {
        let dir = tempfile::tempdir().unwrap();
        let (sip, ctrl) = (free_port(), free_port());
        let config = format!(
            "poll_method epoll\nsip_listen 127.0.0.1:{sip}\n{ca}net_interface 127.0.0.1\naudio_source aufile,{mic}\naudio_player aubridge,sink\naudio_alert aubridge,sink\n\
             module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule aufile.so\nmodule aubridge.so\nmodule srtp.so\n\
             module_app account.so\nmodule_app menu.so\nmodule_app ctrl_tcp.so\nctrl_tcp_listen 127.0.0.1:{ctrl}\n",
            mic = microphone.display(),
            ca = ca_pem.map(|p| format!("sip_cafile {}\n", p.display())).unwrap_or_default(),
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

/// Seconds of silence before the spoken message in the microphone WAV: by then the caller has typed
/// the DOB and the menu choice and the record prompt has played.
pub const LEAD_IN_S: f64 = 16.0;

/// The microphone: `LEAD_IN_S` of silence, the spoken message (tests/fixtures/audio/message.wav),
/// 3 s of silence.
pub fn microphone_wav(dir: &Path) -> std::path::PathBuf {
    let message = hound::WavReader::open(crate::common::repo_root().join("tests/fixtures/audio/message.wav")).unwrap();
    let spec = message.spec();
    let speech: Vec<i16> = message.into_samples::<i16>().map(Result::unwrap).collect();
    let path = dir.join("microphone.wav");
    let mut out = hound::WavWriter::create(&path, spec).unwrap();
    let silence = |s: f64| std::iter::repeat_n(0i16, (s * spec.sample_rate as f64) as usize);
    for sample in silence(LEAD_IN_S).chain(speech).chain(silence(3.0)) {
        out.write_sample(sample).unwrap();
    }
    out.finalize().unwrap();
    path
}
