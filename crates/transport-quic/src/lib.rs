//! QUIC backend (quinn): one connection over UDP carrying one bidirectional
//! stream of length-prefixed frames, TLS 1.3 underneath, as users who leave
//! the machine increasingly pick it (HTTP/3, encrypted and multiplexed by
//! default). It is the library `ipcbench run --remote` offers besides TCP
//! (docs/methodology.md, "Across hosts", says why QUIC rather than ZeroMQ).
//!
//! The `Transport` contract is synchronous, so each side owns a tokio
//! runtime with one worker thread, which drives the connection (ACKs, keep-
//! alives, retransmissions) while the caller is elsewhere; every `send` and
//! `recv` is one `block_on` of a stream write or read.
//!
//! The listener makes a self-signed certificate per connection; the endpoint
//! carries it (`quic:ADDR:PORT/CERT_HEX#TOKEN`), so the connecting side
//! trusts exactly that certificate, and the secret token after the `#`, which
//! the connecting side writes first on its stream, admits only the expected
//! peer (QUIC cannot tell which process is on the other end). Handshakes run
//! in the background from `listen` on, so `connect` returns before `accept`
//! is called; `accept` then judges each connection by its token, closing and
//! naming those without it.
//!
//! A peer that ends cleanly finishes its stream (`recv` drains, then
//! `Disconnected`); one that is killed sends nothing, and is noticed when
//! the connection's idle timeout ([`IDLE_TIMEOUT`]) passes without its keep-
//! alives. A dropped receiver stops the stream, so the peer's `send` fails.

#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use quinn::{Connection, Endpoint as QEndpoint, RecvStream, SendStream};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use transport::peer::{Gate, TOKEN_LEN};
use transport::{
    DEFAULT_MAX_MESSAGE_SIZE, Endpoint, OpenError, Options, RecvError, SendError,
};

/// The QUIC transport.
#[derive(Debug)]
pub struct Quic;

/// How long a connection may go without hearing from its peer: a killed
/// peer sends nothing, and this is how soon the survivor knows.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(3);

/// How often each side shows it is alive.
const KEEP_ALIVE: Duration = Duration::from_millis(500);

/// How long a new connection may take to send its token.
const TOKEN_WAIT: Duration = Duration::from_secs(2);

/// How long `connect` may take for the handshake.
const CONNECT_WAIT: Duration = Duration::from_secs(10);

/// How long a dropped sender waits for the peer to read what it sent.
const LINGER: Duration = Duration::from_secs(2);

const PREFIX: &str = "quic:";
const SERVER_NAME: &str = "ipcbench";

/// A connection side's runtime, endpoint and connection, shared by its
/// halves; the last one dropped closes the connection and lets it drain.
struct Side {
    rt: Runtime,
    endpoint: QEndpoint,
    conn: Option<Connection>,
}

impl Drop for Side {
    fn drop(&mut self) {
        // No CONNECTION_CLOSE: it would discard what the peer has received
        // but not yet read. The sender's drop finished the stream (the peer
        // reads up to it, then `Disconnected`); once this process's
        // endpoint is gone the peer's connection times out after
        // IDLE_TIMEOUT, which any peer still writing sees as `Disconnected`.
        let _ = (&self.endpoint, &self.conn);
    }
}

fn runtime() -> Result<Runtime, OpenError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| OpenError::io("building the tokio runtime", e))
}

fn backend(what: &str, e: impl std::fmt::Display) -> OpenError {
    OpenError::Backend(format!("quic: {what}: {e}"))
}

fn transport_config() -> Arc<quinn::TransportConfig> {
    let mut tc = quinn::TransportConfig::default();
    if let Ok(idle) = quinn::IdleTimeout::try_from(IDLE_TIMEOUT) {
        tc.max_idle_timeout(Some(idle));
    }
    tc.keep_alive_interval(Some(KEEP_ALIVE));
    Arc::new(tc)
}

/// The sending half: frames on the stream.
pub struct QuicSender {
    send: SendStream,
    side: Arc<Side>,
}

/// The receiving half.
pub struct QuicReceiver {
    recv: RecvStream,
    buf: Vec<u8>,
    side: Arc<Side>,
}

impl std::fmt::Debug for QuicSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QuicSender")
    }
}

impl std::fmt::Debug for QuicReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QuicReceiver")
    }
}

impl transport::Sender for QuicSender {
    fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        if msg.len() > DEFAULT_MAX_MESSAGE_SIZE {
            return Err(SendError::TooLarge {
                size: msg.len(),
                max: DEFAULT_MAX_MESSAGE_SIZE,
            });
        }
        let header = (msg.len() as u32).to_le_bytes();
        let send = &mut self.send;
        self.side
            .rt
            .block_on(async {
                send.write_all(&header).await?;
                send.write_all(msg).await
            })
            .map_err(|e| match e {
                quinn::WriteError::ClosedStream
                | quinn::WriteError::Stopped(_)
                | quinn::WriteError::ConnectionLost(_) => SendError::Disconnected,
                other => SendError::Backend(format!("quic: {other}")),
            })
    }
}

impl Drop for QuicSender {
    fn drop(&mut self) {
        // Finish the stream and give the peer a bounded time to read it
        // all, so closing the connection loses nothing in flight.
        if self.send.finish().is_ok() {
            let send = &mut self.send;
            let _ = self
                .side
                .rt
                .block_on(async { tokio::time::timeout(LINGER, send.stopped()).await });
        }
    }
}

fn read_error(e: quinn::ReadExactError) -> RecvError {
    match e {
        quinn::ReadExactError::FinishedEarly(0) => RecvError::Disconnected,
        quinn::ReadExactError::FinishedEarly(n) => {
            RecvError::Corrupt(format!("the stream ended {n} bytes into a frame"))
        }
        quinn::ReadExactError::ReadError(
            quinn::ReadError::ConnectionLost(_)
            | quinn::ReadError::Reset(_)
            | quinn::ReadError::ClosedStream,
        ) => RecvError::Disconnected,
        quinn::ReadExactError::ReadError(other) => RecvError::Backend(format!("quic: {other}")),
    }
}

impl transport::Receiver for QuicReceiver {
    fn recv(&mut self) -> Result<&[u8], RecvError> {
        let (recv, buf) = (&mut self.recv, &mut self.buf);
        self.side.rt.block_on(async {
            let mut header = [0u8; 4];
            recv.read_exact(&mut header).await.map_err(read_error)?;
            let len = u32::from_le_bytes(header) as usize;
            if len > DEFAULT_MAX_MESSAGE_SIZE {
                return Err(RecvError::Corrupt(format!(
                    "frame of {len} bytes exceeds the maximum of {DEFAULT_MAX_MESSAGE_SIZE}"
                )));
            }
            buf.resize(len, 0);
            match recv.read_exact(buf).await {
                Ok(()) => Ok(()),
                // A peer gone mid-frame is a truncated message, never whole.
                Err(quinn::ReadExactError::FinishedEarly(n)) => Err(RecvError::Corrupt(format!(
                    "the stream ended {n} bytes into a {len}-byte frame"
                ))),
                Err(e) => Err(read_error(e)),
            }
        })?;
        Ok(&self.buf)
    }
}

impl Drop for QuicReceiver {
    fn drop(&mut self) {
        let _ = self.recv.stop(0u32.into());
    }
}

/// A connection that finished its handshake and sent (or failed to send)
/// its token.
struct Arrival {
    from: SocketAddr,
    conn: Connection,
    streams: Option<(SendStream, RecvStream)>,
    verdict: Option<String>,
}

/// The listening side: handshakes run in the background; `accept` takes the
/// first connection with the right token.
pub struct QuicListener {
    /// Until accepted: then the connection's side owns it.
    rt: Option<Runtime>,
    endpoint: QEndpoint,
    arrivals: mpsc::UnboundedReceiver<Arrival>,
    gate: Gate,
}

impl std::fmt::Debug for QuicListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QuicListener")
    }
}

impl Drop for QuicListener {
    fn drop(&mut self) {
        // Not accepted: turn away whoever connected, and stop listening.
        if self.rt.is_some() {
            self.endpoint.close(1u32.into(), b"listener gone");
        }
    }
}

/// Accepts connections forever, reading each one's token.
async fn handshakes(
    endpoint: QEndpoint,
    token: [u8; TOKEN_LEN],
    out: mpsc::UnboundedSender<Arrival>,
) {
    while let Some(incoming) = endpoint.accept().await {
        let out = out.clone();
        tokio::spawn(async move {
            let from = incoming.remote_address();
            let Ok(conn) = incoming.await else { return };
            let judged = tokio::time::timeout(TOKEN_WAIT, async {
                let (send, mut recv) = conn.accept_bi().await.map_err(|e| e.to_string())?;
                let mut got = [0u8; TOKEN_LEN];
                recv.read_exact(&mut got).await.map_err(|e| e.to_string())?;
                Ok::<_, String>((send, recv, got))
            })
            .await;
            let arrival = match judged {
                Ok(Ok((send, recv, got))) if transport::peer::same_token(&got, &token) => {
                    Arrival {
                        from,
                        conn,
                        streams: Some((send, recv)),
                        verdict: None,
                    }
                }
                Ok(Ok(_)) => Arrival {
                    from,
                    conn,
                    streams: None,
                    verdict: Some("sent the wrong token".into()),
                },
                Ok(Err(e)) => Arrival {
                    from,
                    conn,
                    streams: None,
                    verdict: Some(format!("sent no token ({e})")),
                },
                Err(_) => Arrival {
                    from,
                    conn,
                    streams: None,
                    verdict: Some(format!("sent no token within {TOKEN_WAIT:?}")),
                },
            };
            let _ = out.send(arrival);
        });
    }
}

/// A refused connection: its address and, on loopback, its owner.
fn describe(from: SocketAddr) -> String {
    if let SocketAddr::V4(v4) = from
        && let Some((uid, pid)) = transport::peer::PeerCred::of_loopback_udp(v4)
    {
        return match pid {
            Some(pid) => format!("{from}, pid {pid} uid {uid}"),
            None => format!("{from}, uid {uid}"),
        };
    }
    from.to_string()
}

impl transport::Listener for QuicListener {
    type Sender = QuicSender;
    type Receiver = QuicReceiver;

    fn expect_peer(&mut self, _pid: u32) -> bool {
        // QUIC cannot see the pid; the token does the job.
        true
    }

    fn accept(mut self, deadline: Instant) -> Result<(QuicSender, QuicReceiver), OpenError> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let arrivals = &mut self.arrivals;
            let rt = self
                .rt
                .as_ref()
                .ok_or_else(|| backend("accept", "already accepted"))?;
            let next = rt.block_on(async { tokio::time::timeout(left, arrivals.recv()).await });
            let arrival = match next {
                Ok(Some(a)) => a,
                Ok(None) => return Err(backend("accept", "the endpoint closed")),
                Err(_) if self.gate.refused().is_empty() => return Err(OpenError::Timeout),
                Err(_) => return Err(self.gate.deadline_passed()),
            };
            match (arrival.streams, arrival.verdict) {
                (Some((send, recv)), None) => {
                    let rt = self
                        .rt
                        .take()
                        .ok_or_else(|| backend("accept", "already accepted"))?;
                    let side = Arc::new(Side {
                        rt,
                        endpoint: self.endpoint.clone(),
                        conn: Some(arrival.conn),
                    });
                    return Ok(halves(send, recv, side));
                }
                (_, verdict) => {
                    arrival.conn.close(2u32.into(), b"refused");
                    let why = verdict.unwrap_or_else(|| "refused".into());
                    self.gate.refuse(describe(arrival.from), why);
                }
            }
        }
    }
}

fn halves(send: SendStream, recv: RecvStream, side: Arc<Side>) -> (QuicSender, QuicReceiver) {
    (
        QuicSender {
            send,
            side: Arc::clone(&side),
        },
        QuicReceiver {
            recv,
            buf: Vec::new(),
            side,
        },
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The address, the certificate and, if the endpoint has one, the token.
fn parse(endpoint: &Endpoint) -> Result<(SocketAddr, Vec<u8>, Option<&str>), OpenError> {
    let bad = || OpenError::BadEndpoint(endpoint.0.clone());
    let rest = endpoint.0.strip_prefix(PREFIX).ok_or_else(bad)?;
    let (public, token) = match rest.split_once('#') {
        Some((p, t)) if t.len() == TOKEN_LEN => (p, Some(t)),
        Some(_) => return Err(bad()),
        None => (rest, None),
    };
    let (addr, cert) = public.split_once('/').ok_or_else(bad)?;
    let addr = addr
        .parse::<SocketAddr>()
        .ok()
        .filter(|a| a.port() != 0 && !a.ip().is_unspecified())
        .ok_or_else(bad)?;
    let cert = unhex(cert).filter(|c| !c.is_empty()).ok_or_else(bad)?;
    Ok((addr, cert, token))
}

impl transport::Transport for Quic {
    const NAME: &'static str = "quic";
    const DESCRIPTION: &'static str =
        "QUIC (quinn, TLS 1.3) over UDP, one bidirectional stream, length-prefixed frames";
    const CROSSES_HOSTS: bool = true;
    type Sender = QuicSender;
    type Receiver = QuicReceiver;
    type Listener = QuicListener;

    fn listen(opts: &Options) -> Result<(QuicListener, Endpoint), OpenError> {
        Self::listen_at(opts, IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    fn listen_at(_opts: &Options, bind: IpAddr) -> Result<(QuicListener, Endpoint), OpenError> {
        let cert = rcgen::generate_simple_self_signed(vec![SERVER_NAME.to_owned()])
            .map_err(|e| backend("making a certificate", e))?;
        let cert_der = cert.cert.der().clone();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
        let mut server = quinn::ServerConfig::with_single_cert(vec![cert_der.clone()], key)
            .map_err(|e| backend("server configuration", e))?;
        server.transport_config(transport_config());
        let rt = runtime()?;
        let endpoint = {
            let _guard = rt.enter();
            QEndpoint::server(server, SocketAddr::new(bind, 0))
                .map_err(|e| OpenError::io(format!("bind {}", SocketAddr::new(bind, 0)), e))?
        };
        let addr = endpoint
            .local_addr()
            .map_err(|e| OpenError::io("getsockname", e))?;
        let token = transport::peer::random_token()?;
        let (tx, arrivals) = mpsc::unbounded_channel();
        rt.spawn(handshakes(endpoint.clone(), token, tx));
        let ep = Endpoint(format!(
            "{PREFIX}{addr}/{}#{}",
            hex(&cert_der),
            String::from_utf8_lossy(&token)
        ));
        Ok((
            QuicListener {
                rt: Some(rt),
                endpoint,
                arrivals,
                gate: Gate::new(),
            },
            ep,
        ))
    }

    /// Handshakes, trusting only the certificate the endpoint carries, and
    /// sends the token (an endpoint without one, all a stranger can see,
    /// still connects, and is refused by the listener).
    fn connect(endpoint: &Endpoint, _opts: &Options) -> Result<(QuicSender, QuicReceiver), OpenError> {
        let (addr, cert, token) = parse(endpoint)?;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls::pki_types::CertificateDer::from(cert))
            .map_err(|e| backend("the endpoint's certificate", e))?;
        let mut client = quinn::ClientConfig::with_root_certificates(Arc::new(roots))
            .map_err(|e| backend("client configuration", e))?;
        client.transport_config(transport_config());
        let rt = runtime()?;
        // On loopback, bind loopback: the listener can then name us from
        // /proc/net/udp when it refuses us.
        let local: IpAddr = match addr.ip() {
            ip if ip.is_loopback() => ip,
            IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
            IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
        };
        let endpoint = {
            let _guard = rt.enter();
            QEndpoint::client(SocketAddr::new(local, 0))
                .map_err(|e| OpenError::io("bind a UDP socket", e))?
        };
        let proof = token.map_or([b'-'; TOKEN_LEN].to_vec(), |t| t.as_bytes().to_vec());
        let connecting = {
            let _guard = rt.enter();
            endpoint
                .connect_with(client, addr, SERVER_NAME)
                .map_err(|e| backend(&format!("connect {addr}"), e))?
        };
        let opened = rt.block_on(async {
            tokio::time::timeout(CONNECT_WAIT, async {
                let conn = connecting.await.map_err(|e| backend(&format!("connect {addr}"), e))?;
                let (mut send, recv) = conn
                    .open_bi()
                    .await
                    .map_err(|e| backend("opening the stream", e))?;
                send.write_all(&proof)
                    .await
                    .map_err(|e| backend("sending the token", e))?;
                Ok::<_, OpenError>((conn, send, recv))
            })
            .await
        });
        let (conn, send, recv) = match opened {
            Ok(r) => r?,
            Err(_) => {
                return Err(backend(
                    &format!("connect {addr}"),
                    format!("no handshake within {CONNECT_WAIT:?}"),
                ));
            }
        };
        let side = Arc::new(Side {
            rt,
            endpoint,
            conn: Some(conn),
        });
        Ok(halves(send, recv, side))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_round_trip_and_garbage_is_refused() {
        let token = "0123456789abcdef0123456789abcdef";
        let ok = Endpoint(format!("quic:127.0.0.1:4242/3082ab#{token}"));
        let (addr, cert, t) = parse(&ok).expect("valid");
        assert_eq!(addr, SocketAddr::from(([127, 0, 0, 1], 4242)));
        assert_eq!(cert, [0x30, 0x82, 0xab]);
        assert_eq!(t, Some(token));
        for bad in [
            "quic:127.0.0.1:4242",
            "quic:127.0.0.1:0/30",
            "quic:0.0.0.0:1/30",
            "quic:127.0.0.1:1/3",
            "quic:127.0.0.1:1/zz",
            "tcp:127.0.0.1:1",
            "quic:127.0.0.1:1/30#short",
        ] {
            assert!(parse(&Endpoint(bad.into())).is_err(), "{bad}");
        }
    }
}
