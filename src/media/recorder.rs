//! Records the caller's audio (8 kHz 16-bit mono), sealed with the recordings key in one-second
//! chunks (`store::recording`): each second is written as soon as it is complete, so if the
//! process dies the file stays readable up to the last second. Every few seconds the file is also
//! synced to disk (on a blocking thread, never in the media task), so a power loss costs at most
//! those seconds.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::store::keys::DataKey;
use crate::store::recording::{RecordingError, SealedWriter};

const RATE: u32 = 8000;
/// Chunks (seconds) between two syncs to disk.
const SYNC_EVERY_CHUNKS: u32 = 5;

#[derive(Debug, Clone, PartialEq)]
pub struct RecordingInfo {
    pub path: PathBuf,
    pub duration_ms: u64,
    /// Root mean square level, 0.0–1.0 of full scale.
    pub rms: f32,
}

pub struct Recorder {
    path: PathBuf,
    writer: SealedWriter,
    samples: u64,
    sum_squares: f64,
    synced_chunks: u32,
    /// Set while a sync runs, so a slow disk never piles syncs up.
    syncing: Arc<AtomicBool>,
}

impl Recorder {
    pub fn create(path: &Path, key: &DataKey) -> Result<Self, RecordingError> {
        let writer = SealedWriter::create(path, key, RATE, RATE as usize)?;
        Ok(Self { path: path.into(), writer, samples: 0, sum_squares: 0.0, synced_chunks: 0, syncing: Default::default() })
    }

    pub fn write(&mut self, frame: &[i16]) -> Result<(), RecordingError> {
        self.sum_squares += frame.iter().map(|&s| (s as f64 / 32768.0).powi(2)).sum::<f64>();
        self.samples += frame.len() as u64;
        self.writer.write(frame)?;
        if self.writer.chunks() >= self.synced_chunks + SYNC_EVERY_CHUNKS {
            self.sync_in_background();
        }
        Ok(())
    }

    fn sync_in_background(&mut self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        if self.syncing.swap(true, Ordering::AcqRel) {
            return;
        }
        self.synced_chunks = self.writer.chunks();
        let (syncing, path) = (self.syncing.clone(), self.path.clone());
        match self.writer.sync_handle() {
            Ok(file) => {
                runtime.spawn_blocking(move || {
                    if let Err(e) = file.sync_data() {
                        tracing::warn!(error = %e, path = %path.display(), "cannot sync the recording to disk");
                    }
                    syncing.store(false, Ordering::Release);
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot sync the recording to disk");
                syncing.store(false, Ordering::Release);
            }
        }
    }

    pub fn duration_ms(&self) -> u64 {
        self.samples * 1000 / RATE as u64
    }

    pub fn finish(self) -> Result<RecordingInfo, RecordingError> {
        let rms = if self.samples == 0 { 0.0 } else { (self.sum_squares / self.samples as f64).sqrt() as f32 };
        let info = RecordingInfo { path: self.path.clone(), duration_ms: self.duration_ms(), rms };
        self.writer.finish()?;
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Keys;
    use crate::store::keys::Purpose;
    use crate::store::recording::read_pcm;

    #[test]
    fn records_duration_and_level_and_is_readable_before_finish() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::ephemeral();
        let path = dir.path().join("sub/rec.clrec");
        let mut rec = Recorder::create(&path, keys.current(Purpose::Recordings)).unwrap();
        let frame: Vec<i16> = (0..160).map(|n| if n % 2 == 0 { 16384 } else { -16384 }).collect();
        for _ in 0..75 {
            rec.write(&frame).unwrap();
        }
        let partial = read_pcm(&path, &keys).unwrap();
        assert_eq!(partial.samples.len(), 8000, "the first second is on disk");
        assert!(!partial.complete);
        let info = rec.finish().unwrap();
        assert_eq!(info.duration_ms, 1500);
        assert!((info.rms - 0.5).abs() < 0.01);
        let done = read_pcm(&path, &keys).unwrap();
        assert_eq!(done.samples.len(), 12000);
        assert!(done.complete);
    }

    #[tokio::test]
    async fn syncs_to_disk_every_few_seconds_off_the_task() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::ephemeral();
        let mut rec = Recorder::create(&dir.path().join("rec.clrec"), keys.current(Purpose::Recordings)).unwrap();
        let second = vec![0i16; 8000];
        for _ in 0..SYNC_EVERY_CHUNKS - 1 {
            rec.write(&second).unwrap();
        }
        assert_eq!(rec.synced_chunks, 0, "no sync before {SYNC_EVERY_CHUNKS} s");
        rec.write(&second).unwrap();
        assert_eq!(rec.synced_chunks, SYNC_EVERY_CHUNKS);
        for _ in 0..200 {
            if !rec.syncing.load(Ordering::Acquire) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the background sync never finished");
    }
}
