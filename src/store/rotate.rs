//! Key rotation (`chartline key rotate`).
//!
//! Always: a new master key and the keyring rewrapped with it (a small file, replaced atomically;
//! the data is not touched). With `reencrypt`: each data key is replaced too, and what it protects
//! is re-encrypted (`PRAGMA rekey` for the databases, recordings resealed one file at a time). The
//! new key is added to the keyring before any data moves and the old one removed only after all
//! of it moved, so a crash in between leaves every file readable; running the command again
//! finishes the job. Run `--reencrypt` with the server stopped.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::StoreError;
use super::cipher;
use super::keys::{self, DataKey, KeyPaths, Keys, Purpose};
use super::recording;

#[derive(Debug, Clone, Default)]
pub struct RotateOptions {
    /// Read the new master key from this file (64 hex digits). With the master key in the
    /// environment, the new key is written here when the file does not exist.
    pub new_key_file: Option<PathBuf>,
    /// Also new data keys, re-encrypting the databases and the recordings.
    pub reencrypt: bool,
}

/// What to re-encrypt: the encrypted databases by purpose, and the recordings folder; the data
/// dir holds the lock that keeps a re-encryption and a running server apart.
#[derive(Debug, Clone)]
pub struct Targets {
    pub data_dir: PathBuf,
    pub databases: Vec<(Purpose, PathBuf)>,
    pub recordings_dir: PathBuf,
}

fn lock_path(data_dir: &Path) -> PathBuf {
    data_dir.join(".serve.lock")
}

fn open_lock(data_dir: &Path) -> Result<std::fs::File, StoreError> {
    std::fs::create_dir_all(data_dir).map_err(|source| StoreError::Dir { path: data_dir.display().to_string(), source })?;
    let path = lock_path(data_dir);
    std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(|source| StoreError::Dir { path: path.display().to_string(), source })
}

/// Held (shared) by `chartline serve` for as long as it runs, so `key rotate --reencrypt`, which
/// needs it exclusively, cannot pull the keys from under a running server (several servers on
/// one data dir may share it).
pub fn serve_lock(data_dir: &Path) -> Result<std::fs::File, StoreError> {
    let file = open_lock(data_dir)?;
    file.try_lock_shared().map_err(|_| StoreError::Invalid(format!("a key re-encryption is running on {} (lock {})", data_dir.display(), lock_path(data_dir).display())))?;
    Ok(file)
}

#[derive(Debug, Clone, Serialize)]
pub struct RotateReport {
    pub old_master_id: String,
    pub new_master_id: String,
    /// Where the new master key is.
    pub key_file: PathBuf,
    /// True when the master key came from `CHARTLINE_MASTER_KEY`: the operator must set it to the
    /// contents of `key_file` before the next start.
    pub update_environment: bool,
    pub databases_rekeyed: Vec<PathBuf>,
    pub recordings_resealed: usize,
    /// Recordings that could not be read (kept as they are; their old key stays in the keyring).
    pub recordings_failed: Vec<String>,
}

pub fn rotate(paths: &KeyPaths, targets: &Targets, options: &RotateOptions) -> Result<RotateReport, StoreError> {
    let _exclusive = if options.reencrypt {
        let file = open_lock(&targets.data_dir)?;
        file.try_lock().map_err(|_| {
            StoreError::Invalid(format!("chartline serve is running on {}: stop it before --reencrypt (a master-key rotation alone is safe while it runs)", targets.data_dir.display()))
        })?;
        Some(file)
    } else {
        None
    };
    let mut keys = Keys::load_or_create(paths)?;
    let old_master_id = keys.master.id();
    let from_env = keys.master.file.is_none();
    let new_key = match &options.new_key_file {
        Some(file) if file.exists() => keys::read_key_file(file)?,
        Some(_) if !from_env => {
            return Err(StoreError::Invalid("--new-key-file names a file that does not exist (it must hold the new key, 64 hex digits)".into()));
        }
        _ => rand::random(),
    };
    let key_out = match (&options.new_key_file, from_env) {
        (Some(file), true) => Some(file.as_path()),
        (None, true) => {
            return Err(StoreError::Invalid(format!("the master key comes from {}: pass --new-key-file FILE to receive the new one", keys::MASTER_KEY_ENV)));
        }
        _ => None,
    };
    if keys::fingerprint(&new_key) == keys.master.id() {
        return Err(StoreError::Invalid("the new master key is the current one".into()));
    }
    keys.rotate_master(new_key, key_out)?;
    tracing::info!(old = %old_master_id, new = %keys.master.id(), "master key rotated; keyring rewrapped");
    let mut report = RotateReport {
        old_master_id,
        new_master_id: keys.master.id(),
        key_file: keys.master.file.clone().unwrap_or_default(),
        update_environment: from_env,
        databases_rekeyed: Vec::new(),
        recordings_resealed: 0,
        recordings_failed: Vec::new(),
    };
    if options.reencrypt {
        reencrypt(&mut keys, targets, &mut report)?;
    }
    Ok(report)
}

fn reencrypt(keys: &mut Keys, targets: &Targets, report: &mut RotateReport) -> Result<(), StoreError> {
    for (purpose, path) in &targets.databases {
        keys.push_current(*purpose, DataKey::random())?;
        if path.exists() {
            let conn = cipher::open(path, &keys.all(*purpose))?;
            cipher::rekey(&conn, path, keys.current(*purpose))?;
            report.databases_rekeyed.push(path.clone());
        }
        keys.drop_old(*purpose)?;
    }
    keys.push_current(Purpose::Recordings, DataKey::random())?;
    for path in recording_files(&targets.recordings_dir)? {
        match recording::reseal(&path, keys) {
            Ok(true) => report.recordings_resealed += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "recording not re-encrypted");
                report.recordings_failed.push(e.to_string());
            }
        }
    }
    if report.recordings_failed.is_empty() {
        keys.drop_old(Purpose::Recordings)?;
    }
    Ok(())
}

fn recording_files(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(StoreError::Dir { path: dir.display().to_string(), source }),
    };
    let mut files: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("clrec" | "wav"))).collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::recording::{SealedWriter, read_pcm};

    #[test]
    fn rotation_keeps_everything_readable_and_reencrypt_changes_the_data_keys() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        let paths = KeyPaths::for_data_dir(data);
        let store = Store::open(&data.join("chartline.db")).unwrap();
        let record = crate::store::CallRecord { call_id: "c1".into(), ..Default::default() };
        store.begin_call(&record).unwrap();
        drop(store);
        let keys = Keys::load_or_create(&paths).unwrap();
        let rec = data.join("recordings/c1.clrec");
        let mut w = SealedWriter::create(&rec, keys.current(Purpose::Recordings), 8000, 8000).unwrap();
        w.write(&vec![1234i16; 12000]).unwrap();
        w.finish().unwrap();
        let targets =
            Targets { data_dir: data.to_path_buf(), databases: vec![(Purpose::Store, data.join("chartline.db")), (Purpose::Chart, data.join("chart.db"))], recordings_dir: data.join("recordings") };

        let old_key_file = std::fs::read_to_string(&paths.key_file).unwrap();
        let report = rotate(&paths, &targets, &RotateOptions::default()).unwrap();
        assert_ne!(report.old_master_id, report.new_master_id);
        assert_ne!(std::fs::read_to_string(&paths.key_file).unwrap(), old_key_file);
        let after = Keys::load_or_create(&paths).unwrap();
        assert_eq!(after.current(Purpose::Store), keys.current(Purpose::Store), "master-only rotation keeps data keys");
        assert!(Store::open(&data.join("chartline.db")).unwrap().call("c1").is_ok());

        let report = rotate(&paths, &targets, &RotateOptions { reencrypt: true, ..Default::default() }).unwrap();
        assert_eq!(report.databases_rekeyed, vec![data.join("chartline.db")]);
        assert_eq!(report.recordings_resealed, 1);
        {
            let _server = serve_lock(data).unwrap();
            let refused = rotate(&paths, &targets, &RotateOptions { reencrypt: true, ..Default::default() }).unwrap_err();
            assert!(refused.to_string().contains("stop it"), "{refused}");
            assert!(rotate(&paths, &targets, &RotateOptions::default()).is_ok(), "a master rotation is fine while serving");
        }
        let after = Keys::load_or_create(&paths).unwrap();
        assert_ne!(after.current(Purpose::Store), keys.current(Purpose::Store));
        assert_eq!(after.all(Purpose::Recordings).len(), 1, "old recordings key dropped");
        assert!(Store::open(&data.join("chartline.db")).unwrap().call("c1").is_ok());
        assert_eq!(read_pcm(&rec, &after).unwrap().samples, vec![1234i16; 12000]);
        assert!(cipher::open(&data.join("chartline.db"), &[keys.current(Purpose::Store)]).is_err(), "the old store key no longer opens it");
    }

    #[test]
    fn a_named_new_key_file_is_installed_and_a_missing_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let paths = KeyPaths::for_data_dir(dir.path());
        Keys::load_or_create(&paths).unwrap();
        let targets = Targets { data_dir: dir.path().to_path_buf(), databases: vec![], recordings_dir: dir.path().join("recordings") };
        let missing = RotateOptions { new_key_file: Some(dir.path().join("nope.key")), reencrypt: false };
        assert!(rotate(&paths, &targets, &missing).unwrap_err().to_string().contains("does not exist"));
        let new_file = dir.path().join("new.key");
        let new_key: [u8; 32] = rand::random();
        keys::write_key_file(&new_file, &new_key, true).unwrap();
        rotate(&paths, &targets, &RotateOptions { new_key_file: Some(new_file), reencrypt: false }).unwrap();
        assert_eq!(keys::read_key_file(&paths.key_file).unwrap(), new_key);
        assert!(Keys::load_or_create(&paths).is_ok());
    }
}
