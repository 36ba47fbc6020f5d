//! Triage: what a call is about, how urgent it is, and where it goes.
//!
//! - [`request`]: the twelve request types (codes A–L).
//! - [`Triage`]: transcript text → [`Classification`] (request type, red flags, the rules that
//!   fired), driven by the rules in `config/triage.toml` ([`rules`], [`pattern`], [`classify`]).
//! - [`medication`]: fuzzy matching of a spoken drug name against the patient's medications.
//! - [`answer`]: spoken yes/no and menu choices.
//! - [`hours`]: practice hours, holidays and after-hours; [`routing`]: provider, department,
//!   location and on-call for a call.
//!
//! Everything here is pure: text and times in, decisions out.

pub mod answer;
pub mod classify;
pub mod hours;
pub mod medication;
pub mod pattern;
pub mod request;
pub mod routing;
pub mod rules;
pub mod text;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use classify::{Classification, RedFlag, RuleHit};
pub use request::RequestType;
pub use rules::{RulesError, Severity};

/// `[triage]` in chartline.toml.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TriageConfig {
    /// A rules file replacing the embedded `config/triage.toml`; empty = embedded.
    pub rules: Option<PathBuf>,
}

/// The compiled triage rules; cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Triage {
    rules: rules::RuleSet,
}

impl Triage {
    /// The rules compiled into the binary.
    pub fn embedded() -> Result<Self, RulesError> {
        Ok(Self { rules: rules::RuleSet::embedded()? })
    }

    /// Rules from a TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, RulesError> {
        Ok(Self { rules: rules::RuleSet::parse(text, origin)? })
    }

    /// The configured rules file, or the embedded rules.
    pub fn from_config(config: &TriageConfig) -> Result<Self, RulesError> {
        match config.rules.as_deref().filter(|p| !p.as_os_str().is_empty()) {
            Some(path) => Ok(Self { rules: rules::RuleSet::load(path)? }),
            None => Self::embedded(),
        }
    }

    pub fn classify(&self, text: &str) -> Classification {
        classify::classify(&self.rules, text)
    }

    /// Entries of a vocabulary (`med`, `test`), each with its spellings separated by `|`.
    pub fn vocabulary(&self, name: &str) -> Vec<String> {
        self.rules.classes.get(name).map(|e| e.iter().map(|w| w.join(" ")).collect()).unwrap_or_default()
    }
}

/// The JSON of `chartline triage TEXT --json`: the four contract fields first, then the explanation.
#[derive(Debug, Serialize)]
pub struct TriageReport<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub code: String,
    pub urgent: bool,
    pub red_flags: Vec<String>,
    pub rules: Vec<&'a str>,
    pub severity: Option<Severity>,
    pub detected_type: Option<&'static str>,
    pub flags: &'a [RedFlag],
    pub fired: &'a [RuleHit],
    pub negated: &'a [RuleHit],
}

impl<'a> From<&'a Classification> for TriageReport<'a> {
    fn from(c: &'a Classification) -> Self {
        Self {
            kind: c.request.name(),
            code: c.request.code().to_string(),
            urgent: c.urgent,
            red_flags: c.red_flag_ids(),
            rules: c.rules.iter().map(|r| r.id.as_str()).collect(),
            severity: c.severity,
            detected_type: c.detected.map(RequestType::name),
            flags: &c.red_flags,
            fired: &c.rules,
            negated: &c.negated,
        }
    }
}

#[cfg(test)]
mod tests;
