//! Recognizer latency on the synthesized phone utterances: each one submitted to the pool as a
//! call would at the end of an utterance, timed until the text is back. Prints one JSON line per
//! utterance and a final line with the peak resident memory. Driven by benches/speech/run.
//!
//!   cargo bench --bench speech_asr -- [--workers N] [--threads N] [--margin N] [--manifest PATH]

#[path = "bench_args.rs"]
mod bench_args;

use std::path::PathBuf;
use std::time::Instant;

use bench_args::{arg, peak_rss_kb};

use chartline::speech::{AsrPool, Priority, SpeechConfig};

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let manifest = arg("--manifest").map(PathBuf::from).unwrap_or_else(|| root.join("target/speech-utterances/manifest.tsv"));
    let workers = arg("--workers").and_then(|v| v.parse().ok()).unwrap_or(1);
    let threads = arg("--threads").and_then(|v| v.parse().ok()).unwrap_or(2);
    let margin = arg("--margin").and_then(|v| v.parse().ok()).unwrap_or(SpeechConfig::default().audio_ctx_margin);
    let config = SpeechConfig { model_path: root.join("models/ggml-tiny.en.bin"), workers, threads, audio_ctx_margin: margin, queue: 1000, ..SpeechConfig::default() };
    let pool = AsrPool::load(&config).expect("load models/ggml-tiny.en.bin (chartline model import models/ct2-tiny.en)");
    let text = std::fs::read_to_string(&manifest).expect("manifest (scripts/make-test-utterances)");
    let dir = manifest.parent().unwrap();
    let mut first = true;
    for line in text.lines() {
        let id = line.split('\t').next().unwrap();
        let audio = chartline::media::prompts::load_8k(&dir.join(format!("{id}.wav"))).unwrap().to_vec();
        if first {
            // Warm-up (first-touch allocations), not measured.
            pool.submit(audio.clone(), Priority::Interactive, &[]).unwrap().blocking_recv().unwrap().unwrap();
            first = false;
        }
        let started = Instant::now();
        let t = pool.submit(audio, Priority::Interactive, &[]).unwrap().blocking_recv().unwrap().unwrap();
        let latency = started.elapsed().as_secs_f64() * 1000.0;
        println!("{}", serde_json::json!({"id": id, "duration_ms": t.duration_ms, "latency_ms": latency, "text": t.text}));
    }
    println!("{}", serde_json::json!({"peak_rss_kb": peak_rss_kb(), "workers": workers, "threads": threads, "margin": margin}));
}
