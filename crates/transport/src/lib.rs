//! The contract between the ipcbench harness and every inter-process transport.
//!
//! # Model
//!
//! A transport links **two processes** with a **duplex** connection: each side
//! gets a [`Sender`] and a [`Receiver`], so round trips (ping-pong, the seed
//! workload's acknowledgement) need nothing extra. Whether a backend builds
//! that out of one duplex kernel object (a Unix socket) or two one-way channels
//! (two pipes, two shared-memory rings) is its own business.
//!
//! Setting up a connection takes three steps, in two processes:
//!
//! 1. Process A calls [`Transport::listen`]. It creates whatever the transport
//!    needs (a socket path, a pipe pair, a shared-memory segment) and returns a
//!    [`Listener`] plus an [`Endpoint`]: a printable string that names it.
//! 2. The endpoint travels to process B by any means (the harness passes it on
//!    the command line). B calls [`Transport::connect`] and gets its halves.
//! 3. A calls [`Listener::accept`] with a deadline and gets its halves.
//!
//! # Contract (what the conformance suite checks, for every backend)
//!
//! - **Whole messages, in order, exactly once.** [`Receiver::recv`] returns the
//!   bytes of exactly one [`Sender::send`], in the order they were sent.
//!   Framing is the transport's job; empty messages are legal.
//! - **Sizes.** Every size from 0 to [`Capabilities::max_message_size`] works.
//!   A larger message gives [`SendError::TooLarge`] before any byte is sent.
//! - **Receive lends.** `recv` returns a slice that stays valid until the next
//!   call on that receiver. A zero-copy backend lends its shared memory; a
//!   copying backend lends its own buffer. The caller copies if it must keep it.
//! - **Back-pressure.** `send` may block while the peer is alive but not
//!   reading; it never drops a message.
//! - **A dead peer is noticed.** After the peer process exits (or drops its
//!   halves), `recv` returns everything sent before and then
//!   [`RecvError::Disconnected`]; `send` returns [`SendError::Disconnected`]
//!   once the transport can tell (a kernel buffer may accept a few messages
//!   first). No call waits forever on a peer that is gone: kernel transports get
//!   EOF/EPIPE, shared-memory transports check liveness while they wait.
//! - **Drops without end of file.** Where the kernel gives no EOF (message
//!   queues, datagram sockets, shared memory), the end is signalled in band
//!   and by liveness: a dropped [`Sender`] sends a goodbye after its last
//!   message (waiting a bounded time for room, never forever), and the
//!   peer's `recv` returns `Disconnected` when it reaches it, having
//!   delivered everything before; a process that died is seen through its
//!   pidfd ([`process::PeerProcess`]), polled together with the wait. What
//!   a sender may assume: once its own side's receiver has seen the peer's
//!   goodbye, or the peer process has exited, `send` returns `Disconnected`;
//!   a peer that dropped only its receiver, its process alive, may leave
//!   `send` blocked as back-pressure until the peer process exits or drops
//!   its sender too, unless the backend tells the sender in band (udp
//!   does). Sending after the peer has gone is never an error other than
//!   `Disconnected`, and what it accepted is lost with the peer.
//! - **Hostile input.** A frame whose header claims more than the maximum
//!   size, or is otherwise inconsistent, gives [`RecvError::Corrupt`] without
//!   allocating the claimed size and without panicking.
//! - **Resources.** Names derive from [`Options::tag`], which the caller makes
//!   unique per connection, so parallel runs never collide. Whatever `listen`
//!   or `connect` creates in a name space (the file system, /dev/shm, POSIX
//!   message queues, the abstract socket names) is removed once both sides
//!   are connected or when the listener is dropped, whichever comes first,
//!   or, for a socket's own name, when the socket closes. A backend whose
//!   names outlive a process killed with SIGKILL carries the creator's pid
//!   in them and sweeps stale ones ([`shm_names::sweep_stale`],
//!   [`mqueue_names::sweep_stale`]).
//! - **Quotas.** A backend whose connections are charged to a per-user
//!   kernel quota (`RLIMIT_MSGQUEUE` for POSIX queues) declares how many fit
//!   at once in [`Capabilities::max_concurrent`]; the conformance suite runs
//!   no more of them at once and the harness schedules no workload that
//!   needs more. An open refused by the quota names the limit.
//! - **Only the expected peer.** A listener that a stranger can reach by
//!   name admits only its peer, and says so by returning `true` from
//!   [`Listener::expect_peer`]. Where the kernel tells who is on the other
//!   end, by credentials: a Unix stream socket by `SO_PEERCRED`, a Unix
//!   datagram by `SCM_CREDENTIALS` (our user, and the pid given to
//!   `expect_peer`). Where it cannot (TCP, UDP, a POSIX queue anyone of our
//!   user may open), by a secret: the endpoint carries a token after a `#`
//!   ([`Endpoint::public`], [`peer::random_token`]) that the connector
//!   proves it knows ([`peer::same_token`]). An intruder knows only the
//!   public part, and its `connect` must still reach the listener (succeed,
//!   or fail only after the listener has seen it): the listener is what
//!   refuses it, records it ([`peer::Gate::refuse`], [`peer::Gate::admit`]),
//!   tells it (it is closed, or gets a refusal its `recv` reports as an
//!   error) and keeps waiting; if its deadline passes,
//!   [`OpenError::Refused`] names it, with its pid ([`peer::Gate::wait`],
//!   [`peer::Gate::deadline_passed`]). So `connect` never waits for the
//!   listener's verdict: the suite's intruder connects before the listener
//!   calls `accept`. See [`peer`].
//! - **Signals.** Callers ignore `SIGPIPE`; backends map `EPIPE` to
//!   [`SendError::Disconnected`].
//!
//! # Shared receivers (optional)
//!
//! A backend whose [`Capabilities::shared_receivers`] is `n > 0` also offers
//! one listener with up to `n` connectors ([`Transport::listen_shared`]):
//! `k <= n` processes each [`Transport::connect`] to the same endpoint and get
//! their own halves; [`Listener::accept`] returns once all `k` have
//! connected. It promises:
//!
//! - **Each message to exactly one connector.** Every message the listener
//!   sends is received whole by exactly one of the connectors, whichever asks
//!   first; none is lost or duplicated. Messages a connector receives keep the
//!   listener's order among themselves.
//! - **Replies merge.** The listener's receiver gets every message of every
//!   connector, whole; the order within one connector is kept.
//! - **Sizes.** A shared endpoint may take smaller messages than
//!   [`Capabilities::max_message_size`] when a larger one could not reach
//!   one connector whole (uds-seqpacket: one socket record); it then refuses
//!   it before sending anything, with an error naming both sizes.
//! - **Admission.** A listener that strangers can reach by name admits each
//!   process named by [`Listener::expect_peer`] (called once per member)
//!   and refuses anyone else, as a point-to-point one does.
//! - **Peers.** A connector's peer is the listener. The listener's peer is the
//!   group: its `recv` returns [`RecvError::Disconnected`] (and `send`
//!   [`SendError::Disconnected`]) only once every connector is gone; one
//!   connector dying is not noticed by the transport (a caller that needs to
//!   know watches its processes).
//!
//! Backends that cannot do this keep the default (0) and the default
//! `listen_shared`, which refuses. The harness's shared-queue fanout
//! (`fanoutqN`) runs only on backends that declare it.
//!
//! # Loans (optional): sending without a copy, and who owns what when
//!
//! A backend whose senders can lend their own memory declares
//! [`Capabilities::max_loan`] `> 0`. A caller then writes a message in
//! place and publishes it:
//!
//! ```
//! use transport::{SendError, Sender};
//!
//! fn hand_over<S: Sender>(tx: &mut S, len: usize) -> Result<(), SendError> {
//!     let mut loan = tx.loan(len)?; // reserves len bytes of the transport's memory
//!     loan.bytes_mut().fill(7); // writes the message where it will be read
//!     loan.publish() // hands it over: no copy
//! }
//! ```
//!
//! Workloads written for every transport call [`fill_and_send`] (or
//! [`outgoing`]), which loans where the connection can lend the size and
//! otherwise fills the caller's buffer and calls [`Sender::send`]; copying
//! backends keep only `send`.
//!
//! - **Limit.** A loan is one contiguous region, so its limit is its own,
//!   not the chunked [`Capabilities::max_message_size`]:
//!   [`Capabilities::max_loan`] is the largest loan the backend gives on a
//!   connection opened with [`Options::expected_max_message`] at least that
//!   large (backends size their rings or segments from it);
//!   [`Sender::max_loan`] is what this connection gives (0: it cannot
//!   loan). A larger loan gives [`SendError::LoanTooLarge`], naming both
//!   sizes, before anything is reserved or written; a transport that cannot
//!   loan gives [`SendError::CannotLoan`].
//! - **A loan** ([`Loan`]) belongs to the caller from [`Sender::loan`]
//!   until [`Loan::publish`] or its drop. It borrows the sender mutably:
//!   one loan per sender at a time, and no `send` while it is open. Its
//!   bytes are the transport's memory (a ring slot, a queue slot, an
//!   iceoryx2 sample) and their contents before the caller writes are
//!   unspecified. `loan` waits for room with back-pressure, as `send` does,
//!   and gives [`SendError::Disconnected`] when the peer is gone.
//! - **Publishing** hands the region to the receiver whole, in order with
//!   every other message of that sender, exactly once. From then on the
//!   sender has no access to it.
//! - **Dropping a loan unpublished** (an early return, a panic) sends
//!   nothing: the region goes back to the transport at once and the next
//!   message is unaffected.
//! - **A received view** (the slice [`Receiver::recv`] returns) belongs to
//!   the receiver's caller until the next `recv` on that receiver or the
//!   receiver's drop; then the transport reuses the memory (a zero-copy
//!   backend gives the slot back to the sender, a copying one overwrites
//!   its buffer). A caller that keeps the bytes longer copies them.
//! - **A killed process** holding a loan publishes nothing; holding a
//!   received view, it gives the view back by dying. Either way nothing
//!   leaks: the memory belongs to the connection and is freed when the
//!   last process mapping it unmaps (for the shared-memory backends, when
//!   the survivor drops its halves), and the survivor is told as for any
//!   dead peer (`recv` drains, then [`RecvError::Disconnected`]; `send`
//!   and `loan`, [`SendError::Disconnected`]). A backend built on a library
//!   with its own cleanup (iceoryx2) documents what that cleanup leaves.
//!
//! # Broadcast (optional): one publisher, every message to every subscriber
//!
//! A backend whose [`Capabilities::broadcast_subscribers`] is `n > 0` also
//! offers a one-way broadcast from one process to up to `n` others
//! ([`broadcast`]):
//!
//! ```
//! use std::time::Instant;
//! use transport::{BroadcastListener, Options, Publisher, Receiver, Transport};
//!
//! // In the publishing process:
//! fn publish_all<T: Transport>(opts: &Options, n: usize, pids: &[u32], deadline: Instant)
//!     -> Result<(), Box<dyn std::error::Error>> {
//!     let (mut listener, endpoint) = T::listen_broadcast(opts, n)?;
//!     // ... hand `endpoint` to the n subscriber processes ...
//!     # let _ = endpoint;
//!     for &pid in pids {
//!         listener.expect_peer(pid);
//!     }
//!     let mut publisher = listener.accept(deadline)?; // all n have joined
//!     publisher.publish(b"to everyone")?;
//!     Ok(())
//! }
//!
//! // In each subscribing process:
//! fn read_one<T: Transport>(endpoint: &transport::Endpoint, opts: &Options)
//!     -> Result<Vec<u8>, Box<dyn std::error::Error>> {
//!     let mut rx = T::subscribe(endpoint, opts)?;
//!     Ok(rx.recv()?.to_vec())
//! }
//! ```
//!
//! Its promises, which the conformance suite's `bcast_*` cases check:
//!
//! - **Every message to every subscriber, whole, in order, exactly once.**
//!   Sizes up to [`Capabilities::max_message_size`], or less where a
//!   message must go out whole for every subscriber at once: the shm ring
//!   publishes one record per message, so its broadcast takes messages up
//!   to half its ring, which is sized from [`Options::expected_max_message`]
//!   to hold one of that size. A larger message gives
//!   [`PublishError::TooLarge`] naming both sizes, before anything is
//!   published. `recv` lends as it does on a connection.
//! - **The group is fixed at accept.** [`BroadcastListener::accept`] returns
//!   once all `subscribers` have joined, so a subscriber never misses a
//!   message by joining "late" while the others are already reading: nothing
//!   is published before everyone is there. A subscriber that comes after
//!   `accept` returned, or beyond the `subscribers` asked for, is refused
//!   (its `subscribe` gives an error, or its `recv` gives
//!   [`RecvError::Disconnected`] before any message); the publisher is not
//!   affected.
//! - **Back-pressure: the slowest subscriber sets the pace.** `publish` waits
//!   while any live subscriber has not made room; it never drops a message
//!   and never buffers without bound. A subscriber that is alive but reads
//!   nothing for the stall timeout ([`broadcast::DEFAULT_STALL_TIMEOUT`],
//!   [`Publisher::set_stall_timeout`]) makes `publish` fail with
//!   [`PublishError::Stalled`] naming it, at the latest
//!   [`broadcast::DEPARTURE_NOTICE`] after the timeout; that message was
//!   published to nobody, and the caller may retry or give up. A stalled
//!   subscriber stays in the group. That is
//!   [`broadcast::BroadcastStall::Nobody`], the default. A backend that
//!   delivers to one subscriber after another and cannot check every
//!   subscriber's room first (iceoryx2) declares
//!   [`Capabilities::broadcast_stall`] `CutOff` instead: the stalled
//!   subscriber is cut off, dropped from the group and named by
//!   [`Publisher::departed`] (at the latest `DEPARTURE_NOTICE` after the
//!   timeout), and `publish` succeeds, the message having reached every
//!   other subscriber exactly once, so nothing is retried and nothing
//!   duplicated. The cut-off subscriber reads what was queued for it, then
//!   its `recv` fails saying it was cut off, never a later message after a
//!   gap.
//! - **A subscriber that dies or drops its receiver** is dropped from the
//!   group: a publisher waiting on it notices within
//!   [`broadcast::DEPARTURE_NOTICE`] and goes on with the others (who miss
//!   nothing), and [`Publisher::departed`] names it, with how many messages
//!   had been published by then. Only when every subscriber has gone does
//!   `publish` give [`PublishError::Disconnected`].
//! - **The publisher gone:** each subscriber's `recv` returns everything
//!   published before, then [`RecvError::Disconnected`], as a receiver does
//!   when its peer goes.
//! - **One way.** Subscribers do not answer through the broadcast; a caller
//!   that needs replies (the harness's lockstep acknowledgement) opens a
//!   point-to-point connection per subscriber besides it.
//! - **Admission and resources** as for point-to-point connections:
//!   [`BroadcastListener::expect_peer`] is called once per subscriber, names
//!   derive from [`Options::tag`], and nothing is left behind once the
//!   publisher and every subscriber have ended, or been killed.
//!
//! Backends without it keep the defaults of [`Transport::listen_broadcast`]
//! and [`Transport::subscribe`], which refuse
//! ([`broadcast::not_supported`]); callers then send over `n`
//! point-to-point connections.
//!
//! Serialization is never done here: transports move opaque bytes, codecs live
//! above them, so encode and decode can be timed apart from the transport.

#![forbid(unsafe_code)]

pub mod broadcast;
pub mod endpoint;
pub mod framing;
pub mod loan;
pub mod mqueue_names;
pub mod peer;
pub mod pipes;
pub mod process;
pub mod shm_names;

mod wait;
pub use wait::wait_readable;

pub use broadcast::{BroadcastListener, BroadcastStall, Departed, PublishError, Publisher};
pub use loan::{Loan, Outgoing, fill_and_send, outgoing};

use std::fmt;
use std::io;
use std::time::Instant;

/// What a backend is, for `ipcbench list` and the reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitStrategy {
    /// The receiver sleeps in the kernel until data arrives.
    Block,
    /// The receiver polls memory without yielding: fastest with a core of its
    /// own, pathological when both peers share one core.
    Spin,
    /// Polls briefly, then yields, then sleeps.
    Adaptive,
}

impl fmt::Display for WaitStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Block => "block",
            Self::Spin => "spin",
            Self::Adaptive => "adaptive",
        })
    }
}

/// Static facts about a backend that callers may rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// The largest message `send` accepts, in bytes.
    pub max_message_size: usize,
    /// `recv` lends memory shared with the sender instead of a private copy.
    pub zero_copy_recv: bool,
    /// How a waiting receiver waits.
    pub wait: WaitStrategy,
    /// How many processes may share one listener's endpoint, each message
    /// going to exactly one of them (see the crate docs, "Shared
    /// receivers"); 0: point to point only.
    pub shared_receivers: usize,
    /// The largest loan ([`Sender::loan`]) a connection opened with
    /// [`Options::expected_max_message`] at least this large gives, in
    /// bytes; 0: the backend cannot loan (callers use `send`). See the
    /// crate docs, "Loans".
    pub max_loan: usize,
    /// How many connections may exist at once on this machine for one user,
    /// where a per-user kernel quota bounds it (POSIX queues: every queue is
    /// charged to `RLIMIT_MSGQUEUE`); 0: no limit. The conformance suite
    /// runs no more of this backend's connections at once, and the harness
    /// does not schedule a workload that needs more.
    pub max_concurrent: usize,
    /// The most subscribers one publisher serves natively
    /// ([`Transport::listen_broadcast`], see the crate docs, "Broadcast");
    /// 0: no native broadcast (callers send over one point-to-point
    /// connection per subscriber).
    pub broadcast_subscribers: usize,
    /// What `publish` does when a live subscriber stalls (see the crate
    /// docs, "Broadcast"): [`broadcast::BroadcastStall::Nobody`] unless the
    /// backend declares otherwise.
    pub broadcast_stall: broadcast::BroadcastStall,
}

impl Default for Capabilities {
    fn default() -> Self {
        Self {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            zero_copy_recv: false,
            wait: WaitStrategy::Block,
            shared_receivers: 0,
            max_loan: 0,
            max_concurrent: 0,
            broadcast_subscribers: 0,
            broadcast_stall: broadcast::BroadcastStall::Nobody,
        }
    }
}

/// 1 GiB: the default ceiling, far above any benchmark size, low enough that a
/// corrupt length prefix cannot make a receiver reserve absurd amounts.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 1 << 30;

/// Settings for one connection, chosen by the caller of `listen`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Unique per connection; backends build resource names from it.
    pub tag: String,
    /// The largest message the caller intends to send, or loan; backends
    /// may size buffers from it but must still honour their declared
    /// maximum. A loaning backend sizes its rings or segments so that a
    /// loan of this size (up to [`Capabilities::max_loan`]) is possible.
    pub expected_max_message: usize,
}

impl Options {
    /// Options with a tag that is unique on this machine: pid, a per-process
    /// counter and the time, so concurrent runs and tests never collide.
    pub fn unique(prefix: &str) -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        Self {
            tag: format!("{prefix}-{}-{n}-{nanos:x}", std::process::id()),
            expected_max_message: 1 << 20,
        }
    }
}

/// A printable name for a listening transport, handed to the connecting side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint(pub String);

impl Endpoint {
    /// What anyone on the machine can learn of this endpoint by listing its
    /// sockets: everything before a `#`. What follows the `#` is a secret the
    /// connecting side proves it knows (TCP's token); keep it out of
    /// world-readable places such as command lines.
    pub fn public(&self) -> &str {
        self.0
            .split_once('#')
            .map_or(self.0.as_str(), |(public, _)| public)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Failure while creating, connecting or accepting.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// An operating-system call failed; `what` names it.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    /// The endpoint string is not one this backend produced: which field
    /// is wrong, its value and the valid form ([`endpoint::Fields`]).
    #[error("{0}")]
    BadEndpoint(endpoint::Malformed),
    /// The peer did not show up before the deadline.
    #[error("peer did not connect before the deadline")]
    Timeout,
    /// The deadline passed after the listener turned other processes away;
    /// the message names them (pid and uid where the kernel tells).
    #[error("the expected peer did not connect before the deadline; refused: {0}")]
    Refused(String),
    /// The backend's own library refused; the message says why.
    #[error("{0}")]
    Backend(String),
}

impl OpenError {
    /// Wraps an I/O error with the name of the call that failed.
    pub fn io(what: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

/// Failure while sending one message.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The peer has gone; nothing more can be delivered.
    #[error("peer disconnected")]
    Disconnected,
    /// The message exceeds [`Capabilities::max_message_size`]; nothing was sent.
    #[error("message of {size} bytes exceeds this transport's maximum of {max} bytes")]
    TooLarge { size: usize, max: usize },
    /// A loan larger than [`Sender::max_loan`]; nothing was reserved or
    /// written.
    #[error(
        "loan of {size} bytes exceeds this connection's maximum loan of {max} bytes (open it with a larger Options::expected_max_message, or send)"
    )]
    LoanTooLarge { size: usize, max: usize },
    /// A loan from a transport that cannot loan ([`Sender::max_loan`] is 0).
    #[error(
        "this transport cannot loan memory; fill a buffer and send it (transport::fill_and_send does)"
    )]
    CannotLoan,
    /// The operating system refused.
    #[error("send failed: {0}")]
    Io(#[source] io::Error),
    /// The backend's own library refused; the message says why.
    #[error("{0}")]
    Backend(String),
}

impl From<io::Error> for SendError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected => Self::Disconnected,
            _ => Self::Io(e),
        }
    }
}

/// Failure while receiving one message.
#[derive(Debug, thiserror::Error)]
pub enum RecvError {
    /// The peer has gone and every message it sent has been delivered.
    #[error("peer disconnected")]
    Disconnected,
    /// The peer sent something that cannot be a valid frame.
    #[error("corrupt frame from peer: {0}")]
    Corrupt(String),
    /// The operating system refused.
    #[error("receive failed: {0}")]
    Io(#[source] io::Error),
    /// The backend's own library refused; the message says why.
    #[error("{0}")]
    Backend(String),
}

impl From<io::Error> for RecvError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted => Self::Disconnected,
            _ => Self::Io(e),
        }
    }
}

/// The sending half of one direction of a connection.
pub trait Sender: Send + 'static {
    /// Delivers one whole message, blocking while the peer applies
    /// back-pressure.
    fn send(&mut self, msg: &[u8]) -> Result<(), SendError>;

    /// The largest loan this sender gives, in bytes; 0 (the default): it
    /// cannot loan.
    #[inline]
    fn max_loan(&self) -> usize {
        0
    }

    /// Lends a writable region of `len` bytes of the transport's memory,
    /// to fill and [`Loan::publish`] without a copy (see the crate docs,
    /// "Loans"). Waits for room as `send` does. Above [`Self::max_loan`]:
    /// [`SendError::LoanTooLarge`] (or [`SendError::CannotLoan`]) before
    /// anything is reserved.
    #[inline]
    fn loan(&mut self, len: usize) -> Result<Loan<'_, Self>, SendError>
    where
        Self: Sized,
    {
        loan::open(self, len)
    }

    /// Backend hook, called only by [`Self::loan`] with `len <=
    /// max_loan()` and no loan open: reserves `len` contiguous bytes,
    /// waiting for room, without publishing anything.
    fn loan_begin(&mut self, len: usize) -> Result<(), SendError> {
        let _ = len;
        Err(SendError::CannotLoan)
    }

    /// Backend hook: the open loan's region, exactly the `len` bytes
    /// reserved by [`Self::loan_begin`] (empty when no loan is open).
    fn loan_bytes(&mut self) -> &mut [u8] {
        &mut []
    }

    /// Backend hook: publishes the open loan as one message and closes it.
    fn loan_publish(&mut self) -> Result<(), SendError> {
        Err(SendError::CannotLoan)
    }

    /// Backend hook: closes the open loan without publishing anything, and
    /// gives its region back.
    fn loan_abandon(&mut self) {}
}

/// The receiving half of one direction of a connection.
pub trait Receiver: Send + 'static {
    /// Waits for the next message and lends it until the next call.
    fn recv(&mut self) -> Result<&[u8], RecvError>;
}

/// The listening side of a connection being set up.
pub trait Listener: Send + 'static {
    /// The sending half this listener hands out.
    type Sender: Sender;
    /// The receiving half this listener hands out.
    type Receiver: Receiver;
    /// Admits only process `pid` from now on; a shared listener (see
    /// [`Transport::listen_shared`]), whose peer is a group, admits every
    /// `pid` named. Returns whether this listener can tell processes apart (a connection-based backend must, and the
    /// conformance suite's intruder cases hold it to that); backends that
    /// nobody can join by name (pipes, shared memory) keep the default.
    fn expect_peer(&mut self, pid: u32) -> bool {
        let _ = pid;
        false
    }

    /// Waits until the peer has connected, or `deadline` passes. A
    /// connection-based listener closes any other process that connects
    /// first and keeps waiting (see [`peer`]).
    fn accept(self, deadline: Instant) -> Result<(Self::Sender, Self::Receiver), OpenError>;
}

/// An inter-process transport. Implemented by a unit type per named variant,
/// so each backend's hot loop is monomorphised; the harness erases the type
/// once per run through its registry.
pub trait Transport: 'static {
    /// The name users type (`--transport NAME`) and reports print.
    const NAME: &'static str;
    /// One line for `ipcbench list`.
    const DESCRIPTION: &'static str;
    /// The backend this transport is a variant of: `shm` for shm-spin,
    /// shm-adaptive and shm-block. Variants of one backend share its code
    /// and differ in a knob (wait strategy, buffer size, API flavour,
    /// runtime); the report's answers name the backend when the only
    /// contenders tied with the fastest are its own variants. A backend
    /// with one variant leaves the default, its name.
    const BACKEND: &'static str = Self::NAME;
    /// The sending half.
    type Sender: Sender;
    /// The receiving half.
    type Receiver: Receiver;
    /// The listening side.
    type Listener: Listener<Sender = Self::Sender, Receiver = Self::Receiver>;

    /// Creates the transport's resources and names them.
    fn listen(opts: &Options) -> Result<(Self::Listener, Endpoint), OpenError>;

    /// Like [`listen`](Self::listen), for `connectors` processes sharing the
    /// endpoint (see the crate docs, "Shared receivers"). Backends without
    /// [`Capabilities::shared_receivers`] refuse.
    fn listen_shared(
        opts: &Options,
        connectors: usize,
    ) -> Result<(Self::Listener, Endpoint), OpenError> {
        let _ = (opts, connectors);
        Err(OpenError::Backend(format!(
            "{} is point to point: one endpoint cannot be shared by several receivers",
            Self::NAME
        )))
    }

    /// Connects to an endpoint produced by `listen` (or `listen_shared`) in
    /// another process.
    fn connect(
        endpoint: &Endpoint,
        opts: &Options,
    ) -> Result<(Self::Sender, Self::Receiver), OpenError>;

    /// Creates a broadcast for `subscribers` processes (see the crate docs,
    /// "Broadcast"): each calls [`subscribe`](Self::subscribe) with the
    /// endpoint, and the listener's [`BroadcastListener::accept`] returns
    /// the [`Publisher`] once all have joined. Backends without
    /// [`Capabilities::broadcast_subscribers`] refuse
    /// ([`broadcast::not_supported`]); so does a backend asked for more
    /// subscribers than it declares.
    fn listen_broadcast(
        opts: &Options,
        subscribers: usize,
    ) -> Result<(impl BroadcastListener + use<Self>, Endpoint), OpenError> {
        let _ = (opts, subscribers);
        Err::<(broadcast::Unsupported, Endpoint), _>(broadcast::not_supported(Self::NAME))
    }

    /// Joins the broadcast at `endpoint` (made by
    /// [`listen_broadcast`](Self::listen_broadcast) in another process) as
    /// one subscriber: the receiver gets every message published from then
    /// on, in order, then [`RecvError::Disconnected`] once the publisher
    /// has gone.
    fn subscribe(
        endpoint: &Endpoint,
        opts: &Options,
    ) -> Result<impl Receiver + use<Self>, OpenError> {
        let _ = (endpoint, opts);
        Err::<broadcast::Unsupported, _>(broadcast::not_supported(Self::NAME))
    }

    /// Whether this backend can link processes on two hosts
    /// ([`listen_at`](Self::listen_at) listens on a network address). The
    /// harness's `run --remote` takes only these.
    const CROSSES_HOSTS: bool = false;

    /// Like [`listen`](Self::listen), on the network address `bind` (port
    /// chosen by the kernel) instead of the machine-local default, so a
    /// process on another host can connect; the endpoint names that address.
    /// `listen` keeps its local default. Backends that cannot leave the
    /// machine refuse, naming themselves.
    fn listen_at(
        opts: &Options,
        bind: std::net::IpAddr,
    ) -> Result<(Self::Listener, Endpoint), OpenError> {
        let _ = opts;
        Err(OpenError::Backend(format!(
            "{} cannot leave the machine: it has no network address to listen on (asked for {bind})",
            Self::NAME
        )))
    }

    /// Static facts about this backend.
    fn capabilities() -> Capabilities {
        Capabilities::default()
    }
}
