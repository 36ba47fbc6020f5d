//! Sample-rate conversion with rubato's FFT resampler (band-limited, for whole clips in memory).

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

#[derive(Debug, thiserror::Error)]
#[error("resampling {from} Hz to {to} Hz failed: {message}")]
pub struct ResampleError {
    pub from: u32,
    pub to: u32,
    pub message: String,
}

/// Resamples a mono clip from `from` Hz to `to` Hz.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, ResampleError> {
    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let fail = |message: String| ResampleError { from, to, message };
    let mut resampler = Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Input).map_err(|e| fail(e.to_string()))?;
    let input = InterleavedSlice::new(samples, 1, samples.len()).map_err(|e| fail(e.to_string()))?;
    let output = resampler.process_all(&input, samples.len(), None).map_err(|e| fail(e.to_string()))?;
    Ok(output.take_data())
}

pub fn i16_to_f32(samples: &[i16]) -> Vec<f32> {
    samples.iter().map(|&s| s as f32 / 32768.0).collect()
}

pub fn f32_to_i16(samples: &[f32]) -> Vec<i16> {
    samples.iter().map(|&s| (s * 32767.0).round().clamp(-32768.0, 32767.0) as i16).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, hz: f32, seconds: f32) -> Vec<f32> {
        (0..(rate as f32 * seconds) as usize).map(|n| (2.0 * std::f32::consts::PI * hz * n as f32 / rate as f32).sin() * 0.5).collect()
    }

    /// Zero crossings per second ≈ 2 × frequency.
    fn crossings(samples: &[f32], rate: u32) -> f32 {
        let n = samples.windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0)).count();
        n as f32 / (samples.len() as f32 / rate as f32)
    }

    #[test]
    fn keeps_length_and_pitch() {
        let input = sine(22050, 440.0, 1.0);
        let output = resample(&input, 22050, 8000).unwrap();
        assert!((output.len() as i32 - 8000).abs() <= 2, "{}", output.len());
        assert!((crossings(&output, 8000) - 880.0).abs() < 10.0);
    }

    #[test]
    fn removes_content_above_the_new_nyquist() {
        let input = sine(16000, 6000.0, 0.5);
        let output = resample(&input, 16000, 8000).unwrap();
        let rms = (output.iter().map(|s| s * s).sum::<f32>() / output.len() as f32).sqrt();
        assert!(rms < 0.01, "6 kHz must not alias into 8 kHz audio (rms {rms})");
    }
}
