//! Call records: saved while the call runs (so an interrupted call keeps what it captured) and once
//! more, together with the EHR outbox row, when it ends.

use rusqlite::{Connection, OptionalExtension, params};

use super::record::CallEvent;
use super::{CallRecord, Store, StoreError};

pub(super) fn migrate(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS calls (
            call_id    TEXT PRIMARY KEY,
            reference  TEXT UNIQUE,
            started_at TEXT NOT NULL,
            ended_at   TEXT,
            record     TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS calls_started ON calls(started_at);",
    )?;
    Ok(())
}

impl Store {
    /// Replaces the record of a call still in progress, keeping timeline events others added to
    /// the stored record meanwhile (an alert raised during the call).
    pub fn save_progress(&self, record: &CallRecord) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            let mut record = record.clone();
            keep_their_events(&tx, &mut record)?;
            update(&tx, &record)?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Stores the final record and queues it for the EHR in one transaction. Timeline events that
    /// others added to the stored record meanwhile (an on-call alert already under way) are kept.
    pub fn finish_call(&self, record: &CallRecord) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            let mut record = record.clone();
            keep_their_events(&tx, &mut record)?;
            update(&tx, &record)?;
            crate::store::outbox::enqueue(&tx, &record.call_id, &serde_json::to_string(&record)?)?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Appends one event to a stored call's timeline (read and written in one step, so writers on
    /// other tasks never lose each other's events).
    pub fn add_call_event(&self, call_id: &str, event: CallEvent) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            let mut record = stored_record(&tx, call_id)?.ok_or_else(|| StoreError::NotFound(call_id.to_string()))?;
            record.events.push(event);
            update(&tx, &record)?;
            tx.commit()?;
            Ok(())
        })
    }

    pub fn call(&self, call_id: &str) -> Result<CallRecord, StoreError> {
        self.with(|conn| {
            let json: Option<String> = conn.query_row("SELECT record FROM calls WHERE call_id = ?1 OR reference = ?1", [call_id], |row| row.get(0)).optional()?;
            let json = json.ok_or_else(|| StoreError::NotFound(call_id.to_string()))?;
            Ok(serde_json::from_str(&json)?)
        })
    }

    /// Most recent first.
    pub fn list_calls(&self, limit: usize) -> Result<Vec<CallRecord>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare("SELECT record FROM calls ORDER BY started_at DESC LIMIT ?1")?;
            let rows = stmt.query_map([limit as i64], |row| row.get::<_, String>(0))?;
            rows.map(|json| Ok(serde_json::from_str(&json?)?)).collect()
        })
    }

    /// Finished calls that started at or after `since`, oldest first.
    pub fn finished_calls_since(&self, since: chrono::DateTime<chrono::Utc>) -> Result<Vec<CallRecord>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare("SELECT record FROM calls WHERE started_at >= ?1 AND ended_at IS NOT NULL ORDER BY started_at")?;
            let rows = stmt.query_map([since.to_rfc3339()], |row| row.get::<_, String>(0))?;
            rows.map(|json| Ok(serde_json::from_str(&json?)?)).collect()
        })
    }

    /// Calls that were in progress when the process died: no end time.
    pub fn unfinished_calls(&self) -> Result<Vec<(CallRecord, String)>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare("SELECT record, reference FROM calls WHERE ended_at IS NULL ORDER BY started_at")?;
            let rows = stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
            rows.map(|row| {
                let (json, reference) = row?;
                Ok((serde_json::from_str(&json)?, reference))
            })
            .collect()
        })
    }

    /// Records a new call and gives it the next six-digit reference number a caller can read back.
    pub fn begin_call(&self, record: &CallRecord) -> Result<String, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            tx.execute("INSERT INTO calls (call_id, started_at, record) VALUES (?1, ?2, ?3)", params![record.call_id, record.started_at.to_rfc3339(), serde_json::to_string(record)?])?;
            let reference = format!("{:06}", 100_000 + tx.last_insert_rowid());
            tx.execute("UPDATE calls SET reference = ?1 WHERE call_id = ?2", params![reference, record.call_id])?;
            tx.commit()?;
            Ok(reference)
        })
    }
}

/// Adds to `record` the timeline events of its stored version that it does not have.
fn keep_their_events(conn: &Connection, record: &mut CallRecord) -> Result<(), StoreError> {
    if let Some(stored) = stored_record(conn, &record.call_id)? {
        merge_their_events(record, stored);
    }
    Ok(())
}

/// Adds to `record` the timeline events of `stored` (the stored version) that it does not have.
pub(super) fn merge_their_events(record: &mut CallRecord, stored: CallRecord) {
    let theirs: Vec<CallEvent> = stored.events.into_iter().filter(|e| !record.events.iter().any(|o| o.at == e.at && o.kind == e.kind)).collect();
    if !theirs.is_empty() {
        record.events.extend(theirs);
        record.events.sort_by_key(|e| e.at);
    }
}

fn stored_record(conn: &Connection, call_id: &str) -> Result<Option<CallRecord>, StoreError> {
    let json: Option<String> = conn.query_row("SELECT record FROM calls WHERE call_id = ?1", [call_id], |row| row.get(0)).optional()?;
    Ok(json.map(|json| serde_json::from_str(&json)).transpose()?)
}

fn update(conn: &Connection, record: &CallRecord) -> Result<(), StoreError> {
    let changed = conn.execute("UPDATE calls SET ended_at = ?2, record = ?3 WHERE call_id = ?1", params![record.call_id, record.ended_at.map(|t| t.to_rfc3339()), serde_json::to_string(record)?])?;
    if changed == 0 {
        return Err(StoreError::NotFound(record.call_id.clone()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};

    use super::*;

    fn event(at: chrono::DateTime<Utc>, kind: &str) -> CallEvent {
        CallEvent { at, kind: kind.into(), detail: Default::default() }
    }

    #[test]
    fn finishing_keeps_events_another_task_added_and_queues_them() {
        let store = Store::in_memory().unwrap();
        let t0 = Utc::now();
        let mut record = CallRecord { call_id: "c1".into(), started_at: t0, events: vec![event(t0, "answered")], ..Default::default() };
        store.begin_call(&record).unwrap();
        // The on-call alert, started as the call ended, writes while the message is transcribed.
        store.add_call_event("c1", event(t0 + Duration::seconds(2), "alert_placed")).unwrap();
        record.events.push(event(t0 + Duration::seconds(1), "ended"));
        record.events.push(event(t0 + Duration::seconds(5), "message_transcribed"));
        record.ended_at = Some(t0 + Duration::seconds(1));
        store.finish_call(&record).unwrap();

        let kinds: Vec<String> = store.call("c1").unwrap().events.into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["answered", "ended", "alert_placed", "message_transcribed"]);
        let queued: String = store.with(|conn| Ok(conn.query_row("SELECT payload FROM outbox WHERE call_id = 'c1'", [], |row| row.get(0))?)).unwrap();
        assert!(queued.contains("alert_placed"), "the EHR gets the merged timeline: {queued}");
        store.add_call_event("c1", event(t0 + Duration::seconds(9), "acknowledged")).unwrap();
        assert_eq!(store.call("c1").unwrap().events.len(), 5, "later events land on the finished call too");
        assert!(store.add_call_event("nope", event(t0, "x")).is_err());
    }
}
