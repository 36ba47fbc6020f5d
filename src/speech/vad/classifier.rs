//! Speech/non-speech decision per 20 ms frame of 8 kHz audio.
//!
//! Algorithm (chosen by measurement, see `tests/speech_vad.rs` and `benches/speech/`): the frame is
//! high-passed at 200 Hz (2nd-order Butterworth: removes DC and mains hum, −21 dB at 60 Hz, keeps
//! the formants), then two features decide:
//! - its energy against a tracked noise floor (falls quickly to quieter frames, rises slowly, so a
//!   steady hiss or hum becomes the floor instead of "speech"), and
//! - its periodicity: the highest local peak of the normalised autocorrelation over pitch lags
//!   2.5–12.5 ms (80–400 Hz), on a 40 ms window (this frame and the one before). Voiced speech
//!   is periodic; hiss is not, and hum (60 Hz, period beyond the lags) has no peak in range.
//!
//! A frame is speech when it is `threshold_db` above the floor and above `min_level_dbfs`, and
//! either periodic, or loud (`threshold_db` + 6 dB over the floor) within 300 ms of a periodic
//! frame (the consonants around vowels). Noise alone therefore never counts as speech.

/// Samples per frame: 20 ms at 8 kHz.
pub const FRAME: usize = 160;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub threshold_db: f32,
    pub min_level_dbfs: f32,
    pub periodicity: f32,
}

/// Features of one frame, exposed for measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Features {
    pub level_dbfs: f32,
    pub floor_dbfs: f32,
    pub periodicity: f32,
}

/// 2nd-order Butterworth high-pass (RBJ biquad), direct form I.
#[derive(Debug, Clone)]
struct HighPass {
    b: [f32; 3],
    a: [f32; 2],
    x: [f32; 2],
    y: [f32; 2],
}

impl HighPass {
    fn new(cutoff_hz: f32, rate_hz: f32) -> Self {
        let w0 = 2.0 * std::f32::consts::PI * cutoff_hz / rate_hz;
        let alpha = w0.sin() / (2.0 * std::f32::consts::FRAC_1_SQRT_2);
        let (cos, a0) = (w0.cos(), 1.0 + alpha);
        let b0 = (1.0 + cos) / 2.0 / a0;
        Self { b: [b0, -2.0 * b0, b0], a: [-2.0 * cos / a0, (1.0 - alpha) / a0], x: [0.0; 2], y: [0.0; 2] }
    }

    fn step(&mut self, x: f32) -> f32 {
        let y = self.b[0] * x + self.b[1] * self.x[0] + self.b[2] * self.x[1] - self.a[0] * self.y[0] - self.a[1] * self.y[1];
        self.x = [x, self.x[0]];
        self.y = [y, self.y[0]];
        y
    }
}

#[derive(Debug, Clone)]
pub struct Classifier {
    thresholds: Thresholds,
    floor_dbfs: f32,
    filter: HighPass,
    /// The filtered frame before this one, for the 40 ms periodicity window.
    history: [f32; FRAME],
    frames_since_voiced: u32,
    /// Use periodicity (false = energy against the adaptive floor only, for comparison).
    use_periodicity: bool,
}

impl Classifier {
    pub fn new(thresholds: Thresholds) -> Self {
        Self { thresholds, floor_dbfs: -60.0, filter: HighPass::new(200.0, 8000.0), history: [0.0; FRAME], frames_since_voiced: u32::MAX, use_periodicity: true }
    }

    /// The energy-only variant, kept to measure what periodicity adds.
    pub fn energy_only(thresholds: Thresholds) -> Self {
        Self { use_periodicity: false, ..Self::new(thresholds) }
    }

    pub fn floor_dbfs(&self) -> f32 {
        self.floor_dbfs
    }

    /// Classifies one frame (160 samples; shorter frames are zero-padded) and updates the floor.
    pub fn classify(&mut self, frame: &[i16]) -> (bool, Features) {
        let mut window = [0f32; 2 * FRAME];
        window[..FRAME].copy_from_slice(&self.history);
        let n = frame.len().min(FRAME);
        let mut power = 0f32;
        for (out, &s) in window[FRAME..].iter_mut().zip(&frame[..n]) {
            *out = self.filter.step(s as f32 / 32768.0);
            power += *out * *out;
        }
        self.history.copy_from_slice(&window[FRAME..]);
        let level = 10.0 * (power / n.max(1) as f32 + 1e-10).log10();
        let t = self.thresholds;
        let above = level - self.floor_dbfs;
        let candidate = level > t.min_level_dbfs && above > t.threshold_db;
        let periodicity = if self.use_periodicity && candidate { periodicity(&window) } else { 0.0 };
        let speech = if !self.use_periodicity {
            candidate
        } else if periodicity > t.periodicity {
            self.frames_since_voiced = 0;
            candidate
        } else {
            self.frames_since_voiced = self.frames_since_voiced.saturating_add(1);
            candidate && above > t.threshold_db + 6.0 && self.frames_since_voiced <= 15
        };
        let features = Features { level_dbfs: level, floor_dbfs: self.floor_dbfs, periodicity };
        // Floor: down quickly; up slowly (2 s time constant on non-speech, 20 s during speech), so
        // quiet speech frames do not drag it up into the voice.
        let rate = if level < self.floor_dbfs {
            0.2
        } else if speech {
            0.001
        } else {
            0.01
        };
        self.floor_dbfs += (level - self.floor_dbfs) * rate;
        (speech, features)
    }
}

/// The highest local peak of the normalised autocorrelation over lags 20..=100 samples.
fn periodicity(x: &[f32]) -> f32 {
    let r = |lag: usize| {
        let (a, b) = (&x[..x.len() - lag], &x[lag..]);
        let (mut dot, mut ea, mut eb) = (0f32, 0f32, 0f32);
        for (p, q) in a.iter().zip(b) {
            dot += p * q;
            ea += p * p;
            eb += q * q;
        }
        dot / (ea * eb).sqrt().max(1e-12)
    };
    let mut best = 0f32;
    let (mut before, mut here) = (r(19), r(20));
    for lag in 20..=100 {
        let after = r(lag + 1);
        if here >= before && here >= after {
            best = best.max(here);
        }
        (before, here) = (here, after);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thresholds() -> Thresholds {
        Thresholds { threshold_db: 9.0, min_level_dbfs: -50.0, periodicity: 0.5 }
    }

    fn tone(hz: f32, amplitude: f32, frames: usize, offset: usize) -> Vec<Vec<i16>> {
        (0..frames).map(|f| (0..FRAME).map(|n| ((2.0 * std::f32::consts::PI * hz * (offset + f * FRAME + n) as f32 / 8000.0).sin() * amplitude) as i16).collect()).collect()
    }

    fn noise(amplitude: f32, frames: usize, seed: &mut u32) -> Vec<Vec<i16>> {
        (0..frames)
            .map(|_| {
                (0..FRAME)
                    .map(|_| {
                        *seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                        ((*seed >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0) * amplitude
                    })
                    .map(|v| v as i16)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn steady_noise_becomes_the_floor_and_a_voiced_tone_is_speech() {
        let mut c = Classifier::new(thresholds());
        let mut seed = 7;
        let hiss = noise(600.0, 100, &mut seed);
        let speech_in_noise: Vec<bool> = hiss.iter().map(|f| c.classify(f).0).collect();
        assert!(speech_in_noise.iter().all(|s| !s), "hiss must not be speech");
        // A 200 Hz "voice" 20 dB over the hiss.
        let voice = tone(200.0, 8000.0, 20, 0);
        let decisions: Vec<bool> = voice.iter().map(|f| c.classify(f).0).collect();
        assert!(decisions[1..].iter().all(|s| *s), "{decisions:?}");
    }

    #[test]
    fn mains_hum_is_not_speech() {
        let mut c = Classifier::new(thresholds());
        let hum = tone(60.0, 3000.0, 100, 0);
        let decisions: Vec<bool> = hum.iter().map(|f| c.classify(f).0).collect();
        assert!(decisions.iter().all(|s| !s), "{decisions:?}");
    }

    #[test]
    fn digital_silence_is_not_speech() {
        let mut c = Classifier::new(thresholds());
        assert!(!c.classify(&[0; FRAME]).0);
        assert!(!c.classify(&[3; FRAME]).0);
    }
}
