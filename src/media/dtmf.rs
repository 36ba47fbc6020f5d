//! DTMF detection, pure: RFC 4733 telephone-events, in-band tones (Goertzel), and a merger that
//! reports each key press once whichever methods carried it.

use std::time::{Duration, Instant};

pub const DIGITS: &[u8; 16] = b"0123456789*#ABCD";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfMethod {
    Rfc4733,
    SipInfo,
    Inband,
}

/// RFC 4733 event payload (§2.3): event, E bit, volume, duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    pub event: u8,
    pub end: bool,
    pub volume: u8,
    pub duration: u16,
}

impl TelephoneEvent {
    pub fn parse(payload: &[u8]) -> Option<Self> {
        let [event, flags, d0, d1, ..] = *payload else { return None };
        Some(Self { event, end: flags & 0x80 != 0, volume: flags & 0x3f, duration: u16::from_be_bytes([d0, d1]) })
    }

    pub fn digit(&self) -> Option<char> {
        DIGITS.get(self.event as usize).map(|d| *d as char)
    }
}

/// Reports an RFC 4733 event once: at its first packet (so a missing marker bit or lost start
/// packets do not matter); later packets of the same event (same RTP timestamp), including the
/// redundant end packets, are ignored.
#[derive(Debug, Default)]
pub struct Rfc4733Detector {
    current: Option<u32>,
}

impl Rfc4733Detector {
    pub fn push(&mut self, rtp_timestamp: u32, payload: &[u8]) -> Option<char> {
        let event = TelephoneEvent::parse(payload)?;
        if self.current == Some(rtp_timestamp) {
            return None;
        }
        self.current = Some(rtp_timestamp);
        event.digit()
    }
}

/// In-band DTMF on 8 kHz PCM with the Goertzel algorithm over 20 ms (160-sample) frames.
#[derive(Debug, Default)]
pub struct GoertzelDetector {
    candidate: Option<char>,
    frames: u32,
    reported: bool,
    quiet_frames: u32,
}

const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const COLUMNS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYPAD: [[char; 4]; 4] = [['1', '2', '3', 'A'], ['4', '5', '6', 'B'], ['7', '8', '9', 'C'], ['*', '0', '#', 'D']];

fn goertzel_power(samples: &[i16], frequency: f32) -> f32 {
    let coefficient = 2.0 * (2.0 * std::f32::consts::PI * frequency / 8000.0).cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in samples {
        let s0 = x as f32 / 32768.0 + coefficient * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - coefficient * s1 * s2
}

impl GoertzelDetector {
    /// Which key one frame holds, if any: one strong row and one strong column tone that dominate
    /// the others and the frame's energy, with limited twist.
    fn classify(frame: &[i16]) -> Option<char> {
        let energy: f32 = frame.iter().map(|&x| (x as f32 / 32768.0).powi(2)).sum();
        if energy < 1e-3 {
            return None;
        }
        let rows: Vec<f32> = ROWS.iter().map(|f| goertzel_power(frame, *f)).collect();
        let columns: Vec<f32> = COLUMNS.iter().map(|f| goertzel_power(frame, *f)).collect();
        let best = |v: &[f32]| v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, p)| (i, *p)).unwrap();
        let ((r, rp), (c, cp)) = (best(&rows), best(&columns));
        let second = |v: &[f32], i: usize| v.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, p)| *p).fold(0.0, f32::max);
        let twist_ok = rp < cp * 6.3 && cp < rp * 6.3;
        let dominant = rp > 6.0 * second(&rows, r) && cp > 6.0 * second(&columns, c);
        // Power of a pure tone is about (N/2)^2 * A^2 / 4 relative to energy N * A^2 / 2.
        let tonal = (rp + cp) > energy * frame.len() as f32 * 0.25;
        (twist_ok && dominant && tonal).then_some(KEYPAD[r][c])
    }

    /// Feeds one 20 ms frame; returns a digit once, after it has lasted 40 ms.
    pub fn push(&mut self, frame: &[i16]) -> Option<char> {
        match Self::classify(frame) {
            Some(key) if self.candidate == Some(key) => {
                self.frames += 1;
                self.quiet_frames = 0;
            }
            Some(key) => {
                self.candidate = Some(key);
                self.frames = 1;
                self.reported = false;
                self.quiet_frames = 0;
            }
            None => {
                self.quiet_frames += 1;
                if self.quiet_frames >= 2 {
                    self.candidate = None;
                    self.reported = false;
                }
                return None;
            }
        }
        if self.frames >= 2 && !self.reported {
            self.reported = true;
            return self.candidate;
        }
        None
    }
}

/// Reports a key press once even when several methods carry it: the same digit from a different
/// method within `window` of the last report is the same press.
#[derive(Debug)]
pub struct DtmfMerger {
    window: Duration,
    last: Option<(char, DtmfMethod, Instant)>,
}

impl Default for DtmfMerger {
    fn default() -> Self {
        Self { window: Duration::from_millis(250), last: None }
    }
}

impl DtmfMerger {
    pub fn push(&mut self, digit: char, method: DtmfMethod, now: Instant) -> Option<char> {
        if let Some((d, m, at)) = self.last
            && d == digit
            && m != method
            && now.duration_since(at) < self.window
        {
            return None;
        }
        self.last = Some((digit, method, now));
        Some(digit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(digit: u8, end: bool, duration: u16) -> Vec<u8> {
        let mut v = vec![digit, if end { 0x8a } else { 0x0a }];
        v.extend_from_slice(&duration.to_be_bytes());
        v
    }

    #[test]
    fn rfc4733_reports_once_with_redundant_end_packets() {
        let mut d = Rfc4733Detector::default();
        assert_eq!(d.push(1000, &event(5, false, 160)), Some('5'));
        assert_eq!(d.push(1000, &event(5, false, 320)), None);
        for _ in 0..3 {
            assert_eq!(d.push(1000, &event(5, true, 800)), None, "redundant end packets");
        }
        assert_eq!(d.push(2000, &event(5, false, 160)), Some('5'), "a new press of the same key");
        assert_eq!(d.push(3000, &event(11, true, 800)), Some('#'), "start lost, end seen");
        assert_eq!(d.push(4000, &event(99, false, 160)), None, "not a DTMF event");
        assert_eq!(d.push(5000, &[1, 2]), None, "short payload");
    }

    fn tone(key: char, ms: usize, amplitude: f32, noise: f32) -> Vec<i16> {
        let (r, c) = (0..4).flat_map(|r| (0..4).map(move |c| (r, c))).find(|(r, c)| KEYPAD[*r][*c] == key).unwrap();
        let mut seed = 12345u32;
        (0..ms * 8)
            .map(|n| {
                seed = seed.wrapping_mul(1103515245).wrapping_add(12345);
                let noise_sample = ((seed >> 16) as f32 / 32768.0 - 1.0) * noise;
                let t = n as f32 / 8000.0;
                let s = amplitude * ((2.0 * std::f32::consts::PI * ROWS[r] * t).sin() + (2.0 * std::f32::consts::PI * COLUMNS[c] * t).sin()) + noise_sample;
                (s * 32767.0).clamp(-32768.0, 32767.0) as i16
            })
            .collect()
    }

    fn detect(samples: &[i16]) -> Vec<char> {
        let mut d = GoertzelDetector::default();
        samples.chunks(160).filter_map(|f| d.push(f)).collect()
    }

    #[test]
    fn inband_every_key_once() {
        for key in "0123456789*#ABCD".chars() {
            let mut samples = tone(key, 100, 0.25, 0.0);
            samples.extend(vec![0; 800]);
            samples.extend(tone(key, 100, 0.25, 0.0));
            assert_eq!(detect(&samples), vec![key, key], "key {key}");
        }
    }

    #[test]
    fn inband_with_noise_and_no_false_positive_on_speechlike_input() {
        assert_eq!(detect(&tone('7', 120, 0.2, 0.02)), vec!['7']);
        let chirp: Vec<i16> = (0..8000).map(|n| ((n as f32 * n as f32 / 8.0e5).sin() * 8000.0) as i16).collect();
        assert!(detect(&chirp).is_empty(), "a frequency sweep is not a key");
        assert!(detect(&tone('1', 20, 0.25, 0.0)).is_empty(), "too short");
    }

    #[test]
    fn merger_dedupes_across_methods() {
        let t = Instant::now();
        let mut m = DtmfMerger::default();
        assert_eq!(m.push('5', DtmfMethod::Rfc4733, t), Some('5'));
        assert_eq!(m.push('5', DtmfMethod::SipInfo, t + Duration::from_millis(30)), None);
        assert_eq!(m.push('5', DtmfMethod::Rfc4733, t + Duration::from_millis(200)), Some('5'), "same method = new press");
        assert_eq!(m.push('5', DtmfMethod::Inband, t + Duration::from_millis(900)), Some('5'));
    }
}
