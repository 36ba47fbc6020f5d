//! `[calls]`, and the sections of the configuration a call reads ([`CallConfig`], assembled by
//! `config::Config::call` so that `call` does not import `config`; docs/architecture.md).

use std::path::PathBuf;

use serde::Deserialize;

use crate::ivr::IvrConfig;
use crate::media::MediaConfig;
use crate::oncall::{AlertsConfig, OnCallConfig};
use crate::schedule::SchedulingConfig;
use crate::sip::SipConfig;
use crate::speech::SpeechConfig;

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

impl CallsConfig {
    /// Returns the key (relative to `calls.`) and the problem.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.max_concurrent == 0 {
            return Err(("max_concurrent".into(), "must be at least 1".into()));
        }
        if self.ring_ms > 30_000 {
            return Err(("ring_ms".into(), "must be at most 30000 (a PBX gives up on a call ringing longer)".into()));
        }
        Ok(())
    }
}

/// What a call reads of the configuration (the sections keep their names in chartline.toml).
#[derive(Debug, Clone, Default)]
pub struct CallConfig {
    /// Recordings are written under `<data_dir>/recordings`.
    pub data_dir: PathBuf,
    pub calls: CallsConfig,
    pub sip: SipConfig,
    pub media: MediaConfig,
    pub ivr: IvrConfig,
    pub speech: SpeechConfig,
    pub scheduling: SchedulingConfig,
    pub oncall: OnCallConfig,
    pub alerts: AlertsConfig,
}

impl CallConfig {
    pub fn recordings_dir(&self) -> PathBuf {
        crate::store::recording::recordings_dir(&self.data_dir)
    }
}
