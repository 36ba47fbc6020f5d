//! The learned half of triage: a sentence encoder ([`encoder`], all-MiniLM-L6-v2 from PyPI, run
//! with candle on the CPU) and two small heads trained by the project on
//! `config/triage-train.tsv` ([`heads`], [`import`]): the request type (12 classes) and the
//! severity (none, urgent, emergency). [`combine`] merges its scores with the rules'
//! classification; the rules stay a readable safety net that the model can add to but never
//! silence.

pub mod combine;
pub mod data;
pub mod encoder;
pub mod heads;
pub mod import;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use combine::{DecidedBy, combine};
pub use encoder::Encoder;
pub use heads::{Ensemble, Head};

use super::RequestType;

/// Labels of the severity head, in order.
pub const SEVERITIES: [&str; 3] = ["none", "urgent", "emergency"];

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("triage model file {path} not found: run `chartline model import-triage models/minilm-l6` (scripts/setup downloads the encoder)")]
    Missing { path: PathBuf },
    #[error("triage model {path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
    #[error("triage model inference failed: {0}")]
    Inference(String),
    #[error("triage training data {origin} line {line}: {problem}")]
    Data { origin: String, line: usize, problem: String },
    #[error("writing the triage model to {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// Decision thresholds on the heads' probabilities, chosen at import by cross-validation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Emergency probability at or above which the call is an emergency.
    pub emergency: f32,
    /// Urgent (same-day) probability at or above which an urgent flag is raised.
    pub urgent: f32,
}

/// What `import` writes to `heads.json` beside the encoder files.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeadsFile {
    /// [`HEADS_FORMAT`] of the code that wrote it: a file of another format is trained again.
    pub format: String,
    pub encoder: String,
    pub encoder_sha256: String,
    pub training_sha256: String,
    pub samples: usize,
    /// One head per cross-validation fold, averaged.
    pub request: Ensemble,
    pub severity: Ensemble,
    pub thresholds: Thresholds,
    /// Out-of-fold figures on the training data, for the record.
    pub cross_validation: import::CrossValidation,
}

/// The model's reading of one text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelScores {
    /// Probability that the text describes an emergency (highest over its windows).
    pub emergency: f32,
    /// Probability of an urgent, same-day problem.
    pub urgent: f32,
    /// The three likeliest request types.
    pub types: Vec<(RequestType, f32)>,
    /// Words in the text.
    pub words: usize,
}

impl ModelScores {
    pub fn top_type(&self) -> Option<(RequestType, f32)> {
        self.types.first().copied()
    }
}

/// Encoder and heads, loaded once and shared.
#[derive(Debug)]
pub struct TriageModel {
    encoder: Encoder,
    heads: HeadsFile,
}

pub const HEADS_FILE: &str = "heads.json";

/// The features and the heads' shape; changes when either does.
pub const HEADS_FORMAT: &str = "mean|cls|max features, ensembles of one-hidden-layer heads, recall-edge threshold";

impl TriageModel {
    /// Loads what `chartline model import-triage` wrote to `dir`.
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        let path = dir.join(HEADS_FILE);
        let text = std::fs::read(&path).map_err(|_| ModelError::Missing { path: path.clone() })?;
        let heads: HeadsFile = serde_json::from_slice(&text).map_err(|e| ModelError::Invalid { path: path.clone(), problem: e.to_string() })?;
        let encoder = Encoder::load(dir)?;
        for head in [&heads.request, &heads.severity] {
            head.check(encoder.dims()).map_err(|problem| ModelError::Invalid { path: path.clone(), problem })?;
        }
        Ok(Self { encoder, heads })
    }

    pub fn thresholds(&self) -> Thresholds {
        self.heads.thresholds
    }

    /// Scores a text. A long text (a whole message) is read in overlapping windows of words: the
    /// emergency and urgent probabilities are the highest of any window, the type probabilities
    /// their mean.
    pub fn scores(&self, text: &str) -> Result<ModelScores, ModelError> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let window = Encoder::WINDOW_WORDS;
        let mut starts: Vec<usize> = (0..words.len().saturating_sub(window / 3)).step_by(window * 2 / 3).collect();
        if starts.is_empty() {
            starts.push(0);
        }
        let mut emergency = 0.0f32;
        let mut urgent = 0.0f32;
        let mut types = vec![0.0f32; RequestType::ALL.len()];
        for start in &starts {
            let piece = words[*start..(*start + window).min(words.len())].join(" ");
            let features = self.encoder.features(&piece)?;
            let severity = self.heads.severity.probabilities(&features);
            emergency = emergency.max(severity[2]);
            urgent = urgent.max(severity[1]);
            for (t, p) in types.iter_mut().zip(self.heads.request.probabilities(&features)) {
                *t += p / starts.len() as f32;
            }
        }
        let mut ranked: Vec<(RequestType, f32)> = RequestType::ALL.iter().copied().zip(types).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked.truncate(3);
        Ok(ModelScores { emergency, urgent, types: ranked, words: words.len() })
    }
}
