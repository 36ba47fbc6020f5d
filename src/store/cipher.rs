//! SQLite files encrypted with SQLCipher: opening with one of a purpose's keys, encrypting a
//! database that was written in plain text by an earlier version, and rekeying.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use thiserror::Error;

use super::keys::DataKey;

const PLAIN_HEADER: &[u8; 16] = b"SQLite format 3\0";

#[derive(Debug, Error)]
pub enum CipherError {
    #[error("database {path}: {source}")]
    Db { path: String, source: rusqlite::Error },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("database {path} does not open with the keyring's key (ids {ids}): wrong master key, or not a Chartline database")]
    WrongKey { path: String, ids: String },
}

fn db_err(path: &Path) -> impl FnOnce(rusqlite::Error) -> CipherError + '_ {
    move |source| CipherError::Db { path: path.display().to_string(), source }
}

/// True when the file is an unencrypted SQLite database.
pub fn is_plaintext(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 16];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && &head == PLAIN_HEADER
}

fn apply_key(conn: &Connection, key: &DataKey) -> rusqlite::Result<()> {
    conn.execute_batch(&format!("PRAGMA key = {};", key.sqlcipher_literal()))
}

/// Whether the key opens the database (SQLCipher only checks on the first read).
fn key_works(conn: &Connection) -> bool {
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0)).is_ok()
}

/// Opens `path` encrypted with the first of `keys` that fits (a new file gets the first key).
/// A plaintext database left by an earlier version is encrypted in place first.
pub fn open(path: &Path, keys: &[&DataKey]) -> Result<Connection, CipherError> {
    let current = keys.first().expect("at least one key");
    if is_plaintext(path) {
        encrypt_plaintext(path, current)?;
    }
    for key in keys {
        let conn = Connection::open(path).map_err(db_err(path))?;
        apply_key(&conn, key).map_err(db_err(path))?;
        if key_works(&conn) {
            return Ok(conn);
        }
    }
    Err(CipherError::WrongKey { path: path.display().to_string(), ids: keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>().join(", ") })
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Copies a plaintext database into an encrypted one (SQLCipher's `sqlcipher_export`), then
/// replaces the original. The plaintext stays untouched until the encrypted copy is complete.
fn encrypt_plaintext(path: &Path, key: &DataKey) -> Result<(), CipherError> {
    let tmp = sidecar(path, ".encrypting");
    let _ = std::fs::remove_file(&tmp);
    {
        let plain = Connection::open(path).map_err(db_err(path))?;
        plain.busy_timeout(std::time::Duration::from_secs(5)).map_err(db_err(path))?;
        let literal = key.sqlcipher_literal();
        let tmp_sql = tmp.display().to_string().replace('\'', "''");
        plain
            .execute_batch(&format!(
                "ATTACH DATABASE '{tmp_sql}' AS encrypted KEY {literal};
                 SELECT sqlcipher_export('encrypted');
                 DETACH DATABASE encrypted;"
            ))
            .map_err(db_err(path))?;
        plain.pragma_update(None, "journal_mode", "DELETE").map_err(db_err(path))?;
    }
    std::fs::rename(&tmp, path).map_err(|source| CipherError::Io { path: path.display().to_string(), source })?;
    for stale in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(sidecar(path, stale));
    }
    tracing::info!(path = %path.display(), key_id = %key.id, "encrypted a plaintext database left by an earlier version");
    Ok(())
}

/// Re-encrypts an open database with `new` (`PRAGMA rekey`); the database is switched out of WAL
/// for the rekey and back afterwards.
pub fn rekey(conn: &Connection, path: &Path, new: &DataKey) -> Result<(), CipherError> {
    conn.pragma_update(None, "journal_mode", "DELETE").map_err(db_err(path))?;
    conn.execute_batch(&format!("PRAGMA rekey = {};", new.sqlcipher_literal())).map_err(db_err(path))?;
    conn.pragma_update(None, "journal_mode", "WAL").map_err(db_err(path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_file_is_not_sqlite_and_needs_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let key = DataKey::random();
        let conn = open(&path, &[&key]).unwrap();
        conn.execute_batch("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('Margaret Oduya 1951-07-14');").unwrap();
        drop(conn);
        let bytes = std::fs::read(&path).unwrap();
        assert!(!is_plaintext(&path));
        assert!(!bytes.windows(7).any(|w| w == b"Oduya 1"), "no plaintext in the file");
        let other = DataKey::random();
        assert!(matches!(open(&path, &[&other]), Err(CipherError::WrongKey { .. })));
        let conn = open(&path, &[&other, &key]).unwrap();
        let v: String = conn.query_row("SELECT v FROM t", [], |r| r.get(0)).unwrap();
        assert!(v.contains("Oduya"));
    }

    #[test]
    fn a_plaintext_database_is_encrypted_in_place_with_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let plain = Connection::open(&path).unwrap();
            plain.pragma_update(None, "journal_mode", "WAL").unwrap();
            plain.execute_batch("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('kept');").unwrap();
        }
        assert!(is_plaintext(&path));
        let key = DataKey::random();
        let conn = open(&path, &[&key]).unwrap();
        let v: String = conn.query_row("SELECT v FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(v, "kept");
        assert!(!is_plaintext(&path));
    }

    #[test]
    fn rekey_moves_the_database_to_the_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let (old, new) = (DataKey::random(), DataKey::random());
        let conn = open(&path, &[&old]).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (42);").unwrap();
        rekey(&conn, &path, &new).unwrap();
        drop(conn);
        assert!(matches!(open(&path, &[&old]), Err(CipherError::WrongKey { .. })));
        let conn = open(&path, &[&new]).unwrap();
        assert_eq!(conn.query_row("SELECT v FROM t", [], |r| r.get::<_, i64>(0)).unwrap(), 42);
    }
}
