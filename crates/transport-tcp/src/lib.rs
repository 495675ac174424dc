//! TCP backend: one loopback connection (127.0.0.1) carrying length-prefixed
//! frames, the reference for what going through the full network stack costs
//! next to the Unix-domain transports. `listen_at` binds another address
//! instead (IPv4 or IPv6), which is how `ipcbench serve` lets a producer on
//! another host connect; the local default stays loopback.
//!
//! The listener binds port 0, so the kernel picks a free ephemeral port and
//! parallel runs never collide; the endpoint carries that port. Both ends set
//! `TCP_NODELAY`: the benchmark's messages are request/response sized, and
//! Nagle's algorithm would otherwise hold a small frame back until the previous
//! one is acknowledged (up to the 40 ms delayed-ACK timer), which measures TCP's
//! batching policy rather than its cost.
//!
//! A dead peer shows as end of stream (`read` returns 0) when it closed with its
//! receive queue empty, or as `ECONNRESET` when it died with unread data (the
//! kernel then sends a reset and drops whatever was still in flight to us);
//! both map to `Disconnected`. Writes to a reset connection fail with `EPIPE`
//! or `ECONNRESET`, also `Disconnected`. Nothing is created in the file system.
//!
//! Any local process can connect to a loopback port, and TCP cannot say which
//! process is on the other end, so the endpoint carries a random token after a
//! `#` (`tcp:127.0.0.1:PORT#TOKEN`, the secret part of [`Endpoint::public`]):
//! the connecting side sends it first, and the listener closes any connection
//! whose first [`TOKEN_LEN`] bytes are not that token, then keeps waiting. A
//! refused connection is named by its address and, through /proc, its owner
//! ([`transport::peer::PeerCred::of_loopback_tcp`]).

#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use transport::endpoint::Fields;
use transport::framing::{self, FramedReader, FramedWriter};
use transport::peer::{Gate, PeerCred};
use transport::{DEFAULT_MAX_MESSAGE_SIZE, Endpoint, OpenError, Options};

/// The TCP loopback transport.
#[derive(Debug)]
pub struct Tcp;

/// A bound, listening socket waiting for its one peer, and the token that
/// peer must send.
#[derive(Debug)]
pub struct TcpListenerHalf {
    listener: TcpListener,
    token: [u8; TOKEN_LEN],
    gate: Gate,
}

/// Length of the token, in hex digits (128 random bits).
pub const TOKEN_LEN: usize = 32;

/// How long an accepted connection may take to send its token before it is
/// refused: the real peer sends it right after connecting, so this only
/// bounds how long a silent intruder holds up the real peer.
const TOKEN_WAIT: Duration = Duration::from_secs(2);

const PREFIX: &str = "tcp:";

type Halves = (FramedWriter<TcpStream>, FramedReader<TcpStream>);

fn halves(stream: TcpStream) -> Result<Halves, OpenError> {
    stream
        .set_nodelay(true)
        .map_err(|e| OpenError::io("setting TCP_NODELAY", e))?;
    framing::duplex(stream, DEFAULT_MAX_MESSAGE_SIZE)
}

/// 128 bits from the kernel's random source, as hex digits.
fn random_token() -> Result<[u8; TOKEN_LEN], OpenError> {
    let mut raw = [0u8; TOKEN_LEN / 2];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut raw))
        .map_err(|e| OpenError::io("reading /dev/urandom", e))?;
    let mut token = [0u8; TOKEN_LEN];
    for (pair, byte) in token.chunks_exact_mut(2).zip(raw) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0xf)];
    }
    Ok(token)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl TcpListenerHalf {
    /// Reads the token from a fresh connection: `Ok(None)` admits it,
    /// `Ok(Some(why))` refuses it.
    fn check_token(
        &self,
        stream: &mut TcpStream,
        deadline: Instant,
    ) -> Result<Option<String>, OpenError> {
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .min(TOKEN_WAIT)
            .max(Duration::from_millis(1));
        stream
            .set_read_timeout(Some(wait))
            .map_err(|e| OpenError::io("setting SO_RCVTIMEO", e))?;
        let mut got = [0u8; TOKEN_LEN];
        let verdict = match stream.read_exact(&mut got) {
            // Compare every byte, so timing does not leak a matching prefix.
            Ok(())
                if got
                    .iter()
                    .zip(&self.token)
                    .fold(0, |acc, (a, b)| acc | (a ^ b))
                    == 0 =>
            {
                None
            }
            Ok(()) => Some("sent the wrong token".to_owned()),
            Err(e) => Some(format!("sent no token within {wait:?} ({e})")),
        };
        stream
            .set_read_timeout(None)
            .map_err(|e| OpenError::io("clearing SO_RCVTIMEO", e))?;
        Ok(verdict)
    }
}

impl transport::Listener for TcpListenerHalf {
    type Sender = FramedWriter<TcpStream>;
    type Receiver = FramedReader<TcpStream>;

    fn expect_peer(&mut self, _pid: u32) -> bool {
        // TCP cannot see the pid; the token does the job.
        true
    }

    fn accept(mut self, deadline: Instant) -> Result<Halves, OpenError> {
        loop {
            self.gate.wait(&self.listener, deadline)?;
            // The listener is non-blocking, so a connection that vanished
            // between poll and accept sends us back to waiting, not to sleep.
            let (mut stream, from) = match self.listener.accept() {
                Ok(accepted) => accepted,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::Interrupted
                            | std::io::ErrorKind::ConnectionAborted
                    ) =>
                {
                    continue;
                }
                Err(e) => return Err(OpenError::io("accept", e)),
            };
            // Accepted sockets do not inherit O_NONBLOCK on Linux, but the
            // frames below rely on blocking I/O, so make it explicit.
            stream
                .set_nonblocking(false)
                .map_err(|e| OpenError::io("clearing O_NONBLOCK", e))?;
            match self.check_token(&mut stream, deadline)? {
                None => return halves(stream),
                Some(why) => self.gate.refuse(describe(from), why),
            }
        }
    }
}

/// A refused connection: its address, and its owner where /proc tells.
fn describe(from: SocketAddr) -> String {
    let SocketAddr::V4(v4) = from else {
        return from.to_string();
    };
    match PeerCred::of_loopback_tcp(v4) {
        Some((uid, Some(pid))) => format!("{from}, {}", PeerCred { pid, uid }),
        Some((uid, None)) => format!("{from}, uid {uid}"),
        None => from.to_string(),
    }
}

/// The address and, if the endpoint has one, the token.
fn parse(endpoint: &Endpoint) -> Result<(SocketAddr, Option<&str>), OpenError> {
    let mut fields = Fields::read_with_token(endpoint, "tcp:<ip>:<port>[#<token>]", TOKEN_LEN)?;
    fields.scheme("tcp")?;
    let text = fields.rest("address")?;
    let addr = text
        .parse::<SocketAddr>()
        .ok()
        .filter(|a| a.port() != 0 && !a.ip().is_unspecified())
        .ok_or_else(|| fields.bad("address", text))?;
    Ok((addr, fields.token()))
}

impl transport::Transport for Tcp {
    const NAME: &'static str = "tcp";
    const DESCRIPTION: &'static str =
        "TCP over loopback (127.0.0.1, TCP_NODELAY), length-prefixed frames";
    type Sender = FramedWriter<TcpStream>;
    type Receiver = FramedReader<TcpStream>;
    type Listener = TcpListenerHalf;

    const CROSSES_HOSTS: bool = true;

    fn listen(opts: &Options) -> Result<(TcpListenerHalf, Endpoint), OpenError> {
        Self::listen_at(opts, IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    /// Binds `bind` (port 0: the kernel's choice). The endpoint names that
    /// address, so it must be one the peer can reach, not `0.0.0.0`.
    fn listen_at(_opts: &Options, bind: IpAddr) -> Result<(TcpListenerHalf, Endpoint), OpenError> {
        let listener = TcpListener::bind((bind, 0))
            .map_err(|e| OpenError::io(format!("bind {}", SocketAddr::new(bind, 0)), e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| OpenError::io("setting O_NONBLOCK on the listener", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| OpenError::io("getsockname", e))?;
        let token = random_token()?;
        let endpoint = Endpoint(format!(
            "{PREFIX}{addr}#{}",
            String::from_utf8_lossy(&token)
        ));
        Ok((
            TcpListenerHalf {
                listener,
                token,
                gate: Gate::new(),
            },
            endpoint,
        ))
    }

    /// Connects and proves knowledge of the token. An endpoint without one
    /// (all a stranger can see) still connects, and is refused by the
    /// listener.
    fn connect(endpoint: &Endpoint, _opts: &Options) -> Result<Halves, OpenError> {
        let (addr, token) = parse(endpoint)?;
        let mut stream =
            TcpStream::connect(addr).map_err(|e| OpenError::io(format!("connect {addr}"), e))?;
        let proof = token.map_or([b'-'; TOKEN_LEN].to_vec(), |t| t.as_bytes().to_vec());
        stream
            .write_all(&proof)
            .map_err(|e| OpenError::io(format!("sending the token to {addr}"), e))?;
        halves(stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_round_trips_and_rejects_garbage() {
        let token = "0123456789abcdef0123456789abcdef";
        let ok = Endpoint(format!("tcp:127.0.0.1:4242#{token}"));
        let (addr, t) = parse(&ok).expect("valid");
        assert_eq!(addr, SocketAddr::from(([127, 0, 0, 1], 4242)));
        assert_eq!(t, Some(token));
        let public = Endpoint(ok.public().to_owned());
        assert_eq!(parse(&public).expect("valid without a token").1, None);
        for bad in [
            "tcp:127.0.0.1:0",
            "tcp:localhost:1",
            "uds:@x",
            "tcp:",
            "",
            "tcp:127.0.0.1:1#short",
            "tcp:0.0.0.0:4242",
        ] {
            assert!(parse(&Endpoint(bad.into())).is_err(), "{bad}");
        }
    }

    #[test]
    fn listen_at_binds_and_names_the_address_given() {
        use transport::{Listener, Transport};
        let opts = Options::unique("tcp-at");
        let bind: IpAddr = "127.0.0.2".parse().expect("address");
        let (listener, ep) = Tcp::listen_at(&opts, bind).expect("listen_at");
        assert!(ep.0.starts_with("tcp:127.0.0.2:"), "{ep}");
        let (mut tx, _rx) = Tcp::connect(&ep, &opts).expect("connect");
        let (_tx, mut rx) = listener
            .accept(Instant::now() + Duration::from_secs(5))
            .expect("accept");
        tx.send(b"across").expect("send");
        assert_eq!(rx.recv().expect("recv"), b"across");
        let v6 = Endpoint(format!("tcp:[::1]:4242#{}", "0".repeat(TOKEN_LEN)));
        assert_eq!(
            parse(&v6).expect("IPv6").0,
            "[::1]:4242".parse().expect("v6")
        );
    }

    #[test]
    fn tokens_are_hex_and_differ() {
        let a = random_token().expect("token");
        let b = random_token().expect("token");
        assert_ne!(a, b);
        assert!(a.iter().all(u8::is_ascii_hexdigit));
    }
}
