//! A real session over loopback, with a plain UDP socket playing the caller.

use std::time::Duration;

use super::*;
use crate::media::PortPool;

struct Peer {
    socket: UdpSocket,
    seq: u16,
    /// Protects what the peer sends, once the call is SRTP.
    srtp: Option<SrtpSession>,
}

impl Peer {
    async fn send(&mut self, to: SocketAddr, pt: u8, timestamp: u32, payload: Vec<u8>) {
        self.seq = self.seq.wrapping_add(1);
        let packet =
            rtp::packet::Packet { header: rtp::header::Header { version: 2, payload_type: pt, sequence_number: self.seq, timestamp, ssrc: 42, ..Default::default() }, payload: Bytes::from(payload) };
        let mut bytes = packet.marshal().unwrap().to_vec();
        if let Some(srtp) = self.srtp.as_mut() {
            bytes = srtp.protect_rtp(&bytes).unwrap();
        }
        self.socket.send_to(&bytes, to).await.unwrap();
    }

    /// Sends `ms` of a tone as μ-law, paced at 20 ms.
    async fn tone(&mut self, to: SocketAddr, ms: u32, amplitude: f32) {
        for frame in 0..ms / 20 {
            let payload = (0..160).map(|n| g711::linear_to_ulaw((((frame * 160 + n) as f32 * 0.3).sin() * amplitude) as i16)).collect();
            self.send(to, 0, frame * 160, payload).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn digit(&mut self, to: SocketAddr, event: u8, timestamp: u32) {
        self.digit_as(to, 101, event, timestamp).await
    }

    async fn digit_as(&mut self, to: SocketAddr, pt: u8, event: u8, timestamp: u32) {
        for (end, duration) in [(false, 160u16), (false, 320), (true, 480), (true, 480), (true, 480)] {
            let payload = vec![event, if end { 0x80 | 10 } else { 10 }, (duration >> 8) as u8, duration as u8];
            self.send(to, pt, timestamp, payload).await;
        }
    }
}

async fn setup(inactivity_s: u64) -> (MediaHandle, mpsc::UnboundedReceiver<MediaEvent>, Peer, SocketAddr) {
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let pool = PortPool::new(41000 + (std::process::id() % 500) as u16 * 20, 41000 + (std::process::id() % 500) as u16 * 20 + 18);
    let session = MediaSession::bind(&pool, "127.0.0.1".parse().unwrap()).await.unwrap();
    let ours = SocketAddr::from(([127, 0, 0, 1], session.local_port()));
    let params = MediaParams { remote: peer.local_addr().unwrap(), codec: Codec::Pcmu, dtmf_pt: Some(101), ptime_ms: 20 };
    let config = MediaConfig { inactivity_timeout_s: inactivity_s, ..Default::default() };
    let (handle, events) = session.start(params, &config, Arc::new(MediaCounters::default()));
    std::mem::forget(pool);
    (handle, events, Peer { socket: peer, seq: 0, srtp: None }, ours)
}

async fn next_event(events: &mut mpsc::UnboundedReceiver<MediaEvent>) -> MediaEvent {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await.expect("event in time").expect("open") {
            MediaEvent::Audio(_) => continue,
            other => return other,
        }
    }
}

#[tokio::test]
async fn digits_recording_playback_and_pacing() {
    let (handle, mut events, mut peer, ours) = setup(0).await;
    peer.digit(ours, 5, 1000).await;
    peer.digit(ours, 11, 2000).await;
    assert!(matches!(next_event(&mut events).await, MediaEvent::Digit { digit: '5', method: DtmfMethod::Rfc4733 }));
    assert!(matches!(next_event(&mut events).await, MediaEvent::Digit { digit: '#', .. }));
    handle.sip_info_digit('#');
    handle.sip_info_digit('7');
    assert!(matches!(next_event(&mut events).await, MediaEvent::Digit { digit: '7', method: DtmfMethod::SipInfo }), "INFO duplicate of # dropped");

    let dir = tempfile::tempdir().unwrap();
    handle.start_recording(dir.path().join("msg.clrec"), crate::store::keys::DataKey::random());
    peer.tone(ours, 1000, 12000.0).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let info = handle.stop_recording().await.expect("recording");
    assert!((900..=1100).contains(&info.duration_ms), "{info:?}");
    assert!(info.rms > 0.1, "{info:?}");

    let clip: Clip = vec![1000i16; 8000].into();
    handle.play(vec![clip.clone()], 7, false);
    let started = Instant::now();
    assert!(matches!(next_event(&mut events).await, MediaEvent::PlaybackFinished { tag: 7, interrupted: false }));
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(950) && elapsed < Duration::from_millis(1400), "1 s clip took {elapsed:?}");

    handle.play(vec![clip], 8, true);
    tokio::time::sleep(Duration::from_millis(100)).await;
    peer.digit(ours, 1, 9000).await;
    assert!(matches!(next_event(&mut events).await, MediaEvent::PlaybackFinished { tag: 8, interrupted: true }), "barge-in");
    assert!(matches!(next_event(&mut events).await, MediaEvent::Digit { digit: '1', .. }));

    // What we sent: 20 ms μ-law packets with increasing sequence numbers. The session keeps sending
    // (silence between prompts), so read a bounded number of packets.
    let mut buf = [0u8; 1500];
    let mut seqs = Vec::new();
    while seqs.len() < 100 {
        let (len, _) = tokio::time::timeout(Duration::from_millis(200), peer.socket.recv_from(&mut buf)).await.expect("RTP keeps flowing").unwrap();
        let packet = rtp::packet::Packet::unmarshal(&mut Bytes::copy_from_slice(&buf[..len])).unwrap();
        assert_eq!((packet.header.payload_type, packet.payload.len()), (0, 160));
        seqs.push(packet.header.sequence_number);
    }
    assert!(seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)));
    let stats = handle.close().await;
    assert!(stats.packets_out > 100 && stats.packets_in > 50, "{stats:?}");
    eprintln!("send jitter p99 {} us, max {} us", stats.send_jitter_p99_us, stats.send_jitter_max_us);
}

#[tokio::test]
async fn latches_to_caller_source_and_times_out_when_silent() {
    let (handle, mut events, mut peer, ours) = setup(1).await;
    peer.tone(ours, 100, 1000.0).await;
    let mut buf = [0u8; 1500];
    let got = tokio::time::timeout(Duration::from_millis(500), peer.socket.recv_from(&mut buf)).await;
    assert!(got.is_ok(), "audio flows to the latched source");
    assert!(matches!(next_event(&mut events).await, MediaEvent::InactivityTimeout));
    handle.set_hold(true);
    drop(handle);
}

#[tokio::test]
async fn a_reinvite_switches_the_event_type_and_the_srtp_keys() {
    use crate::sip::sdes::CryptoSuite;
    let (handle, mut events, mut peer, ours) = setup(30).await;
    peer.digit(ours, 1, 1000).await;
    assert!(matches!(next_event(&mut events).await, MediaEvent::Digit { digit: '1', .. }));

    let suite = CryptoSuite::AesCm128HmacSha1_80;
    let (our_key, their_key) = ([7u8; 30], [8u8; 30]);
    let remote = peer.socket.local_addr().unwrap();
    handle.renegotiate(MediaParams { remote, codec: Codec::Pcma, dtmf_pt: Some(96), ptime_ms: 20 }, Some(SrtpKeys { suite, local: our_key, remote: their_key }));
    peer.srtp = Some(SrtpSession::new(&SrtpKeys { suite, local: their_key, remote: our_key }).unwrap());
    tokio::time::sleep(Duration::from_millis(50)).await;
    peer.digit_as(ours, 96, 5, 2000).await;
    assert!(matches!(next_event(&mut events).await, MediaEvent::Digit { digit: '5', .. }), "the new type, under the new key");

    // What we send now is PCMA under our new key.
    let mut buf = [0u8; 1500];
    let mut reader = SrtpSession::new(&SrtpKeys { suite, local: their_key, remote: our_key }).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        let (len, _) = tokio::time::timeout_at(deadline, peer.socket.recv_from(&mut buf)).await.expect("audio from the session").unwrap();
        if let Ok(plain) = reader.unprotect_rtp(&buf[..len]) {
            let header = rtp::header::Header::unmarshal(&mut &plain[..]).unwrap();
            assert_eq!(header.payload_type, 8);
            break;
        }
    }
    drop(handle);
}
