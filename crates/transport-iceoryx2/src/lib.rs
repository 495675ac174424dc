//! iceoryx2 backend: zero-copy publish–subscribe over shared memory, one
//! iceoryx2 service per direction.
//!
//! Two variants differ only in how `recv` waits:
//!
//! - `iceoryx2` ([`Iceoryx2`]): busy-polls the subscriber;
//! - `iceoryx2-block` ([`Iceoryx2Block`]): adds an iceoryx2 event service per
//!   direction; `send` notifies it after publishing, and `recv` sleeps on it
//!   (iceoryx2's `ipc` events are unix datagram sockets; a notification is
//!   skipped while an earlier one is still pending, so a receiver that keeps
//!   up costs the sender no syscall).
//!
//! # Shape
//!
//! `listen` creates two `[u8]` slice services named after [`Options::tag`]
//! (`ipcbench/<tag>/l2c`, listener to connector, and `ipcbench/<tag>/c2l`),
//! a publisher on the first and a subscriber on the second (plus event
//! services `…-events` with a notifier and a listener for `iceoryx2-block`).
//! The endpoint is `<name>:<listener pid>:<domain>:ipcbench/<tag>` (the domain
//! is explained in [`cleanup`]). The connector opens the services and creates
//! the mirror-image ports.
//!
//! Every message is one sample: `send` loans an uninitialised slice of exactly
//! the message length from the publisher's data segment, copies the bytes in
//! and publishes it; `recv` lends the sample's payload in place and keeps the
//! sample (and with it the shared-memory chunk) until the next `recv`.
//! A loan ([`transport::Sender::loan`]) is the same sample, written in place
//! by the caller, as iceoryx2's users write: `loan_slice_uninit`, fill the
//! payload, `send`; dropping the loan drops the unsent sample, which gives
//! its chunk back. A process killed holding a loan or a received sample
//! leaves its chunks in its data segment: the survivor is told as for any
//! dead peer, and the files go when [`cleanup`]'s guard runs (the survivor's
//! drop) or, if both sides died, at the next [`cleanup::sweep_stale`].
//!
//! Sizes vary per message because the publisher uses a dynamic data segment
//! whose chunks start at [`Options::expected_max_message`] and grow by powers
//! of two ([`AllocationStrategy::PowerOfTwo`]): the first message above the
//! current chunk size makes the publisher create and zero a new, larger
//! segment (milliseconds to a few hundred for 16 MiB, once per doubling);
//! later ones are as fast as small ones.
//!
//! # Files
//!
//! [`bcast`] (native broadcast: one service, one publisher, N subscribers),
//! `service` (the services of a connection, their names and the endpoint),
//! `handshake` (the hellos, the listener's `accept`), `halves` (sender,
//! receiver and the peer watch), `wait` (waiting for the next sample, for
//! a receiver and a subscriber alike), [`cleanup`] (domains and leftovers) and
//! `cloexec`; this file holds the flavours and `listen`/`connect`.
//!
//! # Handshake
//!
//! Services are created with `history_size(0)`, so a sample published before
//! the peer's subscriber exists is silently dropped. The connector therefore
//! creates its subscriber *before* it publishes its hello (magic + pid) on
//! `c2l`, whose subscriber the listener created in `listen`; the listener's
//! `accept` waits for that hello, then publishes its own hello on `l2c` until
//! iceoryx2 reports one recipient; the connector answers with a second hello
//! and returns, the listener returns on receiving it. The third message
//! matters: a subscriber maps its publisher's data segment only when it
//! receives the first sample from it, and a publisher that is dropped before
//! that unlinks the segment and with it every sample not yet received
//! (iceoryx2 logs "Lost chunk"). After the handshake both subscribers have
//! mapped their peer's first segment.
//!
//! # Back-pressure and a dead peer
//!
//! Subscriber queues hold [`queue_depth`] samples and never overflow; a full
//! queue makes `send` wait (iceoryx2's adaptive wait) while the peer lives.
//! iceoryx2 gives no disconnect signal, so each side watches its peer itself:
//!
//! - *process gone*: a `pidfd` of the peer, opened during the handshake, turns
//!   readable when the peer exits (also while it is an unreaped zombie, which
//!   `kill(pid, 0)` would still call alive);
//! - *halves dropped*: a dropped publisher or subscriber unregisters from the
//!   service's dynamic config, so the count of publishers on the inbound
//!   service (subscribers on the outbound one) drops to zero.
//!
//! `recv` checks both every [`CHECK_EVERY`] empty polls (`iceoryx2-block`:
//! after every [`EVENT_CHECK_PERIOD`] without a notification); on a dead peer it
//! polls once more (whatever the peer sent before dying is already queued) and
//! then returns [`RecvError::Disconnected`]. `send` returns
//! [`SendError::Disconnected`] when iceoryx2 delivered to nobody (the peer's
//! subscriber is gone), or when its queue is full and the pidfd says the peer
//! process has exited (checked from iceoryx2's back-pressure handler, so a
//! blocked `send` never waits forever). A peer that died without cleaning up
//! leaves its subscriber registered, so up to a queue's depth of sends succeed
//! into its queue first, as with a kernel socket buffer.
//!
//! # Threads
//!
//! iceoryx2's `ipc::Service` ports are `!Send` because they share
//! reference-counted state (`Rc`) with their node and service. Each half here
//! owns a node, a service handle and a port of its own, so no `Rc` is shared
//! between halves and moving a whole half to another thread is sound; see the
//! `unsafe impl Send` in `halves.rs`. The `ipc_threadsafe` flavour would avoid that at
//! the price of a mutex on every loan, send and receive. The hot-path
//! instruction count (`crates/harness/benches/hotpath.rs`, deterministic)
//! showed the mutexes nearly doubling the cost of a small message, far
//! outside the noise of a ping-pong's interval, while barely showing at
//! 64 KiB (figures in docs/design-figures.md), so the unsafe impl stays.
//!
//! # Process-wide side effects and leftovers
//!
//! The first `listen`/`connect` sets iceoryx2's log level to `Error` unless
//! `IOX2_LOG_LEVEL` is set (it warns about the missing config file otherwise).
//! Nodes are built with signal handling disabled so iceoryx2 installs no
//! SIGINT/SIGTERM handlers in the host process. See [`cleanup`] for what a
//! connection leaves in `/dev/shm` and `/tmp` and how it is removed.
//!
//! # A gap the conformance suite does not exercise
//!
//! A message larger than `expected_max_message` and than every message before
//! it makes the publisher create a new data segment, which the peer's
//! subscriber maps only when it takes that message. If the sending half is
//! *dropped* before then (a process that exits without running destructors
//! is not affected: its files stay until the peer has drained them), iceoryx2
//! unlinks the new segment and the message is lost; the receiver sees
//! [`RecvError::Disconnected`] without it, and iceoryx2 logs "Lost chunk" at
//! warn level. Stating the largest message in `expected_max_message` avoids
//! it, as does waiting for any reply from the peer before dropping.

pub mod bcast;
pub mod cleanup;
mod cloexec;
mod halves;
mod handshake;
mod service;
mod wait;

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use cleanup::Domain;
use iceoryx2::port::update_connections::UpdateConnections;
use transport::{BroadcastStall, Capabilities, Endpoint, OpenError, Options, WaitStrategy};

pub use halves::{Iox2Receiver, Iox2Sender};
use halves::{PeerWatch, make_receiver, make_sender};
pub use handshake::Iox2Listener;
pub use service::queue_depth;
use service::{Role, backend, initial_slice_len, names, parse_endpoint, quiet_logs};

/// Most samples a subscriber queue holds before `send` waits.
pub const MAX_QUEUE_DEPTH: usize = 16;

/// Fewest samples a subscriber queue holds.
pub const MIN_QUEUE_DEPTH: usize = 2;

/// Bytes of expected-size messages a queue aims to hold; see [`queue_depth`].
pub const QUEUE_BYTES: usize = 8 << 20;

/// Empty polls between two liveness checks in a spinning `recv` (a few
/// hundred µs).
pub const CHECK_EVERY: u32 = 4096;

/// Longest sleep of a blocking `recv` before it checks the peer's liveness.
pub const EVENT_CHECK_PERIOD: Duration = Duration::from_millis(10);

/// Largest message. iceoryx2 handles more, but every data segment holds
/// `depth + 2` chunks and is zeroed (made resident) when created, and a chunk
/// for `n` bytes grows to the next power of two above `n` + 48 header bytes:
/// a 16 MiB message needs 32 MiB chunks, i.e. 320 MiB per direction at the
/// default depth of 8, and each doubling of the limit doubles that.
pub const MAX_MESSAGE: usize = 16 << 20;

/// Largest loan ([`transport::Sender::loan`]): a connection opened with a
/// larger [`Options::expected_max_message`] starts its segments at that size
/// (at the shallowest queue, [`MIN_QUEUE_DEPTH`]: 64 MiB loans take 128 MiB
/// chunks, four per segment, per direction, zeroed when created), and lends
/// up to it; smaller connections lend up to [`MAX_MESSAGE`]. 256 MiB is the
/// largest size the harness moves.
pub const MAX_LOAN: usize = 256 << 20;

/// Runs [`cleanup::sweep_stale`] once per process, at the first listen.
pub(crate) fn sweep_once() {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(|| {
        cleanup::sweep_stale();
    });
}

/// What distinguishes the named variants: how a receiver waits.
pub trait Flavour: Send + 'static {
    /// Registry name, also the endpoint scheme.
    const NAME: &'static str;
    /// Registry description.
    const DESCRIPTION: &'static str;
    /// Receivers sleep on an iceoryx2 event (and senders notify it) instead
    /// of spinning.
    const EVENTS: bool;
}

/// Receivers poll the subscriber without yielding.
#[derive(Debug)]
pub struct BusyWait;

impl Flavour for BusyWait {
    const NAME: &'static str = "iceoryx2";
    const DESCRIPTION: &'static str =
        "iceoryx2 0.10 zero-copy publish-subscribe (dynamic [u8] slices), busy-wait receive";
    const EVENTS: bool = false;
}

/// Receivers sleep on an iceoryx2 event that every send notifies.
#[derive(Debug)]
pub struct EventWait;

impl Flavour for EventWait {
    const NAME: &'static str = "iceoryx2-block";
    const DESCRIPTION: &'static str = "iceoryx2 0.10 zero-copy publish-subscribe, receive blocks \
         on an iceoryx2 event (unix datagram socket) notified per send";
    const EVENTS: bool = true;
}

/// The iceoryx2 transport, by wait flavour.
#[derive(Debug)]
pub struct Iox2<F>(PhantomData<F>);

/// `iceoryx2`: busy-waiting receive.
pub type Iceoryx2 = Iox2<BusyWait>;

/// `iceoryx2-block`: receive sleeps on an iceoryx2 event.
pub type Iceoryx2Block = Iox2<EventWait>;

impl<F: Flavour> transport::Transport for Iox2<F> {
    const NAME: &'static str = F::NAME;
    const BACKEND: &'static str = "iceoryx2";
    const DESCRIPTION: &'static str = F::DESCRIPTION;
    type Sender = Iox2Sender;
    type Receiver = Iox2Receiver;
    type Listener = Iox2Listener;

    fn listen(opts: &Options) -> Result<(Iox2Listener, Endpoint), OpenError> {
        quiet_logs();
        sweep_once();
        let base = format!("{}{}", cleanup::BASE_PREFIX, opts.tag);
        let (l2c, c2l) = names(&base, F::EVENTS)?;
        let pid = std::process::id();
        let domain = Domain::for_tag(&opts.tag, pid);
        let cfg = domain.config().map_err(OpenError::Backend)?;
        let guard = Arc::new(cleanup::Guard::new(domain.clone()));
        let peer = Arc::new(PeerWatch::default());
        let role = Role::Create {
            depth: queue_depth(opts.expected_max_message),
        };
        let tx = make_sender(
            &cfg,
            &l2c,
            role,
            initial_slice_len(opts),
            Arc::clone(&peer),
            &guard,
        )?;
        let rx = make_receiver(&cfg, &c2l, role, peer, &guard)?;
        let endpoint = Endpoint(format!("{}:{pid}:{}:{base}", F::NAME, domain.as_str()));
        cloexec::mark_domain(&domain);
        Ok((Iox2Listener { tx, rx, domain }, endpoint))
    }

    fn connect(
        endpoint: &Endpoint,
        opts: &Options,
    ) -> Result<(Iox2Sender, Iox2Receiver), OpenError> {
        quiet_logs();
        let (listener_pid, domain, base) = parse_endpoint(endpoint, F::NAME)?;
        let (l2c, c2l) = names(base, F::EVENTS)?;
        let peer = Arc::new(PeerWatch::default());
        peer.watch(listener_pid)?;
        let cfg = domain.config().map_err(OpenError::Backend)?;
        let guard = Arc::new(cleanup::Guard::new(domain.clone()));
        // Subscriber first: the listener's hello, sent after ours arrives,
        // must find it (history_size is 0).
        let mut rx = make_receiver(&cfg, &l2c, Role::Open, Arc::clone(&peer), &guard)?;
        // Attach to the listener's publisher now: a publisher that sends and
        // drops before its subscriber ever attached takes its samples along.
        rx.subscriber
            .update_connections()
            .map_err(|e| backend("connecting subscriber", e))?;
        let tx = make_sender(
            &cfg,
            &c2l,
            Role::Open,
            initial_slice_len(opts),
            peer,
            &guard,
        )?;
        handshake::connect(&tx, &mut rx, listener_pid)?;
        cloexec::mark_domain(&domain);
        Ok((tx, rx))
    }

    fn listen_broadcast(
        opts: &Options,
        subscribers: usize,
    ) -> Result<(impl transport::BroadcastListener + use<F>, Endpoint), OpenError> {
        bcast::listen::<F>(opts, subscribers)
    }

    fn subscribe(
        endpoint: &Endpoint,
        _opts: &Options,
    ) -> Result<impl transport::Receiver + use<F>, OpenError> {
        bcast::subscribe::<F>(endpoint)
    }

    fn capabilities() -> Capabilities {
        Capabilities {
            max_message_size: MAX_MESSAGE,
            zero_copy_recv: true,
            wait: if F::EVENTS {
                WaitStrategy::Block
            } else {
                WaitStrategy::Spin
            },
            max_loan: MAX_LOAN,
            broadcast_subscribers: bcast::MAX_SUBSCRIBERS,
            broadcast_stall: BroadcastStall::CutOff,
            ..Capabilities::default()
        }
    }
}
