//! HTTP Digest authentication as SIP uses it (RFC 3261 §22.4, RFC 2617, RFC 7616 and RFC 8760 for
//! SHA-256): parse a `WWW-Authenticate` / `Proxy-Authenticate` challenge, compute the response and
//! render the `Authorization` / `Proxy-Authorization` value. Only `qop=auth` (or no qop, the RFC
//! 2069 form) is answered; `auth-int` is refused with a clear error. Pure functions, no I/O.

use std::fmt;

use md5::Md5;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use thiserror::Error;

/// A password: never printed by `Debug` or `Display`, so it cannot end up in a log line.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "Secret(empty)" } else { "Secret(***)" })
    }
}

/// Who we authenticate as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
}

impl Algorithm {
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "MD5" => Some(Self::Md5),
            "MD5-SESS" => Some(Self::Md5Sess),
            "SHA-256" => Some(Self::Sha256),
            "SHA-256-SESS" => Some(Self::Sha256Sess),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Md5Sess => "MD5-sess",
            Self::Sha256 => "SHA-256",
            Self::Sha256Sess => "SHA-256-sess",
        }
    }

    fn is_session(self) -> bool {
        matches!(self, Self::Md5Sess | Self::Sha256Sess)
    }

    /// Preference when a server offers several challenges (RFC 8760 §2.4: strongest first).
    fn strength(self) -> u8 {
        match self {
            Self::Sha256 | Self::Sha256Sess => 2,
            Self::Md5 | Self::Md5Sess => 1,
        }
    }

    /// Lower-case hex of the hash of `data`.
    pub fn hex(self, data: &str) -> String {
        match self {
            Self::Md5 | Self::Md5Sess => hex::encode(Md5::digest(data.as_bytes())),
            Self::Sha256 | Self::Sha256Sess => hex::encode(Sha256::digest(data.as_bytes())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    #[error("the challenge is not a Digest challenge")]
    NotDigest,
    #[error("the challenge has no {0} parameter")]
    Missing(&'static str),
    #[error("unsupported digest algorithm {0:?} (MD5 and SHA-256 are supported)")]
    UnsupportedAlgorithm(String),
    #[error("unsupported qop {0:?} (only \"auth\" is supported)")]
    UnsupportedQop(String),
    #[error("malformed challenge: {0}")]
    Malformed(&'static str),
}

/// One parsed Digest challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: Algorithm,
    /// The server offered `qop=auth`: we answer with qop, cnonce and nc.
    pub qop_auth: bool,
    /// `stale=true`: our credentials were right, only the nonce was old.
    pub stale: bool,
}

impl Challenge {
    /// Parses one header value, e.g. `Digest realm="a", nonce="b", qop="auth", algorithm=MD5`.
    pub fn parse(value: &str) -> Result<Self, AuthError> {
        let params = DigestParams::parse(value)?;
        let get = |name: &str| params.get(name).map(str::to_string);
        let algorithm = match get("algorithm") {
            None => Algorithm::Md5,
            Some(name) => Algorithm::parse(&name).ok_or(AuthError::UnsupportedAlgorithm(name))?,
        };
        let qop_auth = match get("qop") {
            None => false,
            Some(list) if list.split(',').any(|q| q.trim().eq_ignore_ascii_case("auth")) => true,
            Some(list) => return Err(AuthError::UnsupportedQop(list)),
        };
        if algorithm.is_session() && !qop_auth {
            return Err(AuthError::Malformed("a -sess algorithm needs qop"));
        }
        Ok(Challenge {
            realm: get("realm").ok_or(AuthError::Missing("realm"))?,
            nonce: get("nonce").filter(|n| !n.is_empty()).ok_or(AuthError::Missing("nonce"))?,
            opaque: get("opaque"),
            algorithm,
            qop_auth,
            stale: get("stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// Of several challenge headers, the strongest one we can answer; the first error otherwise.
    pub fn select<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Self, AuthError> {
        let mut best: Option<Challenge> = None;
        let mut first_error = None;
        for value in values {
            match Self::parse(value) {
                Ok(c) if best.as_ref().is_none_or(|b| c.algorithm.strength() > b.algorithm.strength()) => best = Some(c),
                Ok(_) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        best.ok_or(first_error.unwrap_or(AuthError::NotDigest))
    }

    /// The `response` value (RFC 7616 §3.4.1). `nc` is the count of requests sent with this nonce.
    pub fn response(&self, credentials: &Credentials, method: &str, uri: &str, cnonce: &str, nc: u32) -> String {
        let h = |data: &str| self.algorithm.hex(data);
        let mut ha1 = h(&format!("{}:{}:{}", credentials.username, self.realm, credentials.password.expose()));
        if self.algorithm.is_session() {
            ha1 = h(&format!("{ha1}:{}:{cnonce}", self.nonce));
        }
        let ha2 = h(&format!("{method}:{uri}"));
        if self.qop_auth { h(&format!("{ha1}:{}:{nc:08x}:{cnonce}:auth:{ha2}", self.nonce)) } else { h(&format!("{ha1}:{}:{ha2}", self.nonce)) }
    }

    /// The complete `Authorization` (or `Proxy-Authorization`) header value.
    pub fn authorization(&self, credentials: &Credentials, method: &str, uri: &str, cnonce: &str, nc: u32) -> String {
        let response = self.response(credentials, method, uri, cnonce, nc);
        let mut out = format!(
            "Digest username={}, realm={}, nonce={}, uri={}, response=\"{response}\", algorithm={}",
            quote(&credentials.username),
            quote(&self.realm),
            quote(&self.nonce),
            quote(uri),
            self.algorithm.name()
        );
        if self.qop_auth {
            out.push_str(&format!(", cnonce={}, qop=auth, nc={nc:08x}", quote(cnonce)));
        }
        if let Some(opaque) = &self.opaque {
            out.push_str(&format!(", opaque={}", quote(opaque)));
        }
        out
    }
}

/// The parameters of one `Digest …` header value: a challenge or an answer to one.
pub(crate) struct DigestParams(Vec<(String, String)>);

impl DigestParams {
    pub(crate) fn parse(value: &str) -> Result<Self, AuthError> {
        let value = value.trim_start();
        let (scheme, rest) = value.split_at(value.find(char::is_whitespace).unwrap_or(value.len()));
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(AuthError::NotDigest);
        }
        auth_params(rest).map(Self)
    }

    /// A parameter by name, any case.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A quoted-string with `"` and `\` escaped.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `name=token` or `name="quoted"` pairs separated by commas.
fn auth_params(text: &str) -> Result<Vec<(String, String)>, AuthError> {
    let mut params = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(params);
        }
        let name: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',' && !c.is_whitespace())).collect();
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(AuthError::Malformed("parameter without a value"));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let value = if chars.next_if_eq(&'"').is_some() {
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => value.push(chars.next().ok_or(AuthError::Malformed("unterminated quoted string"))?),
                    Some(c) => value.push(c),
                    None => return Err(AuthError::Malformed("unterminated quoted string")),
                }
            }
            value
        } else {
            std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect::<String>().trim().to_string()
        };
        params.push((name, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(user: &str, password: &str) -> Credentials {
        Credentials { username: user.into(), password: Secret::new(password) }
    }

    #[test]
    fn rfc2617_section_3_5_example() {
        let c = Challenge::parse("Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"").unwrap();
        assert_eq!(c.algorithm, Algorithm::Md5);
        assert!(c.qop_auth);
        let response = c.response(&creds("Mufasa", "Circle Of Life"), "GET", "/dir/index.html", "0a4f113b", 1);
        assert_eq!(response, "6629fae49393a05397450978507c4ef1");
    }

    const RFC7616: &str = "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
    const RFC7616_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    #[test]
    fn rfc7616_section_3_9_1_sha256_example() {
        let c = Challenge::parse(RFC7616).unwrap();
        assert_eq!(c.algorithm, Algorithm::Sha256);
        let response = c.response(&creds("Mufasa", "Circle of Life"), "GET", "/dir/index.html", RFC7616_CNONCE, 1);
        assert_eq!(response, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
    }

    #[test]
    fn rfc7616_section_3_9_1_md5_example() {
        let c = Challenge::parse(&RFC7616.replace("SHA-256", "MD5")).unwrap();
        let response = c.response(&creds("Mufasa", "Circle of Life"), "GET", "/dir/index.html", RFC7616_CNONCE, 1);
        assert_eq!(response, "8ca523f5e9506fed4657c9700eebdbec");
    }

    #[test]
    fn rfc2069_form_without_qop() {
        // draft-smith-sipping-auth-examples-01 §3.1: no algorithm, no qop.
        let c = Challenge::parse("Digest realm=\"biloxi.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"").unwrap();
        assert!(!c.qop_auth);
        let header = c.authorization(&creds("bob", "zanzibar"), "INVITE", "sip:bob@biloxi.com", "unused", 1);
        assert!(header.contains("response=\"bf57e4e0d0bffc0fbaedce64d59add5e\""), "{header}");
        assert!(!header.contains("cnonce"), "{header}");
        assert!(header.ends_with("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""), "{header}");
    }

    #[test]
    fn authorization_header_carries_qop_nc_and_cnonce() {
        let c = Challenge::parse("Digest realm=\"r\", nonce=\"n\", qop=\"auth\", algorithm=MD5").unwrap();
        let header = c.authorization(&creds("al\"ice", "pw"), "REGISTER", "sip:example.org", "abc", 2);
        assert!(header.starts_with("Digest username=\"al\\\"ice\", realm=\"r\", nonce=\"n\", uri=\"sip:example.org\", response=\""), "{header}");
        assert!(header.contains("cnonce=\"abc\", qop=auth, nc=00000002"), "{header}");
        let expected = c.response(&creds("al\"ice", "pw"), "REGISTER", "sip:example.org", "abc", 2);
        assert!(header.contains(&expected));
    }

    #[test]
    fn session_variant_hashes_ha1_with_nonce_and_cnonce() {
        let c = Challenge::parse("Digest realm=\"r\", nonce=\"n\", qop=auth, algorithm=MD5-sess").unwrap();
        let a = Algorithm::Md5;
        let ha1 = a.hex(&format!("{}:n:c", a.hex("u:r:p")));
        let expected = a.hex(&format!("{ha1}:n:00000001:c:auth:{}", a.hex("REGISTER:sip:x")));
        assert_eq!(c.response(&creds("u", "p"), "REGISTER", "sip:x", "c", 1), expected);
    }

    #[test]
    fn refuses_what_it_cannot_answer() {
        assert_eq!(Challenge::parse("Basic realm=\"x\""), Err(AuthError::NotDigest));
        assert_eq!(Challenge::parse("Digest realm=\"x\""), Err(AuthError::Missing("nonce")));
        assert_eq!(Challenge::parse("Digest nonce=\"x\""), Err(AuthError::Missing("realm")));
        assert!(matches!(Challenge::parse("Digest realm=\"x\", nonce=\"y\", algorithm=SHA-512-256"), Err(AuthError::UnsupportedAlgorithm(_))));
        assert!(matches!(Challenge::parse("Digest realm=\"x\", nonce=\"y\", qop=\"auth-int\""), Err(AuthError::UnsupportedQop(_))));
        assert!(matches!(Challenge::parse("Digest realm=\"x\", nonce=\"y"), Err(AuthError::Malformed(_))));
        assert!(matches!(Challenge::parse("Digest realm"), Err(AuthError::Malformed(_))));
    }

    #[test]
    fn stale_flag_and_escapes() {
        let c = Challenge::parse("Digest realm=\"a\\\"b\",nonce=abc ,stale=TRUE").unwrap();
        assert_eq!(c.realm, "a\"b");
        assert_eq!(c.nonce, "abc");
        assert!(c.stale);
    }

    #[test]
    fn select_prefers_sha256() {
        let md5 = "Digest realm=\"r\", nonce=\"1\", algorithm=MD5, qop=\"auth\"";
        let sha = "Digest realm=\"r\", nonce=\"2\", algorithm=SHA-256, qop=\"auth\"";
        assert_eq!(Challenge::select([md5, sha]).unwrap().algorithm, Algorithm::Sha256);
        assert_eq!(Challenge::select(["Digest realm=\"r\", nonce=\"1\", algorithm=FOO", md5]).unwrap().nonce, "1");
        assert!(Challenge::select(["Basic realm=\"x\""]).is_err());
    }

    #[test]
    fn secret_is_never_printed() {
        let c = creds("alice", "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
