//! baresip, a real softphone, driven over its ctrl_tcp interface: plain UDP calls, or SIP over
//! TLS (trusting `ca_pem`) with a media encryption such as `srtp-mand`. What it hears is kept
//! (sndfile) for tests to compare with what Chartline played.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::free_port;

/// A baresip process with its config dir; over TLS it trusts `ca_pem`. `account_params` go on the
/// account line as they are, e.g. `;mediaenc=srtp-mand` or `;auth_user=pbx;auth_pass=secret`.
pub struct Baresip {
    child: Child,
    ctrl: TcpStream,
    pub dir: tempfile::TempDir,
    pending: Vec<u8>,
}

impl Baresip {
    pub fn start(microphone: &Path, ca_pem: Option<&Path>, account_params: &str) -> Baresip {
        let dir = tempfile::tempdir().unwrap();
        let (sip, ctrl) = (free_port(), free_port());
        let config = format!(
            "poll_method epoll\nsip_listen 127.0.0.1:{sip}\n{ca}net_interface 127.0.0.1\naudio_source aufile,{mic}\naudio_player aubridge,sink\naudio_alert aubridge,sink\n\
             module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule aufile.so\nmodule aubridge.so\nmodule srtp.so\nmodule sndfile.so\nsnd_path {dumps}\n\
             module_app account.so\nmodule_app menu.so\nmodule_app ctrl_tcp.so\nctrl_tcp_listen 127.0.0.1:{ctrl}\n",
            mic = microphone.display(),
            dumps = dir.path().display(),
            ca = ca_pem.map(|p| format!("sip_cafile {}\n", p.display())).unwrap_or_default(),
        );
        std::fs::write(dir.path().join("config"), config).unwrap();
        std::fs::write(dir.path().join("accounts"), format!("<sip:caller@127.0.0.1>;regint=0;audio_codecs=PCMU;answermode=manual{account_params}\n")).unwrap();
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

    /// The audio this phone received on its calls so far, decoded (sndfile's `dump-*-dec.wav`, one
    /// per call), oldest first.
    pub fn received_audio(&self) -> Vec<std::path::PathBuf> {
        let mut dumps: Vec<_> = std::fs::read_dir(self.dir.path()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.file_name().unwrap().to_string_lossy().ends_with("-dec.wav")).collect();
        dumps.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        dumps
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

/// The caller's side of a billing call, once `phone` has dialed: DOB 07/04/1976 over the greeting,
/// 1 (the read-back is right), 6 (billing: straight to the message), the microphone's message, then
/// `#`. Waits for the end of the call and returns its stored record, after checking the DOB, the
/// request and that the recording holds the message's speech at its level.
pub fn billing_message_call(phone: &mut Baresip, server: &crate::common::Server) -> serde_json::Value {
    use crate::common::{event_kinds, recording_stats, repo_root, wav_stats};
    phone.wait_event("CALL_ESTABLISHED", Duration::from_secs(10));
    let established = Instant::now();
    std::thread::sleep(Duration::from_millis(800));
    phone.keys("07041976"); // over the greeting: barge-in
    std::thread::sleep(Duration::from_millis(1500));
    phone.keys("1");
    std::thread::sleep(Duration::from_millis(1500));
    phone.keys("6");

    let deadline = Instant::now() + Duration::from_secs(20);
    let call_id = loop {
        let calls = server.cli_json(&["calls", "list", "--json"]);
        if let Some(call) = calls.as_array().unwrap().first().filter(|c| event_kinds(c).iter().any(|k| k == "recording_started")) {
            break call["call_id"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "recording never started:\n{calls:#}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(established.elapsed().as_secs_f64() < LEAD_IN_S - 0.5, "recording must start before the message is spoken (at {:?})", established.elapsed());
    let sent = wav_stats(&repo_root().join("tests/fixtures/audio/message.wav"));
    std::thread::sleep(Duration::from_secs_f64(LEAD_IN_S + sent.duration_s + 1.0).saturating_sub(established.elapsed()));
    phone.keys("#");
    phone.wait_event("CALL_CLOSED", Duration::from_secs(30));

    assert_eq!(server.wait_for_calls(1, Duration::from_secs(10)).len(), 1);
    let call = server.cli_json(&["calls", "show", &call_id, "--json"]);
    assert_eq!(call["patient"]["birth_date"], "1976-07-04", "{call:#}");
    assert_eq!(call["request"]["type"], "billing");
    assert_eq!(call["request"]["code"], "F");
    let (got, complete) = recording_stats(&server.data_dir(), call["recording"].as_str().expect("recording"));
    assert!(complete, "the recording was finished");
    assert!((got.active_s - sent.active_s).abs() <= 0.15 * sent.active_s, "speech in recording {:.2} s, sent {:.2} s", got.active_s, sent.active_s);
    assert!(got.active_rms > 0.5 * sent.active_rms && got.active_rms < 2.0 * sent.active_rms, "level {:.3} vs {:.3}", got.active_rms, sent.active_rms);
    call
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
