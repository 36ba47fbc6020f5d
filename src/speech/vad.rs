//! Voice activity detection and endpointing on 8 kHz call audio, as a pure state machine: 20 ms
//! frames and the current time in, events out. The frame decision is in [`classifier`]; this file
//! turns decisions into utterances:
//!
//! - `SpeechStarted` once `start_ms` of speech frames arrive close together (a click or a cough
//!   shorter than that starts nothing). While a prompt plays this is the barge-in signal.
//! - `Utterance(audio)` when `trailing_silence_ms` pass without speech: the audio from
//!   `pre_roll_ms` before the start to shortly after the last speech frame.
//! - `MaxLengthReached(audio)` when an utterance reaches `max_utterance_ms`.
//!
//! Nothing is emitted for silence or line noise, so the recognizer never sees them.

pub mod classifier;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::Deserialize;

pub use classifier::{Classifier, FRAME, Features, Thresholds};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VadConfig {
    /// A frame must be this much louder than the tracked noise floor to count as speech.
    pub threshold_db: f32,
    /// Frames quieter than this (dBFS, after the 200 Hz high-pass) are never speech.
    pub min_level_dbfs: f32,
    /// Normalised autocorrelation peak (0–1) above which a frame counts as voiced.
    pub periodicity: f32,
    /// Speech needed within a short span before an utterance starts (and barge-in fires).
    pub start_ms: u64,
    /// Silence after speech that ends the utterance.
    pub trailing_silence_ms: u64,
    /// Longest utterance; longer speech is cut and delivered as `MaxLengthReached`.
    pub max_utterance_ms: u64,
    /// Audio kept from before the start (word onsets are quiet).
    pub pre_roll_ms: u64,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self { threshold_db: 6.0, min_level_dbfs: -50.0, periodicity: 0.5, start_ms: 100, trailing_silence_ms: 700, max_utterance_ms: 15_000, pre_roll_ms: 200 }
    }
}

impl VadConfig {
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |k: &str, p: &str| Err((k.to_string(), p.to_string()));
        if !(0.0..=60.0).contains(&self.threshold_db) {
            return bad("threshold_db", "must be between 0 and 60");
        }
        if !(-100.0..=0.0).contains(&self.min_level_dbfs) {
            return bad("min_level_dbfs", "must be between -100 and 0");
        }
        if !(0.0..=1.0).contains(&self.periodicity) {
            return bad("periodicity", "must be between 0 and 1");
        }
        if self.start_ms < 20 || self.start_ms > 2000 {
            return bad("start_ms", "must be between 20 and 2000");
        }
        if self.trailing_silence_ms < 100 || self.trailing_silence_ms > 10_000 {
            return bad("trailing_silence_ms", "must be between 100 and 10000");
        }
        if self.max_utterance_ms < 1000 || self.max_utterance_ms > 30_000 {
            return bad("max_utterance_ms", "must be between 1000 and 30000 (Whisper hears 30 s at most)");
        }
        if self.pre_roll_ms > 1000 {
            return bad("pre_roll_ms", "must be at most 1000");
        }
        Ok(())
    }

    fn thresholds(&self) -> Thresholds {
        Thresholds { threshold_db: self.threshold_db, min_level_dbfs: self.min_level_dbfs, periodicity: self.periodicity }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VadEvent {
    /// Speech began (barge-in while a prompt plays).
    SpeechStarted,
    /// A complete utterance, 8 kHz.
    Utterance(Vec<i16>),
    /// Speech went on for `max_utterance_ms`; this is what was heard so far, 8 kHz.
    MaxLengthReached(Vec<i16>),
}

#[derive(Debug, Clone)]
enum State {
    /// Not listening: frames only teach the noise floor.
    Idle,
    /// Waiting for speech; `recent` counts speech frames among the last few.
    Waiting {
        recent: VecDeque<bool>,
    },
    Speaking {
        started: Instant,
        last_speech: Instant,
        audio: Vec<i16>,
        speech_end: usize,
    },
}

#[derive(Debug, Clone)]
pub struct Endpointer {
    config: VadConfig,
    classifier: Classifier,
    state: State,
    /// The last `pre_roll_ms` of audio while waiting.
    pre_roll: VecDeque<i16>,
}

impl Endpointer {
    /// A new endpointer, not yet listening (call [`Endpointer::listen`]).
    pub fn new(config: &VadConfig) -> Self {
        Self { classifier: Classifier::new(config.thresholds()), config: config.clone(), state: State::Idle, pre_roll: VecDeque::new() }
    }

    /// Starts (or restarts) listening for an utterance; audio heard before is dropped.
    pub fn listen(&mut self) {
        self.pre_roll.clear();
        self.state = State::Waiting { recent: VecDeque::new() };
    }

    /// Stops listening (any utterance in progress is dropped); the noise floor keeps learning.
    pub fn stop(&mut self) {
        self.pre_roll.clear();
        self.state = State::Idle;
    }

    pub fn is_listening(&self) -> bool {
        !matches!(self.state, State::Idle)
    }

    pub fn in_speech(&self) -> bool {
        matches!(self.state, State::Speaking { .. })
    }

    pub fn noise_floor_dbfs(&self) -> f32 {
        self.classifier.floor_dbfs()
    }

    /// Feeds one 20 ms frame (160 samples) received at `now`.
    pub fn push(&mut self, frame: &[i16], now: Instant) -> Option<VadEvent> {
        let (speech, _) = self.classifier.classify(frame);
        let start_frames = self.config.start_ms.div_ceil(20) as usize;
        let pre_roll_samples = (self.config.pre_roll_ms * 8) as usize;
        match &mut self.state {
            State::Idle => None,
            State::Waiting { recent } => {
                recent.push_back(speech);
                // `start_frames` speech frames within a window half again as long.
                while recent.len() > start_frames + start_frames / 2 {
                    recent.pop_front();
                }
                self.pre_roll.extend(frame);
                let keep = pre_roll_samples + recent.len() * FRAME;
                while self.pre_roll.len() > keep {
                    self.pre_roll.pop_front();
                }
                if recent.iter().filter(|s| **s).count() < start_frames {
                    return None;
                }
                let audio: Vec<i16> = self.pre_roll.drain(..).collect();
                let speech_end = audio.len();
                self.state = State::Speaking { started: now, last_speech: now, audio, speech_end };
                Some(VadEvent::SpeechStarted)
            }
            State::Speaking { started, last_speech, audio, speech_end } => {
                audio.extend_from_slice(frame);
                if speech {
                    *last_speech = now;
                    *speech_end = audio.len();
                }
                let max = Duration::from_millis(self.config.max_utterance_ms);
                let max_samples = (self.config.max_utterance_ms * 8) as usize;
                if now.duration_since(*started) >= max || audio.len() >= max_samples {
                    let audio = std::mem::take(audio);
                    self.listen();
                    return Some(VadEvent::MaxLengthReached(audio));
                }
                if now.duration_since(*last_speech) >= Duration::from_millis(self.config.trailing_silence_ms) {
                    // Keep 200 ms after the last speech frame: word endings fade out.
                    let end = (*speech_end + 1600).min(audio.len());
                    let mut audio = std::mem::take(audio);
                    audio.truncate(end);
                    self.listen();
                    return Some(VadEvent::Utterance(audio));
                }
                None
            }
        }
    }
}

#[cfg(test)]
#[path = "vad_tests.rs"]
mod tests;
