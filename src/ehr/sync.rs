//! The sync worker: a thin tokio driver over the store's outbox. It claims due rows (with a lease,
//! so a crashed worker's rows come back), delivers each through the adapter (whose writes are
//! idempotent on the call id), marks it delivered with the EHR references, or asks the pure retry
//! policy ([`super::retry`]) when to try again. Restarts lose nothing: all state is in the store,
//! local or shared ([`OutboxStore`]: with PostgreSQL several nodes' workers share one outbox).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use tokio::task::{JoinHandle, JoinSet};

use super::Ehr;
use super::config::RetryConfig;
use super::retry::{self, Decision, Failure};
use crate::store::StoreError;
use crate::store::backend::OutboxStore;
use crate::store::outbox::Claimed;
use crate::store::record::CallRecord;

/// Starts the worker; it runs until the runtime shuts down or the handle is aborted.
pub fn spawn(store: impl Into<OutboxStore>, ehr: Arc<dyn Ehr>, config: RetryConfig) -> JoinHandle<()> {
    let store = store.into();
    tokio::spawn(async move {
        let worker = Worker { store, ehr, config };
        loop {
            if let Err(e) = worker.run(None).await {
                tracing::error!(error = %e, "EHR sync worker: store error; retrying in 5 s");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    })
}

/// What one run of the worker did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SyncReport {
    pub delivered: usize,
    pub retried: usize,
    pub dead_lettered: usize,
    /// Rows still pending or in delivery when the run stopped.
    pub remaining: usize,
}

/// Delivers until no row is pending or in delivery, or `deadline` passes (`chartline outbox deliver`).
pub async fn deliver_until_idle(store: impl Into<OutboxStore>, ehr: Arc<dyn Ehr>, config: RetryConfig, deadline: Duration) -> Result<SyncReport, StoreError> {
    let worker = Worker { store: store.into(), ehr, config };
    let until = tokio::time::Instant::now() + deadline;
    worker.run(Some(until)).await
}

struct Worker {
    store: OutboxStore,
    ehr: Arc<dyn Ehr>,
    config: RetryConfig,
}

enum Outcome {
    Delivered,
    Retry,
    Dead,
}

impl Worker {
    /// The claim/deliver loop. With `until`, returns when idle or at that instant (handing back
    /// the rows still in flight); without, runs for ever.
    async fn run(&self, until: Option<tokio::time::Instant>) -> Result<SyncReport, StoreError> {
        let mut report = SyncReport::default();
        let mut in_flight: JoinSet<(String, Result<Outcome, StoreError>)> = JoinSet::new();
        let mut claimed: HashSet<String> = HashSet::new();
        let lease = chrono::Duration::seconds(self.config.lease_s as i64);
        let poll = Duration::from_millis(self.config.poll_ms.max(10));
        loop {
            let free = self.config.concurrency.saturating_sub(in_flight.len());
            if free > 0 {
                for row in self.store.claim_due(lease, free).await? {
                    claimed.insert(row.call_id.clone());
                    let (store, ehr, config) = (self.store.clone(), self.ehr.clone(), self.config.clone());
                    in_flight.spawn(async move { (row.call_id.clone(), deliver(store, ehr, config, row).await) });
                }
            }
            let next_due = self.store.next_due().await?;
            if let Some(until) = until {
                if in_flight.is_empty() && next_due.is_none() {
                    return Ok(report);
                }
                if tokio::time::Instant::now() >= until {
                    in_flight.shutdown().await;
                    // Hand back what this run claimed but did not finish, without waiting for the lease.
                    for id in &claimed {
                        self.store.release(id).await?;
                    }
                    report.remaining = self.store.counts().await?.iter().filter(|(s, _)| s == "pending" || s == "delivering").map(|(_, n)| *n as usize).sum();
                    return Ok(report);
                }
            }
            // Wake when a delivery finishes, when the next row may be due (bounded by the poll
            // interval, which also picks up newly queued rows) if there is room, or at the deadline.
            let can_claim = in_flight.len() < self.config.concurrency;
            let sleep_for = next_due.map(|due| (due - Utc::now()).to_std().unwrap_or(Duration::ZERO)).unwrap_or(poll).clamp(Duration::from_millis(5), poll);
            let deadline = async {
                match until {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => match done {
                    Ok((call_id, outcome)) => {
                        claimed.remove(&call_id);
                        match outcome? {
                            Outcome::Delivered => report.delivered += 1,
                            Outcome::Retry => report.retried += 1,
                            Outcome::Dead => report.dead_lettered += 1,
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "EHR delivery task failed"),
                },
                _ = tokio::time::sleep(sleep_for), if can_claim => {}
                _ = deadline => {}
            }
        }
    }
}

async fn deliver(store: OutboxStore, ehr: Arc<dyn Ehr>, config: RetryConfig, row: Claimed) -> Result<Outcome, StoreError> {
    let record: CallRecord = match serde_json::from_str(&row.payload) {
        Ok(record) => record,
        Err(e) => {
            tracing::error!(call_id = %row.call_id, error = %e, "outbox payload is not a call record; dead-lettered");
            store.mark_dead(&row.call_id, &format!("payload is not a call record: {e}")).await?;
            return Ok(Outcome::Dead);
        }
    };
    let started = std::time::Instant::now();
    match ehr.write_call(&record).await {
        Ok(refs) => {
            store.mark_delivered(&row.call_id, &refs, Utc::now()).await?;
            tracing::info!(call_id = %row.call_id, ehr = %ehr.name(), attempt = row.attempts, ms = started.elapsed().as_millis() as u64, "call result delivered to the EHR");
            Ok(Outcome::Delivered)
        }
        Err(e) => {
            let failure = Failure { transient: e.is_transient(), retry_after: e.retry_after() };
            let now = Utc::now();
            match retry::next_attempt(&config, failure, row.attempts, row.enqueued_at, now, rand::random::<f64>()) {
                Decision::RetryAt(at) => {
                    tracing::warn!(call_id = %row.call_id, attempt = row.attempts, retry_in_ms = (at - now).num_milliseconds(), error = %e, "EHR delivery failed; will retry");
                    store.mark_retry(&row.call_id, at, &e.to_string()).await?;
                    Ok(Outcome::Retry)
                }
                Decision::DeadLetter => {
                    tracing::error!(call_id = %row.call_id, attempt = row.attempts, error = %e, "EHR delivery failed for good; moved to the dead letter");
                    store.mark_dead(&row.call_id, &e.to_string()).await?;
                    Ok(Outcome::Dead)
                }
            }
        }
    }
}
