//! Unix datagram socket backend (`SOCK_DGRAM`): one datagram per message,
//! a kind byte before the payload (sent and received as two iovecs, so
//! nothing is copied for it).
//!
//! - **Set-up.** `listen` binds the door, an abstract socket
//!   `@ipcbench-dgram-<tag>`, with `SO_PASSCRED` so that every datagram
//!   carries the sender's pid and uid as the kernel knows them. `connect`
//!   binds its own abstract socket, connects it to the door and sends a
//!   hello; it does not wait. `accept` judges each hello's credentials with
//!   [`transport::peer::Gate`] (our user, the expected pid); a refused one
//!   gets a refused datagram, and is named if the deadline passes. The
//!   admitted peer's address becomes the door's peer (`connect(2)`), after
//!   which the kernel takes datagrams from no one else; ones a stranger
//!   queued before are dropped by source address.
//! - **Sizes.** A datagram is limited by the sender's `SO_SNDBUF` (raised
//!   as far as `wmem_max` allows); larger messages are refused before
//!   anything is sent. A connected Unix datagram socket blocks its sender
//!   while the peer's queue is full (`max_dgram_qlen`): back-pressure, never
//!   loss.
//! - **Ends.** A datagram socket has no end of file. A dropped sender sends
//!   a goodbye datagram; a peer whose socket closed refuses our sends
//!   (`ECONNREFUSED`, mapped to `Disconnected`); a receiver waits with the
//!   peer's pidfd ([`transport::process::PeerProcess`]) so that a dead peer
//!   ends its wait.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rustix::event::{PollFd, PollFlags, poll};
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendFlags, recvmsg, sendmsg, sockopt,
};
use transport::endpoint::Fields;
use transport::peer::{Gate, PeerCred};
use transport::process::PeerProcess;
use transport::{Capabilities, Endpoint, OpenError, Options, RecvError, SendError, shm_names};

/// The Unix datagram socket transport.
#[derive(Debug)]
pub struct UnixDgram;

/// Kinds of datagram: the first byte of each.
const DATA: u8 = 0;
const HELLO: u8 = 1;
const BYE: u8 = 2;
const REFUSED: u8 = 3;

/// The send buffer asked for; the kernel caps it at `wmem_max`.
const SNDBUF: usize = 1 << 20;
/// The largest payload, whatever the buffers allow: a datagram is one
/// kernel allocation.
const CEILING: usize = 512 * 1024;
const PREFIX: &str = "unix-dgram:";

/// The largest payload this machine's `wmem_max` lets one datagram carry:
/// the kernel doubles `SO_SNDBUF` and refuses a datagram above that less
/// 32 bytes; one byte is the kind.
fn max_payload() -> usize {
    let wmem_max = std::fs::read_to_string("/proc/sys/net/core/wmem_max")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(212_992);
    (2 * wmem_max.min(SNDBUF)).saturating_sub(64).min(CEILING) - 1
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> OpenError {
    let what = what.into();
    move |e| OpenError::io(what, e)
}

fn abstract_addr(name: &str) -> Result<SocketAddr, OpenError> {
    SocketAddr::from_abstract_name(name.as_bytes()).map_err(io_err(format!("address @{name}")))
}

/// A socket bound at abstract `name` with a send buffer for the largest
/// datagram.
fn bound(name: &str) -> Result<UnixDatagram, OpenError> {
    let s =
        UnixDatagram::bind_addr(&abstract_addr(name)?).map_err(io_err(format!("bind @{name}")))?;
    sockopt::set_socket_send_buffer_size(&s, SNDBUF).map_err(|e| io_err("SO_SNDBUF")(e.into()))?;
    Ok(s)
}

/// Sends a kind byte and a payload as one datagram, blocking while the
/// peer's queue is full.
fn send_dgram(s: &UnixDatagram, kind: u8, payload: &[u8]) -> io::Result<()> {
    let kind = [kind];
    let iov = [IoSlice::new(&kind), IoSlice::new(payload)];
    loop {
        match sendmsg(
            s,
            &iov,
            &mut SendAncillaryBuffer::default(),
            SendFlags::NOSIGNAL,
        ) {
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// The sending half.
#[derive(Debug)]
pub struct DgramSender {
    sock: UnixDatagram,
    max: usize,
}

impl transport::Sender for DgramSender {
    fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        if msg.len() > self.max {
            return Err(SendError::TooLarge {
                size: msg.len(),
                max: self.max,
            });
        }
        send_dgram(&self.sock, DATA, msg).map_err(|e| match rustix::io::Errno::from_io_error(&e) {
            // The peer's socket is closed (its process died, or it dropped
            // both halves), or it is connected to someone else.
            Some(
                rustix::io::Errno::CONNREFUSED
                | rustix::io::Errno::PERM
                | rustix::io::Errno::DESTADDRREQ
                | rustix::io::Errno::NOTCONN,
            ) => SendError::Disconnected,
            _ => SendError::from(e),
        })
    }
}

impl Drop for DgramSender {
    /// Says goodbye without waiting: a peer whose queue is full learns of
    /// the end from the socket closing or our exit instead.
    fn drop(&mut self) {
        let iov = [IoSlice::new(&[BYE])];
        let flags = SendFlags::NOSIGNAL | SendFlags::DONTWAIT;
        let _ = sendmsg(&self.sock, &iov, &mut SendAncillaryBuffer::default(), flags);
    }
}

/// The receiving half.
#[derive(Debug)]
pub struct DgramReceiver {
    sock: UnixDatagram,
    peer: PeerProcess,
    /// Only datagrams from this abstract name are taken (strangers may
    /// have queued some before the door was connected).
    from: Option<Vec<u8>>,
    buf: Vec<u8>,
    closed: bool,
}

impl DgramReceiver {
    /// Waits until the socket is readable or the peer dies; true if dead.
    fn wait(&self) -> Result<bool, RecvError> {
        let mut fds = vec![PollFd::new(&self.sock, PollFlags::IN)];
        if let Some(p) = self.peer.pidfd() {
            fds.push(PollFd::from_borrowed_fd(p, PollFlags::IN));
        }
        let tick = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 50_000_000,
        };
        let limit = self.peer.pidfd().is_none().then_some(&tick);
        match poll(&mut fds, limit) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(RecvError::Io(e.into())),
        }
        Ok(fds.get(1).is_some_and(|p| !p.revents().is_empty()) || !self.peer.alive())
    }
}

impl transport::Receiver for DgramReceiver {
    fn recv(&mut self) -> Result<&[u8], RecvError> {
        let mut dead = false;
        loop {
            if self.closed {
                return Err(RecvError::Disconnected);
            }
            let mut kind = [0u8];
            let mut iov = [IoSliceMut::new(&mut kind), IoSliceMut::new(&mut self.buf)];
            let got = recvmsg(
                &self.sock,
                &mut iov,
                &mut RecvAncillaryBuffer::default(),
                RecvFlags::DONTWAIT,
            );
            let m = match got {
                Ok(m) => m,
                Err(rustix::io::Errno::AGAIN) if dead => return Err(RecvError::Disconnected),
                Err(rustix::io::Errno::AGAIN) => {
                    dead = self.wait()?;
                    continue;
                }
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(RecvError::from(io::Error::from(e))),
            };
            if let Some(want) = &self.from
                && abstract_name(m.address).as_ref() != Some(want)
            {
                continue;
            }
            if m.flags.contains(ReturnFlags::TRUNC) {
                return Err(RecvError::Corrupt(format!(
                    "a datagram larger than the maximum of {} bytes",
                    self.buf.len()
                )));
            }
            match (m.bytes, kind[0]) {
                (0, _) => return Err(RecvError::Corrupt("an empty datagram".into())),
                (n, DATA) => return Ok(&self.buf[..n - 1]),
                (_, BYE) => {
                    self.closed = true;
                    return Err(RecvError::Disconnected);
                }
                (_, REFUSED) => {
                    self.closed = true;
                    return Err(RecvError::Io(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        "the listener refused this connection",
                    )));
                }
                (_, k) => {
                    return Err(RecvError::Corrupt(format!(
                        "a datagram of unknown kind {k}"
                    )));
                }
            }
        }
    }
}

/// The door, waiting for its peer's hello.
#[derive(Debug)]
pub struct DgramListener {
    door: UnixDatagram,
    gate: Gate,
}

/// The abstract name a datagram came from.
fn abstract_name(addr: Option<rustix::net::SocketAddrAny>) -> Option<Vec<u8>> {
    let unix = rustix::net::SocketAddrUnix::try_from(addr?).ok()?;
    unix.abstract_name().map(<[u8]>::to_vec)
}

/// The sender's credentials and abstract name, and whether it was a hello.
fn read_hello(door: &UnixDatagram) -> io::Result<Option<(PeerCred, Vec<u8>, bool)>> {
    let mut kind = [0u8; 2];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmCredentials(1))];
    let mut cmsg = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [IoSliceMut::new(&mut kind)];
    let m = match recvmsg(door, &mut iov, &mut cmsg, RecvFlags::DONTWAIT) {
        Ok(m) => m,
        Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let cred = cmsg.drain().find_map(|c| match c {
        RecvAncillaryMessage::ScmCredentials(u) => Some(PeerCred {
            pid: u.pid.as_raw_nonzero().get().unsigned_abs(),
            uid: u.uid.as_raw(),
        }),
        _ => None,
    });
    match (cred, abstract_name(m.address)) {
        (Some(c), Some(a)) => Ok(Some((c, a, m.bytes == 1 && kind[0] == HELLO))),
        _ => Ok(None),
    }
}

impl transport::Listener for DgramListener {
    type Sender = DgramSender;
    type Receiver = DgramReceiver;

    fn expect_peer(&mut self, pid: u32) -> bool {
        self.gate.expect(pid);
        true
    }

    fn accept(mut self, deadline: Instant) -> Result<(DgramSender, DgramReceiver), OpenError> {
        loop {
            self.gate.wait(&self.door, deadline)?;
            let Some((cred, name, hello)) =
                read_hello(&self.door).map_err(io_err("recvmsg on the door"))?
            else {
                continue;
            };
            let addr = SocketAddr::from_abstract_name(&name).map_err(io_err("peer address"))?;
            if !hello {
                self.gate
                    .refuse(cred.to_string(), "sent something other than a hello".into());
                continue;
            }
            if !self.gate.admit(cred) {
                // Best effort: the refused side learns it in band.
                let _ = self.door.send_to_addr(&[REFUSED], &addr);
                continue;
            }
            // A peer that already exited still gets its messages read: it
            // then reads as dead, and recv ends after them.
            let peer = PeerProcess::open_or_pid(cred.pid);
            match self.door.connect_addr(&addr) {
                Ok(()) => {}
                // Its socket is closed already (it sent and left): nothing
                // more can come from it or go to it.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                Err(e) => return Err(OpenError::io("connecting the door to the peer", e)),
            }
            sockopt::set_socket_passcred(&self.door, false)
                .map_err(|e| io_err("SO_PASSCRED")(e.into()))?;
            return halves(self.door, peer, Some(name));
        }
    }
}

fn halves(
    sock: UnixDatagram,
    peer: PeerProcess,
    from: Option<Vec<u8>>,
) -> Result<(DgramSender, DgramReceiver), OpenError> {
    let max = max_payload();
    let rx = sock.try_clone().map_err(io_err("dup socket"))?;
    Ok((
        DgramSender { sock, max },
        DgramReceiver {
            sock: rx,
            peer,
            from,
            buf: vec![0; max + 1],
            closed: false,
        },
    ))
}

/// The listener's pid and the door's name.
fn parse(endpoint: &Endpoint) -> Result<(u32, &str), OpenError> {
    let mut fields = Fields::read(endpoint, "unix-dgram:<pid>:@ipcbench-dgram-<name>");
    fields.scheme("unix-dgram")?;
    let pid = fields.pid()?;
    let name = fields.rest_after("door", '@')?;
    let ok = name.starts_with("ipcbench-dgram-") && name.chars().all(shm_names::is_safe);
    Ok((pid, fields.check("door", name, ok)?))
}

impl transport::Transport for UnixDgram {
    const NAME: &'static str = "unix-dgram";
    const DESCRIPTION: &'static str = "Unix-domain datagram sockets (abstract addresses), one datagram per \
         message; admission by SCM_CREDENTIALS, a dead peer seen by its pidfd";
    type Sender = DgramSender;
    type Receiver = DgramReceiver;
    type Listener = DgramListener;

    fn listen(opts: &Options) -> Result<(DgramListener, Endpoint), OpenError> {
        let name = format!("ipcbench-dgram-{}", shm_names::sanitize(&opts.tag, 80));
        let door = bound(&name)?;
        sockopt::set_socket_passcred(&door, true).map_err(|e| io_err("SO_PASSCRED")(e.into()))?;
        let endpoint = Endpoint(format!("{PREFIX}{}:@{name}", std::process::id()));
        Ok((
            DgramListener {
                door,
                gate: Gate::new(),
            },
            endpoint,
        ))
    }

    fn connect(
        endpoint: &Endpoint,
        opts: &Options,
    ) -> Result<(DgramSender, DgramReceiver), OpenError> {
        static COUNT: AtomicU64 = AtomicU64::new(0);
        let (pid, door) = parse(endpoint)?;
        let listener = PeerProcess::open(pid).map_err(|e| {
            OpenError::Backend(format!("the listener, pid {pid}, of {endpoint}: {e}"))
        })?;
        let name = format!(
            "ipcbench-dgram-{}-{}-{}",
            std::process::id(),
            shm_names::sanitize(&opts.tag, 80),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        let sock = bound(&name)?;
        sock.connect_addr(&abstract_addr(door)?)
            .map_err(io_err(format!("connect @{door}")))?;
        let hello = [IoSlice::new(&[HELLO])];
        sendmsg(
            &sock,
            &hello,
            &mut SendAncillaryBuffer::default(),
            SendFlags::NOSIGNAL,
        )
        .map_err(|e| io_err(format!("hello to @{door}"))(e.into()))?;
        // Connected to the door: the kernel takes datagrams from it alone.
        halves(sock, listener, None)
    }

    fn capabilities() -> Capabilities {
        Capabilities {
            max_message_size: max_payload(),
            ..Capabilities::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_and_garbage_is_refused() {
        let ep = Endpoint(format!("{PREFIX}12:@ipcbench-dgram-conf-1"));
        assert_eq!(parse(&ep).expect("valid"), (12, "ipcbench-dgram-conf-1"));
        for bad in [
            "unix-dgram:0:@ipcbench-dgram-x",
            "unix-dgram:1:@other",
            "unix-dgram:1",
            "uds:@x",
            "",
        ] {
            assert!(parse(&Endpoint(bad.into())).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_declared_maximum_goes_through_and_one_more_byte_does_not() {
        let name = |side: &str| format!("ipcbench-dgram-unit-{}-{side}", std::process::id());
        let (a, b) = (bound(&name("a")).expect("a"), bound(&name("b")).expect("b"));
        a.connect_addr(&abstract_addr(&name("b")).expect("addr"))
            .expect("connect");
        let max = max_payload();
        send_dgram(&a, DATA, &vec![7; max]).expect("the maximum");
        let mut buf = vec![0; max + 2];
        assert_eq!(b.recv(&mut buf).expect("recv"), max + 1);
        assert!(send_dgram(&a, DATA, &vec![7; 2 * SNDBUF]).is_err());
    }
}
