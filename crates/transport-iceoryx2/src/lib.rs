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
//! Sizes vary per message because the publisher uses a dynamic data segment
//! whose chunks start at [`Options::expected_max_message`] and grow by powers
//! of two ([`AllocationStrategy::PowerOfTwo`]): the first message above the
//! current chunk size makes the publisher create and zero a new, larger
//! segment (milliseconds to a few hundred for 16 MiB, once per doubling);
//! later ones are as fast as small ones.
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
//! `unsafe impl Send` below. The `ipc_threadsafe` flavour would avoid that at
//! the price of a mutex on every loan, send and receive. Measured with the
//! hot-path instruction count (`crates/harness/benches/hotpath.rs`, callgrind,
//! deterministic): one 8 B message, send plus receive, costs 2,354
//! instructions on `ipc::Service` and 4,391 on `ipc_threadsafe::Service`
//! (+87 %); 67,901 against 69,938 at 64 KiB (+3 %). The median interval of an
//! 8 B ping-pong in the committed run is about ±5 %, so the thread-safe
//! flavour's cost at small sizes is well outside the noise, and the unsafe
//! impl stays.
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

pub mod cleanup;
mod cloexec;

use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use cleanup::Domain;
use iceoryx2::port::listener::Listener as EventListener;
use iceoryx2::port::notifier::Notifier;
use iceoryx2::port::publisher::Publisher;
use iceoryx2::port::subscriber::Subscriber;
use iceoryx2::port::update_connections::UpdateConnections;
use iceoryx2::port::{BackpressureAction, BackpressureInfo};
use iceoryx2::prelude::*;
use iceoryx2::sample::Sample;
use iceoryx2::service::port_factory::event::PortFactory as EventFactory;
use iceoryx2::service::port_factory::publish_subscribe::PortFactory as PubSubFactory;
use transport::process::{PeerProcess, PidError};
use transport::{Capabilities, Endpoint, OpenError, Options, RecvError, SendError, WaitStrategy};

/// The iceoryx2 flavour: inter-process, single-threaded reference counting.
type Svc = ipc::Service;
type Service = PubSubFactory<Svc, [u8], ()>;
type EventService = EventFactory<Svc>;

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

/// How long `connect` waits for the listener's hello (it has no deadline of
/// its own); a listener that dies is noticed sooner through its pidfd.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

const HELLO_MAGIC: [u8; 4] = *b"IOX2";
const HELLO_LEN: usize = 8;

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

/// Liveness of the peer process, shared with the publisher's back-pressure
/// handler, which is installed before the peer's pid is known. The process
/// is pinned by a pidfd; only where the kernel (before 5.3) or an emulator
/// (valgrind, which counts the hot path for CI) has no `pidfd_open` is it
/// the bare pid, probed with signal 0, where a reused pid reads as alive:
/// the timeouts still bound every wait.
#[derive(Debug, Default)]
struct PeerWatch(OnceLock<PeerProcess>);

impl PeerWatch {
    /// False once the peer process has exited; true while unknown.
    fn process_alive(&self) -> bool {
        self.0.get().is_none_or(PeerProcess::alive)
    }

    fn watch(&self, pid: u32) -> Result<(), OpenError> {
        let peer = PeerProcess::open(pid).map_err(|e| match e {
            PidError::NotAPid(pid) => OpenError::Backend(format!("peer sent invalid pid {pid}")),
            // Worded as rustix's `Pid` prints, as before.
            PidError::Pidfd { pid, errno } => {
                OpenError::io(format!("pidfd_open(Pid({pid}))"), errno.into())
            }
        })?;
        // Set once per connection, right after the handshake.
        let _ = self.0.set(peer);
        Ok(())
    }
}

/// Publishes messages as iceoryx2 samples.
pub struct Iox2Sender {
    // Field order is drop order: ports, then services, then node.
    publisher: Publisher<Svc, [u8], ()>,
    notifier: Option<Notifier<Svc>>,
    service: Service,
    _events: Option<EventService>,
    _node: Node<Svc>,
    peer: Arc<PeerWatch>,
    _cleanup: Arc<cleanup::Guard>,
}

/// Receives iceoryx2 samples and lends their payload in place.
pub struct Iox2Receiver {
    sample: Option<Sample<Svc, [u8], ()>>,
    subscriber: Subscriber<Svc, [u8], ()>,
    listener: Option<EventListener<Svc>>,
    service: Service,
    _events: Option<EventService>,
    _node: Node<Svc>,
    peer: Arc<PeerWatch>,
    _cleanup: Arc<cleanup::Guard>,
}

// SAFETY: the `!Send` parts are iceoryx2's `SingleThreaded` (`Rc`) handles
// that tie a port to its service and node. Every clone of those `Rc`s lives
// inside the same half: each half creates its own `Node`, opens its own
// service handles from it and builds its ports from those (see `half_node`),
// and a received `Sample` holds a clone of its own subscriber's state. Moving
// a half moves all clones together, so no reference count is ever touched
// from two threads. iceoryx2's process-wide state is behind real mutexes.
unsafe impl Send for Iox2Sender {}
// SAFETY: as for `Iox2Sender`.
unsafe impl Send for Iox2Receiver {}

impl std::fmt::Debug for Iox2Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iox2Sender")
            .field("service", self.service.name())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Iox2Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iox2Receiver")
            .field("service", self.service.name())
            .finish_non_exhaustive()
    }
}

/// The listening side: its ports exist, the peer has not said hello yet.
#[derive(Debug)]
pub struct Iox2Listener {
    tx: Iox2Sender,
    rx: Iox2Receiver,
    domain: Domain,
}

// SAFETY: the listener only bundles the two halves, each `Send` on its own.
unsafe impl Send for Iox2Listener {}

fn backend(what: &str, e: impl std::fmt::Debug) -> OpenError {
    OpenError::Backend(format!("iceoryx2: {what}: {e:?}"))
}

fn quiet_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| set_log_level_from_env_or(LogLevel::Error));
}

fn half_node(cfg: &Config) -> Result<Node<Svc>, OpenError> {
    NodeBuilder::new()
        .config(cfg)
        .signal_handling_mode(SignalHandlingMode::Disabled)
        .create::<Svc>()
        .map_err(|e| backend("creating node", e))
}

fn service_name(s: &str) -> Result<ServiceName, OpenError> {
    ServiceName::new(s).map_err(|e| backend(&format!("service name {s:?}"), e))
}

/// Chunks start at the expected size, so a run that states its largest
/// message never grows its segment (growing costs a new zeroed segment, and a
/// sample in a grown segment is lost if the sender drops before the receiver
/// has taken it; see the crate doc).
fn initial_slice_len(opts: &Options) -> usize {
    opts.expected_max_message.clamp(64, MAX_MESSAGE)
}

/// Queue depth for a connection: deep for small messages (streams of them
/// gain from it), shallow for large ones, whose segment holds `depth + 2`
/// chunks: [`QUEUE_BYTES`] / expected size, within
/// [`MIN_QUEUE_DEPTH`]..=[`MAX_QUEUE_DEPTH`] (16 up to 512 KiB, 8 at 1 MiB).
pub fn queue_depth(expected_max_message: usize) -> usize {
    (QUEUE_BYTES / expected_max_message.max(1)).clamp(MIN_QUEUE_DEPTH, MAX_QUEUE_DEPTH)
}

/// Which side creates the services.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The listener, which fixes the queue depth.
    Create { depth: usize },
    /// The connector, which takes what the listener fixed.
    Open,
}

fn make_service(node: &Node<Svc>, name: &ServiceName, role: Role) -> Result<Service, OpenError> {
    // Opening verifies only the properties set here, so the connector
    // insists on what the contract needs (no overflow, i.e. no silent loss)
    // and takes the rest from the listener.
    let b = node
        .service_builder(name)
        .publish_subscribe::<[u8]>()
        .enable_safe_overflow(false);
    match role {
        Role::Create { depth } => b
            .max_publishers(1)
            .max_subscribers(1)
            .max_nodes(2)
            .history_size(0)
            .subscriber_max_buffer_size(depth)
            .subscriber_max_borrowed_samples(1)
            .create()
            .map_err(|e| backend("creating service", e)),
        Role::Open => b.open().map_err(|e| backend("opening service", e)),
    }
}

fn make_events(
    node: &Node<Svc>,
    name: &ServiceName,
    role: Role,
) -> Result<EventService, OpenError> {
    let b = node.service_builder(name).event();
    match role {
        Role::Create { .. } => b
            .max_notifiers(1)
            .max_listeners(1)
            .max_nodes(2)
            .create()
            .map_err(|e| backend("creating event service", e)),
        Role::Open => b.open().map_err(|e| backend("opening event service", e)),
    }
}

/// Names of one direction's services.
struct Names {
    data: ServiceName,
    /// The event service, for flavours that block.
    events: Option<ServiceName>,
}

fn make_sender(
    cfg: &Config,
    names: &Names,
    role: Role,
    slice_len: usize,
    peer: Arc<PeerWatch>,
    guard: &Arc<cleanup::Guard>,
) -> Result<Iox2Sender, OpenError> {
    let node = half_node(cfg)?;
    let service = make_service(&node, &names.data, role)?;
    let events = match &names.events {
        Some(n) => Some(make_events(&node, n, role)?),
        None => None,
    };
    let notifier = match &events {
        Some(ev) => Some(
            ev.notifier_builder()
                .create()
                .map_err(|e| backend("creating notifier", e))?,
        ),
        None => None,
    };
    let watch = Arc::clone(&peer);
    let publisher = service
        .publisher_builder()
        .initial_max_slice_len(slice_len)
        .allocation_strategy(AllocationStrategy::PowerOfTwo)
        .max_loaned_samples(1)
        .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
        .set_backpressure_handler(move |info: &BackpressureInfo| {
            // Called on every retry while the peer's queue is full; a pidfd
            // poll is a syscall, so only the first and every 64th retry pay
            // for it (iceoryx2's adaptive wait sleeps between late retries).
            if info.retries & 63 == 0 && !watch.process_alive() {
                BackpressureAction::DiscardDataAndFail
            } else {
                BackpressureAction::Retry
            }
        })
        .create()
        .map_err(|e| backend("creating publisher", e))?;
    Ok(Iox2Sender {
        publisher,
        notifier,
        service,
        _events: events,
        _node: node,
        peer,
        _cleanup: Arc::clone(guard),
    })
}

fn make_receiver(
    cfg: &Config,
    names: &Names,
    role: Role,
    peer: Arc<PeerWatch>,
    guard: &Arc<cleanup::Guard>,
) -> Result<Iox2Receiver, OpenError> {
    let node = half_node(cfg)?;
    let service = make_service(&node, &names.data, role)?;
    let subscriber = service
        .subscriber_builder()
        .create()
        .map_err(|e| backend("creating subscriber", e))?;
    let events = match &names.events {
        Some(n) => Some(make_events(&node, n, role)?),
        None => None,
    };
    let listener = match &events {
        Some(ev) => Some(
            ev.listener_builder()
                .create()
                .map_err(|e| backend("creating event listener", e))?,
        ),
        None => None,
    };
    Ok(Iox2Receiver {
        sample: None,
        subscriber,
        listener,
        service,
        _events: events,
        _node: node,
        peer,
        _cleanup: Arc::clone(guard),
    })
}

fn hello() -> [u8; HELLO_LEN] {
    let mut h = [0u8; HELLO_LEN];
    h[..4].copy_from_slice(&HELLO_MAGIC);
    h[4..].copy_from_slice(&std::process::id().to_le_bytes());
    h
}

fn parse_hello(msg: &[u8]) -> Result<u32, OpenError> {
    match msg {
        [m0, m1, m2, m3, p @ ..] if [*m0, *m1, *m2, *m3] == HELLO_MAGIC && p.len() == 4 => {
            Ok(u32::from_le_bytes([p[0], p[1], p[2], p[3]]))
        }
        _ => Err(OpenError::Backend(format!(
            "iceoryx2: expected a hello, got {} bytes",
            msg.len()
        ))),
    }
}

impl Iox2Sender {
    /// True while the peer's subscriber is registered and its process lives.
    fn peer_listening(&self) -> bool {
        self.service.dynamic_config().number_of_subscribers() > 0 && self.peer.process_alive()
    }

    /// Publishes the hello until it reached the peer's subscriber.
    fn send_hello(&self, deadline: Instant) -> Result<(), OpenError> {
        let h = hello();
        loop {
            let sample = self
                .publisher
                .loan_slice_uninit(h.len())
                .map_err(|e| backend("loaning hello", e))?;
            let n = sample
                .write_from_slice(&h)
                .send()
                .map_err(|e| backend("sending hello", e))?;
            if n > 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(OpenError::Timeout);
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

impl Iox2Receiver {
    /// True while the peer's publisher is registered and its process lives.
    fn peer_publishing(&self) -> bool {
        self.service.dynamic_config().number_of_publishers() > 0 && self.peer.process_alive()
    }

    /// Waits for the peer's hello and returns the pid it carries.
    fn recv_hello(&mut self, deadline: Instant) -> Result<u32, OpenError> {
        loop {
            if let Some(s) = self
                .subscriber
                .receive()
                .map_err(|e| backend("receiving hello", e))?
            {
                return parse_hello(s.payload());
            }
            if Instant::now() >= deadline {
                return Err(OpenError::Timeout);
            }
            if !self.peer.process_alive() {
                return Err(OpenError::Backend(
                    "iceoryx2: the listening process exited during the handshake".into(),
                ));
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

impl Iox2Sender {
    /// A failure is a disconnect if the peer has gone, else iceoryx2's own.
    fn failure(&self, what: String) -> SendError {
        if self.peer_listening() {
            SendError::Backend(format!("iceoryx2: {what}"))
        } else {
            SendError::Disconnected
        }
    }
}

impl transport::Sender for Iox2Sender {
    fn send(&mut self, msg: &[u8]) -> Result<(), SendError> {
        if msg.len() > MAX_MESSAGE {
            return Err(SendError::TooLarge {
                size: msg.len(),
                max: MAX_MESSAGE,
            });
        }
        let sample = self.publisher.loan_slice_uninit(msg.len()).map_err(|e| {
            SendError::Backend(format!("iceoryx2: loan of {} bytes: {e:?}", msg.len()))
        })?;
        match sample.write_from_slice(msg).send() {
            Ok(0) => return Err(SendError::Disconnected),
            Ok(_) => {}
            Err(iceoryx2::port::SendError::UnableToDeliver) => return Err(SendError::Disconnected),
            Err(e) => return Err(self.failure(format!("send: {e:?}"))),
        }
        if let Some(n) = &self.notifier {
            // iceoryx2 skips the syscall while an earlier notification is
            // still pending, so a busy receiver costs the sender nothing.
            n.notify()
                .map_err(|e| self.failure(format!("notify: {e:?}")))?;
        }
        Ok(())
    }
}

fn recv_failed(e: iceoryx2::port::ReceiveError) -> RecvError {
    RecvError::Backend(format!("iceoryx2: receive: {e:?}"))
}

impl transport::Receiver for Iox2Receiver {
    fn recv(&mut self) -> Result<&[u8], RecvError> {
        // Hand the previous chunk back before asking for the next: the
        // subscriber may borrow only one sample at a time.
        self.sample = None;
        let mut until_check = CHECK_EVERY;
        let sample = loop {
            if let Some(s) = self.subscriber.receive().map_err(recv_failed)? {
                break s;
            }
            let check = match &self.listener {
                None => {
                    until_check -= 1;
                    std::hint::spin_loop();
                    until_check == 0
                }
                // Wakes on any notification (possibly for a sample already
                // taken: the loop just polls again); a quiet period is the
                // time to look at the peer.
                Some(l) => {
                    l.timed_wait(|_| {}, EVENT_CHECK_PERIOD)
                        .map_err(|e| RecvError::Backend(format!("iceoryx2: wait: {e:?}")))?
                        == 0
                }
            };
            if check {
                until_check = CHECK_EVERY;
                if !self.peer_publishing() {
                    // The peer is gone, so everything it sent is queued already.
                    break self
                        .subscriber
                        .receive()
                        .map_err(recv_failed)?
                        .ok_or(RecvError::Disconnected)?;
                }
            }
        };
        Ok(self.sample.insert(sample).payload())
    }
}

impl transport::Listener for Iox2Listener {
    type Sender = Iox2Sender;
    type Receiver = Iox2Receiver;

    fn accept(self, deadline: Instant) -> Result<(Iox2Sender, Iox2Receiver), OpenError> {
        let Self { tx, mut rx, domain } = self;
        // The peer's pid is unknown until its hello: the deadline bounds this.
        let pid = rx.recv_hello(deadline)?;
        rx.peer.watch(pid)?;
        tx.send_hello(deadline)?;
        // Wait for the peer's second hello, which proves it received ours and
        // so mapped our data segment: a publisher that is dropped before its
        // subscriber first mapped the segment takes the samples in it along.
        if rx.recv_hello(deadline)? != pid {
            return Err(OpenError::Backend(
                "iceoryx2: second hello from another process".into(),
            ));
        }
        cloexec::mark_domain(&domain);
        Ok((tx, rx))
    }
}

/// Splits `<scheme>:<pid>:<domain>:<base>` into its parts.
fn parse_endpoint<'a>(endpoint: &'a Endpoint, scheme: &str) -> Option<(u32, Domain, &'a str)> {
    let mut parts = endpoint.0.splitn(4, ':');
    if parts.next()? != scheme {
        return None;
    }
    let pid = parts.next()?.parse::<u32>().ok().filter(|&p| p > 0)?;
    let domain = Domain::parse(parts.next()?)?;
    let base = parts.next()?;
    base.starts_with(cleanup::BASE_PREFIX)
        .then_some((pid, domain, base))
}

/// Service names of the listener-to-connector and connector-to-listener
/// directions.
fn names(base: &str, events: bool) -> Result<(Names, Names), OpenError> {
    let one = |dir: &str| -> Result<Names, OpenError> {
        Ok(Names {
            data: service_name(&format!("{base}/{dir}"))?,
            events: match events {
                true => Some(service_name(&format!("{base}/{dir}-events"))?),
                false => None,
            },
        })
    };
    Ok((one("l2c")?, one("c2l")?))
}

impl<F: Flavour> transport::Transport for Iox2<F> {
    const NAME: &'static str = F::NAME;
    const BACKEND: &'static str = "iceoryx2";
    const DESCRIPTION: &'static str = F::DESCRIPTION;
    type Sender = Iox2Sender;
    type Receiver = Iox2Receiver;
    type Listener = Iox2Listener;

    fn listen(opts: &Options) -> Result<(Iox2Listener, Endpoint), OpenError> {
        quiet_logs();
        static SWEEP: std::sync::Once = std::sync::Once::new();
        SWEEP.call_once(|| {
            cleanup::sweep_stale();
        });
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
        let (listener_pid, domain, base) = parse_endpoint(endpoint, F::NAME)
            .ok_or_else(|| OpenError::BadEndpoint(endpoint.0.clone()))?;
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
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        tx.send_hello(deadline)?;
        let pid = rx.recv_hello(deadline)?;
        if pid != listener_pid {
            return Err(OpenError::Backend(format!(
                "iceoryx2: hello from pid {pid}, endpoint names pid {listener_pid}"
            )));
        }
        tx.send_hello(deadline)?;
        cloexec::mark_domain(&domain);
        Ok((tx, rx))
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
            ..Capabilities::default()
        }
    }
}
