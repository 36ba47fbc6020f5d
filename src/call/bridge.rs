//! Relaying audio between two call legs (Chartline as a B2BUA): each leg's media session decodes
//! its caller's frames and the other leg's session encodes them in its own codec, so PCMU↔PCMA
//! is transcoded on the way. The counters tell how much speech crossed in each direction.

use std::sync::Arc;

use serde_json::json;

use crate::media::MediaHandle;

/// A frame with more energy than this (RMS of 16-bit samples) counts as sound, not silence.
const VOICED_RMS: f64 = 300.0;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RelayCounts {
    pub frames: u64,
    pub voiced: u64,
}

/// Which way a frame goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the first leg (the provider) to the second (the patient).
    AToB,
    BToA,
}

#[derive(Debug, Default)]
pub struct Relay {
    pub a_to_b: RelayCounts,
    pub b_to_a: RelayCounts,
}

impl Relay {
    /// Starts relaying: both sessions hand their caller's audio to the driver.
    pub fn start(a: &MediaHandle, b: &MediaHandle) -> Self {
        a.stop_playback();
        b.stop_playback();
        a.listen(true);
        b.listen(true);
        Self::default()
    }

    /// Forwards one frame heard on one leg to the other.
    pub fn forward(&mut self, direction: Direction, frame: Arc<[i16]>, to: &MediaHandle) {
        let counts = match direction {
            Direction::AToB => &mut self.a_to_b,
            Direction::BToA => &mut self.b_to_a,
        };
        counts.frames += 1;
        if rms(&frame) > VOICED_RMS {
            counts.voiced += 1;
        }
        to.feed(frame);
    }

    /// The counters for the timeline.
    pub fn summary(&self) -> serde_json::Value {
        json!({
            "frames_to_patient": self.a_to_b.frames, "voiced_to_patient": self.a_to_b.voiced,
            "frames_to_provider": self.b_to_a.frames, "voiced_to_provider": self.b_to_a.voiced,
        })
    }
}

fn rms(frame: &[i16]) -> f64 {
    if frame.is_empty() {
        return 0.0;
    }
    (frame.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / frame.len() as f64).sqrt()
}

#[cfg(test)]
mod tests {
    #[test]
    fn rms_separates_silence_from_speech_level() {
        assert_eq!(super::rms(&[]), 0.0);
        assert!(super::rms(&[0, 8, -8, 4]) < super::VOICED_RMS);
        let tone: Vec<i16> = (0..160).map(|n| ((n as f64 * 0.3).sin() * 3000.0) as i16).collect();
        assert!(super::rms(&tone) > super::VOICED_RMS);
    }
}
