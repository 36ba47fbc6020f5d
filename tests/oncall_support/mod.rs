//! The SIPp phones of the alert tests: a UAS answering one alert call (the on-call provider, the
//! staff line, the patient called back) with a scenario of tests/sipp/, its messages traced.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{free_port, free_rtp_range, repo_root};

/// A SIPp phone answering one call with `scenario`, its messages traced to a file.
pub struct Phone {
    child: Child,
    pub port: u16,
    trace: PathBuf,
    _dir: tempfile::TempDir,
}

impl Phone {
    pub fn start(scenario: &str) -> Phone {
        Phone::start_on(scenario, free_port())
    }

    /// A phone on a given port: the same number, picked up again after another phone left it.
    pub fn start_on(scenario: &str, port: u16) -> Phone {
        Phone::start_with(scenario, port, "u1")
    }

    /// A phone with SIPp's transport mode (`u1` UDP, `t1` TCP).
    pub fn start_with(scenario: &str, port: u16, transport: &str) -> Phone {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("messages.log");
        let child = Command::new("sipp")
            .arg("-sf")
            .arg(repo_root().join("tests/sipp").join(scenario))
            .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-t", transport, "-m", "1", "-nostdin", "-timeout", "120s", "-timeout_error"])
            .args(["-mp", &free_rtp_range(8).0.to_string(), "-trace_msg", "-message_file"])
            .arg(&trace)
            .current_dir(repo_root().join("tests/sipp"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run sipp (scripts/setup --test)");
        Phone { child, port, trace, _dir: dir }
    }

    pub fn uri(&self, user: &str) -> String {
        format!("sip:{user}@127.0.0.1:{}", self.port)
    }

    pub fn received_invite(&self) -> bool {
        std::fs::read_to_string(&self.trace).is_ok_and(|t| t.contains("INVITE sip:"))
    }

    /// Waits for the scenario to end; returns whether it passed and what SIPp said.
    pub fn finish(mut self, timeout: Duration) -> (bool, String) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut text = String::new();
                use std::io::Read;
                let _ = self.child.stdout.take().unwrap().read_to_string(&mut text);
                let _ = self.child.stderr.take().unwrap().read_to_string(&mut text);
                text.push_str(&std::fs::read_to_string(&self.trace).unwrap_or_default());
                return (status.success(), text);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        (false, format!("SIPp still running after {timeout:?}\n{}", std::fs::read_to_string(&self.trace).unwrap_or_default()))
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
