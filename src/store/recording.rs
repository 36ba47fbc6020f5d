//! Recordings at rest: 16-bit mono PCM sealed in chunks with AES-256-GCM.
//!
//! File layout (little-endian):
//! ```text
//! header  "CLREC\0" | version u8 = 1 | reserved u8 | sample_rate u32 | key_id [8] (ascii hex) | nonce_prefix [8]
//! chunk*  length u32 (sealed bytes) | flags u8 (1 = final) | sealed PCM (+16-byte tag)
//! ```
//! Chunk `i` is sealed with nonce = nonce_prefix ‖ i (u32 big-endian) and AAD = header ‖ i ‖ flags,
//! so a chunk cannot be edited, reordered, moved to another file or passed off as the last one.
//! Each chunk (one second of audio) is appended and handed to the OS as it is complete: after a
//! crash the file holds every complete second, and the reader returns them with `complete =
//! false` instead of failing. Files that start with `RIFF` are plain WAVs from before encryption
//! and are read as they are.

use std::io::Write;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::keys::{self, DataKey, KeyError, Keys, Purpose};

pub const MAGIC: &[u8; 6] = b"CLREC\0";

/// Where calls' recordings are kept under the data directory.
pub fn recordings_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("recordings")
}
const VERSION: u8 = 1;
const HEADER_LEN: usize = 28;
const TAG_LEN: usize = 16;
const FINAL: u8 = 1;
/// A chunk is at most this many samples (it bounds what a reader accepts as a length).
const MAX_CHUNK_SAMPLES: usize = 48_000;

#[derive(Debug, Error)]
pub enum RecordingError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} is not a Chartline recording or a WAV file")]
    NotRecording { path: String },
    #[error("{path}: recording format version {version} is not supported")]
    Version { path: String, version: u8 },
    #[error("{path}: {source}")]
    Key { path: String, source: KeyError },
    #[error("{path}: chunk {chunk} fails authentication (edited, or sealed with another key)")]
    Tampered { path: String, chunk: u32 },
    #[error("{path}: chunk {chunk}: {problem}")]
    BadChunk { path: String, chunk: u32, problem: String },
    #[error("{path}: {source}")]
    Wav { path: String, source: hound::Error },
}

/// Decoded audio of a recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Pcm {
    pub sample_rate: u32,
    pub samples: Vec<i16>,
    /// False when the file ends before its final chunk (the process died while recording).
    pub complete: bool,
    /// Key id that sealed it; `None` for a plain WAV.
    pub key_id: Option<String>,
}

impl Pcm {
    pub fn duration_ms(&self) -> u64 {
        self.samples.len() as u64 * 1000 / self.sample_rate.max(1) as u64
    }

    /// The audio as a WAV file (16-bit mono).
    pub fn to_wav(&self) -> Vec<u8> {
        let spec = hound::WavSpec { channels: 1, sample_rate: self.sample_rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
        let mut out = std::io::Cursor::new(Vec::with_capacity(44 + self.samples.len() * 2));
        {
            let mut w = hound::WavWriter::new(&mut out, spec).expect("writing to memory");
            let mut w16 = w.get_i16_writer(self.samples.len() as u32);
            for &s in &self.samples {
                w16.write_sample(s);
            }
            w16.flush().expect("writing to memory");
            w.finalize().expect("writing to memory");
        }
        out.into_inner()
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RecordingError + '_ {
    move |source| RecordingError::Io { path: path.display().to_string(), source }
}

/// Appends sealed chunks to a recording file.
pub struct SealedWriter {
    path: PathBuf,
    file: std::fs::File,
    key: DataKey,
    header: [u8; HEADER_LEN],
    chunk_samples: usize,
    pending: Vec<i16>,
    index: u32,
}

impl SealedWriter {
    /// Creates the file and writes its header; chunks hold `chunk_samples` samples (one second at
    /// the sample rate is a good size).
    pub fn create(path: &Path, key: &DataKey, sample_rate: u32, chunk_samples: usize) -> Result<Self, RecordingError> {
        assert!(chunk_samples > 0 && chunk_samples <= MAX_CHUNK_SAMPLES);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        let mut header = [0u8; HEADER_LEN];
        header[..6].copy_from_slice(MAGIC);
        header[6] = VERSION;
        header[8..12].copy_from_slice(&sample_rate.to_le_bytes());
        let id = key.id.as_bytes();
        header[12..12 + id.len().min(8)].copy_from_slice(&id[..id.len().min(8)]);
        header[20..28].copy_from_slice(&rand::random::<[u8; 8]>());
        let mut file = std::fs::File::create(path).map_err(io_err(path))?;
        file.write_all(&header).map_err(io_err(path))?;
        Ok(Self { path: path.into(), file, key: key.clone(), header, chunk_samples, pending: Vec::with_capacity(chunk_samples), index: 0 })
    }

    /// Adds samples; every full chunk is sealed and written at once.
    pub fn write(&mut self, samples: &[i16]) -> Result<(), RecordingError> {
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (self.chunk_samples - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() == self.chunk_samples {
                self.seal_pending(0)?;
            }
        }
        Ok(())
    }

    fn seal_pending(&mut self, flags: u8) -> Result<(), RecordingError> {
        let plain: Vec<u8> = self.pending.iter().flat_map(|s| s.to_le_bytes()).collect();
        let sealed = keys::seal(self.key.bytes(), &nonce(&self.header, self.index), &aad(&self.header, self.index, flags), &plain);
        let mut chunk = Vec::with_capacity(5 + sealed.len());
        chunk.extend_from_slice(&(sealed.len() as u32).to_le_bytes());
        chunk.push(flags);
        chunk.extend_from_slice(&sealed);
        // One write per chunk: a crash leaves whole chunks plus at most one partial tail.
        self.file.write_all(&chunk).map_err(io_err(&self.path))?;
        self.pending.clear();
        self.index += 1;
        Ok(())
    }

    /// Sealed chunks written so far.
    pub fn chunks(&self) -> u32 {
        self.index
    }

    /// A second handle on the file, to sync it to disk from another thread while writing goes on.
    pub fn sync_handle(&self) -> Result<std::fs::File, RecordingError> {
        self.file.try_clone().map_err(io_err(&self.path))
    }

    /// Seals what is left as the final chunk and syncs the file.
    pub fn finish(mut self) -> Result<PathBuf, RecordingError> {
        self.seal_pending(FINAL)?;
        self.file.sync_data().map_err(io_err(&self.path))?;
        Ok(self.path)
    }
}

fn nonce(header: &[u8; HEADER_LEN], index: u32) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&header[20..28]);
    n[8..].copy_from_slice(&index.to_be_bytes());
    n
}

fn aad(header: &[u8], index: u32, flags: u8) -> Vec<u8> {
    let mut a = header.to_vec();
    a.extend_from_slice(&index.to_le_bytes());
    a.push(flags);
    a
}

/// True when the file starts like a sealed recording.
pub fn is_sealed(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 6];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && &head == MAGIC
}

/// Reads a recording (sealed or a plain WAV) into PCM.
pub fn read_pcm(path: &Path, keys: &Keys) -> Result<Pcm, RecordingError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    decode(&bytes, path, keys)
}

/// Reads a recording as WAV bytes, for players and EHR attachments.
pub fn read_wav(path: &Path, keys: &Keys) -> Result<Vec<u8>, RecordingError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    if bytes.starts_with(b"RIFF") {
        return Ok(bytes);
    }
    Ok(decode(&bytes, path, keys)?.to_wav())
}

/// Decodes the bytes of a recording; `path` only names it in errors.
pub fn decode(bytes: &[u8], path: &Path, keys: &Keys) -> Result<Pcm, RecordingError> {
    let name = || path.display().to_string();
    if bytes.starts_with(b"RIFF") {
        let wav_err = |source| RecordingError::Wav { path: name(), source };
        let reader = hound::WavReader::new(std::io::Cursor::new(bytes)).map_err(wav_err)?;
        let sample_rate = reader.spec().sample_rate;
        let samples = reader.into_samples::<i16>().collect::<Result<Vec<_>, _>>().map_err(wav_err)?;
        return Ok(Pcm { sample_rate, samples, complete: true, key_id: None });
    }
    if bytes.len() < HEADER_LEN || &bytes[..6] != MAGIC {
        return Err(RecordingError::NotRecording { path: name() });
    }
    if bytes[6] != VERSION {
        return Err(RecordingError::Version { path: name(), version: bytes[6] });
    }
    let header: [u8; HEADER_LEN] = bytes[..HEADER_LEN].try_into().expect("length checked");
    let sample_rate = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
    let key_id = String::from_utf8_lossy(&header[12..20]).trim_end_matches('\0').to_string();
    let key = keys.find(Purpose::Recordings, &key_id).map_err(|source| RecordingError::Key { path: name(), source })?;
    let mut samples = Vec::new();
    let (mut at, mut index, mut complete) = (HEADER_LEN, 0u32, false);
    while bytes.len() - at >= 5 {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        let flags = bytes[at + 4];
        if !(TAG_LEN..=MAX_CHUNK_SAMPLES * 2 + TAG_LEN).contains(&len) || !(len - TAG_LEN).is_multiple_of(2) || flags > FINAL {
            return Err(RecordingError::BadChunk { path: name(), chunk: index, problem: format!("impossible length {len} or flags {flags}") });
        }
        if bytes.len() - at - 5 < len {
            break; // the tail of a chunk being written when the process died
        }
        let sealed = &bytes[at + 5..at + 5 + len];
        let plain = keys::open(key.bytes(), &nonce(&header, index), &aad(&header, index, flags), sealed).ok_or_else(|| RecordingError::Tampered { path: name(), chunk: index })?;
        samples.extend(plain.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])));
        at += 5 + len;
        index += 1;
        if flags == FINAL {
            complete = true;
            if at != bytes.len() {
                return Err(RecordingError::BadChunk { path: name(), chunk: index, problem: "data after the final chunk".into() });
            }
            break;
        }
    }
    Ok(Pcm { sample_rate, samples, complete, key_id: Some(key_id) })
}

/// Seals a recording again with the current recordings key (a plain WAV gets sealed too),
/// replacing the file atomically. Returns false when it already uses the current key.
pub fn reseal(path: &Path, keys: &Keys) -> Result<bool, RecordingError> {
    let pcm = read_pcm(path, keys)?;
    let current = keys.current(Purpose::Recordings);
    if pcm.key_id.as_deref() == Some(current.id.as_str()) {
        return Ok(false);
    }
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(".resealing");
    let tmp = PathBuf::from(tmp);
    let mut writer = SealedWriter::create(&tmp, current, pcm.sample_rate, pcm.sample_rate.clamp(1, MAX_CHUNK_SAMPLES as u32) as usize)?;
    writer.write(&pcm.samples)?;
    if pcm.complete {
        writer.finish()?;
    } else {
        // Keep the mark of an interrupted recording: no final chunk.
        writer.file.sync_data().map_err(io_err(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize) -> Vec<i16> {
        (0..n).map(|i| ((i as f32 * 0.3).sin() * 8000.0) as i16).collect()
    }

    fn write(path: &Path, keys: &Keys, samples: &[i16], finish: bool) {
        let mut w = SealedWriter::create(path, keys.current(Purpose::Recordings), 8000, 8000).unwrap();
        for frame in samples.chunks(160) {
            w.write(frame).unwrap();
        }
        if finish {
            w.finish().unwrap();
        }
    }

    #[test]
    fn round_trip_and_no_plaintext_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::ephemeral();
        let path = dir.path().join("r.clrec");
        let audio = tone(20_000);
        write(&path, &keys, &audio, true);
        let pcm = read_pcm(&path, &keys).unwrap();
        assert_eq!(pcm.samples, audio);
        assert!(pcm.complete);
        assert_eq!(pcm.duration_ms(), 2500);
        let raw = std::fs::read(&path).unwrap();
        let plain: Vec<u8> = audio[..64].iter().flat_map(|s| s.to_le_bytes()).collect();
        assert!(!raw.windows(plain.len()).any(|w| w == plain.as_slice()));
        let wav = read_wav(&path, &keys).unwrap();
        let back: Vec<i16> = hound::WavReader::new(std::io::Cursor::new(wav)).unwrap().into_samples().map(Result::unwrap).collect();
        assert_eq!(back, audio);
    }

    #[test]
    fn tampering_names_the_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::ephemeral();
        let path = dir.path().join("t.clrec");
        write(&path, &keys, &tone(24_000), true);
        let mut raw = std::fs::read(&path).unwrap();
        let second = HEADER_LEN + 5 + 16_000 + TAG_LEN + 5 + 100;
        raw[second] ^= 1;
        std::fs::write(&path, &raw).unwrap();
        let err = read_pcm(&path, &keys).unwrap_err();
        assert!(matches!(err, RecordingError::Tampered { chunk: 1, .. }), "{err}");
        assert!(err.to_string().contains("chunk 1"));
    }

    #[test]
    fn a_truncated_file_gives_every_complete_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::ephemeral();
        let path = dir.path().join("crash.clrec");
        let audio = tone(8000 * 3 + 500);
        write(&path, &keys, &audio, false); // process "dies": no final chunk, 500 samples unsealed
        let pcm = read_pcm(&path, &keys).unwrap();
        assert!(!pcm.complete);
        assert_eq!(pcm.samples, audio[..24_000]);
        // Cut inside the third chunk as well.
        let raw = std::fs::read(&path).unwrap();
        std::fs::write(&path, &raw[..raw.len() - 700]).unwrap();
        let pcm = read_pcm(&path, &keys).unwrap();
        assert_eq!(pcm.samples, audio[..16_000]);
        assert!(!pcm.complete);
    }

    #[test]
    fn a_dropped_final_chunk_or_a_foreign_key_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::ephemeral();
        let path = dir.path().join("f.clrec");
        write(&path, &keys, &tone(9000), true);
        let mut raw = std::fs::read(&path).unwrap();
        // Passing the first chunk off as final fails authentication.
        raw[HEADER_LEN + 4] = FINAL;
        std::fs::write(&path, &raw).unwrap();
        assert!(matches!(read_pcm(&path, &keys), Err(RecordingError::Tampered { chunk: 0, .. })));
        write(&path, &keys, &tone(9000), true);
        let err = read_pcm(&path, &Keys::ephemeral()).unwrap_err();
        assert!(matches!(err, RecordingError::Key { .. }), "{err}");
    }

    #[test]
    fn plain_wavs_are_read_and_reseal_moves_to_the_current_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut keys = Keys::ephemeral();
        let path = dir.path().join("old.wav");
        let audio = tone(12_000);
        std::fs::write(&path, Pcm { sample_rate: 8000, samples: audio.clone(), complete: true, key_id: None }.to_wav()).unwrap();
        assert_eq!(read_pcm(&path, &keys).unwrap().samples, audio);
        assert!(reseal(&path, &keys).unwrap());
        assert!(is_sealed(&path));
        let first = read_pcm(&path, &keys).unwrap();
        assert_eq!(first.samples, audio);
        assert!(!reseal(&path, &keys).unwrap(), "already current");
        keys.push_current(Purpose::Recordings, DataKey::random()).unwrap();
        assert!(reseal(&path, &keys).unwrap());
        let second = read_pcm(&path, &keys).unwrap();
        assert_eq!(second.samples, audio);
        assert_ne!(first.key_id, second.key_id);
    }
}
