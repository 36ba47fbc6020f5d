//! Labelled caller utterances through triage as the server runs it (the rules of
//! config/triage.toml and the learned model imported by `chartline model import-triage`): prints
//! the confusion matrix and holds triage to its targets on each file.
//!
//! - `utterances.tsv` and `holdout.tsv`: the rules were tuned on both (the second after it had
//!   been measured once); the model was not trained on either.
//! - `holdout-2026-12.tsv` (A), `holdout-2026-12b.tsv` (B), `holdout-2026-12c.tsv` (C),
//!   `holdout-2026-12d.tsv` (D), `holdout-2026-12e.tsv` (E), `holdout-2026-12f.tsv` (F): written by the lead, each before the model changes that followed
//!   its one measurement (first measurements, type accuracy / emergency recall / false
//!   emergencies: A 94.0% / 95.1% / 1.3%, B 92.4% / 79.4% / 2.2%, C 88.9% / 95.5% / 9.4%, D 93.8% /
//!   97.5% / 7.0%, E 92.9% / 95.0% / 3.4%, F 92.2% / 95.0% / 4.8%). All six are **dev data** now: their misses were read and new phrasings of the
//!   same kinds were written into the training data (never their sentences), so the figures here
//!   are not held-out figures (README, Triage); the next held-out set is written before the next
//!   model change.
//! - The bounds below are today's figures rounded down: a change that loses an emergency or adds a
//!   false one fails here.

use chartline::triage::evaluate::Evaluation;
use chartline::triage::model::data::{self, Labelled};
use chartline::triage::{Triage, TriageConfig};

fn cases(file: &str) -> Vec<Labelled> {
    let path = format!("{}/tests/fixtures/triage/{file}", env!("CARGO_MANIFEST_DIR"));
    data::parse(&std::fs::read_to_string(&path).expect(file), file).expect("labelled file")
}

/// Triage with the imported model (scripts/test imports it before the tests run).
fn triage() -> Triage {
    let config = TriageConfig { model: Some(format!("{}/models/triage", env!("CARGO_MANIFEST_DIR")).into()), ..TriageConfig::default() };
    let (triage, missing) = Triage::from_config(&config).expect("triage loads");
    assert!(missing.is_none(), "{missing:?}");
    triage
}

fn evaluate(file: &str) -> Evaluation {
    let e = Evaluation::of(&cases(file), &triage());
    println!("{file}:\n{e}");
    e
}

#[test]
fn labelled_utterances_meet_the_targets() {
    let cases = cases("utterances.tsv");
    assert!(cases.len() >= 150, "{} utterances", cases.len());
    assert_eq!(cases.iter().filter_map(|c| c.kind).collect::<std::collections::HashSet<_>>().len(), 12, "every request type is represented");
    let e = evaluate("utterances.tsv");
    assert!(e.accuracy() >= 0.95, "type accuracy {:.1}% < 95%", e.accuracy() * 100.0);
    assert_eq!(e.caught, e.emergencies, "every emergency must be caught");
    // The project's bar (≤ 3%): the recall-first emergency threshold (README, Triage) trades a
    // false alarm or two for the emergencies a higher one misses (v4: 2 of 160).
    assert!(e.false_rate() <= 0.03, "false emergencies {:.1}% > 3%", e.false_rate() * 100.0);
}

#[test]
fn earlier_held_out_utterances() {
    let e = evaluate("holdout.tsv");
    assert_eq!(e.caught, e.emergencies, "every emergency must be caught");
    assert!(e.false_rate() <= 0.03, "false emergencies {:.1}% > 3% (v4: 1 of 50)", e.false_rate() * 100.0);
    assert!(e.accuracy() >= 0.95, "type accuracy {:.1}% < 95%", e.accuracy() * 100.0);
}

/// The rules alone stay a working safety net when the model is absent.
#[test]
fn the_rules_alone_still_catch_the_tuned_emergencies() {
    let e = Evaluation::of(&cases("utterances.tsv"), &Triage::embedded().expect("embedded rules"));
    println!("rules alone, utterances.tsv: {}", e.summary());
    assert_eq!(e.caught, e.emergencies);
}

/// (file, least type accuracy, least emergency recall, most false emergencies, least share of the
/// urgent-level (same-day) flags found) on the dev sets A–E: triage v4's figures rounded down (false
/// emergencies rounded up). E was the last held-out set (v3 on it: 92.9% / 38 of 40 / 2 of 59 /
/// 3 of 8 urgent flags), measured once and now a dev set. F, held out until v4 was done, holds v4's
/// one measurement: 38 of 40 (pre-eclampsia and meningitis signs missed), to be raised, never lowered.
const LATER_SETS: [(&str, f64, f64, f64, f64); 6] = [
    ("holdout-2026-12.tsv", 0.97, 1.0, 0.014, 1.0),
    ("holdout-2026-12b.tsv", 0.98, 1.0, 0.0, 1.0),
    ("holdout-2026-12c.tsv", 0.98, 1.0, 0.032, 1.0),
    ("holdout-2026-12d.tsv", 0.96, 1.0, 0.0, 1.0),
    ("holdout-2026-12e.tsv", 0.94, 1.0, 0.034, 1.0),
    ("holdout-2026-12f.tsv", 0.92, 0.95, 0.048, 1.0),
];

#[test]
fn the_2026_12_held_out_sets() {
    for (file, accuracy, recall, false_rate, urgent) in LATER_SETS {
        let e = evaluate(file);
        let found = e.urgent_flagged as f64 / e.urgent_flags.max(1) as f64;
        assert!(found >= urgent, "{file}: urgent-level flags found {} of {}", e.urgent_flagged, e.urgent_flags);
        assert!(e.accuracy() >= accuracy, "{file}: type accuracy {:.1}%", e.accuracy() * 100.0);
        assert!(e.recall() >= recall, "{file}: emergency recall {:.1}%", e.recall() * 100.0);
        assert!(e.false_rate() <= false_rate, "{file}: false emergencies {:.1}%", e.false_rate() * 100.0);
    }
}
