//! Triage: what a call is about, how urgent it is, and where it goes.
//!
//! - [`request`]: the twelve request types (codes A–L).
//! - [`Triage`]: transcript text → [`Classification`] (request type, red flags, the rules that
//!   fired), driven by the rules in `config/triage.toml` ([`rules`], [`pattern`], [`classify`])
//!   and, when it is imported, the learned model ([`model`]: a sentence encoder and two heads
//!   trained on `config/triage-train.tsv`), merged by [`model::combine`].
//! - [`medication`]: fuzzy matching of a spoken drug name against the patient's medications.
//! - [`answer`]: spoken yes/no and menu choices.
//! - [`hours`]: practice hours, holidays and after-hours; [`routing`]: provider, department,
//!   location and on-call for a call.
//!
//! Everything here is pure: text and times in, decisions out.

pub mod answer;
pub mod classify;
pub mod evaluate;
pub mod hours;
pub mod medication;
pub mod model;
pub mod pattern;
pub mod request;
pub mod routing;
pub mod rules;
pub mod text;

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use classify::{Classification, RedFlag, RuleHit};
pub use request::RequestType;
pub use rules::{RulesError, Severity};

/// `[triage]` in chartline.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TriageConfig {
    /// A rules file replacing the embedded `config/triage.toml`; empty = embedded.
    pub rules: Option<PathBuf>,
    /// Folder of the learned model written by `chartline model import-triage`; empty = rules only.
    pub model: Option<PathBuf>,
}

impl Default for TriageConfig {
    fn default() -> Self {
        Self { rules: None, model: Some(PathBuf::from(DEFAULT_MODEL_DIR)) }
    }
}

/// Where `chartline model import-triage` writes the model by default.
pub const DEFAULT_MODEL_DIR: &str = "models/triage";

/// The compiled triage rules and, when loaded, the learned model; cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Triage {
    rules: rules::RuleSet,
    model: Option<Arc<model::TriageModel>>,
}

/// Why [`Triage::from_config`] failed.
#[derive(Debug, thiserror::Error)]
pub enum TriageError {
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error(transparent)]
    Model(#[from] model::ModelError),
}

impl Triage {
    /// The rules compiled into the binary.
    /// The rules compiled into the binary, without the model.
    pub fn embedded() -> Result<Self, RulesError> {
        Ok(Self { rules: rules::RuleSet::embedded()?, model: None })
    }

    /// Rules from a TOML text, without the model; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, RulesError> {
        Ok(Self { rules: rules::RuleSet::parse(text, origin)?, model: None })
    }

    /// The configured rules file (or the embedded rules) and the configured model. A model folder
    /// that has not been imported yet is `Ok` with the rules alone and says so in the second
    /// value, for the caller to warn about; a model that is there but does not load is an error.
    pub fn from_config(config: &TriageConfig) -> Result<(Self, Option<model::ModelError>), TriageError> {
        let rules = match config.rules.as_deref().filter(|p| !p.as_os_str().is_empty()) {
            Some(path) => rules::RuleSet::load(path)?,
            None => rules::RuleSet::embedded()?,
        };
        let dir = config.model.as_deref().filter(|p| !p.as_os_str().is_empty());
        let (model, missing) = match dir.map(model::TriageModel::load) {
            None => (None, None),
            Some(Ok(model)) => (Some(Arc::new(model)), None),
            Some(Err(missing @ model::ModelError::Missing { .. })) => (None, Some(missing)),
            Some(Err(e)) => return Err(e.into()),
        };
        Ok((Self { rules, model }, missing))
    }

    /// These rules with a loaded model.
    pub fn with_model(self, model: Arc<model::TriageModel>) -> Self {
        Self { model: Some(model), ..self }
    }

    pub fn has_model(&self) -> bool {
        self.model.is_some()
    }

    /// Rules and model together ([`model::combine`]). Should the model fail on a text, the rules'
    /// classification stands alone and the failure is logged.
    pub fn classify(&self, text: &str) -> Classification {
        let c = self.classify_rules(text);
        let Some(model) = &self.model else { return c };
        match model.scores(text) {
            Ok(scores) => model::combine(c, scores, model.thresholds()),
            Err(e) => {
                tracing::warn!(error = %e, "triage model failed: the rules decide alone");
                c
            }
        }
    }

    /// The rules alone.
    pub fn classify_rules(&self, text: &str) -> Classification {
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
    /// `rules`, `model` or `both`; absent when the model is not loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<model::DecidedBy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<&'a model::ModelScores>,
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
            decided_by: c.decided_by,
            model: c.model.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests;
