//! Password hashing: argon2id with the crate's default (OWASP-level) parameters, stored as PHC strings.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password must be at least {0} characters")]
    TooShort(usize),
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

pub const MIN_LENGTH: usize = 10;

pub fn hash(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_LENGTH {
        return Err(PasswordError::TooShort(MIN_LENGTH));
    }
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Constant-time verification against a stored PHC string; a malformed hash never verifies.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A hash of a random password, verified against when the username is unknown, so that a wrong
/// username costs as much time as a wrong password.
pub fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash(&hex::encode(rand::random::<[u8; 16]>())).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let stored = hash("correct horse battery").unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(verify("correct horse battery", &stored));
        assert!(!verify("correct horse batterY", &stored));
        assert!(!verify("anything", "not a hash"));
        assert!(matches!(hash("short"), Err(PasswordError::TooShort(_))));
    }
}
