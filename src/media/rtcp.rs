//! Minimal RTCP (RFC 3550 §6.4): the sender report we send every few seconds.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds between 1900 (NTP epoch) and 1970.
const NTP_OFFSET: u64 = 2_208_988_800;

/// A sender report (no report blocks) with our packet and octet counts.
pub fn sender_report(ssrc: u32, rtp_timestamp: u32, packets: u32, octets: u32) -> Vec<u8> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = (now.as_secs() + NTP_OFFSET) as u32;
    let fraction = ((now.subsec_nanos() as u64) << 32) / 1_000_000_000;
    let mut out = Vec::with_capacity(28);
    out.extend_from_slice(&[0x80, 200, 0, 6]); // V=2, RC=0, PT=SR, length = 6 words after the first
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(&seconds.to_be_bytes());
    out.extend_from_slice(&(fraction as u32).to_be_bytes());
    out.extend_from_slice(&rtp_timestamp.to_be_bytes());
    out.extend_from_slice(&packets.to_be_bytes());
    out.extend_from_slice(&octets.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn sender_report_layout() {
        let sr = super::sender_report(0x01020304, 160, 50, 8000);
        assert_eq!(sr.len(), 28);
        assert_eq!(&sr[..8], &[0x80, 200, 0, 6, 1, 2, 3, 4]);
        assert_eq!(u32::from_be_bytes(sr[20..24].try_into().unwrap()), 50);
        assert_eq!(u32::from_be_bytes(sr[24..28].try_into().unwrap()), 8000);
    }
}
