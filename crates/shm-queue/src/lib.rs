//! A bounded multi-producer multi-consumer queue of variable-size records in a
//! POSIX shared-memory segment, robust to processes killed at any instant;
//! also the ipcbench transport backend `shm-queue` ([`ShmQueue`]).
//!
//! # Design
//!
//! - **Slots, not a byte ring.** The segment holds a header page and `n`
//!   fixed-capacity slots; a record of any length up to the slot's capacity
//!   ([`Queue::max_record`]) takes one slot. A longer record is refused with
//!   [`Error::TooLarge`] naming both sizes, before anything is written.
//!   Fixed slots cost memory for small records in a queue sized for large
//!   ones, but the segment is sparse (pages are touched only as far as
//!   records fill them) and the protocol stays one compare-and-swap per
//!   claim, which is what makes recovery from a killed process tractable.
//! - **Vyukov's bounded MPMC, with claims on the slot.** Producers and
//!   consumers each share a position counter, as in Vyukov's queue, but the
//!   claim itself is a compare-and-swap on the slot's 64-bit state word
//!   ([`state`]): lap number, kind (free/full, `WRITING`, `READING`, `LOST`)
//!   and the owner's pid. The position counters are only hints that anyone
//!   moves forward past a claimed slot, so a process that dies between claim
//!   and counter update blocks nobody.
//! - **Killed processes.** A claim names a pid, so a waiting process can tell
//!   a slow owner from a dead one (`kill(pid, 0)`, and `/proc/<pid>/stat` for
//!   zombies). A producer that died mid-put leaves `WRITING`: it becomes
//!   `LOST`, which consumers skip. A consumer that died mid-get leaves
//!   `READING`: it becomes free. Either way exactly one process wins the
//!   compare-and-swap and bumps the loss counter ([`Queue::lost`]); at most
//!   the record the dead process held is lost, and nothing else is touched.
//!   A pid reused by a new process before the reclaim only delays it.
//!   A claim is held only while a record is copied in or out, but a holder
//!   that is stopped (not dead) there stalls producers once they wrap
//!   around to its slot, as in any ring: records are taken in order.
//! - **Waiting.** Spin ~200 µs (yielding every 256 polls, so a peer on the
//!   same core is not starved), yield a few times, then sleep on a futex word
//!   in the segment (one for "items", one for "space"), with a waiter count
//!   so the other side makes the wake-up system call only when someone
//!   sleeps. Sleeps last at most 50 ms, after which the sleeper reclaims dead
//!   owners' slots; an idle queue costs its waiters 20 wake-ups a second.
//!   A producer about to write a large record announces it first
//!   ([`Queue::announce`], [`soon`]): a sleeping consumer wakes during the
//!   fill and polls until the record lands, so the publish finds it awake.
//! - **Untrusted memory.** Every word read from the segment is validated: a
//!   header whose geometry disagrees with the segment's size is refused at
//!   open, a record length beyond its slot gives [`Error::Corrupt`] naming
//!   the queue (and frees the slot), never an out-of-bounds access. A process
//!   that can write the segment can still truncate the file under our
//!   mapping (POSIX shm cannot be sealed), which would fault the next access:
//!   only processes of the same user can open it (mode 0600).
//! - **Names and residue.** Segments are `/dev/shm/ipcbench-q-<pid>-<tag>`,
//!   created with `O_EXCL`. The creating process unlinks the name when its
//!   handle drops (or earlier through [`Queue::unlink`]; open handles keep
//!   working), so nothing is left after a normal exit. A creator killed by
//!   SIGKILL cannot unlink: its segment stays in /dev/shm until
//!   [`sweep_stale`] removes every queue segment whose creator pid is dead;
//!   [`Queue::create`] runs that sweep first.
//!
//! - **Puts without a copy.** [`Queue::claim_until`] hands back the claimed
//!   slot ([`ring::Claim`]) for the caller to write in place
//!   ([`Queue::claimed`]) and [`Queue::publish`]; [`Queue::abandon`] gives
//!   it up as a slot consumers skip (not counted as lost). The transport's
//!   loans ([`transport::Sender::loan`]) are built on it; a connection opened
//!   for messages larger than 16 MiB gets slots that large (up to 256 MiB),
//!   so a loan of that size is one slot.
//!
//! # Checking it
//!
//! - `cargo test -p shm-queue`: the protocol on heap memory (`tests/ring.rs`,
//!   dead owners simulated by claims left behind), processes SIGKILLed
//!   mid-put, mid-get and at random (`tests/kill.rs`), and the transport
//!   conformance suite.
//! - Loom models of claim / publish / release and of reclaiming a dead
//!   writer's slot: `RUSTFLAGS="--cfg loom" cargo test -p shm-queue --release
//!   --lib loom` (own target dir advised: it rebuilds everything).
//! - Hostile segments: the `shm_queue` target in fuzz/.

#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(not(loom))]
mod queue;
pub mod ring;
#[cfg(not(loom))]
pub mod segment;
#[cfg(not(loom))]
pub mod soon;
pub mod state;
mod sync;
#[cfg(not(loom))]
mod transport_impl;
#[cfg(not(loom))]
pub mod wait;

#[cfg(not(loom))]
pub use queue::{DEFAULT_SLOTS, Queue, SLICE, SPIN};
#[cfg(not(loom))]
pub use segment::sweep_stale;
#[cfg(not(loom))]
pub use transport_impl::{
    MAX_LOAN, MAX_MESSAGE, MAX_SHARED, ShmQueue, ShmQueueListener, ShmQueueReceiver,
    ShmQueueSender, slot_size_for,
};

/// What can go wrong with a queue.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The record can never fit; nothing was written.
    #[error("record of {size} bytes is larger than the largest this queue holds ({max} bytes)")]
    TooLarge { size: usize, max: usize },
    /// No free slot before the deadline (or at once, for a non-blocking put).
    #[error("queue is full")]
    Full,
    /// No record before the deadline (or at once, for a non-blocking get).
    #[error("queue is empty")]
    Empty,
    /// The segment holds something no correct process writes.
    #[error("corrupt queue: {0}")]
    Corrupt(String),
    /// Bad parameters or a segment that is not a queue.
    #[error("{0}")]
    Invalid(String),
    /// A system call failed; `what` names it and the queue.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The layer above gave up (e.g. its peer is gone).
    #[error("{0}")]
    Aborted(String),
}

impl Error {
    fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }

    /// Prefixes a corruption or validation message with the queue's name.
    fn named(self, name: &str) -> Self {
        match self {
            Self::Corrupt(m) => Self::Corrupt(format!("queue {name}: {m}")),
            Self::Invalid(m) => Self::Invalid(format!("queue {name}: {m}")),
            e => e,
        }
    }
}
