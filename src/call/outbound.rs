//! Outbound call legs for the call layer: a registry that routes SIP events of our own INVITEs to
//! the task that placed them, and [`dial`], which binds RTP, offers PCMU/PCMA + telephone-event,
//! waits for the answer (bounded by the ring timeout) and starts the media session.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use super::{CallConfig, CallServices};
use crate::media::{MediaEvent, MediaHandle, MediaParams, MediaSession};
use crate::sip::sdp::{self, MediaCaps};
use crate::sip::uac::DialRequest;
use crate::sip::{CallId, Transport, TrunkMode, UaCommand, UaEvent};

/// Outbound Call-IDs → the task waiting for their events.
#[derive(Clone, Default)]
pub struct Registry {
    legs: Arc<Mutex<HashMap<CallId, mpsc::UnboundedSender<UaEvent>>>>,
}

impl Registry {
    fn register(&self, call: CallId) -> mpsc::UnboundedReceiver<UaEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.legs.lock().unwrap_or_else(|p| p.into_inner()).insert(call, tx);
        rx
    }

    fn forget(&self, call: &CallId) {
        self.legs.lock().unwrap_or_else(|p| p.into_inner()).remove(call);
    }

    /// Hands an event to the leg it belongs to; false when no outbound leg has that Call-ID.
    pub fn deliver(&self, event: UaEvent) -> bool {
        let legs = self.legs.lock().unwrap_or_else(|p| p.into_inner());
        match legs.get(event.call()) {
            Some(tx) => tx.send(event).is_ok(),
            None => false,
        }
    }
}

/// Why an outbound call did not connect.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error("no RTP port: {0}")]
    Media(#[from] std::io::Error),
    #[error("nowhere to send the call: {0}")]
    NoRoute(String),
    #[error("no answer within {0:?}")]
    NoAnswer(Duration),
    #[error("the call failed with {status} {reason}")]
    Failed { status: u16, reason: String },
    #[error("stopped while ringing")]
    Stopped,
    #[error("unusable SDP answer: {0}")]
    Sdp(#[from] sdp::SdpError),
}

impl DialError {
    /// The SIP status to record.
    pub fn status(&self) -> u16 {
        match self {
            DialError::Failed { status, .. } => *status,
            DialError::NoAnswer(_) => 408,
            DialError::Stopped => 487,
            DialError::Sdp(_) => 488,
            DialError::Media(_) | DialError::NoRoute(_) => 500,
        }
    }
}

/// A connected outbound leg. Dropping it does not hang up: call [`Leg::hangup`].
pub struct Leg {
    pub call: CallId,
    pub media: MediaHandle,
    pub media_events: mpsc::UnboundedReceiver<MediaEvent>,
    pub sip_events: mpsc::UnboundedReceiver<UaEvent>,
    pub params: MediaParams,
    services: Arc<CallServices>,
}

impl Leg {
    /// BYE (or CANCEL) and the media closed; returns the media counters.
    pub async fn hangup(self) -> crate::media::MediaStats {
        let _ = self.services.sip.send(UaCommand::Hangup { call: self.call.clone() });
        let stats = self.media.close().await;
        self.services.outbound.forget(&self.call);
        stats
    }
}

/// Where an outbound call goes: its Request-URI, the next hop and how to reach it.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub target: String,
    pub dest: SocketAddr,
    pub transport: Transport,
    /// The host whose name a TLS next hop must prove.
    pub host: String,
}

/// Where `dial` (a phone number or a `sip:` URI) goes. A URI says its transport with
/// `;transport=tcp|tls` (UDP otherwise); phone numbers go to the outbound proxy (or the trunk's
/// registrar) over `[oncall] outbound_transport`.
pub async fn route(services: &CallServices, dial: &str) -> Result<Route, DialError> {
    let Hop { target, next_hop, transport } = plan(&services.config, dial)?;
    let (dest, host) = resolve(&next_hop, transport).await?;
    Ok(Route { target, dest, transport, host })
}

/// A route before name resolution.
#[derive(Debug, PartialEq)]
struct Hop {
    target: String,
    /// `host[:port]` of the next hop.
    next_hop: String,
    transport: Transport,
}

fn plan(config: &CallConfig, dial: &str) -> Result<Hop, DialError> {
    if dial.starts_with("sip:") {
        let (user_host, params) = dial.split_once(';').unwrap_or((dial, ""));
        let host_port = user_host.split_once('@').map(|(_, h)| h).unwrap_or(user_host);
        let transport = params
            .split(';')
            .find_map(|p| p.strip_prefix("transport="))
            .map(|t| Transport::from_name(t).ok_or_else(|| DialError::NoRoute(format!("{dial:?}: transport {t:?} is not udp, tcp or tls"))))
            .transpose()?
            .unwrap_or(Transport::Udp);
        return Ok(Hop { target: dial.to_string(), next_hop: host_port.to_string(), transport });
    }
    if !crate::phone::is_number(dial) {
        return Err(DialError::NoRoute(format!("{dial:?} is not a phone number")));
    }
    let proxy = match (&config.oncall.outbound_proxy, &config.sip.trunk.registrar) {
        (p, _) if !p.is_empty() => p.clone(),
        (_, r) if !r.is_empty() => r.clone(),
        _ => return Err(DialError::NoRoute("set oncall.outbound_proxy or sip.trunk.registrar".into())),
    };
    let transport = Transport::from_name(&config.oncall.outbound_transport).unwrap_or_else(|| config.sip.trunk.transport());
    let domain = if config.sip.trunk.registrar.is_empty() { proxy.clone() } else { config.sip.trunk.effective_domain() };
    Ok(Hop { target: format!("sip:{}@{domain}", crate::phone::dialable(dial)), next_hop: proxy, transport })
}

/// The address of `host[:port]` (5061 by default over TLS, 5060 otherwise) and the host itself.
async fn resolve(host_port: &str, transport: Transport) -> Result<(SocketAddr, String), DialError> {
    let bad = || DialError::NoRoute(format!("{host_port:?} is not host:port"));
    let (host, mut port) = crate::sip::trunk_config::split_host_port(host_port).ok_or_else(bad)?;
    if transport == Transport::Tls && !crate::sip::trunk_config::has_port(host_port) {
        port = 5061;
    }
    let dest = tokio::net::lookup_host((host, port)).await?.next().ok_or_else(|| DialError::NoRoute(format!("{host:?} has no address")))?;
    Ok((dest, host.to_string()))
}

/// Places a call to `dial` with the practice's caller ID and waits up to `ring_timeout` for the
/// answer; a call not answered by then is cancelled.
pub async fn dial(services: &Arc<CallServices>, dial: &str, ring_timeout: Duration) -> Result<Leg, DialError> {
    dial_until(services, dial, ring_timeout, std::future::pending()).await
}

/// [`dial`] that also gives up (CANCEL) as soon as `stop` completes while it rings.
pub async fn dial_until(services: &Arc<CallServices>, dial: &str, ring_timeout: Duration, stop: impl std::future::Future<Output = ()>) -> Result<Leg, DialError> {
    let Route { target, dest, transport, host } = route(services, dial).await?;
    let session = MediaSession::bind(&services.ports, services.local_ip).await?;
    let local = SocketAddr::new(services.local_ip, session.local_port());
    let offer = sdp::make_offer(&MediaCaps::default(), local, rand::random::<u32>() as u64);
    let call = CallId(format!("{}@chartline", uuid::Uuid::new_v4()));
    let oncall = &services.config.oncall;
    let trunk = &services.config.sip.trunk;
    let domain = if trunk.registrar.is_empty() { services.local_ip.to_string() } else { trunk.effective_domain() };
    let user = if oncall.caller_id.is_empty() { "chartline".to_string() } else { crate::phone::dialable(&oncall.caller_id) };
    let credentials = (trunk.mode == TrunkMode::Register)
        .then(|| trunk.secret().ok())
        .flatten()
        .map(|password| crate::sip::auth::Credentials { username: if trunk.auth_username.is_empty() { trunk.username.clone() } else { trunk.auth_username.clone() }, password });
    let request =
        DialRequest { call: call.clone(), target, from_uri: format!("sip:{user}@{domain}"), from_name: oncall.caller_name.clone(), dest, offer: offer.clone(), credentials, transport, tls_name: host };
    let mut sip_events = services.outbound.register(call.clone());
    let _ = services.sip.send(UaCommand::Dial(Box::new(request)));
    let ringing = tokio::time::timeout(ring_timeout, async {
        while let Some(event) = sip_events.recv().await {
            match event {
                UaEvent::Answered { answer, .. } => return Ok(answer),
                UaEvent::DialFailed { status, reason, .. } => return Err(DialError::Failed { status, reason }),
                _ => {}
            }
        }
        Err(DialError::Failed { status: 500, reason: "SIP stack stopped".into() })
    });
    let answered = tokio::select! {
        answered = ringing => answered.map_err(|_| DialError::NoAnswer(ring_timeout)),
        () = stop => Err(DialError::Stopped),
    };
    let answer = match answered {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => {
            services.outbound.forget(&call);
            return Err(e);
        }
        Err(gave_up) => {
            // Cancel; the registry entry goes once the CANCEL's outcome is in (or a 200 raced it).
            let _ = services.sip.send(UaCommand::Hangup { call: call.clone() });
            let registry = services.outbound.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(40), async { while sip_events.recv().await.is_some() {} }).await;
                registry.forget(&call);
            });
            return Err(gave_up);
        }
    };
    let negotiated = match sdp::accept_answer(&offer, &answer) {
        Ok(n) => n,
        Err(e) => {
            let _ = services.sip.send(UaCommand::Hangup { call: call.clone() });
            services.outbound.forget(&call);
            return Err(e.into());
        }
    };
    let params = MediaParams { remote: negotiated.remote_rtp, codec: negotiated.codec, dtmf_pt: negotiated.dtmf_pt, ptime_ms: negotiated.ptime_ms };
    let (media, media_events) = session.start(params, &services.config.media, services.media_counters.clone());
    Ok(Leg { call, media, media_events, sip_events, params, services: services.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sip_uri_goes_to_its_host_over_the_transport_it_names() {
        let config = CallConfig::default();
        let hop = plan(&config, "sip:nurse@10.0.0.5:5070;transport=tcp").unwrap();
        assert_eq!(hop, Hop { target: "sip:nurse@10.0.0.5:5070;transport=tcp".into(), next_hop: "10.0.0.5:5070".into(), transport: Transport::Tcp });
        assert_eq!(plan(&config, "sip:nurse@pbx.example").unwrap().transport, Transport::Udp);
        assert!(matches!(plan(&config, "sip:nurse@pbx;transport=sctp"), Err(DialError::NoRoute(why)) if why.contains("sctp")));
    }

    #[test]
    fn a_phone_number_goes_to_the_outbound_proxy_or_else_the_registrar() {
        let mut config = CallConfig::default();
        assert!(matches!(plan(&config, "+1 555-010-0111"), Err(DialError::NoRoute(why)) if why.contains("outbound_proxy")));
        assert!(matches!(plan(&config, "call me"), Err(DialError::NoRoute(why)) if why.contains("not a phone number")));
        config.oncall.outbound_proxy = "10.0.0.1:5060".into();
        let hop = plan(&config, "+1 555-010-0111").unwrap();
        assert_eq!((hop.target.as_str(), hop.next_hop.as_str()), ("sip:+15550100111@10.0.0.1:5060", "10.0.0.1:5060"));
    }
}
