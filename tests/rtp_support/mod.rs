//! The caller's media as the test's own RTP peer, for SIPp scenarios that do only the signalling
//! (their SDP names this peer's port): it speaks a WAV as PCMU at a given moment and keeps every
//! packet Chartline sends, decoded, with its arrival time, so a test can tell what the caller heard
//! and when.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chartline::media::g711::{linear_to_ulaw, ulaw_to_linear};

/// One packet the caller received: wall-clock arrival (ms since the epoch) and its 160 samples.
pub struct Received {
    pub at_ms: i64,
    pub samples: Vec<i16>,
}

/// An RTP peer on its own even port: silent until Chartline's first packet tells it where to send,
/// then 20 ms PCMU packets: silence, the speech `lead` after that first packet, silence again.
pub struct RtpPeer {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RtpPeer {
    pub fn start(speech_wav: &Path, lead: Duration) -> RtpPeer {
        let (port, _) = crate::common::free_rtp_range(2);
        let socket = UdpSocket::bind(("127.0.0.1", port)).unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
        let speech: Vec<i16> = hound::WavReader::open(speech_wav).unwrap().into_samples::<i16>().map(Result::unwrap).collect();
        let (received, stop) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
        let thread = {
            let (received, stop) = (received.clone(), stop.clone());
            std::thread::spawn(move || run(socket, speech, lead, received, stop))
        };
        RtpPeer { port, received, stop, thread: Some(thread) }
    }

    /// The packets received so far whose arrival is at or after `from_ms`.
    pub fn received_since(&self, from_ms: i64) -> Vec<(i64, Vec<i16>)> {
        self.received.lock().unwrap().iter().filter(|r| r.at_ms >= from_ms).map(|r| (r.at_ms, r.samples.clone())).collect()
    }
}

impl Drop for RtpPeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn run(socket: UdpSocket, speech: Vec<i16>, lead: Duration, received: Arc<Mutex<Vec<Received>>>, stop: Arc<AtomicBool>) {
    let mut buf = [0u8; 2048];
    let mut remote: Option<(SocketAddr, Instant)> = None;
    let (mut next_send, mut sent, mut seq, ssrc) = (Instant::now(), 0u32, 0u16, 0x5eed_u32);
    while !stop.load(Ordering::Relaxed) {
        if let Ok((len, source)) = socket.recv_from(&mut buf) {
            if len > 12 && buf[1] & 0x7f == 0 {
                let samples = buf[12..len].iter().map(|&b| ulaw_to_linear(b)).collect();
                received.lock().unwrap().push(Received { at_ms: now_ms(), samples });
            }
            if remote.is_none() {
                remote = Some((source, Instant::now()));
                next_send = Instant::now();
            }
        }
        let Some((to, first)) = remote else { continue };
        while Instant::now() >= next_send {
            // Sample index into the speech of this packet, once the lead has passed.
            let elapsed = (sent as u64) * 20;
            let offset = elapsed.checked_sub(lead.as_millis() as u64).map(|ms| (ms * 8) as usize);
            let payload: Vec<u8> = (0..160).map(|i| offset.and_then(|o| speech.get(o + i)).copied().unwrap_or(0)).map(linear_to_ulaw).collect();
            let mut packet = vec![0x80, 0, (seq >> 8) as u8, seq as u8];
            packet.extend_from_slice(&(sent * 160).to_be_bytes());
            packet.extend_from_slice(&ssrc.to_be_bytes());
            packet.extend_from_slice(&payload);
            let _ = socket.send_to(&packet, to);
            sent += 1;
            seq = seq.wrapping_add(1);
            next_send = first + Duration::from_millis(sent as u64 * 20);
        }
    }
}

/// RMS of each 20 ms frame, as a fraction of full scale.
pub fn frame_rms(samples: &[i16]) -> Vec<f64> {
    samples.chunks(160).map(|c| (c.iter().map(|&s| (s as f64 / 32768.0).powi(2)).sum::<f64>() / c.len() as f64).sqrt()).collect()
}

/// A WAV's samples (8 kHz mono 16-bit, as the prompts are).
pub fn wav_samples(path: &Path) -> Vec<i16> {
    hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).into_samples::<i16>().map(Result::unwrap).collect()
}

/// The best Pearson correlation of `template`'s frame envelope with `heard`'s over start offsets
/// of up to `max_lag` frames, and that offset: near 1 when `heard` carries the template's audio.
pub fn envelope_match(heard: &[f64], template: &[f64], max_lag: usize) -> (f64, usize) {
    let corr = |a: &[f64], b: &[f64]| {
        let n = a.len() as f64;
        let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
        let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let (va, vb) = (a.iter().map(|x| (x - ma).powi(2)).sum::<f64>(), b.iter().map(|y| (y - mb).powi(2)).sum::<f64>());
        if va == 0.0 || vb == 0.0 { 0.0 } else { cov / (va * vb).sqrt() }
    };
    (0..=max_lag)
        .filter(|lag| lag + template.len() <= heard.len())
        .map(|lag| (corr(&heard[lag..lag + template.len()], template), lag))
        .fold((f64::MIN, 0), |best, c| if c.0 > best.0 { c } else { best })
}
