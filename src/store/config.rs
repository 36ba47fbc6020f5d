//! `[store]`: where call records and the EHR outbox live. The embedded SQLCipher file under the
//! data dir (one box, the default), or a PostgreSQL server shared by several nodes.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    pub backend: Backend,
    pub postgres: PostgresConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostgresConfig {
    /// `postgres://USER:PASSWORD@HOST:PORT/DB`; TLS is always required, whatever `sslmode` says.
    pub url: String,
    /// PEM CA(s) that signed the server's certificate, trusted besides the system's roots.
    pub ca_file: PathBuf,
    /// Connections kept open to the server.
    pub pool_size: usize,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        Self { url: String::new(), ca_file: PathBuf::new(), pool_size: 8 }
    }
}

impl StoreConfig {
    /// Returns the bad key (relative to `[store]`) and the problem.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.backend != Backend::Postgres {
            return Ok(());
        }
        let bad = |key: &str, problem: String| Err((format!("postgres.{key}"), problem));
        if self.postgres.url.is_empty() {
            return bad("url", "is empty; backend = \"postgres\" needs the server's URL".into());
        }
        if let Err(e) = self.postgres.url.parse::<tokio_postgres::Config>() {
            // The URL may hold a password: name the problem, not the value.
            return bad("url", format!("is not a PostgreSQL connection URL: {e}"));
        }
        if !(1..=64).contains(&self.postgres.pool_size) {
            return bad("pool_size", format!("must be 1..64, not {}", self.postgres.pool_size));
        }
        if !self.postgres.ca_file.as_os_str().is_empty() && !self.postgres.ca_file.is_file() {
            return bad("ca_file", format!("{} is not a file", self.postgres.ca_file.display()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_needs_a_url_and_a_sane_pool() {
        let mut config = StoreConfig { backend: Backend::Postgres, ..Default::default() };
        assert_eq!(config.validate().unwrap_err().0, "postgres.url");
        config.postgres.url = "not a url at all ::".into();
        assert_eq!(config.validate().unwrap_err().0, "postgres.url");
        config.postgres.url = "postgres://chartline:pw@127.0.0.1:5432/chartline".into();
        config.postgres.pool_size = 0;
        assert_eq!(config.validate().unwrap_err().0, "postgres.pool_size");
        config.postgres.pool_size = 4;
        config.postgres.ca_file = "/nonexistent/ca.crt".into();
        assert_eq!(config.validate().unwrap_err().0, "postgres.ca_file");
        config.postgres.ca_file = PathBuf::new();
        assert!(config.validate().is_ok());
        assert!(StoreConfig::default().validate().is_ok(), "sqlite needs nothing");
    }
}
