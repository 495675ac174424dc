//! The sending and receiving halves: one datagram per message, a kind byte
//! and a sequence number before the payload, and credits flowing back so
//! that the sender never has more in flight than the receiver's socket
//! buffer holds (loopback UDP drops what does not fit, silently). A gap in
//! the sequence is still reported, as corruption, never skipped.
//!
//! Each side has two sockets, one per half, so neither half ever reads a
//! datagram meant for the other: the sender's socket sends data and
//! receives credits, the receiver's receives data and sends credits.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, poll};
use rustix::net::{RecvAncillaryBuffer, RecvFlags, ReturnFlags, SendAncillaryBuffer, SendFlags};
use transport::peer::{TOKEN_LEN, same_token};
use transport::process::PeerProcess;
use transport::{RecvError, SendError};

/// Kinds of datagram: the first byte of each.
pub const DATA: u8 = 0;
pub const HELLO: u8 = 1;
pub const WELCOME: u8 = 2;
pub const REFUSED: u8 = 3;
pub const BYE: u8 = 4;
pub const CREDIT: u8 = 5;
/// The receiver was dropped: the peer's sender stops (its credits would
/// never come).
pub const CLOSED: u8 = 6;
/// Kind and sequence number.
pub const HEADER: usize = 9;
/// The largest UDP payload over IPv4.
pub const MAX_DATAGRAM: usize = 65_507;
/// The largest message.
pub const MAX: usize = MAX_DATAGRAM - HEADER;
/// How often a wait without a pidfd probes the peer.
const RECHECK: Duration = Duration::from_millis(50);

/// What a datagram of `len` payload bytes may cost the receiving socket's
/// buffer (`skb->truesize`: the data rounded up to its allocation, plus the
/// socket buffer's own structures), rounded up so the estimate errs high.
pub fn charge(len: usize) -> u64 {
    ((len + HEADER + 320).next_power_of_two() + 1024) as u64
}

/// How much the sender may have in flight: half the receive buffer, but
/// room for two of the largest datagrams (the kernel takes one datagram
/// past a full buffer), never more than the whole buffer.
pub fn window(rcvbuf: usize) -> u64 {
    let buf = rcvbuf as u64;
    (buf / 2).max(2 * charge(MAX)).min(buf)
}

/// Waits until `sock` is readable or the peer dies; true if it died.
fn wait(sock: &UdpSocket, peer: &PeerProcess) -> io::Result<bool> {
    let mut fds = vec![PollFd::new(sock, PollFlags::IN)];
    if let Some(p) = peer.pidfd() {
        fds.push(PollFd::from_borrowed_fd(p, PollFlags::IN));
    }
    let tick = rustix::time::Timespec {
        tv_sec: 0,
        tv_nsec: RECHECK.as_nanos() as i64,
    };
    let limit = peer.pidfd().is_none().then_some(&tick);
    match poll(&mut fds, limit) {
        Ok(_) | Err(rustix::io::Errno::INTR) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(fds.get(1).is_some_and(|p| !p.revents().is_empty()) || !peer.alive())
}

fn send_err(e: io::Error) -> SendError {
    match e.kind() {
        // An ICMP port unreachable: the peer's socket is closed.
        io::ErrorKind::ConnectionRefused => SendError::Disconnected,
        _ => SendError::from(e),
    }
}

/// Sends kind, a 64-bit number and a payload as one datagram on a
/// connected socket.
pub fn send_dgram(sock: &UdpSocket, kind: u8, n: u64, payload: &[u8]) -> io::Result<()> {
    let mut head = [0u8; HEADER];
    head[0] = kind;
    head[1..].copy_from_slice(&n.to_le_bytes());
    let iov = [IoSlice::new(&head), IoSlice::new(payload)];
    loop {
        match rustix::net::sendmsg(
            sock,
            &iov,
            &mut SendAncillaryBuffer::default(),
            SendFlags::empty(),
        ) {
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// The sending half: data out, credits in.
#[derive(Debug)]
pub struct UdpSender {
    pub(crate) sock: UdpSocket,
    pub(crate) peer: PeerProcess,
    pub(crate) seq: u64,
    /// Bytes (as [`charge`]s) sent, and granted by the receiver so far.
    pub(crate) sent: u64,
    pub(crate) granted: u64,
    pub(crate) window: u64,
    /// Set by either half of this side once the peer said it is closing.
    pub(crate) closed: Arc<AtomicBool>,
}

impl UdpSender {
    /// Takes every credit waiting; `Disconnected` if the peer's socket is
    /// gone.
    fn take_credits(&mut self) -> Result<(), SendError> {
        let mut rec = [0u8; HEADER];
        loop {
            match self.sock.recv(&mut rec) {
                Ok(HEADER) if rec[0] == CREDIT => {
                    let n = u64::from_le_bytes(rec[1..].try_into().unwrap_or_default());
                    self.granted = self.granted.max(n);
                }
                Ok(HEADER) if rec[0] == CLOSED => {
                    self.closed.store(true, Ordering::Relaxed);
                    return Err(SendError::Disconnected);
                }
                // Anything else on this socket is not ours to judge.
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(send_err(e)),
            }
        }
    }
}

impl transport::Sender for UdpSender {
    fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        if msg.len() > MAX {
            return Err(SendError::TooLarge {
                size: msg.len(),
                max: MAX,
            });
        }
        if self.closed.load(Ordering::Relaxed) {
            return Err(SendError::Disconnected);
        }
        let cost = charge(msg.len());
        while self.sent + cost > self.granted + self.window {
            self.take_credits()?;
            if self.sent + cost <= self.granted + self.window {
                break;
            }
            if wait(&self.sock, &self.peer).map_err(SendError::Io)? {
                self.take_credits()?;
                if self.sent + cost > self.granted + self.window {
                    return Err(SendError::Disconnected);
                }
            }
        }
        send_dgram(&self.sock, DATA, self.seq, msg).map_err(send_err)?;
        self.seq += 1;
        self.sent += cost;
        Ok(())
    }
}

impl Drop for UdpSender {
    /// Says goodbye: the peer's receiver ends after everything before it.
    fn drop(&mut self) {
        let _ = send_dgram(&self.sock, BYE, self.seq, &[]);
    }
}

/// The receiving half: data in, credits out.
#[derive(Debug)]
pub struct UdpReceiver {
    pub(crate) sock: UdpSocket,
    pub(crate) peer: PeerProcess,
    /// Only datagrams from here are data (a stranger may have queued some
    /// before the socket was connected); `None` on a connector until the
    /// listener's welcome names it.
    pub(crate) from: Option<SocketAddr>,
    /// The listener's door: the only source of a refusal.
    pub(crate) door: Option<SocketAddr>,
    /// The token a welcome must carry (connector side).
    pub(crate) token: Option<[u8; TOKEN_LEN]>,
    pub(crate) seq: u64,
    /// Bytes consumed (as [`charge`]s), and granted back so far.
    pub(crate) consumed: u64,
    pub(crate) granted: u64,
    pub(crate) window: u64,
    pub(crate) buf: Vec<u8>,
    /// Shared with this side's sender: the peer said goodbye.
    pub(crate) closed: Arc<AtomicBool>,
}

impl UdpReceiver {
    /// Grants what was consumed once it is a quarter of the window.
    fn grant(&mut self) -> Result<(), RecvError> {
        if self.consumed - self.granted >= self.window / 4 {
            match send_dgram(&self.sock, CREDIT, self.consumed, &[]) {
                // A sender that is gone needs no credit; recv notices it.
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                Err(e) => return Err(RecvError::Io(e)),
            }
            self.granted = self.consumed;
        }
        Ok(())
    }

    /// The next datagram and its source, `None` if none is waiting.
    fn next(&mut self) -> Result<Option<(usize, Option<SocketAddr>)>, RecvError> {
        let mut iov = [IoSliceMut::new(&mut self.buf)];
        let got = rustix::net::recvmsg(
            &self.sock,
            &mut iov,
            &mut RecvAncillaryBuffer::default(),
            RecvFlags::DONTWAIT,
        );
        match got {
            Ok(m) if m.flags.contains(ReturnFlags::TRUNC) => Err(RecvError::Corrupt(format!(
                "a datagram larger than the maximum of {MAX_DATAGRAM} bytes"
            ))),
            Ok(m) => {
                let from = m.address.and_then(|a| SocketAddr::try_from(a).ok());
                Ok(Some((m.bytes, from)))
            }
            Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => Ok(None),
            // A credit we sent bounced: the sender's socket is closed.
            Err(rustix::io::Errno::CONNREFUSED) => Ok(None),
            Err(e) => Err(RecvError::Io(e.into())),
        }
    }
}

impl transport::Receiver for UdpReceiver {
    fn recv(&mut self) -> Result<&[u8], RecvError> {
        let mut dead = false;
        let n = loop {
            if self.closed.load(Ordering::Relaxed) {
                return Err(RecvError::Disconnected);
            }
            let Some((n, src)) = self.next()? else {
                if dead {
                    return Err(RecvError::Disconnected);
                }
                dead = wait(&self.sock, &self.peer).map_err(RecvError::Io)?;
                continue;
            };
            if n < HEADER {
                continue;
            }
            let kind = self.buf[0];
            if kind == REFUSED && src.is_some() && src == self.door && self.from.is_none() {
                self.closed.store(true, Ordering::Relaxed);
                return Err(RecvError::Io(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "the listener refused this connection (no or wrong secret token)",
                )));
            }
            if kind == WELCOME && self.from.is_none() {
                let proof = &self.buf[HEADER..n];
                if let (Some(src), Some(token)) = (src, &self.token)
                    && same_token(proof, token)
                {
                    self.sock.connect(src).map_err(RecvError::Io)?;
                    self.from = Some(src);
                }
                continue;
            }
            if self.from.is_none() || src != self.from {
                continue;
            }
            match kind {
                DATA => break n,
                BYE => {
                    self.closed.store(true, Ordering::Relaxed);
                    return Err(RecvError::Disconnected);
                }
                k => {
                    return Err(RecvError::Corrupt(format!(
                        "a datagram of unknown kind {k}"
                    )));
                }
            }
        };
        let seq = u64::from_le_bytes(self.buf[1..HEADER].try_into().unwrap_or_default());
        if seq != self.seq {
            return Err(RecvError::Corrupt(format!(
                "datagram #{} lost (#{seq} came next): a loss the credits should have prevented",
                self.seq
            )));
        }
        self.seq += 1;
        self.consumed += charge(n - HEADER);
        self.grant()?;
        Ok(&self.buf[HEADER..n])
    }
}

impl Drop for UdpReceiver {
    /// Tells the peer's sender that no credit will come any more (a closed
    /// socket's ICMP answer is rate-limited machine-wide, so it may never
    /// come).
    fn drop(&mut self) {
        if self.from.is_some() {
            let _ = send_dgram(&self.sock, CLOSED, self.consumed, &[]);
        }
    }
}
