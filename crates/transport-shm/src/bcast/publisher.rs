//! The publishing side of a shared-memory broadcast: one producer on the
//! ring, its subscribers' heads gathered when the ring looks full
//! ([`crate::ring::Readers`]), waiting per the strategy for the slowest
//! live one, watching each subscriber's process, and the stall deadline.

use std::marker::PhantomData;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use transport::broadcast::{DEFAULT_STALL_TIMEOUT, Departed, PublishError, Publisher};

use crate::Wait;
use crate::ring::{Corrupt, MemRing, Producer, Push, Readers, RingMem, Slowest, kind};
use crate::segment::Segment;
use crate::wait::{self, Backoff, CLOSE_CHECK_EVERY, LIVENESS_PERIOD, Peer, Step};

/// One subscriber as the publisher knows it.
#[derive(Debug)]
pub(crate) struct Member {
    /// Its pid, as it registered.
    pub pid: u32,
    /// Its process, for liveness.
    pub process: Peer,
}

/// Publishes every message to every subscriber still there; see the crate
/// docs, "Broadcast".
#[derive(Debug)]
pub struct ShmPublisher<W> {
    prod: Producer<MemRing>,
    readers: Readers<MemRing>,
    members: Vec<Member>,
    departed: Vec<Departed>,
    /// Messages published so far.
    published: u64,
    stall_timeout: Duration,
    /// Keeps the mapping every ring view points into alive, and the memfd
    /// open for late subscribers to be refused by name.
    _seg: (Arc<Segment>, OwnedFd),
    _wait: PhantomData<W>,
}

/// Where one wait for room stands.
struct Waiting {
    backoff: Backoff,
    /// The last liveness check of this wait (the first due one starts the
    /// clock, so a short wait makes no system call).
    last_check: Option<Instant>,
    /// The slowest subscriber, its head when it became the slowest, and
    /// since when it has not moved.
    stall: Option<(Slowest, Instant)>,
}

impl<W: Wait> ShmPublisher<W> {
    pub(crate) fn new(
        seg: (Arc<Segment>, OwnedFd),
        prod: Producer<MemRing>,
        readers: Readers<MemRing>,
        members: Vec<Member>,
    ) -> Self {
        Self {
            prod,
            readers,
            members,
            departed: Vec::new(),
            published: 0,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            _seg: seg,
            _wait: PhantomData,
        }
    }

    /// Wakes every subscriber that announced it sleeps.
    #[inline]
    fn notify(&self) {
        if W::MODE.notifies() {
            self.readers.wake_sleepers(wait::futex_wake);
        }
    }

    /// Drops subscriber `i` from the group and records it.
    fn depart(&mut self, i: usize) {
        if self.readers.depart(i) {
            self.departed.push(Departed {
                subscriber: i,
                pid: Some(self.members[i].pid),
                after_messages: self.published,
            });
        }
    }

    /// Gathers the subscribers' heads into the producer's; `None`: nobody
    /// is left. A subscriber whose head is inconsistent is an error naming
    /// it.
    fn gather(&mut self) -> Result<Option<Slowest>, PublishError> {
        let tail = self.prod.tail();
        self.readers
            .gather(self.prod.mem().ctrl(), tail)
            .map_err(|(i, c)| {
                PublishError::Backend(format!(
                    "subscriber {i} (pid {}) corrupted the broadcast ring: {c}",
                    self.members[i].pid
                ))
            })
    }

    /// Drops every subscriber that closed its end or whose process has
    /// gone. Returns whether any was dropped.
    fn check_members(&mut self, processes: bool) -> bool {
        let mut any = false;
        for i in 0..self.readers.len() {
            if self.readers.is_live(i)
                && (self.readers.closed(i) || (processes && !self.members[i].process.alive()))
            {
                self.depart(i);
                any = true;
            }
        }
        any
    }

    /// The ring is full with the last gathered heads: gathers them anew and
    /// waits, per the strategy, for the slowest live subscriber, until the
    /// producer's head moves (Ok: try again), every subscriber has gone,
    /// or the slowest has not moved for the stall timeout.
    fn wait_for_room(&mut self, w: &mut Waiting) -> Result<(), PublishError> {
        // Relaxed: our own store (`Readers::gather`), read back.
        let before = self.prod.mem().ctrl().head.0.load(Relaxed);
        let Some(slowest) = self.gather()? else {
            return Err(PublishError::Disconnected);
        };
        if slowest.head != before {
            return Ok(());
        }
        let step = w.backoff.step();
        if step != Step::Spin || w.backoff.polls().is_multiple_of(CLOSE_CHECK_EVERY) {
            let due = check_due(&mut w.last_check);
            if self.check_members(due) {
                return if self.readers.live_count() == 0 {
                    Err(PublishError::Disconnected)
                } else {
                    Ok(())
                };
            }
            let now = Instant::now();
            match w.stall {
                Some((s, since)) if s == slowest => {
                    let waited = now.duration_since(since);
                    if waited >= self.stall_timeout {
                        return Err(PublishError::Stalled {
                            subscriber: s.reader,
                            pid: Some(self.members[s.reader].pid),
                            waited,
                        });
                    }
                }
                _ => w.stall = Some((slowest, now)),
            }
        }
        match step {
            Step::Spin => core::hint::spin_loop(),
            Step::Yield => rustix::thread::sched_yield(),
            Step::Sleep => {
                let i = slowest.reader;
                self.readers.announce_sleep(i);
                if self.gather()? == Some(slowest) {
                    wait::futex_wait(self.readers.waiting_word(i), 1, wait::SLEEP_SLICE);
                }
                self.readers.cancel_sleep(i);
            }
        }
        Ok(())
    }

    /// Publishes one record, waiting for room.
    fn push(&mut self, body: &[u8]) -> Result<(), PublishError> {
        let mut w: Option<Waiting> = None;
        loop {
            // Fits the record's u32: at most half a ring of at most 1 GiB.
            match self.prod.try_push(kind::MSG, body.len() as u32, body) {
                Ok(Push::Done) => {
                    self.notify();
                    return Ok(());
                }
                Ok(Push::Padded) => {
                    self.notify();
                    continue;
                }
                Ok(Push::Full) => {}
                Err(c) => return Err(corrupt(&c)),
            }
            let w = w.get_or_insert_with(|| Waiting {
                backoff: Backoff::new(W::MODE, false),
                last_check: None,
                stall: None,
            });
            self.wait_for_room(w)?;
        }
    }
}

/// Whether a liveness check is due, at most every [`LIVENESS_PERIOD`]
/// (the first call only starts the clock).
fn check_due(last: &mut Option<Instant>) -> bool {
    let now = Instant::now();
    match *last {
        Some(t) if now.duration_since(t) < LIVENESS_PERIOD => false,
        Some(_) => {
            *last = Some(now);
            true
        }
        None => {
            *last = Some(now);
            false
        }
    }
}

fn corrupt(c: &Corrupt) -> PublishError {
    PublishError::Backend(format!("broadcast ring: {c}"))
}

impl<W: Wait> Publisher for ShmPublisher<W> {
    fn publish(&mut self, msg: &[u8]) -> Result<(), PublishError> {
        if self.readers.live_count() == 0 {
            return Err(PublishError::Disconnected);
        }
        // One record per message, so that a message is published to
        // everyone at once or (stalled) to nobody: the ring is sized from
        // `Options::expected_max_message` to hold one of that size.
        let max = self.prod.max_inline();
        if msg.len() > max {
            return Err(PublishError::TooLarge {
                size: msg.len(),
                max,
            });
        }
        self.push(msg)?;
        self.published += 1;
        Ok(())
    }

    fn subscribers(&self) -> usize {
        self.readers.live_count()
    }

    fn departed(&self) -> &[Departed] {
        &self.departed
    }

    fn set_stall_timeout(&mut self, timeout: Duration) {
        self.stall_timeout = timeout;
    }
}

impl<W> Drop for ShmPublisher<W> {
    fn drop(&mut self) {
        // Every subscriber, departed ones too (one that closed its end
        // ignores it): each drains what was published, then reads
        // Disconnected.
        self.prod.close();
        self.readers.close_all(wait::futex_wake);
    }
}
