//! The provider-facing HTTP side: Prometheus metrics now; the dashboard comes with its own issue.

pub mod metrics;
