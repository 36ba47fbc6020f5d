//! The speech model: `import` converts a CTranslate2 Whisper model (as shipped on PyPI) into the
//! whisper.cpp file the recognizer loads, and `check` tells the server whether that file is usable.
//!
//! The import is idempotent: it writes `<file>.sha256` (sha256sum format) beside the model and
//! skips the work when the file is there with that checksum.

mod ct2;
mod ggml;
mod mel;
mod vocab;

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use ct2::{Ct2Model, DType};
pub use ggml::{HParams, MAGIC, Planned};

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("speech model {path} not found: run `chartline model import` on its CTranslate2 folder (models/ct2-tiny.en, models/ct2-base; scripts/setup downloads them)")]
    Missing { path: PathBuf },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("no model.bin (or model.bin.partN files) in {0}")]
    NoModelFile(PathBuf),
    #[error("not a usable CTranslate2 Whisper model: {0}")]
    Corrupt(String),
    #[error("the model lacks the tensor {0}")]
    MissingTensor(String),
    #[error("bad vocabulary: {0}")]
    Vocabulary(String),
    #[error("speech model {path} is corrupt ({problem}): run `chartline model import --force` on its CTranslate2 folder (models/ct2-tiny.en, models/ct2-base)")]
    BadFile { path: PathBuf, problem: String },
    #[error("whisper.cpp cannot load {path}: {message}")]
    Load { path: PathBuf, message: String },
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Folder the ggml file goes to (`models/`).
    pub out_dir: PathBuf,
    /// Convert even when a file with the recorded checksum exists.
    pub force: bool,
    /// Show a progress bar on stderr (hidden anyway when stderr is not a terminal).
    pub progress: bool,
}

#[derive(Debug, Clone)]
pub struct ImportReport {
    pub path: PathBuf,
    pub sha256: String,
    pub hparams: HParams,
    pub tensors: usize,
    /// True when an existing file with the right checksum was kept.
    pub skipped: bool,
}

/// The model files of `inputs`, in order: each input is a `model.bin` (or part) file, or a folder
/// holding `model.bin` or `model.bin.part1`, `model.bin.part2`, …; parts are concatenated.
/// Returns the model files and the first vocabulary (`vocabulary.txt` or `vocabulary.json`) found
/// beside them.
pub fn find_parts(inputs: &[PathBuf]) -> Result<(Vec<PathBuf>, PathBuf), ModelError> {
    let mut parts = Vec::new();
    let mut vocabulary = None;
    for input in inputs {
        let dir = if input.is_dir() { input.clone() } else { input.parent().map(Path::to_path_buf).unwrap_or_default() };
        if input.is_file() {
            parts.push(input.clone());
        } else if input.join("model.bin").is_file() {
            parts.push(input.join("model.bin"));
        } else if input.is_dir() {
            let entries = std::fs::read_dir(input).map_err(|source| ModelError::Read { path: input.clone(), source })?;
            let mut numbered: Vec<(u32, PathBuf)> = entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().to_string();
                    name.strip_prefix("model.bin.part").and_then(|n| n.parse().ok()).map(|n| (n, e.path()))
                })
                .collect();
            if numbered.is_empty() {
                return Err(ModelError::NoModelFile(input.clone()));
            }
            numbered.sort();
            parts.extend(numbered.into_iter().map(|(_, p)| p));
        } else {
            return Err(ModelError::Read { path: input.clone(), source: std::io::Error::from(std::io::ErrorKind::NotFound) });
        }
        if vocabulary.is_none() {
            vocabulary = ["vocabulary.txt", "vocabulary.json"].iter().map(|name| dir.join(name)).find(|path| path.is_file());
        }
    }
    let first = inputs.first().cloned().unwrap_or_default();
    let vocabulary = vocabulary.ok_or_else(|| ModelError::Vocabulary(format!("no vocabulary.txt or vocabulary.json beside {}", first.display())))?;
    Ok((parts, vocabulary))
}

fn read(path: &Path) -> Result<Vec<u8>, ModelError> {
    std::fs::read(path).map_err(|source| ModelError::Read { path: path.into(), source })
}

/// Converts the CTranslate2 model in `inputs` into `<out_dir>/ggml-<size>.bin`.
pub fn import(inputs: &[PathBuf], options: &ImportOptions) -> Result<ImportReport, ModelError> {
    let (parts, vocabulary_path) = find_parts(inputs)?;
    let mut bytes = Vec::new();
    for part in &parts {
        bytes.extend(read(part)?);
    }
    let model = Ct2Model::parse(&bytes)?;
    let hparams = HParams::from_ct2(&model)?;
    let vocabulary = std::fs::read_to_string(&vocabulary_path).map_err(|source| ModelError::Read { path: vocabulary_path.clone(), source })?;
    let tokens = if vocabulary_path.extension().is_some_and(|e| e == "json") { vocab::decode_json(&vocabulary)? } else { vocab::decode(&vocabulary)? };
    if tokens.len() != hparams.n_vocab {
        return Err(ModelError::Vocabulary(format!("{} tokens, but the embeddings have {} rows", tokens.len(), hparams.n_vocab)));
    }
    let plan = ggml::plan(&hparams);
    let path = options.out_dir.join(format!("ggml-{}.bin", hparams.file_stem()));
    if !options.force
        && let Ok(sha256) = verify_checksum(&path)
    {
        tracing::info!(path = %path.display(), "speech model already imported");
        return Ok(ImportReport { path, sha256, hparams, tensors: plan.len(), skipped: true });
    }
    std::fs::create_dir_all(&options.out_dir).map_err(|source| ModelError::Write { path: options.out_dir.clone(), source })?;
    let tmp = path.with_extension("bin.tmp");
    let write_err = |source| ModelError::Write { path: tmp.clone(), source };
    let file = std::fs::File::create(&tmp).map_err(write_err)?;
    let mut out = HashingWriter { inner: BufWriter::with_capacity(1 << 20, file), hasher: Sha256::new() };
    let mel = mel::filters(16000, 400, hparams.n_mels);
    ggml::write_header(&mut out, &hparams, &mel, 201, &tokens).map_err(write_err)?;
    let bar = progress_bar(options.progress, plan.len() as u64);
    for tensor in &plan {
        let values = ggml::tensor_values(&model, tensor)?;
        ggml::write_tensor(&mut out, tensor, &values).map_err(write_err)?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    out.inner.flush().map_err(write_err)?;
    out.inner.get_ref().sync_all().map_err(write_err)?;
    let sha256 = hex::encode(out.hasher.finalize());
    std::fs::rename(&tmp, &path).map_err(|source| ModelError::Write { path: path.clone(), source })?;
    let sum_path = checksum_path(&path);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    std::fs::write(&sum_path, format!("{sha256}  {name}\n")).map_err(|source| ModelError::Write { path: sum_path, source })?;
    tracing::info!(path = %path.display(), tensors = plan.len(), "speech model imported");
    Ok(ImportReport { path, sha256, hparams, tensors: plan.len(), skipped: false })
}

fn progress_bar(show: bool, len: u64) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template("converting {bar:40} {pos}/{len} tensors") {
        bar.set_style(style);
    }
    bar
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn checksum_path(model: &Path) -> PathBuf {
    let mut name = model.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

pub fn sha256_file(path: &Path) -> Result<String, ModelError> {
    let mut file = std::fs::File::open(path).map_err(|source| ModelError::Read { path: path.into(), source })?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|source| ModelError::Read { path: path.into(), source })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The file's checksum if it matches the one recorded beside it.
fn verify_checksum(path: &Path) -> Result<String, ModelError> {
    let bad = |problem: String| ModelError::BadFile { path: path.into(), problem };
    if !path.is_file() {
        return Err(ModelError::Missing { path: path.into() });
    }
    let recorded = std::fs::read_to_string(checksum_path(path)).map_err(|_| bad("no .sha256 beside it".into()))?;
    let recorded = recorded.split_whitespace().next().unwrap_or_default().to_ascii_lowercase();
    let actual = sha256_file(path)?;
    if actual != recorded {
        return Err(bad(format!("sha256 {actual} differs from the recorded {recorded}")));
    }
    Ok(actual)
}

/// Checks a model file before whisper.cpp sees it: present, a ggml file, and matching its recorded
/// checksum when one is there.
pub fn check(path: &Path) -> Result<(), ModelError> {
    if !path.is_file() {
        return Err(ModelError::Missing { path: path.into() });
    }
    let mut magic = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).map_err(|source| ModelError::Read { path: path.into(), source })?;
    if u32::from_le_bytes(magic) != MAGIC {
        return Err(ModelError::BadFile { path: path.into(), problem: "not a whisper.cpp ggml file".into() });
    }
    if checksum_path(path).is_file() {
        verify_checksum(path)?;
    }
    Ok(())
}

/// Magic, the ten hyper-parameters and the weight type.
const HEADER_BYTES: usize = 4 * 12;

fn parse_hparams(bytes: &[u8]) -> Option<HParams> {
    let h: Vec<usize> = bytes.get(..HEADER_BYTES)?.chunks_exact(4).map(|b| u32::from_le_bytes(b.try_into().unwrap()) as usize).collect();
    if h[0] as u32 != MAGIC {
        return None;
    }
    Some(HParams {
        n_vocab: h[1],
        n_audio_ctx: h[2],
        n_audio_state: h[3],
        n_audio_head: h[4],
        n_audio_layer: h[5],
        n_text_ctx: h[6],
        n_text_state: h[7],
        n_text_head: h[8],
        n_text_layer: h[9],
        n_mels: h[10],
    })
}

/// The hyper-parameters in a ggml file's header (the model's size and vocabulary).
pub fn hparams(path: &Path) -> Result<HParams, ModelError> {
    let mut header = [0u8; HEADER_BYTES];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut header)).map_err(|source| ModelError::Read { path: path.into(), source })?;
    parse_hparams(&header).ok_or_else(|| ModelError::BadFile { path: path.into(), problem: "not a whisper.cpp ggml file".into() })
}

/// A tensor of a ggml file: name, extents (innermost first), stored as f16.
pub type TensorEntry = (String, Vec<usize>, bool);

/// Reads the tensor directory of a ggml file (name and extents, innermost first): for tests and
/// for `check`-style inspection.
pub fn ggml_tensors(path: &Path) -> Result<(HParams, Vec<TensorEntry>), ModelError> {
    let bytes = read(path)?;
    let corrupt = |what: &str| ModelError::BadFile { path: path.into(), problem: what.into() };
    let mut at = 0usize;
    let i32_at = |at: &mut usize| -> Result<i32, ModelError> {
        let v = bytes.get(*at..*at + 4).ok_or_else(|| corrupt("truncated"))?;
        *at += 4;
        Ok(i32::from_le_bytes(v.try_into().unwrap()))
    };
    let hparams = parse_hparams(&bytes).ok_or_else(|| corrupt("bad magic or truncated header"))?;
    at += HEADER_BYTES;
    let (n_mel, n_fft) = (i32_at(&mut at)? as usize, i32_at(&mut at)? as usize);
    at += n_mel * n_fft * 4;
    let n_tokens = i32_at(&mut at)? as usize;
    for _ in 0..n_tokens {
        at += i32_at(&mut at)? as usize;
    }
    let mut tensors = Vec::new();
    while at < bytes.len() {
        let (n_dims, name_len, ttype) = (i32_at(&mut at)? as usize, i32_at(&mut at)? as usize, i32_at(&mut at)?);
        let dims = (0..n_dims).map(|_| i32_at(&mut at).map(|d| d as usize)).collect::<Result<Vec<_>, _>>()?;
        let name = String::from_utf8_lossy(bytes.get(at..at + name_len).ok_or_else(|| corrupt("truncated name"))?).to_string();
        at += name_len + dims.iter().product::<usize>() * if ttype == 1 { 2 } else { 4 };
        tensors.push((name, dims, ttype == 1));
    }
    if at != bytes.len() {
        return Err(corrupt("truncated tensor data"));
    }
    Ok((hparams, tensors))
}

/// The filter bank written into the file, for tests against a reference.
pub fn mel_filters(n_mels: usize) -> Vec<f32> {
    mel::filters(16000, 400, n_mels)
}
