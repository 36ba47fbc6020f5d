//! The outbox the sync worker, `chartline outbox` and the shutdown flush work on: the local store's
//! (SQLite, one box) or the shared one (PostgreSQL, several nodes). One set of async calls over
//! both; the local side runs the same `store::outbox` functions it always ran.

use chrono::{DateTime, Duration, Utc};

use super::outbox::{self, Claimed};
use super::postgres::PgStore;
use super::{Store, StoreError};

#[derive(Clone)]
pub enum OutboxStore {
    Local(Store),
    Shared(PgStore),
}

impl From<Store> for OutboxStore {
    fn from(store: Store) -> Self {
        OutboxStore::Local(store)
    }
}

impl From<PgStore> for OutboxStore {
    fn from(store: PgStore) -> Self {
        OutboxStore::Shared(store)
    }
}

impl OutboxStore {
    /// Claims up to `limit` due rows until now + `lease`.
    pub async fn claim_due(&self, lease: Duration, limit: usize) -> Result<Vec<Claimed>, StoreError> {
        match self {
            OutboxStore::Local(s) => s.with(|c| outbox::claim_due(c, Utc::now(), lease, limit)),
            OutboxStore::Shared(s) => s.claim_due(lease, limit).await,
        }
    }

    pub async fn mark_delivered(&self, call_id: &str, refs: &[String], at: DateTime<Utc>) -> Result<(), StoreError> {
        match self {
            OutboxStore::Local(s) => s.with(|c| outbox::mark_delivered(c, call_id, refs, at)),
            OutboxStore::Shared(s) => s.mark_delivered(call_id, refs, at).await,
        }
    }

    pub async fn mark_retry(&self, call_id: &str, next_at: DateTime<Utc>, error: &str) -> Result<(), StoreError> {
        match self {
            OutboxStore::Local(s) => s.with(|c| outbox::mark_retry(c, call_id, next_at, error)),
            OutboxStore::Shared(s) => s.mark_retry(call_id, next_at, error).await,
        }
    }

    pub async fn mark_dead(&self, call_id: &str, error: &str) -> Result<(), StoreError> {
        match self {
            OutboxStore::Local(s) => s.with(|c| outbox::mark_dead(c, call_id, error)),
            OutboxStore::Shared(s) => s.mark_dead(call_id, error).await,
        }
    }

    pub async fn release(&self, call_id: &str) -> Result<(), StoreError> {
        match self {
            OutboxStore::Local(s) => s.with(|c| outbox::release(c, call_id)),
            OutboxStore::Shared(s) => s.release(call_id).await,
        }
    }

    /// Dead-lettered rows (all, or `call_id`'s) sent again now.
    pub async fn requeue(&self, call_id: Option<&str>) -> Result<usize, StoreError> {
        match self {
            OutboxStore::Local(s) => s.with(|c| outbox::requeue(c, call_id, Utc::now())),
            OutboxStore::Shared(s) => s.requeue(call_id).await,
        }
    }

    pub async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        match self {
            OutboxStore::Local(s) => s.with(|c| outbox::next_due(c)),
            OutboxStore::Shared(s) => s.next_due().await,
        }
    }

    pub async fn fresh_undelivered(&self) -> Result<usize, StoreError> {
        match self {
            OutboxStore::Local(s) => s.with(|c| outbox::fresh_undelivered(c)),
            OutboxStore::Shared(s) => s.fresh_undelivered().await,
        }
    }

    pub async fn counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        match self {
            OutboxStore::Local(s) => s.with(|c| outbox::counts(c)),
            OutboxStore::Shared(s) => s.counts().await,
        }
    }

    pub async fn list(&self) -> Result<Vec<serde_json::Value>, StoreError> {
        match self {
            OutboxStore::Local(s) => s.with(|c| outbox::list(c)),
            OutboxStore::Shared(s) => s.list().await,
        }
    }
}
