//! The key hierarchy for encryption at rest.
//!
//! A master key (256 bits) comes from `CHARTLINE_MASTER_KEY` (64 hex digits) or from a key file
//! (`[security] key_file`, default `<data_dir>/keys/master.key`, created 0600 with a random key on
//! first start). The master key only wraps the data keys: one for the store database, one for the
//! embedded chart, one for recordings. They are random and kept, wrapped with AES-256-GCM, in
//! `<data_dir>/keys/keyring.json`. Rotating the master key rewraps that small file; rotating a data
//! key re-encrypts what it protects (see `rotate`).
//!
//! Each purpose holds a list of keys, the first being current: during a re-encryption the old key
//! stays listed until everything it protected has moved to the new one, so a crash at any point
//! leaves data that still opens.

use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// Environment variable holding the master key as 64 hex digits; wins over the key file.
pub const MASTER_KEY_ENV: &str = "CHARTLINE_MASTER_KEY";

/// `[security]`: where the master key lives. The key itself never goes in the configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// Master key file (64 hex digits); empty means `<data_dir>/keys/master.key`.
    pub key_file: PathBuf,
}

#[derive(Debug, Error)]
pub enum KeyError {
    #[error("{MASTER_KEY_ENV} must be 64 hex digits (a 256-bit key)")]
    BadEnv,
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("key file {path} must hold 64 hex digits (a 256-bit key)")]
    BadKeyFile { path: String },
    #[error("the master key (id {master_id}) does not open the keyring {path}, wrapped by master key {expected}: wrong key file or {MASTER_KEY_ENV}?")]
    WrongMaster { path: String, master_id: String, expected: String },
    #[error("keyring {path} is damaged: {problem}")]
    BadKeyring { path: String, problem: String },
    #[error("the keyring {keyring} exists but its master key {key_file} does not (and {MASTER_KEY_ENV} is not set); refusing to make a new key that would lock the existing data away")]
    MissingMaster { keyring: String, key_file: String },
    #[error("no {purpose} key with id {id} in the keyring")]
    UnknownKey { purpose: &'static str, id: String },
}

/// What a data key protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Store,
    Chart,
    Recordings,
}

impl Purpose {
    pub const ALL: [Purpose; 3] = [Purpose::Store, Purpose::Chart, Purpose::Recordings];

    pub fn name(self) -> &'static str {
        match self {
            Purpose::Store => "store",
            Purpose::Chart => "chart",
            Purpose::Recordings => "recordings",
        }
    }
}

/// A 256-bit data key and its id (8 hex digits, written into what it encrypts).
#[derive(Clone, PartialEq, Eq)]
pub struct DataKey {
    pub id: String,
    key: [u8; 32],
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataKey({})", self.id)
    }
}

impl DataKey {
    pub fn random() -> Self {
        let key: [u8; 32] = rand::random();
        Self { id: hex::encode(rand::random::<[u8; 4]>()), key }
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.key
    }

    /// The key as SQLCipher's raw key literal (`x'…'`), for `PRAGMA key`.
    pub(crate) fn sqlcipher_literal(&self) -> String {
        format!("\"x'{}'\"", hex::encode(self.key))
    }
}

/// AES-256-GCM encryption of `msg` bound to `aad`.
pub(crate) fn seal(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], msg: &[u8]) -> Vec<u8> {
    Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key)).encrypt(&Nonce::from(*nonce), Payload { msg, aad }).expect("AES-GCM encryption of an in-memory buffer cannot fail")
}

/// The plaintext, or `None` when the key, nonce, aad or ciphertext do not match.
pub(crate) fn open(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key)).decrypt(&Nonce::from(*nonce), Payload { msg: sealed, aad }).ok()
}

/// Where the master key and the keyring are.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyPaths {
    pub key_file: PathBuf,
    pub keyring: PathBuf,
}

impl KeyPaths {
    /// The defaults for a data dir: `<data_dir>/keys/master.key` and `<data_dir>/keys/keyring.json`.
    pub fn for_data_dir(data_dir: &Path) -> Self {
        let dir = data_dir.join("keys");
        Self { key_file: dir.join("master.key"), keyring: dir.join("keyring.json") }
    }

    pub fn from_config(data_dir: &Path, security: &SecurityConfig) -> Self {
        let mut paths = Self::for_data_dir(data_dir);
        if !security.key_file.as_os_str().is_empty() {
            paths.key_file = security.key_file.clone();
        }
        paths
    }
}

/// The master key and where it came from.
#[derive(Clone)]
pub struct MasterKey {
    key: [u8; 32],
    /// `None` when it came from the environment.
    pub file: Option<PathBuf>,
}

impl MasterKey {
    /// A short public fingerprint, safe to log and to store beside what the key wraps.
    pub fn id(&self) -> String {
        fingerprint(&self.key)
    }
}

pub(crate) fn fingerprint(key: &[u8; 32]) -> String {
    let mut h = Sha256::new();
    h.update(b"chartline master key id\0");
    h.update(key);
    hex::encode(&h.finalize()[..6])
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io { path: path.display().to_string(), source }
}

fn parse_hex_key(text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(text.trim()).ok()?;
    bytes.try_into().ok()
}

/// Reads a key file (64 hex digits).
pub fn read_key_file(path: &Path) -> Result<[u8; 32], KeyError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    parse_hex_key(&text).ok_or_else(|| KeyError::BadKeyFile { path: path.display().to_string() })
}

/// Writes a key file readable by its owner only. `create_new`: fails if the file exists.
pub fn write_key_file(path: &Path, key: &[u8; 32], create_new: bool) -> Result<(), KeyError> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).mode(0o600);
    if create_new {
        options.create_new(true);
    } else {
        options.create(true).truncate(true);
    }
    let mut file = options.open(path).map_err(io(path))?;
    writeln!(file, "{}", hex::encode(key)).and_then(|_| file.sync_all()).map_err(io(path))
}

fn create_private_dir(dir: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io(dir))
}

/// The master key from the environment, else from the key file; `None` when neither exists.
fn find_master(paths: &KeyPaths) -> Result<Option<MasterKey>, KeyError> {
    if let Ok(text) = std::env::var(MASTER_KEY_ENV) {
        let key = parse_hex_key(&text).ok_or(KeyError::BadEnv)?;
        return Ok(Some(MasterKey { key, file: None }));
    }
    match read_key_file(&paths.key_file) {
        Ok(key) => Ok(Some(MasterKey { key, file: Some(paths.key_file.clone()) })),
        Err(KeyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The keyring file: data keys wrapped by the master key.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RingFile {
    version: u32,
    master_id: String,
    keys: Vec<WrappedKey>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WrappedKey {
    purpose: Purpose,
    id: String,
    /// Hex of nonce (12 bytes) followed by the sealed key.
    wrapped: String,
}

fn wrap_aad(purpose: Purpose, id: &str) -> Vec<u8> {
    format!("chartline keyring v1|{}|{id}", purpose.name()).into_bytes()
}

/// The unwrapped keyring: for each purpose its keys, current first.
#[derive(Clone)]
pub struct Keys {
    pub paths: KeyPaths,
    pub master: MasterKey,
    ring: Vec<(Purpose, DataKey)>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").field("master", &self.master.id()).field("ring", &self.ring).finish()
    }
}

impl Keys {
    /// The keys of a data dir with the default locations (env, else `<data_dir>/keys/`).
    pub fn for_data_dir(data_dir: &Path) -> Result<Self, KeyError> {
        Self::load_or_create(&KeyPaths::for_data_dir(data_dir))
    }

    /// Loads the keyring with the master key; on first start creates the key file and the keyring.
    /// Never creates a master key when a keyring exists (that would lock its data away).
    pub fn load_or_create(paths: &KeyPaths) -> Result<Self, KeyError> {
        let master = match find_master(paths)? {
            Some(master) => master,
            None if paths.keyring.exists() => {
                return Err(KeyError::MissingMaster { keyring: paths.keyring.display().to_string(), key_file: paths.key_file.display().to_string() });
            }
            None => {
                let key: [u8; 32] = rand::random();
                match write_key_file(&paths.key_file, &key, true) {
                    Ok(()) => {
                        tracing::info!(path = %paths.key_file.display(), "created a new master key file (back it up: without it the data cannot be read)");
                        MasterKey { key, file: Some(paths.key_file.clone()) }
                    }
                    // Another process created it first.
                    Err(KeyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists => MasterKey { key: read_key_file(&paths.key_file)?, file: Some(paths.key_file.clone()) },
                    Err(e) => return Err(e),
                }
            }
        };
        match std::fs::read_to_string(&paths.keyring) {
            Ok(text) => Self::unwrap_ring(paths, master, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let keys = Keys { paths: paths.clone(), master, ring: Purpose::ALL.iter().map(|&p| (p, DataKey::random())).collect() };
                match keys.write_ring(true) {
                    Ok(()) => {
                        tracing::info!(path = %paths.keyring.display(), master_id = %keys.master.id(), "created the keyring");
                        Ok(keys)
                    }
                    Err(KeyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists => {
                        let text = std::fs::read_to_string(&paths.keyring).map_err(io(&paths.keyring))?;
                        Self::unwrap_ring(paths, keys.master, &text)
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(io(&paths.keyring)(e)),
        }
    }

    /// Keys that live only in memory (in-memory stores, tests).
    pub fn ephemeral() -> Self {
        let paths = KeyPaths { key_file: PathBuf::new(), keyring: PathBuf::new() };
        Keys { paths, master: MasterKey { key: rand::random(), file: None }, ring: Purpose::ALL.iter().map(|&p| (p, DataKey::random())).collect() }
    }

    fn unwrap_ring(paths: &KeyPaths, master: MasterKey, text: &str) -> Result<Self, KeyError> {
        let bad = |problem: String| KeyError::BadKeyring { path: paths.keyring.display().to_string(), problem };
        let file: RingFile = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if file.version != 1 {
            return Err(bad(format!("unknown version {}", file.version)));
        }
        if file.master_id != master.id() {
            // A master rotation that died between writing the keyring and installing the new key
            // leaves the new key beside the old one: finish it.
            if let Some(file_path) = &master.file {
                let pending = pending_key_path(file_path);
                if let Ok(key) = read_key_file(&pending)
                    && fingerprint(&key) == file.master_id
                {
                    std::fs::rename(&pending, file_path).map_err(io(file_path))?;
                    tracing::warn!(path = %file_path.display(), "finished an interrupted master key rotation");
                    return Self::unwrap_ring(paths, MasterKey { key, file: Some(file_path.clone()) }, text);
                }
            }
            return Err(KeyError::WrongMaster { path: paths.keyring.display().to_string(), master_id: master.id(), expected: file.master_id });
        }
        let mut ring = Vec::new();
        for w in &file.keys {
            let sealed = hex::decode(&w.wrapped).map_err(|_| bad(format!("{} key {} is not hex", w.purpose.name(), w.id)))?;
            if sealed.len() < 12 {
                return Err(bad(format!("{} key {} is too short", w.purpose.name(), w.id)));
            }
            let nonce: [u8; 12] = sealed[..12].try_into().expect("12 bytes");
            let key = open(&master.key, &nonce, &wrap_aad(w.purpose, &w.id), &sealed[12..])
                .and_then(|k| <[u8; 32]>::try_from(k).ok())
                .ok_or_else(|| bad(format!("{} key {} does not unwrap", w.purpose.name(), w.id)))?;
            ring.push((w.purpose, DataKey { id: w.id.clone(), key }));
        }
        for p in Purpose::ALL {
            if !ring.iter().any(|(q, _)| *q == p) {
                return Err(bad(format!("no {} key", p.name())));
            }
        }
        Ok(Keys { paths: paths.clone(), master, ring })
    }

    /// Writes the keyring wrapped by the current master key: to a temporary file, synced, then
    /// renamed over the old one (or, with `create_new`, linked only if none exists).
    fn write_ring(&self, create_new: bool) -> Result<(), KeyError> {
        if self.paths.keyring.as_os_str().is_empty() {
            return Ok(()); // ephemeral keys
        }
        let keys = self
            .ring
            .iter()
            .map(|(purpose, k)| {
                let nonce: [u8; 12] = rand::random();
                let mut wrapped = nonce.to_vec();
                wrapped.extend(seal(&self.master.key, &nonce, &wrap_aad(*purpose, &k.id), &k.key));
                WrappedKey { purpose: *purpose, id: k.id.clone(), wrapped: hex::encode(wrapped) }
            })
            .collect();
        let file = RingFile { version: 1, master_id: self.master.id(), keys };
        let path = &self.paths.keyring;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        create_private_dir(dir)?;
        let tmp = dir.join(format!(".keyring.{}.tmp", std::process::id()));
        {
            let mut out = std::fs::File::create(&tmp).map_err(io(&tmp))?;
            out.write_all(serde_json::to_string_pretty(&file).expect("serializable").as_bytes()).and_then(|_| out.sync_all()).map_err(io(&tmp))?;
        }
        let placed = if create_new { std::fs::hard_link(&tmp, path) } else { std::fs::rename(&tmp, path) };
        let _ = std::fs::remove_file(&tmp);
        placed.map_err(io(path))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// The key new data is encrypted with.
    pub fn current(&self, purpose: Purpose) -> &DataKey {
        self.ring.iter().find(|(p, _)| *p == purpose).map(|(_, k)| k).expect("every purpose has a key (checked on load)")
    }

    /// Every key of a purpose, current first (older ones during a re-encryption).
    pub fn all(&self, purpose: Purpose) -> Vec<&DataKey> {
        self.ring.iter().filter(|(p, _)| *p == purpose).map(|(_, k)| k).collect()
    }

    pub fn find(&self, purpose: Purpose, id: &str) -> Result<&DataKey, KeyError> {
        self.ring.iter().find(|(p, k)| *p == purpose && k.id == id).map(|(_, k)| k).ok_or_else(|| KeyError::UnknownKey { purpose: purpose.name(), id: id.to_string() })
    }

    /// Makes `key` the current key of its purpose, keeping the others listed; saves the keyring.
    pub fn push_current(&mut self, purpose: Purpose, key: DataKey) -> Result<(), KeyError> {
        let at = self.ring.iter().position(|(p, _)| *p == purpose).unwrap_or(0);
        self.ring.insert(at, (purpose, key));
        self.write_ring(false)
    }

    /// Forgets every key of `purpose` but the current one; saves the keyring.
    pub fn drop_old(&mut self, purpose: Purpose) -> Result<(), KeyError> {
        let current = self.current(purpose).id.clone();
        self.ring.retain(|(p, k)| *p != purpose || k.id == current);
        self.write_ring(false)
    }

    /// Rewraps the keyring with a new master key and installs it: the new key file is written
    /// beside the old one first, then the keyring, then the key file is renamed into place (an
    /// interrupted rotation is finished on the next load). With the master key from the
    /// environment, the new key goes to `key_out` and the operator swaps the variable.
    pub fn rotate_master(&mut self, new_key: [u8; 32], key_out: Option<&Path>) -> Result<(), KeyError> {
        let target = match (&self.master.file, key_out) {
            (_, Some(out)) => out.to_path_buf(),
            (Some(file), None) => file.clone(),
            (None, None) => unreachable!("checked by the caller"),
        };
        let pending = pending_key_path(&target);
        write_key_file(&pending, &new_key, false)?;
        let old = std::mem::replace(&mut self.master, MasterKey { key: new_key, file: Some(target.clone()) });
        if let Err(e) = self.write_ring(false) {
            self.master = old;
            let _ = std::fs::remove_file(&pending);
            return Err(e);
        }
        std::fs::rename(&pending, &target).map_err(io(&target))?;
        if old.file.is_none() {
            // The environment still holds the old key: the ring now opens with the file's key.
            self.master.file = Some(target);
        }
        Ok(())
    }
}

fn pending_key_path(key_file: &Path) -> PathBuf {
    let mut name = key_file.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".new");
    key_file.with_file_name(name)
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
