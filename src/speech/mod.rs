//! On-box speech: voice activity detection and endpointing on 8 kHz call audio (`vad`), a bounded
//! pool of whisper.cpp workers sharing one model (`asr`), the message transcript for the chart on
//! a larger model (`chart`), the CTranslate2 → ggml model import
//! (`model`), and the spoken date-of-birth parser (`dates`). Configured by `[speech]`.
//!
//! Its layer, and what it may import: docs/architecture.md.

pub mod asr;
pub mod chart;
pub mod dates;
pub mod model;
pub mod vad;

use std::path::PathBuf;

use serde::Deserialize;

pub use asr::{AsrError, AsrPool, Priority, Saturated, Transcript};
pub use chart::{ChartConfig, ChartTranscriber, ChartTranscript};
pub use model::ModelError;
pub use vad::{Endpointer, VadConfig, VadEvent};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpeechConfig {
    /// The whisper.cpp ggml model written by `chartline model import`.
    pub model_path: PathBuf,
    /// Recognition workers, each with its own whisper state; 0 = one per CPU core.
    pub workers: usize,
    /// Utterances that may wait for a worker; beyond this `submit` fails at once (keypad fallback).
    pub queue: usize,
    /// whisper.cpp threads per utterance; 0 = cores / workers (at least 1).
    pub threads: usize,
    /// Encoder positions (20 ms each) beyond the utterance on the first decoding try; fewer is
    /// faster, more finds the end of speech more reliably (a loop is retried wider anyway).
    pub audio_ctx_margin: usize,
    /// Words of the practice put in the initial prompt to steer recognition (medications, names).
    pub vocabulary: Vec<String>,
    pub vad: VadConfig,
    /// The larger model that writes the message transcript for the chart.
    pub chart: ChartConfig,
}

impl Default for SpeechConfig {
    fn default() -> Self {
        Self {
            model_path: PathBuf::from("models/ggml-tiny.en.bin"),
            workers: 0,
            queue: 8,
            threads: 0,
            audio_ctx_margin: 128,
            vocabulary: ["refill", "prescription", "appointment", "lisinopril", "metformin", "atorvastatin", "amlodipine", "date of birth", "doctor", "nurse"].map(String::from).to_vec(),
            vad: VadConfig::default(),
            chart: ChartConfig::default(),
        }
    }
}

impl SpeechConfig {
    /// Range checks; returns the key (relative to `[speech]`) and the problem.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.queue == 0 {
            return Err(("queue".into(), "must be at least 1".into()));
        }
        if self.workers > 64 {
            return Err(("workers".into(), format!("{} is more than 64", self.workers)));
        }
        if !(32..=1500).contains(&self.audio_ctx_margin) {
            return Err(("audio_ctx_margin".into(), format!("{} is outside 32..1500", self.audio_ctx_margin)));
        }
        if self.threads > 64 {
            return Err(("threads".into(), format!("{} is more than 64", self.threads)));
        }
        self.chart.validate().map_err(|(k, p)| (format!("chart.{k}"), p))?;
        self.vad.validate().map_err(|(k, p)| (format!("vad.{k}"), p))
    }

    /// Workers after resolving 0 to the number of cores.
    pub fn worker_count(&self) -> usize {
        if self.workers == 0 { cores() } else { self.workers }
    }

    /// whisper.cpp threads per job after resolving 0.
    pub fn thread_count(&self) -> usize {
        if self.threads == 0 { (cores() / self.worker_count()).max(1) } else { self.threads }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}
