//! Prometheus metrics: plain atomic counters rendered in the text exposition format, served on
//! `GET /metrics` by a small axum app.
//!
//! Its layer, and what it may import: docs/architecture.md.

use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use axum::{Router, extract::State, routing::get};
use serde::Deserialize;

use crate::media::MediaCounters;
use crate::sip::trunk::TrunkGauges;

/// `[metrics]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Address of the plain-HTTP Prometheus endpoint (`/metrics`); empty disables it.
    pub listen: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self { listen: "127.0.0.1:9090".into() }
    }
}

impl MetricsConfig {
    /// Returns the key (relative to `metrics.`) and the problem.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if !self.listen.is_empty() && self.listen.parse::<SocketAddr>().is_err() {
            return Err(("listen".into(), format!("is not an address:port: {:?}", self.listen)));
        }
        Ok(())
    }
}

/// How a call ended, for the `chartline_calls_total{outcome}` counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    Completed,
    CallerHungUp,
    Cancelled,
    Rejected,
    Failed,
}

impl CallOutcome {
    const ALL: [CallOutcome; 5] = [Self::Completed, Self::CallerHungUp, Self::Cancelled, Self::Rejected, Self::Failed];

    fn label(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::CallerHungUp => "caller_hung_up",
            Self::Cancelled => "cancelled",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    pub active_calls: AtomicI64,
    calls_by_outcome: [AtomicU64; 5],
    live_dialogs: OnceLock<Arc<AtomicI64>>,
    media: OnceLock<Arc<MediaCounters>>,
    trunk: OnceLock<Arc<TrunkGauges>>,
}

impl Metrics {
    /// Connects the counters kept by the SIP stack and the media sessions.
    pub fn attach(&self, live_dialogs: Arc<AtomicI64>, media: Arc<MediaCounters>) {
        let _ = self.live_dialogs.set(live_dialogs);
        let _ = self.media.set(media);
    }

    /// Connects the SIP trunk's gauges (registration, reachability, ACL refusals).
    pub fn attach_trunk(&self, trunk: Arc<TrunkGauges>) {
        let _ = self.trunk.set(trunk);
    }

    pub fn call_ended(&self, outcome: CallOutcome) {
        let index = CallOutcome::ALL.iter().position(|o| *o == outcome).unwrap_or(0);
        self.calls_by_outcome[index].fetch_add(1, Relaxed);
    }

    pub fn calls_total(&self, outcome: CallOutcome) -> u64 {
        let index = CallOutcome::ALL.iter().position(|o| *o == outcome).unwrap_or(0);
        self.calls_by_outcome[index].load(Relaxed)
    }

    /// The text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let gauge = |out: &mut String, name: &str, help: &str, value: i64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        };
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        };
        gauge(&mut out, "chartline_active_calls", "Calls in progress.", self.active_calls.load(Relaxed));
        let dialogs = self.live_dialogs.get().map_or(0, |d| d.load(Relaxed));
        gauge(&mut out, "chartline_live_dialogs", "SIP dialogs held in memory.", dialogs);
        let _ = writeln!(out, "# HELP chartline_calls_total Finished calls by outcome.\n# TYPE chartline_calls_total counter");
        for outcome in CallOutcome::ALL {
            let _ = writeln!(out, "chartline_calls_total{{outcome=\"{}\"}} {}", outcome.label(), self.calls_total(outcome));
        }
        let media = self.media.get().cloned().unwrap_or_default();
        counter(&mut out, "chartline_rtp_packets_in_total", "RTP packets received.", media.packets_in.load(Relaxed));
        counter(&mut out, "chartline_rtp_packets_out_total", "RTP packets sent.", media.packets_out.load(Relaxed));
        counter(
            &mut out,
            "chartline_rtp_packets_lost_total",
            "RTP packets of callers' streams never received (RFC 3550 loss; RFC 4733 packets are part of the sequence).",
            media.packets_lost.load(Relaxed),
        );
        counter(&mut out, "chartline_rtp_packets_late_total", "RTP packets dropped as too late.", media.packets_late.load(Relaxed));
        if let Some(trunk) = self.trunk.get() {
            // -1: no trunk to watch (ip mode without a keepalive target); the gauges are left out.
            let registered = trunk.registered.load(Relaxed);
            if registered >= 0 {
                gauge(&mut out, "chartline_trunk_registered", "1 while our registration with the trunk is valid.", registered);
            }
            let up = trunk.up.load(Relaxed);
            if up >= 0 {
                gauge(&mut out, "chartline_trunk_up", "1 while the trunk is registered (register mode) and answers keepalives.", up);
            }
            counter(&mut out, "chartline_sip_denied_requests_total", "SIP messages refused or dropped by sip.trunk.allowed_sources.", trunk.denied_requests.load(Relaxed));
            counter(&mut out, "chartline_sip_rate_limited_total", "SIP requests dropped by sip.limits (floods, scanners).", trunk.rate_limited.load(Relaxed));
            counter(&mut out, "chartline_sip_auth_rejected_total", "New calls refused by sip.auth (wrong or unreadable credentials, banned sources).", trunk.auth_rejected.load(Relaxed));
            counter(&mut out, "chartline_sip_stalled_connections_total", "TCP/TLS connections closed because the peer stopped reading what Chartline sent.", trunk.stalled_connections.load(Relaxed));
        }
        out
    }
}

/// Serves `/metrics` on `addr` until the task is dropped.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<()> {
    let app = Router::new().route("/metrics", get(|State(m): State<Arc<Metrics>>| async move { m.render() })).with_state(metrics);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_labels() {
        let m = Metrics::default();
        m.active_calls.store(3, Relaxed);
        m.call_ended(CallOutcome::Completed);
        m.call_ended(CallOutcome::Completed);
        m.call_ended(CallOutcome::Cancelled);
        let text = m.render();
        assert!(text.contains("chartline_active_calls 3"), "{text}");
        assert!(text.contains("chartline_calls_total{outcome=\"completed\"} 2"), "{text}");
        assert!(text.contains("chartline_calls_total{outcome=\"cancelled\"} 1"), "{text}");
        assert!(!text.contains("chartline_trunk"), "no trunk attached: {text}");
    }

    #[test]
    fn renders_trunk_gauges_when_attached() {
        let m = Metrics::default();
        let trunk = Arc::new(TrunkGauges::default());
        m.attach_trunk(trunk.clone());
        assert!(!m.render().contains("chartline_trunk_registered"), "unknown stays out");
        trunk.registered.store(1, Relaxed);
        trunk.up.store(0, Relaxed);
        trunk.denied_requests.store(4, Relaxed);
        let text = m.render();
        assert!(text.contains("chartline_trunk_registered 1\n"), "{text}");
        assert!(text.contains("chartline_trunk_up 0\n"), "{text}");
        assert!(text.contains("chartline_sip_denied_requests_total 4\n"), "{text}");
    }
}
