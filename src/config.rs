//! Configuration: one TOML file (`config/chartline.toml` holds the embedded defaults that run out
//! of the box). Every module owns its section's type; this file composes them, reports unknown keys
//! and bad values with the key and the line, and runs the cross-field checks.
//!
//! Its layer, and what it may import: docs/architecture.md.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The defaults compiled into the binary: `chartline serve` with no file uses exactly these.
pub const EMBEDDED_DEFAULTS: &str = include_str!("../config/chartline.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub practice: crate::triage::hours::PracticeConfig,
    /// Where the store, recordings and the embedded chart live.
    pub data_dir: PathBuf,
    /// Where prompt audio is read from.
    pub sounds_dir: PathBuf,
    pub sip: crate::sip::SipConfig,
    pub media: crate::media::MediaConfig,
    pub ivr: crate::ivr::IvrConfig,
    pub speech: crate::speech::SpeechConfig,
    pub calls: crate::call::CallsConfig,
    pub metrics: crate::metrics::MetricsConfig,
    pub triage: crate::triage::TriageConfig,
    pub routing: crate::triage::routing::RoutingConfig,
    pub web: crate::web::WebConfig,
    pub ehr: crate::ehr::EhrConfig,
    pub scheduling: crate::schedule::SchedulingConfig,
    pub security: crate::store::keys::SecurityConfig,
    pub store: crate::store::config::StoreConfig,
    pub oncall: crate::oncall::OnCallConfig,
    pub alerts: crate::oncall::AlertsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            practice: Default::default(),
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
            store: Default::default(),
            oncall: Default::default(),
            alerts: Default::default(),
        }
    }
}

/// A configuration file that cannot be read, parsed or validated (names the key and its line).
pub type ConfigError = crate::toml_file::TomlFileError;

/// The keys, the store or the chart of the configured data directory cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("loading the encryption keys ([security]): {0}")]
    Keys(crate::store::keys::KeyError),
    #[error("opening the store {}: {source}", path.display())]
    Store { path: PathBuf, source: crate::store::StoreError },
    #[error("opening the shared store ([store.postgres]): {0}")]
    Shared(crate::store::StoreError),
    #[error("opening the chart {}: {source}", path.display())]
    Chart { path: PathBuf, source: crate::ehr::EhrError },
}

impl Config {
    /// The embedded defaults.
    pub fn embedded() -> Result<Self, ConfigError> {
        Self::parse(EMBEDDED_DEFAULTS, "embedded defaults")
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = crate::toml_file::read(path)?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates. `origin` names the source in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let config: Config = crate::toml_file::parse(text, origin)?;
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
        self.calls.validate().or_else(|(k, p)| bad(&format!("calls.{k}"), p))?;
        self.metrics.validate().or_else(|(k, p)| bad(&format!("metrics.{k}"), p))?;
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
        self.store.validate().or_else(|(k, p)| bad(&format!("store.{k}"), p))?;
        Ok(())
    }

    pub fn recordings_dir(&self) -> PathBuf {
        crate::store::recording::recordings_dir(&self.data_dir)
    }

    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join("chartline.db")
    }

    /// Where the master key and the keyring are (`[security]`).
    pub fn key_paths(&self) -> crate::store::keys::KeyPaths {
        crate::store::keys::KeyPaths::from_config(&self.data_dir, &self.security)
    }

    /// The encryption keys of the data directory (created at first start).
    pub fn load_keys(&self) -> Result<crate::store::Keys, OpenError> {
        crate::store::Keys::load_or_create(&self.key_paths()).map_err(OpenError::Keys)
    }

    /// The store, encrypted with the data directory's keys.
    pub fn open_store(&self) -> Result<crate::store::Store, OpenError> {
        let path = self.store_path();
        crate::store::Store::open_with(&path, std::sync::Arc::new(self.load_keys()?)).map_err(|source| OpenError::Store { path, source })
    }

    /// The EHR outbox of `[store] backend`: the local store's, or the shared PostgreSQL one
    /// (connected, migrated, sealed with the data directory's keys).
    pub async fn open_outbox(&self) -> Result<crate::store::backend::OutboxStore, OpenError> {
        match self.store.backend {
            crate::store::config::Backend::Sqlite => Ok(self.open_store()?.into()),
            crate::store::config::Backend::Postgres => Ok(self.open_shared_store().await?.into()),
        }
    }

    /// The shared store of `[store.postgres]`, whatever `[store] backend` says.
    pub async fn open_shared_store(&self) -> Result<crate::store::postgres::PgStore, OpenError> {
        let keys = std::sync::Arc::new(self.load_keys()?);
        crate::store::postgres::PgStore::open(&self.store.postgres, keys).await.map_err(OpenError::Shared)
    }

    /// The embedded chart (whatever `[ehr] adapter` says), for the `chartline chart` commands.
    pub fn open_chart(&self) -> Result<crate::ehr::embedded::EmbeddedChart, OpenError> {
        let path = self.chart_path();
        let chart = crate::ehr::embedded::EmbeddedChart::open_with(&path, &self.load_keys()?).map_err(|source| OpenError::Chart { path, source })?;
        Ok(chart.with_scheduling(self.practice.tz(), self.scheduling.horizon_days))
    }

    /// Where the embedded chart lives: `ehr.chart_path`, else `<data_dir>/chart.db`.
    pub fn chart_path(&self) -> PathBuf {
        crate::ehr::chart_path(&self.ehr, &self.data_dir)
    }

    /// What opening the chart needs besides `[ehr]`.
    pub fn ehr_site(&self) -> crate::ehr::Site {
        crate::ehr::Site { data_dir: self.data_dir.clone(), keys: self.key_paths(), time_zone: self.practice.tz(), horizon_days: self.scheduling.horizon_days }
    }

    /// The chart adapter `[ehr]` selects.
    pub fn open_ehr(&self) -> Result<std::sync::Arc<dyn crate::ehr::Ehr>, crate::ehr::EhrError> {
        crate::ehr::open(&self.ehr, &self.ehr_site())
    }

    /// The sections a call reads.
    pub fn call(&self) -> crate::call::CallConfig {
        crate::call::CallConfig {
            data_dir: self.data_dir.clone(),
            calls: self.calls.clone(),
            sip: self.sip.clone(),
            media: self.media.clone(),
            ivr: self.ivr.clone(),
            speech: self.speech.clone(),
            scheduling: self.scheduling.clone(),
            oncall: self.oncall.clone(),
            alerts: self.alerts.clone(),
        }
    }

    /// The sections the dashboard reads.
    pub fn dashboard(&self) -> crate::web::DashboardConfig {
        crate::web::DashboardConfig { data_dir: self.data_dir.clone(), practice: self.practice.clone(), routing: self.routing.clone(), web: self.web.clone(), alerts: self.alerts.clone() }
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
mod section_tests;

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
