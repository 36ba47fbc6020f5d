//! Cost per 20 ms frame of the voice-activity classifier (and of the whole endpointer) on real
//! synthesized speech with silence between utterances.
//!
//!   cargo bench --bench speech_vad

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chartline::speech::vad::{Classifier, FRAME, Thresholds};
use chartline::speech::{Endpointer, VadConfig};

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let manifest = root.join("target/speech-utterances/manifest.tsv");
    let text = std::fs::read_to_string(&manifest).expect("run scripts/make-test-utterances first");
    let mut audio = Vec::new();
    for line in text.lines() {
        let id = line.split('\t').next().unwrap();
        audio.extend(std::iter::repeat_n(0i16, 8000));
        audio.extend(chartline::media::prompts::load_8k(&manifest.with_file_name(format!("{id}.wav"))).unwrap().iter());
    }
    let frames: Vec<&[i16]> = audio.chunks_exact(FRAME).collect();
    let c = VadConfig::default();
    let t = Thresholds { threshold_db: c.threshold_db, min_level_dbfs: c.min_level_dbfs, periodicity: c.periodicity };
    let rounds = 5;
    let measure = |name: &str, run: &mut dyn FnMut(&[i16]) -> bool| {
        let started = Instant::now();
        let mut speech = 0usize;
        for _ in 0..rounds {
            for f in &frames {
                speech += usize::from(run(f));
            }
        }
        let per_frame = started.elapsed().as_secs_f64() / (rounds * frames.len()) as f64;
        println!("{name:<28} {:>8.2} µs/frame  ({:.3}% of one core per call)  speech frames {}", per_frame * 1e6, per_frame / 0.020 * 100.0, speech / rounds);
    };
    println!("{} frames ({:.0} s of audio), {rounds} rounds", frames.len(), frames.len() as f64 * 0.02);
    let mut energy = Classifier::energy_only(t);
    measure("adaptive energy", &mut |f| energy.classify(f).0);
    let mut chosen = Classifier::new(t);
    measure("adaptive energy + periodicity", &mut |f| chosen.classify(f).0);
    let mut ep = Endpointer::new(&c);
    ep.listen();
    let mut now = Instant::now();
    measure("endpointer (all of it)", &mut |f| {
        now += Duration::from_millis(20);
        ep.push(f, now).is_some()
    });
}
