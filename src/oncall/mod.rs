//! On-call paging (issue 5, phone side): the `[oncall]` and `[alerts]` configuration, who an urgent
//! call alerts (`recipients`) and the alert state machine.
//! The drivers that place the calls and relay the media live in `crate::call` (`outbound`,
//! `bridge`, `alert`).

pub mod alert;
pub mod callback;
pub mod config;
pub mod pins;
pub mod recipients;

pub use alert::{Alert, AlertTiming, Target};
pub use config::OnCallConfig;
pub use recipients::AlertsConfig;
