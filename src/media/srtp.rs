//! SRTP and SRTCP (RFC 3711) for one call, keyed by SDES (`sip::sdes`): our master key protects
//! what we send, the PBX's unprotects what it sends. Pure packet transforms over `webrtc-srtp`
//! (AES-CM + HMAC-SHA1, rollover counter, replay window); no sockets here.

use webrtc_srtp::context::Context;
use webrtc_srtp::option::{srtcp_replay_protection, srtp_replay_protection};
use webrtc_srtp::protection_profile::ProtectionProfile;

use crate::sip::sdes::{CryptoSuite, SrtpKeys};

/// Packets remembered for replay detection (RFC 3711 §3.3.2 asks for at least 64).
const REPLAY_WINDOW: usize = 128;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SrtpError {
    #[error("SRTP keys rejected: {0}")]
    Keys(String),
    /// Authentication failed, a replay, or a packet too short: the packet is dropped.
    #[error("SRTP packet rejected: {0}")]
    Rejected(String),
}

/// Both directions of one call.
pub struct SrtpSession {
    outbound: Context,
    inbound: Context,
    suite: CryptoSuite,
}

fn profile(suite: CryptoSuite) -> ProtectionProfile {
    match suite {
        CryptoSuite::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
        CryptoSuite::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
    }
}

fn context(master: &[u8; 30], suite: CryptoSuite, replay: bool) -> Result<Context, SrtpError> {
    let (key, salt) = master.split_at(16);
    let (rtp, rtcp) = if replay { (Some(srtp_replay_protection(REPLAY_WINDOW)), Some(srtcp_replay_protection(REPLAY_WINDOW))) } else { (None, None) };
    Context::new(key, salt, profile(suite), rtp, rtcp).map_err(|e| SrtpError::Keys(e.to_string()))
}

impl SrtpSession {
    pub fn new(keys: &SrtpKeys) -> Result<Self, SrtpError> {
        Ok(Self { outbound: context(&keys.local, keys.suite, false)?, inbound: context(&keys.remote, keys.suite, true)?, suite: keys.suite })
    }

    pub fn suite(&self) -> CryptoSuite {
        self.suite
    }

    /// An RTP packet we send, encrypted and authenticated.
    pub fn protect_rtp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        self.outbound.encrypt_rtp(packet).map(|b| b.to_vec()).map_err(|e| SrtpError::Rejected(e.to_string()))
    }

    /// A received SRTP packet as plain RTP; an error for a forged, replayed or foreign packet.
    pub fn unprotect_rtp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        self.inbound.decrypt_rtp(packet).map(|b| b.to_vec()).map_err(|e| SrtpError::Rejected(e.to_string()))
    }

    pub fn protect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        self.outbound.encrypt_rtcp(packet).map(|b| b.to_vec()).map_err(|e| SrtpError::Rejected(e.to_string()))
    }

    pub fn unprotect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        self.inbound.decrypt_rtcp(packet).map(|b| b.to_vec()).map_err(|e| SrtpError::Rejected(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        hex::decode(text).unwrap()
    }

    /// The master key and salt of libsrtp's reference packet (srtp_driver), used below.
    fn reference_master() -> [u8; 30] {
        let mut master = [0u8; 30];
        master[..16].copy_from_slice(&hex("e1f97a0d3e018be0d64fa32c06de4139"));
        master[16..].copy_from_slice(&hex("0ec675ad498afeebb6960b3aabe6"));
        master
    }

    fn pair(suite: CryptoSuite) -> (SrtpSession, SrtpSession) {
        let (a, b) = (reference_master(), [0x5a; 30]);
        (SrtpSession::new(&SrtpKeys { suite, local: a, remote: b }).unwrap(), SrtpSession::new(&SrtpKeys { suite, local: b, remote: a }).unwrap())
    }

    // Known answers from an independent implementation: libsrtp 2 (through pylibsrtp 1.0.0)
    // protecting libsrtp's reference RTP packet and an RTCP sender report header with this key.
    const RTP_PLAIN: &str = "800f1234decafbadcafebabeabababababababababababababababab";
    const RTP_80: &str = "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb";
    const RTP_32: &str = "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc";
    const RTCP_PLAIN: &str = "81c8000bcafebabeabababababababababababababababab";
    const RTCP_ANY: &str = "81c8000bcafebabe7128035be487b9bdbef89041f977a5a880000001993e08cd54d6c1230798";

    #[test]
    fn matches_libsrtp_known_answers() {
        for (suite, expected) in [(CryptoSuite::AesCm128HmacSha1_80, RTP_80), (CryptoSuite::AesCm128HmacSha1_32, RTP_32)] {
            let (mut ours, _) = pair(suite);
            assert_eq!(hex::encode(ours.protect_rtp(&hex(RTP_PLAIN)).unwrap()), expected, "{suite:?}");
            // SRTCP keeps the 80-bit tag with either suite (RFC 4568 §6.2.2).
            assert_eq!(hex::encode(ours.protect_rtcp(&hex(RTCP_PLAIN)).unwrap()), RTCP_ANY, "{suite:?}");
            // And the other side reads libsrtp's packets.
            let mut reader = SrtpSession::new(&SrtpKeys { suite, local: [1; 30], remote: reference_master() }).unwrap();
            assert_eq!(hex::encode(reader.unprotect_rtp(&hex(expected)).unwrap()), RTP_PLAIN);
            assert_eq!(hex::encode(reader.unprotect_rtcp(&hex(RTCP_ANY)).unwrap()), RTCP_PLAIN);
        }
    }

    #[test]
    fn round_trip_across_a_sequence_wrap_and_tag_lengths() {
        for suite in CryptoSuite::ALL {
            let (mut a, mut b) = pair(suite);
            for i in 0..40u16 {
                let seq = 0xfff0u16.wrapping_add(i); // crosses the rollover counter
                let mut packet = vec![0x80, 0, 0, 0, 0, 0, 0, 160, 1, 2, 3, 4];
                packet[2..4].copy_from_slice(&seq.to_be_bytes());
                packet.extend(std::iter::repeat_n(0xff, 160));
                let protected = a.protect_rtp(&packet).unwrap();
                assert_eq!(protected.len(), packet.len() + suite.rtp_tag_len());
                assert_ne!(&protected[12..172], &packet[12..], "payload is encrypted");
                assert_eq!(b.unprotect_rtp(&protected).unwrap(), packet, "{suite:?} seq {seq}");
            }
        }
    }

    #[test]
    fn forged_replayed_and_foreign_packets_are_rejected() {
        let (mut a, mut b) = pair(CryptoSuite::AesCm128HmacSha1_80);
        let protected = a.protect_rtp(&hex(RTP_PLAIN)).unwrap();
        let mut forged = protected.clone();
        forged[14] ^= 1;
        assert!(b.unprotect_rtp(&forged).is_err(), "a flipped bit fails authentication");
        assert!(b.unprotect_rtp(&protected).is_ok());
        assert!(b.unprotect_rtp(&protected).is_err(), "a replay is dropped");
        let mut other = SrtpSession::new(&SrtpKeys { suite: CryptoSuite::AesCm128HmacSha1_80, local: [3; 30], remote: [4; 30] }).unwrap();
        let mut next = hex(RTP_PLAIN);
        next[3] = 0x35; // the following sequence number
        assert!(other.unprotect_rtp(&a.protect_rtp(&next).unwrap()).is_err(), "someone else's key");
        assert!(b.unprotect_rtp(&hex(RTP_PLAIN)).is_err(), "plain RTP is not accepted on an SRTP call");
        let rtcp = a.protect_rtcp(&hex(RTCP_PLAIN)).unwrap();
        assert_eq!(b.unprotect_rtcp(&rtcp).unwrap(), hex(RTCP_PLAIN));
    }
}
