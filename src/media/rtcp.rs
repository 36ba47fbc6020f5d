//! RTCP (RFC 3550 §6): the compound report we send every few seconds (a sender report that
//! carries a reception report block about the caller's stream, then SDES with our CNAME), the
//! compound packets we receive (validated as in RFC 3550 A.2), the receive-side statistics of the
//! caller's stream (sequence, loss and interarrival jitter as in A.1, A.3 and A.8) and what the far
//! end reports about ours (loss, jitter and, from LSR/DLSR, the round-trip time). Pure: the media
//! task passes the times in.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::be32;

/// Seconds between 1900 (NTP epoch) and 1970.
const NTP_OFFSET: u64 = 2_208_988_800;

const SR: u8 = 200;
const RR: u8 = 201;
const SDES: u8 = 202;
const BYE: u8 = 203;

/// A 64-bit NTP timestamp (32.32 fixed point, seconds since 1900) for a wall-clock time.
pub fn ntp_time(at: SystemTime) -> u64 {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    ((since.as_secs() + NTP_OFFSET) << 32) | ((u64::from(since.subsec_nanos()) << 32) / 1_000_000_000)
}

/// The middle 32 bits of an NTP timestamp (units of 1/65536 s), as LSR and RTT use them.
pub fn ntp_middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block is about.
    pub ssrc: u32,
    /// Lost since the previous report, as a fraction of 256.
    pub fraction_lost: u8,
    /// Lost since the start (24-bit signed: duplicates can make it negative).
    pub cumulative_lost: i32,
    /// Cycles in the high 16 bits, highest sequence number received in the low 16.
    pub highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last sender report received from `ssrc`, 0 = none.
    pub last_sr: u32,
    /// Delay since that sender report, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

/// One packet of a received compound RTCP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    SenderReport {
        ssrc: u32,
        ntp: u64,
        rtp_timestamp: u32,
        packets: u32,
        octets: u32,
        reports: Vec<ReportBlock>,
    },
    ReceiverReport {
        ssrc: u32,
        reports: Vec<ReportBlock>,
    },
    Bye {
        ssrcs: Vec<u32>,
    },
    /// SDES, APP, feedback and anything newer: valid, not read.
    Other {
        packet_type: u8,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtcpError {
    #[error("shorter than an RTCP header")]
    TooShort,
    #[error("RTCP version {0}, not 2")]
    Version(u8),
    #[error("a compound packet must start with SR or RR, not {0}")]
    FirstNotReport(u8),
    #[error("padding before the last packet of a compound packet")]
    Padding,
    #[error("a length field disagrees with the datagram")]
    Length,
    #[error("more report blocks than the packet holds")]
    ReportCount,
}

/// Parses and validates one compound RTCP packet (RFC 3550 A.2): version 2 throughout, SR or RR
/// first, padding only in the last packet, and lengths that add up to the datagram exactly.
pub fn parse_compound(bytes: &[u8]) -> Result<Vec<Packet>, RtcpError> {
    let mut packets = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let header = rest.get(..4).ok_or(RtcpError::TooShort)?;
        let version = header[0] >> 6;
        if version != 2 {
            return Err(RtcpError::Version(version));
        }
        let (padded, count, packet_type) = (header[0] & 0x20 != 0, usize::from(header[0] & 0x1f), header[1]);
        if packets.is_empty() && packet_type != SR && packet_type != RR {
            return Err(RtcpError::FirstNotReport(packet_type));
        }
        let len = 4 * (usize::from(u16::from_be_bytes([header[2], header[3]])) + 1);
        let packet = rest.get(..len).ok_or(RtcpError::Length)?;
        rest = &rest[len..];
        let body = match padded {
            true if !rest.is_empty() => return Err(RtcpError::Padding),
            true => {
                let pad = usize::from(*packet.last().expect("len >= 4"));
                if pad == 0 || pad > len - 4 {
                    return Err(RtcpError::Length);
                }
                &packet[4..len - pad]
            }
            false => &packet[4..],
        };
        packets.push(parse_one(packet_type, count, body)?);
    }
    if packets.is_empty() {
        return Err(RtcpError::TooShort);
    }
    Ok(packets)
}

fn parse_one(packet_type: u8, count: usize, body: &[u8]) -> Result<Packet, RtcpError> {
    let blocks = |from: usize| -> Result<Vec<ReportBlock>, RtcpError> {
        let area = body.get(from..from + 24 * count).ok_or(RtcpError::ReportCount)?;
        Ok(area.chunks_exact(24).map(parse_block).collect())
    };
    match packet_type {
        SR => {
            if body.len() < 24 {
                return Err(RtcpError::Length);
            }
            let ntp = (u64::from(be32(body, 4)) << 32) | u64::from(be32(body, 8));
            Ok(Packet::SenderReport { ssrc: be32(body, 0), ntp, rtp_timestamp: be32(body, 12), packets: be32(body, 16), octets: be32(body, 20), reports: blocks(24)? })
        }
        RR => {
            if body.len() < 4 {
                return Err(RtcpError::Length);
            }
            Ok(Packet::ReceiverReport { ssrc: be32(body, 0), reports: blocks(4)? })
        }
        BYE => {
            let area = body.get(..4 * count).ok_or(RtcpError::ReportCount)?;
            Ok(Packet::Bye { ssrcs: area.chunks_exact(4).map(|c| be32(c, 0)).collect() })
        }
        other => Ok(Packet::Other { packet_type: other }),
    }
}

fn parse_block(b: &[u8]) -> ReportBlock {
    let lost = be32(b, 4);
    // 24-bit two's complement, sign-extended.
    let cumulative_lost = ((lost << 8) as i32) >> 8;
    ReportBlock { ssrc: be32(b, 0), fraction_lost: (lost >> 24) as u8, cumulative_lost, highest_seq: be32(b, 8), jitter: be32(b, 12), last_sr: be32(b, 16), delay_since_last_sr: be32(b, 20) }
}

/// Our compound report: SR (with `block` about the caller's stream, if we have heard it), then
/// SDES with `cname` (required in every compound packet, RFC 3550 §6.1).
pub fn sender_report(ssrc: u32, ntp: u64, rtp_timestamp: u32, packets: u32, octets: u32, block: Option<ReportBlock>, cname: &str) -> Vec<u8> {
    let count = u8::from(block.is_some());
    let mut out = Vec::with_capacity(80);
    out.extend_from_slice(&[0x80 | count, SR, 0, 6 + 6 * count]);
    for value in [ssrc, (ntp >> 32) as u32, ntp as u32, rtp_timestamp, packets, octets] {
        out.extend_from_slice(&value.to_be_bytes());
    }
    if let Some(b) = block {
        let lost = (u32::from(b.fraction_lost) << 24) | (b.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32 & 0x00ff_ffff);
        for value in [b.ssrc, lost, b.highest_seq, b.jitter, b.last_sr, b.delay_since_last_sr] {
            out.extend_from_slice(&value.to_be_bytes());
        }
    }
    // SDES: one chunk (our SSRC, CNAME item, end of list), padded to a word.
    let cname = &cname.as_bytes()[..cname.len().min(255)];
    let mut chunk = ssrc.to_be_bytes().to_vec();
    chunk.extend_from_slice(&[1, cname.len() as u8]);
    chunk.extend_from_slice(cname);
    chunk.push(0);
    while !chunk.len().is_multiple_of(4) {
        chunk.push(0);
    }
    let words = (chunk.len() / 4) as u16;
    out.extend_from_slice(&[0x81, SDES]);
    out.extend_from_slice(&words.to_be_bytes());
    out.extend_from_slice(&chunk);
    out
}

const MAX_DROPOUT: u16 = 3000;
const MAX_MISORDER: u16 = 100;

/// What we know of the caller's stream (RFC 3550 A.1, A.3, A.8): one source at a time; a new
/// SSRC, or a jump confirmed by the next packet, starts the counts again.
#[derive(Debug, Default)]
pub struct Reception {
    ssrc: Option<u32>,
    base_seq: u32,
    max_seq: u16,
    cycles: u32,
    /// The packet after a big jump that would confirm a restart.
    bad_seq: Option<u32>,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    /// Previous relative transit time, in timestamp units.
    transit: Option<i64>,
    /// Interarrival jitter, in timestamp units ×16 (A.8's integer form).
    jitter_q4: u64,
    /// The caller's last sender report: middle NTP bits and when it came.
    last_sr: Option<(u32, Instant)>,
    /// Packets lost by the streams before the last restart.
    lost_earlier: u64,
}

impl Reception {
    /// A packet of the caller's stream. `timing` (its RTP timestamp and our arrival time in the
    /// same units) feeds the jitter; telephone-event packets, whose timestamp is the event's
    /// start, pass `None`.
    pub fn on_packet(&mut self, ssrc: u32, seq: u16, timing: Option<(u32, u32)>) {
        if self.ssrc != Some(ssrc) {
            self.restart(seq);
            self.ssrc = Some(ssrc);
            self.last_sr = None;
        } else if !self.update_seq(seq) {
            return;
        }
        self.received += 1;
        if let Some((timestamp, arrival)) = timing {
            let transit = i64::from(arrival.wrapping_sub(timestamp) as i32);
            if let Some(previous) = self.transit.replace(transit) {
                let d = (transit - previous).unsigned_abs();
                // J += (|D| - J) / 16, kept ×16.
                self.jitter_q4 = (self.jitter_q4 + d).saturating_sub((self.jitter_q4 + 8) >> 4);
            }
        }
    }

    fn restart(&mut self, seq: u16) {
        self.lost_earlier += self.lost().max(0) as u64;
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.cycles = 0;
        self.bad_seq = None;
        self.received = 0;
        self.expected_prior = 0;
        self.received_prior = 0;
        self.transit = None;
    }

    /// A.1 without probation: whether the packet counts.
    fn update_seq(&mut self, seq: u16) -> bool {
        let delta = seq.wrapping_sub(self.max_seq);
        if delta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles += 1 << 16;
            }
            self.max_seq = seq;
        } else if u32::from(delta) <= (1 << 16) - u32::from(MAX_MISORDER) {
            // A big jump: a restart if the next packet follows it, else a stray packet.
            if self.bad_seq == Some(u32::from(seq)) {
                self.restart(seq);
            } else {
                self.bad_seq = Some(u32::from(seq.wrapping_add(1)));
                return false;
            }
        }
        // Otherwise a duplicate or a reordered packet: counted.
        true
    }

    pub fn on_sender_report(&mut self, ssrc: u32, ntp: u64, at: Instant) {
        if self.ssrc == Some(ssrc) {
            self.last_sr = Some((ntp_middle(ntp), at));
        }
    }

    fn expected(&self) -> u32 {
        (self.cycles + u32::from(self.max_seq)).wrapping_sub(self.base_seq).wrapping_add(1)
    }

    /// Packets lost since the start (expected minus received; negative with duplicates).
    pub fn lost(&self) -> i64 {
        if self.ssrc.is_none() {
            return 0;
        }
        i64::from(self.expected()) - i64::from(self.received)
    }

    /// Packets lost over the whole call, across SSRC changes and sequence restarts.
    pub fn total_lost(&self) -> u64 {
        self.lost_earlier + self.lost().max(0) as u64
    }

    /// Interarrival jitter in timestamp units.
    pub fn jitter(&self) -> u32 {
        (self.jitter_q4 >> 4).min(u64::from(u32::MAX)) as u32
    }

    /// The block for our next report (and the start of the next interval), or `None` before
    /// the first packet.
    pub fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        let ssrc = self.ssrc?;
        let expected = self.expected();
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 { 0 } else { ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8 };
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((middle, at)) => (middle, (now.saturating_duration_since(at).as_secs_f64() * 65536.0).min(f64::from(u32::MAX)) as u32),
            None => (0, 0),
        };
        Some(ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost: self.lost().clamp(-0x80_0000, 0x7f_ffff) as i32,
            highest_seq: self.cycles + u32::from(self.max_seq),
            jitter: self.jitter(),
            last_sr,
            delay_since_last_sr,
        })
    }
}

/// What the caller's side reports about our stream.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FarEnd {
    /// Report blocks about our SSRC received.
    pub reports: u32,
    pub fraction_lost: u8,
    pub cumulative_lost: i32,
    /// In timestamp units.
    pub jitter: u32,
    pub rtt: Option<Duration>,
    pub rtt_max: Option<Duration>,
}

impl FarEnd {
    /// A report block; those about another source are ignored. `ntp_now` is when it arrived.
    pub fn on_block(&mut self, block: &ReportBlock, our_ssrc: u32, ntp_now: u64) {
        if block.ssrc != our_ssrc {
            return;
        }
        self.reports += 1;
        self.fraction_lost = block.fraction_lost;
        self.cumulative_lost = block.cumulative_lost;
        self.jitter = block.jitter;
        if block.last_sr != 0 {
            // RTT = A - LSR - DLSR (RFC 3550 §6.4.1), in 1/65536 s. On a short path the far end's
            // rounding of DLSR can make it a little negative: up to 10 ms below zero counts as 0,
            // anything further is a bogus report.
            let rtt = ntp_middle(ntp_now).wrapping_sub(block.last_sr).wrapping_sub(block.delay_since_last_sr) as i32;
            if rtt > -655 {
                let rtt = Duration::from_secs_f64(f64::from(rtt.max(0)) / 65536.0);
                self.rtt = Some(rtt);
                self.rtt_max = self.rtt_max.max(Some(rtt));
            }
        }
    }
}

#[cfg(test)]
#[path = "rtcp_tests.rs"]
mod tests;
