//! The media path of a call: `g711` codecs, `jitter` buffer, `dtmf` detection, `resample`,
//! `prompts` (audio catalogue and read-back), `recorder`, `rtcp` reports, `srtp` (RFC 3711
//! protection when SDES keys were negotiated), and `session`, the tokio task that runs one call's RTP.
//!
//! Its layer, and what it may import: docs/architecture.md.

pub mod dtmf;
pub mod g711;
pub mod jitter;
pub mod preroll;
pub mod prompts;
pub mod recorder;
pub mod resample;
pub mod rtcp;
pub mod session;
pub mod srtp;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use parking_lot::Mutex;
use serde::Deserialize;

pub use prompts::{Clip, PromptItem, PromptLibrary};
pub use session::{MediaEvent, MediaHandle, MediaParams, MediaSession, MediaStats};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// RTP uses even ports in this range, RTCP the odd port above each.
    pub rtp_port_min: u16,
    pub rtp_port_max: u16,
    pub jitter_ms: u32,
    /// Hang up when no RTP arrives for this long (0 disables).
    pub inactivity_timeout_s: u64,
    pub rtcp_interval_s: u64,
    /// SRTP (SDES): "optional" (when the PBX offers it), "required" or "off".
    pub srtp: crate::sip::sdes::SrtpPolicy,
    /// A recording starts with the caller's speech of up to this long before it (said over the
    /// "leave your message after the tone" prompt), so early first words are not clipped.
    pub record_preroll_ms: u32,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self { rtp_port_min: 20000, rtp_port_max: 30000, jitter_ms: 60, inactivity_timeout_s: 30, rtcp_interval_s: 5, srtp: Default::default(), record_preroll_ms: 3000 }
    }
}

impl MediaConfig {
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.rtp_port_min < 1024 || self.rtp_port_max <= self.rtp_port_min {
            return Err(("rtp_port_max".into(), format!("must be above rtp_port_min ({}), and rtp_port_min at least 1024", self.rtp_port_min)));
        }
        if self.jitter_ms > 1000 {
            return Err(("jitter_ms".into(), "must be at most 1000".into()));
        }
        if self.record_preroll_ms > 10_000 {
            return Err(("record_preroll_ms".into(), "must be at most 10000".into()));
        }
        Ok(())
    }
}

/// The big-endian 32-bit word at `at` (RTCP and SRTCP fields); the caller checks the length.
pub(crate) fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().expect("four bytes"))
}

/// Process-wide RTP counters, exported on /metrics.
#[derive(Debug, Default)]
pub struct MediaCounters {
    pub packets_in: AtomicU64,
    pub packets_out: AtomicU64,
    pub packets_lost: AtomicU64,
    pub packets_late: AtomicU64,
}

/// Even RTP ports of the configured range, handed out round-robin and returned on drop.
#[derive(Debug, Clone)]
pub struct PortPool {
    inner: Arc<Mutex<PoolState>>,
}

#[derive(Debug)]
struct PoolState {
    min: u16,
    max: u16,
    next: u16,
    in_use: BTreeSet<u16>,
}

impl PortPool {
    pub fn new(min: u16, max: u16) -> Self {
        let min = min + min % 2;
        Self { inner: Arc::new(Mutex::new(PoolState { min, max, next: min, in_use: BTreeSet::new() })) }
    }

    pub fn capacity(&self) -> usize {
        let s = self.inner.lock();
        ((s.max.saturating_sub(s.min)) / 2) as usize
    }

    pub fn lease(&self) -> Option<PortLease> {
        let mut s = self.inner.lock();
        let count = (s.max.saturating_sub(s.min) / 2).max(1);
        for _ in 0..count {
            let port = s.next;
            s.next = if port + 2 >= s.max { s.min } else { port + 2 };
            if s.in_use.insert(port) {
                return Some(PortLease { port, pool: self.inner.clone() });
            }
        }
        None
    }
}

/// A leased port pair; released when dropped.
#[derive(Debug)]
pub struct PortLease {
    port: u16,
    pool: Arc<Mutex<PoolState>>,
}

impl PortLease {
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        self.pool.lock().in_use.remove(&self.port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_hands_out_even_ports_and_reuses_released_ones() {
        let pool = PortPool::new(20001, 20008);
        let a = pool.lease().unwrap();
        let b = pool.lease().unwrap();
        let c = pool.lease().unwrap();
        assert_eq!((a.port(), b.port(), c.port()), (20002, 20004, 20006));
        assert!(pool.lease().is_none(), "range exhausted");
        drop(b);
        assert_eq!(pool.lease().unwrap().port(), 20004);
    }
}
