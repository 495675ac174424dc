//! The subscribers' table of a broadcast segment: the group's size and the
//! join counters, then one slot per subscriber (its ring control block and
//! its pid), after the header page (`segment::BCAST_TABLE`).

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
    /// Unused; keeps the block a whole number of words.
    pub spare: AtomicU32,
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
