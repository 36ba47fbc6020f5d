//! Configuration: one TOML file (`config/chartline.toml` holds the embedded defaults that run out
//! of the box). Every module owns its section's type; this file composes them, reports unknown keys
//! and bad values with the key and the line, and runs the cross-field checks.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

/// The defaults compiled into the binary: `chartline serve` with no file uses exactly these.
pub const EMBEDDED_DEFAULTS: &str = include_str!("../config/chartline.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub practice: PracticeConfig,
    /// Where the store, recordings and the embedded chart live.
    pub data_dir: PathBuf,
    /// Where prompt audio is read from.
    pub sounds_dir: PathBuf,
    pub sip: crate::sip::SipConfig,
    pub media: crate::media::MediaConfig,
    pub ivr: crate::ivr::IvrConfig,
    pub speech: crate::speech::SpeechConfig,
    pub calls: CallsConfig,
    pub metrics: MetricsConfig,
    pub triage: crate::triage::TriageConfig,
    pub routing: crate::triage::routing::RoutingConfig,
    pub web: crate::web::WebConfig,
    pub ehr: crate::ehr::EhrConfig,
    pub scheduling: crate::schedule::SchedulingConfig,
    pub security: crate::store::keys::SecurityConfig,
    pub oncall: crate::oncall::OnCallConfig,
    pub alerts: crate::oncall::AlertsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            practice: PracticeConfig::default(),
            data_dir: PathBuf::from("data"),
            sounds_dir: PathBuf::from("sounds/en"),
            sip: Default::default(),
            media: Default::default(),
            ivr: Default::default(),
            speech: Default::default(),
            calls: Default::default(),
            metrics: Default::default(),
            triage: Default::default(),
            routing: Default::default(),
            web: Default::default(),
            ehr: Default::default(),
            scheduling: Default::default(),
            security: Default::default(),
            oncall: Default::default(),
            alerts: Default::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PracticeConfig {
    pub name: String,
    /// IANA time zone of the practice, e.g. `America/Chicago`.
    pub time_zone: String,
    /// Weekly opening hours in local time (`[practice.hours]`, `mon = ["08:00-17:00"]`).
    pub hours: crate::triage::hours::WeeklyHours,
    /// Closed days, `"YYYY-MM-DD"`.
    pub holidays: Vec<String>,
}

impl Default for PracticeConfig {
    fn default() -> Self {
        Self {
            name: "Chartline Demo Practice".into(),
            time_zone: "America/Chicago".into(),
            hours: Default::default(),
            holidays: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallsConfig {
    /// Calls beyond this get `503 Service Unavailable` with Retry-After.
    pub max_concurrent: usize,
    /// A call lasting longer than this is ended politely.
    pub max_duration_s: u64,
    /// Ring this long (180 Ringing) before answering; 0 answers at once.
    pub ring_ms: u64,
    /// On SIGTERM, new calls get 503 and active calls get this long to finish.
    pub shutdown_grace_s: u64,
}

impl Default for CallsConfig {
    fn default() -> Self {
        Self { max_concurrent: 1000, max_duration_s: 900, ring_ms: 0, shutdown_grace_s: 120 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Address of the plain-HTTP Prometheus endpoint (`/metrics`); empty disables it.
    pub listen: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self { listen: "127.0.0.1:9090".into() }
    }
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{origin}: {message}")]
    Syntax { origin: String, message: String },
    /// `line`: where the key is set or, for a key left out, the header of its table.
    #[error("{origin}{}: `{key}` {problem}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Invalid { origin: String, line: Option<usize>, key: String, problem: String },
}

impl Config {
    /// The embedded defaults.
    pub fn embedded() -> Result<Self, ConfigError> {
        Self::parse(EMBEDDED_DEFAULTS, "embedded defaults")
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.into(), source })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates. `origin` names the source in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            origin: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        config.validate().map_err(|(key, problem)| ConfigError::Invalid {
            origin: origin.to_string(),
            line: line_of_key(text, &key).or_else(|| line_of_table(text, key.rsplit_once('.').map_or("", |(table, _)| table))),
            key,
            problem,
        })?;
        Ok(config)
    }

    /// Cross-field and range checks serde cannot express; returns the dotted key and the problem.
    fn validate(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, problem: String| Err((key.to_string(), problem));
        if self.practice.time_zone.parse::<chrono_tz::Tz>().is_err() {
            return bad("practice.time_zone", format!("is not an IANA time zone: {:?}", self.practice.time_zone));
        }
        if self.calls.max_concurrent == 0 {
            return bad("calls.max_concurrent", "must be at least 1".into());
        }
        if self.calls.ring_ms > 30_000 {
            return bad("calls.ring_ms", "must be at most 30000 (a PBX gives up on a call ringing longer)".into());
        }
        if !self.metrics.listen.is_empty() && self.metrics.listen.parse::<std::net::SocketAddr>().is_err() {
            return bad("metrics.listen", format!("is not an address:port: {:?}", self.metrics.listen));
        }
        self.sip.validate().or_else(|(k, p)| bad(&format!("sip.{k}"), p))?;
        self.media.validate().or_else(|(k, p)| bad(&format!("media.{k}"), p))?;
        self.ivr.validate().or_else(|(k, p)| bad(&format!("ivr.{k}"), p))?;
        self.web.validate().or_else(|(k, p)| bad(&format!("web.{k}"), p))?;
        let hours = match crate::triage::hours::PracticeHours::from_practice(&self.practice) {
            Ok(hours) => hours,
            Err(e) => return bad(&format!("practice.{}", e.key), e.problem),
        };
        if let Err(e) = crate::triage::routing::Router::new(&self.routing, hours) {
            return bad(&format!("routing.{}", e.key), e.problem);
        }
        self.speech.validate().or_else(|(k, p)| bad(&format!("speech.{k}"), p))?;
        self.ehr.validate().or_else(|(k, p)| bad(&format!("ehr.{k}"), p))?;
        self.scheduling.validate().or_else(|(k, p)| bad(&format!("scheduling.{k}"), p))?;
        self.oncall.validate().or_else(|(k, p)| bad(&format!("oncall.{k}"), p))?;
        self.alerts.validate().or_else(|(k, p)| bad(&format!("alerts.{k}"), p))?;
        Ok(())
    }

    pub fn recordings_dir(&self) -> PathBuf {
        self.data_dir.join("recordings")
    }

    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join("chartline.db")
    }

    /// Where the master key and the keyring are (`[security]`).
    pub fn key_paths(&self) -> crate::store::keys::KeyPaths {
        crate::store::keys::KeyPaths::from_config(&self.data_dir, &self.security)
    }
}

/// The 1-based line where a dotted key (`media.rtp_port_min`) is set, by scanning table headers.
fn line_of_key(text: &str, dotted: &str) -> Option<usize> {
    let (table, key) = dotted.rsplit_once('.').unwrap_or(("", dotted));
    let mut current = String::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = header.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            continue;
        }
        let Some((lhs, _)) = line.split_once('=') else { continue };
        let lhs = lhs.trim();
        let full = if current.is_empty() { lhs.to_string() } else { format!("{current}.{lhs}") };
        if full == dotted || (current == table && lhs == key) {
            return Some(index + 1);
        }
    }
    None
}

/// The 1-based line of the `[table]` header.
fn line_of_table(text: &str, table: &str) -> Option<usize> {
    text.lines().position(|raw| raw.trim().strip_prefix('[').and_then(|l| l.strip_suffix(']')).is_some_and(|h| h.trim() == table)).map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_are_valid() {
        let config = Config::embedded().expect("embedded defaults parse");
        assert_eq!(config.data_dir, PathBuf::from("data"));
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let text = "[practice]\nname = \"x\"\n\n[sip]\nlisten_typo = \"0.0.0.0:5060\"\n";
        let err = Config::parse(text, "test.toml").unwrap_err().to_string();
        assert!(err.contains("listen_typo"), "{err}");
        assert!(err.contains("line 5"), "{err}");
    }

    #[test]
    fn bad_value_names_key_and_line() {
        let text = "[practice]\nname = \"x\"\ntime_zone = \"Mars/Olympus\"\n";
        let err = Config::parse(text, "test.toml").unwrap_err().to_string();
        assert!(err.contains("practice.time_zone"), "{err}");
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn a_key_left_out_is_named_with_its_table_line() {
        let text = "[practice]\nname = \"x\"\n\n[sip.auth]\nmode = \"required\"\n";
        let err = Config::parse(text, "test.toml").unwrap_err().to_string();
        assert!(err.starts_with("test.toml, line 4: `sip.auth.username`"), "{err}");
    }

    #[test]
    fn wrong_type_names_line() {
        let text = "[calls]\nmax_concurrent = \"many\"\n";
        let err = Config::parse(text, "test.toml").unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn line_of_key_handles_tables_and_dotted_keys() {
        let text = "a = 1\n[media]\nrtp_port_min = 5\n[sip.trunk]\nmode = \"x\"\n";
        assert_eq!(line_of_key(text, "a"), Some(1));
        assert_eq!(line_of_key(text, "media.rtp_port_min"), Some(3));
        assert_eq!(line_of_key(text, "sip.trunk.mode"), Some(5));
        assert_eq!(line_of_key(text, "media.missing"), None);
        assert_eq!(line_of_table(text, "sip.trunk"), Some(4));
        assert_eq!(line_of_table(text, "sip"), None);
    }
}
