//! Unit tests of the key hierarchy (on temporary directories).

use super::*;

fn paths(dir: &Path) -> KeyPaths {
    KeyPaths::for_data_dir(dir)
}

#[test]
fn first_start_creates_a_private_key_file_and_a_keyring_that_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::load_or_create(&paths(dir.path())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("keys/master.key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let again = Keys::load_or_create(&paths(dir.path())).unwrap();
    for p in Purpose::ALL {
        assert_eq!(keys.current(p), again.current(p));
    }
    assert_ne!(keys.current(Purpose::Store), keys.current(Purpose::Recordings));
    let ring = std::fs::read_to_string(dir.path().join("keys/keyring.json")).unwrap();
    assert!(!ring.contains(&hex::encode(keys.current(Purpose::Store).bytes())), "data keys are stored wrapped");
}

#[test]
fn a_missing_or_wrong_master_key_is_refused_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    Keys::load_or_create(&paths(dir.path())).unwrap();
    let key_file = dir.path().join("keys/master.key");
    std::fs::write(&key_file, hex::encode([7u8; 32])).unwrap();
    assert!(matches!(Keys::load_or_create(&paths(dir.path())), Err(KeyError::WrongMaster { .. })));
    std::fs::remove_file(&key_file).unwrap();
    assert!(matches!(Keys::load_or_create(&paths(dir.path())), Err(KeyError::MissingMaster { .. })));
    assert!(!key_file.exists(), "no new key was made");
    std::fs::write(&key_file, "not hex").unwrap();
    let err = Keys::load_or_create(&paths(dir.path())).unwrap_err().to_string();
    assert!(err.contains("master.key") && err.contains("64 hex"), "{err}");
}

#[test]
fn master_rotation_rewraps_and_an_interrupted_one_finishes_on_load() {
    let dir = tempfile::tempdir().unwrap();
    let mut keys = Keys::load_or_create(&paths(dir.path())).unwrap();
    let store = keys.current(Purpose::Store).clone();
    let old_id = keys.master.id();
    keys.rotate_master(rand::random(), None).unwrap();
    assert_ne!(keys.master.id(), old_id);
    let reopened = Keys::load_or_create(&paths(dir.path())).unwrap();
    assert_eq!(reopened.current(Purpose::Store), &store);
    assert_eq!(reopened.master.id(), keys.master.id());

    // Simulate a crash after the keyring was rewrapped, before the key file was renamed.
    let key_file = dir.path().join("keys/master.key");
    let new_key: [u8; 32] = rand::random();
    write_key_file(&pending_key_path(&key_file), &new_key, false).unwrap();
    let mut half = reopened.clone();
    half.master = MasterKey { key: new_key, file: Some(key_file.clone()) };
    half.write_ring(false).unwrap();
    let recovered = Keys::load_or_create(&paths(dir.path())).unwrap();
    assert_eq!(recovered.current(Purpose::Store), &store);
    assert_eq!(read_key_file(&key_file).unwrap(), new_key);
}

#[test]
fn new_data_keys_keep_old_ones_until_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let mut keys = Keys::load_or_create(&paths(dir.path())).unwrap();
    let old = keys.current(Purpose::Recordings).clone();
    let new = DataKey::random();
    keys.push_current(Purpose::Recordings, new.clone()).unwrap();
    let reopened = Keys::load_or_create(&paths(dir.path())).unwrap();
    assert_eq!(reopened.current(Purpose::Recordings), &new);
    assert_eq!(reopened.find(Purpose::Recordings, &old.id).unwrap(), &old);
    keys.drop_old(Purpose::Recordings).unwrap();
    let reopened = Keys::load_or_create(&paths(dir.path())).unwrap();
    assert!(reopened.find(Purpose::Recordings, &old.id).is_err());
    assert_eq!(reopened.all(Purpose::Store).len(), 1);
}
