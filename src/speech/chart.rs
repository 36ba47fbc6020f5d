//! The chart transcript: a caller's recorded message transcribed after the call, for the provider
//! to read as the patient's words. It runs on the larger multilingual model (`[speech.chart]`,
//! Whisper base), with beam search over Whisper's full windows, language detection (or a fixed
//! language) and temperature fallback: slower than a live turn, and nobody waits for it on the
//! line. Without that model the live recognizer writes it, and the record names the model that did.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use serde::Deserialize;
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState};

use super::SpeechConfig;
use super::asr::{self, AsrError, AsrPool, Priority, Saturated};
use super::model::{self, ModelError};
use crate::media::resample;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChartConfig {
    /// The whisper.cpp model for chart transcripts (`chartline model import models/ct2-base`).
    pub model_path: PathBuf,
    /// `auto` detects the spoken language; otherwise a Whisper language code such as `en`.
    pub language: String,
    /// Beams of the beam search (1 = greedy).
    pub beam_size: usize,
}

impl Default for ChartConfig {
    fn default() -> Self {
        Self { model_path: PathBuf::from("models/ggml-base.bin"), language: "auto".into(), beam_size: 5 }
    }
}

impl ChartConfig {
    /// Returns the key (relative to `[speech.chart]`) and the problem.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.language != "auto" && whisper_rs::get_lang_id(&self.language).is_none() {
            return Err(("language".into(), format!("{:?} is not a Whisper language code (or \"auto\")", self.language)));
        }
        if !(1..=8).contains(&self.beam_size) {
            return Err(("beam_size".into(), format!("{} is outside 1..8", self.beam_size)));
        }
        Ok(())
    }
}

/// A message transcript and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartTranscript {
    /// The recognized text, trimmed; empty when nothing was said.
    pub text: String,
    /// The model that wrote it, e.g. `whisper-base` (see [`model_name`]).
    pub model: String,
    /// The language it was recognized in: detected, configured, or `en` for an English-only model.
    pub language: String,
    /// Time spent recognizing (waiting included).
    pub compute_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error(transparent)]
    Asr(#[from] AsrError),
    #[error(transparent)]
    Saturated(#[from] Saturated),
}

/// `whisper-<size>` from the file's hyper-parameters (`whisper-base`, `whisper-tiny.en`).
pub fn model_name(path: &Path) -> Result<String, ModelError> {
    Ok(format!("whisper-{}", model::hparams(path)?.file_stem()))
}

/// Who writes chart transcripts: the chart model, or the live pool when that model is absent.
#[derive(Clone)]
pub enum ChartTranscriber {
    Chart(ChartModel),
    Live { pool: AsrPool, model: String },
}

impl ChartTranscriber {
    /// The chart model of `config.chart`; when it is switched off (an empty path), the live pool;
    /// when it cannot be loaded, the live pool too, logged as an error naming the fix. `None` with
    /// neither.
    pub fn load(config: &SpeechConfig, live: Option<&AsrPool>) -> Option<ChartTranscriber> {
        let live_model = || model_name(&config.model_path).unwrap_or_else(|_| "whisper".into());
        if config.chart.model_path.as_os_str().is_empty() {
            let pool = live?.clone();
            tracing::info!("chart transcripts from the live model (speech.chart.model_path is empty)");
            return Some(ChartTranscriber::Live { pool, model: live_model() });
        }
        match ChartModel::load(&config.chart, config) {
            Ok(chart) => {
                tracing::info!(model = %chart.model, path = %config.chart.model_path.display(), language = %config.chart.language, "chart transcripts ready");
                Some(ChartTranscriber::Chart(chart))
            }
            Err(e) => {
                let pool = live?.clone();
                let model = live_model();
                tracing::error!(error = %e, fallback = %model, "no chart-transcript model: message transcripts come from the live model. To fix it, run `scripts/setup` then `chartline model import models/ct2-base`");
                Some(ChartTranscriber::Live { pool, model })
            }
        }
    }

    /// The model that writes the transcripts.
    pub fn model(&self) -> &str {
        match self {
            ChartTranscriber::Chart(chart) => &chart.model,
            ChartTranscriber::Live { model, .. } => model,
        }
    }

    /// Transcribes a recorded message (8 kHz). `hints` are words likely in it.
    pub async fn transcribe(&self, audio_8k: Vec<i16>, hints: &[String]) -> Result<ChartTranscript, ChartError> {
        let started = Instant::now();
        let (text, language) = match self {
            ChartTranscriber::Chart(chart) => chart.transcribe(audio_8k, hints.to_vec()).await?,
            ChartTranscriber::Live { pool, .. } => {
                let transcript = pool.submit(audio_8k, Priority::Message, hints)?.await.map_err(|_| AsrError::Stopped)??;
                (transcript.text, "en".to_string())
            }
        };
        Ok(ChartTranscript { text, model: self.model().to_string(), language, compute_ms: started.elapsed().as_millis() as u64 })
    }
}

/// The chart model in memory with one decoding state: messages are transcribed one at a time.
#[derive(Clone)]
pub struct ChartModel {
    state: Arc<Mutex<WhisperState>>,
    model: String,
    multilingual: bool,
    language: String,
    beam_size: usize,
    threads: usize,
    prompt: String,
}

impl ChartModel {
    pub fn load(chart: &ChartConfig, speech: &SpeechConfig) -> Result<ChartModel, ModelError> {
        let path = &chart.model_path;
        model::check(path)?;
        let model = model_name(path)?;
        whisper_rs::install_logging_hooks();
        let load_err = |message: String| ModelError::Load { path: path.clone(), message };
        let context = WhisperContext::new_with_params(path, WhisperContextParameters::default()).map_err(|e| load_err(e.to_string()))?;
        let state = context.create_state().map_err(|e| load_err(e.to_string()))?;
        Ok(ChartModel {
            multilingual: context.is_multilingual(),
            state: Arc::new(Mutex::new(state)),
            model,
            language: chart.language.clone(),
            beam_size: chart.beam_size,
            threads: speech.thread_count(),
            prompt: speech.vocabulary.join(", "),
        })
    }

    /// Transcribes 8 kHz audio off the async runtime; returns the text and its language.
    pub async fn transcribe(&self, audio_8k: Vec<i16>, hints: Vec<String>) -> Result<(String, String), AsrError> {
        let samples = resample::resample(&resample::i16_to_f32(&audio_8k), 8000, 16000)?;
        self.transcribe_16k(samples, hints).await
    }

    /// Transcribes 16 kHz audio off the async runtime; returns the text and its language.
    pub async fn transcribe_16k(&self, samples: Vec<f32>, hints: Vec<String>) -> Result<(String, String), AsrError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.recognize(&samples, &hints)).await.map_err(|_| AsrError::Stopped)?
    }

    fn recognize(&self, samples: &[f32], hints: &[String]) -> Result<(String, String), AsrError> {
        let fixed = if self.multilingual { (self.language != "auto").then_some(self.language.as_str()) } else { Some("en") };
        if !asr::is_speech(samples) {
            return Ok((String::new(), fixed.unwrap_or("en").to_string()));
        }
        let prompt = if hints.is_empty() { self.prompt.clone() } else { format!("{}, {}", self.prompt, hints.join(", ")) };
        let mut state = self.state.lock();
        state.full(self.params(fixed.unwrap_or("auto"), &prompt), samples).map_err(|e| AsrError::Whisper(e.to_string()))?;
        let mut text = String::new();
        for segment in state.as_iter() {
            text.push_str(&segment.to_str_lossy().map_err(|e| AsrError::Whisper(e.to_string()))?);
        }
        let language = match fixed {
            Some(language) => language.to_string(),
            None => whisper_rs::get_lang_str(state.full_lang_id_from_state()).unwrap_or("und").to_string(),
        };
        Ok((asr::clean(&asr::collapse_loop(&text)), language))
    }

    fn params<'a>(&self, language: &'a str, prompt: &'a str) -> FullParams<'a, 'a> {
        let strategy = if self.beam_size > 1 { SamplingStrategy::BeamSearch { beam_size: self.beam_size as i32, patience: -1.0 } } else { SamplingStrategy::Greedy { best_of: 5 } };
        // Nobody waits for the chart transcript: temperature fallback on every decode.
        let mut p = asr::base_params(strategy, self.threads, language, prompt);
        p.set_temperature_inc(0.2);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_names_the_bad_key() {
        assert!(ChartConfig::default().validate().is_ok());
        assert!(ChartConfig { language: "de".into(), ..ChartConfig::default() }.validate().is_ok());
        assert_eq!(ChartConfig { language: "klingon".into(), ..ChartConfig::default() }.validate().unwrap_err().0, "language");
        assert_eq!(ChartConfig { beam_size: 0, ..ChartConfig::default() }.validate().unwrap_err().0, "beam_size");
    }
}
