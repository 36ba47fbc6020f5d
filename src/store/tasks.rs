//! The provider work item each finished call becomes, kept locally: open/done, a reassignment
//! that overrides the call's routing, the reply thread and refill decisions. The EHR `Task`,
//! `Communication` and `MedicationRequest` are the synced copies; their references are kept here.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{Store, StoreError};

pub(super) fn migrate(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS task_state (
            call_id               TEXT PRIMARY KEY,
            status                TEXT NOT NULL DEFAULT 'open',
            assigned_practitioner TEXT,
            assigned_department   TEXT,
            first_response_at     TEXT,
            done_at               TEXT,
            done_by               TEXT
        );
        CREATE TABLE IF NOT EXISTS task_replies (
            id      INTEGER PRIMARY KEY,
            call_id TEXT NOT NULL,
            author  TEXT NOT NULL,
            text    TEXT NOT NULL,
            at      TEXT NOT NULL,
            refs    TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE IF NOT EXISTS refill_decisions (
            id            INTEGER PRIMARY KEY,
            call_id       TEXT NOT NULL,
            medication_id TEXT NOT NULL,
            medication    TEXT NOT NULL,
            approved      INTEGER NOT NULL,
            decided_by    TEXT NOT NULL,
            at            TEXT NOT NULL,
            refs          TEXT NOT NULL DEFAULT ''
        );",
    )?;
    Ok(())
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TaskState {
    pub call_id: String,
    pub done: bool,
    pub assigned_practitioner: Option<String>,
    pub assigned_department: Option<String>,
    /// The first provider/staff action on the task (reply, decision, done): "time to response".
    pub first_response_at: Option<DateTime<Utc>>,
    pub done_at: Option<DateTime<Utc>>,
    pub done_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskReply {
    pub author: String,
    pub text: String,
    pub at: DateTime<Utc>,
    pub refs: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefillRecord {
    pub medication_id: String,
    pub medication: String,
    pub approved: bool,
    pub decided_by: String,
    pub at: DateTime<Utc>,
    pub refs: String,
}

fn time(text: Option<String>) -> Option<DateTime<Utc>> {
    text.and_then(|t| DateTime::parse_from_rfc3339(&t).ok()).map(|t| t.with_timezone(&Utc))
}

fn ensure_row(conn: &Connection, call_id: &str) -> Result<(), StoreError> {
    conn.execute("INSERT OR IGNORE INTO task_state (call_id) VALUES (?1)", [call_id])?;
    Ok(())
}

fn responded(conn: &Connection, call_id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
    ensure_row(conn, call_id)?;
    conn.execute("UPDATE task_state SET first_response_at = ?2 WHERE call_id = ?1 AND first_response_at IS NULL", params![call_id, at.to_rfc3339()])?;
    Ok(())
}

impl Store {
    /// Every task row (calls without a row are open and routed as the call record says).
    pub fn task_states(&self) -> Result<Vec<TaskState>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare("SELECT call_id, status, assigned_practitioner, assigned_department, first_response_at, done_at, done_by FROM task_state")?;
            let rows = stmt.query_map([], |r| {
                Ok(TaskState {
                    call_id: r.get(0)?,
                    done: r.get::<_, String>(1)? == "done",
                    assigned_practitioner: r.get(2)?,
                    assigned_department: r.get(3)?,
                    first_response_at: time(r.get(4)?),
                    done_at: time(r.get(5)?),
                    done_by: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    pub fn task_state(&self, call_id: &str) -> Result<TaskState, StoreError> {
        Ok(self.task_states()?.into_iter().find(|t| t.call_id == call_id).unwrap_or_else(|| TaskState { call_id: call_id.into(), ..Default::default() }))
    }

    pub fn mark_task_done(&self, call_id: &str, by: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            responded(&tx, call_id, at)?;
            tx.execute("UPDATE task_state SET status = 'done', done_at = ?2, done_by = ?3 WHERE call_id = ?1", params![call_id, at.to_rfc3339(), by])?;
            tx.commit()?;
            Ok(())
        })
    }

    pub fn reopen_task(&self, call_id: &str) -> Result<(), StoreError> {
        self.with(|conn| {
            ensure_row(conn, call_id)?;
            conn.execute("UPDATE task_state SET status = 'open', done_at = NULL, done_by = NULL WHERE call_id = ?1", [call_id])?;
            Ok(())
        })
    }

    /// Gives the task to a practitioner or to a department queue (the other is cleared).
    pub fn reassign_task(&self, call_id: &str, practitioner: Option<&str>, department: Option<&str>) -> Result<(), StoreError> {
        self.with(|conn| {
            ensure_row(conn, call_id)?;
            conn.execute("UPDATE task_state SET assigned_practitioner = ?2, assigned_department = ?3 WHERE call_id = ?1", params![call_id, practitioner, department])?;
            Ok(())
        })
    }

    pub fn add_reply(&self, call_id: &str, author: &str, text: &str, at: DateTime<Utc>, refs: &str) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            responded(&tx, call_id, at)?;
            tx.execute("INSERT INTO task_replies (call_id, author, text, at, refs) VALUES (?1, ?2, ?3, ?4, ?5)", params![call_id, author, text, at.to_rfc3339(), refs])?;
            tx.commit()?;
            Ok(())
        })
    }

    pub fn replies(&self, call_id: &str) -> Result<Vec<TaskReply>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare("SELECT author, text, at, refs FROM task_replies WHERE call_id = ?1 ORDER BY id")?;
            let rows = stmt.query_map([call_id], |r| Ok(TaskReply { author: r.get(0)?, text: r.get(1)?, at: time(r.get(2)?).unwrap_or_default(), refs: r.get(3)? }))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Stores a refill decision and closes the task in one transaction.
    pub fn record_refill_decision(&self, call_id: &str, decision: &RefillRecord) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            responded(&tx, call_id, decision.at)?;
            tx.execute(
                "INSERT INTO refill_decisions (call_id, medication_id, medication, approved, decided_by, at, refs) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![call_id, decision.medication_id, decision.medication, decision.approved, decision.decided_by, decision.at.to_rfc3339(), decision.refs],
            )?;
            tx.execute("UPDATE task_state SET status = 'done', done_at = ?2, done_by = ?3 WHERE call_id = ?1", params![call_id, decision.at.to_rfc3339(), decision.decided_by])?;
            tx.commit()?;
            Ok(())
        })
    }

    pub fn refill_decisions(&self, call_id: &str) -> Result<Vec<RefillRecord>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare("SELECT medication_id, medication, approved, decided_by, at, refs FROM refill_decisions WHERE call_id = ?1 ORDER BY id")?;
            let rows = stmt.query_map([call_id], |r| {
                Ok(RefillRecord { medication_id: r.get(0)?, medication: r.get(1)?, approved: r.get(2)?, decided_by: r.get(3)?, at: time(r.get(4)?).unwrap_or_default(), refs: r.get(5)? })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Whether a call record exists (by id), without parsing it.
    pub fn call_exists(&self, call_id: &str) -> Result<bool, StoreError> {
        self.with(|conn| Ok(conn.query_row("SELECT 1 FROM calls WHERE call_id = ?1", [call_id], |_| Ok(())).optional()?.is_some()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refill_decision_closes_task_and_sets_first_response() {
        let store = Store::in_memory().unwrap();
        let t = Utc::now();
        store.add_reply("c1", "drsmith", "We sent it", t, "").unwrap();
        let later = t + chrono::Duration::minutes(5);
        let decision = RefillRecord { medication_id: "m1".into(), medication: "lisinopril".into(), approved: true, decided_by: "drsmith".into(), at: later, refs: String::new() };
        store.record_refill_decision("c1", &decision).unwrap();
        let state = store.task_state("c1").unwrap();
        assert!(state.done);
        assert_eq!(state.first_response_at.unwrap().timestamp(), t.timestamp(), "the first action counts");
        assert_eq!(store.refill_decisions("c1").unwrap(), vec![decision]);
        assert_eq!(store.replies("c1").unwrap().len(), 1);
    }

    #[test]
    fn reassign_overrides_and_reopen() {
        let store = Store::in_memory().unwrap();
        store.reassign_task("c2", Some("p9"), None).unwrap();
        store.mark_task_done("c2", "nina", Utc::now()).unwrap();
        store.reopen_task("c2").unwrap();
        let state = store.task_state("c2").unwrap();
        assert!(!state.done);
        assert_eq!(state.assigned_practitioner.as_deref(), Some("p9"));
        assert!(!store.task_state("unknown").unwrap().done);
    }
}
