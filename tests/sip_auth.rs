//! `[sip.auth] mode = "required"` against real peers: SIPp as a PBX answering our digest challenge
//! (right password, wrong password, a guessing source that gets ignored while a good PBX is still
//! served), and baresip, a real softphone, authenticating its call.

mod baresip_support;
mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use baresip_support::{Baresip, microphone_wav};
use common::*;

const USER: &str = "frontdesk-pbx";
const PASSWORD: &str = "c0rrect-horse-battery";

/// A server requiring digest auth (default MD5 challenges), and the folder of its 0600 password file.
fn start() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("sip-password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let server = Server::start(&format!(
        "[sip.auth]\nmode = \"required\"\nusername = \"{USER}\"\npassword_file = {password_file:?}\nmax_failures = 3\nban_s = 60\n\n[speech]\nmodel_path = \"models/not-imported.bin\"\n"
    ));
    (server, dir)
}

/// SIPp from `source` playing `scenario` (a file of tests/sipp, or a path) `calls` times.
fn pbx(server: &Server, scenario: &std::path::Path, source: &str, password: &str, calls: u32, timeout: &str) -> (bool, String) {
    let out = Command::new("sipp")
        .arg(format!("127.0.0.1:{}", server.sip_port))
        .arg("-sf")
        .arg(scenario)
        .args(["-i", source, "-p", &free_port().to_string(), "-mp", &free_rtp_range(8).0.to_string()])
        .args(["-au", USER, "-ap", password, "-m", &calls.to_string(), "-r", "2", "-nostdin", "-timeout", timeout, "-timeout_error"])
        .output()
        .expect("run sipp");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn metric(server: &Server, name: &str) -> u64 {
    server.metrics().lines().find_map(|l| l.strip_prefix(&format!("{name} "))).unwrap_or_else(|| panic!("no {name}")).parse().unwrap()
}

/// The scenario with the authenticated INVITE answered 403 (then ACKed) instead of 200.
fn refused_scenario(server: &Server) -> std::path::PathBuf {
    let call = std::fs::read_to_string(repo_root().join("tests/sipp/auth_call.xml")).unwrap();
    let cut = call.find("  <recv response=\"180\" optional=\"true\"/>").unwrap();
    let refused = format!(
        "{}  <recv response=\"403\"/>\n  <send>\n    <![CDATA[\n      ACK sip:ivr@[remote_ip]:[remote_port] SIP/2.0\n      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n      From: <sip:+15551234567@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]\n      To: <sip:ivr@[remote_ip]:[remote_port]>[peer_tag_param]\n      Call-ID: [call_id]\n      CSeq: 2 ACK\n      Max-Forwards: 70\n      Content-Length: 0\n\n    ]]>\n  </send>\n</scenario>\n",
        &call[..cut]
    );
    let path = server.dir.path().join("auth_refused.xml");
    std::fs::write(&path, refused).unwrap();
    path
}

#[test]
fn a_pbx_answering_the_challenge_is_served_and_a_guessing_one_is_shut_out() {
    require_tool("sipp");
    let (server, _password) = start();
    let call = repo_root().join("tests/sipp/auth_call.xml");
    let (ok, out) = pbx(&server, &call, "127.0.0.1", PASSWORD, 1, "30s");
    assert!(ok, "the PBX with the password gets its call:\n{out}");
    let calls = server.wait_for_calls(1, Duration::from_secs(10));
    assert_eq!(calls.len(), 1);
    assert_eq!(metric(&server, "chartline_sip_auth_rejected_total"), 0, "a challenge is no rejection");

    // A source guessing: three wrong answers, each refused with 403, and no call record.
    let (ok, out) = pbx(&server, &refused_scenario(&server), "127.0.0.4", "guess", 3, "30s");
    assert!(ok, "each wrong answer gets 403:\n{out}");
    assert_eq!(metric(&server, "chartline_sip_auth_rejected_total"), 3);
    // Now it is ignored, even with the right password...
    let (ok, _) = pbx(&server, &call, "127.0.0.4", PASSWORD, 1, "4s");
    assert!(!ok, "a banned source gets no answer");
    assert!(metric(&server, "chartline_sip_auth_rejected_total") >= 4);
    // ...while the real PBX goes on being served.
    let (ok, out) = pbx(&server, &call, "127.0.0.1", PASSWORD, 1, "30s");
    assert!(ok, "the good PBX is not affected by the ban:\n{out}");
    assert_eq!(server.wait_for_calls(2, Duration::from_secs(10)).len(), 2, "only the authenticated calls have records");
    assert!(!server.log_text().contains(PASSWORD), "the password is never logged");
}

#[test]
fn sipp_without_the_password_never_reaches_the_dialog() {
    require_tool("sipp");
    let (server, _password) = start();
    let (ok, out) = pbx(&server, &refused_scenario(&server), "127.0.0.1", "wrong", 1, "30s");
    assert!(ok, "a wrong password gets 403:\n{out}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(server.cli_json(&["calls", "list", "--json"]).as_array().unwrap().is_empty(), "no call was started");
}

#[test]
fn baresip_authenticates_its_call() {
    require_tool("baresip");
    // With a SHA-256 challenge in the 401 (first or not) baresip 1.0.0 ends the call with "Function
    // not implemented": the default is MD5 alone.
    let (server, _password) = start();
    let mic = microphone_wav(server.dir.path());
    let mut phone = Baresip::start(&mic, None, &format!(";auth_user={USER};auth_pass={PASSWORD}"));
    phone.command("dial", &format!("sip:ivr@127.0.0.1:{}", server.sip_port));
    phone.wait_event("CALL_ESTABLISHED", Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(2));
    phone.command("hangup", "");
    phone.wait_event("CALL_CLOSED", Duration::from_secs(10));
    let calls = server.wait_for_calls(1, Duration::from_secs(10));
    assert_eq!(calls.len(), 1, "{:#}", serde_json::Value::Array(calls.clone()));
    assert_eq!(metric(&server, "chartline_sip_auth_rejected_total"), 0);
}
