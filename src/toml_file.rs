//! Reading a TOML file written by people (`config/chartline.toml`, `config/triage.toml`): the ways
//! it fails, each naming the file and, for a bad value, the key and its line. A leaf: the modules
//! that own such a file share these errors without importing each other (docs/architecture.md).

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TomlFileError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{origin}: {message}")]
    Syntax { origin: String, message: String },
    /// `line`: where the key is set or, for a key left out, the header of its table.
    #[error("{origin}{}: `{key}` {problem}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Invalid { origin: String, line: Option<usize>, key: String, problem: String },
}

/// The file's text.
pub fn read(path: &Path) -> Result<String, TomlFileError> {
    std::fs::read_to_string(path).map_err(|source| TomlFileError::Read { path: path.into(), source })
}

/// Deserializes `text`; `origin` names the source in the error (serde's message carries the line).
pub fn parse<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T, TomlFileError> {
    toml::from_str(text).map_err(|e| TomlFileError::Syntax { origin: origin.to_string(), message: e.to_string().trim_end().to_string() })
}
