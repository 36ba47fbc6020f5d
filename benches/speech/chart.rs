//! Message transcripts, the two tiers: each recorded message (benches/speech/messages.txt as
//! synthesized phone audio) transcribed as a finished call's would be, by the chart model
//! (`--tier chart`, models/ggml-base.bin) or by the live model as the fallback does
//! (`--tier live`, models/ggml-tiny.en.bin), timed until the text is back. Prints one JSON line per
//! message and a final line with the peak resident memory. Driven by benches/speech/run.
//!
//!   cargo bench --bench speech_chart -- --tier chart|live [--threads N] [--manifest PATH]

#[path = "bench_args.rs"]
mod bench_args;

use std::path::PathBuf;
use std::time::Instant;

use bench_args::{arg, peak_rss_kb};

use chartline::speech::chart::{ChartModel, ChartTranscriber, model_name};
use chartline::speech::{AsrPool, SpeechConfig};

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let manifest = arg("--manifest").map(PathBuf::from).unwrap_or_else(|| root.join("target/speech-messages/manifest.tsv"));
    let tier = arg("--tier").unwrap_or_else(|| "chart".into());
    let threads = arg("--threads").and_then(|v| v.parse().ok()).unwrap_or(2);
    let mut config = SpeechConfig { model_path: root.join("models/ggml-tiny.en.bin"), workers: 1, threads, queue: 1000, ..SpeechConfig::default() };
    config.chart.model_path = root.join("models/ggml-base.bin");
    let transcriber = match tier.as_str() {
        "chart" => ChartTranscriber::Chart(ChartModel::load(&config.chart, &config).expect("load models/ggml-base.bin (chartline model import models/ct2-base)")),
        "live" => {
            ChartTranscriber::Live { pool: AsrPool::load(&config).expect("load models/ggml-tiny.en.bin (chartline model import models/ct2-tiny.en)"), model: model_name(&config.model_path).unwrap() }
        }
        other => panic!("--tier {other}: chart or live"),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let text = std::fs::read_to_string(&manifest).expect("manifest (scripts/make-test-utterances DIR benches/speech/messages.txt)");
    let dir = manifest.parent().unwrap();
    let mut first = true;
    for line in text.lines() {
        let id = line.split('\t').next().unwrap();
        let audio = chartline::media::prompts::load_8k(&dir.join(format!("{id}.wav"))).unwrap().to_vec();
        let duration_ms = audio.len() as u64 / 8;
        if first {
            // Warm-up (first-touch allocations), not measured.
            runtime.block_on(transcriber.transcribe(audio.clone(), &[])).unwrap();
            first = false;
        }
        let started = Instant::now();
        let t = runtime.block_on(transcriber.transcribe(audio, &[])).unwrap();
        let latency = started.elapsed().as_secs_f64() * 1000.0;
        println!("{}", serde_json::json!({"id": id, "duration_ms": duration_ms, "latency_ms": latency, "text": t.text, "model": t.model, "language": t.language}));
    }
    println!("{}", serde_json::json!({"peak_rss_kb": peak_rss_kb(), "tier": tier, "threads": threads}));
}
