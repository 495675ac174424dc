//! Shared-memory backend: two single-producer single-consumer rings (one per
//! direction) in one sealed memfd segment, in three waiting disciplines that
//! share all code through a type parameter:
//!
//! | variant | type | waiting receiver (and sender on a full ring) |
//! |---|---|---|
//! | `shm-spin` | [`ShmSpin`] | busy-polls; only sensible with a core per side |
//! | `shm-adaptive` | [`ShmAdaptive`] | polls ~5 µs (not at all if the peer last ran on our core), yields up to 32 times, then sleeps on a futex |
//! | `shm-block` | [`ShmBlock`] | sleeps on a futex as soon as there is nothing to do |
//!
//! A fourth variant, `shm-line` ([`ShmLine`], module [`line`]), busy-polls
//! like `shm-spin` and carries small messages of both directions in one
//! shared cache line (the cheapest round-trip shape), the rest in the rings.
//!
//! # Design (details in `docs/shm.md`)
//!
//! - **Records.** Each ring carries variable-size records: a 16-byte header
//!   (stamp, kind, length) and the body, 16-byte aligned ([`ring`]). The
//!   consumer detects a new record from its stamp, which shares a cache line
//!   with a small body, so a hop costs one cache-line transfer. The producer
//!   keeps the stamp words ahead of its tail zeroed (so stale body bytes of an
//!   earlier lap are never taken for a stamp), a few lines ahead and after
//!   publishing, which keeps that work off the critical path.
//! - **Contiguity by padding, not double mapping.** A record that would cross
//!   the end of the data area is preceded by a padding record and starts at
//!   offset 0 instead, so every body is contiguous and `recv` lends it in
//!   place from shared memory (zero-copy; the slot is released on the next
//!   `recv`). Mapping the data pages twice back to back would also make every
//!   record contiguous, but the ring logic would then depend on the mapping
//!   trick and could not run unchanged on heap memory under Miri or on loom's
//!   modelled memory; padding costs at most one record's worth of space per
//!   lap and is checked by the same tests that check everything else.
//! - **Large messages** (more than half the ring) are streamed as a `BEGIN`
//!   record and chunks of a quarter ring, with back-pressure, and reassembled
//!   into a private buffer that grows only as chunks arrive. The ring size is
//!   chosen from [`Options::expected_max_message`] (the harness passes the
//!   run's largest message): room for [`MESSAGES_IN_FLIGHT`] of them, rounded
//!   up to a power of two, between 1 MiB and 16 MiB ([`ring_size_for`]), so
//!   messages up to the expected size are zero-copy and a stream keeps several
//!   in flight (two, as before, made the producer wait for every release).
//!   An expected size above 8 MiB (half the 16 MiB ring) grows the ring to
//!   the smallest power of two holding it as one record (64 MiB: 256 MiB
//!   rings, up to 1 GiB), not pre-faulted; smaller connections keep these
//!   rings.
//! - **Loans** ([`transport::Sender::loan`]): a record is reserved at the
//!   tail, the caller writes its body in place, and publishing it is the
//!   same stamp store as for a copied message; dropping the loan forgets the
//!   reservation, which wrote nothing the consumer reads. A loan is one
//!   record, so the largest is half the ring ([`MAX_LOAN`] with the largest
//!   ring; `Sender::max_loan` for a connection).
//! - **Indices** live on separate 128-byte blocks (Intel's adjacent-line
//!   prefetcher pairs 64-byte lines); each side keeps its own index locally
//!   and reads the peer's only when it must (the producer re-reads `head` only
//!   when its cached copy says the ring is full). Every atomic ordering is
//!   explained where it is used.
//! - **Robustness.** Shared memory is untrusted: every header is validated
//!   against the ring's bounds and the maximum message size before use, and a
//!   violation gives [`RecvError::Corrupt`] (or [`SendError::Backend`] for an
//!   inconsistent consumer index), never a panic or an allocation of the
//!   claimed size. The segment is sealed against shrinking, so a peer cannot
//!   truncate it under our mapping (which would turn our next access into
//!   SIGBUS). A waiting side checks the peer's close flag and, every 10 ms, the
//!   peer process through a pidfd (immune to pid reuse, and it reports an
//!   unreaped zombie as exited); futex sleeps last at most 20 ms so the check
//!   runs. Dropping a half sets its close flag and wakes the peer, which
//!   drains what was sent and then reports `Disconnected`.
//!
//! # The segment: memfd + rustix, not `shared_memory`, not /dev/shm files
//!
//! The listener creates an anonymous `memfd` (named `ipcbench-shm-<pid>-<tag>`
//! for /proc and debuggers), sizes it, seals it (`F_SEAL_SHRINK | GROW |
//! SEAL`) and maps it with `MAP_POPULATE` (rings up to 16 MiB), so no page
//! fault happens inside a timed send. The endpoint is `shm:<pid>:<fd>:<name>`; the connector opens
//! `/proc/<pid>/fd/<fd>` (after checking that the link names that memfd and
//! opening a pidfd for the listener), checks the seals, the size and the
//! header, and registers its pid. The memfd has no path, so nothing can be
//! left behind: not after a normal run, not after SIGKILL, and no unlink step
//! is needed (the listener closes its descriptor once connected, the mappings
//! keep the memory alive until both sides unmap). A `shm_open` file in
//! /dev/shm could not be sealed (tmpfs files refuse seals), so a hostile or
//! buggy peer could `ftruncate` it and crash us; it would also need unlink
//! and reclaim logic. [`reclaim_stale`] still sweeps `/dev/shm/ipcbench-shm-*`
//! files whose creator pid is dead (left by older versions or other tools
//! using the convention), and `listen` calls it.
//!
//! The `shared_memory` crate has had no release since 2022, wraps exactly the
//! two calls used here (create + map) behind its own error type, and cannot
//! seal; `rustix` (already a workspace dependency) gives typed, safe wrappers
//! for memfd, seals, mmap, futex and pidfd directly.
//!
//! # Checking
//!
//! - Ring core in-process, also under Miri (its weak-memory emulation crashes
//!   on memory written non-atomically in one lap and atomically in the next,
//!   which a lending ring does by design; the race detector still runs):
//!   `MIRIFLAGS=-Zmiri-disable-weak-memory-emulation cargo +nightly miri test -p transport-shm --lib ring`
//! - Index and wake-up protocols under loom:
//!   `RUSTFLAGS="--cfg loom" cargo test -p transport-shm --release --lib loom`
//! - Across processes: `tests/conformance.rs`, `tests/robustness.rs`,
//!   `tests/broadcast.rs` (the broadcast beyond the conformance cases).
//!
//! # Broadcast
//!
//! `shm-spin`, `shm-adaptive` and `shm-block` also broadcast natively: one
//! single-writer multi-reader ring ([`bcast`], docs/shm.md "Broadcast").
//!
//! [`Options::expected_max_message`]: transport::Options::expected_max_message
//! [`RecvError::Corrupt`]: transport::RecvError::Corrupt
//! [`SendError::Backend`]: transport::SendError::Backend

mod sync;

pub mod ring;

#[cfg(not(loom))]
pub mod bcast;
#[cfg(not(loom))]
mod channel;
#[cfg(not(loom))]
pub mod line;
#[cfg(not(loom))]
mod loan;
#[cfg(not(loom))]
pub mod segment;
#[cfg(not(loom))]
mod wait;

#[cfg(not(loom))]
pub use imp::*;
#[cfg(not(loom))]
pub use line::{ShmLine, ShmLineListener, ShmLineReceiver, ShmLineSender};

#[cfg(not(loom))]
mod imp {
    //! The `Transport` implementations.

    use std::marker::PhantomData;
    use std::os::fd::OwnedFd;
    use std::time::Instant;

    use transport::{Capabilities, Endpoint, OpenError, Options};

    use crate::channel::{self, Link};
    use crate::ring::{Consumer, HEADER, Producer};
    use crate::segment::{self, Created};
    use crate::wait::{self, Mode, Peer};

    pub use crate::channel::{ShmReceiver, ShmSender};
    pub use crate::segment::reclaim_stale;
    pub use crate::wait::Mode as WaitMode;

    /// Largest message: the workspace default (1 GiB). Messages above half the
    /// ring are chunked, so the ring size does not limit it.
    pub const MAX_MESSAGE: usize = transport::DEFAULT_MAX_MESSAGE_SIZE;
    /// Smallest ring [`ring_size_for`] picks.
    pub const MIN_DEFAULT_RING: usize = 1 << 20;
    /// Largest ring [`ring_size_for`] picks for messages that need not go in
    /// one record; larger rings are picked only so that a message (or loan)
    /// of the expected size goes whole, up to [`MAX_RING`].
    pub const MAX_DEFAULT_RING: usize = 16 << 20;
    /// Largest ring: record lengths are `u32` ([`crate::ring::MAX_SIZE`]).
    pub const MAX_RING: usize = crate::ring::MAX_SIZE;
    /// Largest loan: the largest one-record body of the largest ring.
    pub const MAX_LOAN: usize = MAX_RING / 2 - HEADER;

    /// Messages of the expected maximum size a ring holds at once (at least;
    /// rounding up to a power of two may give more), unless clamped by
    /// [`MAX_DEFAULT_RING`]: enough that a streaming producer rarely waits for
    /// the consumer's release (409.6 KB: a 4 MiB ring, 10 messages deep).
    pub const MESSAGES_IN_FLIGHT: usize = 8;

    /// Ring data size for a connection whose messages are expected to be at
    /// most `expected_max_message` bytes: room for [`MESSAGES_IN_FLIGHT`] of
    /// them (at least two, so they are sent whole and lent zero-copy), a power
    /// of two, clamped to [`MIN_DEFAULT_RING`]..=[`MAX_DEFAULT_RING`]; and if
    /// that cannot hold one such message whole (above 8 MiB), the smallest
    /// ring that can (twice the record, up to [`MAX_RING`]), so that a loan
    /// or a message of the expected size is one record, written and read in
    /// place. Rings above [`MAX_DEFAULT_RING`] are not pre-faulted
    /// ([`segment::PREFAULT_MAX_RING`]): their pages are touched as records
    /// reach them.
    pub fn ring_size_for(expected_max_message: usize) -> usize {
        let deep = expected_max_message
            .saturating_add(HEADER)
            .saturating_mul(MESSAGES_IN_FLIGHT)
            .checked_next_power_of_two()
            .unwrap_or(MAX_DEFAULT_RING)
            .clamp(MIN_DEFAULT_RING, MAX_DEFAULT_RING);
        let whole = expected_max_message
            .saturating_add(HEADER)
            .saturating_mul(2)
            .checked_next_power_of_two()
            .unwrap_or(MAX_RING)
            .min(MAX_RING);
        deep.max(whole)
    }

    /// A waiting discipline: one of [`Spin`], [`Adaptive`], [`Block`].
    pub trait Wait: Send + Sync + 'static {
        /// The discipline.
        const MODE: Mode;
        /// Registry name of the variant.
        const NAME: &'static str;
        /// Registry description of the variant.
        const DESCRIPTION: &'static str;
    }

    /// Busy-polling.
    #[derive(Debug)]
    pub struct Spin;
    impl Wait for Spin {
        const MODE: Mode = Mode::Spin;
        const NAME: &'static str = "shm-spin";
        const DESCRIPTION: &'static str =
            "shared-memory SPSC rings (sealed memfd), busy-polling; needs a core per side";
    }

    /// Poll, then yield, then futex.
    #[derive(Debug)]
    pub struct Adaptive;
    impl Wait for Adaptive {
        const MODE: Mode = Mode::Adaptive;
        const NAME: &'static str = "shm-adaptive";
        const DESCRIPTION: &'static str =
            "shared-memory SPSC rings (sealed memfd), poll ~5 us, yield, then futex";
    }

    /// Futex as soon as there is nothing to do.
    #[derive(Debug)]
    pub struct Block;
    impl Wait for Block {
        const MODE: Mode = Mode::Block;
        const NAME: &'static str = "shm-block";
        const DESCRIPTION: &'static str =
            "shared-memory SPSC rings (sealed memfd), futex wait/wake on empty or full";
    }

    /// The shared-memory transport with waiting discipline `W`.
    #[derive(Debug)]
    pub struct Shm<W>(PhantomData<W>);

    /// `shm-spin`.
    pub type ShmSpin = Shm<Spin>;
    /// `shm-adaptive`.
    pub type ShmAdaptive = Shm<Adaptive>;
    /// `shm-block`.
    pub type ShmBlock = Shm<Block>;

    /// The listening side: the segment, waiting for its connector.
    #[derive(Debug)]
    pub struct ShmListener<W> {
        /// `None` once `accept` has taken it.
        created: Option<Created>,
        _wait: PhantomData<W>,
    }

    impl<W: Wait> transport::Listener for ShmListener<W> {
        type Sender = ShmSender<W>;
        type Receiver = ShmReceiver<W>;

        fn accept(
            mut self,
            deadline: Instant,
        ) -> Result<(ShmSender<W>, ShmReceiver<W>), OpenError> {
            let Some(created) = self.created.take() else {
                return Err(OpenError::Backend("listener already accepted".into()));
            };
            if let Err(e) = created.seg.wait_connected(deadline) {
                // Dropping `self` with the segment back in place tells a late
                // connector that nobody will ever read.
                self.created = Some(created);
                return Err(e);
            }
            let pid = created.seg.connector_pid();
            // If the connector has already exited, `pidfd` fails and `Peer`
            // falls back to `kill(pid, 0)`, which reports it gone: what it
            // sent is still drained first.
            let peer = Peer::open_or_pid(pid);
            let Created { seg, fd, .. } = created;
            // Both sides have mapped the segment: the descriptor has done its
            // job (a memfd has no name to unlink).
            drop::<OwnedFd>(fd);
            Ok(channel::halves(Link {
                seg,
                peer,
                side: 0,
                checks_tail: true,
                subscriber: None,
            }))
        }
    }

    impl<W> Drop for ShmListener<W> {
        fn drop(&mut self) {
            if let Some(created) = self.created.take() {
                // Close the listener's ends so a connector does not wait for a
                // side that will never exist.
                let tx = Producer::new(created.seg.ring(0));
                tx.close();
                if tx.consumer_sleeping() {
                    wait::futex_wake(tx.peer_waiting_word());
                }
                let rx = Consumer::new(created.seg.ring(1), 0);
                rx.close();
                if rx.producer_sleeping() {
                    wait::futex_wake(rx.peer_waiting_word());
                }
            }
        }
    }

    impl<W: Wait> transport::Transport for Shm<W> {
        const NAME: &'static str = W::NAME;
        const BACKEND: &'static str = "shm";
        const DESCRIPTION: &'static str = W::DESCRIPTION;
        type Sender = ShmSender<W>;
        type Receiver = ShmReceiver<W>;
        type Listener = ShmListener<W>;

        fn listen(opts: &Options) -> Result<(ShmListener<W>, Endpoint), OpenError> {
            segment::reclaim_stale();
            let created = segment::create(
                &opts.tag,
                ring_size_for(opts.expected_max_message),
                W::MODE.id(),
            )?;
            let endpoint = Endpoint(created.endpoint.clone());
            Ok((
                ShmListener {
                    created: Some(created),
                    _wait: PhantomData,
                },
                endpoint,
            ))
        }

        fn connect(
            endpoint: &Endpoint,
            _opts: &Options,
        ) -> Result<(ShmSender<W>, ShmReceiver<W>), OpenError> {
            let opened = segment::open(endpoint, W::MODE.id())?;
            Ok(channel::halves(Link {
                seg: opened.seg,
                peer: opened.peer,
                side: 1,
                checks_tail: true,
                subscriber: None,
            }))
        }

        fn listen_broadcast(
            opts: &Options,
            subscribers: usize,
        ) -> Result<(impl transport::BroadcastListener + use<W>, Endpoint), OpenError> {
            crate::bcast::listen::<W>(opts, subscribers)
        }

        fn subscribe(
            endpoint: &Endpoint,
            _opts: &Options,
        ) -> Result<impl transport::Receiver + use<W>, OpenError> {
            crate::bcast::subscribe::<W>(endpoint)
        }

        fn capabilities() -> Capabilities {
            Capabilities {
                max_message_size: MAX_MESSAGE,
                zero_copy_recv: true,
                wait: W::MODE.strategy(),
                max_loan: MAX_LOAN,
                // One single-writer multi-reader ring (`bcast`); spinning
                // (`shm-spin`) needs a core per subscriber.
                broadcast_subscribers: crate::bcast::layout::MAX_SUBSCRIBERS,
                ..Capabilities::default()
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn ring_sizes_follow_the_hint() {
            assert_eq!(ring_size_for(0), MIN_DEFAULT_RING);
            // The notebook's largest array plus the harness's header hint.
            assert_eq!(ring_size_for(409_600 + 64), 4 << 20);
            assert_eq!(ring_size_for(100_000), 1 << 20);
            assert_eq!(ring_size_for(1 << 20), MAX_DEFAULT_RING);
            assert_eq!(ring_size_for(4 << 20), MAX_DEFAULT_RING);
            // Up to 8 MiB a message fits half the 16 MiB ring whole.
            assert_eq!(ring_size_for((8 << 20) - HEADER), MAX_DEFAULT_RING);
            // Larger: the smallest ring holding it as one record.
            assert_eq!(ring_size_for(8 << 20), 32 << 20);
            assert_eq!(ring_size_for(64 << 20), 256 << 20);
            assert_eq!(ring_size_for(MAX_LOAN), MAX_RING);
            assert_eq!(ring_size_for(usize::MAX), MAX_RING);
        }

        #[test]
        fn the_expected_size_is_always_a_possible_loan() {
            for expected in [
                0,
                8,
                409_600,
                1 << 20,
                (4 << 20) + 1,
                16 << 20,
                64 << 20,
                MAX_LOAN,
            ] {
                let ring = ring_size_for(expected);
                assert!(ring / 2 - HEADER >= expected, "{expected}: ring {ring}");
                assert!(ring <= MAX_RING && ring.is_power_of_two());
            }
        }
    }
}
