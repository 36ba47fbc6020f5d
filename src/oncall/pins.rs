//! Callback-line PINs: one argon2id hash per dashboard account, in a table of their own. A PIN
//! identifies its provider on the phone, so two accounts may not share one.

use chrono::Utc;
use rusqlite::params;

use crate::store::users::{Role, User};
use crate::store::{Store, StoreError};

/// 4 to 8 digits.
pub fn valid_pin(pin: &str) -> bool {
    (4..=8).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit())
}

fn ensure_table(conn: &rusqlite::Connection) -> Result<(), StoreError> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS callback_pins (username TEXT PRIMARY KEY, pin_hash TEXT NOT NULL, updated_at TEXT NOT NULL);")?;
    Ok(())
}

fn hashes(store: &Store) -> Result<Vec<(String, String)>, StoreError> {
    store.with(|conn| {
        ensure_table(conn)?;
        let mut stmt = conn.prepare("SELECT username, pin_hash FROM callback_pins")?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    })
}

/// Sets (or replaces) the PIN of a provider account.
pub fn set_pin(store: &Store, username: &str, pin: &str) -> Result<(), StoreError> {
    if !valid_pin(pin) {
        return Err(StoreError::Invalid("a PIN is 4 to 8 digits".into()));
    }
    let user = store.user(username)?.ok_or_else(|| StoreError::NotFound(username.to_string()))?;
    if user.role != Role::Provider || user.practitioner.is_none() {
        return Err(StoreError::Invalid(format!("{username} is not a provider with a practitioner id")));
    }
    if hashes(store)?.iter().any(|(other, hash)| other != username && crate::crypto::password::verify(pin, hash)) {
        return Err(StoreError::Invalid("that PIN is taken: choose another".into()));
    }
    // Argon2id like the passwords (crypto::password), without their length rule: a PIN is short by design.
    use argon2::password_hash::PasswordHasher;
    let hash = argon2::Argon2::default().hash_password(pin.as_bytes()).map(|h| h.to_string()).map_err(|e| StoreError::Invalid(format!("cannot hash the PIN: {e}")))?;
    store.with(|conn| {
        ensure_table(conn)?;
        conn.execute(
            "INSERT INTO callback_pins (username, pin_hash, updated_at) VALUES (?1, ?2, ?3) ON CONFLICT(username) DO UPDATE SET pin_hash = ?2, updated_at = ?3",
            params![username, hash, Utc::now().to_rfc3339()],
        )?;
        Ok(())
    })
}

/// The provider whose PIN this is.
pub fn provider_by_pin(store: &Store, pin: &str) -> Result<Option<User>, StoreError> {
    if !valid_pin(pin) {
        return Ok(None);
    }
    for (username, hash) in hashes(store)? {
        if crate::crypto::password::verify(pin, &hash) {
            return store.user(&username);
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::users::NewUser;

    fn add(store: &Store, name: &str, role: Role) {
        let practitioner = (role == Role::Provider).then(|| format!("dr-{name}"));
        store.add_user(&NewUser { username: name.into(), display_name: name.into(), role, practitioner, password_hash: "x".into(), totp_secret: None }).unwrap();
    }

    #[test]
    fn pins_identify_providers_and_are_unique() {
        let store = Store::in_memory().unwrap();
        add(&store, "ann", Role::Provider);
        add(&store, "bob", Role::Provider);
        add(&store, "fay", Role::FrontDesk);
        assert!(set_pin(&store, "ann", "12a4").is_err());
        assert!(set_pin(&store, "fay", "1234").is_err(), "front desk has no callback line");
        set_pin(&store, "ann", "1234").unwrap();
        assert!(set_pin(&store, "bob", "1234").unwrap_err().to_string().contains("taken"));
        set_pin(&store, "bob", "5678").unwrap();
        assert_eq!(provider_by_pin(&store, "5678").unwrap().unwrap().username, "bob");
        assert!(provider_by_pin(&store, "9999").unwrap().is_none());
        set_pin(&store, "ann", "4321").unwrap();
        assert!(provider_by_pin(&store, "1234").unwrap().is_none(), "a replaced PIN no longer works");
    }
}
