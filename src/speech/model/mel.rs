//! The mel filter bank Whisper was trained with: Slaney mel scale and Slaney area normalisation,
//! 0 Hz to Nyquist, as librosa's `filters.mel(sr=16000, n_fft=400, n_mels=80)` defaults compute
//! it (in f64, stored as f32).

/// Hz → mel on the Slaney scale: linear below 1 kHz, logarithmic above.
fn hz_to_mel(hz: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let log_step = 6.4f64.ln() / 27.0;
    if hz >= min_log_hz { min_log_mel + (hz / min_log_hz).ln() / log_step } else { hz / f_sp }
}

fn mel_to_hz(mel: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let log_step = 6.4f64.ln() / 27.0;
    if mel >= min_log_mel { min_log_hz * (log_step * (mel - min_log_mel)).exp() } else { f_sp * mel }
}

/// `n_mels` triangular filters over `n_fft / 2 + 1` bins, row-major [n_mels][n_fft/2+1].
pub fn filters(sample_rate: u32, n_fft: usize, n_mels: usize) -> Vec<f32> {
    let bins = n_fft / 2 + 1;
    let nyquist = sample_rate as f64 / 2.0;
    let fft_freqs: Vec<f64> = (0..bins).map(|i| nyquist * i as f64 / (bins - 1) as f64).collect();
    let (low, high) = (hz_to_mel(0.0), hz_to_mel(nyquist));
    let points = n_mels + 2;
    let mel_freqs: Vec<f64> = (0..points).map(|i| mel_to_hz(low + (high - low) * i as f64 / (points - 1) as f64)).collect();
    let mut out = Vec::with_capacity(n_mels * bins);
    for m in 0..n_mels {
        let (left, center, right) = (mel_freqs[m], mel_freqs[m + 1], mel_freqs[m + 2]);
        let norm = 2.0 / (right - left);
        for &f in &fft_freqs {
            let rising = (f - left) / (center - left);
            let falling = (right - f) / (right - center);
            out.push((rising.min(falling).max(0.0) * norm) as f32);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slaney_scale_round_trips_and_bends_at_1khz() {
        for hz in [0.0, 200.0, 999.0, 1000.0, 4000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9);
        }
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel(6400.0) - 42.0).abs() < 1e-9, "{}", hz_to_mel(6400.0));
    }

    #[test]
    fn whisper_filter_bank_shape_and_known_values() {
        let f = filters(16000, 400, 80);
        assert_eq!(f.len(), 80 * 201);
        // Every filter is a non-empty triangle; the lowest covers bin 1 only (40 Hz spacing vs
        // 25 Hz-wide low filters), the highest ends at Nyquist.
        for m in 0..80 {
            let row = &f[m * 201..(m + 1) * 201];
            assert!(row.iter().any(|&w| w > 0.0), "filter {m} is empty");
            assert!(row.iter().all(|&w| w >= 0.0));
        }
        // The whole bank against faster-whisper 1.2.1's independent computation (the librosa
        // algorithm), dumped as little-endian f32 by its FeatureExtractor.get_mel_filters.
        let reference: Vec<f32> = include_bytes!("../../../tests/fixtures/speech/mel-80x201-faster-whisper.f32").chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        assert_eq!(reference.len(), f.len());
        let worst = f.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst <= 1e-9, "largest difference {worst}");
        assert!((f[1] - 0.024_862_595).abs() < 1e-9, "{}", f[1]);
    }
}
