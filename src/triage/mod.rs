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

    /// Every spelling in a vocabulary (`med`, `test`).
    pub fn vocabulary(&self, name: &str) -> Vec<String> {
        self.rules.classes.get(name).map(|e| e.iter().map(|w| w.join(" ")).collect()).unwrap_or_default()
    }

    /// Which of the patient's medications (`candidates`, as written in the chart) the caller named:
    /// [`medication::best_match`] first, then through the `med` vocabulary's other spellings of
    /// the drug, so "Glucophage" finds "Metformin 500 MG Oral Tablet".
    pub fn match_medication<S: AsRef<str>>(&self, spoken: &str, candidates: &[S]) -> Option<(usize, f64)> {
        if let Some(found) = medication::best_match(spoken, candidates) {
            return Some(found);
        }
        let entries = self.rules.entries.get("med")?;
        entries
            .iter()
            .filter(|spellings| medication::best_match(spoken, spellings).is_some())
            .flat_map(|spellings| spellings.iter().filter_map(|s| medication::best_match(s, candidates)))
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
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
