//! SRTP cost per packet (not run in CI): protect + unprotect of a 20 ms PCMU RTP packet
//! (12 + 160 bytes) for both suites, and what that means for calls per core. A call moves 50
//! packets a second each way, so one call costs 50 × (protect + unprotect) per second.
//!
//!   cargo bench --bench media_srtp [-- PACKETS]

use std::time::Instant;

use chartline::media::srtp::SrtpSession;
use chartline::sip::sdes::{CryptoSuite, SrtpKeys};

fn main() {
    let packets: u32 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(200_000);
    for suite in CryptoSuite::ALL {
        let (a, b) = ([0x11u8; 30], [0x22u8; 30]);
        let mut sender = SrtpSession::new(&SrtpKeys { suite, local: a, remote: b }).unwrap();
        let mut receiver = SrtpSession::new(&SrtpKeys { suite, local: b, remote: a }).unwrap();
        let mut packet = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        packet.extend(std::iter::repeat_n(0xd5u8, 160));
        let (mut protect_ns, mut unprotect_ns) = (0u128, 0u128);
        for i in 0..packets {
            packet[2..4].copy_from_slice(&(i as u16).to_be_bytes());
            packet[4..8].copy_from_slice(&(i * 160).to_be_bytes());
            let t = Instant::now();
            let wire = sender.protect_rtp(&packet).unwrap();
            protect_ns += t.elapsed().as_nanos();
            let t = Instant::now();
            let plain = receiver.unprotect_rtp(&wire).unwrap();
            unprotect_ns += t.elapsed().as_nanos();
            assert_eq!(plain.len(), packet.len());
        }
        let (p, u) = (protect_ns as f64 / packets as f64, unprotect_ns as f64 / packets as f64);
        let per_call_per_s = 50.0 * (p + u);
        println!(
            "{}: protect {:.0} ns, unprotect {:.0} ns per packet; {:.2} ms of one core per call-second -> about {:.0} calls per core",
            suite.name(),
            p,
            u,
            per_call_per_s / 1e6,
            1e9 / per_call_per_s
        );
    }
}
