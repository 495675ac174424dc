//! Unix-domain `SOCK_SEQPACKET` backend: a connected socket whose records keep
//! their boundaries in the kernel, so a message is one `sendmsg` and one `recv`
//! with no length prefix and no reassembly.
//!
//! # Record size and fragmentation
//!
//! A record must fit the sender's socket buffer: the kernel refuses one longer
//! than `SO_SNDBUF - 32` with `EMSGSIZE`, and, whatever the buffer, one longer
//! than about 4 MiB + 68 KiB with `ENOBUFS` (the record's linear part is one
//! `kmalloc`, capped at 4 MiB, plus 17 page fragments). Measured here by
//! `examples/probe_max.rs`: with `net.core.wmem_max` = 4 MiB the largest record
//! is 4 263 616 bytes; with the stock limit of 212 992 (doubled by the kernel)
//! it is 425 952 bytes. Large records are also slow: one needs a high-order
//! allocation, and 1 MiB and 4 MiB records moved data slower than
//! 256–512 KiB records did (docs/design-figures.md).
//!
//! So messages are split into records of at most [`RECORD_MAX`] bytes
//! (512 KiB), each ending in one trailer byte: [`MORE`] or [`LAST`]. Every
//! message the seed workload sends (up to 409.6 KB) is one record; larger ones
//! cost one system call per 512 KiB, which is also what a stream socket pays.
//! The trailer also keeps an empty message distinguishable from end of stream
//! (a zero-length record reads as 0 bytes, just like EOF). The sender shrinks
//! records to what its effective `SO_SNDBUF` allows and, if the kernel cannot
//! find memory for a big record (`ENOBUFS`), retries that part in smaller
//! ones, so the receiver never needs to know the sender's choice: any record
//! up to `RECORD_MAX` is valid, and the trailer says whether more follows.
//! The declared maximum message size is therefore the default 1 GiB.
//!
//! # Names and dead peers
//!
//! The listening socket is bound in Linux's abstract namespace, so there is no
//! file to clean up. A dead peer reads as a 0-byte record (EOF); `sendmsg` to
//! it fails with `EPIPE` (`MSG_NOSIGNAL`, so no signal either way). The
//! listener admits only its peer, by `SO_PEERCRED` ([`transport::peer`]).
//!
//! # Shared receivers
//!
//! `listen_shared` gives several worker processes one socket to read tasks
//! from and one to write replies to; see [`shared`]. There every message must
//! be one record, so the shared endpoint refuses messages that would need
//! more (see [`SeqPacketSender::one_record_max`]).

#![forbid(unsafe_code)]

pub mod shared;

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Instant;

use rustix::io::{Errno, IoSlice};
use rustix::net::{
    AddressFamily, RecvFlags, SendAncillaryBuffer, SendFlags, SocketAddrUnix, SocketFlags,
    SocketType, sockopt,
};
use transport::endpoint::Fields;
use transport::peer::Gate;
use transport::{DEFAULT_MAX_MESSAGE_SIZE, Endpoint, OpenError, Options, RecvError, SendError};

/// Largest record, trailer included, that either side sends or accepts.
pub const RECORD_MAX: usize = 512 * 1024;

/// Trailer of a record after which the message goes on.
pub const MORE: u8 = 0x4D;
/// Trailer of a message's last record.
pub const LAST: u8 = 0x4C;

/// The send buffer asked for. The kernel clamps it to `net.core.wmem_max` and
/// doubles it; 4 MiB lets several full records be in flight where allowed.
const SNDBUF_REQUEST: usize = 4 << 20;

/// Bytes the kernel keeps below `SO_SNDBUF` for a record's own bookkeeping.
const SNDBUF_OVERHEAD: usize = 32;

/// Smallest record the `ENOBUFS` fallback goes down to: one page's worth of
/// payload keeps the allocation order-0.
const MIN_RECORD: usize = 4096;

const MAX: usize = DEFAULT_MAX_MESSAGE_SIZE;

const PREFIX: &str = "uds-seqpacket:@";

/// The `SOCK_SEQPACKET` transport.
#[derive(Debug)]
pub struct SeqPacket;

/// Sends messages as one or more records.
#[derive(Debug)]
pub struct SeqPacketSender {
    sock: Arc<OwnedFd>,
    /// Largest record, trailer included, this socket's send buffer takes.
    record: usize,
    /// Several processes read (or write) this socket: a message split into
    /// records could be torn apart between them, so each must be one record.
    whole: bool,
}

/// Receives records and lends each reassembled message.
#[derive(Debug)]
pub struct SeqPacketReceiver {
    sock: Arc<OwnedFd>,
    buf: Vec<u8>,
}

/// A bound, listening socket waiting for its one peer, or for the
/// connectors of a shared queue.
#[derive(Debug)]
pub struct SeqPacketListener {
    sock: OwnedFd,
    gate: Gate,
    shared: Option<shared::Queues>,
}

impl SeqPacketSender {
    /// The largest message this sender accepts if it shares its socket with
    /// other processes (one record less its trailer byte); `None` if it does
    /// not and splits larger messages into records instead.
    pub fn one_record_max(&self) -> Option<usize> {
        self.whole.then_some(self.record - 1)
    }

    /// Sends `part` plus `trailer` as one record; `Ok(false)` means the kernel
    /// had no memory for a record that big and nothing was sent.
    fn send_record(&self, part: &[u8], trailer: u8) -> Result<bool, SendError> {
        let tail = [trailer];
        let iov = [IoSlice::new(part), IoSlice::new(&tail)];
        loop {
            match rustix::net::sendmsg(
                &*self.sock,
                &iov,
                &mut SendAncillaryBuffer::default(),
                SendFlags::NOSIGNAL,
            ) {
                Ok(n) if n == part.len() + 1 => return Ok(true),
                Ok(n) => {
                    return Err(SendError::Backend(format!(
                        "kernel took {n} of a {}-byte record",
                        part.len() + 1
                    )));
                }
                Err(Errno::INTR) => {}
                Err(Errno::NOBUFS) if part.len() + 1 > MIN_RECORD => return Ok(false),
                Err(e) => return Err(std::io::Error::from(e).into()),
            }
        }
    }
}

impl transport::Sender for SeqPacketSender {
    fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        if msg.len() > MAX {
            return Err(SendError::TooLarge {
                size: msg.len(),
                max: MAX,
            });
        }
        if self.whole && msg.len() >= self.record {
            return Err(shared::too_big(msg.len(), self.record));
        }
        let mut record = self.record;
        let mut rest = msg;
        let mut starved = 0;
        loop {
            let take = rest.len().min(record - 1);
            let (part, after) = rest.split_at(take);
            let trailer = if after.is_empty() { LAST } else { MORE };
            if self.send_record(part, trailer)? {
                if after.is_empty() {
                    return Ok(());
                }
                rest = after;
            } else if self.whole {
                // Cannot split: wait for the kernel to find memory.
                starved += 1;
                shared::starved(msg.len(), starved)?;
            } else {
                // Only for this message: memory pressure is usually brief.
                record = (record / 2).max(MIN_RECORD);
            }
        }
    }
}

impl transport::Receiver for SeqPacketReceiver {
    fn recv(&mut self) -> Result<&[u8], RecvError> {
        let mut len = 0usize;
        let mut reset_seen = false;
        loop {
            if self.buf.len() < len + RECORD_MAX {
                // Grows only after a full MORE record has arrived, so a peer
                // costs us what it sent, never what it claims.
                let want = (len + RECORD_MAX).max(self.buf.len().saturating_mul(2));
                self.buf.resize(want.min(MAX + RECORD_MAX), 0);
            }
            let room = &mut self.buf[len..len + RECORD_MAX];
            let got = match rustix::net::recv(&*self.sock, room, RecvFlags::TRUNC) {
                Ok((_, n)) => n,
                Err(Errno::INTR) => continue,
                // A peer that closed with data of ours unread leaves a pending
                // ECONNRESET that the kernel reports *before* our own queue;
                // reading it clears it, and the queued records and then EOF
                // follow without blocking, so drain them.
                Err(Errno::CONNRESET) if !reset_seen => {
                    reset_seen = true;
                    continue;
                }
                Err(e) => return Err(std::io::Error::from(e).into()),
            };
            if got == 0 {
                return Err(if len == 0 {
                    RecvError::Disconnected
                } else {
                    RecvError::Corrupt(format!(
                        "peer closed after {len} bytes of an unfinished message"
                    ))
                });
            }
            if got > RECORD_MAX {
                return Err(RecvError::Corrupt(format!(
                    "record of {got} bytes exceeds the {RECORD_MAX}-byte record limit"
                )));
            }
            let trailer = self.buf[len + got - 1];
            len += got - 1;
            match trailer {
                LAST => return Ok(&self.buf[..len]),
                MORE if len <= MAX => {}
                MORE => {
                    return Err(RecvError::Corrupt(format!(
                        "message grows past the maximum of {MAX} bytes"
                    )));
                }
                other => {
                    return Err(RecvError::Corrupt(format!(
                        "record trailer {other:#04x} is neither MORE nor LAST"
                    )));
                }
            }
        }
    }
}

/// Splits a connected socket into its halves.
fn halves(sock: OwnedFd) -> Result<(SeqPacketSender, SeqPacketReceiver), OpenError> {
    let sock = Arc::new(sock);
    Ok((sender(Arc::clone(&sock), false)?, receiver(sock)))
}

/// The sending half on `sock`, after raising its send buffer as far as
/// allowed and sizing records to what it then takes. `whole`: one record per
/// message (a socket shared between processes).
fn sender(sock: Arc<OwnedFd>, whole: bool) -> Result<SeqPacketSender, OpenError> {
    // Refused only above the privilege-free limit, which the kernel clamps
    // silently instead; an error here is a real failure.
    sockopt::set_socket_send_buffer_size(&*sock, SNDBUF_REQUEST)
        .map_err(|e| OpenError::io("setting SO_SNDBUF", e.into()))?;
    let sndbuf = sockopt::socket_send_buffer_size(&*sock)
        .map_err(|e| OpenError::io("reading SO_SNDBUF", e.into()))?;
    let record = sndbuf
        .saturating_sub(SNDBUF_OVERHEAD)
        .clamp(MIN_RECORD, RECORD_MAX);
    Ok(SeqPacketSender {
        sock,
        record,
        whole,
    })
}

fn receiver(sock: Arc<OwnedFd>) -> SeqPacketReceiver {
    SeqPacketReceiver {
        sock,
        buf: vec![0; RECORD_MAX],
    }
}

fn socket(nonblocking: bool) -> Result<OwnedFd, OpenError> {
    let mut flags = SocketFlags::CLOEXEC;
    if nonblocking {
        flags |= SocketFlags::NONBLOCK;
    }
    rustix::net::socket_with(AddressFamily::UNIX, SocketType::SEQPACKET, flags, None)
        .map_err(|e| OpenError::io("socket(AF_UNIX, SOCK_SEQPACKET)", e.into()))
}

fn address(name: &str) -> Result<SocketAddrUnix, OpenError> {
    SocketAddrUnix::new_abstract_name(name.as_bytes())
        .map_err(|e| OpenError::io(format!("abstract address {name:?}"), e.into()))
}

impl transport::Listener for SeqPacketListener {
    type Sender = SeqPacketSender;
    type Receiver = SeqPacketReceiver;

    /// A shared listener admits every process named (its peer is a group).
    fn expect_peer(&mut self, pid: u32) -> bool {
        if self.shared.is_some() {
            self.gate.expect_also(pid);
        } else {
            self.gate.expect(pid);
        }
        true
    }

    fn accept(
        mut self,
        deadline: Instant,
    ) -> Result<(SeqPacketSender, SeqPacketReceiver), OpenError> {
        if let Some(queues) = self.shared.take() {
            return queues.accept(&self.sock, &mut self.gate, deadline);
        }
        loop {
            self.gate.wait(&self.sock, deadline)?;
            // The listener is non-blocking, so a peer that vanished between
            // poll and accept sends us back to waiting. The accepted socket
            // does not inherit O_NONBLOCK: it blocks, as the halves expect.
            // A refused socket is dropped, which closes it.
            match rustix::net::accept_with(&self.sock, SocketFlags::CLOEXEC) {
                Ok(sock) if self.gate.admit_unix(&sock)? => return halves(sock),
                Ok(_) => {}
                Err(Errno::AGAIN | Errno::INTR | Errno::CONNABORTED) => {}
                Err(e) => return Err(OpenError::io("accept", e.into())),
            }
        }
    }
}

impl transport::Transport for SeqPacket {
    const NAME: &'static str = "uds-seqpacket";
    const DESCRIPTION: &'static str = "Unix-domain SOCK_SEQPACKET socket (abstract address), \
         kernel-kept boundaries, one record per message up to 512 KiB";
    type Sender = SeqPacketSender;
    type Receiver = SeqPacketReceiver;
    type Listener = SeqPacketListener;

    fn listen(opts: &Options) -> Result<(SeqPacketListener, Endpoint), OpenError> {
        let name = format!("ipcbench-seqpacket-{}", opts.tag);
        let listener = SeqPacketListener {
            sock: bound(&name, 1)?,
            gate: Gate::new(),
            shared: None,
        };
        Ok((listener, Endpoint(format!("{PREFIX}{name}"))))
    }

    fn listen_shared(
        opts: &Options,
        connectors: usize,
    ) -> Result<(SeqPacketListener, Endpoint), OpenError> {
        shared::listen(opts, connectors)
    }

    fn connect(
        endpoint: &Endpoint,
        _opts: &Options,
    ) -> Result<(SeqPacketSender, SeqPacketReceiver), OpenError> {
        let mut fields = Fields::read(
            endpoint,
            "uds-seqpacket:@<abstract name> or uds-seqpacket-shared:@<abstract name>",
        );
        let shared = match fields.next("scheme")? {
            "uds-seqpacket" => false,
            "uds-seqpacket-shared" => true,
            other => return Err(fields.bad("scheme", other)),
        };
        let name = fields.rest_after("abstract name", '@')?;
        let name = fields.check("abstract name", name, !name.contains('\0'))?;
        let sock = socket(false)?;
        rustix::net::connect(&sock, &address(name)?)
            .map_err(|e| OpenError::io(format!("connect @{name}"), e.into()))?;
        if shared {
            shared::connect(&sock, name)
        } else {
            halves(sock)
        }
    }

    fn capabilities() -> transport::Capabilities {
        transport::Capabilities {
            shared_receivers: shared::MAX_SHARED,
            ..transport::Capabilities::default()
        }
    }
}

/// A non-blocking socket listening at the abstract address `name`.
fn bound(name: &str, backlog: i32) -> Result<OwnedFd, OpenError> {
    let sock = socket(true)?;
    rustix::net::bind(&sock, &address(name)?)
        .map_err(|e| OpenError::io(format!("bind @{name}"), e.into()))?;
    rustix::net::listen(&sock, backlog)
        .map_err(|e| OpenError::io(format!("listen @{name}"), e.into()))?;
    Ok(sock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use transport::{Receiver, Sender};

    fn pair() -> (
        (SeqPacketSender, SeqPacketReceiver),
        (SeqPacketSender, SeqPacketReceiver),
    ) {
        let (a, b) = rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )
        .expect("socketpair");
        (halves(a).expect("halves"), halves(b).expect("halves"))
    }

    #[test]
    fn fragments_reassemble_at_record_edges() {
        let ((mut tx, _), (_, mut rx)) = pair();
        let record = tx.record;
        for len in [0, 1, record - 2, record - 1, record, 2 * (record - 1) + 1] {
            let msg: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            std::thread::scope(|s| {
                s.spawn(|| tx.send(&msg).expect("send"));
                let got = rx.recv().expect("recv");
                assert!(got == msg.as_slice(), "{len} bytes");
            });
        }
    }

    #[test]
    fn bad_trailer_and_oversized_record_are_corrupt() {
        let ((tx, _), (_, mut rx)) = pair();
        rustix::net::send(&*tx.sock, b"abc", SendFlags::NOSIGNAL).expect("send");
        assert!(matches!(rx.recv(), Err(RecvError::Corrupt(_))));
        if tx.record == RECORD_MAX {
            // Only constructible where the send buffer takes a bigger record.
            let big = vec![MORE; RECORD_MAX + 1];
            if rustix::net::send(&*tx.sock, &big, SendFlags::NOSIGNAL).is_ok() {
                assert!(matches!(rx.recv(), Err(RecvError::Corrupt(_))));
            }
        }
    }

    #[test]
    fn eof_inside_a_message_is_corrupt_and_between_is_disconnected() {
        let ((tx, peer_rx), (_, mut rx)) = pair();
        tx.send_record(b"part", MORE).expect("send");
        drop((tx, peer_rx));
        assert!(matches!(rx.recv(), Err(RecvError::Corrupt(_))));
        assert!(matches!(rx.recv(), Err(RecvError::Disconnected)));
    }

    #[test]
    fn queued_messages_survive_a_reset() {
        // The peer dies with a message of ours unread: we still get its
        // messages, then Disconnected.
        let ((mut a_tx, a_rx), (mut b_tx, mut b_rx)) = pair();
        b_tx.send(b"unread by a").expect("send");
        a_tx.send(b"hello").expect("send");
        drop((a_tx, a_rx));
        assert_eq!(b_rx.recv().expect("queued message"), b"hello");
        assert!(matches!(b_rx.recv(), Err(RecvError::Disconnected)));
        assert!(matches!(b_tx.send(b"x"), Err(SendError::Disconnected)));
    }

    #[test]
    fn endpoint_rejects_garbage() {
        for bad in [
            "uds-seqpacket:@",
            "uds-seqpacket-shared:@",
            "uds-seqpacket-shared:@a\u{0}b",
            "uds:@x",
            "",
            "nonsense:\u{0}:-1",
        ] {
            assert!(
                matches!(
                    <SeqPacket as transport::Transport>::connect(
                        &Endpoint(bad.into()),
                        &Options::unique("t")
                    ),
                    Err(OpenError::BadEndpoint(_))
                ),
                "{bad}"
            );
        }
    }
}
