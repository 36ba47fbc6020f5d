//! `[sip.trunk]`: how the provider's trunk reaches us. `mode = "ip"` trusts listed source networks;
//! `mode = "register"` also registers with the provider's registrar using digest credentials.
//! Validation names the key (within `[sip]`) that is wrong.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::Transport;
use super::acl::{Acl, Unlisted};
use super::auth::{Credentials, Secret};
use super::transaction::Timers;
use super::trunk::TrunkParams;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrunkMode {
    /// The provider sends calls from known addresses; we do not register.
    #[default]
    Ip,
    /// We register with the provider's registrar.
    Register,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrunkConfig {
    pub mode: TrunkMode,
    /// Networks (CIDR) whose requests we serve. The registrar's address is trusted as well.
    pub allowed_sources: Vec<String>,
    /// What a request from elsewhere gets: `reject` (403) or `drop` (nothing).
    pub unlisted_sources: Unlisted,
    /// The provider's SIP server, `host:port` (registrar and OPTIONS target). Empty in ip mode =
    /// no keepalive.
    pub registrar: String,
    /// Domain of our address-of-record; empty = the registrar's host (and port, if not 5060).
    pub domain: String,
    pub username: String,
    /// Name used in digest authentication; empty = `username`.
    pub auth_username: String,
    /// One of `password`, `password_file`, `password_env` in register mode.
    pub password: Secret,
    pub password_file: String,
    pub password_env: String,
    pub expires_s: u64,
    /// Seconds between OPTIONS keepalives; 0 = none.
    pub keepalive_interval_s: u64,
    /// How REGISTER and OPTIONS reach the registrar: `udp`, `tcp` or `tls` (TLS: port 5061 unless
    /// `registrar` says otherwise, certificate verified for the registrar's host).
    pub transport: String,
}

impl Default for TrunkConfig {
    fn default() -> Self {
        Self {
            mode: TrunkMode::Ip,
            // Only this machine: a real deployment lists its PBX or provider explicitly.
            allowed_sources: vec!["127.0.0.0/8".into(), "::1/128".into()],
            unlisted_sources: Unlisted::Reject,
            registrar: String::new(),
            domain: String::new(),
            username: String::new(),
            auth_username: String::new(),
            password: Secret::default(),
            password_file: String::new(),
            password_env: String::new(),
            expires_s: 3600,
            keepalive_interval_s: 30,
            transport: "udp".into(),
        }
    }
}

type Invalid = (String, String);

fn invalid(key: &str, problem: impl Into<String>) -> Invalid {
    (key.to_string(), problem.into())
}

impl TrunkConfig {
    /// Range and cross-field checks; the key is relative to `[sip.trunk]`.
    pub fn validate(&self) -> Result<(), Invalid> {
        self.acl()?;
        if self.mode == TrunkMode::Ip && self.allowed_sources.is_empty() {
            return Err(invalid("allowed_sources", "must list at least one network in ip mode (e.g. your PBX's address)"));
        }
        if !self.registrar.is_empty() {
            let (host, port) = split_host_port(&self.registrar).ok_or_else(|| invalid("registrar", format!("is not host:port: {:?}", self.registrar)))?;
            if host.is_empty() || port == 0 {
                return Err(invalid("registrar", format!("is not host:port: {:?}", self.registrar)));
            }
        }
        if Transport::from_name(&self.transport).is_none() {
            return Err(invalid("transport", "must be \"udp\", \"tcp\" or \"tls\""));
        }
        if !(60..=86_400).contains(&self.expires_s) {
            return Err(invalid("expires_s", "must be between 60 and 86400"));
        }
        if self.keepalive_interval_s != 0 && !(5..=3600).contains(&self.keepalive_interval_s) {
            return Err(invalid("keepalive_interval_s", "must be 0 (off) or between 5 and 3600"));
        }
        if self.mode == TrunkMode::Register {
            if self.registrar.is_empty() {
                return Err(invalid("registrar", "is required in register mode"));
            }
            if self.username.is_empty() || self.username.contains(|c: char| c.is_whitespace() || "<>@:;\"".contains(c)) {
                return Err(invalid("username", "must be a plain SIP user name in register mode"));
            }
            self.secret()?;
        }
        Ok(())
    }

    pub fn acl(&self) -> Result<Acl, Invalid> {
        Acl::parse(&self.allowed_sources, self.unlisted_sources).map_err(|(i, e)| invalid("allowed_sources", format!("entry {}: {e}", i + 1)))
    }

    /// The password from exactly one of its three sources.
    pub fn secret(&self) -> Result<Secret, Invalid> {
        load_secret(&self.password, &self.password_file, &self.password_env, "register mode")
    }

    pub fn effective_domain(&self) -> String {
        if !self.domain.is_empty() {
            return self.domain.clone();
        }
        match split_host_port(&self.registrar) {
            Some((host, 5060)) => host.to_string(),
            _ => self.registrar.clone(),
        }
    }

    /// Parameters for the trunk state machine, or `None` when there is nothing to talk to.
    pub fn params(&self, server: SocketAddr, local: SocketAddr, timers: Timers) -> Result<Option<TrunkParams>, Invalid> {
        let register = self.mode == TrunkMode::Register;
        let keepalive = (self.keepalive_interval_s > 0).then(|| Duration::from_secs(self.keepalive_interval_s));
        if !register && keepalive.is_none() {
            return Ok(None);
        }
        let credentials = if register {
            let username = if self.auth_username.is_empty() { self.username.clone() } else { self.auth_username.clone() };
            Some(Credentials { username, password: self.secret()? })
        } else {
            None
        };
        let username = if self.username.is_empty() { "chartline".to_string() } else { self.username.clone() };
        let transport = self.transport();
        let host = split_host_port(&self.registrar).map(|(host, _)| host.to_string()).unwrap_or_default();
        Ok(Some(TrunkParams { server, domain: self.effective_domain(), username, credentials, register, expires: Duration::from_secs(self.expires_s), keepalive, local, timers, transport, host }))
    }

    pub fn transport(&self) -> Transport {
        Transport::from_name(&self.transport).unwrap_or(Transport::Udp)
    }
}

/// A password from exactly one of `password`, `password_file` (its first line) and `password_env`
/// (an environment variable's name); `needed_by` says which setting requires one.
pub fn load_secret(password: &Secret, password_file: &str, password_env: &str, needed_by: &str) -> Result<Secret, Invalid> {
    match [!password.is_empty(), !password_file.is_empty(), !password_env.is_empty()] {
        [true, false, false] => Ok(password.clone()),
        [false, true, false] => {
            let text = std::fs::read_to_string(password_file).map_err(|e| invalid("password_file", format!("cannot read {password_file:?}: {e}")))?;
            let password = text.trim_end_matches(['\r', '\n']);
            if password.is_empty() {
                return Err(invalid("password_file", format!("{password_file:?} is empty")));
            }
            Ok(Secret::new(password))
        }
        [false, false, true] => match std::env::var(password_env) {
            Ok(value) if !value.is_empty() => Ok(Secret::new(value)),
            _ => Err(invalid("password_env", format!("environment variable {password_env} is not set"))),
        },
        [false, false, false] => Err(invalid("password", format!("{needed_by} needs one of password, password_file, password_env"))),
        _ => Err(invalid("password", "set only one of password, password_file, password_env")),
    }
}

/// Whether `host:port` text names its port.
pub fn has_port(text: &str) -> bool {
    match text.strip_prefix('[') {
        Some(bracketed) => bracketed.contains("]:"),
        None => text.contains(':'),
    }
}

/// `host:port`, `[v6]:port`; the port defaults to 5060.
pub fn split_host_port(text: &str) -> Option<(&str, u16)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(port) => Some((host, port.parse().ok()?)),
            None if after.is_empty() => Some((host, 5060)),
            None => None,
        };
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Some((host, port.parse().ok()?)),
        Some(_) => None,
        None => Some((text, 5060)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_follow_the_mode() {
        let local = "127.0.0.1:5060".parse().unwrap();
        let server = "127.0.0.1:5099".parse().unwrap();
        let ip_only = TrunkConfig { keepalive_interval_s: 0, ..Default::default() };
        assert!(ip_only.params(server, local, Timers::default()).unwrap().is_none());
        let register =
            TrunkConfig { mode: TrunkMode::Register, registrar: "sip.example.org".into(), username: "u".into(), auth_username: "a".into(), password: Secret::new("p"), ..Default::default() };
        let p = register.params(server, local, Timers::default()).unwrap().unwrap();
        assert_eq!((p.domain.as_str(), p.credentials.unwrap().username.as_str(), p.register), ("sip.example.org", "a", true));
    }

    #[test]
    fn host_port_forms() {
        assert_eq!(split_host_port("pbx.example:5080"), Some(("pbx.example", 5080)));
        assert_eq!(split_host_port("pbx.example"), Some(("pbx.example", 5060)));
        assert_eq!(split_host_port("[::1]:5070"), Some(("::1", 5070)));
        assert_eq!(split_host_port("::1"), None);
        assert_eq!(split_host_port("pbx:http"), None);
    }
}
