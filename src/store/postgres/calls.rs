//! Call records on the shared store, with the same rules as the local one (`store::calls`): saved
//! while the call runs, and finished together with its outbox row in one transaction; timeline
//! events another writer added meanwhile are kept (the row is locked while it is merged).

use deadpool_postgres::GenericClient;

use super::super::calls::merge_their_events;
use super::super::record::CallEvent;
use super::super::{CallRecord, StoreError};
use super::PgStore;

const RECORD: &str = "calls.record";

impl PgStore {
    /// Records a new call and gives it the next six-digit reference number a caller can read back.
    pub async fn begin_call(&self, record: &CallRecord) -> Result<String, StoreError> {
        let client = self.pool.get().await?;
        let sealed = self.seal(RECORD, &record.call_id, &serde_json::to_string(record)?);
        let row = client
            .query_one(
                "INSERT INTO calls (call_id, reference, started_at, record) VALUES ($1, lpad((100000 + nextval('call_reference'))::text, 6, '0'), $2, $3) RETURNING reference",
                &[&record.call_id, &record.started_at, &sealed],
            )
            .await?;
        Ok(row.get(0))
    }

    /// Replaces the record of a call still in progress, keeping events others added meanwhile.
    pub async fn save_progress(&self, record: &CallRecord) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let record = self.merged_for_update(&tx, record).await?;
        self.update(&tx, &record).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores the final record and queues it for the EHR in one transaction.
    pub async fn finish_call(&self, record: &CallRecord) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let record = self.merged_for_update(&tx, record).await?;
        self.update(&tx, &record).await?;
        self.enqueue(&tx, &record.call_id, &serde_json::to_string(&record)?).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Appends one event to a stored call's timeline (the row locked while it is rewritten).
    pub async fn add_call_event(&self, call_id: &str, event: CallEvent) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let mut record = self.stored_for_update(&tx, call_id).await?.ok_or_else(|| StoreError::NotFound(call_id.to_string()))?;
        record.events.push(event);
        self.update(&tx, &record).await?;
        tx.commit().await?;
        Ok(())
    }

    /// One call by id or by the reference number the caller was told.
    pub async fn call(&self, call_id: &str) -> Result<CallRecord, StoreError> {
        let client = self.pool.get().await?;
        let row = client.query_opt("SELECT call_id, record FROM calls WHERE call_id = $1 OR reference = $1", &[&call_id]).await?.ok_or_else(|| StoreError::NotFound(call_id.to_string()))?;
        let id: String = row.get(0);
        Ok(serde_json::from_str(&self.open_text(RECORD, &id, row.get(1))?)?)
    }

    async fn stored_for_update(&self, client: &impl GenericClient, call_id: &str) -> Result<Option<CallRecord>, StoreError> {
        let row = client.query_opt("SELECT record FROM calls WHERE call_id = $1 FOR UPDATE", &[&call_id]).await?;
        row.map(|row| Ok(serde_json::from_str(&self.open_text(RECORD, call_id, row.get(0))?)?)).transpose()
    }

    async fn merged_for_update(&self, client: &impl GenericClient, record: &CallRecord) -> Result<CallRecord, StoreError> {
        let mut record = record.clone();
        if let Some(stored) = self.stored_for_update(client, &record.call_id).await? {
            merge_their_events(&mut record, stored);
        }
        Ok(record)
    }

    async fn update(&self, client: &impl GenericClient, record: &CallRecord) -> Result<(), StoreError> {
        let sealed = self.seal(RECORD, &record.call_id, &serde_json::to_string(record)?);
        let changed = client.execute("UPDATE calls SET ended_at = $2, record = $3 WHERE call_id = $1", &[&record.call_id, &record.ended_at, &sealed]).await?;
        if changed == 0 {
            return Err(StoreError::NotFound(record.call_id.clone()));
        }
        Ok(())
    }

    /// Rewrites the stored record of `call_id` with `change` applied, in `client`'s transaction.
    pub(super) async fn change_record(&self, client: &impl GenericClient, call_id: &str, change: impl FnOnce(&mut CallRecord)) -> Result<(), StoreError> {
        if let Some(mut record) = self.stored_for_update(client, call_id).await? {
            change(&mut record);
            self.update(client, &record).await?;
        }
        Ok(())
    }
}
