//! Chartline: a self-hosted phone system for medical practices.
//!
//! Layout (see docs/architecture.md): `sip` is the signalling stack, `media` the RTP path,
//! `speech` on-box recognition, `ivr` the dialogs, `triage` request/red-flag rules,
//! `ehr` the chart adapters and sync, `store` the local SQLite store, `web` the
//! provider dashboard, `call` the per-call task that ties them together.

pub mod call;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod ehr;
pub mod ivr;
pub mod media;
pub mod metrics;
pub mod oncall;
pub mod phone;
pub mod schedule;
pub mod server;
pub mod sip;
pub mod speech;
pub mod store;
pub mod toml_file;
pub mod triage;
pub mod web;
