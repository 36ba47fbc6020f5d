//! Who an urgent call alerts, as a pure decision over the hour, the call's severity and the
//! configuration: after hours the on-call provider by phone (when routing gave the call to them);
//! in business hours the signed-in staff on the dashboard and the staff line by phone.

use serde::Deserialize;

use super::OnCallConfig;

/// `[alerts]`: what an emergency (or an urgent call) raises in business hours. After hours the
/// `[oncall]` flow applies unchanged. Validation names the key within `[alerts]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Emergencies in business hours raise the dashboard alert and page the staff line.
    pub business_hours: bool,
    /// Urgent (not emergency) calls in business hours do too.
    pub urgent: bool,
    /// Push a live alert (banner and sound) to every open dashboard allowed to see the task.
    pub dashboard: bool,
    /// The staff line paged by phone in business hours: a phone number (through the trunk) or a
    /// `sip:` URI; empty = no page. Retries and escalation follow `[oncall]`'s timing.
    pub staff_line: String,
    /// Paged when the staff line does not acknowledge (`[oncall] escalate_after_s`); empty = none.
    pub staff_backup: String,
    /// Alert events queued per open dashboard page; a page that falls this far behind is
    /// disconnected and, reconnecting, gets every unacknowledged alert again.
    pub push_buffer: usize,
    /// Seconds between keep-alive comments on the alert stream.
    pub keepalive_s: u64,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self { business_hours: true, urgent: true, dashboard: true, staff_line: String::new(), staff_backup: String::new(), push_buffer: 32, keepalive_s: 15 }
    }
}

impl AlertsConfig {
    /// Range and format checks; the key is relative to `[alerts]`.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, problem: String| Err((key.to_string(), problem));
        for (key, line) in [("staff_line", &self.staff_line), ("staff_backup", &self.staff_backup)] {
            if let Some(problem) = Some(line.as_str()).filter(|l| !l.is_empty()).and_then(super::config::dial_problem) {
                return bad(key, problem);
            }
        }
        if self.staff_line.is_empty() && !self.staff_backup.is_empty() {
            return bad("staff_backup", "needs a staff_line to back up".into());
        }
        if !(1..=1024).contains(&self.push_buffer) {
            return bad("push_buffer", "must be between 1 and 1024".into());
        }
        if !(1..=120).contains(&self.keepalive_s) {
            return bad("keepalive_s", "must be between 1 and 120".into());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// An emergency red flag: the caller was told to call 911.
    Emergency,
    /// Urgent by the caller's choice or an urgent-level red flag.
    Urgent,
}

/// What is known of the call when the decision is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Situation {
    pub after_hours: bool,
    /// `None` for a routine call.
    pub severity: Option<Severity>,
    /// Routing gave the call to the on-call provider (only after hours).
    pub on_call_routed: bool,
}

/// Who is alerted. The phone page goes to at most one of the on-call provider and the staff line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recipients {
    pub on_call: bool,
    pub dashboard: bool,
    pub staff_line: bool,
}

impl Recipients {
    pub fn any(&self) -> bool {
        self.on_call || self.dashboard || self.staff_line
    }

    /// A phone page is owed (on-call or staff line).
    pub fn phone(&self) -> bool {
        self.on_call || self.staff_line
    }
}

/// After hours, routing has already decided (`on_call_routed`: emergencies and `[routing]
/// on_call_types`); in business hours the severity and `[alerts]` do.
pub fn decide(situation: Situation, oncall: &OnCallConfig, alerts: &AlertsConfig) -> Recipients {
    if situation.after_hours {
        return Recipients { on_call: oncall.alert_after_hours && situation.on_call_routed, ..Default::default() };
    }
    let Some(severity) = situation.severity else { return Recipients::default() };
    let raised = alerts.business_hours && (severity == Severity::Emergency || alerts.urgent);
    Recipients { on_call: false, dashboard: raised && alerts.dashboard, staff_line: raised && !alerts.staff_line.is_empty() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staffed() -> AlertsConfig {
        AlertsConfig { staff_line: "sip:nurse@pbx.local".into(), ..Default::default() }
    }

    fn at(after_hours: bool, severity: Option<Severity>, on_call_routed: bool) -> Situation {
        Situation { after_hours, severity, on_call_routed }
    }

    #[test]
    fn after_hours_pages_only_the_routed_on_call_provider() {
        let oncall = OnCallConfig::default();
        for severity in [Severity::Emergency, Severity::Urgent] {
            assert_eq!(decide(at(true, Some(severity), true), &oncall, &staffed()), Recipients { on_call: true, ..Default::default() });
            assert_eq!(decide(at(true, Some(severity), false), &oncall, &staffed()), Recipients::default());
        }
        assert!(decide(at(true, None, true), &oncall, &staffed()).on_call, "after hours routing has decided (on_call_types)");
        let off = OnCallConfig { alert_after_hours: false, ..Default::default() };
        assert!(!decide(at(true, Some(Severity::Emergency), true), &off, &staffed()).any());
    }

    #[test]
    fn business_hours_emergency_raises_dashboard_and_staff_line() {
        let oncall = OnCallConfig::default();
        let all = Recipients { on_call: false, dashboard: true, staff_line: true };
        assert_eq!(decide(at(false, Some(Severity::Emergency), true), &oncall, &staffed()), all, "never the on-call provider in business hours");
        assert_eq!(decide(at(false, Some(Severity::Urgent), false), &oncall, &staffed()), all);
        let no_line = decide(at(false, Some(Severity::Emergency), false), &oncall, &AlertsConfig::default());
        assert_eq!(no_line, Recipients { dashboard: true, ..Default::default() });
        assert!(!no_line.phone());
    }

    #[test]
    fn config_narrows_business_hours_alerts() {
        let oncall = OnCallConfig::default();
        let emergencies_only = AlertsConfig { urgent: false, ..staffed() };
        assert!(decide(at(false, Some(Severity::Emergency), false), &oncall, &emergencies_only).staff_line);
        assert!(!decide(at(false, Some(Severity::Urgent), false), &oncall, &emergencies_only).any());
        let phone_only = AlertsConfig { dashboard: false, ..staffed() };
        assert_eq!(decide(at(false, Some(Severity::Emergency), false), &oncall, &phone_only), Recipients { staff_line: true, ..Default::default() });
        let off = AlertsConfig { business_hours: false, ..staffed() };
        assert!(!decide(at(false, Some(Severity::Emergency), false), &oncall, &off).any());
        assert!(!decide(at(false, None, true), &oncall, &staffed()).any(), "a routine call alerts nobody");
    }

    fn parse(section: &str) -> Result<crate::config::Config, String> {
        crate::config::Config::parse(&format!("[alerts]\n{section}"), "test.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn validation_names_the_key() {
        assert!(parse("").is_ok());
        assert!(parse("staff_line = \"sip:nurse@10.0.0.5:5060;transport=tcp\"\nstaff_backup = \"+1 555 010 0002\"\n").is_ok());
        let err = parse("staff_line = \"the nurse\"\n").unwrap_err();
        assert!(err.contains("alerts.staff_line") && err.contains("line 2"), "{err}");
        let err = parse("staff_line = \"sip:nurse@pbx;transport=ws\"\n").unwrap_err();
        assert!(err.contains("alerts.staff_line"), "{err}");
        let err = parse("staff_backup = \"+15550100002\"\n").unwrap_err();
        assert!(err.contains("alerts.staff_backup"), "{err}");
        let err = parse("push_buffer = 0\n").unwrap_err();
        assert!(err.contains("alerts.push_buffer"), "{err}");
        let err = parse("keepalive_s = 0\n").unwrap_err();
        assert!(err.contains("alerts.keepalive_s"), "{err}");
        let err = parse("pager = 1\n").unwrap_err();
        assert!(err.contains("pager"), "{err}");
    }
}
