//! Calls: the dispatcher that turns SIP events into one task per call (`session`), enforcing the
//! concurrent-call limit, and the services every call shares; `listener` turns a call's audio into
//! speech events.
//!
//! Its layer, and what it may import: docs/architecture.md.

pub mod alert;
mod appointments;
pub mod bridge;
pub mod callback;
mod config;
pub mod listener;
mod machine;
pub mod outbound;
pub mod session;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::ehr::Ehr;
use crate::media::{MediaCounters, PortPool, PromptLibrary};
use crate::metrics::{CallOutcome, Metrics};
use crate::sip::{CallId, UaCommand, UaEvent};
use crate::speech::{AsrPool, ChartTranscriber};
use crate::store::Store;
use crate::triage::Triage;
use crate::triage::hours::PracticeHours;
use crate::triage::routing::Router;
pub use config::{CallConfig, CallsConfig};

/// What every call shares.
pub struct CallServices {
    pub config: Arc<CallConfig>,
    pub store: Store,
    pub prompts: Arc<PromptLibrary>,
    pub ports: PortPool,
    pub metrics: Arc<Metrics>,
    pub media_counters: Arc<MediaCounters>,
    pub sip: mpsc::UnboundedSender<UaCommand>,
    /// Our address for RTP (the one advertised in SDP).
    pub local_ip: IpAddr,
    /// The chart: patient lookup and chart context for the dialog.
    pub ehr: Arc<dyn Ehr>,
    /// Speech recognition; `None` runs every call on the keypad.
    pub asr: Option<AsrPool>,
    /// Writes the message transcript for the chart (the larger model, or the live one).
    pub chart: Option<ChartTranscriber>,
    pub triage: Arc<Triage>,
    pub hours: PracticeHours,
    pub router: Arc<Router>,
    /// Outbound call legs (on-call alerts, bridges) waiting for their SIP events.
    pub outbound: outbound::Registry,
    /// The dashboard's live alerts (shared with the web side).
    pub live: Arc<crate::web::live::Hub>,
}

/// Routes SIP events to call tasks until the event stream ends, or, once `draining` turns true,
/// until the last active call has ended: from then on new calls get 503 with Retry-After.
pub async fn dispatch(services: Arc<CallServices>, mut events: mpsc::UnboundedReceiver<UaEvent>, mut draining: tokio::sync::watch::Receiver<bool>) {
    let mut calls: HashMap<CallId, mpsc::UnboundedSender<UaEvent>> = HashMap::new();
    let (ended_tx, mut ended_rx) = mpsc::unbounded_channel::<CallId>();
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(UaEvent::IncomingCall { call, from, to, source, offer }) => {
                    if *draining.borrow() {
                        tracing::info!("shutting down: 503");
                        services.metrics.call_ended(CallOutcome::Rejected);
                        let _ = services.sip.send(UaCommand::Reject { call, status: 503, reason: "Service Unavailable".into(), warning: None, retry_after: Some(60) });
                        continue;
                    }
                    if calls.len() >= services.config.calls.max_concurrent {
                        tracing::warn!(active = calls.len(), "call limit reached: 503");
                        services.metrics.call_ended(CallOutcome::Rejected);
                        let _ = services.sip.send(UaCommand::Reject { call, status: 503, reason: "Service Unavailable".into(), warning: None, retry_after: Some(30) });
                        continue;
                    }
                    let (tx, rx) = mpsc::unbounded_channel();
                    calls.insert(call.clone(), tx);
                    let services = services.clone();
                    let ended = ended_tx.clone();
                    tokio::spawn(async move {
                        let id = call.clone();
                        let incoming = session::Incoming { call, from, to, source, offer };
                        if callback::is_callback_line(&services.config.oncall, &incoming.to) {
                            callback::run(services, incoming, rx).await;
                        } else {
                            session::run(services, incoming, rx).await;
                        }
                        let _ = ended.send(id);
                    });
                }
                Some(UaEvent::CallCancelled { call }) => {
                    // Cancelled before we answered: the task sees its channel close.
                    calls.remove(&call);
                }
                Some(event) => {
                    let call = event.call().clone();
                    if let Some(tx) = calls.get(&call) {
                        let _ = tx.send(event);
                    } else {
                        services.outbound.deliver(event);
                    }
                }
                None => return,
            },
            Some(call) = ended_rx.recv() => { calls.remove(&call); }
            Ok(()) = draining.changed(), if !*draining.borrow() => {
                tracing::info!(active = calls.len(), "draining: new calls get 503, active calls finish");
            }
        }
        if *draining.borrow() && calls.is_empty() {
            return;
        }
    }
}
