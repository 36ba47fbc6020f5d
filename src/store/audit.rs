//! The audit trail: an append-only, hash-chained table of who did what to which patient's data.
//! Fields follow IHE BALP (who, action, when, patient, outcome, source address, object). Each
//! entry's hash is SHA-256 over the previous entry's hash and the entry's canonical fields, and a
//! one-row head keeps the count and last hash, so an edited, deleted or truncated entry breaks
//! the chain at a place `verify` can name.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Store, StoreError};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub(super) fn migrate(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS audit (
            seq       INTEGER PRIMARY KEY,
            at        TEXT NOT NULL,
            who       TEXT NOT NULL,
            role      TEXT NOT NULL,
            action    TEXT NOT NULL,
            outcome   TEXT NOT NULL,
            patient   TEXT NOT NULL,
            source    TEXT NOT NULL,
            object    TEXT NOT NULL,
            detail    TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash      TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS audit_head (
            id    INTEGER PRIMARY KEY CHECK (id = 1),
            count INTEGER NOT NULL,
            hash  TEXT NOT NULL
        );
        CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
        CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;",
    )?;
    Ok(())
}

/// Whether the audited action succeeded (BALP EventOutcomeIndicator, simplified).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    /// Refused by policy: not logged in, wrong role, bad CSRF token, locked out.
    Denied,
    /// Attempted and failed (bad password, EHR error).
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failure => "failure",
        }
    }
}

/// One event to record. Empty strings stand for "not applicable".
#[derive(Debug, Clone, Default)]
pub struct AuditEvent {
    /// Username (or what was typed at a failed login).
    pub who: String,
    pub role: String,
    /// E.g. `login`, `view_task`, `play_recording`, `refill_approve`.
    pub action: String,
    pub outcome: Option<Outcome>,
    /// Patient id, when the object belongs to one.
    pub patient: String,
    /// Client network address.
    pub source: String,
    /// What was acted on: a call id, `queue`, `practice`.
    pub object: String,
    /// Short non-PHI detail (a medication id, a new owner).
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: String,
    pub who: String,
    pub role: String,
    pub action: String,
    pub outcome: String,
    pub patient: String,
    pub source: String,
    pub object: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEntry {
    /// SHA-256 over the previous hash and the length-prefixed fields (unambiguous: no separator
    /// inside a field can shift a boundary).
    pub fn compute_hash(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.prev_hash.as_bytes());
        for field in [self.seq.to_string().as_str(), &self.at, &self.who, &self.role, &self.action, &self.outcome, &self.patient, &self.source, &self.object, &self.detail] {
            hasher.update(format!("{}:", field.len()).as_bytes());
            hasher.update(field.as_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

/// The result of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    Intact {
        count: i64,
    },
    /// `seq` is the first entry that is missing or does not match; `problem` says how.
    Broken {
        seq: i64,
        problem: String,
    },
}

impl Store {
    /// Appends one event at `at` and returns its sequence number.
    pub fn audit(&self, event: &AuditEvent, at: DateTime<Utc>) -> Result<i64, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            let head: Option<(i64, String)> = tx.query_row("SELECT count, hash FROM audit_head WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
            let (count, prev_hash) = head.unwrap_or((0, GENESIS.to_string()));
            let mut entry = AuditEntry {
                seq: count + 1,
                at: at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                who: event.who.clone(),
                role: event.role.clone(),
                action: event.action.clone(),
                outcome: event.outcome.unwrap_or(Outcome::Success).as_str().to_string(),
                patient: event.patient.clone(),
                source: event.source.clone(),
                object: event.object.clone(),
                detail: event.detail.clone(),
                prev_hash,
                hash: String::new(),
            };
            entry.hash = entry.compute_hash();
            tx.execute(
                "INSERT INTO audit (seq, at, who, role, action, outcome, patient, source, object, detail, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![entry.seq, entry.at, entry.who, entry.role, entry.action, entry.outcome, entry.patient, entry.source, entry.object, entry.detail, entry.prev_hash, entry.hash],
            )?;
            tx.execute(
                "INSERT INTO audit_head (id, count, hash) VALUES (1, ?1, ?2)
                 ON CONFLICT(id) DO UPDATE SET count = excluded.count, hash = excluded.hash",
                params![entry.seq, entry.hash],
            )?;
            tx.commit()?;
            Ok(entry.seq)
        })
    }

    /// Entries, newest first, optionally only those about one object.
    pub fn audit_entries(&self, object: Option<&str>, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare(
                "SELECT seq, at, who, role, action, outcome, patient, source, object, detail, prev_hash, hash
                 FROM audit WHERE ?1 IS NULL OR object = ?1 ORDER BY seq DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![object, limit as i64], row_to_entry)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Walks the whole chain: every entry present in order, each hash recomputed, the head matching.
    pub fn verify_audit(&self) -> Result<Verification, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare("SELECT seq, at, who, role, action, outcome, patient, source, object, detail, prev_hash, hash FROM audit ORDER BY seq")?;
            let mut rows = stmt.query_map([], row_to_entry)?;
            let mut expected = 1i64;
            let mut prev = GENESIS.to_string();
            for row in rows.by_ref() {
                let entry = row?;
                if entry.seq != expected {
                    return Ok(Verification::Broken { seq: expected, problem: format!("entry {expected} is missing (deleted); the next entry is {}", entry.seq) });
                }
                if entry.prev_hash != prev {
                    return Ok(Verification::Broken { seq: expected, problem: format!("entry {expected} does not link to entry {} (previous hash changed)", expected - 1) });
                }
                if entry.compute_hash() != entry.hash {
                    return Ok(Verification::Broken { seq: expected, problem: format!("entry {expected} was edited (its fields no longer match its hash)") });
                }
                prev = entry.hash;
                expected += 1;
            }
            let count = expected - 1;
            let head: Option<(i64, String)> = conn.query_row("SELECT count, hash FROM audit_head WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
            let (head_count, head_hash) = head.unwrap_or((0, GENESIS.to_string()));
            if head_count > count {
                return Ok(Verification::Broken { seq: count + 1, problem: format!("entries {}..={head_count} are missing (deleted from the end)", count + 1) });
            }
            if head_count < count || head_hash != prev {
                return Ok(Verification::Broken { seq: head_count.max(1), problem: "the chain head does not match the last entry (entries edited or added outside Chartline)".into() });
            }
            Ok(Verification::Intact { count })
        })
    }
}

fn row_to_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        seq: r.get(0)?,
        at: r.get(1)?,
        who: r.get(2)?,
        role: r.get(3)?,
        action: r.get(4)?,
        outcome: r.get(5)?,
        patient: r.get(6)?,
        source: r.get(7)?,
        object: r.get(8)?,
        detail: r.get(9)?,
        prev_hash: r.get(10)?,
        hash: r.get(11)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeded(n: usize) -> Store {
        let store = Store::in_memory().unwrap();
        for i in 0..n {
            let event = AuditEvent { who: "drsmith".into(), role: "provider".into(), action: "view_task".into(), object: format!("call-{i}"), ..Default::default() };
            store.audit(&event, Utc::now()).unwrap();
        }
        store
    }

    /// Tampering needs the triggers out of the way, as someone editing the file directly would do.
    fn tamper(store: &Store, sql: &str) {
        store
            .with(|c| {
                c.execute_batch(&format!("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; {sql}"))?;
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn intact_chain_counts_entries() {
        assert_eq!(seeded(5).verify_audit().unwrap(), Verification::Intact { count: 5 });
        assert_eq!(seeded(0).verify_audit().unwrap(), Verification::Intact { count: 0 });
    }

    #[test]
    fn updates_and_deletes_are_refused_by_the_database() {
        let store = seeded(2);
        let err = store.with(|c| Ok(c.execute("UPDATE audit SET who = 'x' WHERE seq = 1", [])?)).unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        assert!(store.with(|c| Ok(c.execute("DELETE FROM audit WHERE seq = 1", [])?)).is_err());
    }

    #[test]
    fn edited_field_is_named() {
        let store = seeded(5);
        tamper(&store, "UPDATE audit SET who = 'mallory' WHERE seq = 3");
        match store.verify_audit().unwrap() {
            Verification::Broken { seq, problem } => assert!(seq == 3 && problem.contains("edited"), "{seq} {problem}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn edited_entry_with_recomputed_hash_breaks_the_next_link() {
        let store = seeded(4);
        let mut entry = store.audit_entries(None, 10).unwrap().into_iter().find(|e| e.seq == 2).unwrap();
        entry.action = "nothing_to_see".into();
        let hash = entry.compute_hash();
        tamper(&store, &format!("UPDATE audit SET action = 'nothing_to_see', hash = '{hash}' WHERE seq = 2"));
        match store.verify_audit().unwrap() {
            Verification::Broken { seq, .. } => assert_eq!(seq, 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn deleted_entry_is_named_as_the_gap() {
        let store = seeded(5);
        tamper(&store, "DELETE FROM audit WHERE seq = 2");
        match store.verify_audit().unwrap() {
            Verification::Broken { seq, problem } => assert!(seq == 2 && problem.contains("missing"), "{seq} {problem}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn deleted_tail_is_named() {
        let store = seeded(5);
        tamper(&store, "DELETE FROM audit WHERE seq >= 4");
        match store.verify_audit().unwrap() {
            Verification::Broken { seq, problem } => assert!(seq == 4 && problem.contains("missing"), "{seq} {problem}"),
            other => panic!("{other:?}"),
        }
    }
}
