//! The caller's last seconds before a recording starts. Callers often start their message while
//! "please leave your message after the tone" is still playing; the recording then begins with
//! what they said during the prompt instead of clipping their first words. The window starts
//! again with each prompt, so an earlier answer never leaks into a message. Only speech is kept:
//! the pre-roll starts shortly before the first frame loud enough to be a voice, so a caller who
//! waited for the tone gets no leading silence.

use std::collections::VecDeque;

/// Frames of 20 ms at 8 kHz are compared against the speech level.
const FRAME: usize = 160;
/// RMS level (of full scale) above which a frame counts as speech: about -45 dBFS, above line
/// noise and comfort noise, below any voice.
const SPEECH_RMS: f64 = 0.0056;
/// Audio kept before the first speech frame, so the onset of the first word is whole.
const LEAD_SAMPLES: usize = 1600;

/// A bounded window of the most recent inbound audio (8 kHz).
#[derive(Debug, Default)]
pub struct PreRoll {
    samples: VecDeque<i16>,
    capacity: usize,
}

impl PreRoll {
    pub fn new(capacity_ms: u32) -> Self {
        let capacity = capacity_ms as usize * 8;
        Self { samples: VecDeque::with_capacity(capacity), capacity }
    }

    pub fn push(&mut self, frame: &[i16]) {
        if self.capacity == 0 {
            return;
        }
        self.samples.extend(frame);
        let excess = self.samples.len().saturating_sub(self.capacity);
        self.samples.drain(..excess);
    }

    /// Forgets the window (a new prompt starts: what was said before it is another answer).
    pub fn clear(&mut self) {
        self.samples.clear();
    }

    /// The audio to put at the start of a recording: from just before the first speech in the
    /// window to its end, or nothing when the window holds no speech. Empties the window.
    pub fn take_speech(&mut self) -> Vec<i16> {
        let samples: Vec<i16> = self.samples.drain(..).collect();
        let loud = |frame: &[i16]| (frame.iter().map(|&s| (s as f64 / 32768.0).powi(2)).sum::<f64>() / frame.len() as f64).sqrt() >= SPEECH_RMS;
        match samples.chunks(FRAME).position(loud) {
            Some(first) => samples[(first * FRAME).saturating_sub(LEAD_SAMPLES)..].to_vec(),
            None => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(samples: usize) -> Vec<i16> {
        (0..samples).map(|n| ((n as f32 * 0.3).sin() * 3000.0) as i16).collect()
    }

    #[test]
    fn silence_before_the_tone_adds_nothing() {
        let mut preroll = PreRoll::new(3000);
        preroll.push(&vec![0; 24_000]);
        preroll.push(&vec![40; 160]);
        assert!(preroll.take_speech().is_empty());
    }

    #[test]
    fn speech_during_the_prompt_is_kept_from_just_before_its_onset() {
        let mut preroll = PreRoll::new(3000);
        preroll.push(&vec![0; 16_000]);
        preroll.push(&tone(8_000));
        let kept = preroll.take_speech();
        assert_eq!(kept.len(), 8_000 + LEAD_SAMPLES);
        assert!(kept[..LEAD_SAMPLES].iter().all(|&s| s == 0));
        assert!(preroll.take_speech().is_empty(), "taken once");
    }

    #[test]
    fn the_window_keeps_only_the_last_seconds() {
        let mut preroll = PreRoll::new(1000);
        preroll.push(&tone(8_000));
        preroll.push(&vec![0; 8_000]);
        assert!(preroll.take_speech().is_empty(), "speech older than the window is gone");
        preroll.push(&tone(800));
        preroll.clear();
        assert!(preroll.take_speech().is_empty(), "a new prompt starts the window again");
        let mut off = PreRoll::new(0);
        off.push(&tone(800));
        assert!(off.take_speech().is_empty());
    }
}
