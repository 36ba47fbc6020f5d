//! Each module's section read through the whole file: a bad key or value is named with its full
//! dotted key and the line of chartline.toml it is on. (The sections' own rules are tested beside
//! their types; this checks that `Config` reports them.)

use super::Config;

// [web]

#[test]
fn embedded_defaults_serve_https_on_8443() {
    let web = Config::embedded().unwrap().web;
    assert_eq!(web.listen, "0.0.0.0:8443");
    assert!(web.tls);
    assert_eq!(web.lockout_failures, 5);
}

#[test]
fn web_bad_values_name_the_key_and_line() {
    let err = Config::parse("[web]\nlisten = \"nowhere\"\n", "t.toml").unwrap_err().to_string();
    assert!(err.contains("web.listen") && err.contains("line 2"), "{err}");
    let err = Config::parse("[web]\ntls_cert = \"/etc/cert.pem\"\n", "t.toml").unwrap_err().to_string();
    assert!(err.contains("web.tls_key"), "{err}");
    let err = Config::parse("[web]\nlockout_failures = 1\n", "t.toml").unwrap_err().to_string();
    assert!(err.contains("web.lockout_failures"), "{err}");
    let err = Config::parse("[web]\nsession_minutes = 5\n", "t.toml").unwrap_err().to_string();
    assert!(err.contains("session_minutes"), "unknown keys are refused: {err}");
}

// [oncall]

fn oncall(section: &str) -> Result<Config, String> {
    Config::parse(&format!("[oncall]\n{section}"), "test.toml").map_err(|e| e.to_string())
}

#[test]
fn oncall_defaults_are_valid_and_errors_name_the_key() {
    assert!(oncall("").is_ok());
    let err = oncall("ring_timeout_s = 1\n").unwrap_err();
    assert!(err.contains("oncall.ring_timeout_s") && err.contains("line 2"), "{err}");
    let err = oncall("providers = [{ id = \"Practitioner/a\", phone = \"call me\" }]\n").unwrap_err();
    assert!(err.contains("oncall.providers[0]") && err.contains("neither"), "{err}");
    let err = oncall("providers = [{ id = \"Practitioner/a\", phone = \"+15550100001\", backup = \"Practitioner/x\" }]\n").unwrap_err();
    assert!(err.contains("backup"), "{err}");
    let err = oncall("caller_id = \"practice\"\n").unwrap_err();
    assert!(err.contains("oncall.caller_id"), "{err}");
    let err = oncall("outbound_transport = \"sctp\"\n").unwrap_err();
    assert!(err.contains("oncall.outbound_transport"), "{err}");
    let err = oncall("providers = [{ id = \"Practitioner/a\", phone = \"sip:dr@10.0.0.5;transport=ws\" }]\n").unwrap_err();
    assert!(err.contains("oncall.providers[0]") && err.contains("ws"), "{err}");
    let err = oncall("resume_within_h = 720\n").unwrap_err();
    assert!(err.contains("oncall.resume_within_h"), "{err}");
    let err = oncall("pager = true\n").unwrap_err();
    assert!(err.contains("pager"), "{err}");
    let ok = oncall("providers = [{ id = \"Practitioner/a\", phone = \"+1 555-010-0001\", backup = \"Practitioner/b\" }, { id = \"Practitioner/b\", phone = \"sip:dr-b@10.0.0.5:5060\" }]\n").unwrap();
    assert_eq!(ok.oncall.provider("Practitioner/a").unwrap().backup, "Practitioner/b");
}

// [alerts]

fn alerts(section: &str) -> Result<Config, String> {
    Config::parse(&format!("[alerts]\n{section}"), "test.toml").map_err(|e| e.to_string())
}

#[test]
fn alerts_validation_names_the_key() {
    assert!(alerts("").is_ok());
    assert!(alerts("staff_line = \"sip:nurse@10.0.0.5:5060;transport=tcp\"\nstaff_backup = \"+1 555 010 0002\"\n").is_ok());
    let err = alerts("staff_line = \"the nurse\"\n").unwrap_err();
    assert!(err.contains("alerts.staff_line") && err.contains("line 2"), "{err}");
    let err = alerts("staff_line = \"sip:nurse@pbx;transport=ws\"\n").unwrap_err();
    assert!(err.contains("alerts.staff_line"), "{err}");
    let err = alerts("staff_backup = \"+15550100002\"\n").unwrap_err();
    assert!(err.contains("alerts.staff_backup"), "{err}");
    let err = alerts("push_buffer = 0\n").unwrap_err();
    assert!(err.contains("alerts.push_buffer"), "{err}");
    let err = alerts("keepalive_s = 0\n").unwrap_err();
    assert!(err.contains("alerts.keepalive_s"), "{err}");
    let err = alerts("pager = 1\n").unwrap_err();
    assert!(err.contains("pager"), "{err}");
}

// [ehr]

#[test]
fn ehr_errors_name_the_full_key_and_line() {
    let text = "[ehr]\nadapter = \"fhir\"\n[ehr.fhir]\nbase_url = \"http://x/fhir\"\n[ehr.fhir.auth]\nmode = \"bearer\"\ntoken = \"\"\n";
    let err = Config::parse(text, "t.toml").unwrap_err().to_string();
    assert!(err.contains("ehr.fhir.auth.token") && err.contains("line 7"), "{err}");
    let err = Config::parse("[ehr.retry]\nbase_delay = 1\n", "t.toml").unwrap_err().to_string();
    assert!(err.contains("base_delay") && err.contains("line 2"), "{err}");
}

// [sip.tls]

#[test]
fn sip_tls_errors_name_the_key_and_line() {
    let text = "[sip]\nlisten = \"127.0.0.1:5060\"\n\n[sip.tls]\nenabled = true\ncert = \"/etc/chartline/sip.pem\"\n";
    let err = Config::parse(text, "test.toml").unwrap_err().to_string();
    assert!(err.contains("sip.tls.key"), "{err}");
    let same_port = "[sip]\nlisten = \"127.0.0.1:5060\"\n\n[sip.tls]\nenabled = true\nlisten = \"127.0.0.1:5060\"\n";
    let err = Config::parse(same_port, "test.toml").unwrap_err().to_string();
    assert!(err.contains("sip.tls.listen") && err.contains("line 6"), "{err}");
    let typo = "[sip.tls]\nenable = true\n";
    let err = Config::parse(typo, "test.toml").unwrap_err().to_string();
    assert!(err.contains("enable") && err.contains("line 2"), "{err}");
}

// [sip.trunk]

fn trunk(section: &str) -> Result<Config, String> {
    Config::parse(&format!("[sip.trunk]\n{section}"), "test.toml").map_err(|e| e.to_string())
}

#[test]
fn trunk_defaults_trust_only_this_machine() {
    let config = Config::embedded().unwrap();
    let acl = config.sip.trunk.acl().unwrap();
    assert_eq!(acl.check("127.0.0.1".parse().unwrap()), crate::sip::acl::Verdict::Allow);
    assert_eq!(acl.check("::1".parse().unwrap()), crate::sip::acl::Verdict::Allow);
    assert_ne!(acl.check("192.168.1.20".parse().unwrap()), crate::sip::acl::Verdict::Allow);
    assert_ne!(acl.check("10.0.0.1".parse().unwrap()), crate::sip::acl::Verdict::Allow);
}

#[test]
fn trunk_errors_name_the_key_and_line() {
    let err = trunk("mode = \"register\"\nusername = \"u\"\npassword = \"p\"\n").unwrap_err();
    assert!(err.contains("sip.trunk.registrar") && err.contains("required"), "{err}");
    let err = trunk("allowed_sources = [\"10.0.0.1/8\"]\n").unwrap_err();
    assert!(err.contains("sip.trunk.allowed_sources") && err.contains("line 2") && err.contains("10.0.0.0/8"), "{err}");
    let err = trunk("mode = \"sometimes\"\n").unwrap_err();
    assert!(err.contains("line 2"), "{err}");
    let err = trunk("pasword = \"x\"\n").unwrap_err();
    assert!(err.contains("pasword"), "{err}");
    let err = trunk("mode = \"register\"\nregistrar = \"pbx:5060\"\nusername = \"u\"\n").unwrap_err();
    assert!(err.contains("sip.trunk.password"), "{err}");
    let err = trunk("mode = \"register\"\nregistrar = \"pbx\"\nusername = \"u\"\npassword = \"p\"\npassword_env = \"X\"\n").unwrap_err();
    assert!(err.contains("only one"), "{err}");
    let err = trunk("expires_s = 5\n").unwrap_err();
    assert!(err.contains("sip.trunk.expires_s"), "{err}");
    let err = trunk("mode = \"ip\"\nallowed_sources = []\n").unwrap_err();
    assert!(err.contains("sip.trunk.allowed_sources"), "{err}");
}

#[test]
fn trunk_password_sources() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, "from-file\n").unwrap();
    let config = trunk(&format!("mode = \"register\"\nregistrar = \"pbx.example:5080\"\nusername = \"u\"\npassword_file = {:?}\n", file)).unwrap();
    assert_eq!(config.sip.trunk.secret().unwrap().expose(), "from-file");
    assert_eq!(config.sip.trunk.effective_domain(), "pbx.example:5080");
    let err = trunk("mode = \"register\"\nregistrar = \"pbx\"\nusername = \"u\"\npassword_env = \"CHARTLINE_TEST_SURELY_UNSET\"\n").unwrap_err();
    assert!(err.contains("sip.trunk.password_env"), "{err}");
    let debug = format!("{:?}", trunk("mode = \"register\"\nregistrar = \"pbx\"\nusername = \"u\"\npassword = \"hunter2\"\n").unwrap());
    assert!(!debug.contains("hunter2"), "the password never shows in Debug output");
}

// [practice], [routing], [triage]

#[test]
fn practice_routing_and_triage_validate_with_key_and_line() {
    let config = Config::embedded().unwrap();
    let router = crate::triage::routing::Router::new(&config.routing, crate::triage::hours::PracticeHours::from_practice(&config.practice).unwrap()).unwrap();
    assert_eq!(router.location("sip:+15550102000@pbx").as_deref(), Some("Main Street Clinic"));

    let text = "[practice]\ntime_zone = \"America/Chicago\"\n\n[practice.hours]\nmon = [\"9-5\"]\n";
    let err = Config::parse(text, "t.toml").unwrap_err().to_string();
    assert!(err.contains("practice.hours.mon") && err.contains("line 5"), "{err}");

    let text = "[practice]\nholidays = [\"Christmas\"]\n";
    let err = Config::parse(text, "t.toml").unwrap_err().to_string();
    assert!(err.contains("practice.holidays") && err.contains("line 2"), "{err}");

    let text = "[routing]\nprovider_types = [\"refil\"]\n";
    let err = Config::parse(text, "t.toml").unwrap_err().to_string();
    assert!(err.contains("routing.provider_types") && err.contains("line 2"), "{err}");

    let text = "[routing]\ndepartmentz = {}\n";
    let err = Config::parse(text, "t.toml").unwrap_err().to_string();
    assert!(err.contains("departmentz"), "{err}");

    let text = "[triage]\nrules = \"/etc/chartline/triage.toml\"\n";
    assert_eq!(Config::parse(text, "t.toml").unwrap().triage.rules.unwrap().to_str(), Some("/etc/chartline/triage.toml"));
}
