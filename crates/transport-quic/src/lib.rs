//! QUIC backend (quinn): one connection over UDP carrying one bidirectional
//! stream of length-prefixed frames, TLS 1.3 underneath, as users who leave
//! the machine increasingly pick it (HTTP/3, encrypted and multiplexed by
//! default). It is the library `ipcbench run --remote` offers besides TCP
//! (docs/methodology.md, "Across hosts", says why QUIC rather than ZeroMQ).
//!
//! The `Transport` contract is synchronous, so each side owns a tokio
//! runtime with one worker thread, which drives the connection (ACKs, keep-
//! alives, retransmissions) while the caller is elsewhere; every `send` and
//! `recv` is one `block_on` of a stream write or read (`halves`).
//!
//! The listener makes a self-signed certificate per connection; the endpoint
//! carries it (`quic:ADDR:PORT/CERT_HEX#TOKEN`, `endpoint`), so the
//! connecting side trusts exactly that certificate, and the secret token
//! after the `#`, which the connecting side writes first on its stream,
//! admits only the expected peer (QUIC cannot tell which process is on the
//! other end). Handshakes run in the background from `listen` on, so
//! `connect` returns before `accept` is called; `accept` then judges each
//! connection by its token, closing and naming those without it: by the
//! pid that owns the UDP socket where /proc tells, else by address
//! (`listener`).
//!
//! A peer that ends cleanly finishes its stream and waits until we
//! acknowledged all of it, also when its process exits without dropping
//! its halves (`linger`); then it closes the connection: `recv` drains,
//! then `Disconnected`, and `send` fails at once. One that is killed sends
//! nothing, and is noticed when the connection's idle timeout
//! ([`IDLE_TIMEOUT`]) passes without its keep-alives. A dropped receiver
//! stops the stream, so the peer's `send` fails.

#![deny(unsafe_code)]

mod endpoint;
mod halves;
mod linger;
mod listener;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use quinn::Endpoint as QEndpoint;
use tokio::runtime::Runtime;
use transport::peer::TOKEN_LEN;
use transport::{Endpoint, OpenError, Options};

pub use halves::{QuicReceiver, QuicSender};
pub use linger::LINGER;
pub use listener::QuicListener;

use halves::{Side, halves};

/// The QUIC transport.
#[derive(Debug)]
pub struct Quic;

/// How long a connection may go without hearing from its peer: a killed
/// peer sends nothing, and this is how soon the survivor knows.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(3);

/// How often each side shows it is alive.
const KEEP_ALIVE: Duration = Duration::from_millis(500);

/// How long `connect` may take for the handshake.
const CONNECT_WAIT: Duration = Duration::from_secs(10);

/// The name in the certificate, which the connecting side checks.
const SERVER_NAME: &str = "ipcbench";

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
        let ep = endpoint::format(addr, &cert_der, &token);
        Ok((QuicListener::start(rt, endpoint, token), ep))
    }

    /// Handshakes, trusting only the certificate the endpoint carries, and
    /// sends the token (an endpoint without one, all a stranger can see,
    /// still connects, and is refused by the listener).
    fn connect(
        endpoint: &Endpoint,
        _opts: &Options,
    ) -> Result<(QuicSender, QuicReceiver), OpenError> {
        let (addr, cert, token) = endpoint::parse(endpoint)?;
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
        let local_endpoint = {
            let _guard = rt.enter();
            QEndpoint::client(SocketAddr::new(local, 0))
                .map_err(|e| OpenError::io("bind a UDP socket", e))?
        };
        let proof = token.map_or([b'-'; TOKEN_LEN].to_vec(), |t| t.as_bytes().to_vec());
        let connecting = {
            let _guard = rt.enter();
            local_endpoint
                .connect_with(client, addr, SERVER_NAME)
                .map_err(|e| backend(&format!("connect {addr}"), e))?
        };
        let opened = rt.block_on(async {
            tokio::time::timeout(CONNECT_WAIT, async {
                let conn = connecting
                    .await
                    .map_err(|e| backend(&format!("connect {addr}"), e))?;
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
            endpoint: local_endpoint,
            conn,
        });
        Ok(halves(send, recv, side))
    }
}
