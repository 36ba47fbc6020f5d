//! Frame accuracy of the voice-activity decision on labelled audio: the synthesized utterances
//! (piper and espeak-ng voices) with silence between them, clean and with line noise (hiss, mains
//! hum, μ-law coding). Labels come from the clean speech; three detectors are compared: a fixed
//! energy threshold, energy over an adaptive noise floor, and the chosen adaptive energy plus
//! periodicity. Cost per frame is measured in benches/speech (not here).

mod common;

use chartline::media::g711;
use chartline::speech::vad::{Classifier, FRAME, Thresholds};
use chartline::speech::{Endpointer, VadConfig, VadEvent};

/// Runs the endpointer; returns the frame spans [start, end) of the utterances it delivered.
fn utterance_spans(audio: &[i16]) -> Vec<(usize, usize)> {
    let mut ep = Endpointer::new(&VadConfig::default());
    ep.listen();
    let t0 = std::time::Instant::now();
    let mut spans = Vec::new();
    for (i, frame) in audio.chunks(FRAME).enumerate() {
        if let Some(VadEvent::Utterance(a) | VadEvent::MaxLengthReached(a)) = ep.push(frame, t0 + std::time::Duration::from_millis(20 * i as u64)) {
            // The utterance ends at most 200 ms after its last speech frame, which is `i` minus the
            // trailing silence; it spans `a.len()` samples back from there.
            let end = i + 1 - (VadConfig::default().trailing_silence_ms as usize / 20) + 10;
            spans.push((end.saturating_sub(a.len() / FRAME), end));
        }
    }
    spans
}

/// The clean utterances separated by 1 s of silence, with a label per 20 ms frame: speech,
/// silence, or None for the faint frames in between (word tails, breaths) that are left out.
fn labelled() -> (Vec<i16>, Vec<Option<bool>>) {
    let mut audio = Vec::new();
    for (id, _, _, _, wav) in common::speech_utterances() {
        let clean = wav.with_file_name(format!("{id}.clean.wav"));
        let samples = chartline::media::prompts::load_8k(&clean).unwrap();
        audio.extend(std::iter::repeat_n(0i16, 8000));
        audio.extend(samples.iter());
    }
    audio.extend(std::iter::repeat_n(0i16, 8000));
    audio.truncate(audio.len() / FRAME * FRAME);
    // Voices are normalised to -3 dBFS peak: a frame above -45 dBFS clean is speech, below -60
    // dBFS it is silence (the gaps between words and utterances).
    let labels = audio
        .chunks(FRAME)
        .map(|f| match level_dbfs(f) {
            l if l > -45.0 => Some(true),
            l if l < -60.0 => Some(false),
            _ => None,
        })
        .collect();
    (audio, labels)
}

fn level_dbfs(frame: &[i16]) -> f32 {
    let power = frame.iter().map(|&s| (s as f32 / 32768.0).powi(2)).sum::<f32>() / frame.len() as f32;
    10.0 * (power + 1e-10).log10()
}

fn noisy(audio: &[i16], hiss: f32, hum: f32, mu_law: bool) -> Vec<i16> {
    let mut seed = 7u32;
    audio
        .iter()
        .enumerate()
        .map(|(n, &s)| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let white = (seed >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0;
            let t = n as f32 / 8000.0;
            let v = (s as f32 + white * hiss + (2.0 * std::f32::consts::PI * 60.0 * t).sin() * hum).clamp(-32768.0, 32767.0) as i16;
            if mu_law { g711::ulaw_to_linear(g711::linear_to_ulaw(v)) } else { v }
        })
        .collect()
}

struct Score {
    accuracy: f64,
    false_alarms: f64,
    recall: f64,
}

fn score(decisions: impl Iterator<Item = bool>, labels: &[Option<bool>]) -> Score {
    let (mut right, mut fa, mut silence, mut hit, mut speech) = (0, 0, 0, 0, 0);
    for (d, l) in decisions.zip(labels) {
        let Some(l) = *l else { continue };
        right += usize::from(d == l);
        if l {
            speech += 1;
            hit += usize::from(d);
        } else {
            silence += 1;
            fa += usize::from(d);
        }
    }
    Score { accuracy: right as f64 / (speech + silence) as f64, false_alarms: fa as f64 / silence as f64, recall: hit as f64 / speech as f64 }
}

#[test]
fn frame_accuracy_on_labelled_speech_silence_and_noise() {
    let (clean, labels) = labelled();
    let config = VadConfig::default();
    let thresholds = Thresholds { threshold_db: config.threshold_db, min_level_dbfs: config.min_level_dbfs, periodicity: config.periodicity };
    let conditions: [(&str, Vec<i16>); 4] = [
        ("clean", clean.clone()),
        ("hiss -45 dBFS, mu-law", noisy(&clean, 300.0, 0.0, true)),
        ("hiss + 60 Hz hum, mu-law", noisy(&clean, 300.0, 1500.0, true)),
        ("loud hiss -35 dBFS, mu-law", noisy(&clean, 1000.0, 0.0, true)),
    ];
    let count = |want: Option<bool>| labels.iter().filter(|l| **l == want).count();
    println!("{} frames: {} speech, {} silence, {} faint (not scored)", labels.len(), count(Some(true)), count(Some(false)), count(None));
    println!("{:<28} {:>28} {:>28} {:>28}", "condition", "fixed -40 dBFS", "adaptive energy", "adaptive + periodicity");
    for (name, audio) in &conditions {
        let fixed = score(audio.chunks(FRAME).map(|f| level_dbfs(f) > -40.0), &labels);
        let mut energy = Classifier::energy_only(thresholds);
        let adaptive = score(audio.chunks(FRAME).map(|f| energy.classify(f).0), &labels);
        let mut chosen = Classifier::new(thresholds);
        let ours = score(audio.chunks(FRAME).map(|f| chosen.classify(f).0), &labels);
        let cell = |s: &Score| format!("acc {:.3} fa {:.3} rec {:.3}", s.accuracy, s.false_alarms, s.recall);
        // Utterance level, what the recognizer gets: speech frames inside delivered utterances.
        let spans = utterance_spans(audio);
        let inside = |i: usize| spans.iter().any(|&(a, b)| (a..b).contains(&i));
        let speech_frames: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == Some(true)).collect();
        let covered = speech_frames.iter().filter(|&&i| inside(i)).count() as f64 / speech_frames.len() as f64;
        println!("{name:<28} {:>28} {:>28} {:>28}   endpointer: {} utterances, {:.3} of speech frames delivered", cell(&fixed), cell(&adaptive), cell(&ours), spans.len(), covered);
        let floor = if name == &"clean" {
            0.95
        } else if name.starts_with("loud") {
            0.70
        } else {
            0.80
        };
        assert!(ours.accuracy >= floor, "{name}: accuracy {:.3}", ours.accuracy);
        // What matters most: silence and noise must not be taken for speech.
        assert!(ours.false_alarms <= 0.005, "{name}: false alarms {:.3}", ours.false_alarms);
        // 64 utterances, 1 s apart: about one delivered each, with nearly all their speech.
        assert!((58..=72).contains(&spans.len()), "{name}: {} utterances", spans.len());
        assert!(covered >= 0.95, "{name}: {covered:.3} of speech delivered");
    }
}
