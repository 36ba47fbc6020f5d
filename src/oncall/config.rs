//! `[oncall]`: whether urgent after-hours calls page the on-call provider by phone, how outbound
//! calls leave (caller ID, outbound proxy), the timing of retries and escalation, and the provider
//! directory (phone number or SIP URI, and the backup) keyed by the practitioner ids of
//! `[routing] on_call`. Validation names the key within `[oncall]`.

use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OnCallConfig {
    /// Urgent after-hours calls routed to the on-call provider place an alert call.
    pub alert_after_hours: bool,
    /// The practice's number, sent as the caller ID (From user) of every outbound call.
    pub caller_id: String,
    /// Display name sent with the caller ID; empty = none.
    pub caller_name: String,
    /// `host:port` where outbound INVITEs for phone numbers go; empty = `sip.trunk.registrar`.
    pub outbound_proxy: String,
    /// How calls to phone numbers reach the outbound proxy: `udp`, `tcp` or `tls`; empty = the
    /// trunk's `sip.trunk.transport`.
    pub outbound_transport: String,
    /// How long an alert (or a patient call) rings before it is cancelled.
    pub ring_timeout_s: u64,
    /// Pause between two attempts to the same provider.
    pub retry_after_s: u64,
    /// Attempts per provider before the alert escalates (or fails, for the backup).
    pub max_attempts: u32,
    /// Time the provider has to acknowledge before the backup is alerted, counted from the first
    /// attempt, whatever the number of attempts left.
    pub escalate_after_s: u64,
    /// How often the alert menu is repeated without a key before the call counts as unanswered.
    pub menu_repeats: u32,
    /// Seconds to wait for a key after the menu.
    pub key_timeout_s: u64,
    /// At start, alerts a stop cut short (or never placed) are placed again for calls that started
    /// within this many hours; 0 = never.
    pub resume_within_h: u64,
    pub providers: Vec<ProviderEntry>,
    /// Calls to this number or extension (the To user) reach the provider callback line; empty = off.
    pub callback_number: String,
}

impl Default for OnCallConfig {
    fn default() -> Self {
        Self {
            alert_after_hours: true,
            caller_id: String::new(),
            caller_name: String::new(),
            outbound_proxy: String::new(),
            outbound_transport: String::new(),
            ring_timeout_s: 30,
            retry_after_s: 60,
            max_attempts: 2,
            escalate_after_s: 600,
            menu_repeats: 2,
            key_timeout_s: 8,
            resume_within_h: 12,
            providers: Vec::new(),
            callback_number: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderEntry {
    /// The practitioner as `[routing] on_call` names it, e.g. `Practitioner/on-call-a`.
    pub id: String,
    /// A phone number (dialed through the outbound proxy) or a full `sip:` URI (dialed directly).
    pub phone: String,
    /// Practitioner id alerted when this one does not acknowledge; empty = none.
    #[serde(default)]
    pub backup: String,
}

impl OnCallConfig {
    pub fn ring_timeout(&self) -> Duration {
        Duration::from_secs(self.ring_timeout_s)
    }

    pub fn provider(&self, id: &str) -> Option<&ProviderEntry> {
        self.providers.iter().find(|p| p.id == id)
    }

    /// Range and cross-field checks; the key is relative to `[oncall]`.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, problem: &str| Err((key.to_string(), problem.to_string()));
        if !self.caller_id.is_empty() && !is_phone(&self.caller_id) {
            return bad("caller_id", "must be a phone number (digits, optionally with a leading +)");
        }
        if !self.outbound_proxy.is_empty() && crate::sip::trunk_config::split_host_port(&self.outbound_proxy).is_none_or(|(h, p)| h.is_empty() || p == 0) {
            return bad("outbound_proxy", "is not host:port");
        }
        if !self.outbound_transport.is_empty() && crate::sip::Transport::from_name(&self.outbound_transport).is_none() {
            return bad("outbound_transport", "must be \"udp\", \"tcp\", \"tls\" or empty (the trunk's transport)");
        }
        if !(5..=300).contains(&self.ring_timeout_s) {
            return bad("ring_timeout_s", "must be between 5 and 300");
        }
        if self.retry_after_s > 3600 {
            return bad("retry_after_s", "must be at most 3600");
        }
        if !(1..=10).contains(&self.max_attempts) {
            return bad("max_attempts", "must be between 1 and 10");
        }
        if self.escalate_after_s < self.ring_timeout_s {
            return bad("escalate_after_s", "must be at least ring_timeout_s");
        }
        if !(1..=60).contains(&self.key_timeout_s) {
            return bad("key_timeout_s", "must be between 1 and 60");
        }
        if self.resume_within_h > 168 {
            return bad("resume_within_h", "must be at most 168 (a week)");
        }
        if self.callback_number.contains(|c: char| c.is_whitespace() || "<>@:;\"".contains(c)) {
            return bad("callback_number", "must be a number or extension (a plain SIP user), e.g. \"7000\"");
        }
        for (i, p) in self.providers.iter().enumerate() {
            let key = format!("providers[{i}]");
            if p.id.is_empty() {
                return Err((key, "needs an id (the practitioner named in [routing] on_call)".into()));
            }
            if let Some(problem) = dial_problem(&p.phone) {
                return Err((key, format!("phone: {problem}")));
            }
            if !p.backup.is_empty() && (p.backup == p.id || self.provider(&p.backup).is_none()) {
                return Err((key, format!("backup {:?} is not another provider listed in oncall.providers", p.backup)));
            }
            if self.providers[..i].iter().any(|q| q.id == p.id) {
                return Err((key, format!("id {:?} is listed twice", p.id)));
            }
        }
        Ok(())
    }
}

/// `+15551234567`, `555-123-4567`, `(555) 123 4567`: digits with the usual separators.
pub fn is_phone(text: &str) -> bool {
    let digits = text.chars().filter(char::is_ascii_digit).count();
    (3..=15).contains(&digits) && text.chars().enumerate().all(|(i, c)| c.is_ascii_digit() || " -().".contains(c) || (c == '+' && i == 0))
}

/// Why `line` cannot be phoned, if it cannot: it must be a phone number or a `sip:` URI, whose
/// `;transport=` (if any) is udp, tcp or tls. Shared by `[oncall] providers` and `[alerts]`.
pub fn dial_problem(line: &str) -> Option<String> {
    let transports = line.split(';').skip(1).filter_map(|param| param.strip_prefix("transport="));
    if let Some(t) = transports.into_iter().find(|t| crate::sip::Transport::from_name(t).is_none()) {
        return Some(format!("transport {t:?} in {line:?} is not udp, tcp or tls"));
    }
    let sip_uri = line.starts_with("sip:") && line.contains('@');
    (!is_phone(line) && !sip_uri).then(|| format!("{line:?} is neither a phone number nor a sip: URI"))
}

/// The dialable form: digits with a leading + kept.
pub fn normalize_phone(text: &str) -> String {
    let plus = text.trim_start().starts_with('+');
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    if plus { format!("+{digits}") } else { digits }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn parse(section: &str) -> Result<Config, String> {
        Config::parse(&format!("[oncall]\n{section}"), "test.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_valid_and_errors_name_the_key() {
        assert!(parse("").is_ok());
        let err = parse("ring_timeout_s = 1\n").unwrap_err();
        assert!(err.contains("oncall.ring_timeout_s") && err.contains("line 2"), "{err}");
        let err = parse("providers = [{ id = \"Practitioner/a\", phone = \"call me\" }]\n").unwrap_err();
        assert!(err.contains("oncall.providers[0]") && err.contains("neither"), "{err}");
        let err = parse("providers = [{ id = \"Practitioner/a\", phone = \"+15550100001\", backup = \"Practitioner/x\" }]\n").unwrap_err();
        assert!(err.contains("backup"), "{err}");
        let err = parse("caller_id = \"practice\"\n").unwrap_err();
        assert!(err.contains("oncall.caller_id"), "{err}");
        let err = parse("outbound_transport = \"sctp\"\n").unwrap_err();
        assert!(err.contains("oncall.outbound_transport"), "{err}");
        let err = parse("providers = [{ id = \"Practitioner/a\", phone = \"sip:dr@10.0.0.5;transport=ws\" }]\n").unwrap_err();
        assert!(err.contains("oncall.providers[0]") && err.contains("ws"), "{err}");
        let err = parse("resume_within_h = 720\n").unwrap_err();
        assert!(err.contains("oncall.resume_within_h"), "{err}");
        let err = parse("pager = true\n").unwrap_err();
        assert!(err.contains("pager"), "{err}");
        let ok = parse("providers = [{ id = \"Practitioner/a\", phone = \"+1 555-010-0001\", backup = \"Practitioner/b\" }, { id = \"Practitioner/b\", phone = \"sip:dr-b@10.0.0.5:5060\" }]\n").unwrap();
        assert_eq!(ok.oncall.provider("Practitioner/a").unwrap().backup, "Practitioner/b");
    }

    #[test]
    fn phone_numbers() {
        assert!(super::is_phone("+1 (555) 010-0001"));
        assert!(!super::is_phone("55+5"));
        assert_eq!(super::normalize_phone("+1 (555) 010-0001"), "+15550100001");
        assert_eq!(super::normalize_phone("555.010.0001"), "5550100001");
    }
}
