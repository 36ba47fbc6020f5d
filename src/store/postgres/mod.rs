//! The shared store on PostgreSQL (`[store] backend = "postgres"`): call records and the EHR
//! outbox in one database that several nodes use at once, so any node can deliver a result.
//!
//! In transit: every connection is TLS (rustls, the server's certificate checked against the
//! system roots plus `[store.postgres] ca_file`), whatever the URL's `sslmode`. At rest: the call
//! record, the outbox payload and its last error reach the server sealed with the store's data key
//! ([`sealed`]); the server sees only the columns its queries need (call id, reference, status,
//! attempts, timestamps, lease, EHR refs). Nodes that share a database share the keyring: the same
//! master key and `keys/keyring.json`.
//!
//! The client is tokio-postgres on a deadpool pool (async: the sync `postgres` crate runs its own
//! runtime and cannot be called from the tokio tasks that drive calls and the sync worker).

mod calls;
pub mod outbox;
pub mod sealed;

use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

use super::config::PostgresConfig;
use super::{Keys, StoreError};

/// Schema changes, run in order under an advisory lock (nodes starting together do not race).
const MIGRATIONS: &str = "
CREATE TABLE IF NOT EXISTS calls (
    call_id    TEXT PRIMARY KEY,
    reference  TEXT UNIQUE NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    ended_at   TIMESTAMPTZ,
    record     BYTEA NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_started ON calls(started_at);
CREATE SEQUENCE IF NOT EXISTS call_reference;
CREATE TABLE IF NOT EXISTS outbox (
    call_id         TEXT PRIMARY KEY REFERENCES calls(call_id),
    payload         BYTEA NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    enqueued_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_until     TIMESTAMPTZ,
    leased_by       TEXT,
    last_error      BYTEA,
    refs            JSONB,
    delivered_at    TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(status, next_attempt_at);
";

/// Any number in the advisory lock space, the same on every node.
const MIGRATION_LOCK: i64 = 0x6368_6172_746c;

/// `error: cause: cause …`: the client's errors name the reason only in their sources.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        StoreError::Postgres(with_causes(&e))
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        StoreError::Postgres(with_causes(&e))
    }
}

/// A cheaply cloneable handle on the shared store: a connection pool and the keyring.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    keys: Arc<Keys>,
    /// This handle's name on the leases it takes (a node's claims are its own to finish).
    node: Arc<str>,
}

impl PgStore {
    /// Connects (TLS required), checks the server answers, and runs the migrations.
    pub async fn open(config: &PostgresConfig, keys: Arc<Keys>) -> Result<Self, StoreError> {
        let mut pg: tokio_postgres::Config = config.url.parse().map_err(|e| StoreError::Invalid(format!("store.postgres.url: {e}")))?;
        pg.ssl_mode(tokio_postgres::config::SslMode::Require);
        let roots = crate::crypto::tls::client_roots(&config.ca_file).map_err(|problem| StoreError::Invalid(format!("store.postgres.ca_file {}: {problem}", config.ca_file.display())))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| StoreError::Invalid(format!("TLS for PostgreSQL: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let manager = Manager::from_config(pg, tokio_postgres_rustls::MakeRustlsConnect::new(tls), ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager).max_size(config.pool_size).build().map_err(|e| StoreError::Invalid(format!("PostgreSQL pool: {e}")))?;
        let store = Self { pool, keys, node: Arc::from(uuid::Uuid::new_v4().to_string()) };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
        tx.batch_execute(MIGRATIONS).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The keys the sealed columns are sealed with.
    pub fn keys(&self) -> Arc<Keys> {
        self.keys.clone()
    }

    fn seal(&self, column: &str, call_id: &str, plain: &str) -> Vec<u8> {
        sealed::seal(&self.keys, column, call_id, plain.as_bytes())
    }

    fn open_text(&self, column: &str, call_id: &str, sealed: &[u8]) -> Result<String, StoreError> {
        sealed::open_text(&self.keys, column, call_id, sealed)
    }
}
