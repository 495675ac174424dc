//! The two halves of a connection: a sender that publishes every message as
//! one iceoryx2 sample, a receiver that lends each sample in place, and the
//! peer watch both consult to tell a slow peer from a dead one.

use std::mem::MaybeUninit;
use std::sync::{Arc, OnceLock};

use iceoryx2::port::listener::Listener as EventListener;
use iceoryx2::port::notifier::Notifier;
use iceoryx2::port::publisher::Publisher;
use iceoryx2::port::subscriber::Subscriber;
use iceoryx2::port::{BackpressureAction, BackpressureInfo};
use iceoryx2::prelude::*;
use iceoryx2::sample::Sample;
use iceoryx2::sample_mut_uninit::SampleMutUninit;
use transport::process::{PeerProcess, PidError};
use transport::{OpenError, RecvError, SendError};

use crate::cleanup;
use crate::service::{
    EventService, Names, Role, Service, Svc, backend, half_node, make_events, make_service,
};
use crate::{MAX_LOAN, MAX_MESSAGE};

/// Liveness of the peer process, shared with the publisher's back-pressure
/// handler, which is installed before the peer's pid is known. The process
/// is pinned by a pidfd; only where the kernel (before 5.3) or an emulator
/// (valgrind, which counts the hot path for CI) has no `pidfd_open` is it
/// the bare pid, probed with signal 0, where a reused pid reads as alive:
/// the timeouts still bound every wait.
#[derive(Debug, Default)]
pub(crate) struct PeerWatch(OnceLock<PeerProcess>);

impl PeerWatch {
    /// False once the peer process has exited; true while unknown.
    pub(crate) fn process_alive(&self) -> bool {
        self.0.get().is_none_or(PeerProcess::alive)
    }

    pub(crate) fn watch(&self, pid: u32) -> Result<(), OpenError> {
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
    // Field order is drop order: an open loan, ports, then services, then
    // node.
    /// The open loan: a sample the caller writes in place.
    loan: Option<SampleMutUninit<Svc, [MaybeUninit<u8>], ()>>,
    /// This connection's largest loan (what its segments were sized for).
    max_loan: usize,
    pub(crate) publisher: Publisher<Svc, [u8], ()>,
    notifier: Option<Notifier<Svc>>,
    service: Service,
    _events: Option<EventService>,
    _node: Node<Svc>,
    pub(crate) peer: Arc<PeerWatch>,
    _cleanup: Arc<cleanup::Guard>,
}

/// Receives iceoryx2 samples and lends their payload in place.
pub struct Iox2Receiver {
    sample: Option<Sample<Svc, [u8], ()>>,
    pub(crate) subscriber: Subscriber<Svc, [u8], ()>,
    listener: Option<EventListener<Svc>>,
    service: Service,
    _events: Option<EventService>,
    _node: Node<Svc>,
    pub(crate) peer: Arc<PeerWatch>,
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

pub(crate) fn make_sender(
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
        loan: None,
        max_loan: slice_len.clamp(MAX_MESSAGE, MAX_LOAN),
        publisher,
        notifier,
        service,
        _events: events,
        _node: node,
        peer,
        _cleanup: Arc::clone(guard),
    })
}

pub(crate) fn make_receiver(
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

impl Iox2Sender {
    /// True while the peer's subscriber is registered and its process lives.
    fn peer_listening(&self) -> bool {
        self.service.dynamic_config().number_of_subscribers() > 0 && self.peer.process_alive()
    }
}

impl Iox2Receiver {
    /// True while the peer's publisher is registered and its process lives.
    fn peer_publishing(&self) -> bool {
        self.service.dynamic_config().number_of_publishers() > 0 && self.peer.process_alive()
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

impl Iox2Sender {
    /// What became of a published sample: delivered (then the event is
    /// notified, where there is one), or the peer is gone, or iceoryx2's
    /// own failure.
    #[inline(always)]
    fn delivered(&self, sent: Result<usize, iceoryx2::port::SendError>) -> Result<(), SendError> {
        match sent {
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
        self.delivered(sample.write_from_slice(msg).send())
    }

    // Loans, as iceoryx2's users write: `loan_slice_uninit`, write the
    // payload in place, `send`.
    fn max_loan(&self) -> usize {
        self.max_loan
    }

    fn loan_begin(&mut self, len: usize) -> Result<(), SendError> {
        // The publisher lends one sample at a time: a loan whose guard was
        // forgotten goes back first.
        self.loan = None;
        let sample = self.publisher.loan_slice_uninit(len).map_err(|e| {
            if self.peer_listening() {
                SendError::Backend(format!("iceoryx2: loan of {len} bytes: {e:?}"))
            } else {
                SendError::Disconnected
            }
        })?;
        self.loan = Some(sample);
        Ok(())
    }

    fn loan_bytes(&mut self) -> &mut [u8] {
        let Some(sample) = &mut self.loan else {
            return &mut [];
        };
        let payload: &mut [MaybeUninit<u8>] = sample.payload_mut();
        // SAFETY: `MaybeUninit<u8>` and `u8` have the same layout, and every
        // byte of the payload is initialised: it lies in a shared-memory
        // data segment, which the kernel hands out zero-filled and iceoryx2
        // zeroes when it creates it, and which is only ever written with
        // whole bytes (earlier samples) since. The slice borrows the sample
        // mutably through `&mut self`, so it cannot outlive the loan.
        unsafe { &mut *(std::ptr::from_mut(payload) as *mut [u8]) }
    }

    fn loan_publish(&mut self) -> Result<(), SendError> {
        let sample = self
            .loan
            .take()
            .ok_or_else(|| SendError::Backend("no loan is open".into()))?;
        // SAFETY: every byte is initialised (see `loan_bytes`).
        let sample = unsafe { sample.assume_init() };
        self.delivered(sample.send())
    }

    fn loan_abandon(&mut self) {
        // Dropping an unsent sample gives its chunk back to the publisher.
        self.loan = None;
    }
}

impl transport::Receiver for Iox2Receiver {
    fn recv(&mut self) -> Result<&[u8], RecvError> {
        // Hand the previous chunk back before asking for the next: the
        // subscriber may borrow only one sample at a time.
        self.sample = None;
        let sample = crate::wait::next_sample(&self.subscriber, self.listener.as_ref(), || {
            self.peer_publishing()
        })?;
        Ok(self.sample.insert(sample).payload())
    }
}
