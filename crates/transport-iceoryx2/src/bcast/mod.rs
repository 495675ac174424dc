//! Native broadcast for `iceoryx2` and `iceoryx2-block`, as iceoryx2's users
//! write it: one publish–subscribe service, one publisher, N subscribers,
//! every message loaned, written in place and sent once (see the transport
//! crate's docs, "Broadcast").
//!
//! - **Services.** `listen_broadcast` creates, in a domain of its own
//!   ([`crate::cleanup`]), the data service `ipcbench/<tag>/bcast` (`[u8]`
//!   payloads with a `u64` user header, the message's sequence number; at
//!   most one publisher and N subscribers, no history, no overflow), the
//!   join service `ipcbench/<tag>/join` (each subscriber's hellos to the
//!   publisher) and, for `iceoryx2-block`, the event service
//!   `ipcbench/<tag>/bcast-events` that every publish notifies.
//! - **Joining.** A subscriber creates its subscriber port, then says hello
//!   (magic, pid, the port's id) on the join service. Once all N have,
//!   `accept` publishes a welcome sample (sequence `u64::MAX`); each
//!   subscriber waits for it (which maps the publisher's data segment, see
//!   the crate docs, "Handshake") and says hello again; `accept` returns
//!   when all N have. A subscriber beyond N is refused by iceoryx2's port
//!   limit, or, if it got in where one left, by not finding the welcome.
//! - **Back-pressure, departures and stalls** ([`publisher`]): iceoryx2
//!   delivers to one subscriber after another and calls our back-pressure
//!   handler while one's queue is full. The handler drops a subscriber whose
//!   process died (pidfd, checked at least every [`LIVENESS_PERIOD`]), and
//!   cuts off a live one that stayed full for the stall timeout: the others
//!   have this message or get it next, so `publish` succeeds
//!   ([`transport::BroadcastStall::CutOff`]). A subscriber that dropped its
//!   receiver unregisters from the service, which `publish` notices.
//! - **Gaps are never silent** ([`subscriber`]): every sample carries its
//!   sequence number; a cut-off subscriber whose queue later had room again
//!   would see a gap, and its `recv` fails saying it was cut off.

mod publisher;
mod subscriber;

pub use publisher::Iox2Publisher;
pub use subscriber::Iox2Subscriber;
pub(crate) use subscriber::subscribe;

use std::sync::Arc;
use std::time::{Duration, Instant};

use iceoryx2::port::subscriber::Subscriber;
use iceoryx2::prelude::*;
use iceoryx2::service::port_factory::publish_subscribe::PortFactory as PubSubFactory;
use transport::{BroadcastListener, Endpoint, OpenError, Options};

use crate::cleanup::{self, Domain};
use crate::service::{EventService, Service, Svc, backend, half_node, initial_slice_len};
use crate::{Flavour, MAX_QUEUE_DEPTH, queue_depth};
use publisher::{Member, Shared};

/// The data service: payload and sequence number.
pub(crate) type DataService = PubSubFactory<Svc, [u8], u64>;

/// Most subscribers of one broadcast (iceoryx2's own default is 8; every
/// subscriber costs the publisher a connection segment).
pub const MAX_SUBSCRIBERS: usize = 64;

/// How often a publisher waiting on a full queue looks at that subscriber's
/// process (well within `DEPARTURE_NOTICE`).
pub const LIVENESS_PERIOD: Duration = Duration::from_millis(10);

/// The welcome's sequence number, which no message has.
const WELCOME: u64 = u64::MAX;

const HELLO_MAGIC: [u8; 4] = *b"IXB1";
const READY_MAGIC: [u8; 4] = *b"IXB2";
const HELLO_LEN: usize = 4 + 4 + 16;

/// How long `subscribe` waits for the welcome (it has no deadline of its
/// own); a publisher that dies is noticed sooner.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

/// A subscriber's hello: magic, pid, its port's id.
fn hello(magic: [u8; 4], port: u128) -> [u8; HELLO_LEN] {
    let mut h = [0u8; HELLO_LEN];
    h[..4].copy_from_slice(&magic);
    h[4..8].copy_from_slice(&std::process::id().to_le_bytes());
    h[8..].copy_from_slice(&port.to_le_bytes());
    h
}

fn parse_hello(msg: &[u8]) -> Option<([u8; 4], u32, u128)> {
    let magic: [u8; 4] = msg.get(..4)?.try_into().ok()?;
    let pid = u32::from_le_bytes(msg.get(4..8)?.try_into().ok()?);
    let port = u128::from_le_bytes(msg.get(8..HELLO_LEN)?.try_into().ok()?);
    (msg.len() == HELLO_LEN).then_some((magic, pid, port))
}

/// The services of one broadcast, as one node holds them.
pub(crate) struct Services {
    pub(crate) data: DataService,
    pub(crate) join: Service,
    pub(crate) events: Option<EventService>,
    pub(crate) node: Node<Svc>,
}

/// The names under `base`.
fn names(base: &str) -> Result<[ServiceName; 3], OpenError> {
    let n =
        |s: String| ServiceName::new(&s).map_err(|e| backend(&format!("service name {s:?}"), e));
    Ok([
        n(format!("{base}/bcast"))?,
        n(format!("{base}/join"))?,
        n(format!("{base}/bcast-events"))?,
    ])
}

/// Creates (`Some(n)`: the publisher, for `n` subscribers) or opens
/// (`None`) the services of the broadcast at `base`.
pub(crate) fn services(
    cfg: &Config,
    base: &str,
    create: Option<(usize, usize)>,
    events: bool,
) -> Result<Services, OpenError> {
    let node = half_node(cfg)?;
    let [data_name, join_name, events_name] = names(base)?;
    let data = node
        .service_builder(&data_name)
        .publish_subscribe::<[u8]>()
        .user_header::<u64>()
        .enable_safe_overflow(false);
    let join = node
        .service_builder(&join_name)
        .publish_subscribe::<[u8]>()
        .enable_safe_overflow(false);
    let ev = node.service_builder(&events_name).event();
    let (data, join, events) = match create {
        Some((n, depth)) => (
            data.max_publishers(1)
                .max_subscribers(n)
                .max_nodes(n + 1)
                .history_size(0)
                .subscriber_max_buffer_size(depth)
                .subscriber_max_borrowed_samples(1)
                .create()
                .map_err(|e| backend("creating broadcast service", e))?,
            join.max_publishers(n)
                .max_subscribers(1)
                .max_nodes(n + 1)
                .history_size(0)
                .subscriber_max_buffer_size(4)
                .create()
                .map_err(|e| backend("creating join service", e))?,
            match events {
                true => Some(
                    ev.max_notifiers(1)
                        .max_listeners(n)
                        .max_nodes(n + 1)
                        .create()
                        .map_err(|e| backend("creating event service", e))?,
                ),
                false => None,
            },
        ),
        None => (
            data.open()
                .map_err(|e| backend("opening broadcast service", e))?,
            join.open()
                .map_err(|e| backend("opening join service", e))?,
            match events {
                true => Some(ev.open().map_err(|e| backend("opening event service", e))?),
                false => None,
            },
        ),
    };
    Ok(Services {
        data,
        join,
        events,
        node,
    })
}

/// The listening side of a broadcast: its publisher exists, its subscribers
/// have not all said hello yet.
pub struct Iox2BroadcastListener {
    publisher: Iox2Publisher,
    join: Subscriber<Svc, [u8], ()>,
    subscribers: usize,
}

// SAFETY: as for the connection's halves (`halves.rs`): every `Rc` handle
// here was made from this listener's own node, so moving the listener moves
// every clone of them together.
unsafe impl Send for Iox2BroadcastListener {}

impl std::fmt::Debug for Iox2BroadcastListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iox2BroadcastListener")
            .field("subscribers", &self.subscribers)
            .finish_non_exhaustive()
    }
}

/// `Transport::listen_broadcast` of `Iox2<F>`.
pub(crate) fn listen<F: Flavour>(
    opts: &Options,
    subscribers: usize,
) -> Result<(Iox2BroadcastListener, Endpoint), OpenError> {
    if !(1..=MAX_SUBSCRIBERS).contains(&subscribers) {
        return Err(OpenError::Backend(format!(
            "{}: a broadcast serves 1 to {MAX_SUBSCRIBERS} subscribers, not {subscribers}",
            F::NAME
        )));
    }
    crate::service::quiet_logs();
    crate::sweep_once();
    let base = format!("{}{}", cleanup::BASE_PREFIX, opts.tag);
    let pid = std::process::id();
    let domain = Domain::for_tag(&opts.tag, pid);
    let cfg = domain.config().map_err(OpenError::Backend)?;
    let guard = cleanup::Guard::new(domain.clone());
    let depth = queue_depth(opts.expected_max_message).min(MAX_QUEUE_DEPTH);
    let svc = services(&cfg, &base, Some((subscribers, depth)), F::EVENTS)?;
    let join = svc
        .join
        .subscriber_builder()
        .create()
        .map_err(|e| backend("creating join subscriber", e))?;
    let shared = Arc::new(Shared::default());
    let publisher = Iox2Publisher::new(svc, initial_slice_len(opts), shared, guard)?;
    let endpoint = Endpoint(format!("{}:{pid}:{}:{base}", F::NAME, domain.as_str()));
    crate::cloexec::mark_domain(&domain);
    Ok((
        Iox2BroadcastListener {
            publisher,
            join,
            subscribers,
        },
        endpoint,
    ))
}

impl Iox2BroadcastListener {
    /// Waits for one hello with `magic` from each of `n` distinct processes
    /// (`pids`: the ones already known, for the second round).
    fn hellos(
        &mut self,
        magic: [u8; 4],
        known: &[Member],
        deadline: Instant,
    ) -> Result<Vec<(u32, u128)>, OpenError> {
        let mut got: Vec<(u32, u128)> = Vec::new();
        while got.len() < self.subscribers {
            let sample = self
                .join
                .receive()
                .map_err(|e| backend("receiving a hello", e))?;
            let Some(sample) = sample else {
                if Instant::now() >= deadline {
                    return Err(OpenError::Timeout);
                }
                std::thread::sleep(Duration::from_micros(200));
                continue;
            };
            let Some((m, pid, port)) = parse_hello(sample.payload()) else {
                return Err(OpenError::Backend(format!(
                    "iceoryx2: expected a subscriber's hello, got {} bytes",
                    sample.payload().len()
                )));
            };
            let ok = m == magic
                && !got.iter().any(|&(_, p)| p == port)
                && (known.is_empty() || known.iter().any(|k| k.port == port && k.pid == pid));
            if !ok {
                return Err(OpenError::Backend(format!(
                    "iceoryx2: unexpected hello from pid {pid} while the group of {} gathers",
                    self.subscribers
                )));
            }
            got.push((pid, port));
        }
        Ok(got)
    }
}

impl BroadcastListener for Iox2BroadcastListener {
    type Publisher = Iox2Publisher;

    fn accept(mut self, deadline: Instant) -> Result<Iox2Publisher, OpenError> {
        let joined = self.hellos(HELLO_MAGIC, &[], deadline)?;
        let members = joined
            .iter()
            .map(|&(pid, port)| Member::new(pid, port))
            .collect::<Result<Vec<_>, _>>()?;
        self.publisher.welcome(self.subscribers)?;
        self.hellos(READY_MAGIC, &members, deadline)?;
        self.publisher.start(members);
        Ok(self.publisher)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hellos_round_trip_and_wrong_lengths_are_refused() {
        let port = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210_u128;
        let h = hello(READY_MAGIC, port);
        assert_eq!(
            parse_hello(&h),
            Some((READY_MAGIC, std::process::id(), port))
        );
        assert_eq!(parse_hello(&h[..HELLO_LEN - 1]), None);
        let mut long = h.to_vec();
        long.push(0);
        assert_eq!(parse_hello(&long), None);
    }
}
