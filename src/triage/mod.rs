//! Triage: what a call is about. `request` holds the twelve request types.

pub mod request;

pub use request::RequestType;
