//! SDP (RFC 4566) parsing and serialising, and offer/answer (RFC 3264) for one audio stream:
//! G.711 μ-law/A-law plus RFC 4733 telephone-event at whatever dynamic payload type the offer uses,
//! and SRTP keyed by SDES `a=crypto` lines (RFC 4568, see `sdes`) as `[media] srtp` allows.

use std::fmt::Write;
use std::net::{IpAddr, SocketAddr};

use thiserror::Error;

use super::sdes::{self, Crypto, CryptoSuite, MASTER_LEN, SrtpKeys, SrtpPolicy};

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SdpError {
    #[error("SDP line {line}: {problem}")]
    Syntax { line: usize, problem: String },
    #[error("no audio stream in the offer")]
    NoAudio,
    #[error("no common codec (we accept PCMU and PCMA)")]
    NoCommonCodec,
    #[error("no connection address for the audio stream")]
    NoConnection,
    #[error("no supported a=crypto line (we accept AES_CM_128_HMAC_SHA1_80 and AES_CM_128_HMAC_SHA1_32 with an inline key, no MKI)")]
    NoCommonCrypto,
    #[error("SRTP is required here but the offer is plain RTP")]
    SrtpRequired,
    #[error("SRTP is turned off here but the offer is RTP/SAVP")]
    SrtpOff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    fn attribute(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }

    /// The direction an answerer uses for an offered direction (RFC 3264 §6.1).
    pub fn answer_to(self) -> Self {
        match self {
            Self::SendRecv => Self::SendRecv,
            Self::SendOnly => Self::RecvOnly,
            Self::RecvOnly => Self::SendOnly,
            Self::Inactive => Self::Inactive,
        }
    }

    /// Whether the remote side wants to put us on hold.
    pub fn is_hold(self) -> bool {
        matches!(self, Self::SendOnly | Self::Inactive)
    }
}

/// A G.711 codec with its payload type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Pcmu,
    Pcma,
}

impl Codec {
    pub fn payload_type(self) -> u8 {
        match self {
            Self::Pcmu => 0,
            Self::Pcma => 8,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Pcmu => "PCMU",
            Self::Pcma => "PCMA",
        }
    }
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    pub media: String,
    pub port: u16,
    pub protocol: String,
    pub formats: Vec<u8>,
    /// `a=rtpmap` entries: payload type → encoding name (as written) and clock rate.
    pub rtpmaps: Vec<(u8, String, u32)>,
    pub connection: Option<IpAddr>,
    pub ptime: Option<u32>,
    pub direction: Option<Direction>,
    pub other_attributes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdp {
    pub origin_user: String,
    pub session_id: u64,
    pub session_version: u64,
    pub origin_address: IpAddr,
    pub connection: Option<IpAddr>,
    pub direction: Option<Direction>,
    pub media: Vec<MediaDescription>,
}

impl Sdp {
    pub fn parse(text: &str) -> Result<Self, SdpError> {
        let mut sdp = Sdp { origin_user: "-".into(), session_id: 0, session_version: 0, origin_address: IpAddr::from([0, 0, 0, 0]), connection: None, direction: None, media: Vec::new() };
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim_end_matches('\r');
            if line.is_empty() {
                continue;
            }
            let syntax = |problem: &str| SdpError::Syntax { line: index + 1, problem: problem.into() };
            let (kind, value) = line.split_once('=').ok_or_else(|| syntax("expected <type>=<value>"))?;
            match kind {
                "o" => {
                    let parts: Vec<&str> = value.split_whitespace().collect();
                    if parts.len() != 6 {
                        return Err(syntax("o= needs six fields"));
                    }
                    sdp.origin_user = parts[0].into();
                    sdp.session_id = parts[1].parse().map_err(|_| syntax("bad session id"))?;
                    sdp.session_version = parts[2].parse().map_err(|_| syntax("bad session version"))?;
                    sdp.origin_address = parts[5].parse().unwrap_or(sdp.origin_address);
                }
                "c" => {
                    let address = parse_connection(value).ok_or_else(|| syntax("bad c= line"))?;
                    match sdp.media.last_mut() {
                        Some(m) => m.connection = Some(address),
                        None => sdp.connection = Some(address),
                    }
                }
                "m" => {
                    let parts: Vec<&str> = value.split_whitespace().collect();
                    if parts.len() < 3 {
                        return Err(syntax("m= needs media, port, protocol"));
                    }
                    let port = parts[1].split('/').next().unwrap_or("").parse().map_err(|_| syntax("bad port"))?;
                    let formats = parts[3..].iter().filter_map(|f| f.parse().ok()).collect();
                    sdp.media.push(MediaDescription {
                        media: parts[0].into(),
                        port,
                        protocol: parts[2].into(),
                        formats,
                        rtpmaps: Vec::new(),
                        connection: None,
                        ptime: None,
                        direction: None,
                        other_attributes: Vec::new(),
                    });
                }
                "a" => {
                    let direction = match value {
                        "sendrecv" => Some(Direction::SendRecv),
                        "sendonly" => Some(Direction::SendOnly),
                        "recvonly" => Some(Direction::RecvOnly),
                        "inactive" => Some(Direction::Inactive),
                        _ => None,
                    };
                    match (sdp.media.last_mut(), direction) {
                        (Some(m), Some(d)) => m.direction = Some(d),
                        (None, Some(d)) => sdp.direction = Some(d),
                        (Some(m), None) => {
                            if let Some(map) = value.strip_prefix("rtpmap:") {
                                if let Some(entry) = parse_rtpmap(map) {
                                    m.rtpmaps.push(entry);
                                }
                            } else if let Some(ptime) = value.strip_prefix("ptime:") {
                                m.ptime = ptime.trim().parse().ok();
                            } else {
                                m.other_attributes.push(value.to_string());
                            }
                        }
                        (None, None) => {}
                    }
                }
                _ => {}
            }
        }
        Ok(sdp)
    }

    fn audio(&self) -> Option<&MediaDescription> {
        self.media.iter().find(|m| m.media == "audio" && m.port != 0)
    }

    /// Where the audio stream of this description should be sent.
    pub fn audio_target(&self) -> Result<SocketAddr, SdpError> {
        let audio = self.audio().ok_or(SdpError::NoAudio)?;
        let ip = audio.connection.or(self.connection).ok_or(SdpError::NoConnection)?;
        Ok(SocketAddr::new(ip, audio.port))
    }

    pub fn audio_direction(&self) -> Direction {
        self.audio().and_then(|m| m.direction).or(self.direction).unwrap_or(Direction::SendRecv)
    }
}

impl std::fmt::Display for Sdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let family = |ip: &IpAddr| if ip.is_ipv4() { "IP4" } else { "IP6" };
        let mut out = String::new();
        let _ = write!(out, "v=0\r\no={} {} {} IN {} {}\r\ns=Chartline\r\n", self.origin_user, self.session_id, self.session_version, family(&self.origin_address), self.origin_address);
        if let Some(c) = &self.connection {
            let _ = write!(out, "c=IN {} {}\r\n", family(c), c);
        }
        out.push_str("t=0 0\r\n");
        for m in &self.media {
            let formats: Vec<String> = m.formats.iter().map(|f| f.to_string()).collect();
            let _ = write!(out, "m={} {} {} {}\r\n", m.media, m.port, m.protocol, formats.join(" "));
            if let Some(c) = &m.connection {
                let _ = write!(out, "c=IN {} {}\r\n", family(c), c);
            }
            for (pt, name, rate) in &m.rtpmaps {
                let _ = write!(out, "a=rtpmap:{pt} {name}/{rate}\r\n");
            }
            for attribute in &m.other_attributes {
                let _ = write!(out, "a={attribute}\r\n");
            }
            if let Some(ptime) = m.ptime {
                let _ = write!(out, "a=ptime:{ptime}\r\n");
            }
            if let Some(d) = m.direction {
                let _ = write!(out, "a={}\r\n", d.attribute());
            }
        }
        f.write_str(&out)
    }
}

fn parse_connection(value: &str) -> Option<IpAddr> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    if parts.len() != 3 || parts[0] != "IN" {
        return None;
    }
    parts[2].split('/').next()?.parse().ok()
}

fn parse_rtpmap(value: &str) -> Option<(u8, String, u32)> {
    let (pt, rest) = value.split_once(' ')?;
    let mut fields = rest.trim().split('/');
    let name = fields.next()?.to_string();
    let rate = fields.next()?.parse().ok()?;
    Some((pt.parse().ok()?, name, rate))
}

/// What we can do: the codecs in preference order, whether we take RFC 4733 events, and SRTP.
#[derive(Debug, Clone)]
pub struct MediaCaps {
    pub codecs: Vec<Codec>,
    pub telephone_event: bool,
    pub ptime_ms: u32,
    /// When SRTP is used; the default is off (set it with [`MediaCaps::with_srtp`]).
    pub srtp: SrtpPolicy,
    /// Our SRTP master key and salt for this call (fresh random bytes per call).
    pub srtp_master: [u8; MASTER_LEN],
}

impl Default for MediaCaps {
    fn default() -> Self {
        Self { codecs: vec![Codec::Pcmu, Codec::Pcma], telephone_event: true, ptime_ms: 20, srtp: SrtpPolicy::Off, srtp_master: [0; MASTER_LEN] }
    }
}

impl MediaCaps {
    /// SRTP under `policy`, with our master key and salt.
    pub fn with_srtp(mut self, policy: SrtpPolicy, master: [u8; MASTER_LEN]) -> Self {
        self.srtp = policy;
        self.srtp_master = master;
        self
    }
}

/// The outcome of offer/answer: what both sides agreed and the answer to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub answer: Sdp,
    pub codec: Codec,
    pub dtmf_pt: Option<u8>,
    pub remote_rtp: SocketAddr,
    pub ptime_ms: u32,
    /// The direction the remote side asked for (sendonly/inactive = hold).
    pub remote_direction: Direction,
    /// SRTP keys when the call is encrypted.
    pub srtp: Option<SrtpKeys>,
}

/// Which static codec a payload type of the offer stands for, by rtpmap name or static number.
fn codec_of(media: &MediaDescription, pt: u8) -> Option<Codec> {
    match media.rtpmaps.iter().find(|(p, _, _)| *p == pt) {
        Some((_, name, 8000)) if name.eq_ignore_ascii_case("PCMU") => Some(Codec::Pcmu),
        Some((_, name, 8000)) if name.eq_ignore_ascii_case("PCMA") => Some(Codec::Pcma),
        Some(_) => None,
        None if pt == 0 => Some(Codec::Pcmu),
        None if pt == 8 => Some(Codec::Pcma),
        None => None,
    }
}

/// Answers an offer (RFC 3264 §6): the first offered codec we support, telephone-event at the
/// offer's payload type, ptime echoed, direction mirrored.
pub fn negotiate(offer: &Sdp, caps: &MediaCaps, local: SocketAddr, session_id: u64) -> Result<Negotiated, SdpError> {
    let audio = offer.audio().ok_or(SdpError::NoAudio)?;
    let codec = audio.formats.iter().filter_map(|pt| codec_of(audio, *pt)).find(|c| caps.codecs.contains(c)).ok_or(SdpError::NoCommonCodec)?;
    let dtmf_pt = caps
        .telephone_event
        .then(|| audio.rtpmaps.iter().find(|(pt, name, rate)| name.eq_ignore_ascii_case("telephone-event") && *rate == 8000 && audio.formats.contains(pt)))
        .flatten()
        .map(|(pt, _, _)| *pt);
    let remote_rtp = offer.audio_target()?;
    let remote_direction = offer.audio_direction();
    let ptime_ms = audio.ptime.unwrap_or(caps.ptime_ms);
    let srtp = answer_crypto(audio, caps)?;
    let mut answer = build(local, session_id, codec, dtmf_pt, ptime_ms, remote_direction.answer_to());
    if let Some((line, _)) = &srtp {
        answer.media[0].protocol = audio.protocol.clone();
        answer.media[0].other_attributes.push(line.attribute());
    }
    Ok(Negotiated { answer, codec, dtmf_pt, remote_rtp, ptime_ms, remote_direction, srtp: srtp.map(|(_, keys)| keys) })
}

/// Answers a re-INVITE's offer (RFC 3264 §8) within what the call already has, as our previous SDP
/// shows it: our address and port, our SRTP key (required on `RTP/SAVP`, best-effort when our
/// crypto line rode on `RTP/AVP`, off without one), both G.711 codecs and RFC 4733. The offer may
/// move the media, switch codec or telephone-event payload type, or bring a new SRTP key. The
/// answer keeps our origin; its version goes up by one only when the answer changed.
pub fn renegotiate(offer: &Sdp, previous: &Sdp) -> Result<Negotiated, SdpError> {
    let ours = previous.audio().ok_or(SdpError::NoAudio)?;
    let local = SocketAddr::new(ours.connection.or(previous.connection).unwrap_or(previous.origin_address), ours.port);
    let caps = match sdes::crypto_lines(&ours.other_attributes).first().and_then(Crypto::usable) {
        Some((_, master)) if sdes::is_secure_profile(&ours.protocol) => MediaCaps::default().with_srtp(SrtpPolicy::Required, master),
        Some((_, master)) => MediaCaps::default().with_srtp(SrtpPolicy::Optional, master),
        None => MediaCaps::default(),
    };
    let mut negotiated = negotiate(offer, &caps, local, previous.session_id)?;
    let answer = &mut negotiated.answer;
    answer.origin_user.clone_from(&previous.origin_user);
    answer.origin_address = previous.origin_address;
    answer.session_version = previous.session_version;
    if answer != previous {
        answer.session_version += 1;
    }
    Ok(negotiated)
}

/// SRTP for an offered stream under our policy: our `a=crypto` line (same tag and suite as the
/// first usable offered line) and the session keys, or none for plain RTP. An `RTP/SAVP` offer
/// needs a usable line; a plain `RTP/AVP` offer that carries one (best-effort SRTP) is encrypted
/// too unless SRTP is off.
fn answer_crypto(audio: &MediaDescription, caps: &MediaCaps) -> Result<Option<(Crypto, SrtpKeys)>, SdpError> {
    let secure = sdes::is_secure_profile(&audio.protocol);
    if caps.srtp == SrtpPolicy::Off {
        return if secure { Err(SdpError::SrtpOff) } else { Ok(None) };
    }
    let offered = sdes::crypto_lines(&audio.other_attributes);
    match sdes::choose(&offered) {
        Some((line, suite, remote)) => Ok(Some((Crypto::ours(line.tag, suite, &caps.srtp_master), SrtpKeys { suite, local: caps.srtp_master, remote }))),
        None if secure || !offered.is_empty() && caps.srtp == SrtpPolicy::Required => Err(SdpError::NoCommonCrypto),
        None if caps.srtp == SrtpPolicy::Required => Err(SdpError::SrtpRequired),
        None => Ok(None),
    }
}

/// Our own offer, for an INVITE that came without one (the answer then arrives in the ACK).
pub fn make_offer(caps: &MediaCaps, local: SocketAddr, session_id: u64) -> Sdp {
    let mut sdp = build(local, session_id, caps.codecs[0], caps.telephone_event.then_some(101), caps.ptime_ms, Direction::SendRecv);
    let audio = &mut sdp.media[0];
    for codec in caps.codecs.iter().skip(1) {
        audio.formats.insert(audio.formats.len() - usize::from(caps.telephone_event), codec.payload_type());
        audio.rtpmaps.insert(audio.rtpmaps.len() - usize::from(caps.telephone_event), (codec.payload_type(), codec.name().into(), 8000));
    }
    if caps.srtp != SrtpPolicy::Off {
        // Required: RTP/SAVP; optional: best-effort SRTP, a crypto line on RTP/AVP.
        if caps.srtp == SrtpPolicy::Required {
            audio.protocol = "RTP/SAVP".into();
        }
        audio.other_attributes.push(Crypto::ours(1, CryptoSuite::AesCm128HmacSha1_80, &caps.srtp_master).attribute());
    }
    sdp
}

/// Reads the answer to our own offer.
pub fn accept_answer(offer: &Sdp, answer: &Sdp) -> Result<Negotiated, SdpError> {
    let audio = answer.audio().ok_or(SdpError::NoAudio)?;
    let offered = offer.audio().ok_or(SdpError::NoAudio)?;
    let codec = audio.formats.iter().filter_map(|pt| codec_of(audio, *pt).or_else(|| codec_of(offered, *pt))).next().ok_or(SdpError::NoCommonCodec)?;
    let dtmf_pt = audio.rtpmaps.iter().find(|(_, name, _)| name.eq_ignore_ascii_case("telephone-event")).map(|(pt, _, _)| *pt);
    Ok(Negotiated {
        answer: offer.clone(),
        codec,
        dtmf_pt,
        remote_rtp: answer.audio_target()?,
        ptime_ms: audio.ptime.or(offered.ptime).unwrap_or(20),
        remote_direction: answer.audio_direction(),
        srtp: accepted_crypto(offered, audio)?,
    })
}

/// The SRTP keys from the answer to our offer: its crypto line must carry one of our tags and
/// suites. An answer without one is plain RTP, unless we offered `RTP/SAVP`.
fn accepted_crypto(offered: &MediaDescription, answered: &MediaDescription) -> Result<Option<SrtpKeys>, SdpError> {
    let ours = sdes::crypto_lines(&offered.other_attributes);
    if ours.is_empty() {
        return Ok(None);
    }
    let theirs = sdes::crypto_lines(&answered.other_attributes);
    let keys = theirs.iter().find_map(|line| {
        let (suite, remote) = line.usable()?;
        let (_, local) = ours.iter().find(|o| o.tag == line.tag)?.usable().filter(|(s, _)| *s == suite)?;
        Some(SrtpKeys { suite, local, remote })
    });
    match keys {
        Some(keys) => Ok(Some(keys)),
        None if sdes::is_secure_profile(&offered.protocol) || !theirs.is_empty() => Err(SdpError::NoCommonCrypto),
        None => Ok(None),
    }
}

fn build(local: SocketAddr, session_id: u64, codec: Codec, dtmf_pt: Option<u8>, ptime_ms: u32, direction: Direction) -> Sdp {
    let mut formats = vec![codec.payload_type()];
    let mut rtpmaps = vec![(codec.payload_type(), codec.name().to_string(), 8000)];
    let mut other_attributes = Vec::new();
    if let Some(pt) = dtmf_pt {
        formats.push(pt);
        rtpmaps.push((pt, "telephone-event".into(), 8000));
        other_attributes.push(format!("fmtp:{pt} 0-16"));
    }
    Sdp {
        origin_user: "chartline".into(),
        session_id,
        session_version: session_id,
        origin_address: local.ip(),
        connection: Some(local.ip()),
        direction: None,
        media: vec![MediaDescription {
            media: "audio".into(),
            port: local.port(),
            protocol: "RTP/AVP".into(),
            formats,
            rtpmaps,
            connection: None,
            ptime: Some(ptime_ms),
            direction: Some(direction),
            other_attributes,
        }],
    }
}

/// The same session with a new version and direction, for answering a re-INVITE.
pub fn with_direction(previous: &Sdp, direction: Direction) -> Sdp {
    let mut sdp = previous.clone();
    sdp.session_version += 1;
    for m in &mut sdp.media {
        m.direction = Some(direction);
    }
    sdp
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 6000 RTP/AVP 18 8 0 96\r\na=rtpmap:18 G729/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\na=ptime:30\r\n";

    fn local() -> SocketAddr {
        "127.0.0.1:20000".parse().unwrap()
    }

    #[test]
    fn picks_first_supported_codec_and_offered_dtmf_pt() {
        let offer = Sdp::parse(OFFER).unwrap();
        let n = negotiate(&offer, &MediaCaps::default(), local(), 7).unwrap();
        assert_eq!(n.codec, Codec::Pcma);
        assert_eq!(n.dtmf_pt, Some(96));
        assert_eq!(n.ptime_ms, 30);
        assert_eq!(n.remote_rtp, "10.0.0.5:6000".parse().unwrap());
        let text = n.answer.to_string();
        assert!(text.contains("m=audio 20000 RTP/AVP 8 96\r\n"), "{text}");
        assert!(text.contains("a=rtpmap:96 telephone-event/8000"), "{text}");
        assert!(text.contains("a=sendrecv"), "{text}");
        assert_eq!(Sdp::parse(&text).unwrap(), n.answer, "answer round-trips");
    }

    #[test]
    fn no_common_codec() {
        let offer = Sdp::parse("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n").unwrap();
        assert_eq!(negotiate(&offer, &MediaCaps::default(), local(), 1).unwrap_err(), SdpError::NoCommonCodec);
    }

    #[test]
    fn static_payload_without_rtpmap_and_no_dtmf() {
        let offer = Sdp::parse("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n").unwrap();
        let n = negotiate(&offer, &MediaCaps::default(), local(), 1).unwrap();
        assert_eq!((n.codec, n.dtmf_pt, n.ptime_ms), (Codec::Pcmu, None, 20));
    }

    #[test]
    fn hold_offer_is_answered_recvonly() {
        let text = OFFER.replace("a=ptime:30\r\n", "a=ptime:20\r\na=sendonly\r\n");
        let n = negotiate(&Sdp::parse(&text).unwrap(), &MediaCaps::default(), local(), 1).unwrap();
        assert!(n.remote_direction.is_hold());
        assert!(n.answer.to_string().contains("a=recvonly"));
        let inactive = Sdp::parse(&OFFER.replace("a=ptime:30\r\n", "a=inactive\r\n")).unwrap();
        assert_eq!(negotiate(&inactive, &MediaCaps::default(), local(), 1).unwrap().answer.audio_direction(), Direction::Inactive);
    }

    #[test]
    fn offerless_invite_round_trip() {
        let offer = make_offer(&MediaCaps::default(), local(), 9);
        let text = offer.to_string();
        assert!(text.contains("m=audio 20000 RTP/AVP 0 8 101"), "{text}");
        let answer = Sdp::parse("v=0\r\no=- 2 2 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n").unwrap();
        let n = accept_answer(&offer, &answer).unwrap();
        assert_eq!((n.codec, n.dtmf_pt), (Codec::Pcma, Some(101)));
        assert_eq!(n.remote_rtp, "10.1.1.1:7000".parse().unwrap());
    }

    const SAVP_OFFER: &str = "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 6000 RTP/SAVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=crypto:1 AEAD_AES_128_GCM inline:PS1uQCVeeCFCanVmcjkpPywjNWhc\r\na=crypto:4 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n";

    fn srtp_caps(policy: SrtpPolicy) -> MediaCaps {
        MediaCaps::default().with_srtp(policy, [9; MASTER_LEN])
    }

    #[test]
    fn savp_offer_is_answered_with_our_key_for_the_first_usable_suite() {
        let offer = Sdp::parse(SAVP_OFFER).unwrap();
        let n = negotiate(&offer, &srtp_caps(SrtpPolicy::Optional), local(), 1).unwrap();
        let keys = n.srtp.expect("SRTP negotiated");
        assert_eq!(keys.suite, CryptoSuite::AesCm128HmacSha1_32);
        assert_eq!((keys.local, &keys.remote[..3]), ([9; MASTER_LEN], &[0x3d, 0x2d, 0x6e][..]));
        let text = n.answer.to_string();
        assert!(text.contains("m=audio 20000 RTP/SAVP 0 101\r\n"), "{text}");
        let answered = sdes::crypto_lines(&Sdp::parse(&text).unwrap().media[0].other_attributes);
        assert_eq!(answered.len(), 1, "{text}");
        assert_eq!(answered[0].tag, 4);
        assert_eq!(answered[0].usable(), Some((CryptoSuite::AesCm128HmacSha1_32, [9; MASTER_LEN])));
    }

    #[test]
    fn srtp_policy_decides_what_is_acceptable() {
        let savp = Sdp::parse(SAVP_OFFER).unwrap();
        assert_eq!(negotiate(&savp, &srtp_caps(SrtpPolicy::Off), local(), 1).unwrap_err(), SdpError::SrtpOff);
        let unsupported = Sdp::parse(&SAVP_OFFER.replace("AES_CM_128_HMAC_SHA1_32", "AES_256_CM_HMAC_SHA1_80")).unwrap();
        assert_eq!(negotiate(&unsupported, &srtp_caps(SrtpPolicy::Optional), local(), 1).unwrap_err(), SdpError::NoCommonCrypto);
        let plain = Sdp::parse(OFFER).unwrap();
        assert_eq!(negotiate(&plain, &srtp_caps(SrtpPolicy::Required), local(), 1).unwrap_err(), SdpError::SrtpRequired);
        let n = negotiate(&plain, &srtp_caps(SrtpPolicy::Optional), local(), 1).unwrap();
        assert!(n.srtp.is_none() && !n.answer.to_string().contains("crypto"), "plain offers stay plain");
        // Best-effort SRTP: a crypto line on RTP/AVP is used, and answered on RTP/AVP.
        let best_effort = Sdp::parse(&SAVP_OFFER.replace("RTP/SAVP", "RTP/AVP")).unwrap();
        let n = negotiate(&best_effort, &srtp_caps(SrtpPolicy::Optional), local(), 1).unwrap();
        assert!(n.srtp.is_some());
        assert!(n.answer.to_string().contains("m=audio 20000 RTP/AVP 0 101"));
        assert!(negotiate(&best_effort, &srtp_caps(SrtpPolicy::Off), local(), 1).unwrap().srtp.is_none());
    }

    #[test]
    fn a_reoffer_can_move_the_media_switch_codec_and_dtmf_type_within_the_call() {
        let first = negotiate(&Sdp::parse(OFFER).unwrap(), &MediaCaps::default(), local(), 77).unwrap();
        assert_eq!(first.codec, Codec::Pcma);
        let same = renegotiate(&Sdp::parse(OFFER).unwrap(), &first.answer).unwrap();
        assert_eq!(same.answer, first.answer, "an unchanged answer keeps its version (RFC 3264 §8)");
        let moved = OFFER
            .replace("10.0.0.5", "10.0.0.9")
            .replace("m=audio 6000 RTP/AVP 18 8 0 96", "m=audio 7100 RTP/AVP 0 100")
            .replace("96 telephone-event", "100 telephone-event")
            .replace("fmtp:96", "fmtp:100");
        let n = renegotiate(&Sdp::parse(&moved).unwrap(), &first.answer).unwrap();
        assert_eq!((n.codec, n.dtmf_pt, n.remote_rtp), (Codec::Pcmu, Some(100), "10.0.0.9:7100".parse().unwrap()));
        assert_eq!((n.answer.session_id, n.answer.session_version), (77, first.answer.session_version + 1));
        assert_eq!(n.answer.audio_target().unwrap(), local(), "our address and port stay");
        let g729_only = OFFER.replace("m=audio 6000 RTP/AVP 18 8 0 96", "m=audio 6000 RTP/AVP 18");
        assert_eq!(renegotiate(&Sdp::parse(&g729_only).unwrap(), &first.answer).unwrap_err(), SdpError::NoCommonCodec);
    }

    #[test]
    fn a_reoffer_with_a_new_srtp_key_keeps_ours_and_takes_theirs() {
        let first = negotiate(&Sdp::parse(SAVP_OFFER).unwrap(), &srtp_caps(SrtpPolicy::Optional), local(), 5).unwrap();
        let new_key = SAVP_OFFER.replace("PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk").replace("a=crypto:4", "a=crypto:7");
        let n = renegotiate(&Sdp::parse(&new_key).unwrap(), &first.answer).unwrap();
        let keys = n.srtp.expect("still SRTP");
        assert_eq!(keys.local, [9; MASTER_LEN], "our key stays");
        assert_eq!(&keys.remote[..3], b"ABC", "theirs is the new one");
        let answered = sdes::crypto_lines(&n.answer.media[0].other_attributes);
        assert_eq!(answered[0].tag, 7, "the answer names the accepted line's tag");
        // The call is SRTP on RTP/SAVP: a plain re-offer is refused (the session stays as it was).
        assert_eq!(renegotiate(&Sdp::parse(OFFER).unwrap(), &first.answer).unwrap_err(), SdpError::SrtpRequired);
    }

    #[test]
    fn our_srtp_offer_and_its_answer() {
        let offer = make_offer(&srtp_caps(SrtpPolicy::Required), local(), 3);
        let text = offer.to_string();
        assert!(text.contains("RTP/SAVP") && text.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"), "{text}");
        let answer = Sdp::parse(
            "v=0\r\no=- 2 2 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\nm=audio 7000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n",
        )
        .unwrap();
        let keys = accept_answer(&offer, &answer).unwrap().srtp.unwrap();
        assert_eq!((keys.local, keys.remote[0]), ([9; MASTER_LEN], 0x3d));
        let plain_answer = Sdp::parse("v=0\r\no=- 2 2 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\nm=audio 7000 RTP/SAVP 0\r\n").unwrap();
        assert_eq!(accept_answer(&offer, &plain_answer).unwrap_err(), SdpError::NoCommonCrypto);
    }

    #[test]
    fn syntax_error_names_the_line() {
        let err = Sdp::parse("v=0\r\nthis is not sdp\r\n").unwrap_err();
        assert_eq!(err, SdpError::Syntax { line: 2, problem: "expected <type>=<value>".into() });
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(text in "\\PC{0,300}") {
            let _ = Sdp::parse(&text);
        }
    }
}
