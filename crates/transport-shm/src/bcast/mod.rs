//! Native broadcast for `shm-spin`, `shm-adaptive` and `shm-block`: one
//! single-writer multi-reader ring in a sealed memfd (see the transport
//! crate's docs, "Broadcast", and docs/shm.md, "Broadcast").
//!
//! - **One ring, N readers.** The publisher is an ordinary ring producer;
//!   each subscriber an ordinary consumer (the very receiver of a
//!   connection, `ShmReceiver`) whose control block is its own slot of the
//!   subscribers' table ([`layout`]): its `head`, its sleep and close flags.
//!   A message is one record, written once and read in place by every
//!   subscriber (zero-copy); so a broadcast message is at most half the
//!   ring (the ring is sized from `Options::expected_max_message`, as a
//!   connection's), and a larger one is refused with `TooLarge` naming
//!   both sizes before anything is published.
//! - **The slowest sets the pace** ([`publisher`]): when the ring looks
//!   full the publisher gathers the live subscribers' heads (the smallest
//!   is how far it may write, [`crate::ring::Readers`]) and waits for the
//!   slowest, per the strategy, sleeping on that subscriber's flag; every
//!   wait checks close flags, and every 10 ms the subscribers' processes
//!   (pidfds): a dead one is dropped (`Publisher::departed`) and no longer
//!   holds anything back. A live subscriber that has not moved for the
//!   stall timeout makes `publish` fail with `Stalled` naming it; the
//!   message is then published to nobody.
//! - **The group is fixed at accept.** A subscriber claims the next slot
//!   (a counter), writes its pid and counts itself ready; `accept` waits
//!   for all of them. One beyond the group's size, hence any that comes
//!   after `accept` returned, is refused by `subscribe`, naming the group.
//!   Nothing is published before `accept`, so every subscriber reads from
//!   the first message.
//! - **Admission** is the memfd's, as for a connection: only a process of
//!   our user that can open `/proc/<pid>/fd/<n>` of the publisher joins
//!   (`expect_peer` keeps the default, `false`).
//! - **Spinning** (`shm-spin`) needs a core for the publisher and one per
//!   subscriber: spinning subscribers sharing a core take turns by
//!   scheduler time slices. Use `shm-adaptive` or `shm-block` there.

pub(crate) mod layout;
mod publisher;

pub use publisher::ShmPublisher;

use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::{Duration, Instant};

use transport::{BroadcastListener, Endpoint, OpenError, Options};

use crate::channel::{self, Link, ShmReceiver};
use crate::ring::{Producer, Readers};
use crate::segment::{self, Created, Segment, Shape};
use crate::{Wait, wait};
use layout::{ABANDONED, FIXED, GATHERING, MAX_SUBSCRIBERS, Table};
use publisher::Member;

/// The listening side of a broadcast: the segment, waiting for its
/// subscribers.
#[derive(Debug)]
pub struct ShmBroadcastListener<W> {
    /// `None` once `accept` has taken it.
    created: Option<Created>,
    subscribers: usize,
    _wait: PhantomData<W>,
}

fn table(seg: &Segment) -> Result<&Table, OpenError> {
    seg.bcast_table()
        .ok_or_else(|| OpenError::Backend("internal: not a broadcast segment".into()))
}

/// `Transport::listen_broadcast` of `Shm<W>`.
pub(crate) fn listen<W: Wait>(
    opts: &Options,
    subscribers: usize,
) -> Result<(ShmBroadcastListener<W>, Endpoint), OpenError> {
    if !(1..=MAX_SUBSCRIBERS).contains(&subscribers) {
        return Err(OpenError::Backend(format!(
            "{}: a broadcast serves 1 to {MAX_SUBSCRIBERS} subscribers, not {subscribers}",
            W::NAME
        )));
    }
    segment::reclaim_stale();
    let created = segment::create_shaped(
        Shape::Broadcast,
        &opts.tag,
        crate::ring_size_for(opts.expected_max_message),
        W::MODE.id(),
    )?;
    let t = table(&created.seg)?;
    let group = &t.group.0;
    // Relaxed: nobody can see the segment before the endpoint is handed
    // out, after we return.
    group.subscribers.store(subscribers as u32, Relaxed);
    for s in &t.slots {
        s.who.0.cpu.store(crate::segment::NO_CPU, Relaxed);
    }
    let endpoint = Endpoint(created.endpoint.clone());
    Ok((
        ShmBroadcastListener {
            created: Some(created),
            subscribers,
            _wait: PhantomData,
        },
        endpoint,
    ))
}

impl<W: Wait> BroadcastListener for ShmBroadcastListener<W> {
    type Publisher = ShmPublisher<W>;

    fn accept(mut self, deadline: Instant) -> Result<ShmPublisher<W>, OpenError> {
        let Some(created) = self.created.take() else {
            return Err(OpenError::Backend("listener already accepted".into()));
        };
        let n = self.subscribers;
        let group = &table(&created.seg)?.group.0;
        loop {
            // Acquire: pairs with each subscriber's Release increment, so
            // the pids of the first `ready` slots are visible.
            let ready = group.ready.load(Acquire);
            if ready as usize >= n {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                // Dropping `self` with the segment back in place tells the
                // subscribers that came that nothing will be published.
                self.created = Some(created);
                return Err(OpenError::Timeout);
            }
            wait::futex_wait(&group.ready, ready, left.min(Duration::from_millis(50)));
        }
        // Relaxed: a subscriber that claims a slot beyond `n` is refused
        // by the count alone; the state only words its refusal.
        group.state.store(FIXED, Relaxed);
        // The descriptor stays open with the publisher (a memfd has no name
        // to leave behind), so a late subscriber still opens the segment
        // and is told the group is fixed, rather than finding no segment.
        let Created { seg, fd, .. } = created;
        let seg = Arc::new(seg);
        let t = table(&seg)?;
        let members = t.slots[..n]
            .iter()
            .map(|s| {
                // Relaxed: ordered by the Acquire load of `ready` above.
                let pid = s.who.0.pid.load(Relaxed);
                // A subscriber already gone reads as dead (its pidfd does
                // not open), and is dropped at the first wait.
                Member {
                    pid,
                    process: wait::Peer::open_or_pid(pid),
                }
            })
            .collect();
        let readers = Readers::new(
            t.slots[..n]
                .iter()
                .map(|s| seg.ring_with(&s.ctrl, 0))
                .collect(),
        );
        let prod = Producer::new(seg.ring(0));
        Ok(ShmPublisher::new(
            (Arc::clone(&seg), fd),
            prod,
            readers,
            members,
        ))
    }
}

impl<W> Drop for ShmBroadcastListener<W> {
    fn drop(&mut self) {
        let Some(created) = self.created.take() else {
            return;
        };
        let Some(t) = created.seg.bcast_table() else {
            return;
        };
        // Relaxed: the close flags below carry the news.
        t.group.0.state.store(ABANDONED, Relaxed);
        // Close every slot so a subscriber that joined does not wait for a
        // publisher that will never exist.
        for s in &t.slots {
            // Release: pairs with the subscriber's Acquire of its flag.
            s.ctrl.flags.0.prod_closed.store(1, Release);
            wait::futex_wake(&s.ctrl.flags.0.cons_waiting);
        }
    }
}

/// `Transport::subscribe` of `Shm<W>`: joins as the next subscriber.
pub(crate) fn subscribe<W: Wait>(endpoint: &Endpoint) -> Result<ShmReceiver<W>, OpenError> {
    let opened = segment::open_shaped(Shape::Broadcast, endpoint, W::MODE.id())?;
    let t = table(&opened.seg)?;
    let group = &t.group.0;
    // Relaxed: written before the endpoint was handed out.
    let n = (group.subscribers.load(Relaxed) as usize).min(MAX_SUBSCRIBERS);
    let state = group.state.load(Relaxed);
    if state != GATHERING {
        return Err(OpenError::Backend(format!(
            "{}: this broadcast's group of {n} is {}: a subscriber joins before the publisher accepts",
            W::NAME,
            if state == FIXED { "fixed" } else { "abandoned" }
        )));
    }
    // Relaxed: the claim only hands out distinct slots; the Release
    // increment of `ready` publishes what we write into ours.
    let slot = group.joined.fetch_add(1, Relaxed) as usize;
    if slot >= n {
        return Err(OpenError::Backend(format!(
            "{}: this broadcast's group of {n} subscribers is full (the group is fixed at accept)",
            W::NAME
        )));
    }
    let s = &t.slots[slot];
    s.who.0.pid.store(std::process::id(), Relaxed);
    group.ready.fetch_add(1, Release);
    wait::futex_wake(&group.ready);
    let ring = opened.seg.ring_with(&s.ctrl, 0);
    Ok(channel::receiver(
        Link {
            seg: opened.seg,
            peer: opened.peer,
            side: 1,
            checks_tail: false,
            subscriber: Some(slot),
        },
        ring,
    ))
}
