//! Cryptographic helpers shared by the SIP side, the on-call lines and the dashboard: password and
//! PIN hashing (`password`), certificate files for TLS (`tls`), and comparison of secrets in
//! constant time. A leaf: it imports no other module of the crate (docs/architecture.md).

pub mod password;
pub mod tls;

/// Byte comparison whose time does not depend on where the strings differ (secrets, MACs, digest
/// responses, CSRF tokens).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
