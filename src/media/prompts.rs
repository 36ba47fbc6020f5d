//! Prompt audio: every `<name>.wav` (or .ogg/.mp3) under the sounds folder decoded once with
//! symphonia, resampled to 8 kHz and shared by all calls; and read-back of digits, numbers and
//! dates built from the word prompts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use super::resample;

pub type Clip = Arc<[i16]>;

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("cannot read {path}: {message}")]
    Decode { path: PathBuf, message: String },
    #[error(transparent)]
    Resample(#[from] resample::ResampleError),
    #[error("cannot list {path}: {source}")]
    Dir { path: PathBuf, source: std::io::Error },
}

/// The text a clip was rendered from (`manifest.tsv` in the sounds folder, written by
/// `scripts/make-sounds`); `None` for clips recorded by hand or without a manifest.
pub fn rendered_text(dir: &Path, clip: &str) -> Option<String> {
    let manifest = std::fs::read_to_string(dir.join("manifest.tsv")).ok()?;
    manifest.lines().find_map(|line| line.split_once('\t').filter(|(name, _)| *name == clip).map(|(_, text)| text.to_string()))
}

/// Decodes any audio file symphonia knows to mono f32 and its sample rate.
pub fn decode_file(path: &Path) -> Result<(Vec<f32>, u32), PromptError> {
    let fail = |message: String| PromptError::Decode { path: path.into(), message };
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe().probe(&hint, mss, FormatOptions::default(), MetadataOptions::default()).map_err(|e| fail(e.to_string()))?;
    let track = format.default_track(TrackType::Audio).ok_or_else(|| fail("no audio track".into()))?;
    let params = track.codec_params.as_ref().and_then(|p| p.audio()).ok_or_else(|| fail("no audio parameters".into()))?;
    let mut decoder = symphonia::default::get_codecs().make_audio_decoder(params, &AudioDecoderOptions::default()).map_err(|e| fail(e.to_string()))?;
    let track_id = track.id;
    let mut rate = params.sample_rate.unwrap_or(8000);
    let mut mono = Vec::new();
    let mut interleaved: Vec<f32> = Vec::new();
    while let Some(packet) = format.next_packet().map_err(|e| fail(e.to_string()))? {
        if packet.track_id != track_id {
            continue;
        }
        let buffer = match decoder.decode(&packet) {
            Ok(buffer) => buffer,
            Err(symphonia::core::errors::Error::DecodeError(_)) => continue,
            Err(e) => return Err(fail(e.to_string())),
        };
        let channels = buffer.spec().channels().count().max(1);
        rate = buffer.spec().rate();
        interleaved.resize(buffer.samples_interleaved(), 0.0);
        buffer.copy_to_slice_interleaved(&mut interleaved);
        mono.extend(interleaved.chunks(channels).map(|frame| frame.iter().sum::<f32>() / channels as f32));
    }
    Ok((mono, rate))
}

/// Loads a file as 8 kHz 16-bit mono.
pub fn load_8k(path: &Path) -> Result<Clip, PromptError> {
    let (samples, rate) = decode_file(path)?;
    let resampled = resample::resample(&samples, rate, 8000)?;
    Ok(resample::f32_to_i16(&resampled).into())
}

/// Something to say: a named prompt, or a value read back from word prompts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptItem {
    Clip(String),
    Digits(String),
    Number(u32),
    Date(NaiveDate),
}

#[derive(Debug, Default)]
pub struct PromptLibrary {
    clips: HashMap<String, Clip>,
}

impl PromptLibrary {
    /// Loads every audio file of `dir`.
    pub fn load(dir: &Path) -> Result<Self, PromptError> {
        let entries = std::fs::read_dir(dir).map_err(|source| PromptError::Dir { path: dir.into(), source })?;
        let mut clips = HashMap::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let known = path.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "wav" | "ogg" | "mp3"));
            if let (true, Some(stem)) = (known, path.file_stem().and_then(|s| s.to_str())) {
                clips.insert(stem.to_string(), load_8k(&path)?);
            }
        }
        Ok(Self { clips })
    }

    pub fn insert(&mut self, name: &str, clip: Clip) {
        self.clips.insert(name.to_string(), clip);
    }

    pub fn len(&self) -> usize {
        self.clips.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clips.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<Clip> {
        self.clips.get(name).cloned()
    }

    /// Expands items to clips; missing prompts are skipped with a warning (never a silent call:
    /// the dialog goes on and the log says which file to render).
    pub fn expand(&self, items: &[PromptItem]) -> Vec<Clip> {
        let names: Vec<String> = items
            .iter()
            .flat_map(|item| match item {
                PromptItem::Clip(name) => vec![name.clone()],
                PromptItem::Digits(digits) => say_digits(digits),
                PromptItem::Number(n) => say_number(*n),
                PromptItem::Date(date) => say_date(*date),
            })
            .collect();
        names
            .iter()
            .filter_map(|name| {
                let clip = self.get(name);
                if clip.is_none() {
                    tracing::warn!(prompt = %name, "prompt audio missing: run scripts/make-sounds");
                }
                clip
            })
            .collect()
    }
}

pub fn say_digits(digits: &str) -> Vec<String> {
    digits
        .chars()
        .filter_map(|c| match c {
            '0'..='9' => Some(format!("digit-{c}")),
            '*' => Some("digit-star".into()),
            '#' => Some("digit-pound".into()),
            _ => None,
        })
        .collect()
}

/// Cardinal numbers below a million as word prompts.
pub fn say_number(n: u32) -> Vec<String> {
    let mut words = Vec::new();
    if n >= 1000 {
        words.extend(say_number(n / 1000));
        words.push("thousand".into());
        if !n.is_multiple_of(1000) {
            words.extend(say_number(n % 1000));
        }
        return words;
    }
    if n >= 100 {
        words.push(format!("number-{}", n / 100));
        words.push("hundred".into());
        if !n.is_multiple_of(100) {
            words.extend(say_number(n % 100));
        }
        return words;
    }
    if n < 20 {
        return vec![format!("number-{n}")];
    }
    words.push(format!("number-{}", n / 10 * 10));
    if !n.is_multiple_of(10) {
        words.push(format!("number-{}", n % 10));
    }
    words
}

/// A year as people say it: 1982 "nineteen eighty two", 1905 "nineteen oh five", 2000 "two
/// thousand", 2007 "two thousand seven", 2015 "twenty fifteen".
pub fn say_year(year: u32) -> Vec<String> {
    let (high, low) = (year / 100, year % 100);
    if (2000..2010).contains(&year) || year.is_multiple_of(1000) || !(1100..10000).contains(&year) {
        return say_number(year);
    }
    let mut words = say_number(high);
    match low {
        0 => words.push("hundred".into()),
        1..=9 => {
            words.push("oh".into());
            words.extend(say_number(low));
        }
        _ => words.extend(say_number(low)),
    }
    words
}

/// "March fifth nineteen eighty two".
pub fn say_date(date: NaiveDate) -> Vec<String> {
    let mut words = vec![format!("month-{:02}", date.month()), format!("ordinal-{:02}", date.day())];
    words.extend(say_year(date.year().max(0) as u32));
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_years_in_words() {
        assert_eq!(say_number(0), ["number-0"]);
        assert_eq!(say_number(42), ["number-40", "number-2"]);
        assert_eq!(say_number(115), ["number-1", "hundred", "number-15"]);
        assert_eq!(say_year(1982), ["number-19", "number-80", "number-2"]);
        assert_eq!(say_year(1905), ["number-19", "oh", "number-5"]);
        assert_eq!(say_year(1900), ["number-19", "hundred"]);
        assert_eq!(say_year(2000), ["number-2", "thousand"]);
        assert_eq!(say_year(2007), ["number-2", "thousand", "number-7"]);
        assert_eq!(say_year(2015), ["number-20", "number-15"]);
        let date = NaiveDate::from_ymd_opt(1982, 3, 5).unwrap();
        assert_eq!(say_date(date), ["month-03", "ordinal-05", "number-19", "number-80", "number-2"]);
        assert_eq!(say_digits("10#*"), ["digit-1", "digit-0", "digit-pound", "digit-star"]);
    }

    #[test]
    fn loads_wav_of_any_rate_as_8k() {
        let dir = tempfile::tempdir().unwrap();
        for (name, rate) in [("a", 16000u32), ("b", 22050)] {
            let spec = hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
            let mut w = hound::WavWriter::create(dir.path().join(format!("{name}.wav")), spec).unwrap();
            for n in 0..rate / 2 {
                w.write_sample(((n as f32 * 0.1).sin() * 10000.0) as i16).unwrap();
            }
            w.finalize().unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let library = PromptLibrary::load(dir.path()).unwrap();
        assert_eq!(library.len(), 2);
        for name in ["a", "b"] {
            let clip = library.get(name).unwrap();
            assert!((clip.len() as i32 - 4000).abs() < 10, "{name}: half a second at 8 kHz, got {}", clip.len());
        }
        let expanded = library.expand(&[PromptItem::Clip("a".into()), PromptItem::Clip("missing".into())]);
        assert_eq!(expanded.len(), 1);
    }
}
