//! A pure jitter buffer for one RTP stream: reorders by sequence number (with 16-bit wrap), drops
//! late and duplicate packets, resets on an SSRC change, and releases packets once `depth` packets
//! are waiting or the oldest has waited `depth` packet times.
//!
//! A sender that restarts its sequence numbers without changing the SSRC (a PBX switching media
//! sources, a phone resuming after hold) is followed as RFC 3550 appendix A.1 does: a packet far
//! outside the expected window is held on probation, and when the next one continues it, the
//! buffer resynchronises on the new sequence instead of dropping the rest of the call as late.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    pub received: u64,
    pub lost: u64,
    pub late: u64,
    pub duplicate: u64,
    pub ssrc_changes: u64,
    /// Sequence restarts followed (same SSRC).
    pub resyncs: u64,
    /// Packets refused because [`MAX_WAITING`] were already waiting (a burst or a flood).
    pub overflow: u64,
}

/// Farther back than this is not reordering but a restart (RFC 3550 A.1 `MAX_MISORDER`).
const MAX_MISORDER: u64 = 100;
/// Farther ahead than this is not loss but a restart (RFC 3550 A.1 `MAX_DROPOUT`).
const MAX_DROPOUT: u64 = 3000;

/// Most packets held at once, whatever the depth: the buffer's memory stays bounded
/// (about 1.3 s of 20 ms packets) however fast and far ahead a sender floods.
pub const MAX_WAITING: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub seq: u16,
    pub timestamp: u32,
    pub payload_type: u8,
    pub marker: bool,
    pub payload: Vec<u8>,
}

#[derive(Debug)]
pub struct JitterBuffer {
    depth: usize,
    packet_time: Duration,
    ssrc: Option<u32>,
    /// Extended (32-bit, unwrapped) sequence numbers.
    waiting: BTreeMap<u64, (Instant, Packet)>,
    /// Extended sequence number of the next packet to release.
    next: Option<u64>,
    highest: Option<u64>,
    /// The 16-bit sequence number that would confirm a restart (the one after a stray packet).
    probation: Option<u16>,
    pub stats: JitterStats,
}

impl JitterBuffer {
    /// `depth_ms` of buffering for packets of `packet_ms` each.
    pub fn new(depth_ms: u32, packet_ms: u32) -> Self {
        let packet_ms = packet_ms.max(10);
        Self {
            depth: (depth_ms / packet_ms).max(1) as usize,
            packet_time: Duration::from_millis(packet_ms as u64),
            ssrc: None,
            waiting: BTreeMap::new(),
            next: None,
            highest: None,
            probation: None,
            stats: JitterStats::default(),
        }
    }

    /// Unwraps a 16-bit sequence number relative to the highest one seen.
    fn extend(&self, seq: u16) -> u64 {
        let Some(highest) = self.highest else { return (1 << 16) + seq as u64 };
        let cycle = highest & !0xffff;
        let candidates = [cycle.wrapping_sub(1 << 16) + seq as u64, cycle + seq as u64, cycle + (1 << 16) + seq as u64];
        *candidates.iter().min_by_key(|c| c.abs_diff(highest)).unwrap()
    }

    pub fn push(&mut self, ssrc: u32, packet: Packet, now: Instant) {
        if self.ssrc != Some(ssrc) {
            if self.ssrc.is_some() {
                self.stats.ssrc_changes += 1;
            }
            self.ssrc = Some(ssrc);
            self.restart();
        }
        let mut ext = self.extend(packet.seq);
        let far_back = self.next.is_some_and(|next| ext + MAX_MISORDER < next);
        let far_ahead = self.highest.is_some_and(|highest| ext > highest + MAX_DROPOUT);
        if far_back || far_ahead {
            if self.probation != Some(packet.seq) {
                self.probation = Some(packet.seq.wrapping_add(1));
                self.stats.late += 1;
                return;
            }
            self.stats.resyncs += 1;
            self.restart();
            ext = self.extend(packet.seq);
        }
        self.probation = None;
        if self.next.is_some_and(|next| ext < next) {
            self.stats.late += 1;
            return;
        }
        if self.waiting.contains_key(&ext) {
            self.stats.duplicate += 1;
            return;
        }
        if self.waiting.len() >= MAX_WAITING.max(self.depth) {
            self.stats.overflow += 1;
            return;
        }
        self.stats.received += 1;
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        self.next.get_or_insert(ext);
        self.waiting.insert(ext, (now, packet));
    }

    fn restart(&mut self) {
        self.waiting.clear();
        self.next = None;
        self.highest = None;
        self.probation = None;
    }

    /// The next packet to play, if one is due: in order, skipping gaps (counted as lost) once the
    /// buffer is full or the oldest packet has waited long enough.
    pub fn pop(&mut self, now: Instant) -> Option<Packet> {
        let (&first, (arrived, _)) = self.waiting.iter().next()?;
        let next = self.next.unwrap_or(first);
        let due = first == next || self.waiting.len() >= self.depth || now.duration_since(*arrived) >= self.packet_time * self.depth as u32;
        if !due {
            return None;
        }
        if first > next {
            self.stats.lost += first - next;
        }
        let (_, packet) = self.waiting.remove(&first)?;
        self.next = Some(first + 1);
        Some(packet)
    }

    /// Packets waiting to be played.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Earliest time a waiting packet becomes due regardless of gaps.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.waiting.values().next().map(|(arrived, _)| *arrived + self.packet_time * self.depth as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(seq: u16) -> Packet {
        Packet { seq, timestamp: seq as u32 * 160, payload_type: 0, marker: false, payload: vec![seq as u8] }
    }

    fn drain(jb: &mut JitterBuffer, now: Instant) -> Vec<u16> {
        std::iter::from_fn(|| jb.pop(now)).map(|p| p.seq).collect()
    }

    #[test]
    fn reorders_within_depth() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(60, 20);
        jb.push(1, packet(10), t);
        assert_eq!(drain(&mut jb, t), vec![10]);
        jb.push(1, packet(12), t);
        assert_eq!(drain(&mut jb, t), Vec::<u16>::new(), "waits for 11");
        jb.push(1, packet(11), t);
        assert_eq!(drain(&mut jb, t), vec![11, 12]);
        assert_eq!(jb.stats.lost, 0);
    }

    #[test]
    fn gap_is_skipped_after_waiting_and_counted_lost() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(60, 20);
        jb.push(1, packet(1), t);
        drain(&mut jb, t);
        jb.push(1, packet(3), t);
        assert!(jb.pop(t + Duration::from_millis(20)).is_none());
        assert_eq!(jb.pop(t + Duration::from_millis(60)).map(|p| p.seq), Some(3));
        assert_eq!(jb.stats.lost, 1);
        jb.push(1, packet(2), t);
        assert_eq!(jb.stats.late, 1, "2 arrived after 3 was played");
    }

    #[test]
    fn sequence_wrap() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(60, 20);
        for seq in [65534u16, 65535, 1, 0, 2] {
            jb.push(1, packet(seq), t);
        }
        assert_eq!(drain(&mut jb, t), vec![65534, 65535, 0, 1, 2]);
        assert_eq!((jb.stats.lost, jb.stats.late), (0, 0));
    }

    #[test]
    fn duplicates_and_ssrc_change() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(60, 20);
        jb.push(1, packet(5), t);
        jb.push(1, packet(5), t);
        assert_eq!(jb.stats.duplicate, 1);
        drain(&mut jb, t);
        jb.push(2, packet(900), t);
        assert_eq!(drain(&mut jb, t), vec![900], "new source starts fresh");
        assert_eq!(jb.stats.ssrc_changes, 1);
    }

    #[test]
    fn a_sequence_restart_is_followed_after_one_packet() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(60, 20);
        for seq in 20_000..20_010 {
            jb.push(1, packet(seq), t);
        }
        assert_eq!(drain(&mut jb, t).len(), 10);
        // The same source starts again from a lower number: not 20 000 late packets.
        for seq in 5_000..5_010 {
            jb.push(1, packet(seq), t);
        }
        assert_eq!(drain(&mut jb, t), (5_001..5_010).collect::<Vec<_>>(), "the first packet is the probation");
        assert_eq!((jb.stats.resyncs, jb.stats.late), (1, 1));
        // ... and forward by more than a dropout is a restart too, not 30 000 lost packets.
        for seq in 40_000..40_005 {
            jb.push(1, packet(seq), t);
        }
        assert_eq!(drain(&mut jb, t), (40_001..40_005).collect::<Vec<_>>());
        assert_eq!((jb.stats.resyncs, jb.stats.lost), (2, 0));
    }

    #[test]
    fn one_stray_old_packet_does_not_restart() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(60, 20);
        for seq in 1000..1005 {
            jb.push(1, packet(seq), t);
        }
        drain(&mut jb, t);
        jb.push(1, packet(10), t);
        jb.push(1, packet(1005), t);
        assert_eq!(drain(&mut jb, t), vec![1005]);
        assert_eq!((jb.stats.resyncs, jb.stats.late), (0, 1));
    }

    #[test]
    fn a_flood_of_future_packets_is_bounded() {
        let t = Instant::now();
        let mut jb = JitterBuffer::new(60, 20);
        jb.push(1, packet(0), t);
        drain(&mut jb, t);
        // Packets far ahead of a gap that never fills, all within one tick: nothing is due
        // by count alone before the cap, and the cap holds.
        for seq in 2..3_000u16 {
            jb.push(1, packet(seq), t);
        }
        assert_eq!(jb.waiting(), MAX_WAITING);
        assert_eq!(jb.stats.overflow, 3_000 - 2 - MAX_WAITING as u64);
        // Farther ahead, the sender counts as restarted (RFC 3550): still bounded.
        for seq in 20_000..30_000u16 {
            jb.push(1, packet(seq), t);
        }
        assert_eq!(jb.waiting(), MAX_WAITING);
        assert_eq!(drain(&mut jb, t).len(), MAX_WAITING, "what was kept still plays");
    }
}
