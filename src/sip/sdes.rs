//! SDES keying for SRTP (RFC 4568): the `a=crypto` attribute, the suites we speak, and which
//! offered line we accept. Pure: our own key material comes in from the caller.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

/// Master key (16 bytes) followed by master salt (14 bytes), as in the `inline:` parameter.
pub const MASTER_LEN: usize = 30;

/// When calls use SRTP (`[media] srtp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SrtpPolicy {
    /// Plain RTP only: an `RTP/SAVP` offer gets 488.
    Off,
    /// SRTP when the PBX offers a usable `a=crypto`, plain RTP otherwise.
    #[default]
    Optional,
    /// Only SRTP: a plain offer gets 488.
    Required,
}

/// The SRTP crypto suites we implement (both AES-128 counter mode with HMAC-SHA1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CryptoSuite {
    /// 80-bit RTP authentication tag.
    AesCm128HmacSha1_80,
    /// 32-bit RTP authentication tag (SRTCP keeps 80 bits, RFC 4568 §6.2.2).
    AesCm128HmacSha1_32,
}

impl CryptoSuite {
    pub const ALL: [CryptoSuite; 2] = [CryptoSuite::AesCm128HmacSha1_80, CryptoSuite::AesCm128HmacSha1_32];

    pub fn name(self) -> &'static str {
        match self {
            Self::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Self::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name().eq_ignore_ascii_case(name))
    }

    /// Bytes of the authentication tag on an SRTP packet.
    pub fn rtp_tag_len(self) -> usize {
        match self {
            Self::AesCm128HmacSha1_80 => 10,
            Self::AesCm128HmacSha1_32 => 4,
        }
    }
}

/// The keys of one SRTP session: the suite, ours (to protect what we send) and theirs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SrtpKeys {
    pub suite: CryptoSuite,
    pub local: [u8; MASTER_LEN],
    pub remote: [u8; MASTER_LEN],
}

impl fmt::Debug for SrtpKeys {
    // Keys never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpKeys").field("suite", &self.suite).finish_non_exhaustive()
    }
}

/// One `a=crypto:<tag> <suite> <key-params> [<session-params>]` line (without `a=crypto:`).
#[derive(Clone, PartialEq, Eq)]
pub struct Crypto {
    pub tag: u32,
    pub suite: String,
    pub key_params: Vec<String>,
    pub session_params: Vec<String>,
}

impl fmt::Debug for Crypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Crypto").field("tag", &self.tag).field("suite", &self.suite).finish_non_exhaustive()
    }
}

impl Crypto {
    /// Parses the attribute value; `None` when it is not a crypto attribute we can read.
    pub fn parse(value: &str) -> Option<Crypto> {
        let mut fields = value.split_whitespace();
        let tag = fields.next()?.parse().ok()?;
        let suite = fields.next()?.to_string();
        let key_params = fields.next()?.split(';').map(str::to_string).collect();
        Some(Crypto { tag, suite, key_params, session_params: fields.map(str::to_string).collect() })
    }

    /// Ours: one inline key, no lifetime, no MKI.
    pub fn ours(tag: u32, suite: CryptoSuite, master: &[u8; MASTER_LEN]) -> Crypto {
        Crypto { tag, suite: suite.name().into(), key_params: vec![format!("inline:{}", STANDARD.encode(master))], session_params: Vec::new() }
    }

    /// The attribute as it goes after `a=`.
    pub fn attribute(&self) -> String {
        let mut out = format!("crypto:{} {} {}", self.tag, self.suite, self.key_params.join(";"));
        for param in &self.session_params {
            out.push(' ');
            out.push_str(param);
        }
        out
    }

    /// The suite and master key+salt, when we can use this line: a suite we implement, exactly one
    /// inline key of the right length (an optional lifetime is fine; no MKI), and no session
    /// parameter that changes the packet processing (KDR, UNENCRYPTED_*, FEC_ORDER, ...).
    pub fn usable(&self) -> Option<(CryptoSuite, [u8; MASTER_LEN])> {
        let suite = CryptoSuite::from_name(&self.suite)?;
        if !self.session_params.is_empty() || self.key_params.len() != 1 {
            return None;
        }
        let inline = self.key_params[0].strip_prefix("inline:")?;
        let mut parts = inline.split('|');
        let key = STANDARD.decode(parts.next()?).ok()?;
        for extra in parts {
            // A lifetime (2^n or a number) is allowed; an MKI (`n:len`) is not.
            if extra.contains(':') {
                return None;
            }
        }
        key.try_into().ok().map(|master| (suite, master))
    }
}

/// The `a=crypto` lines of a media description's other attributes.
pub fn crypto_lines(attributes: &[String]) -> Vec<Crypto> {
    attributes.iter().filter_map(|a| a.strip_prefix("crypto:")).filter_map(Crypto::parse).collect()
}

/// The first offered line we can use (the offerer's preference order).
pub fn choose(offered: &[Crypto]) -> Option<(&Crypto, CryptoSuite, [u8; MASTER_LEN])> {
    offered.iter().find_map(|c| c.usable().map(|(suite, master)| (c, suite, master)))
}

/// Whether an `m=` protocol is secure RTP (`RTP/SAVP`, `RTP/SAVPF`).
pub fn is_secure_profile(protocol: &str) -> bool {
    protocol.eq_ignore_ascii_case("RTP/SAVP") || protocol.eq_ignore_ascii_case("RTP/SAVPF")
}

#[cfg(test)]
mod tests {
    use super::*;

    // From RFC 4568 §9.1 (the key of its example offer).
    const RFC_EXAMPLE: &str = "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32";

    #[test]
    fn parses_and_rejects_mki_lines() {
        let c = Crypto::parse(RFC_EXAMPLE).unwrap();
        assert_eq!((c.tag, c.suite.as_str()), (1, "AES_CM_128_HMAC_SHA1_80"));
        assert!(c.usable().is_none(), "an MKI changes the packet format: not supported");
        let plain = Crypto::parse("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20").unwrap();
        let (suite, master) = plain.usable().unwrap();
        assert_eq!(suite, CryptoSuite::AesCm128HmacSha1_80);
        assert_eq!(&master[..4], &[0x3d, 0x2d, 0x6e, 0x40]);
    }

    #[test]
    fn unusable_lines() {
        for line in [
            "1 F8_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
            "1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=",
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR KDR=1",
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR UNENCRYPTED_SRTP",
        ] {
            assert!(Crypto::parse(line).unwrap().usable().is_none(), "{line}");
        }
        assert!(Crypto::parse("x AES").is_none());
    }

    #[test]
    fn chooses_the_first_usable_line_and_round_trips_ours() {
        let attributes = vec![
            "rtpmap:0 PCMU/8000".to_string(),
            "crypto:1 AEAD_AES_256_GCM inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBRPS1uQCVeeCFCanVmcjk=".to_string(),
            "crypto:2 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR".to_string(),
            "crypto:3 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR".to_string(),
        ];
        let offered = crypto_lines(&attributes);
        assert_eq!(offered.len(), 3);
        let (line, suite, _) = choose(&offered).unwrap();
        assert_eq!((line.tag, suite), (2, CryptoSuite::AesCm128HmacSha1_32));
        let ours = Crypto::ours(2, suite, &[7u8; MASTER_LEN]);
        let back = Crypto::parse(ours.attribute().strip_prefix("crypto:").unwrap()).unwrap();
        assert_eq!(back.usable(), Some((suite, [7u8; MASTER_LEN])));
        assert!(!format!("{:?}", SrtpKeys { suite, local: [7; 30], remote: [8; 30] }).contains('7'), "keys stay out of Debug");
    }
}
