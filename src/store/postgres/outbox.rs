//! The EHR outbox on the shared store: the row life of `store::outbox` (pending → delivering with
//! a lease → delivered / pending again / dead letter), for several nodes at once. A claim takes due
//! rows with `FOR UPDATE SKIP LOCKED`, so two nodes claiming together get different rows, and
//! stamps them with this node's name and a lease on the database's clock (nodes' clocks may
//! differ); a node that dies leaves its rows until the lease runs out, then another claims them.
//! Only the holder of a lease puts its row back (retry, release, dead letter); `delivered` is
//! final whoever writes it (EHR writes are idempotent on the call id).

use chrono::{DateTime, Duration, Utc};
use deadpool_postgres::GenericClient;

use super::super::StoreError;
use super::super::outbox::Claimed;
use super::super::record::{DeliveryStatus, EhrStatus};
use super::PgStore;

const PAYLOAD: &str = "outbox.payload";
const LAST_ERROR: &str = "outbox.last_error";

fn seconds(d: Duration) -> f64 {
    d.num_milliseconds().max(0) as f64 / 1000.0
}

impl PgStore {
    /// Queues (or re-queues, replacing the payload of a row not yet delivered) a call result.
    pub(super) async fn enqueue(&self, client: &impl GenericClient, call_id: &str, payload: &str) -> Result<(), StoreError> {
        let sealed = self.seal(PAYLOAD, call_id, payload);
        client
            .execute(
                "INSERT INTO outbox (call_id, payload) VALUES ($1, $2)
                 ON CONFLICT (call_id) DO UPDATE SET payload = excluded.payload WHERE outbox.status != 'delivered'",
                &[&call_id, &sealed],
            )
            .await?;
        Ok(())
    }

    /// Claims up to `limit` due rows (pending and due, or delivering with a lease run out) for this
    /// node until now + `lease`, counting the attempt.
    pub async fn claim_due(&self, lease: Duration, limit: usize) -> Result<Vec<Claimed>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "UPDATE outbox o SET status = 'delivering', attempts = o.attempts + 1,
                        lease_until = now() + make_interval(secs => $1), leased_by = $2
                 FROM (SELECT call_id FROM outbox
                       WHERE (status = 'pending' AND next_attempt_at <= now()) OR (status = 'delivering' AND lease_until <= now())
                       ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) due
                 WHERE o.call_id = due.call_id
                 RETURNING o.call_id, o.payload, o.attempts, o.enqueued_at",
                &[&seconds(lease), &&*self.node, &(limit as i64)],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let call_id: String = row.get(0);
                let payload = self.open_text(PAYLOAD, &call_id, row.get(1))?;
                Ok(Claimed { payload, attempts: row.get::<_, i32>(2) as u32, enqueued_at: row.get(3), call_id })
            })
            .collect()
    }

    /// Marks a row delivered and writes the EHR refs into the call record, in one transaction.
    pub async fn mark_delivered(&self, call_id: &str, refs: &[String], at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "UPDATE outbox SET status = 'delivered', refs = $2, delivered_at = $3, last_error = NULL, lease_until = NULL, leased_by = NULL WHERE call_id = $1",
            &[&call_id, &serde_json::to_value(refs)?, &at],
        )
        .await?;
        self.change_record(&tx, call_id, |record| record.ehr = EhrStatus { status: DeliveryStatus::Delivered, refs: refs.to_vec(), delivered_at: Some(at) }).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Puts a row this node holds back to `pending` until `next_at` (as a delay from now on the
    /// database's clock), keeping the error.
    pub async fn mark_retry(&self, call_id: &str, next_at: DateTime<Utc>, error: &str) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        let sealed = self.seal(LAST_ERROR, call_id, error);
        client
            .execute(
                "UPDATE outbox SET status = 'pending', next_attempt_at = now() + make_interval(secs => $2), last_error = $3, lease_until = NULL, leased_by = NULL
                 WHERE call_id = $1 AND status = 'delivering' AND leased_by = $4",
                &[&call_id, &seconds(next_at - Utc::now()), &sealed, &&*self.node],
            )
            .await?;
        Ok(())
    }

    /// Gives back a row this node claimed but stops before finishing.
    pub async fn release(&self, call_id: &str) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client.execute("UPDATE outbox SET status = 'pending', lease_until = NULL, leased_by = NULL WHERE call_id = $1 AND status = 'delivering' AND leased_by = $2", &[&call_id, &&*self.node]).await?;
        Ok(())
    }

    /// Moves a row this node holds to the dead letter and marks the call's EHR status failed.
    pub async fn mark_dead(&self, call_id: &str, error: &str) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let sealed = self.seal(LAST_ERROR, call_id, error);
        let changed = tx
            .execute(
                "UPDATE outbox SET status = 'dead_letter', last_error = $2, lease_until = NULL, leased_by = NULL WHERE call_id = $1 AND status = 'delivering' AND leased_by = $3",
                &[&call_id, &sealed, &&*self.node],
            )
            .await?;
        if changed > 0 {
            self.change_record(&tx, call_id, |record| record.ehr.status = DeliveryStatus::Failed).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Sends dead-lettered rows (all, or `call_id`'s) again now. Returns how many.
    pub async fn requeue(&self, call_id: Option<&str>) -> Result<usize, StoreError> {
        let client = self.pool.get().await?;
        let n = client
            .execute(
                "UPDATE outbox SET status = 'pending', next_attempt_at = now(), enqueued_at = now(), lease_until = NULL, leased_by = NULL
                 WHERE status = 'dead_letter' AND ($1::text IS NULL OR call_id = $1)",
                &[&call_id],
            )
            .await?;
        Ok(n as usize)
    }

    /// When the next row falls due, on this node's clock (None when nothing is waiting).
    pub async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let client = self.pool.get().await?;
        let row = client.query_one("SELECT now(), MIN(CASE status WHEN 'pending' THEN next_attempt_at ELSE lease_until END) FROM outbox WHERE status IN ('pending', 'delivering')", &[]).await?;
        let (db_now, due): (DateTime<Utc>, Option<DateTime<Utc>>) = (row.get(0), row.get(1));
        Ok(due.map(|due| Utc::now() + (due - db_now)))
    }

    /// Rows not yet tried or being delivered right now: what a shutdown waits for.
    pub async fn fresh_undelivered(&self) -> Result<usize, StoreError> {
        let client = self.pool.get().await?;
        let n: i64 = client.query_one("SELECT COUNT(*) FROM outbox WHERE (status = 'pending' AND attempts = 0) OR status = 'delivering'", &[]).await?.get(0);
        Ok(n as usize)
    }

    /// Row counts by status.
    pub async fn counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client.query("SELECT status, COUNT(*) FROM outbox GROUP BY status ORDER BY status", &[]).await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Rows in the shape of `store::outbox::list`, for `chartline outbox --json`.
    pub async fn list(&self) -> Result<Vec<serde_json::Value>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client.query("SELECT call_id, status, attempts, next_attempt_at, last_error, delivered_at, refs, enqueued_at FROM outbox ORDER BY enqueued_at, call_id", &[]).await?;
        rows.iter()
            .map(|row| {
                let call_id: String = row.get(0);
                let last_error = row.get::<_, Option<&[u8]>>(4).map(|sealed| self.open_text(LAST_ERROR, &call_id, sealed)).transpose()?;
                let stamp = |t: Option<DateTime<Utc>>| t.map(super::super::outbox::stamp);
                Ok(serde_json::json!({
                    "call_id": call_id,
                    "status": row.get::<_, String>(1),
                    "attempts": row.get::<_, i32>(2),
                    "next_attempt_at": super::super::outbox::stamp(row.get(3)),
                    "last_error": last_error,
                    "delivered_at": stamp(row.get(5)),
                    "refs": row.get::<_, Option<serde_json::Value>>(6).unwrap_or(serde_json::json!([])),
                    "enqueued_at": stamp(Some(row.get(7))),
                }))
            })
            .collect()
    }
}
