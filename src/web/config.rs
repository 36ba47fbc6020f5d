//! `[web]`: where the dashboard listens, its certificate, session and lockout limits; and
//! [`DashboardConfig`], the sections of the configuration the dashboard reads (assembled by
//! `config::Config::dashboard`, so that `web` does not import `config`; docs/architecture.md).

use std::path::PathBuf;

use serde::Deserialize;

use crate::oncall::AlertsConfig;
use crate::triage::hours::PracticeConfig;
use crate::triage::routing::RoutingConfig;

/// What the dashboard reads of the configuration (the sections keep their names in chartline.toml).
#[derive(Debug, Clone)]
pub struct DashboardConfig {
    /// Recordings (played from the call page) and the generated certificate live under it.
    pub data_dir: PathBuf,
    pub practice: PracticeConfig,
    /// Departments a call can be reassigned to.
    pub routing: RoutingConfig,
    pub web: WebConfig,
    /// `keepalive_s` of the live alert stream.
    pub alerts: AlertsConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Address:port of the dashboard; empty disables it.
    pub listen: String,
    /// Serve HTTPS (the default). `false` only behind a TLS-terminating proxy on the same host.
    pub tls: bool,
    /// PEM certificate chain and private key; both empty = a self-signed pair generated once
    /// under `<data_dir>/web/`.
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    /// A session ends after this many idle minutes, and in any case after `session_max_hours`.
    pub session_idle_min: u64,
    pub session_max_hours: u64,
    /// This many failed logins within `lockout_window_min` lock the account for the window.
    pub lockout_failures: usize,
    pub lockout_window_min: u64,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self { listen: "0.0.0.0:8443".into(), tls: true, tls_cert: PathBuf::new(), tls_key: PathBuf::new(), session_idle_min: 30, session_max_hours: 12, lockout_failures: 5, lockout_window_min: 15 }
    }
}

impl WebConfig {
    /// Returns the key (relative to `web.`) and the problem.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, problem: String| Err((key.to_string(), problem));
        if !self.listen.is_empty() && self.listen.parse::<std::net::SocketAddr>().is_err() {
            return bad("listen", format!("is not an address:port: {:?}", self.listen));
        }
        if self.tls_cert.as_os_str().is_empty() != self.tls_key.as_os_str().is_empty() {
            let key = if self.tls_cert.as_os_str().is_empty() { "tls_cert" } else { "tls_key" };
            return bad(key, "must be set together with tls_cert/tls_key (or both left empty for a self-signed certificate)".into());
        }
        if self.session_idle_min == 0 || self.session_idle_min > 24 * 60 {
            return bad("session_idle_min", "must be 1-1440".into());
        }
        if self.session_max_hours == 0 || self.session_max_hours > 24 * 7 {
            return bad("session_max_hours", "must be 1-168".into());
        }
        if self.lockout_failures < 2 || self.lockout_failures > 100 {
            return bad("lockout_failures", "must be 2-100".into());
        }
        if self.lockout_window_min == 0 || self.lockout_window_min > 24 * 60 {
            return bad("lockout_window_min", "must be 1-1440".into());
        }
        Ok(())
    }
}
