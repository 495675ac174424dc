//! `shm-crate`: the way most Rust IPC write-ups move messages between
//! processes, built as a comparison point for the project's own ring
//! (`transport-shm`): one segment from the [`shared_memory`] crate (a
//! `shm_open` file in /dev/shm, mapped by both sides), one message slot per
//! direction, and two [`raw_sync`] busy events per slot ("full", "empty").
//!
//! # How it works
//!
//! - **Set-up.** `listen` creates `/dev/shm/ipcbench-shmcrate-<pid>-<tag>`
//!   (`ShmemConf::os_id(..).create()`, owner), writes a small header (magic,
//!   slot size, pids) and initialises the events; the endpoint is
//!   `shm-crate:/<that name>`. `connect` opens it by name, checks the header
//!   and the events (`BusyEvent::from_existing`), and registers its pid.
//!   `accept` polls (1 ms) for the registration until its deadline.
//! - **A message.** The writer waits for `empty`, writes the length and the
//!   bytes into the slot, sets `full`; the reader waits for `full`, copies
//!   the slot into its own buffer, sets `empty`, and lends the buffer. One
//!   message is in flight per direction; a message larger than the slot
//!   crosses it in slot-sized chunks and is reassembled. The slot is sized
//!   from [`Options::expected_max_message`] ([`slot_size_for`]), so a run's
//!   messages normally cross whole.
//! - **Waiting.** raw_sync's busy event spins for as long as it is told to
//!   (with `Timeout::Infinite`, for ever: two processes on one core then
//!   stall each other for whole timeslices). Here it spins
//!   [`wait::SPIN`], then the side yields 32 times, then sleeps 20 µs
//!   doubling to 1 ms: the busy event has no futex to be woken by, so a side
//!   that went to sleep sees a signal only when it wakes. raw_sync's blocking
//!   `Event` is not used: it is a process-shared pthread condition variable
//!   whose mutex is not robust, so a peer killed while holding it would make
//!   every later `set` and `wait` block for ever.
//! - **Memory ordering.** raw_sync's busy events load and store with
//!   `Relaxed` ordering, which publishes nothing: a write-up that fills the
//!   slot and sets the event races its own data. Each side here puts a
//!   `Release` fence before setting an event and an `Acquire` fence after
//!   taking one, which makes the pair synchronise.
//!
//! # What the project's ring does that this does not
//!
//! One message in flight instead of many (the writer waits for the reader's
//! copy before the next message), a copy out of the slot on every receive
//! instead of a lend in place, sleeps instead of a futex wake-up, a
//! /dev/shm file that a peer could `ftruncate` under our mapping (a SIGBUS,
//! which a sealed memfd rules out), no `MAP_POPULATE` (first touches fault
//! in pages during warm-up), and an allocation on every unsuccessful poll
//! after the first (raw_sync returns its timeouts as boxed strings).
//!
//! # Robustness
//!
//! - **Hostile header.** Every chunk's lengths are checked against the slot,
//!   [`MAX_MESSAGE`] and the message it continues before any byte is copied;
//!   a violation is [`RecvError::Corrupt`] and poisons the receiver. The
//!   reassembly buffer grows only as chunks arrive.
//! - **A dead peer.** A waiting side checks the peer's close flag on every
//!   poll after the spin and, every 10 ms, the peer process through a pidfd.
//!   Dropping a half sets its close flag; the peer drains what was sent and
//!   then reports `Disconnected`.
//! - **Descriptors.** glibc's `shm_open` (used by the crate through `nix`)
//!   always opens with `O_CLOEXEC`; pidfds are close-on-exec too.
//!
//! # Segment removal and what SIGKILL leaves
//!
//! The listener owns the name (`shared_memory`'s owner flag): `accept`
//! removes it as soon as the connector has registered (both sides have it
//! mapped, so nobody needs the name) and gives up ownership; a listener
//! dropped before that, or a `listen` that fails half-way, removes it through
//! the owner flag. After `accept` nothing is left in any file system; the
//! memory goes with the last mapping. A listener killed with SIGKILL between
//! `listen` and the end of `accept` leaves
//! `/dev/shm/ipcbench-shmcrate-<pid>-<tag>`, which [`reclaim_stale`] removes
//! once `<pid>` no longer exists; every `listen` runs it first.
//!
//! [`RecvError::Corrupt`]: transport::RecvError::Corrupt
//! [`Options::expected_max_message`]: transport::Options::expected_max_message

mod channel;
pub mod plain;
pub mod segment;
pub mod wait;

use std::time::{Duration, Instant};

use transport::endpoint::Fields;
use transport::process::PeerProcess;
use transport::{Capabilities, Endpoint, OpenError, Options, WaitStrategy};

pub use channel::{ShmCrateReceiver, ShmCrateSender};
pub use segment::reclaim_stale;

use channel::Link;
use segment::{MAX_SLOT, MIN_SLOT, NAME_PREFIX, Segment};

/// Largest message: the workspace default; larger than the slot crosses in
/// chunks.
pub const MAX_MESSAGE: usize = transport::DEFAULT_MAX_MESSAGE_SIZE;

const ENDPOINT_PREFIX: &str = "shm-crate:/";

/// Slot size for messages expected to be at most `expected_max_message`
/// bytes: room for one of them (the common design holds one message), a
/// power of two in [`MIN_SLOT`]..=[`MAX_SLOT`].
pub fn slot_size_for(expected_max_message: usize) -> usize {
    expected_max_message
        .checked_next_power_of_two()
        .unwrap_or(MAX_SLOT)
        .clamp(MIN_SLOT, MAX_SLOT)
}

/// The `shm-crate` transport.
#[derive(Debug)]
pub struct ShmCrate;

/// The listening side: the segment, waiting for its connector.
#[derive(Debug)]
pub struct ShmCrateListener {
    /// `None` once `accept` has taken it.
    seg: Option<Segment>,
}

impl transport::Listener for ShmCrateListener {
    type Sender = ShmCrateSender;
    type Receiver = ShmCrateReceiver;

    fn accept(
        mut self,
        deadline: Instant,
    ) -> Result<(ShmCrateSender, ShmCrateReceiver), OpenError> {
        let Some(mut seg) = self.seg.take() else {
            return Err(OpenError::Backend("listener already accepted".into()));
        };
        while !seg.connected() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                // Back in place, so the drop closes our ends and removes it.
                self.seg = Some(seg);
                return Err(OpenError::Timeout);
            }
            std::thread::sleep(left.min(Duration::from_millis(1)));
        }
        seg.unlink();
        let peer = PeerProcess::open_or_pid(seg.connector_pid());
        Ok(channel::halves(Link { seg, peer }, 0)?)
    }
}

impl Drop for ShmCrateListener {
    fn drop(&mut self) {
        if let Some(seg) = &self.seg {
            // A connector that came (or comes) sees both our ends closed.
            seg.ctrl(0)
                .writer_closed
                .store(1, std::sync::atomic::Ordering::Release);
            seg.ctrl(1)
                .reader_closed
                .store(1, std::sync::atomic::Ordering::Release);
        }
    }
}

/// The segment name and its creator's pid in an endpoint.
fn parse_endpoint(endpoint: &Endpoint) -> Result<(&str, u32), OpenError> {
    let mut fields = Fields::read(endpoint, "shm-crate:/ipcbench-shmcrate-<pid>-<name>");
    fields.scheme("shm-crate")?;
    let name = fields.rest_after("segment", '/')?;
    let ok = name.starts_with(NAME_PREFIX) && segment::sanitize(name) == name && name.len() <= 255;
    fields.check("segment", name, ok)?;
    let pid = segment::creator_of(name)
        .filter(|&p| p > 0 && p <= i32::MAX as u32)
        .ok_or_else(|| fields.bad("segment", name))?;
    Ok((name, pid))
}

impl transport::Transport for ShmCrate {
    const NAME: &'static str = "shm-crate";
    const DESCRIPTION: &'static str = "the common write-up approach: a shared_memory segment, one slot per direction, raw_sync busy events (spin 10 us, yield, sleep)";
    type Sender = ShmCrateSender;
    type Receiver = ShmCrateReceiver;
    type Listener = ShmCrateListener;

    fn listen(opts: &Options) -> Result<(ShmCrateListener, Endpoint), OpenError> {
        reclaim_stale();
        let seg = segment::create(&opts.tag, slot_size_for(opts.expected_max_message))?;
        let endpoint = Endpoint(format!("{ENDPOINT_PREFIX}{}", seg.name()));
        Ok((ShmCrateListener { seg: Some(seg) }, endpoint))
    }

    fn connect(
        endpoint: &Endpoint,
        _opts: &Options,
    ) -> Result<(ShmCrateSender, ShmCrateReceiver), OpenError> {
        let (name, pid) = parse_endpoint(endpoint)?;
        // Before the segment, so the pidfd pins the process that made it.
        let peer = PeerProcess::open_or_pid(pid);
        let seg = segment::open(name, pid)?;
        Ok(channel::halves(Link { seg, peer }, 1)?)
    }

    fn capabilities() -> Capabilities {
        Capabilities {
            max_message_size: MAX_MESSAGE,
            wait: WaitStrategy::Adaptive,
            ..Capabilities::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_sizes_follow_the_hint() {
        assert_eq!(slot_size_for(0), MIN_SLOT);
        // The notebook's largest array plus the harness's header hint.
        assert_eq!(slot_size_for(409_600 + 64), 512 << 10);
        assert_eq!(slot_size_for(1 << 20), 1 << 20);
        assert_eq!(slot_size_for(64 << 20), MAX_SLOT);
        assert_eq!(slot_size_for(usize::MAX), MAX_SLOT);
    }

    #[test]
    fn endpoints_are_parsed_strictly() {
        let ep = |s: &str| Endpoint(s.to_owned());
        let good = ep("shm-crate:/ipcbench-shmcrate-12-conf-1");
        assert_eq!(
            parse_endpoint(&good).expect("valid"),
            ("ipcbench-shmcrate-12-conf-1", 12)
        );
        for bad in [
            "",
            "nonsense:\u{0}:-1",
            "shm-crate:ipcbench-shmcrate-12-x",
            "shm-crate:/ipcbench-shmcrate-0-x",
            "shm-crate:/ipcbench-shmcrate-12-../x",
            "shm-crate:/ipcbench-shm-12-x",
        ] {
            let e = parse_endpoint(&ep(bad)).expect_err(bad).to_string();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }
}
