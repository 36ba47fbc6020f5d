//! Column encryption for the shared store: what PostgreSQL holds of a call record, an outbox
//! payload or an error is AES-256-GCM ciphertext under the store's current data key (the keyring
//! of `store::keys`), bound to its table, column and call id, so a value cannot be moved to another
//! row or column unnoticed. Layout: `CL1`, key id length (1 byte), key id, nonce (12), ciphertext.

use super::super::StoreError;
use super::super::keys::{self, Keys, Purpose};

const MAGIC: &[u8; 3] = b"CL1";

fn aad(column: &str, call_id: &str) -> Vec<u8> {
    format!("chartline postgres v1|{column}|{call_id}").into_bytes()
}

/// Seals `plain` for `column` (`table.column`) of the row `call_id`.
pub fn seal(keys: &Keys, column: &str, call_id: &str, plain: &[u8]) -> Vec<u8> {
    let key = keys.current(Purpose::Store);
    let nonce: [u8; 12] = rand::random();
    let sealed = keys::seal(key.bytes(), &nonce, &aad(column, call_id), plain);
    let mut out = Vec::with_capacity(MAGIC.len() + 1 + key.id.len() + nonce.len() + sealed.len());
    out.extend_from_slice(MAGIC);
    out.push(key.id.len() as u8);
    out.extend_from_slice(key.id.as_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    out
}

/// The plaintext of a value [`seal`] wrote for the same column and row, with whichever store key
/// of the keyring sealed it.
pub fn open(keys: &Keys, column: &str, call_id: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
    let bad = |problem: &str| StoreError::Sealed { column: column.to_string(), call_id: call_id.to_string(), problem: problem.to_string() };
    let rest = sealed.strip_prefix(MAGIC.as_slice()).ok_or_else(|| bad("not a sealed value"))?;
    let (&id_len, rest) = rest.split_first().ok_or_else(|| bad("truncated"))?;
    if rest.len() < id_len as usize + 12 {
        return Err(bad("truncated"));
    }
    let (id, rest) = rest.split_at(id_len as usize);
    let (nonce, ciphertext) = rest.split_at(12);
    let id = std::str::from_utf8(id).map_err(|_| bad("key id is not text"))?;
    let key = keys.find(Purpose::Store, id)?;
    let nonce: [u8; 12] = nonce.try_into().expect("split at 12");
    keys::open(key.bytes(), &nonce, &aad(column, call_id), ciphertext).ok_or_else(|| bad("fails authentication (edited, moved from another row, or another keyring)"))
}

/// [`open`] for a value sealed from text.
pub fn open_text(keys: &Keys, column: &str, call_id: &str, sealed: &[u8]) -> Result<String, StoreError> {
    String::from_utf8(open(keys, column, call_id, sealed)?).map_err(|_| StoreError::Sealed { column: column.to_string(), call_id: call_id.to_string(), problem: "not UTF-8".into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_in_their_own_row_and_column() {
        let keys = Keys::ephemeral();
        let sealed = seal(&keys, "outbox.payload", "c1", b"Margaret Oduya 1951-07-14");
        assert!(!sealed.windows(5).any(|w| w == b"Oduya"));
        assert_eq!(open_text(&keys, "outbox.payload", "c1", &sealed).unwrap(), "Margaret Oduya 1951-07-14");
        assert!(open(&keys, "outbox.payload", "c2", &sealed).is_err(), "moved to another row");
        assert!(open(&keys, "calls.record", "c1", &sealed).is_err(), "moved to another column");
        assert!(open(&Keys::ephemeral(), "outbox.payload", "c1", &sealed).is_err(), "another keyring");
        let mut edited = sealed.clone();
        *edited.last_mut().unwrap() ^= 1;
        assert!(open(&keys, "outbox.payload", "c1", &edited).is_err(), "edited");
        assert!(open(&keys, "outbox.payload", "c1", b"plain").is_err());
    }
}
