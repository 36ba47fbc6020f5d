//! RFC 6238 TOTP (HMAC-SHA1, 30 s steps, 6 digits) for the optional second factor, written out
//! here because it is thirty lines over `hmac` + `sha1`; secrets are base32 (RFC 4648) as
//! authenticator apps expect.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

const STEP_S: i64 = 30;
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The 6-digit code for the 30-second step containing `unix_time`.
pub fn code_at(secret: &[u8], unix_time: i64) -> u32 {
    hotp(secret, (unix_time.div_euclid(STEP_S)) as u64, 6)
}

/// RFC 4226 HOTP with dynamic truncation.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[digest.len() - 1] & 0x0f) as usize;
    let value = u32::from_be_bytes([digest[offset] & 0x7f, digest[offset + 1], digest[offset + 2], digest[offset + 3]]);
    value % 10u32.pow(digits)
}

/// Accepts the code of the current step or one step either side (clock drift).
pub fn verify(secret_base32: &str, code: &str, unix_time: i64) -> bool {
    let Some(secret) = base32_decode(secret_base32) else { return false };
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(given) = code.parse::<u32>() else { return false };
    (-1..=1).any(|drift| code_at(&secret, unix_time + drift * STEP_S) == given)
}

pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            out.push(ALPHABET[((buffer >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let value = ALPHABET.iter().position(|&a| a as char == c.to_ascii_uppercase())? as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            out.push((buffer >> (bits - 8)) as u8);
            bits -= 8;
        }
    }
    Some(out)
}

/// A new random 160-bit secret, base32.
pub fn new_secret() -> String {
    base32_encode(&rand::random::<[u8; 20]>())
}

/// The `otpauth://` URI an authenticator app scans or imports.
pub fn otpauth_uri(issuer: &str, username: &str, secret: &str) -> String {
    let enc = |s: &str| s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect::<String>();
    format!("otpauth://totp/{}:{}?secret={secret}&issuer={}&algorithm=SHA1&digits=6&period=30", enc(issuer), enc(username), enc(issuer))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (8 digits there; the last 6 are ours).
    #[test]
    fn rfc6238_vectors() {
        let secret = b"12345678901234567890";
        for (t, expected) in [(59, 94287082u32), (1111111109, 7081804), (1111111111, 14050471), (1234567890, 89005924), (2000000000, 69279037)] {
            assert_eq!(hotp(secret, (t / 30) as u64, 8), expected, "t={t}");
            assert_eq!(code_at(secret, t), expected % 1_000_000, "t={t}");
        }
    }

    #[test]
    fn base32_round_trip_and_rfc4648() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("MZXW6YTBOI======").unwrap(), b"foobar");
        let secret = new_secret();
        assert_eq!(base32_decode(&secret).unwrap().len(), 20);
        assert!(base32_decode("not base32!").is_none());
    }

    #[test]
    fn verify_allows_one_step_of_drift() {
        let secret = base32_encode(b"12345678901234567890");
        let now = 1_234_567_890;
        let code = format!("{:06}", code_at(b"12345678901234567890", now - 30));
        assert!(verify(&secret, &code, now));
        assert!(!verify(&secret, &code, now + 60));
        assert!(!verify(&secret, "12345", now));
    }
}
