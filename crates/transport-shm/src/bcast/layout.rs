//! The subscribers' table of a broadcast segment: the group's size and the
//! join counters, then one slot per subscriber (its ring control block and
//! its pid), after the header page (`segment::BCAST_TABLE`).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU32, AtomicU64};

use crate::ring::{Padded, RingCtrl};
use crate::segment::BCAST_TABLE;

/// The most subscribers one broadcast serves
/// (`Capabilities::broadcast_subscribers`).
pub const MAX_SUBSCRIBERS: usize = 32;

/// `Group::state`: the publisher waits for its subscribers.
pub const GATHERING: u32 = 0;
/// `Group::state`: `accept` has returned; the group is fixed.
pub const FIXED: u32 = 1;
/// `Group::state`: the listener was dropped without accepting.
pub const ABANDONED: u32 = 2;

/// The group: how many subscribers it takes and how many have come.
#[repr(C)]
#[derive(Debug, Default)]
pub struct Group {
    /// How many subscribers `listen_broadcast` asked for; written once
    /// before the endpoint is handed out.
    pub subscribers: AtomicU32,
    /// Slots claimed so far (a subscriber takes slot `joined`, counting
    /// up; one that finds `subscribers` taken is refused). Counts refused
    /// ones too.
    pub joined: AtomicU32,
    /// Subscribers registered (pid written): the futex word `accept`
    /// sleeps on.
    pub ready: AtomicU32,
    /// [`GATHERING`], [`FIXED`] or [`ABANDONED`].
    pub state: AtomicU32,
}

/// Who holds a slot.
#[repr(C)]
#[derive(Debug, Default)]
pub struct Who {
    /// The subscriber's pid, written before it counts itself `ready`.
    pub pid: AtomicU32,
    /// The CPU it last started waiting on (`segment::NO_CPU` before): a
    /// scheduling hint its fellow subscribers read, so that subscribers
    /// sharing a CPU yield to each other instead of spinning (see
    /// `channel::Link::same_core`). Written only when it changes.
    pub cpu: AtomicU32,
    /// Unused.
    pub spare2: AtomicU64,
}

/// One subscriber's slot: the control block of its view of the ring (its
/// `head`, its sleep and close flags; the publisher's sleep flag while it
/// waits for this subscriber) and who it is.
#[repr(C)]
#[derive(Debug, Default)]
pub struct Slot {
    /// Its ring control block. `tail` is unused (the publisher's is in the
    /// header page).
    pub ctrl: RingCtrl,
    /// Its process.
    pub who: Padded<Who>,
}

/// The table: the group, then the slots.
#[repr(C)]
#[derive(Debug)]
pub struct Table {
    /// Sizes and join counters.
    pub group: Padded<Group>,
    /// One per possible subscriber.
    pub slots: [Slot; MAX_SUBSCRIBERS],
}

const _: () = assert!(size_of::<Table>() <= BCAST_TABLE);

impl Table {
    /// Records that subscriber `mine` waits on CPU `me`, and tells whether
    /// another subscriber of the group that has not closed last waited
    /// there too. Relaxed throughout, and the hint written only on a
    /// change: a scheduling hint, nothing is published with it.
    pub fn fellow_on(&self, mine: usize, me: u32) -> bool {
        let n = (self.group.0.subscribers.load(Relaxed) as usize).min(self.slots.len());
        let Some(own) = self.slots.get(mine) else {
            return false;
        };
        if own.who.0.cpu.load(Relaxed) != me {
            own.who.0.cpu.store(me, Relaxed);
        }
        self.slots[..n].iter().enumerate().any(|(i, s)| {
            i != mine
                && s.who.0.cpu.load(Relaxed) == me
                && s.ctrl.flags.0.cons_closed.load(Relaxed) == 0
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::NO_CPU;

    fn group_of(n: u32) -> Box<Table> {
        let t = Box::new(Table {
            group: Padded(Group::default()),
            slots: std::array::from_fn(|_| Slot::default()),
        });
        t.group.0.subscribers.store(n, Relaxed);
        for s in &t.slots {
            s.who.0.cpu.store(NO_CPU, Relaxed);
        }
        t
    }

    #[test]
    fn subscribers_waiting_on_one_cpu_see_each_other_until_one_closes() {
        let t = group_of(3);
        // Nobody else has waited yet.
        assert!(!t.fellow_on(0, 5));
        // Subscriber 1 finds 0 on its CPU; 0 then finds 1.
        assert!(t.fellow_on(1, 5));
        assert!(t.fellow_on(0, 5));
        // 1 moves to CPU 6: 0 is alone on 5, and 2 on 6 finds 1.
        assert!(!t.fellow_on(1, 6));
        assert!(!t.fellow_on(0, 5));
        assert!(t.fellow_on(2, 6));
        // A subscriber that closed no longer counts.
        t.slots[1].ctrl.flags.0.cons_closed.store(1, Relaxed);
        assert!(!t.fellow_on(2, 6));
        // Slots beyond the group, and a slot that does not exist, never do.
        t.slots[3].who.0.cpu.store(6, Relaxed);
        assert!(!t.fellow_on(2, 6));
        assert!(!t.fellow_on(MAX_SUBSCRIBERS, 6));
    }
}
