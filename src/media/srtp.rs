//! SRTP and SRTCP (RFC 3711) for one call, keyed by SDES (`sip::sdes`): our master key protects
//! what we send, the PBX's unprotects what it sends. Pure packet transforms over `webrtc-srtp`
//! (AES-CM + HMAC-SHA1, rollover counter) and our own replay windows; no sockets here.
//!
//! The replay windows are ours because webrtc-srtp 0.17 checks its window before authenticating
//! and lets the first packet it sees place it, authentic or not: one unauthenticated datagram
//! with a far index (baresip's plain-text RTCP keepalive is one) made every genuine SRTCP packet
//! of the call "too old". Here only packets that passed authentication move a window.

use std::collections::HashMap;

use webrtc_srtp::context::Context;
use webrtc_srtp::protection_profile::ProtectionProfile;

use super::be32;
use crate::sip::sdes::{CryptoSuite, SrtpKeys};

/// Packets remembered for replay detection (RFC 3711 §3.3.2 asks for at least 64).
const REPLAY_WINDOW: u64 = 128;
/// SRTCP keeps the 80-bit tag with either suite (RFC 4568 §6.2.2).
const SRTCP_TAG_LEN: usize = 10;
/// Sources (SSRCs) with a window of their own; a call has one or two.
const MAX_SOURCES: usize = 16;

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
    /// Per received SSRC: the RTP sequence numbers and the SRTCP indexes accepted.
    rtp_windows: HashMap<u32, ReplayWindow>,
    rtcp_windows: HashMap<u32, ReplayWindow>,
}

/// The last `REPLAY_WINDOW` indexes of a wrapping counter (`modulus` values) that were accepted.
#[derive(Debug, Clone, Copy)]
struct ReplayWindow {
    latest: u64,
    /// Bit n: `latest - n` was accepted.
    seen: u128,
    modulus: u64,
}

impl ReplayWindow {
    fn new(first: u64, modulus: u64) -> Self {
        Self { latest: first, seen: 1, modulus }
    }

    /// Takes `index` once: false for a repeat or one older than the window.
    fn accept(&mut self, index: u64) -> bool {
        let forward = (index + self.modulus - self.latest) % self.modulus;
        if forward != 0 && forward < self.modulus / 2 {
            self.seen = if forward >= 128 { 0 } else { self.seen << forward };
            self.seen |= 1;
            self.latest = index;
            return true;
        }
        let back = (self.latest + self.modulus - index) % self.modulus;
        if back >= REPLAY_WINDOW || self.seen & (1 << back) != 0 {
            return false;
        }
        self.seen |= 1 << back;
        true
    }
}

/// Checks `index` of `ssrc` against its window, opening one for a new source.
fn replay_check(windows: &mut HashMap<u32, ReplayWindow>, ssrc: u32, index: u64, modulus: u64) -> Result<(), SrtpError> {
    if let Some(window) = windows.get_mut(&ssrc) {
        return if window.accept(index) { Ok(()) } else { Err(SrtpError::Rejected(format!("replayed or too old: index {index} of SSRC {ssrc:08x}"))) };
    }
    if windows.len() >= MAX_SOURCES {
        windows.clear();
    }
    windows.insert(ssrc, ReplayWindow::new(index, modulus));
    Ok(())
}

fn profile(suite: CryptoSuite) -> ProtectionProfile {
    match suite {
        CryptoSuite::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
        CryptoSuite::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
    }
}

fn context(master: &[u8; 30], suite: CryptoSuite) -> Result<Context, SrtpError> {
    let (key, salt) = master.split_at(16);
    Context::new(key, salt, profile(suite), None, None).map_err(|e| SrtpError::Keys(e.to_string()))
}

impl SrtpSession {
    pub fn new(keys: &SrtpKeys) -> Result<Self, SrtpError> {
        Ok(Self { outbound: context(&keys.local, keys.suite)?, inbound: context(&keys.remote, keys.suite)?, suite: keys.suite, rtp_windows: HashMap::new(), rtcp_windows: HashMap::new() })
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
        let plain = self.inbound.decrypt_rtp(packet).map_err(|e| SrtpError::Rejected(e.to_string()))?;
        // Authenticated: its header (sequence number, SSRC) is the sender's.
        let seq = u64::from(u16::from_be_bytes([plain[2], plain[3]]));
        replay_check(&mut self.rtp_windows, be32(&plain, 8), seq, 1 << 16)?;
        Ok(plain.to_vec())
    }

    pub fn protect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        self.outbound.encrypt_rtcp(packet).map(|b| b.to_vec()).map_err(|e| SrtpError::Rejected(e.to_string()))
    }

    /// A received SRTCP packet as plain RTCP; an error for a forged, replayed or plain one.
    pub fn unprotect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        let plain = self.inbound.decrypt_rtcp(packet).map_err(|e| SrtpError::Rejected(e.to_string()))?;
        // Authenticated, with the E flag and SRTCP index before the tag.
        let trailer = packet.len() - SRTCP_TAG_LEN - 4;
        let (e_and_index, ssrc) = (be32(packet, trailer), be32(&plain, 4));
        if e_and_index >> 31 == 0 {
            return Err(SrtpError::Rejected("unencrypted SRTCP (E flag clear)".into()));
        }
        replay_check(&mut self.rtcp_windows, ssrc, u64::from(e_and_index & 0x7fff_ffff), 1 << 31)?;
        Ok(plain.to_vec())
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
        assert!(b.unprotect_rtcp(&rtcp).is_err(), "an SRTCP replay is dropped");
        let mut clear = rtcp.clone();
        let flag = clear.len() - SRTCP_TAG_LEN - 4;
        clear[flag] &= 0x7f;
        assert!(b.unprotect_rtcp(&clear).is_err(), "E flag cleared: webrtc-srtp would pass it unauthenticated");
    }

    fn rtp(seq: u16) -> Vec<u8> {
        let mut packet = hex(RTP_PLAIN);
        packet[2..4].copy_from_slice(&seq.to_be_bytes());
        packet
    }

    #[test]
    fn unauthenticated_packets_first_do_not_shut_genuine_ones_out() {
        let (mut a, mut b) = pair(CryptoSuite::AesCm128HmacSha1_80);
        // What baresip sends on its RTCP port before SRTCP starts: a plain 16-byte APP packet, whose
        // "index" read from where the trailer would be is 0x00037261. Then forged packets far ahead.
        assert!(b.unprotect_rtcp(&hex("80cc00037261ed9450494e47504f4e47")).is_err());
        let mut far = a.protect_rtcp(&hex(RTCP_PLAIN)).unwrap();
        let at = far.len() - SRTCP_TAG_LEN - 4;
        far[at..at + 4].copy_from_slice(&0x8000_9000u32.to_be_bytes());
        assert!(b.unprotect_rtcp(&far).is_err(), "its tag no longer matches");
        let mut forged_rtp = a.protect_rtp(&rtp(0x9000)).unwrap();
        forged_rtp[20] ^= 0xff;
        assert!(b.unprotect_rtp(&forged_rtp).is_err());
        // The genuine packets (SRTCP index 1 and on; sequence numbers from 0x1234) all pass.
        let (mut a, _) = pair(CryptoSuite::AesCm128HmacSha1_80);
        for i in 0..5u16 {
            assert!(b.unprotect_rtcp(&a.protect_rtcp(&hex(RTCP_PLAIN)).unwrap()).is_ok(), "SRTCP {i}");
            assert!(b.unprotect_rtp(&a.protect_rtp(&rtp(0x1234 + i)).unwrap()).is_ok(), "RTP {i}");
        }
    }

    #[test]
    fn the_replay_window_takes_reordered_packets_once_and_wraps() {
        let mut w = ReplayWindow::new(65_530, 1 << 16);
        for seq in [65_533, 65_531, 2, 65_535, 0] {
            assert!(w.accept(seq), "{seq}");
        }
        for seq in [65_531, 2, 65_530] {
            assert!(!w.accept(seq), "repeat {seq}");
        }
        assert!(w.accept(65_532), "late but inside the window");
        assert!(w.accept(300), "a jump ahead");
        assert!(!w.accept(65_534), "now older than the window");
        assert!(w.accept(300 - 127) && !w.accept(300 - 128), "the window is 128 deep");
    }
}
