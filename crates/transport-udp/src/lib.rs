//! UDP over loopback (127.0.0.1): one datagram per message, at most
//! 65,507 bytes less a 9-byte header, credit-based flow control so that
//! nothing is dropped, and sequence numbers so that a loss it still meets
//! is an error.
//!
//! - **Set-up.** `listen` binds the door (port 0, the kernel picks) and
//!   names it with a secret token: `udp:<pid>:127.0.0.1:<port>#<token>`.
//!   `connect` binds two sockets, one per half, connects the sending one to
//!   the door and sends a hello from it (its pid, the token, the receiving
//!   socket's port); it does not wait. `accept` refuses a hello without the
//!   token (a refused datagram to the sender, named if the deadline
//!   passes), as TCP does: anyone can send to a loopback port, and UDP
//!   cannot say who. The admitted peer's sending socket becomes the door's
//!   peer, so the door, now the listener's receiving socket, takes
//!   datagrams from it alone; a new socket sends to the peer's receiving
//!   one, first a welcome carrying the token, which the peer checks before
//!   it takes data from that address.
//! - **No loss.** Loopback UDP drops a datagram that does not fit the
//!   receiving socket's buffer. The receiver grants credits (the buffer
//!   space it has freed, cumulative) and the sender keeps what it has in
//!   flight under a window of that buffer; a gap in the sequence numbers is
//!   still reported as `Corrupt`.
//! - **Ends.** UDP has no end of file. A dropped sender sends a goodbye; a
//!   closed peer socket answers with ICMP port unreachable, which the next
//!   `send` reports (`ECONNREFUSED`, mapped to `Disconnected`); waits poll
//!   the peer's pidfd ([`transport::process::PeerProcess`]).

mod halves;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::Instant;

use rustix::net::sockopt;
use transport::endpoint::Fields;
use transport::peer::{Gate, PeerCred, TOKEN_LEN, random_token, same_token};
use transport::process::PeerProcess;
use transport::{Capabilities, Endpoint, OpenError, Options};

use halves::{HELLO, REFUSED, WELCOME, send_dgram, window};
pub use halves::{MAX, UdpReceiver, UdpSender};

/// The UDP loopback transport.
#[derive(Debug)]
pub struct Udp;

/// The receive buffer asked for; the kernel caps it at `rmem_max`.
const RCVBUF: usize = 4 << 20;
const PREFIX: &str = "udp:";

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> OpenError {
    let what = what.into();
    move |e| OpenError::io(what, e)
}

/// A loopback socket on a free port, with a large receive buffer; the
/// window its peer may fill.
fn socket() -> Result<(UdpSocket, u64), OpenError> {
    let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io_err("bind 127.0.0.1:0"))?;
    sockopt::set_socket_recv_buffer_size(&s, RCVBUF).map_err(|e| io_err("SO_RCVBUF")(e.into()))?;
    let got = sockopt::socket_recv_buffer_size(&s).map_err(|e| io_err("SO_RCVBUF")(e.into()))?;
    Ok((s, window(got)))
}

fn port_of(s: &UdpSocket) -> Result<u16, OpenError> {
    Ok(s.local_addr().map_err(io_err("getsockname"))?.port())
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
}

/// The door, waiting for its peer's hello.
#[derive(Debug)]
pub struct UdpListener {
    door: UdpSocket,
    window: u64,
    token: [u8; TOKEN_LEN],
    gate: Gate,
}

/// A hello: kind and pid (the header's number), the token and the port of
/// the connector's receiving socket.
struct Hello {
    pid: u32,
    token_ok: bool,
    reply_port: u16,
}

impl UdpListener {
    fn read_hello(&self, buf: &mut [u8]) -> Result<Option<(Hello, SocketAddr)>, OpenError> {
        let (n, from) = match self.door.recv_from(buf) {
            Ok(got) => got,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                ) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(OpenError::io("recvfrom on the door", e)),
        };
        let want = halves::HEADER + TOKEN_LEN + 2;
        if n != want || buf[0] != HELLO {
            return Ok(Some((
                Hello {
                    pid: 0,
                    token_ok: false,
                    reply_port: 0,
                },
                from,
            )));
        }
        let pid = u64::from_le_bytes(buf[1..halves::HEADER].try_into().unwrap_or_default());
        let token = &buf[halves::HEADER..halves::HEADER + TOKEN_LEN];
        let port = u16::from_le_bytes([buf[want - 2], buf[want - 1]]);
        Ok(Some((
            Hello {
                pid: u32::try_from(pid).unwrap_or(0),
                token_ok: same_token(token, &self.token),
                reply_port: port,
            },
            from,
        )))
    }
}

impl transport::Listener for UdpListener {
    type Sender = UdpSender;
    type Receiver = UdpReceiver;

    fn expect_peer(&mut self, pid: u32) -> bool {
        // UDP cannot see the sender; the token does the job, and the pid
        // a hello claims is checked too.
        self.gate.expect(pid);
        true
    }

    fn accept(mut self, deadline: Instant) -> Result<(UdpSender, UdpReceiver), OpenError> {
        let mut buf = vec![0u8; halves::MAX_DATAGRAM];
        loop {
            self.gate.wait(&self.door, deadline)?;
            let Some((hello, from)) = self.read_hello(&mut buf)? else {
                continue;
            };
            let who = match from {
                SocketAddr::V4(v4) => match PeerCred::of_loopback_udp(v4) {
                    Some((uid, Some(pid))) => format!("{from}, {}", PeerCred { pid, uid }),
                    _ => format!("{from}, claiming pid {}", hello.pid),
                },
                SocketAddr::V6(_) => from.to_string(),
            };
            let refuse = |why: &str, gate: &mut Gate| {
                gate.refuse(who.clone(), why.to_owned());
                if hello.reply_port != 0 {
                    let _ = self
                        .door
                        .send_to(&[REFUSED; halves::HEADER], loopback(hello.reply_port));
                }
            };
            if !hello.token_ok {
                refuse("did not send the endpoint's secret token", &mut self.gate);
                continue;
            }
            let claimed = PeerCred {
                pid: hello.pid,
                uid: rustix::process::getuid().as_raw(),
            };
            if !self.gate.admit(claimed) {
                let _ = self
                    .door
                    .send_to(&[REFUSED; halves::HEADER], loopback(hello.reply_port));
                continue;
            }
            // A peer that sent and already exited still gets its messages
            // read: it then reads as dead, and recv ends after them.
            let peer = PeerProcess::open_or_pid(hello.pid);
            self.door
                .connect(from)
                .map_err(io_err("connecting the door to the peer"))?;
            let (out, _) = socket()?;
            out.connect(loopback(hello.reply_port))
                .map_err(io_err("connecting to the peer's receiving socket"))?;
            send_dgram(&out, WELCOME, 0, &self.token).map_err(io_err("welcome"))?;
            return halves(out, self.door, peer, Some(from), None, None, self.window);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn halves(
    out: UdpSocket,
    inp: UdpSocket,
    peer: PeerProcess,
    from: Option<SocketAddr>,
    door: Option<SocketAddr>,
    token: Option<[u8; TOKEN_LEN]>,
    window: u64,
) -> Result<(UdpSender, UdpReceiver), OpenError> {
    for s in [&out, &inp] {
        s.set_nonblocking(true).map_err(io_err("O_NONBLOCK"))?;
    }
    let peer_rx = PeerProcess::open_or_pid(peer.pid());
    let closed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    Ok((
        UdpSender {
            sock: out,
            peer,
            seq: 0,
            sent: 0,
            granted: 0,
            window,
            closed: closed.clone(),
        },
        UdpReceiver {
            sock: inp,
            peer: peer_rx,
            from,
            door,
            token,
            seq: 0,
            consumed: 0,
            granted: 0,
            window,
            buf: vec![0; halves::MAX_DATAGRAM + 1],
            closed,
        },
    ))
}

/// The listener's pid, the door's port and the token (absent from a
/// public endpoint).
fn parse(endpoint: &Endpoint) -> Result<(u32, u16, Option<[u8; TOKEN_LEN]>), OpenError> {
    let mut fields =
        Fields::read_with_token(endpoint, "udp:<pid>:127.0.0.1:<port>[#<token>]", TOKEN_LEN)?;
    fields.scheme("udp")?;
    let pid = fields.pid()?;
    let text = fields.rest("address")?;
    let addr = text
        .parse::<SocketAddrV4>()
        .ok()
        .filter(|a| *a.ip() == Ipv4Addr::LOCALHOST && a.port() != 0)
        .ok_or_else(|| fields.bad("address", text))?;
    // The token's length was checked as it was read.
    let token = match fields.token() {
        Some(t) => Some(
            t.as_bytes()
                .try_into()
                .map_err(|_| fields.bad("token", "of the wrong length"))?,
        ),
        None => None,
    };
    Ok((pid, addr.port(), token))
}

impl transport::Transport for Udp {
    const NAME: &'static str = "udp";
    const DESCRIPTION: &'static str = "UDP over loopback (127.0.0.1), one datagram per message, \
         credit flow control and sequence numbers; a token admits the peer";
    type Sender = UdpSender;
    type Receiver = UdpReceiver;
    type Listener = UdpListener;

    fn listen(_opts: &Options) -> Result<(UdpListener, Endpoint), OpenError> {
        let (door, window) = socket()?;
        door.set_nonblocking(true).map_err(io_err("O_NONBLOCK"))?;
        let token = random_token()?;
        let endpoint = Endpoint(format!(
            "{PREFIX}{}:127.0.0.1:{}#{}",
            std::process::id(),
            port_of(&door)?,
            String::from_utf8_lossy(&token)
        ));
        Ok((
            UdpListener {
                door,
                window,
                token,
                gate: Gate::new(),
            },
            endpoint,
        ))
    }

    /// Sends a hello from the sending socket; a public endpoint (no token)
    /// still reaches the listener, which refuses it.
    fn connect(
        endpoint: &Endpoint,
        _opts: &Options,
    ) -> Result<(UdpSender, UdpReceiver), OpenError> {
        let (pid, port, token) = parse(endpoint)?;
        let listener = PeerProcess::open(pid).map_err(|e| {
            OpenError::Backend(format!(
                "the listener, pid {pid}, of {}: {e}",
                endpoint.public()
            ))
        })?;
        let (out, window) = socket()?;
        let (inp, _) = socket()?;
        out.connect(loopback(port))
            .map_err(io_err(format!("connect 127.0.0.1:{port}")))?;
        let mut hello = token.unwrap_or([b'-'; TOKEN_LEN]).to_vec();
        hello.extend_from_slice(&port_of(&inp)?.to_le_bytes());
        send_dgram(&out, HELLO, u64::from(std::process::id()), &hello)
            .map_err(io_err(format!("hello to 127.0.0.1:{port}")))?;
        halves(
            out,
            inp,
            listener,
            None,
            Some(loopback(port)),
            Some(token.unwrap_or([0; TOKEN_LEN])),
            window,
        )
    }

    fn capabilities() -> Capabilities {
        Capabilities {
            max_message_size: MAX,
            ..Capabilities::default()
        }
    }
}

#[cfg(test)]
mod tests;
