//! Triage with the learned model, per utterance: `cargo bench --bench triage_model`.
//! Loads models/triage (run `chartline model import-triage models/minilm-l6` first), measures the
//! resident memory the model adds, then classifies every utterance of the labelled fixtures (rules
//! and model together, as a call does) and prints p50/p95/max, and the rules alone for comparison.

use std::time::Instant;

use chartline::triage::model::data;
use chartline::triage::{Triage, TriageConfig};

fn rss_mb() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    pages * 4096.0 / 1e6
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn time_all(triage: &Triage, texts: &[String]) -> Vec<f64> {
    let mut ms: Vec<f64> = texts
        .iter()
        .map(|t| {
            let start = Instant::now();
            std::hint::black_box(triage.classify(t));
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    ms
}

fn main() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut texts = Vec::new();
    for file in ["utterances.tsv", "holdout.tsv"] {
        let path = format!("{root}/tests/fixtures/triage/{file}");
        texts.extend(data::parse(&std::fs::read_to_string(&path).expect(file), file).expect("labelled").into_iter().map(|l| l.text));
    }
    let rules = Triage::embedded().expect("rules");
    let before = rss_mb();
    let config = TriageConfig { model: Some(format!("{root}/models/triage").into()), ..TriageConfig::default() };
    let (triage, missing) = Triage::from_config(&config).expect("triage");
    assert!(missing.is_none(), "{missing:?}");
    triage.classify("warm up");
    let after = rss_mb();
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let words: usize = texts.iter().map(|t| t.split_whitespace().count()).sum();
    println!("{} utterances, {:.1} words on average, {threads} cores", texts.len(), words as f64 / texts.len() as f64);
    println!("model load: RSS {before:.0} MB -> {after:.0} MB (+{:.0} MB)", after - before);
    for (name, t) in [("rules + model", &triage), ("rules alone", &rules)] {
        let ms = time_all(t, &texts);
        println!("{name:>14}: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms per utterance", percentile(&ms, 0.5), percentile(&ms, 0.95), ms[ms.len() - 1]);
    }
    let long = texts.join(" ");
    let start = Instant::now();
    triage.classify(&long);
    println!("one {}-word text (windows of 60 words): {:.0} ms", long.split_whitespace().count(), start.elapsed().as_secs_f64() * 1000.0);
}
