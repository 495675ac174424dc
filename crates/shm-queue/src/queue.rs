//! A queue handle: a mapped segment plus the blocking put/get built on the
//! ring's single attempts (spin briefly, yield, then sleep on a futex), the
//! periodic reclaim of dead owners' claims, and unlinking by the creator.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicU32, fence};
use std::time::{Duration, Instant};

use crate::Error;
use crate::ring::{Attempt, Claim, Held, Ring};
use crate::segment::{self, Mapping};
use crate::soon;
use crate::wait::{alive, futex_wait, my_pid};

/// How long a waiting side polls before it sleeps: catches a record from a
/// process running on another core without a futex round trip, which costs
/// far more than a hop, and more again when the sleeper's core has gone idle
/// (docs/design-figures.md). Long enough to cover a lockstep peer's own hop,
/// short enough that an idle worker soon stops burning CPU.
pub const SPIN: Duration = Duration::from_micros(200);
/// Polls between two yields while spinning: a peer waiting for our core (both
/// placed on one CPU) gets it within a few microseconds instead of after
/// the whole spin.
const YIELD_EVERY: u32 = 256;
/// How many times a waiting side yields before it sleeps.
pub const YIELDS: u32 = 8;
/// Longest single futex sleep: the period of the dead-owner check.
pub const SLICE: Duration = Duration::from_millis(50);

/// Default number of slots for [`Queue::create`] callers that do not care.
pub const DEFAULT_SLOTS: u64 = 64;

/// A handle to a shared queue. Any number of processes (and threads) may hold
/// handles to the same queue and put and get concurrently.
#[derive(Debug)]
pub struct Queue {
    ring: Ring,
    name: String,
    /// The pid that created the segment and unlinks it on drop; `None` for
    /// handles that opened an existing one.
    creator: Option<u32>,
    unlinked: AtomicBool,
    // Declared last: dropped after `ring`, whose pointers borrow it.
    _map: Mapping,
}

/// Which side a wait is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Put,
    Get,
}

impl Queue {
    /// Creates a queue of `slots` records of at most `max_record` bytes each,
    /// in a new segment `ipcbench-q-<pid>-<tag>`. Segments left by killed
    /// creators are swept first.
    pub fn create(tag: &str, slots: u64, max_record: usize) -> Result<Self, Error> {
        segment::sweep_stale();
        let me = my_pid();
        let name = format!("{}{me}-{}", segment::NAME_PREFIX, segment::sanitize(tag));
        let len = crate::ring::total_size(slots, max_record as u64).ok_or_else(|| {
            Error::Invalid(format!(
                "a queue of {slots} slots of {max_record} bytes is out of range (slots {}..={}, at most {} bytes each, and it must fit the address space)",
                crate::ring::MIN_SLOTS,
                crate::ring::MAX_SLOTS,
                crate::ring::MAX_SLOT_SIZE
            ))
        })?;
        let map = segment::create(&name, len)?;
        // SAFETY: `map` is `len` fresh zeroed bytes, page-aligned, owned by
        // the returned queue for as long as the ring view is used.
        let ring = unsafe { Ring::init(map.base(), map.len(), slots, max_record as u64, me) };
        let ring = match ring {
            Ok(r) => r,
            Err(e) => {
                let _ = segment::unlink(&name);
                return Err(e);
            }
        };
        Ok(Self {
            ring,
            name,
            creator: Some(me),
            unlinked: AtomicBool::new(false),
            _map: map,
        })
    }

    /// Creates a queue with a name unique on this machine.
    pub fn create_unique(slots: u64, max_record: usize) -> Result<Self, Error> {
        use std::sync::atomic::AtomicU64;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        Self::create(&format!("{n}-{nanos:x}"), slots, max_record)
    }

    /// Opens the queue another handle created, by its [`Queue::name`].
    pub fn open(name: &str) -> Result<Self, Error> {
        let map = segment::open(name)?;
        // SAFETY: the mapping covers the whole segment and lives as long as
        // the returned queue; `attach` validates everything it reads.
        let ring = unsafe { Ring::attach(map.base(), map.len()) }.map_err(|e| e.named(name))?;
        Ok(Self {
            ring,
            name: name.to_owned(),
            creator: None,
            unlinked: AtomicBool::new(false),
            _map: map,
        })
    }

    /// The segment's name (what [`Queue::open`] takes).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Largest record, in bytes.
    pub fn max_record(&self) -> usize {
        self.ring.max_record()
    }

    /// Number of slots (the most records it holds at once).
    pub fn capacity(&self) -> u64 {
        self.ring.slots()
    }

    /// Records waiting (approximate while others put and get).
    pub fn len(&self) -> u64 {
        self.ring.len()
    }

    /// Whether no record is waiting (approximate, as `len`).
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Whether every slot is taken (approximate, as `len`).
    pub fn is_full(&self) -> bool {
        self.ring.len() >= self.ring.slots()
    }

    /// Records lost because a process died holding them (mid-put or
    /// mid-get), over the queue's life, as counted by all handles.
    pub fn lost(&self) -> u64 {
        self.ring.lost()
    }

    /// Frees every slot claimed by a dead process now (waiting calls do this
    /// on their own every [`SLICE`]); returns how many it freed.
    pub fn reclaim_dead(&self) -> u64 {
        self.ring.reclaim_dead(my_pid(), &alive)
    }

    /// Words for a protocol layered on this queue (the transport handshake).
    pub fn aux(&self) -> &[AtomicU32; 16] {
        &self.ring.header().aux.0
    }

    /// Removes the segment's name now: handles already open keep working,
    /// new `open`s fail. The creator's drop does this if nobody did.
    pub fn unlink(&self) -> Result<(), Error> {
        if self.unlinked.swap(true, Relaxed) {
            return Ok(());
        }
        segment::unlink(&self.name)
    }

    /// Appends `msg`, waiting up to `timeout` (`None`: forever) for a free
    /// slot. Fails with [`Error::TooLarge`] before touching the queue if the
    /// record can never fit, [`Error::Full`] on timeout.
    pub fn put(&self, msg: &[u8], timeout: Option<Duration>) -> Result<(), Error> {
        self.put_with(msg.len(), timeout, |buf| buf.copy_from_slice(msg))
    }

    /// As [`Queue::put`], the record's `len` bytes written in place by `fill`.
    pub fn put_with(
        &self,
        len: usize,
        timeout: Option<Duration>,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<(), Error> {
        self.put_until(len, deadline(timeout), fill, &mut || Ok(()))
    }

    /// As [`Queue::put_with`] with a deadline, calling `check` every sleep
    /// slice; an error from `check` ends the wait (a transport uses it to
    /// notice a dead peer).
    pub fn put_until(
        &self,
        len: usize,
        deadline: Option<Instant>,
        fill: impl FnOnce(&mut [u8]),
        check: &mut dyn FnMut() -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut claim = self.claim_until(len, deadline, check)?;
        fill(self.claimed(&mut claim));
        self.publish(claim);
        Ok(())
    }

    /// Claims the next slot for a record of `len` bytes, waiting as
    /// [`Queue::put_until`] does, and hands it back to be written in place
    /// ([`Queue::claimed`]) and then published ([`Queue::publish`]) or
    /// given up ([`Queue::abandon`]): a put without a copy. Consumers take
    /// records in order and wait at a claimed slot, so hold a claim only
    /// while filling it.
    pub fn claim_until(
        &self,
        len: usize,
        deadline: Option<Instant>,
        check: &mut dyn FnMut() -> Result<(), Error>,
    ) -> Result<Claim, Error> {
        let me = my_pid();
        let claim = self.wait(Side::Put, deadline, check, &mut || {
            self.ring.try_claim(len, me, &at_work)
        })?;
        self.announce(len);
        Ok(claim)
    }

    /// Consumers asleep on the queue, or about to be (approximate, as
    /// [`Queue::len`] is): one that polls is not counted.
    pub fn sleeping_consumers(&self) -> u32 {
        self.ring.header().wake.0.consumers_waiting.load(Relaxed)
    }

    /// Until when a record is announced, in monotonic nanoseconds as
    /// [`soon::now_ns`] reads them (0: never); see [`Queue::announce`].
    pub fn announced_until(&self) -> u64 {
        self.ring.announced_until()
    }

    /// Tells the consumers that a record of `len` bytes is about to be
    /// written, if it is large enough to be worth it (see [`soon`]): one
    /// asleep wakes up and polls until the record lands or the announcement
    /// passes, so the publish finds it awake. [`Queue::claim_until`] does
    /// this itself; a layer that fills memory of its own before its put
    /// (a loan out of its own pool) calls it when it starts.
    pub fn announce(&self, len: usize) {
        if let Some(hint) = soon::hint_for(len) {
            let ns = u64::try_from(hint.as_nanos()).unwrap_or(u64::MAX);
            self.ring.announce(soon::now_ns().saturating_add(ns));
        }
    }

    /// The payload of a slot this handle claimed, to write in place.
    pub fn claimed<'c>(&self, claim: &'c mut Claim) -> &'c mut [u8] {
        self.ring.claimed(claim)
    }

    /// Publishes a claimed slot as one record.
    pub fn publish(&self, claim: Claim) {
        self.ring.publish(claim);
    }

    /// Gives a claimed slot up: consumers skip it, nothing is delivered and
    /// no loss is counted.
    pub fn abandon(&self, claim: Claim) {
        self.ring.abandon(claim);
    }

    /// Takes the oldest record, waiting up to `timeout` (`None`: forever);
    /// [`Error::Empty`] on timeout.
    pub fn get(&self, timeout: Option<Duration>) -> Result<Vec<u8>, Error> {
        self.get_with(timeout, <[u8]>::to_vec)
    }

    /// As [`Queue::get`], lending the record to `take` (which copies out what
    /// it needs) while this process holds its slot.
    pub fn get_with<R>(
        &self,
        timeout: Option<Duration>,
        take: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, Error> {
        self.get_until(deadline(timeout), take, &mut || Ok(()))
    }

    /// As [`Queue::get_with`] with a deadline and a `check` as in
    /// [`Queue::put_until`].
    pub fn get_until<R>(
        &self,
        deadline: Option<Instant>,
        take: impl FnOnce(&[u8]) -> R,
        check: &mut dyn FnMut() -> Result<(), Error>,
    ) -> Result<R, Error> {
        let me = my_pid();
        let mut take = Some(take);
        let mut take_once = |buf: &[u8]| take.take().map(|f| f(buf));
        let got = self.wait(Side::Get, deadline, check, &mut || {
            self.ring.try_get(me, &at_work, &mut take_once)
        })?;
        got.ok_or_else(|| Error::Invalid("record taken twice".into()))
    }

    /// As [`Queue::get_until`], but the record stays in its slot, held by
    /// this process, until [`Queue::release`]: a receiver reads it in place
    /// with no copy ([`Queue::held`]). Hold one record at a time, briefly:
    /// producers that lap around to its slot wait for it.
    pub fn hold_until(
        &self,
        deadline: Option<Instant>,
        check: &mut dyn FnMut() -> Result<(), Error>,
    ) -> Result<Held, Error> {
        let me = my_pid();
        self.wait(Side::Get, deadline, check, &mut || {
            self.ring.try_hold(me, &at_work)
        })
    }

    /// A held record's bytes, in place (borrowing the queue too: its
    /// mapping holds them).
    pub fn held<'h>(&'h self, held: &'h Held) -> &'h [u8] {
        self.ring.held(held)
    }

    /// Gives a held record's slot back to the producers.
    pub fn release(&self, held: Held) {
        self.ring.release(held);
    }

    /// One attempt at [`Queue::put_with`] that never waits, sleeps or
    /// reclaims: `Ok(false)` (and `fill` not called) if no slot is free right
    /// now. For a caller that must not block where it stands (a Python
    /// binding holding the GIL) and waits elsewhere if this fails.
    pub fn try_put_with(&self, len: usize, fill: impl FnOnce(&mut [u8])) -> Result<bool, Error> {
        let mut fill = Some(fill);
        let mut fill_once = |buf: &mut [u8]| {
            if let Some(f) = fill.take() {
                f(buf);
            }
        };
        match self.ring.try_put(len, my_pid(), &at_work, &mut fill_once) {
            Ok(Attempt::Done(())) => Ok(true),
            Ok(Attempt::Busy) => Ok(false),
            Err(e) => Err(e.named(&self.name)),
        }
    }

    /// One attempt at [`Queue::get_with`] that never waits, sleeps or
    /// reclaims: `Ok(None)` (and `take` not called) if no record is there
    /// right now.
    pub fn try_get_with<R>(&self, take: impl FnOnce(&[u8]) -> R) -> Result<Option<R>, Error> {
        let mut take = Some(take);
        let mut take_once = |buf: &[u8]| take.take().map(|f| f(buf));
        match self.ring.try_get(my_pid(), &at_work, &mut take_once) {
            Ok(Attempt::Done(Some(r))) => Ok(Some(r)),
            Ok(Attempt::Done(None)) => Err(Error::Invalid("record taken twice".into())),
            Ok(Attempt::Busy) => Ok(None),
            Err(e) => Err(e.named(&self.name)),
        }
    }

    /// The wait discipline shared by put and get: try, spin [`SPIN`], yield
    /// [`YIELDS`] times, then sleep on the side's futex in slices of at most
    /// [`SLICE`], reclaiming dead owners' slots and calling `check` between
    /// slices.
    fn wait<T>(
        &self,
        side: Side,
        deadline: Option<Instant>,
        check: &mut dyn FnMut() -> Result<(), Error>,
        attempt: &mut dyn FnMut() -> Result<Attempt<T>, Error>,
    ) -> Result<T, Error> {
        let busy = || match side {
            Side::Put => Error::Full,
            Side::Get => Error::Empty,
        };
        let mut try_once = || attempt().map_err(|e| e.named(&self.name));
        if let Attempt::Done(v) = try_once()? {
            return Ok(v);
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| d <= now) {
            return self.last_try(&mut try_once).ok_or_else(busy)?;
        }
        if let Spun::Got(v) = spin(now + SPIN, false, &mut try_once)? {
            return Ok(v);
        }
        for _ in 0..YIELDS {
            std::thread::yield_now();
            if let Attempt::Done(v) = try_once()? {
                return Ok(v);
            }
        }
        let w = &self.ring.header().wake.0;
        let (word, waiting) = match side {
            Side::Put => (&w.space, &w.producers_waiting),
            Side::Get => (&w.items, &w.consumers_waiting),
        };
        // Whether another task wanted our core while we polled for an
        // announced record: then we sleep, as without an announcement.
        let mut gave_way = false;
        loop {
            check()?;
            if side == Side::Get
                && !gave_way
                && let Some(until) = soon::poll_until(self.ring.announced_until(), deadline)
            {
                // A record is announced: poll for it rather than sleep.
                match spin(until, true, &mut try_once)? {
                    Spun::Got(v) => return Ok(v),
                    Spun::Contended => gave_way = true,
                    Spun::Passed => {}
                }
                continue;
            }
            let seen = word.load(Acquire);
            waiting.fetch_add(1, Relaxed);
            // SeqCst fence: pairs with the one in `Ring::notify`, so either
            // the re-check below sees the record/slot or the notifier sees us
            // registered and wakes us.
            fence(SeqCst);
            let again = try_once();
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if matches!(again, Ok(Attempt::Busy)) && left.is_none_or(|l| !l.is_zero()) {
                futex_wait(word, seen, left.map_or(SLICE, |l| l.min(SLICE)));
            }
            waiting.fetch_sub(1, Relaxed);
            if let Attempt::Done(v) = again? {
                return Ok(v);
            }
            if let Attempt::Done(v) = try_once()? {
                return Ok(v);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return self.last_try(&mut try_once).ok_or_else(busy)?;
            }
            self.reclaim_dead();
        }
    }
}

/// How a [`spin`] ended.
enum Spun<T> {
    /// An attempt succeeded.
    Got(T),
    /// `until` passed.
    Passed,
    /// Another task wanted the core (only when asked to give way).
    Contended,
}

/// How long a poller for an announced record may be away (not running)
/// before it checks whether another task of this machine took its CPU, and
/// if one did, gives way: another runnable task on the core takes it for a
/// scheduler slice (milliseconds) at each yield, while the kernel's own
/// short jobs and the hypervisor's interruptions of an idle guest leave it
/// for microseconds, or do not count as a task (docs/zero-copy.md,
/// "Announced records").
const AWAY: Duration = Duration::from_micros(200);

/// Polls `try_once` until `until`, yielding every [`YIELD_EVERY`] polls;
/// with `give_way`, stops once the poller finds it was away for [`AWAY`]
/// and another task ran on its CPU meanwhile ([`soon::switches_away`]): on
/// a shared core a task that yields waits behind the others when the record
/// comes, and takes their time while it polls, while one woken from a
/// futex is run soon.
fn spin<T>(
    until: Instant,
    give_way: bool,
    try_once: &mut dyn FnMut() -> Result<Attempt<T>, Error>,
) -> Result<Spun<T>, Error> {
    let mut polls = 0u32;
    let switches = if give_way { soon::switches_away() } else { 0 };
    let mut last = Instant::now();
    loop {
        if polls.is_multiple_of(32) {
            let now = Instant::now();
            if now >= until {
                return Ok(Spun::Passed);
            }
            if give_way && now.duration_since(last) > AWAY && soon::switches_away() != switches {
                return Ok(Spun::Contended);
            }
            last = now;
        }
        std::hint::spin_loop();
        polls = polls.wrapping_add(1);
        if polls.is_multiple_of(YIELD_EVERY) {
            std::thread::yield_now();
        }
        if let Attempt::Done(v) = try_once()? {
            return Ok(Spun::Got(v));
        }
    }
}

impl Queue {
    /// Before a caller gives up on its deadline: reclaims dead owners' claims
    /// (attempts never do, see [`at_work`]) and, if any was, tries once more.
    fn last_try<T>(
        &self,
        try_once: &mut dyn FnMut() -> Result<Attempt<T>, Error>,
    ) -> Option<Result<T, Error>> {
        if self.reclaim_dead() == 0 {
            return None;
        }
        match try_once() {
            Ok(Attempt::Done(v)) => Some(Ok(v)),
            Ok(Attempt::Busy) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// What an attempt assumes of a claim's owner: that it is at work. A held
/// claim is the normal state while a record is copied in or out, and asking
/// the kernel whether its owner lives costs microseconds (a signal probe
/// and a read of /proc); on the polling path that lands just as the record
/// is published, so a waiter that checked saw the record late, several
/// times a small get's cost whenever the phases lined up
/// (docs/design-figures.md). Dead owners are reclaimed on the slow path instead: between futex
/// sleeps and before a caller gives up on its deadline.
fn at_work(_pid: u32) -> bool {
    true
}

fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now().checked_add(t).unwrap_or_else(far_future))
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}

impl Drop for Queue {
    fn drop(&mut self) {
        // Only the creating process unlinks: a forked child inherits the
        // handle (and its `creator` pid) but is not the creator.
        if self.creator == Some(my_pid()) {
            let _ = self.unlink();
        }
    }
}

impl Queue {
    /// Wakes every sleeper on both futex words (a layer above uses it when
    /// its own state changes, e.g. a side closes).
    pub fn wake_all(&self) {
        let w = &self.ring.header().wake.0;
        for word in [&w.items, &w.space] {
            word.fetch_add(1, Release);
            crate::wait::futex_wake(word, u32::MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An attempt that fails `n` times, then succeeds with how many it took.
    fn attempts(n: u32) -> impl FnMut() -> Result<Attempt<u32>, Error> {
        let mut k = 0;
        move || {
            k += 1;
            Ok(if k > n {
                Attempt::Done(k)
            } else {
                Attempt::Busy
            })
        }
    }

    /// Pins the calling thread to `cpu`.
    fn pin(cpu: usize) {
        // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes
        // inside it; sched_setaffinity reads it for the calling thread.
        let ok = unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) == 0
        };
        assert!(ok, "pinning to CPU {cpu}");
    }

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    #[test]
    fn a_spin_ends_at_the_first_success_or_when_its_time_passes() {
        let got = spin(far(), false, &mut attempts(1000)).expect("spin");
        assert!(matches!(got, Spun::Got(1001)));
        let until = Instant::now() + Duration::from_millis(2);
        let got = spin(until, false, &mut attempts(u32::MAX)).expect("spin");
        assert!(matches!(got, Spun::Passed));
        assert!(Instant::now() >= until);
    }

    #[test]
    fn a_poller_gives_way_to_another_task_on_its_cpu_only_when_asked_to() {
        // SAFETY: sched_getcpu has no preconditions.
        let cpu = usize::try_from(unsafe { libc::sched_getcpu() }).expect("a CPU");
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            pin(cpu);
            s.spawn(|| {
                pin(cpu);
                while !stop.load(Relaxed) {
                    std::hint::spin_loop();
                }
            });
            let never = spin(far(), true, &mut attempts(u32::MAX));
            let on = spin(far(), false, &mut attempts(100_000));
            stop.store(true, Relaxed);
            assert!(matches!(never.expect("spin"), Spun::Contended), "gives way");
            assert!(matches!(on.expect("spin"), Spun::Got(100_001)), "polls on");
        });
    }
}
