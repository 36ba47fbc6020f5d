//! The EHR outbox: one row per finished call, written in the same transaction as the call record,
//! so the result is queued for the EHR exactly when it is stored.
//!
//! Row life: `pending` → claimed (`delivering`, with a lease) → `delivered` (refs stored, and the
//! call record's `ehr` field updated in the same transaction), or back to `pending` with a later
//! `next_attempt_at`, or `dead_letter` (kept and listed; `requeue` sends it again). A worker that
//! dies mid-delivery leaves a `delivering` row whose lease runs out; it is then claimed again and,
//! because EHR writes are idempotent on the call id, delivered once.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

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
    // Added for the sync worker; ALTER for stores created before.
    let columns: Vec<String> = conn.prepare("SELECT name FROM pragma_table_info('outbox')")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    for (name, ty) in [("enqueued_at", "TEXT"), ("lease_until", "TEXT")] {
        if !columns.iter().any(|c| c == name) {
            conn.execute_batch(&format!("ALTER TABLE outbox ADD COLUMN {name} {ty}"))?;
        }
    }
    conn.execute_batch("CREATE INDEX IF NOT EXISTS outbox_due ON outbox(status, next_attempt_at)")?;
    Ok(())
}

/// The timestamp format of the outbox columns (sorts as text).
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_stamp(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_else(|_| Utc::now())
}

/// Queues (or re-queues, replacing the payload of a row not yet delivered) a call result.
pub fn enqueue(tx: &Transaction<'_>, call_id: &str, payload: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO outbox (call_id, payload, enqueued_at) VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%fZ','now'))
         ON CONFLICT(call_id) DO UPDATE SET payload = excluded.payload WHERE outbox.status != 'delivered'",
        params![call_id, payload],
    )?;
    Ok(())
}

/// A claimed row, handed to the sync worker.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub call_id: String,
    pub payload: String,
    /// Including this one.
    pub attempts: u32,
    pub enqueued_at: DateTime<Utc>,
}

/// Claims up to `limit` rows that are due (pending and due, or delivering with an expired lease),
/// marking them `delivering` until `now + lease` and counting the attempt.
pub fn claim_due(conn: &mut Connection, now: DateTime<Utc>, lease: Duration, limit: usize) -> Result<Vec<Claimed>, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let now_s = stamp(now);
    let rows: Vec<Claimed> = {
        let mut stmt = tx.prepare(
            "SELECT call_id, payload, attempts, COALESCE(enqueued_at, next_attempt_at) FROM outbox
             WHERE (status = 'pending' AND next_attempt_at <= ?1) OR (status = 'delivering' AND lease_until <= ?1)
             ORDER BY next_attempt_at LIMIT ?2",
        )?;
        stmt.query_map(params![now_s, limit as i64], |r| {
            Ok(Claimed { call_id: r.get(0)?, payload: r.get(1)?, attempts: r.get::<_, i64>(2)? as u32 + 1, enqueued_at: parse_stamp(&r.get::<_, String>(3)?) })
        })?
        .collect::<Result<_, _>>()?
    };
    for row in &rows {
        tx.execute("UPDATE outbox SET status = 'delivering', attempts = ?2, lease_until = ?3 WHERE call_id = ?1", params![row.call_id, row.attempts, stamp(now + lease)])?;
    }
    tx.commit()?;
    Ok(rows)
}

/// Marks a row delivered and writes the EHR refs into the call record, in one transaction.
pub fn mark_delivered(conn: &mut Connection, call_id: &str, refs: &[String], at: DateTime<Utc>) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    let refs_json = serde_json::to_string(refs)?;
    tx.execute("UPDATE outbox SET status = 'delivered', refs = ?2, delivered_at = ?3, last_error = NULL, lease_until = NULL WHERE call_id = ?1", params![call_id, refs_json, stamp(at)])?;
    let ehr = serde_json::json!({"status": "delivered", "refs": refs, "delivered_at": at});
    tx.execute("UPDATE calls SET record = json_set(record, '$.ehr', json(?2)) WHERE call_id = ?1", params![call_id, ehr.to_string()])?;
    tx.commit()?;
    Ok(())
}

/// Puts a claimed row back to `pending` until `next_at`, keeping the error. A row another worker
/// delivered meanwhile (after this one's lease ran out) stays delivered.
pub fn mark_retry(conn: &Connection, call_id: &str, next_at: DateTime<Utc>, error: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE outbox SET status = 'pending', next_attempt_at = ?2, last_error = ?3, lease_until = NULL WHERE call_id = ?1 AND status = 'delivering'",
        params![call_id, stamp(next_at), error],
    )?;
    Ok(())
}

/// Gives back a row claimed by a worker that stops before finishing it (no-op once it is finished).
pub fn release(conn: &Connection, call_id: &str) -> Result<(), StoreError> {
    conn.execute("UPDATE outbox SET status = 'pending', lease_until = NULL WHERE call_id = ?1 AND status = 'delivering'", params![call_id])?;
    Ok(())
}

/// Moves a row to the dead letter and marks the call's EHR status failed.
pub fn mark_dead(conn: &mut Connection, call_id: &str, error: &str) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    let changed = tx.execute("UPDATE outbox SET status = 'dead_letter', last_error = ?2, lease_until = NULL WHERE call_id = ?1 AND status = 'delivering'", params![call_id, error])?;
    if changed > 0 {
        tx.execute("UPDATE calls SET record = json_set(record, '$.ehr.status', 'failed') WHERE call_id = ?1", params![call_id])?;
    }
    tx.commit()?;
    Ok(())
}

/// Sends dead-lettered (or all undelivered, with `call_id = None`) rows again now. Returns how many.
pub fn requeue(conn: &Connection, call_id: Option<&str>, now: DateTime<Utc>) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "UPDATE outbox SET status = 'pending', next_attempt_at = ?2, enqueued_at = ?2, lease_until = NULL
         WHERE status = 'dead_letter' AND (?1 IS NULL OR call_id = ?1)",
        params![call_id, stamp(now)],
    )?)
}

/// When the next row falls due (None when nothing is waiting).
pub fn next_due(conn: &Connection) -> Result<Option<DateTime<Utc>>, StoreError> {
    let next: Option<String> = conn
        .query_row("SELECT MIN(CASE status WHEN 'pending' THEN next_attempt_at ELSE lease_until END) FROM outbox WHERE status IN ('pending', 'delivering')", [], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(next.map(|s| parse_stamp(&s)))
}

/// Rows not yet tried or being delivered right now (not those waiting out a retry backoff): what
/// a shutdown waits for.
pub fn fresh_undelivered(conn: &Connection) -> Result<usize, StoreError> {
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM outbox WHERE (status = 'pending' AND attempts = 0) OR status = 'delivering'", [], |r| r.get(0))?;
    Ok(n as usize)
}

/// Row counts by status.
pub fn counts(conn: &Connection) -> Result<Vec<(String, i64)>, StoreError> {
    let mut stmt = conn.prepare("SELECT status, COUNT(*) FROM outbox GROUP BY status ORDER BY status")?;
    Ok(stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?)
}

/// Rows by status, for `chartline outbox --json`.
pub fn list(conn: &Connection) -> Result<Vec<serde_json::Value>, StoreError> {
    let mut stmt = conn.prepare("SELECT call_id, status, attempts, next_attempt_at, last_error, delivered_at, refs, enqueued_at FROM outbox ORDER BY rowid")?;
    let rows = stmt.query_map([], |row| {
        let refs: Option<String> = row.get(6)?;
        Ok(serde_json::json!({
            "call_id": row.get::<_, String>(0)?,
            "status": row.get::<_, String>(1)?,
            "attempts": row.get::<_, i64>(2)?,
            "next_attempt_at": row.get::<_, String>(3)?,
            "last_error": row.get::<_, Option<String>>(4)?,
            "delivered_at": row.get::<_, Option<String>>(5)?,
            "refs": refs.and_then(|r| serde_json::from_str::<serde_json::Value>(&r).ok()).unwrap_or(serde_json::json!([])),
            "enqueued_at": row.get::<_, Option<String>>(7)?,
        }))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{CallRecord, Store};

    fn finished(store: &Store, id: &str) {
        let record = CallRecord { call_id: id.into(), started_at: Utc::now(), ..Default::default() };
        store.begin_call(&record).unwrap();
        let mut done = record.clone();
        done.ended_at = Some(Utc::now());
        store.finish_call(&done).unwrap();
    }

    #[test]
    fn claim_lease_retry_deliver() {
        let store = Store::in_memory().unwrap();
        finished(&store, "a");
        finished(&store, "b");
        let now = Utc::now() + Duration::seconds(1);
        let lease = Duration::seconds(60);
        store
            .with(|c| {
                let claimed = claim_due(c, now, lease, 10)?;
                assert_eq!(claimed.len(), 2);
                assert_eq!(claimed[0].attempts, 1);
                // Claimed rows are not handed out twice while the lease holds.
                assert!(claim_due(c, now, lease, 10)?.is_empty());
                // The lease of a dead worker runs out.
                let again = claim_due(c, now + Duration::seconds(61), lease, 10)?;
                assert_eq!(again.len(), 2);
                assert_eq!(again[0].attempts, 2);
                mark_retry(c, "a", now + Duration::seconds(100), "503")?;
                mark_delivered(c, "b", &["Task/1".to_string()], now)?;
                assert!(claim_due(c, now + Duration::seconds(99), lease, 10)?.is_empty());
                assert_eq!(next_due(c)?.unwrap(), parse_stamp(&stamp(now + Duration::seconds(100))));
                // A stale worker cannot undo a delivery.
                mark_retry(c, "b", now, "late failure")?;
                assert_eq!(list(c)?[1]["status"], "delivered");
                let claimed = claim_due(c, now + Duration::seconds(100), lease, 10)?;
                assert_eq!(claimed.len(), 1);
                mark_dead(c, "a", "400 invalid")?;
                assert_eq!(next_due(c)?, None);
                mark_retry(c, "a", now, "stale")?;
                assert_eq!(list(c)?[0]["status"], "dead_letter");
                assert_eq!(counts(c)?, vec![("dead_letter".to_string(), 1), ("delivered".to_string(), 1)]);
                assert_eq!(requeue(c, None, now)?, 1);
                assert_eq!(claim_due(c, now, lease, 10)?.len(), 1);
                Ok(())
            })
            .unwrap();
        let b = store.call("b").unwrap();
        assert_eq!(b.ehr.refs, ["Task/1"]);
        assert_eq!(b.ehr.status, crate::store::record::DeliveryStatus::Delivered);
        assert_eq!(store.call("a").unwrap().ehr.status, crate::store::record::DeliveryStatus::Failed);
    }

    #[test]
    fn delivered_rows_are_not_requeued_by_a_second_finish() {
        let store = Store::in_memory().unwrap();
        finished(&store, "a");
        store.with(|c| mark_delivered(c, "a", &["Task/9".to_string()], Utc::now())).unwrap();
        let mut again = store.call("a").unwrap();
        again.transcript = Some("late".into());
        store.finish_call(&again).unwrap();
        let rows = store.with(|c| list(c)).unwrap();
        assert_eq!(rows[0]["status"], "delivered");
    }
}
