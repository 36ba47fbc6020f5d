//! Helpers for the dashboard tests: a cookie-keeping HTTPS client, accounts made with the real
//! `chartline user add`, and finished calls written through the real store API.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Stdio};

use chartline::store::Store;
use chartline::store::record::{CallEvent, CallRecord, InputMethod, MatchStatus, PatientMatch, RequestChoice, Routing};
use chrono::{Duration, Utc};

use crate::common::{BIN, Server, free_port, repo_root};

pub const PASSWORD: &str = "correct horse battery";

/// `chartline serve` with the dashboard on a free port (HTTPS, self-signed).
pub fn start() -> (Server, String) {
    start_with("")
}

/// As [`start`], plus `extra` TOML (e.g. an `[ehr]` section pointing at a FHIR server).
pub fn start_with(extra: &str) -> (Server, String) {
    let port = free_port();
    let server = Server::start(&format!("[web]\nlisten = \"127.0.0.1:{port}\"\n{extra}"));
    server.wait_for_log("dashboard listening", std::time::Duration::from_secs(10));
    (server, format!("https://127.0.0.1:{port}"))
}

/// Adds an account through the CLI, the password on stdin.
pub fn add_user(server: &Server, username: &str, role: &str, practitioner: Option<&str>, extra: &[&str]) -> String {
    let mut cmd = Command::new(BIN);
    cmd.args(["user", "add", username, "--name", &format!("{username} (test)"), "--role", role]).arg("--config").arg(&server.config_path);
    if let Some(p) = practitioner {
        cmd.args(["--practitioner", p]);
    }
    let mut child = cmd.args(extra).current_dir(repo_root()).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "user add failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A finished call, stored as the call core stores it (begin, then finish with the outbox row).
pub fn seed_call(server: &Server, kind: &str, urgent: bool, practitioner: Option<&str>, minutes_ago: i64) -> String {
    seed_call_for(server, "pat-1", chrono::NaiveDate::from_ymd_opt(1982, 3, 5).unwrap(), kind, urgent, practitioner, minutes_ago)
}

/// As [`seed_call`], for a given patient id (e.g. one of the demo chart's).
pub fn seed_call_for(server: &Server, patient: &str, birth_date: chrono::NaiveDate, kind: &str, urgent: bool, practitioner: Option<&str>, minutes_ago: i64) -> String {
    let store = Store::open(&server.data_dir().join("chartline.db")).unwrap();
    let started = Utc::now() - Duration::minutes(minutes_ago);
    let call_id = format!("test-{}-{}", kind, rand_suffix());
    let recording = format!("recordings/{call_id}.wav");
    write_tone(&server.data_dir().join(&recording));
    let code = match kind {
        "refill" => "A",
        "billing" => "F",
        "symptom" => "C",
        _ => "K",
    };
    let mut record = CallRecord {
        call_id: call_id.clone(),
        started_at: started,
        from: "sip:+15551234567@127.0.0.1".into(),
        to: "sip:ivr@127.0.0.1".into(),
        patient: PatientMatch { id: Some(patient.into()), birth_date: Some(birth_date), matched_by: Some(InputMethod::Dtmf), status: MatchStatus::Identified },
        request: Some(RequestChoice { kind: kind.into(), code: code.into(), chosen_by: InputMethod::Dtmf }),
        urgent,
        red_flags: if urgent { vec!["chest_pain".into()] } else { vec![] },
        transcript: Some("I need a refill of my lisinopril please".into()),
        recording: Some(recording),
        routing: Routing { practitioner: practitioner.map(|p| format!("Practitioner/{p}")), department: Some("nurse_pool".into()), location: Some("Main Street Clinic".into()), on_call: false },
        ..Default::default()
    };
    store.begin_call(&record).unwrap();
    record.ended_at = Some(started + Duration::seconds(40));
    record.events.push(CallEvent { at: started, kind: "answered".into(), detail: Default::default() });
    store.finish_call(&record).unwrap();
    call_id
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Two seconds of a 440 Hz tone, 8 kHz 16-bit mono.
pub fn write_tone(path: &std::path::Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let spec = hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut wav = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..16000 {
        wav.write_sample(((i as f64 * 440.0 * std::f64::consts::TAU / 8000.0).sin() * 8000.0) as i16).unwrap();
    }
    wav.finalize().unwrap();
}

/// A browser-like client: keeps cookies by hand, follows no redirects, accepts the self-signed cert.
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
    pub cookies: std::collections::BTreeMap<String, String>,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder().danger_accept_invalid_certs(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { http, base: base.into(), cookies: Default::default() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn finish(&mut self, response: reqwest::Response) -> Page {
        for value in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let text = value.to_str().unwrap();
            let (pair, _) = text.split_once(';').unwrap_or((text, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.into(), v.into());
            }
        }
        let status = response.status().as_u16();
        let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_string());
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        Page { status, location, headers, body }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let r = self.http.get(format!("{}{path}", self.base)).header("cookie", self.cookie_header()).send().await.unwrap();
        self.finish(r).await
    }

    pub async fn get_with(&mut self, path: &str, header: (&str, &str)) -> Page {
        let r = self.http.get(format!("{}{path}", self.base)).header("cookie", self.cookie_header()).header(header.0, header.1).send().await.unwrap();
        self.finish(r).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(form).unwrap();
        let r = self.http.post(format!("{}{path}", self.base)).header("cookie", self.cookie_header()).header("content-type", "application/x-www-form-urlencoded").body(body).send().await.unwrap();
        self.finish(r).await
    }

    /// The CSRF token in a page's forms.
    pub fn csrf(page: &Page) -> String {
        let at = page.body.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
        page.body[at..at + 64].to_string()
    }

    pub async fn login(&mut self, username: &str, password: &str) -> Page {
        let form = self.get("/login").await;
        let csrf = Self::csrf(&form);
        self.post("/login", &[("username", username), ("password", password), ("csrf", &csrf)]).await
    }
}

/// Waits until the server's sync worker has delivered a call's result to the chart.
pub fn wait_delivered(server: &Server, call_id: &str, timeout: std::time::Duration) {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let rows = server.cli_json(&["outbox", "--json"]);
        if rows.as_array().unwrap().iter().any(|r| r["call_id"] == call_id && r["status"] == "delivered") {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "call {call_id} not delivered to the chart: {rows:#}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Who the Chromium refill flow (tests/browser/refill_flow.js) signs in as and which tasks it opens.
pub struct BrowserFlow<'a> {
    pub base: &'a str,
    pub username: &'a str,
    pub refill_id: &'a str,
    pub urgent_id: &'a str,
    /// A call made by SIPp whose recording the flow plays too; `None` = none.
    pub sipp_id: Option<&'a str>,
    /// Screenshots go to target/screenshots/<this>.
    pub shots: &'a str,
}

impl BrowserFlow<'_> {
    pub fn shots_dir(&self) -> std::path::PathBuf {
        repo_root().join("target/screenshots").join(self.shots)
    }

    /// Runs the flow in Chromium and returns its report (the last line it prints), or fails the
    /// test with what node printed and `server`'s log.
    pub fn run(&self, server: &Server) -> serde_json::Value {
        let shots = self.shots_dir();
        std::fs::create_dir_all(&shots).unwrap();
        let mut node = Command::new("node");
        node.arg("tests/browser/refill_flow.js")
            .current_dir(repo_root())
            .env("BASE", self.base)
            .env("USERNAME", self.username)
            .env("PASSWORD", PASSWORD)
            .env("REFILL_ID", self.refill_id)
            .env("URGENT_ID", self.urgent_id)
            .env("SHOTS", &shots);
        match self.sipp_id {
            Some(id) => node.env("SIPP_ID", id),
            None => node.env_remove("SIPP_ID"),
        };
        let out = node.output().expect("run node");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "browser flow failed:\n{}\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr), server.log_text());
        serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
    }
}
