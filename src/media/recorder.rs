//! Records the caller's audio to an 8 kHz 16-bit mono WAV. The header is rewritten every second so a
//! file stays readable up to the last second if the process dies.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub struct RecordingInfo {
    pub path: PathBuf,
    pub duration_ms: u64,
    /// Root mean square level, 0.0–1.0 of full scale.
    pub rms: f32,
}

pub struct Recorder {
    path: PathBuf,
    writer: hound::WavWriter<BufWriter<File>>,
    samples: u64,
    sum_squares: f64,
    since_flush: u32,
}

impl Recorder {
    pub fn create(path: &Path) -> Result<Self, hound::Error> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let spec = hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
        Ok(Self { path: path.into(), writer: hound::WavWriter::create(path, spec)?, samples: 0, sum_squares: 0.0, since_flush: 0 })
    }

    pub fn write(&mut self, frame: &[i16]) -> Result<(), hound::Error> {
        for &s in frame {
            self.writer.write_sample(s)?;
            self.sum_squares += (s as f64 / 32768.0).powi(2);
        }
        self.samples += frame.len() as u64;
        self.since_flush += frame.len() as u32;
        if self.since_flush >= 8000 {
            self.since_flush = 0;
            self.writer.flush()?;
        }
        Ok(())
    }

    pub fn duration_ms(&self) -> u64 {
        self.samples / 8
    }

    pub fn finish(self) -> Result<RecordingInfo, hound::Error> {
        let rms = if self.samples == 0 { 0.0 } else { (self.sum_squares / self.samples as f64).sqrt() as f32 };
        let info = RecordingInfo { path: self.path.clone(), duration_ms: self.duration_ms(), rms };
        self.writer.finalize()?;
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_duration_and_level_and_is_readable_before_finish() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/rec.wav");
        let mut rec = Recorder::create(&path).unwrap();
        let frame: Vec<i16> = (0..160).map(|n| if n % 2 == 0 { 16384 } else { -16384 }).collect();
        for _ in 0..75 {
            rec.write(&frame).unwrap();
        }
        let partial = hound::WavReader::open(&path).unwrap();
        assert_eq!(partial.duration(), 8000, "flushed after one second");
        let info = rec.finish().unwrap();
        assert_eq!(info.duration_ms, 1500);
        assert!((info.rms - 0.5).abs() < 0.01);
        assert_eq!(hound::WavReader::open(&path).unwrap().duration(), 12000);
    }
}
