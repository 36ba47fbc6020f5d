//! Chartline: a self-hosted phone system for medical practices.
//!
//! Layout (see docs/architecture.md): `sip` is the signalling stack, `media` the RTP path,
//! `speech` on-box recognition, `ivr` the dialogs, `triage` request/red-flag rules,
//! `ehr` the chart adapters and sync, `store` the local SQLite store, `web` the
//! provider dashboard, `call` the per-call task that ties them together.

pub mod call;
pub mod config;
pub mod ehr;
pub mod ivr;
pub mod media;
pub mod oncall;
pub mod schedule;
pub mod sip;
pub mod speech;
pub mod store;
pub mod triage;
pub mod web;

/// Byte comparison whose time does not depend on where the strings differ (secrets, MACs, digest
/// responses, CSRF tokens).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
