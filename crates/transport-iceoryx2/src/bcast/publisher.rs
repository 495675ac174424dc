//! The publishing side of an iceoryx2 broadcast: one iceoryx2 publisher
//! whose back-pressure handler tells a full queue of a live subscriber
//! (wait) from a dead one (drop it) and from a stalled one (cut it off),
//! and the bookkeeping of who is still served.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use iceoryx2::port::notifier::Notifier;
use iceoryx2::port::publisher::Publisher as IoxPublisher;
use iceoryx2::port::update_connections::UpdateConnections;
use iceoryx2::port::{BackpressureAction, BackpressureInfo};
use iceoryx2::prelude::*;
use transport::OpenError;
use transport::broadcast::{DEFAULT_STALL_TIMEOUT, Departed, PublishError, Publisher};
use transport::process::PeerProcess;

use super::{DataService, LIVENESS_PERIOD, Services, WELCOME};
use crate::MAX_MESSAGE;
use crate::cleanup::Guard;
use crate::service::{EventService, Service, Svc, backend};

/// One subscriber as the publisher knows it.
#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) pid: u32,
    /// Its subscriber port's id, as iceoryx2's back-pressure handler names
    /// the receiver.
    pub(crate) port: u128,
    process: PeerProcess,
    /// Still served.
    live: bool,
    /// Dropped, and `departed` says so already.
    reported: bool,
    /// When the handler last looked at its process.
    checked: Duration,
}

impl Member {
    pub(crate) fn new(pid: u32, port: u128) -> Result<Self, OpenError> {
        if pid == 0 {
            return Err(OpenError::Backend("iceoryx2: a hello with pid 0".into()));
        }
        Ok(Self {
            pid,
            port,
            process: PeerProcess::open_or_pid(pid),
            live: true,
            reported: false,
            checked: Duration::ZERO,
        })
    }
}

/// What the back-pressure handler and the publisher share.
#[derive(Debug)]
pub(crate) struct Shared {
    members: Mutex<Vec<Member>>,
    stall_ns: AtomicU64,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            members: Mutex::new(Vec::new()),
            stall_ns: AtomicU64::new(nanos(DEFAULT_STALL_TIMEOUT)),
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Shared {
    fn members(&self) -> std::sync::MutexGuard<'_, Vec<Member>> {
        self.members.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Called by iceoryx2 on every retry while a receiver's queue is full.
    fn on_full(&self, info: &BackpressureInfo) -> BackpressureAction {
        let mut members = self.members();
        let Some(m) = members.iter_mut().find(|m| m.port == info.receiver_port_id) else {
            // The welcome is sent into empty queues, so only a stranger
            // (a late subscriber in a slot one left) is unknown: it holds
            // nobody back.
            return BackpressureAction::DiscardData;
        };
        if !m.live {
            return BackpressureAction::DiscardData;
        }
        if info.retries == 0 {
            m.checked = Duration::ZERO;
        }
        // A pidfd poll is a system call: only every LIVENESS_PERIOD.
        if info.elapsed_time >= m.checked + LIVENESS_PERIOD {
            m.checked = info.elapsed_time;
            if !m.process.alive() {
                m.live = false;
                return BackpressureAction::DiscardData;
            }
        }
        if nanos(info.elapsed_time) >= self.stall_ns.load(Relaxed) {
            // Cut off: it stays registered but is never waited for again,
            // and its sequence numbers tell it of the gap.
            m.live = false;
            return BackpressureAction::DiscardData;
        }
        BackpressureAction::Retry
    }
}

/// Publishes every message to every subscriber still there; see the
/// module docs of `bcast`.
pub struct Iox2Publisher {
    // Field order is drop order: ports, then services, then node, then the
    // domain's cleanup.
    publisher: IoxPublisher<Svc, [u8], u64>,
    notifier: Option<Notifier<Svc>>,
    service: DataService,
    _join: Service,
    _events: Option<EventService>,
    _node: Node<Svc>,
    shared: Arc<Shared>,
    departed: Vec<Departed>,
    /// Messages published so far (the next one's sequence number).
    published: u64,
    /// Subscribers still served.
    live: usize,
    _cleanup: Guard,
}

// SAFETY: as for the connection's halves (`halves.rs`): the `!Send` parts
// are iceoryx2's `Rc` handles, all made from this publisher's own node and
// owned by it, so moving the publisher moves every clone together; the
// state shared with the back-pressure handler is behind a mutex.
unsafe impl Send for Iox2Publisher {}

impl std::fmt::Debug for Iox2Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iox2Publisher")
            .field("service", self.service.name())
            .field("published", &self.published)
            .field("live", &self.live)
            .finish_non_exhaustive()
    }
}

impl Iox2Publisher {
    pub(crate) fn new(
        svc: Services,
        slice_len: usize,
        shared: Arc<Shared>,
        guard: Guard,
    ) -> Result<Self, OpenError> {
        let notifier = match &svc.events {
            Some(ev) => Some(
                ev.notifier_builder()
                    .create()
                    .map_err(|e| backend("creating notifier", e))?,
            ),
            None => None,
        };
        let handler = Arc::clone(&shared);
        let publisher = svc
            .data
            .publisher_builder()
            .initial_max_slice_len(slice_len)
            .allocation_strategy(AllocationStrategy::PowerOfTwo)
            .max_loaned_samples(1)
            .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
            .set_backpressure_handler(move |info: &BackpressureInfo| handler.on_full(info))
            .create()
            .map_err(|e| backend("creating publisher", e))?;
        Ok(Self {
            publisher,
            notifier,
            service: svc.data,
            _join: svc.join,
            _events: svc.events,
            _node: svc.node,
            shared,
            departed: Vec::new(),
            published: 0,
            live: 0,
            _cleanup: guard,
        })
    }

    /// Sends the welcome, which must reach all `n` subscribers.
    pub(crate) fn welcome(&mut self, n: usize) -> Result<(), OpenError> {
        self.publisher
            .update_connections()
            .map_err(|e| backend("connecting to the subscribers", e))?;
        let mut sample = self
            .publisher
            .loan_slice_uninit(0)
            .map_err(|e| backend("loaning the welcome", e))?;
        *sample.user_header_mut() = WELCOME;
        let reached = sample
            .write_from_slice(&[])
            .send()
            .map_err(|e| backend("sending the welcome", e))?;
        if reached != n {
            return Err(OpenError::Backend(format!(
                "iceoryx2: the welcome reached {reached} of the {n} subscribers that said hello"
            )));
        }
        self.notify().map_err(|e| OpenError::Backend(e.to_string()))
    }

    /// The group is fixed: these are the subscribers, in the order they
    /// joined.
    pub(crate) fn start(&mut self, members: Vec<Member>) {
        self.live = members.len();
        *self.shared.members() = members;
    }

    fn notify(&self) -> Result<(), PublishError> {
        if let Some(n) = &self.notifier {
            n.notify()
                .map_err(|e| PublishError::Backend(format!("iceoryx2: notify: {e:?}")))?;
        }
        Ok(())
    }

    /// Records every member dropped since the last call (by the handler,
    /// or because its port left the service), after `after` messages.
    fn collect(&mut self, after: u64) {
        let config = self.service.dynamic_config();
        let mut members = self.shared.members();
        if config.number_of_subscribers() < self.live {
            // Someone dropped its receiver: whoever is not listed left.
            let mut listed = Vec::with_capacity(members.len());
            config.list_subscribers(|d| {
                listed.push(d.subscriber_id.value());
                CallbackProgression::Continue
            });
            for m in members.iter_mut() {
                if !listed.contains(&m.port) {
                    m.live = false;
                }
            }
        }
        for (i, m) in members.iter_mut().enumerate() {
            if !m.live && !m.reported {
                m.reported = true;
                self.live -= 1;
                self.departed.push(Departed {
                    subscriber: i,
                    pid: Some(m.pid),
                    after_messages: after,
                });
            }
        }
    }
}

impl Publisher for Iox2Publisher {
    fn publish(&mut self, msg: &[u8]) -> Result<(), PublishError> {
        if msg.len() > MAX_MESSAGE {
            return Err(PublishError::TooLarge {
                size: msg.len(),
                max: MAX_MESSAGE,
            });
        }
        self.collect(self.published);
        if self.live == 0 {
            return Err(PublishError::Disconnected);
        }
        // As iceoryx2's users write: loan, write in place, send.
        let mut sample = self.publisher.loan_slice_uninit(msg.len()).map_err(|e| {
            PublishError::Backend(format!("iceoryx2: loan of {} bytes: {e:?}", msg.len()))
        })?;
        *sample.user_header_mut() = self.published;
        let sent = sample.write_from_slice(msg).send();
        // Whoever the handler dropped while this message went out missed
        // it: it had the ones before.
        self.collect(self.published);
        match sent {
            Ok(_) => {}
            Err(e) => return Err(PublishError::Backend(format!("iceoryx2: send: {e:?}"))),
        }
        if self.live == 0 {
            return Err(PublishError::Disconnected);
        }
        self.published += 1;
        self.notify()
    }

    fn subscribers(&self) -> usize {
        self.live
    }

    fn departed(&self) -> &[Departed] {
        &self.departed
    }

    fn set_stall_timeout(&mut self, timeout: Duration) {
        self.shared.stall_ns.store(nanos(timeout), Relaxed);
    }
}
