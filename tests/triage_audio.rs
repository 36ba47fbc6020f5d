//! Triage through audio: every utterance of a labelled triage file spoken as phone audio in four
//! voices (scripts/render-phone-speech: piper, piper 25% slower, espeak-ng at 160 and 190 words a
//! minute; 8 kHz μ-law, 300–3400 Hz), recognised as a call's message is (the shipped `[speech]`
//! configuration and model, message priority, 8 kHz samples through the call's resampler), and
//! the transcript classified by triage with the rules and the imported model. Prints per voice
//! type accuracy, emergency recall and false emergencies, and every miss with what was heard.
//!
//! Without `TRIAGE_AUDIO_SETS` it measures the dev set C (`holdout-2026-12c.tsv`, which informed
//! the training data) and holds it to [`FLOORS`]. `scripts/eval-triage-audio FILE.tsv...` sets
//! `TRIAGE_AUDIO_SETS` to measure other files (a held-out set): those are reported, not asserted.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chartline::config::Config;
use chartline::speech::{AsrPool, Priority, SpeechConfig};
use chartline::triage::evaluate::Evaluation;
use chartline::triage::model::data::{self, Labelled};
use chartline::triage::{Triage, TriageConfig};
use common::*;
use sha2::{Digest, Sha256};

const DEV_SET: &str = "tests/fixtures/triage/holdout-2026-12c.tsv";
const VOICES: [&str; 4] = ["piper", "piper-slow", "espeak", "espeak-fast"];

/// On the dev set, per voice: (least type accuracy, least emergency recall, most false
/// emergencies), today's figures rounded down. The espeak-ng voices are far below the piper ones
/// because tiny.en mishears them badly ("my husband can't move his left side all of a sudden" is
/// heard as "my husband can move his left high non-living surgeon"): what triage cannot read
/// there is the recogniser's loss, and those floors only hold today's figures (triage v3 on
/// espeak-fast: 11 of 22 emergencies where v2 found 12; the model reads garbled text less
/// generously than v2). Triage v4 (ASR-style training text, fillers dropped, a recall-first
/// threshold) finds 17 and 16 of 22 there (v3: 13 and 11); on espeak it reads one more garbled
/// transcript as an emergency (7 of 32, the ceiling 0.19 → 0.22).
const FLOORS: [(&str, f64, f64, f64); 4] = [("piper", 0.94, 1.0, 0.04), ("piper-slow", 0.98, 1.0, 0.01), ("espeak", 0.64, 0.77, 0.22), ("espeak-fast", 0.66, 0.72, 0.13)];

fn id_of(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..6])
}

/// Renders every case's text in every voice into `dir` (kept between runs) and returns the WAVs.
fn render(cases: &[Labelled], dir: &Path) -> Vec<Vec<PathBuf>> {
    let sentences: String = cases.iter().map(|c| format!("{}\t{}\n", id_of(&c.text), c.text)).collect();
    let mut render = Command::new(repo_root().join("scripts/render-phone-speech")).arg(dir).args(VOICES).stdin(Stdio::piped()).stdout(Stdio::null()).spawn().expect("scripts/render-phone-speech");
    use std::io::Write;
    render.stdin.take().unwrap().write_all(sentences.as_bytes()).unwrap();
    assert!(render.wait().unwrap().success(), "scripts/render-phone-speech failed (piper, espeak-ng, sox: scripts/setup --test)");
    VOICES.iter().map(|voice| cases.iter().map(|c| dir.join(format!("{voice}-{}.wav", id_of(&c.text)))).collect()).collect()
}

fn triage() -> Triage {
    let config = TriageConfig { model: Some(repo_root().join("models/triage")), ..TriageConfig::default() };
    let (triage, missing) = Triage::from_config(&config).expect("triage loads");
    assert!(missing.is_none(), "the triage model is not imported: {missing:?}");
    triage
}

fn recogniser(jobs: usize) -> AsrPool {
    let shipped = Config::embedded().expect("embedded configuration").speech;
    AsrPool::load(&SpeechConfig { model_path: speech_model(), queue: jobs, ..shipped }).expect("load the speech model")
}

/// Each voice's evaluation of one labelled file.
fn through_audio(file: &Path, pool: &AsrPool, triage: &Triage) -> Vec<(&'static str, Evaluation)> {
    let cases = data::parse(&std::fs::read_to_string(file).expect("labelled file"), &file.display().to_string()).expect("labelled file");
    let wavs = render(&cases, &repo_root().join("target/triage-audio"));
    VOICES
        .iter()
        .zip(wavs)
        .map(|(voice, wavs)| {
            let replies: Vec<_> = wavs.iter().map(|w| pool.submit(chartline::media::prompts::load_8k(w).unwrap().to_vec(), Priority::Message, &[]).unwrap()).collect();
            let mut e = Evaluation::default();
            for (case, reply) in cases.iter().zip(replies) {
                let heard = reply.blocking_recv().expect("the recogniser answers").expect("a transcript").text;
                e.add(case, &heard, triage);
            }
            println!("{} {voice}:\n{e}", file.display());
            (*voice, e)
        })
        .collect()
}

#[test]
fn spoken_utterances_are_triaged_as_written_ones() {
    let sets: Vec<PathBuf> = match std::env::var("TRIAGE_AUDIO_SETS") {
        Ok(list) => list.split_whitespace().map(PathBuf::from).collect(),
        Err(_) => vec![repo_root().join(DEV_SET)],
    };
    let (pool, triage) = (recogniser(200), triage());
    let (mut summary, mut below) = (Vec::new(), Vec::new());
    for file in &sets {
        for (voice, e) in through_audio(file, &pool, &triage) {
            summary.push(format!("{} {voice:>12}: {}", file.display(), e.summary()));
            let (_, accuracy, recall, false_rate) = FLOORS.iter().find(|f| f.0 == voice).copied().expect("a floor per voice");
            if file.ends_with(DEV_SET) && (e.accuracy() < accuracy || e.recall() < recall || e.false_rate() > false_rate) {
                below.push(voice);
            }
        }
    }
    println!("{}", summary.join("\n"));
    assert!(below.is_empty(), "below its floor ({FLOORS:?}) on the dev set: {below:?}");
}
