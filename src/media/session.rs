//! One call's RTP, as a tokio task: symmetric RTP, jitter buffer, G.711, DTMF, prompt playback paced
//! from a monotonic clock, recording, RTCP (our reports, and the far end's read for loss, jitter
//! and round-trip time) and the inactivity timeout.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::time::MissedTickBehavior;
use webrtc_util::marshal::{Marshal, Unmarshal};

use super::dtmf::{DtmfMerger, DtmfMethod, GoertzelDetector, Rfc4733Detector};
use super::jitter::{JitterBuffer, Packet};
use super::preroll::PreRoll;
use super::prompts::Clip;
use super::recorder::{Recorder, RecordingInfo};
use super::srtp::SrtpSession;
use super::{MediaConfig, MediaCounters, PortLease, PortPool, g711, rtcp};
use crate::sip::sdes::SrtpKeys;
use crate::sip::sdp::Codec;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaParams {
    pub remote: SocketAddr,
    pub codec: Codec,
    pub dtmf_pt: Option<u8>,
    pub ptime_ms: u32,
}

#[derive(Debug)]
pub enum MediaEvent {
    Digit {
        digit: char,
        method: DtmfMethod,
    },
    PlaybackFinished {
        tag: u64,
        interrupted: bool,
    },
    /// A 20 ms frame of the caller's audio, while listening.
    Audio(Arc<[i16]>),
    InactivityTimeout,
}

enum Command {
    Play {
        clips: Vec<Clip>,
        tag: u64,
        barge_in: bool,
    },
    StopPlayback,
    StartRecording(PathBuf, crate::store::keys::DataKey),
    StopRecording(oneshot::Sender<Option<RecordingInfo>>),
    Listen(bool),
    SipInfoDigit(char),
    SetHold(bool),
    /// A re-INVITE's outcome: where to send, codec, RFC 4733 type, SRTP keys.
    Renegotiate(MediaParams, Option<SrtpKeys>),
    /// Audio from another call leg (a bridge), sent when no prompt plays.
    Feed(Clip),
    Close(oneshot::Sender<MediaStats>),
}

/// Send-side and receive-side figures of one session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaStats {
    pub packets_in: u64,
    pub packets_out: u64,
    /// The caller's packets never received (RFC 3550 cumulative loss, after reordering).
    pub lost: u64,
    pub late: u64,
    /// Lateness of our sends against the 20 ms schedule, 99th percentile and maximum.
    pub send_jitter_p99_us: u64,
    pub send_jitter_max_us: u64,
    /// Interarrival jitter of the caller's stream (RFC 3550 A.8), in ms.
    pub jitter_ms: f64,
    /// Valid RTCP compound packets received, and the report blocks in them about our stream.
    pub rtcp_in: u64,
    pub far_end_reports: u32,
    /// What the far end last reported of our stream: packets lost since the start, jitter.
    pub far_end_lost: i32,
    pub far_end_jitter_ms: f64,
    /// Round-trip time from the far end's reports (LSR/DLSR), last and highest.
    pub rtt_ms: Option<f64>,
    pub rtt_max_ms: Option<f64>,
}

/// Bound sockets waiting for the negotiated parameters.
pub struct MediaSession {
    rtp: UdpSocket,
    rtcp: UdpSocket,
    lease: PortLease,
    srtp: Option<SrtpKeys>,
}

impl MediaSession {
    pub async fn bind(pool: &PortPool, ip: IpAddr) -> std::io::Result<Self> {
        for _ in 0..pool.capacity() {
            let lease = pool.lease().ok_or_else(|| std::io::Error::other("RTP port range exhausted"))?;
            let port = lease.port();
            if let (Ok(rtp), Ok(rtcp)) = (UdpSocket::bind((ip, port)).await, UdpSocket::bind((ip, port + 1)).await) {
                return Ok(Self { rtp, rtcp, lease, srtp: None });
            }
        }
        Err(std::io::Error::other("no free RTP port pair in the range"))
    }

    pub fn local_port(&self) -> u16 {
        self.lease.port()
    }

    /// Protects the session with SRTP/SRTCP under these SDES keys (none: plain RTP).
    pub fn with_srtp(mut self, keys: Option<SrtpKeys>) -> Self {
        self.srtp = keys;
        self
    }

    pub fn start(self, params: MediaParams, config: &MediaConfig, counters: Arc<MediaCounters>) -> (MediaHandle, mpsc::UnboundedReceiver<MediaEvent>) {
        let (command_tx, command_rx) = mpsc::unbounded_channel();
        let (event_tx, event_rx) = mpsc::unbounded_channel();
        let task = Task::new(self, params, config, counters, event_tx);
        tokio::spawn(task.run(command_rx));
        (MediaHandle { commands: command_tx }, event_rx)
    }
}

/// Commands to a running session; dropping every handle ends it.
#[derive(Clone)]
pub struct MediaHandle {
    commands: mpsc::UnboundedSender<Command>,
}

impl MediaHandle {
    pub fn play(&self, clips: Vec<Clip>, tag: u64, barge_in: bool) {
        let _ = self.commands.send(Command::Play { clips, tag, barge_in });
    }
    pub fn stop_playback(&self) {
        let _ = self.commands.send(Command::StopPlayback);
    }
    /// Records the caller to `path`, sealed with `key` (the recordings key).
    pub fn start_recording(&self, path: PathBuf, key: crate::store::keys::DataKey) {
        let _ = self.commands.send(Command::StartRecording(path, key));
    }
    pub async fn stop_recording(&self) -> Option<RecordingInfo> {
        let (tx, rx) = oneshot::channel();
        let _ = self.commands.send(Command::StopRecording(tx));
        rx.await.ok().flatten()
    }
    pub fn listen(&self, on: bool) {
        let _ = self.commands.send(Command::Listen(on));
    }
    pub fn sip_info_digit(&self, digit: char) {
        let _ = self.commands.send(Command::SipInfoDigit(digit));
    }
    pub fn set_hold(&self, on_hold: bool) {
        let _ = self.commands.send(Command::SetHold(on_hold));
    }
    /// Applies a renegotiation. A remote port of 0 (a stream put aside) keeps the old address;
    /// new SRTP keys start new crypto contexts, the same keys keep the running ones.
    pub fn renegotiate(&self, params: MediaParams, srtp: Option<SrtpKeys>) {
        let _ = self.commands.send(Command::Renegotiate(params, srtp));
    }
    /// Queues 8 kHz audio from a bridged leg; it is sent in place of silence.
    pub fn feed(&self, frame: Clip) {
        let _ = self.commands.send(Command::Feed(frame));
    }
    pub async fn close(&self) -> MediaStats {
        let (tx, rx) = oneshot::channel();
        let _ = self.commands.send(Command::Close(tx));
        rx.await.unwrap_or_default()
    }
}

struct Playback {
    clips: std::collections::VecDeque<Clip>,
    offset: usize,
    tag: u64,
    barge_in: bool,
}

struct Task {
    session: MediaSession,
    params: MediaParams,
    remote: SocketAddr,
    latched: bool,
    samples_per_packet: usize,
    ssrc: u32,
    seq: u16,
    timestamp: u32,
    jitter: JitterBuffer,
    rfc4733: Rfc4733Detector,
    inband: GoertzelDetector,
    merger: DtmfMerger,
    playback: Option<Playback>,
    recorder: Option<Recorder>,
    /// The caller's last seconds while nothing records, to start a recording with.
    preroll: PreRoll,
    /// Bridged audio waiting to be sent (bounded: the oldest goes first when it backs up).
    relay: std::collections::VecDeque<i16>,
    listening: bool,
    on_hold: bool,
    last_rx: Instant,
    /// How long without caller packets before the listener is fed silence.
    silence_after: Duration,
    inactivity: Duration,
    inactivity_reported: bool,
    rtcp_interval: Duration,
    last_rtcp: Instant,
    octets_out: u32,
    /// The caller's stream as RTCP reports it, and what the far end reports of ours.
    reception: rtcp::Reception,
    far_end: rtcp::FarEnd,
    /// Origin of arrival times in RTP timestamp units (8 kHz), for the jitter.
    clock_origin: Instant,
    cname: String,
    rtcp_in: u64,
    rtcp_invalid: u64,
    lateness_us: Vec<u32>,
    stats: MediaStats,
    counters: Arc<MediaCounters>,
    events: mpsc::UnboundedSender<MediaEvent>,
    /// SRTP both ways when negotiated; received packets that fail it are dropped and counted.
    srtp: Option<SrtpSession>,
    srtp_rejected: u64,
}

impl Task {
    fn new(session: MediaSession, params: MediaParams, config: &MediaConfig, counters: Arc<MediaCounters>, events: mpsc::UnboundedSender<MediaEvent>) -> Self {
        let ptime = params.ptime_ms.clamp(10, 60);
        let srtp = session.srtp.as_ref().and_then(|keys| SrtpSession::new(keys).map_err(|e| tracing::error!(error = %e, "SRTP not started")).ok());
        Self {
            session,
            params,
            remote: params.remote,
            latched: false,
            samples_per_packet: 8 * ptime as usize,
            ssrc: rand::random(),
            seq: rand::random(),
            timestamp: rand::random(),
            jitter: JitterBuffer::new(config.jitter_ms, ptime),
            rfc4733: Rfc4733Detector::default(),
            inband: GoertzelDetector::default(),
            merger: DtmfMerger::default(),
            playback: None,
            recorder: None,
            preroll: PreRoll::new(config.record_preroll_ms),
            relay: std::collections::VecDeque::new(),
            listening: false,
            on_hold: false,
            last_rx: Instant::now(),
            silence_after: Duration::from_millis(u64::from(config.jitter_ms) + 2 * u64::from(ptime)),
            inactivity: Duration::from_secs(config.inactivity_timeout_s),
            inactivity_reported: false,
            rtcp_interval: Duration::from_secs(config.rtcp_interval_s.max(1)),
            last_rtcp: Instant::now(),
            octets_out: 0,
            reception: rtcp::Reception::default(),
            far_end: rtcp::FarEnd::default(),
            clock_origin: Instant::now(),
            // A random CNAME per session (RFC 7022): nothing about the host or the caller.
            cname: format!("{:016x}@chartline", rand::random::<u64>()),
            rtcp_in: 0,
            rtcp_invalid: 0,
            lateness_us: Vec::new(),
            stats: MediaStats::default(),
            counters,
            events,
            srtp,
            srtp_rejected: 0,
        }
    }

    fn renegotiate(&mut self, params: MediaParams, srtp: Option<SrtpKeys>) {
        if params.remote.port() != 0 && params.remote != self.params.remote {
            self.remote = params.remote;
            self.latched = false;
        }
        // The packet clock was set from the first ptime; it stays.
        self.params = MediaParams { remote: if params.remote.port() == 0 { self.params.remote } else { params.remote }, ptime_ms: self.params.ptime_ms, ..params };
        if srtp != self.session.srtp {
            self.srtp = srtp.as_ref().and_then(|keys| SrtpSession::new(keys).map_err(|e| tracing::error!(error = %e, "SRTP not restarted")).ok());
            self.session.srtp = srtp;
            tracing::info!(srtp = srtp.map_or("off", |k| k.suite.name()), "media keys changed by a re-INVITE");
        }
    }

    /// Unprotects a received packet on an SRTP call (RTP or RTCP); plain calls pass it through.
    fn unprotect<'a>(&mut self, bytes: &'a [u8], rtcp: bool) -> Option<std::borrow::Cow<'a, [u8]>> {
        let Some(srtp) = self.srtp.as_mut() else { return Some(bytes.into()) };
        let result = if rtcp { srtp.unprotect_rtcp(bytes) } else { srtp.unprotect_rtp(bytes) };
        match result {
            Ok(plain) => Some(plain.into()),
            Err(e) => {
                self.srtp_rejected += 1;
                if self.srtp_rejected == 1 {
                    tracing::info!(error = %e, "dropping a received packet that fails SRTP");
                }
                None
            }
        }
    }

    /// Protects an outgoing packet on an SRTP call.
    fn protect(&mut self, bytes: Vec<u8>, rtcp: bool) -> Option<Vec<u8>> {
        let Some(srtp) = self.srtp.as_mut() else { return Some(bytes) };
        let result = if rtcp { srtp.protect_rtcp(&bytes) } else { srtp.protect_rtp(&bytes) };
        result.map_err(|e| tracing::warn!(error = %e, "SRTP protect failed; packet not sent")).ok()
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let ptime = Duration::from_millis(self.samples_per_packet as u64 / 8);
        let start = tokio::time::Instant::now() + ptime;
        let mut ticker = tokio::time::interval_at(start, ptime);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let mut buf = vec![0u8; 2048];
        let mut rtcp_buf = vec![0u8; 1500];
        loop {
            tokio::select! {
                scheduled = ticker.tick() => {
                    let late = tokio::time::Instant::now().saturating_duration_since(scheduled);
                    self.lateness_us.push(late.as_micros().min(u32::MAX as u128) as u32);
                    self.on_tick().await;
                }
                received = self.session.rtp.recv_from(&mut buf) => {
                    if let Ok((len, source)) = received
                        && let Some(packet) = self.unprotect(&buf[..len], false)
                    {
                        self.on_rtp(&packet, source);
                    }
                }
                received = self.session.rtcp.recv_from(&mut rtcp_buf) => {
                    // On SRTP calls reports are authenticated (SRTCP) before they are read.
                    if let Ok((len, source)) = received
                        && source.ip() == self.remote.ip()
                        && let Some(report) = self.unprotect(&rtcp_buf[..len], true)
                    {
                        self.on_rtcp(&report);
                    }
                }
                command = commands.recv() => match command {
                    Some(Command::Close(reply)) => {
                        self.finish_recording();
                        let _ = reply.send(self.final_stats());
                        return;
                    }
                    Some(command) => self.on_command(command),
                    None => {
                        self.finish_recording();
                        return;
                    }
                },
            }
        }
    }

    fn final_stats(&mut self) -> MediaStats {
        self.lateness_us.sort_unstable();
        let p99 = self.lateness_us.get(self.lateness_us.len() * 99 / 100).copied().unwrap_or(0);
        self.stats.send_jitter_p99_us = p99 as u64;
        self.stats.send_jitter_max_us = self.lateness_us.last().copied().unwrap_or(0) as u64;
        self.stats.lost = self.reception.total_lost();
        self.stats.late = self.jitter.stats.late;
        let clock_ms = |units: u32| f64::from(units) / 8.0;
        self.stats.jitter_ms = clock_ms(self.reception.jitter());
        self.stats.rtcp_in = self.rtcp_in;
        self.stats.far_end_reports = self.far_end.reports;
        self.stats.far_end_lost = self.far_end.cumulative_lost;
        self.stats.far_end_jitter_ms = clock_ms(self.far_end.jitter);
        self.stats.rtt_ms = self.far_end.rtt.map(|d| d.as_secs_f64() * 1000.0);
        self.stats.rtt_max_ms = self.far_end.rtt_max.map(|d| d.as_secs_f64() * 1000.0);
        self.stats.clone()
    }

    /// A compound RTCP packet from the caller's side: the timing of its sender report (echoed in
    /// our next block) and its report blocks about our stream. Invalid ones are counted, not read.
    fn on_rtcp(&mut self, bytes: &[u8]) {
        let packets = match rtcp::parse_compound(bytes) {
            Ok(packets) => packets,
            Err(e) => {
                self.rtcp_invalid += 1;
                if self.rtcp_invalid == 1 {
                    tracing::debug!(error = %e, "invalid RTCP packet ignored");
                }
                return;
            }
        };
        self.rtcp_in += 1;
        let (now, ntp_now) = (Instant::now(), rtcp::ntp_time(SystemTime::now()));
        for packet in packets {
            let reports = match packet {
                rtcp::Packet::SenderReport { ssrc, ntp, reports, .. } => {
                    self.reception.on_sender_report(ssrc, ntp, now);
                    reports
                }
                rtcp::Packet::ReceiverReport { reports, .. } => reports,
                rtcp::Packet::Bye { .. } | rtcp::Packet::Other { .. } => continue,
            };
            for block in &reports {
                self.far_end.on_block(block, self.ssrc, ntp_now);
            }
        }
    }

    fn finish_recording(&mut self) {
        if let Some(recorder) = self.recorder.take() {
            let _ = recorder.finish();
        }
    }

    fn emit(&self, event: MediaEvent) {
        let _ = self.events.send(event);
    }

    fn on_digit(&mut self, digit: char, method: DtmfMethod) {
        let Some(digit) = self.merger.push(digit, method, Instant::now()) else { return };
        if let Some(playback) = self.playback.take_if(|p| p.barge_in) {
            self.emit(MediaEvent::PlaybackFinished { tag: playback.tag, interrupted: true });
        }
        self.emit(MediaEvent::Digit { digit, method });
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Play { clips, tag, barge_in } => {
                if let Some(old) = self.playback.take() {
                    self.emit(MediaEvent::PlaybackFinished { tag: old.tag, interrupted: true });
                }
                self.playback = Some(Playback { clips: clips.into(), offset: 0, tag, barge_in });
                // A recording's pre-roll is what the caller said over the prompt before it, never
                // an earlier answer.
                self.preroll.clear();
            }
            Command::StopPlayback => {
                if let Some(old) = self.playback.take() {
                    self.emit(MediaEvent::PlaybackFinished { tag: old.tag, interrupted: true });
                }
            }
            Command::StartRecording(path, key) => match Recorder::create(&path, &key).and_then(|mut recorder| recorder.write(&self.preroll.take_speech()).map(|()| recorder)) {
                Ok(recorder) => self.recorder = Some(recorder),
                Err(e) => tracing::error!(error = %e, path = %path.display(), "cannot create recording"),
            },
            Command::StopRecording(reply) => {
                let info = self.recorder.take().and_then(|r| r.finish().map_err(|e| tracing::error!(error = %e, "cannot finish recording")).ok());
                let _ = reply.send(info);
            }
            Command::Listen(on) => self.listening = on,
            Command::SipInfoDigit(digit) => self.on_digit(digit, DtmfMethod::SipInfo),
            Command::SetHold(on_hold) => self.on_hold = on_hold,
            Command::Renegotiate(params, srtp) => self.renegotiate(params, srtp),
            Command::Feed(frame) => {
                self.relay.extend(frame.iter().copied());
                let limit = 6 * self.samples_per_packet;
                if self.relay.len() > limit {
                    self.relay.drain(..self.relay.len() - limit);
                }
            }
            Command::Close(_) => unreachable!("handled by the loop"),
        }
    }

    fn on_rtp(&mut self, bytes: &[u8], source: SocketAddr) {
        let Some(packet) = parse_rtp(bytes) else { return };
        // Symmetric RTP: send to where the caller's packets come from (NAT), decided once.
        if !self.latched {
            self.latched = true;
            if source != self.remote {
                tracing::debug!(from = %self.remote, to = %source, "RTP latched to source address");
                self.remote = source;
            }
        } else if source != self.remote {
            return;
        }
        self.last_rx = Instant::now();
        self.inactivity_reported = false;
        self.stats.packets_in += 1;
        self.counters.packets_in.fetch_add(1, Relaxed);
        let pt = packet.header.payload_type;
        let audio = pt == self.params.codec.payload_type();
        if audio || Some(pt) == self.params.dtmf_pt {
            // Arrival in 8 kHz timestamp units; the jitter is measured on audio packets only (an
            // RFC 4733 event keeps its start timestamp for all its packets).
            let arrival = (self.clock_origin.elapsed().as_micros() * 8 / 1000) as u32;
            self.reception.on_packet(packet.header.ssrc, packet.header.sequence_number, audio.then_some((packet.header.timestamp, arrival)));
            // Loss as RTCP counts it, over the whole stream: the sequence numbers RFC 4733 packets
            // take are no gaps (the jitter buffer, which sees audio only, would count them).
            let lost = self.reception.total_lost();
            self.counters.packets_lost.fetch_add(lost.saturating_sub(self.stats.lost), Relaxed);
            self.stats.lost = self.stats.lost.max(lost);
        }
        if Some(pt) == self.params.dtmf_pt {
            if let Some(digit) = self.rfc4733.push(packet.header.timestamp, &packet.payload) {
                self.on_digit(digit, DtmfMethod::Rfc4733);
            }
        } else if audio {
            let before = (self.jitter.stats.lost, self.jitter.stats.late);
            self.jitter.push(
                packet.header.ssrc,
                Packet { seq: packet.header.sequence_number, timestamp: packet.header.timestamp, payload_type: pt, marker: packet.header.marker, payload: packet.payload.to_vec() },
                Instant::now(),
            );
            self.counters.packets_late.fetch_add(self.jitter.stats.late - before.1, Relaxed);
        }
    }

    fn decode(&self, payload: &[u8]) -> Vec<i16> {
        match self.params.codec {
            Codec::Pcmu => payload.iter().map(|&b| g711::ulaw_to_linear(b)).collect(),
            Codec::Pcma => payload.iter().map(|&b| g711::alaw_to_linear(b)).collect(),
        }
    }

    async fn on_tick(&mut self) {
        let now = Instant::now();
        // Caller → us.
        let mut heard = false;
        while let Some(packet) = self.jitter.pop(now) {
            heard = true;
            let frame = self.decode(&packet.payload);
            if self.params.dtmf_pt.is_none()
                && let Some(digit) = self.inband.push(&frame)
            {
                self.on_digit(digit, DtmfMethod::Inband);
            }
            match self.recorder.as_mut() {
                Some(recorder) => {
                    if let Err(e) = recorder.write(&frame) {
                        tracing::error!(error = %e, "recording write failed");
                        self.recorder = None;
                    }
                }
                None => self.preroll.push(&frame),
            }
            if self.listening {
                self.emit(MediaEvent::Audio(frame.into()));
            }
        }
        // A caller whose phone stops sending during pauses (silence suppression, DTX) is silent,
        // not frozen: the listener hears silence frames on our clock once the stream has been
        // quiet for longer than the jitter buffer could explain.
        if self.listening && !heard && now.duration_since(self.last_rx) > self.silence_after {
            self.emit(MediaEvent::Audio(vec![0i16; self.samples_per_packet].into()));
        }
        if !self.inactivity.is_zero() && !self.on_hold && !self.inactivity_reported && now.duration_since(self.last_rx) > self.inactivity {
            self.inactivity_reported = true;
            self.emit(MediaEvent::InactivityTimeout);
        }
        // Us → caller.
        let frame = self.next_frame();
        self.timestamp = self.timestamp.wrapping_add(self.samples_per_packet as u32);
        if self.on_hold {
            return;
        }
        let payload: Vec<u8> = match self.params.codec {
            Codec::Pcmu => frame.iter().map(|&s| g711::linear_to_ulaw(s)).collect(),
            Codec::Pcma => frame.iter().map(|&s| g711::linear_to_alaw(s)).collect(),
        };
        self.seq = self.seq.wrapping_add(1);
        let packet = rtp::packet::Packet {
            header: rtp::header::Header {
                version: 2,
                payload_type: self.params.codec.payload_type(),
                sequence_number: self.seq,
                timestamp: self.timestamp,
                ssrc: self.ssrc,
                marker: self.stats.packets_out == 0,
                ..Default::default()
            },
            payload: Bytes::from(payload),
        };
        if let Some(bytes) = packet.marshal().ok().and_then(|b| self.protect(b.to_vec(), false))
            && self.session.rtp.send_to(&bytes, self.remote).await.is_ok()
        {
            self.stats.packets_out += 1;
            self.octets_out = self.octets_out.wrapping_add(packet.payload.len() as u32);
            self.counters.packets_out.fetch_add(1, Relaxed);
        }
        if now.duration_since(self.last_rtcp) >= self.rtcp_interval {
            self.last_rtcp = now;
            let block = self.reception.report_block(now);
            let report = rtcp::sender_report(self.ssrc, rtcp::ntp_time(SystemTime::now()), self.timestamp, self.stats.packets_out as u32, self.octets_out, block, &self.cname);
            let rtcp_dest = SocketAddr::new(self.remote.ip(), self.remote.port().wrapping_add(1));
            if let Some(report) = self.protect(report, true) {
                let _ = self.session.rtcp.send_to(&report, rtcp_dest).await;
            }
        }
    }

    /// The next packet's worth of prompt audio, or silence.
    fn next_frame(&mut self) -> Vec<i16> {
        let mut frame = Vec::with_capacity(self.samples_per_packet);
        while frame.len() < self.samples_per_packet {
            let Some(playback) = self.playback.as_mut() else { break };
            let Some(clip) = playback.clips.front() else {
                let tag = playback.tag;
                self.playback = None;
                self.emit(MediaEvent::PlaybackFinished { tag, interrupted: false });
                break;
            };
            let take = (self.samples_per_packet - frame.len()).min(clip.len() - playback.offset);
            frame.extend_from_slice(&clip[playback.offset..playback.offset + take]);
            playback.offset += take;
            if playback.offset >= clip.len() {
                playback.clips.pop_front();
                playback.offset = 0;
            }
        }
        if self.playback.is_none() && frame.is_empty() {
            let take = self.relay.len().min(self.samples_per_packet);
            frame.extend(self.relay.drain(..take));
        }
        frame.resize(self.samples_per_packet, 0);
        frame
    }
}

/// One received datagram as an RTP version 2 packet, or `None` for anything else (pure; the
/// entry point the fuzz targets share with the media task). A header extension is checked to fit
/// and then cut out unread: the rtp crate panics on RFC 8285 elements that run past the packet
/// (found by fuzzing, fuzz/regressions/rtp/), and we use no extensions.
pub fn parse_rtp(bytes: &[u8]) -> Option<rtp::packet::Packet> {
    let mut raw = match bytes.first() {
        Some(b0) if b0 & 0x10 != 0 => {
            let start = 12 + 4 * usize::from(b0 & 0x0f);
            let words = bytes.get(start + 2..start + 4).map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))?;
            let end = start + 4 + 4 * words;
            let rest = bytes.get(end..)?;
            let mut copy = Vec::with_capacity(bytes.len());
            copy.push(b0 & !0x10);
            copy.extend_from_slice(&bytes[1..start]);
            copy.extend_from_slice(rest);
            Bytes::from(copy)
        }
        _ => Bytes::copy_from_slice(bytes),
    };
    rtp::packet::Packet::unmarshal(&mut raw).ok().filter(|packet| packet.header.version == 2)
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
