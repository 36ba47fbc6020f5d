//! Crash recovery: calls that were in progress when the process died (a checkpointed record with
//! no end time) are closed as interrupted on the next start, keeping what they captured, and
//! queued for the EHR like any finished call. Closing and queueing is one transaction and sets the
//! end time, so each interrupted call is recovered, and delivered, once.

use chrono::{DateTime, Utc};

use super::record::{CallEvent, CallOutcome, CallRecord};
use super::{Store, StoreError};

impl Store {
    /// Closes every unfinished call as interrupted. `complete` fills in what the call driver would
    /// have added at the end (routing, a transcript of the recording); it sees the record already
    /// marked. Returns the recovered call ids.
    pub fn recover_interrupted(&self, now: DateTime<Utc>, mut complete: impl FnMut(&mut CallRecord)) -> Result<Vec<String>, StoreError> {
        let mut recovered = Vec::new();
        for (mut record, _reference) in self.unfinished_calls()? {
            mark_interrupted(&mut record, now);
            complete(&mut record);
            self.finish_call(&record)?;
            tracing::warn!(call_id = %record.call_id, recording = record.recording.is_some(), "call interrupted by a restart: closed and queued for the EHR");
            recovered.push(record.call_id);
        }
        Ok(recovered)
    }
}

/// Marks a checkpointed record as interrupted: ended at its last event (or `now`).
pub fn mark_interrupted(record: &mut CallRecord, now: DateTime<Utc>) {
    let last = record.events.iter().map(|e| e.at).max().unwrap_or(record.started_at);
    record.ended_at = Some(last.min(now).max(record.started_at));
    record.outcome = Some(CallOutcome::Interrupted);
    let detail = serde_json::Map::from_iter([("recovered_at".to_string(), serde_json::Value::String(now.to_rfc3339()))]);
    record.events.push(CallEvent { at: now, kind: "interrupted".into(), detail });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::outbox;

    #[test]
    fn unfinished_calls_are_closed_once_and_queued() {
        let store = Store::in_memory().unwrap();
        let started = Utc::now() - chrono::Duration::minutes(3);
        let mut record = CallRecord { call_id: "c1".into(), started_at: started, recording: Some("recordings/c1.clrec".into()), ..Default::default() };
        store.begin_call(&record).unwrap();
        record.events.push(CallEvent { at: started + chrono::Duration::seconds(20), kind: "recording_started".into(), detail: Default::default() });
        store.save_progress(&record).unwrap();
        let done = CallRecord { call_id: "c2".into(), started_at: started, ended_at: Some(started), ..Default::default() };
        store.begin_call(&done).unwrap();
        store.finish_call(&done).unwrap();

        let now = Utc::now();
        let ids = store.recover_interrupted(now, |r| r.routing.department = Some("nurse_pool".into())).unwrap();
        assert_eq!(ids, vec!["c1".to_string()]);
        let got = store.call("c1").unwrap();
        assert_eq!(got.outcome, Some(CallOutcome::Interrupted));
        assert_eq!(got.ended_at, Some(started + chrono::Duration::seconds(20)));
        assert_eq!(got.recording.as_deref(), Some("recordings/c1.clrec"));
        assert_eq!(got.routing.department.as_deref(), Some("nurse_pool"));
        assert_eq!(got.events.last().unwrap().kind, "interrupted");
        let queued = store.with(|conn| outbox::list(conn)).unwrap();
        assert_eq!(queued.iter().filter(|r| r["call_id"] == "c1").count(), 1);
        assert!(store.recover_interrupted(Utc::now(), |_| {}).unwrap().is_empty(), "a second start finds nothing to recover");
    }
}
