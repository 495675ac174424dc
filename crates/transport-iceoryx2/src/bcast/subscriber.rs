//! The subscribing side of an iceoryx2 broadcast: joins the group (hello,
//! welcome, hello again), then lends every sample in place, checking its
//! sequence number so that being cut off is an error, never a silent gap.

use std::time::Instant;

use iceoryx2::port::listener::Listener as EventListener;
use iceoryx2::port::publisher::Publisher as IoxPublisher;
use iceoryx2::port::subscriber::Subscriber;
use iceoryx2::port::update_connections::UpdateConnections;
use iceoryx2::prelude::*;
use iceoryx2::sample::Sample;
use transport::process::PeerProcess;
use transport::{Endpoint, OpenError, RecvError};

use super::{
    DataService, HELLO_MAGIC, JOIN_TIMEOUT, READY_MAGIC, Services, WELCOME, hello, services,
};
use crate::Flavour;
use crate::cleanup::Guard;
use crate::service::{EventService, Service, Svc, backend, parse_endpoint};

/// One subscriber of a broadcast: receives every message in place.
pub struct Iox2Subscriber {
    // Field order is drop order: the sample, ports, services, node, then
    // the domain's cleanup.
    sample: Option<Sample<Svc, [u8], u64>>,
    subscriber: Subscriber<Svc, [u8], u64>,
    listener: Option<EventListener<Svc>>,
    /// Kept for the life of the receiver: a publisher dropped before its
    /// hellos were taken would take them along.
    _join: IoxPublisher<Svc, [u8], ()>,
    service: DataService,
    _join_service: Service,
    _events: Option<EventService>,
    _node: Node<Svc>,
    publisher: PeerProcess,
    /// The sequence number the next message must carry.
    next: u64,
    _cleanup: Guard,
}

// SAFETY: as for the connection's halves (`halves.rs`): every `Rc` handle
// here was made from this subscriber's own node and is owned by it, so
// moving it moves every clone together.
unsafe impl Send for Iox2Subscriber {}

impl std::fmt::Debug for Iox2Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iox2Subscriber")
            .field("service", self.service.name())
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

/// `Transport::subscribe` of `Iox2<F>`.
pub(crate) fn subscribe<F: Flavour>(endpoint: &Endpoint) -> Result<Iox2Subscriber, OpenError> {
    crate::service::quiet_logs();
    let (publisher_pid, domain, base) = parse_endpoint(endpoint, F::NAME)?;
    let publisher = PeerProcess::open_or_pid(publisher_pid);
    let cfg = domain.config().map_err(OpenError::Backend)?;
    let guard = Guard::new(domain.clone());
    let Services {
        data,
        join,
        events,
        node,
    } = services(&cfg, base, None, F::EVENTS)?;
    let refused = |e: &dyn std::fmt::Debug| {
        OpenError::Backend(format!(
            "{}: this broadcast's group is full or fixed (a subscriber joins before the publisher accepts): {e:?}",
            F::NAME
        ))
    };
    // Subscriber first: the welcome, sent once every hello is in, must
    // find it (history_size is 0).
    let subscriber = data
        .subscriber_builder()
        .create()
        .map_err(|e| refused(&e))?;
    let join_pub = join
        .publisher_builder()
        .initial_max_slice_len(super::HELLO_LEN)
        .create()
        .map_err(|e| refused(&e))?;
    let listener = match &events {
        Some(ev) => Some(
            ev.listener_builder()
                .create()
                .map_err(|e| backend("creating event listener", e))?,
        ),
        None => None,
    };
    let port = subscriber.id().value();
    let mut sub = Iox2Subscriber {
        sample: None,
        subscriber,
        listener,
        _join: join_pub,
        service: data,
        _join_service: join,
        _events: events,
        _node: node,
        publisher,
        next: 0,
        _cleanup: guard,
    };
    sub.subscriber
        .update_connections()
        .map_err(|e| backend("connecting subscriber", e))?;
    sub.say(HELLO_MAGIC, port)?;
    sub.await_welcome(F::NAME)?;
    sub.say(READY_MAGIC, port)?;
    crate::cloexec::mark_domain(&domain);
    Ok(sub)
}

impl Iox2Subscriber {
    /// Says hello on the join service, once it reached the publisher.
    fn say(&self, magic: [u8; 4], port: u128) -> Result<(), OpenError> {
        let h = hello(magic, port);
        let deadline = Instant::now() + JOIN_TIMEOUT;
        loop {
            let sample = self
                ._join
                .loan_slice_uninit(h.len())
                .map_err(|e| backend("loaning hello", e))?;
            let n = sample
                .write_from_slice(&h)
                .send()
                .map_err(|e| backend("sending hello", e))?;
            if n > 0 {
                return Ok(());
            }
            if Instant::now() >= deadline || !self.publisher.alive() {
                return Err(OpenError::Backend(
                    "iceoryx2: the broadcast's publisher did not take our hello".into(),
                ));
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }

    /// Waits for the welcome, which also maps the publisher's data segment.
    fn await_welcome(&mut self, name: &str) -> Result<(), OpenError> {
        let deadline = Instant::now() + JOIN_TIMEOUT;
        loop {
            if let Some(s) = self
                .subscriber
                .receive()
                .map_err(|e| backend("receiving the welcome", e))?
            {
                if *s.user_header() == WELCOME {
                    return Ok(());
                }
                return Err(OpenError::Backend(format!(
                    "{name}: this broadcast's group is fixed (a subscriber joins before the publisher accepts)"
                )));
            }
            if Instant::now() >= deadline {
                return Err(OpenError::Timeout);
            }
            if !self.publisher_there() {
                return Err(OpenError::Backend(format!(
                    "{name}: the broadcast's publisher left before it accepted us"
                )));
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }

    /// True while the publisher is registered and its process lives.
    fn publisher_there(&self) -> bool {
        self.service.dynamic_config().number_of_publishers() > 0 && self.publisher.alive()
    }

    /// Checks the sequence number of a message just taken.
    fn in_order(&mut self, sample: Sample<Svc, [u8], u64>) -> Result<(), RecvError> {
        let seq = *sample.user_header();
        if seq != self.next {
            return Err(RecvError::Backend(format!(
                "iceoryx2: this subscriber was cut off from the broadcast (it stalled): \
                 expected message #{}, the next one it got is #{seq}",
                self.next
            )));
        }
        self.next += 1;
        self.sample = Some(sample);
        Ok(())
    }
}

impl transport::Receiver for Iox2Subscriber {
    fn recv(&mut self) -> Result<&[u8], RecvError> {
        // Hand the previous chunk back before asking for the next: the
        // subscriber may borrow only one sample at a time.
        self.sample = None;
        let sample = crate::wait::next_sample(&self.subscriber, self.listener.as_ref(), || {
            self.publisher_there()
        })?;
        self.in_order(sample)?;
        Ok(self.sample.as_ref().map_or(&[], |s| s.payload()))
    }
}
