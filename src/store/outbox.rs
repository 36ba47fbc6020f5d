//! The EHR outbox: one row per finished call, written in the same transaction as the call record,
//! so the result is queued for the EHR exactly when it is stored.

use rusqlite::{Connection, Transaction, params};

use super::StoreError;

pub(super) fn migrate(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS outbox (
            call_id         TEXT PRIMARY KEY,
            payload         TEXT NOT NULL,
            status          TEXT NOT NULL DEFAULT 'pending',
            attempts        INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
            last_error      TEXT,
            refs            TEXT,
            delivered_at    TEXT
        );",
    )?;
    Ok(())
}

/// Queues (or re-queues, replacing the payload of a row not yet delivered) a call result.
pub fn enqueue(tx: &Transaction<'_>, call_id: &str, payload: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO outbox (call_id, payload) VALUES (?1, ?2)
         ON CONFLICT(call_id) DO UPDATE SET payload = excluded.payload WHERE outbox.status != 'delivered'",
        params![call_id, payload],
    )?;
    Ok(())
}

/// Rows by status, for `chartline outbox --json`.
pub fn list(conn: &Connection) -> Result<Vec<serde_json::Value>, StoreError> {
    let mut stmt = conn.prepare("SELECT call_id, status, attempts, next_attempt_at, last_error, delivered_at FROM outbox ORDER BY rowid")?;
    let rows = stmt.query_map([], |row| {
        Ok(serde_json::json!({
            "call_id": row.get::<_, String>(0)?,
            "status": row.get::<_, String>(1)?,
            "attempts": row.get::<_, i64>(2)?,
            "next_attempt_at": row.get::<_, String>(3)?,
            "last_error": row.get::<_, Option<String>>(4)?,
            "delivered_at": row.get::<_, Option<String>>(5)?,
        }))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
