//! Relaying audio between two call legs (Chartline as a B2BUA): each leg's media session decodes
//! its caller's frames and the other leg's session encodes them in its own codec, so PCMU↔PCMA
//! is transcoded on the way. The counters tell how much speech crossed in each direction.

use std::sync::Arc;

use serde_json::json;

use crate::media::MediaHandle;

/// A frame with more energy than this (RMS of 16-bit samples) counts as sound, not silence.
const VOICED_RMS: f64 = 300.0;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RelayCounts {
    pub frames: u64,
    pub voiced: u64,
}

/// Which way a frame goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the first leg (the provider) to the second (the patient).
    AToB,
    BToA,
}

#[derive(Debug, Default)]
pub struct Relay {
    pub a_to_b: RelayCounts,
    pub b_to_a: RelayCounts,
}

impl Relay {
    /// Starts relaying: both sessions hand their caller's audio to the driver.
    pub fn start(a: &MediaHandle, b: &MediaHandle) -> Self {
        a.stop_playback();
        b.stop_playback();
        a.listen(true);
        b.listen(true);
        Self::default()
    }

    /// Forwards one frame heard on one leg to the other.
    pub fn forward(&mut self, direction: Direction, frame: Arc<[i16]>, to: &MediaHandle) {
        let counts = match direction {
            Direction::AToB => &mut self.a_to_b,
            Direction::BToA => &mut self.b_to_a,
        };
        counts.frames += 1;
        if rms(&frame) > VOICED_RMS {
            counts.voiced += 1;
        }
        to.feed(frame);
    }

    /// The counters for the timeline.
    pub fn summary(&self) -> serde_json::Value {
        json!({
            "frames_to_patient": self.a_to_b.frames, "voiced_to_patient": self.a_to_b.voiced,
            "frames_to_provider": self.b_to_a.frames, "voiced_to_provider": self.b_to_a.voiced,
        })
    }
}

fn rms(frame: &[i16]) -> f64 {
    if frame.is_empty() {
        return 0.0;
    }
    (frame.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / frame.len() as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;
    use tokio::net::UdpSocket;
    use webrtc_util::marshal::{Marshal, Unmarshal};

    use super::*;
    use crate::media::{MediaConfig, MediaCounters, MediaEvent, MediaParams, MediaSession, PortPool, g711};
    use crate::sip::sdp::Codec;

    async fn leg(pool: &PortPool, codec: Codec) -> (MediaHandle, tokio::sync::mpsc::UnboundedReceiver<MediaEvent>, UdpSocket, SocketAddr) {
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let session = MediaSession::bind(pool, "127.0.0.1".parse().unwrap()).await.unwrap();
        let ours = SocketAddr::from(([127, 0, 0, 1], session.local_port()));
        let params = MediaParams { remote: peer.local_addr().unwrap(), codec, dtmf_pt: None, ptime_ms: 20 };
        let (handle, events) = session.start(params, &MediaConfig::default(), Arc::new(MediaCounters::default()));
        (handle, events, peer, ours)
    }

    /// A μ-law caller on one leg is heard, as A-law, by the peer of the other leg.
    #[tokio::test]
    async fn relays_pcmu_speech_to_a_pcma_leg() {
        let base = 43000 + (std::process::id() % 400) as u16 * 20;
        let pool = PortPool::new(base, base + 18);
        let (a, mut a_events, a_peer, a_addr) = leg(&pool, Codec::Pcmu).await;
        let (b, _b_events, b_peer, _) = leg(&pool, Codec::Pcma).await;
        let mut relay = Relay::start(&a, &b);
        let sender = tokio::spawn(async move {
            for frame in 0u32..50 {
                let payload: Vec<u8> = (0..160).map(|n| g711::linear_to_ulaw((((frame * 160 + n) as f32 * 0.3).sin() * 6000.0) as i16)).collect();
                let header = rtp::header::Header { version: 2, payload_type: 0, sequence_number: frame as u16, timestamp: frame * 160, ssrc: 7, ..Default::default() };
                let packet = rtp::packet::Packet { header, payload: Bytes::from(payload) };
                a_peer.send_to(&packet.marshal().unwrap(), a_addr).await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let mut loud_alaw = 0;
        let mut buf = vec![0u8; 1500];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while tokio::time::Instant::now() < deadline && loud_alaw < 20 {
            tokio::select! {
                Some(event) = a_events.recv() => if let MediaEvent::Audio(frame) = event { relay.forward(Direction::AToB, frame, &b) },
                Ok((len, _)) = b_peer.recv_from(&mut buf) => {
                    let packet = rtp::packet::Packet::unmarshal(&mut Bytes::copy_from_slice(&buf[..len])).unwrap();
                    assert_eq!(packet.header.payload_type, 8, "the PCMA leg sends A-law");
                    let frame: Vec<i16> = packet.payload.iter().map(|&x| g711::alaw_to_linear(x)).collect();
                    if rms(&frame) > 2000.0 {
                        loud_alaw += 1;
                    }
                }
            }
        }
        sender.abort();
        assert!(loud_alaw >= 20, "only {loud_alaw} loud A-law frames reached the other leg");
        assert!(relay.a_to_b.voiced >= 20, "{:?}", relay.a_to_b);
    }

    #[test]
    fn rms_separates_silence_from_speech_level() {
        assert_eq!(super::rms(&[]), 0.0);
        assert!(super::rms(&[0, 8, -8, 4]) < super::VOICED_RMS);
        let tone: Vec<i16> = (0..160).map(|n| ((n as f64 * 0.3).sin() * 3000.0) as i16).collect();
        assert!(super::rms(&tone) > super::VOICED_RMS);
    }
}
