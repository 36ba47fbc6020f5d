//! Frame accuracy of the voice-activity decision on labelled audio: the synthesized utterances
//! (piper and espeak-ng voices) with silence between them, clean and with line noise (hiss, mains
//! hum, μ-law coding). Labels come from the clean speech; three detectors are compared: a fixed
//! energy threshold, energy over an adaptive noise floor, and the chosen adaptive energy plus
//! periodicity. Cost per frame is measured in benches/speech (not here).

mod common;

use chartline::media::g711;
use chartline::speech::vad::{Classifier, FRAME, Thresholds};
use chartline::speech::VadConfig;

/// The clean utterances separated by 1 s of silence, with a speech label per 20 ms frame.
fn labelled() -> (Vec<i16>, Vec<bool>) {
    let mut audio = Vec::new();
    for (id, _, _, _, wav) in common::speech_utterances() {
        let clean = wav.with_file_name(format!("{id}.clean.wav"));
        let samples = chartline::media::prompts::load_8k(&clean).unwrap();
        audio.extend(std::iter::repeat_n(0i16, 8000));
        audio.extend(samples.iter());
    }
    audio.extend(std::iter::repeat_n(0i16, 8000));
    audio.truncate(audio.len() / FRAME * FRAME);
    // A frame is speech when its clean level is within 35 dB of the loudest frames (voices are
    // normalised to -3 dBFS peak) — word gaps and the silence between utterances are not.
    let labels = audio.chunks(FRAME).map(|f| level_dbfs(f) > -45.0).collect();
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

fn score(decisions: impl Iterator<Item = bool>, labels: &[bool]) -> Score {
    let (mut right, mut fa, mut silence, mut hit, mut speech) = (0, 0, 0, 0, 0);
    for (d, &l) in decisions.zip(labels) {
        right += usize::from(d == l);
        if l {
            speech += 1;
            hit += usize::from(d);
        } else {
            silence += 1;
            fa += usize::from(d);
        }
    }
    Score { accuracy: right as f64 / labels.len() as f64, false_alarms: fa as f64 / silence as f64, recall: hit as f64 / speech as f64 }
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
    println!("{} frames, {:.0}% speech", labels.len(), 100.0 * labels.iter().filter(|l| **l).count() as f64 / labels.len() as f64);
    println!("{:<28} {:>28} {:>28} {:>28}", "condition", "fixed -40 dBFS", "adaptive energy", "adaptive + periodicity");
    for (name, audio) in &conditions {
        let fixed = score(audio.chunks(FRAME).map(|f| level_dbfs(f) > -40.0), &labels);
        let mut energy = Classifier::energy_only(thresholds);
        let adaptive = score(audio.chunks(FRAME).map(|f| energy.classify(f).0), &labels);
        let mut chosen = Classifier::new(thresholds);
        let ours = score(audio.chunks(FRAME).map(|f| chosen.classify(f).0), &labels);
        let cell = |s: &Score| format!("acc {:.3} fa {:.3} rec {:.3}", s.accuracy, s.false_alarms, s.recall);
        println!("{name:<28} {:>28} {:>28} {:>28}", cell(&fixed), cell(&adaptive), cell(&ours));
        assert!(ours.accuracy >= 0.85, "{name}: accuracy {:.3}", ours.accuracy);
        // What matters most: silence and noise must not be taken for speech.
        assert!(ours.false_alarms <= 0.03, "{name}: false alarms {:.3}", ours.false_alarms);
    }
}
