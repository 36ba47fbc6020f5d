//! The thin tokio driver: a UDP socket and a TCP listener on the same address (plus a TLS listener
//! on its own, when `[sip.tls]` is enabled), one task owning the [`Endpoint`], feeding it
//! datagrams, framed stream messages, commands and timer expiries, and writing what it wants sent.
//! Responses and our in-dialog requests go back over the connection a call came on; TCP and TLS
//! share the framing and the connection table, TLS only wraps the stream. Our outbound calls over
//! TCP or TLS open their connection on first use (messages wait for it); one that cannot be opened
//! fails those calls at once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

use super::message::MAX_MESSAGE;
use super::tls::{self, TlsServer};
use super::trunk::{Trunk, TrunkGauges};
use super::{Endpoint, SipConfig, Transport, UaCommand, UaEvent};

pub struct SipHandle {
    pub commands: mpsc::UnboundedSender<UaCommand>,
    pub events: mpsc::UnboundedReceiver<UaEvent>,
    pub local_addr: SocketAddr,
    /// Dialogs held by the endpoint, for the metrics.
    pub live_dialogs: Arc<AtomicI64>,
    /// Trunk registration/reachability and ACL refusals, for the metrics.
    pub trunk: Arc<TrunkGauges>,
    /// The TLS listener's address and certificate fingerprint, when `[sip.tls]` is enabled.
    pub tls: Option<(SocketAddr, String)>,
}

/// [`start_in`] with the default data directory (`data`), where a generated TLS certificate goes.
pub async fn start(config: &SipConfig) -> std::io::Result<SipHandle> {
    start_in(config, Path::new("data")).await
}

/// Binds UDP and TCP (and TLS when enabled; a generated certificate is kept under
/// `<data_dir>/sip/`) and starts the driver task.
pub async fn start_in(config: &SipConfig, data_dir: &Path) -> std::io::Result<SipHandle> {
    let listen = config.listen_addr().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let udp = UdpSocket::bind(listen).await?;
    let local_addr = udp.local_addr()?;
    let tcp = TcpListener::bind(local_addr).await?;
    let mut advertised = config.advertised();
    advertised.set_port(local_addr.port());
    let mut endpoint = Endpoint::new(config.timers(), advertised);
    let invalid = |(key, problem): (String, String)| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("sip.trunk.{key} {problem}"));
    endpoint.set_acl(config.trunk.acl().map_err(invalid)?);
    let tls = match config.tls.enabled {
        true => {
            let server = tls::server(&config.tls, data_dir).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
            let addr = config.tls.listen_addr().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("sip.tls.listen {e}")))?;
            let listener = TcpListener::bind(addr).await.map_err(|e| std::io::Error::new(e.kind(), format!("sip.tls.listen {addr}: {e}")))?;
            let tls_addr = listener.local_addr()?;
            endpoint.set_tls_local(SocketAddr::new(advertised.ip(), tls_addr.port()));
            tracing::info!(%tls_addr, sha256 = %server.fingerprint, cert = %server.cert_path.display(), generated = server.generated, "SIP listening on TLS");
            Some(TlsListener { listener, server, handshake_timeout: config.tls.handshake_timeout() })
        }
        false => None,
    };
    let mut registrar = None;
    if !config.trunk.registrar.is_empty() {
        let transport = config.trunk.transport();
        let server = resolve(&config.trunk.registrar, transport, local_addr).await?;
        registrar = Some(server);
        // Over TLS the registrar reaches us on our TLS listener, when there is one.
        let contact = match (&tls, transport) {
            (Some(tls), Transport::Tls) => SocketAddr::new(advertised.ip(), tls.listener.local_addr()?.port()),
            _ => advertised,
        };
        if let Some(params) = config.trunk.params(server, contact, config.timers()).map_err(invalid)? {
            tracing::info!(%server, mode = ?config.trunk.mode, transport = transport.via_name(), "SIP trunk configured");
            endpoint.set_trunk(Trunk::new(params, Instant::now()));
        }
    }
    let auth_invalid = |(key, problem): (String, String)| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("sip.auth.{key} {problem}"));
    if let Some(mut auth) = config.auth.authenticator(Instant::now()).map_err(auth_invalid)? {
        if let (super::TrunkMode::Register, Some(server)) = (config.trunk.mode, registrar) {
            // The provider sends calls to our registration and answers no challenge of ours.
            auth.exempt(server.ip());
        }
        tracing::info!(realm = %config.auth.realm, algorithms = ?config.auth.algorithms, "SIP digest authentication required for new calls");
        endpoint.set_inbound_auth(auth);
    }
    let tls_info = tls.as_ref().map(|t| (t.listener.local_addr().expect("bound listener"), t.server.fingerprint.clone()));
    endpoint.set_rate_limits(config.limits.clone());
    let tls_client = tls::client(&config.tls).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let (command_tx, command_rx) = mpsc::unbounded_channel();
    let (event_tx, event_rx) = mpsc::unbounded_channel();
    // Messages, openings and closings from every stream connection to the driver. Full: each
    // connection's reader waits (back-pressure), so TCP flow control slows a flooding peer down
    // instead of memory growing.
    let (stream_tx, stream_rx) = mpsc::channel(STREAM_INPUT_QUEUE);
    let live_dialogs = Arc::new(AtomicI64::new(0));
    let trunk = Arc::new(TrunkGauges::default());
    let driver = Driver {
        endpoint,
        udp,
        connections: HashMap::new(),
        connecting: HashMap::new(),
        streams: stream_tx,
        tls_client,
        connect_timeout: config.tls.handshake_timeout(),
        events: event_tx,
        live_dialogs: live_dialogs.clone(),
        trunk: trunk.clone(),
    };
    tokio::spawn(driver.run(tcp, tls, command_rx, stream_rx));
    tracing::info!(%local_addr, "SIP listening on UDP and TCP");
    Ok(SipHandle { commands: command_tx, events: event_rx, local_addr, live_dialogs, trunk, tls: tls_info })
}

/// The registrar's address (port 5061 by default over TLS), preferring the address family of our
/// socket.
async fn resolve(registrar: &str, transport: Transport, local: SocketAddr) -> std::io::Result<SocketAddr> {
    let (host, mut port) =
        super::trunk_config::split_host_port(registrar).ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("sip.trunk.registrar is not host:port: {registrar:?}")))?;
    if transport == Transport::Tls && !super::trunk_config::has_port(registrar) {
        port = 5061;
    }
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await.map_err(|e| std::io::Error::new(e.kind(), format!("cannot resolve sip.trunk.registrar {registrar:?}: {e}")))?.collect();
    found
        .iter()
        .find(|a| a.is_ipv4() == local.is_ipv4())
        .or(found.first())
        .copied()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, format!("sip.trunk.registrar {registrar:?} has no address")))
}

struct Driver {
    endpoint: Endpoint,
    udp: UdpSocket,
    connections: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    /// Messages waiting for a connection we are opening.
    connecting: HashMap<SocketAddr, Vec<Vec<u8>>>,
    /// Where stream tasks report messages, new connections and failures.
    streams: mpsc::Sender<StreamInput>,
    tls_client: tokio_rustls::TlsConnector,
    connect_timeout: std::time::Duration,
    events: mpsc::UnboundedSender<UaEvent>,
    live_dialogs: Arc<AtomicI64>,
    trunk: Arc<TrunkGauges>,
}

/// The TLS listener with what it needs to complete handshakes.
struct TlsListener {
    listener: TcpListener,
    server: TlsServer,
    handshake_timeout: std::time::Duration,
}

/// The next connection on the TLS listener; never ready without one.
async fn accept_tls(tls: Option<&TlsListener>) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match tls {
        Some(tls) => tls.listener.accept().await,
        None => std::future::pending().await,
    }
}

enum StreamInput {
    Message(SocketAddr, Transport, Vec<u8>),
    Opened(SocketAddr, Transport, mpsc::Sender<Vec<u8>>),
    Closed(SocketAddr, Transport),
    /// A connection we tried to open did not come up.
    Failed(SocketAddr, Transport, String),
}

impl Driver {
    async fn run(mut self, tcp: TcpListener, tls: Option<TlsListener>, mut commands: mpsc::UnboundedReceiver<UaCommand>, mut stream_rx: mpsc::Receiver<StreamInput>) {
        let stream_tx = self.streams.clone();
        let mut buf = vec![0u8; MAX_MESSAGE + 1];
        loop {
            let deadline = self.endpoint.poll_timeout().map(tokio::time::Instant::from_std);
            tokio::select! {
                received = self.udp.recv_from(&mut buf) => match received {
                    Ok((len, source)) => self.endpoint.handle_inbound(&buf[..len], source, Transport::Udp, Instant::now()),
                    Err(e) => tracing::debug!(error = %e, "UDP receive error"),
                },
                accepted = tcp.accept() => if let Ok((stream, peer)) = accepted {
                    tokio::spawn(serve_stream(stream, peer, Transport::Tcp, stream_tx.clone()));
                },
                accepted = accept_tls(tls.as_ref()) => if let (Ok((stream, peer)), Some(tls)) = (accepted, tls.as_ref()) {
                    let (acceptor, timeout, to_driver) = (tls.server.acceptor.clone(), tls.handshake_timeout, stream_tx.clone());
                    tokio::spawn(async move {
                        match tls::handshake(acceptor, stream, timeout).await {
                            Ok(stream) => serve_stream(stream, peer, Transport::Tls, to_driver).await,
                            Err(e) => tracing::info!(%peer, error = %e, "SIP TLS handshake failed"),
                        }
                    });
                },
                Some(input) = stream_rx.recv() => match input {
                    StreamInput::Message(peer, transport, bytes) => self.endpoint.handle_inbound(&bytes, peer, transport, Instant::now()),
                    StreamInput::Opened(peer, transport, writer) => {
                        self.connections.insert(peer, writer);
                        for bytes in self.connecting.remove(&peer).unwrap_or_default() {
                            self.write(peer, transport, bytes);
                        }
                    }
                    StreamInput::Closed(peer, transport) => {
                        self.connections.remove(&peer);
                        self.endpoint.connection_closed(peer, transport);
                    }
                    StreamInput::Failed(dest, transport, reason) => {
                        tracing::info!(%dest, transport = transport.via_name(), %reason, "SIP connection failed");
                        self.connecting.remove(&dest);
                        self.endpoint.handle_transport_error(dest, transport, &reason, Instant::now());
                    }
                },
                command = commands.recv() => match command {
                    Some(command) => self.endpoint.handle_command(command, Instant::now()),
                    None => return,
                },
                _ = sleep_until(deadline) => self.endpoint.handle_timeout(Instant::now()),
            }
            self.flush().await;
        }
    }

    async fn flush(&mut self) {
        while let Some(transmit) = self.endpoint.poll_transmit() {
            match transmit.transport {
                Transport::Udp => {
                    if let Err(e) = self.udp.send_to(&transmit.bytes, transmit.dest).await {
                        tracing::debug!(dest = %transmit.dest, error = %e, "UDP send failed");
                    }
                }
                Transport::Tcp | Transport::Tls => match self.connections.contains_key(&transmit.dest) {
                    true => self.write(transmit.dest, transmit.transport, transmit.bytes),
                    false => self.connect(transmit.dest, transmit.transport, transmit.bytes),
                },
            }
        }
        while let Some(event) = self.endpoint.poll_event() {
            let _ = self.events.send(event);
        }
        self.live_dialogs.store(self.endpoint.live_dialogs() as i64, Ordering::Relaxed);
        if let Some(status) = self.endpoint.trunk_status() {
            self.trunk.registered.store(i64::from(status.registered), Ordering::Relaxed);
            self.trunk.up.store(i64::from(status.up), Ordering::Relaxed);
        }
        self.trunk.denied_requests.store(self.endpoint.denied_requests(), Ordering::Relaxed);
        self.trunk.rate_limited.store(self.endpoint.rate_limited_requests(), Ordering::Relaxed);
        self.trunk.auth_rejected.store(self.endpoint.auth_rejected_calls(), Ordering::Relaxed);
    }
}

impl Driver {
    /// Queues `bytes` on the open connection to `dest`. A connection whose queue is full has a
    /// peer that stopped reading: it is closed (and counted), its transactions fail over, and the
    /// driver never waits on one slow peer.
    fn write(&mut self, dest: SocketAddr, transport: Transport, bytes: Vec<u8>) {
        let Some(writer) = self.connections.get(&dest) else { return };
        if let Err(mpsc::error::TrySendError::Full(_)) = writer.try_send(bytes) {
            tracing::info!(%dest, transport = transport.via_name(), queued = WRITE_QUEUE, "closing stream connection: the peer stopped reading");
            self.connections.remove(&dest);
            self.trunk.stalled_connections.fetch_add(1, Ordering::Relaxed);
            self.endpoint.connection_closed(dest, transport);
        }
    }

    /// Queues `bytes` for `dest` and opens the connection if none is being opened. Only
    /// destinations of our own outbound calls are dialled: a peer whose inbound connection closed
    /// listens on some other port than the one it came from.
    fn connect(&mut self, dest: SocketAddr, transport: Transport, bytes: Vec<u8>) {
        if let Some(waiting) = self.connecting.get_mut(&dest) {
            return waiting.push(bytes);
        }
        let Some(name) = self.endpoint.outbound_target(dest, transport) else {
            return tracing::debug!(%dest, transport = transport.via_name(), "no stream connection to send on");
        };
        self.connecting.insert(dest, vec![bytes]);
        let (to_driver, connector, timeout) = (self.streams.clone(), self.tls_client.clone(), self.connect_timeout);
        tokio::spawn(async move {
            let failed = |e: std::io::Error| StreamInput::Failed(dest, transport, e.to_string());
            match transport {
                Transport::Tls => match tls::connect(connector, dest, &name, timeout).await {
                    Ok(stream) => serve_stream(stream, dest, transport, to_driver).await,
                    Err(e) => drop(to_driver.send(failed(e)).await),
                },
                _ => match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(dest)).await {
                    Ok(Ok(stream)) => serve_stream(stream, dest, transport, to_driver).await,
                    Ok(Err(e)) => drop(to_driver.send(failed(e)).await),
                    Err(_) => drop(to_driver.send(failed(std::io::Error::new(std::io::ErrorKind::TimedOut, "TCP connect timed out"))).await),
                },
            }
        });
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Reads framed messages from one stream connection (TCP or TLS) and writes what the driver sends
/// to it.
async fn serve_stream<S: AsyncRead + AsyncWrite + Send + 'static>(stream: S, peer: SocketAddr, transport: Transport, to_driver: mpsc::Sender<StreamInput>) {
    let (mut reader, mut writer) = tokio::io::split(stream);
    // What the driver sends on this connection. Full: the driver closes the connection (see
    // `Driver::write`); the writer then ends, and so does the reading below.
    let (write_tx, mut write_rx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
    let _ = to_driver.send(StreamInput::Opened(peer, transport, write_tx)).await;
    let mut writer_task = tokio::spawn(async move {
        while let Some(bytes) = write_rx.recv().await {
            // TLS buffers records: flush so each message leaves at once.
            if writer.write_all(&bytes).await.is_err() || writer.flush().await.is_err() {
                break;
            }
        }
    });
    let mut framer = Framer::default();
    let mut chunk = vec![0u8; 8192];
    'read: loop {
        // A peer that starts a message must finish it: a stalled partial message (a lying
        // Content-Length, a slow-loris) closes the connection instead of holding it forever.
        let pending = framer.pending();
        let read = async {
            let read = reader.read(&mut chunk);
            if pending { tokio::time::timeout(PARTIAL_MESSAGE_TIMEOUT, read).await.ok() } else { Some(read.await) }
        };
        let read = tokio::select! {
            read = read => read,
            // The writer ended: a write failed, or the driver dropped a peer that stopped reading.
            _ = &mut writer_task => break,
        };
        let Some(read) = read else {
            tracing::info!(%peer, "closing TCP connection: message not completed in time");
            break;
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => framer.push(&chunk[..n]),
        }
        loop {
            match framer.next_message() {
                Ok(Some(message)) => {
                    let _ = to_driver.send(StreamInput::Message(peer, transport, message)).await;
                }
                Ok(None) => break,
                Err(problem) => {
                    tracing::info!(%peer, problem, transport = transport.via_name(), "closing stream connection: bad framing");
                    break 'read;
                }
            }
        }
    }
    let _ = to_driver.send(StreamInput::Closed(peer, transport)).await;
    writer_task.abort();
}

/// Stream-connection inputs queued for the driver before readers wait.
const STREAM_INPUT_QUEUE: usize = 1024;
/// Messages queued for one stream connection before its peer counts as stalled and is closed.
const WRITE_QUEUE: usize = 256;

/// How long the rest of a started stream message may take to arrive.
pub const PARTIAL_MESSAGE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Splits a byte stream into SIP messages by Content-Length (RFC 3261 §18.3).
#[derive(Debug, Default)]
pub struct Framer {
    buffer: Vec<u8>,
}

impl Framer {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Bytes of an unfinished message are waiting (keepalive CRLFs do not count).
    pub fn pending(&self) -> bool {
        self.buffer.iter().any(|b| *b != b'\r' && *b != b'\n')
    }

    /// The next whole message, `None` when more bytes are needed, or an error that ends the stream.
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, &'static str> {
        let keepalive = self.buffer.iter().take_while(|b| **b == b'\r' || **b == b'\n').count();
        self.buffer.drain(..keepalive);
        let Some(head_end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
            return if self.buffer.len() > MAX_MESSAGE { Err("headers too long") } else { Ok(None) };
        };
        let head = String::from_utf8_lossy(&self.buffer[..head_end]);
        let length = head
            .split("\r\n")
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length") || name.trim().eq_ignore_ascii_case("l"))
            .map(|(_, value)| value.trim().parse::<usize>().map_err(|_| "bad Content-Length"))
            .transpose()?
            .ok_or("stream message without Content-Length")?;
        let total = head_end + 4 + length;
        if total > MAX_MESSAGE {
            return Err("message too large");
        }
        if self.buffer.len() < total {
            return Ok(None);
        }
        Ok(Some(self.buffer.drain(..total).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_and_joined_messages() {
        let one = b"OPTIONS sip:a SIP/2.0\r\nContent-Length: 3\r\n\r\nabc";
        let mut framer = Framer::default();
        framer.push(b"\r\n\r\n");
        framer.push(&one[..10]);
        assert_eq!(framer.next_message(), Ok(None));
        framer.push(&one[10..]);
        framer.push(one);
        assert_eq!(framer.next_message().unwrap().unwrap(), one.to_vec());
        assert_eq!(framer.next_message().unwrap().unwrap(), one.to_vec());
        assert_eq!(framer.next_message(), Ok(None));
    }

    #[test]
    fn pending_means_a_started_message() {
        let mut framer = Framer::default();
        framer.push(b"\r\n\r\n");
        assert!(!framer.pending(), "keepalives are not a message");
        framer.push(b"OPTIONS sip:a SIP/2.0\r\nContent-Length: 3\r\n\r\na");
        assert!(framer.pending());
        framer.push(b"bc");
        assert!(framer.next_message().unwrap().is_some());
        assert!(!framer.pending());
    }

    #[test]
    fn rejects_missing_or_huge_length() {
        let mut framer = Framer::default();
        framer.push(b"OPTIONS sip:a SIP/2.0\r\n\r\n");
        assert!(framer.next_message().is_err());
        let mut framer = Framer::default();
        framer.push(b"OPTIONS sip:a SIP/2.0\r\nContent-Length: 999999999\r\n\r\n");
        assert_eq!(framer.next_message(), Err("message too large"));
    }
}
