//! The local store: one SQLite database under the data dir holding call records and the EHR outbox.
//! A finished call's record and its outbox row are written in one transaction, so a result is either
//! both stored and queued for the EHR, or neither. Call records and the outbox can also live in
//! PostgreSQL, shared by several nodes ([`postgres`], chosen by `[store]`, [`config`]); the sync
//! worker reaches either through [`backend::OutboxStore`].
//!
//! Its layer, and what it may import: docs/architecture.md.

pub mod audit;
pub mod backend;
pub mod calls;
pub mod cipher;
pub mod config;
pub mod keys;
pub mod outbox;
pub mod postgres;
pub mod record;
pub mod recording;
pub mod recover;
pub mod rotate;
pub mod tasks;
pub mod users;

use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;
use rusqlite::Connection;
use thiserror::Error;

pub use keys::Keys;
pub use record::CallRecord;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("cannot create {path}: {source}")]
    Dir { path: String, source: std::io::Error },
    #[error("stored record is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("no call with id {0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    #[error(transparent)]
    Cipher(#[from] cipher::CipherError),
    /// The client's error with its causes (a TLS handshake's reason, the server's message).
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    #[error("sealed column {column} of call {call_id}: {problem}")]
    Sealed { column: String, call_id: String, problem: String },
}

/// A cheaply cloneable handle on the store's connection.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    keys: Arc<Keys>,
}

impl Store {
    /// Opens (creating when needed) the encrypted database and runs the migrations. The keys are
    /// found as the server finds them with the default `[security]`: `CHARTLINE_MASTER_KEY`, else
    /// the key file under `keys/` beside the database.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Self::open_with(path, Arc::new(Keys::for_data_dir(dir)?))
    }

    /// Opens the database with the store key of `keys`.
    pub fn open_with(path: &Path, keys: Arc<Keys>) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir { path: dir.display().to_string(), source })?;
        }
        let conn = cipher::open(path, &keys.all(keys::Purpose::Store))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Self::migrate(&conn)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)), keys })
    }

    /// The bare connection to a store file, keyed as `open` keys it but without migrations: what
    /// the sqlite3 shell with the key would see (tools and tests that edit the file directly).
    pub fn open_raw(path: &Path) -> Result<Connection, StoreError> {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let keys = Keys::for_data_dir(dir)?;
        Ok(cipher::open(path, &keys.all(keys::Purpose::Store))?)
    }

    fn migrate(conn: &Connection) -> Result<(), StoreError> {
        calls::migrate(conn)?;
        outbox::migrate(conn)?;
        users::migrate(conn)?;
        tasks::migrate(conn)?;
        audit::migrate(conn)
    }

    /// An in-memory store for tests.
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory()?;
        Self::migrate(&conn)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)), keys: Arc::new(Keys::ephemeral()) })
    }

    /// Runs `f` with the connection locked.
    pub fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        f(&mut self.conn.lock())
    }

    pub fn connection(&self) -> Arc<Mutex<Connection>> {
        self.conn.clone()
    }

    /// The keys this store was opened with (recordings are sealed with the same hierarchy).
    pub fn keys(&self) -> Arc<Keys> {
        self.keys.clone()
    }
}
