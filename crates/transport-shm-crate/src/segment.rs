//! The one shared segment, a `shared_memory` mapping of a /dev/shm file: its
//! layout, how the listener creates it and the connector opens and checks
//! it, and the sweep of segments that killed runs left in /dev/shm.
//!
//! ```text
//! 0        Ident: magic, version, slot size, both pids, handshake state
//! 128      Control of direction 0 (listener -> connector)
//! 256      Control of direction 1 (connector -> listener)
//! 512      slot of direction 0, S bytes
//! 512 + S  slot of direction 1, S bytes
//! ```

use std::cell::UnsafeCell;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::time::Duration;

use raw_sync::Timeout;
use raw_sync::events::{BusyEvent, EventImpl, EventInit, EventState};
use shared_memory::{Shmem, ShmemConf, ShmemError};
use transport::{process, shm_names};

/// Prefix of every segment name in /dev/shm; [`reclaim_stale`] sweeps it.
pub const NAME_PREFIX: &str = "ipcbench-shmcrate-";
/// Where the two directions' [`Control`] blocks start.
pub const CTRL_OFFSET: usize = 128;
/// Size of one [`Control`] block.
pub const CTRL_SIZE: usize = 128;
/// Where the slots start.
pub const SLOTS_OFFSET: usize = 512;
/// Smallest slot the connector accepts.
pub const MIN_SLOT: usize = 64 << 10;
/// Largest slot the connector accepts.
pub const MAX_SLOT: usize = 16 << 20;

const MAGIC: u64 = u64::from_le_bytes(*b"ipcbSHMC");
const VERSION: u32 = 1;
const LISTENING: u32 = 0;
const CLAIMED: u32 = 1;
const CONNECTED: u32 = 2;

/// Identification and handshake words.
#[repr(C)]
#[derive(Debug)]
pub struct Ident {
    pub magic: AtomicU64,
    pub slot_size: AtomicU64,
    pub version: AtomicU32,
    pub listener_pid: AtomicU32,
    pub connector_pid: AtomicU32,
    pub state: AtomicU32,
}

/// One direction's header: two `raw_sync` busy events and the chunk's
/// lengths. The writer waits for `empty`, fills the slot, sets `full`; the
/// reader waits for `full`, copies the slot out, sets `empty`.
#[repr(C)]
#[derive(Debug)]
pub struct Control {
    /// `raw_sync::events::BusyEvent` (auto-reset): the slot holds a chunk.
    full: UnsafeCell<[u8; 8]>,
    /// `raw_sync::events::BusyEvent` (auto-reset): the slot may be written.
    empty: UnsafeCell<[u8; 8]>,
    /// Set when the writer's half is dropped.
    pub writer_closed: AtomicU32,
    /// Set when the reader's half is dropped.
    pub reader_closed: AtomicU32,
    /// Length of the whole message the chunk in the slot belongs to.
    pub total: AtomicU64,
    /// Length of the chunk in the slot.
    pub len: AtomicU64,
}

const _: () = assert!(size_of::<Ident>() <= CTRL_OFFSET);
const _: () = assert!(size_of::<Control>() <= CTRL_SIZE);
const _: () = assert!(CTRL_OFFSET + 2 * CTRL_SIZE <= SLOTS_OFFSET);

/// Which of a direction's two events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Full,
    Empty,
}

/// Where direction `dir`'s event `which` lives in the segment, for a test
/// that plays a hostile peer with its own mapping.
pub fn event_offset(dir: usize, which: Which) -> usize {
    CTRL_OFFSET
        + (dir & 1) * CTRL_SIZE
        + match which {
            Which::Full => std::mem::offset_of!(Control, full),
            Which::Empty => std::mem::offset_of!(Control, empty),
        }
}

/// What can go wrong with a segment.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `shared_memory` crate refused.
    #[error("shared_memory, segment /dev/shm/{name}: {source}")]
    Shmem {
        name: String,
        #[source]
        source: ShmemError,
    },
    /// A `raw_sync` event could not be made or found.
    #[error("raw_sync event in segment {name}: {why}")]
    Event { name: String, why: String },
    /// The segment is not one this backend made, or not for this endpoint.
    #[error("segment {name} is not valid: {why}")]
    Invalid { name: String, why: String },
    /// Another process connected first.
    #[error("segment {name} already has a connector")]
    Taken { name: String },
}

impl From<Error> for transport::OpenError {
    fn from(e: Error) -> Self {
        Self::Backend(e.to_string())
    }
}

/// A `raw_sync` busy event in the segment.
pub struct Event(Box<dyn EventImpl>);

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BusyEvent")
    }
}

// SAFETY: a `BusyEvent` is a pointer into the mapping, used only for atomic
// operations; the half that owns it also owns an `Arc` of the mapping, which
// outlives it.
unsafe impl Send for Event {}

impl Event {
    /// Takes the signal (auto-reset) if it is set within `spin`, busy-polling
    /// meanwhile (raw_sync reads the clock on every poll). On a timeout
    /// raw_sync allocates its error message, so only the first poll of a wait
    /// is free of allocation.
    #[inline]
    pub fn take(&self, spin: Duration) -> bool {
        self.0.wait(Timeout::Val(spin)).is_ok()
    }

    /// Signals the event.
    #[inline]
    pub fn signal(&self) -> Result<(), String> {
        self.0.set(EventState::Signaled).map_err(|e| e.to_string())
    }
}

/// A mapped segment. Dropping it unmaps it, closes the descriptor and, while
/// it is the owner (the listener until `accept`), removes the name.
pub struct Segment {
    shmem: Shmem,
    name: String,
    slot_size: usize,
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment")
            .field("name", &self.name)
            .field("slot_size", &self.slot_size)
            .finish()
    }
}

// SAFETY: `Shmem` is a pointer, a length and a descriptor; the mapping is
// reached only through atomics and the slot protocol, and stays valid until
// drop.
unsafe impl Send for Segment {}
// SAFETY: as above; `&Segment` hands out atomics, events and slot pointers.
unsafe impl Sync for Segment {}

fn total_len(slot_size: usize) -> usize {
    SLOTS_OFFSET + 2 * slot_size
}

/// Keeps the characters that are safe in a shm name and an endpoint (at
/// most 200).
pub fn sanitize(tag: &str) -> String {
    shm_names::sanitize(tag, 200)
}

impl Segment {
    /// The segment's name in /dev/shm.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Bytes in each direction's slot.
    pub fn slot_size(&self) -> usize {
        self.slot_size
    }

    fn ident(&self) -> &Ident {
        // SAFETY: the mapping is at least SLOTS_OFFSET bytes (checked on
        // open, true by construction on create), page-aligned, and every field
        // of `Ident` is an atomic, valid for any bit pattern.
        unsafe { &*self.shmem.as_ptr().cast::<Ident>() }
    }

    /// Direction `dir`'s header (0: listener -> connector).
    pub fn ctrl(&self, dir: usize) -> &Control {
        let offset = CTRL_OFFSET + (dir & 1) * CTRL_SIZE;
        // SAFETY: inside the header area, 64-byte aligned; the fields are
        // atomics or `UnsafeCell`s, valid for any bit pattern.
        unsafe { &*self.shmem.as_ptr().add(offset).cast::<Control>() }
    }

    /// Direction `dir`'s slot: `slot_size` bytes.
    pub fn slot(&self, dir: usize) -> *mut u8 {
        // SAFETY: `SLOTS_OFFSET + 2 * slot_size <= len`, checked on open.
        unsafe {
            self.shmem
                .as_ptr()
                .add(SLOTS_OFFSET + (dir & 1) * self.slot_size)
        }
    }

    fn event_ptr(&self, dir: usize, which: Which) -> *mut u8 {
        let c = self.ctrl(dir);
        let cell = match which {
            Which::Full => &c.full,
            Which::Empty => &c.empty,
        };
        cell.get().cast()
    }

    /// A handle on an event that [`create`] initialised.
    pub fn event(&self, dir: usize, which: Which) -> Result<Event, Error> {
        // SAFETY: the pointer is inside the mapping, which the caller keeps
        // alive while it uses the event (see `Event`); `from_existing` checks
        // that the bytes hold a valid event.
        unsafe { BusyEvent::from_existing(self.event_ptr(dir, which)) }
            .map(|(ev, _)| Event(ev))
            .map_err(|e| Error::Event {
                name: self.name.clone(),
                why: e.to_string(),
            })
    }

    fn init_event(&self, dir: usize, which: Which) -> Result<Event, Error> {
        // SAFETY: as in `event`; nobody else can see the segment before
        // `create` returns its endpoint.
        unsafe { BusyEvent::new(self.event_ptr(dir, which), true) }
            .map(|(ev, _)| Event(ev))
            .map_err(|e| Error::Event {
                name: self.name.clone(),
                why: e.to_string(),
            })
    }

    /// Whether a connector has registered (Acquire: its pid is then visible).
    pub fn connected(&self) -> bool {
        self.ident().state.load(Acquire) == CONNECTED
    }

    /// The connector's pid as it registered it.
    pub fn connector_pid(&self) -> u32 {
        // Relaxed: ordered by the Acquire load in `connected`.
        self.ident().connector_pid.load(Relaxed)
    }

    /// Removes the name from /dev/shm now (both sides have it mapped) and
    /// gives up `shared_memory`'s ownership, so the drop does not try again.
    pub fn unlink(&mut self) {
        // The segment may already be gone (a sweep by a process that took us
        // for dead cannot happen while we live, but a user may `rm` it).
        let _ = rustix::shm::unlink(format!("/{}", self.name).as_str());
        self.shmem.set_owner(false);
    }
}

/// Creates and initialises the segment for `tag`, owned (removed on drop)
/// by the returned value.
pub fn create(tag: &str, slot_size: usize) -> Result<Segment, Error> {
    let pid = std::process::id();
    let name = format!("{NAME_PREFIX}{pid}-{}", sanitize(tag));
    let shmem = ShmemConf::new()
        .os_id(format!("/{name}"))
        .size(total_len(slot_size))
        .create()
        .map_err(|source| Error::Shmem {
            name: name.clone(),
            source,
        })?;
    let seg = Segment {
        shmem,
        name,
        slot_size,
    };
    for dir in 0..2 {
        seg.init_event(dir, Which::Full)?;
        seg.init_event(dir, Which::Empty)?
            .signal()
            .map_err(|why| Error::Event {
                name: seg.name.clone(),
                why,
            })?;
    }
    let id = seg.ident();
    // Relaxed: published by the Release store of the magic below.
    id.slot_size.store(slot_size as u64, Relaxed);
    id.version.store(VERSION, Relaxed);
    id.listener_pid.store(pid, Relaxed);
    id.state.store(LISTENING, Relaxed);
    id.magic.store(MAGIC, Release);
    Ok(seg)
}

/// Opens the segment `name` (created by `listener_pid`), checks it and
/// registers as its one connector.
pub fn open(name: &str, listener_pid: u32) -> Result<Segment, Error> {
    let invalid = |why: String| Error::Invalid {
        name: name.to_owned(),
        why,
    };
    let shmem = ShmemConf::new()
        .os_id(format!("/{name}"))
        .open()
        .map_err(|source| Error::Shmem {
            name: name.to_owned(),
            source,
        })?;
    let len = shmem.len();
    if len < SLOTS_OFFSET {
        return Err(invalid(format!("{len} bytes, too small for the header")));
    }
    let mut seg = Segment {
        shmem,
        name: name.to_owned(),
        slot_size: 0,
    };
    let id = seg.ident();
    // Acquire: pairs with the Release store of the magic in `create`.
    if id.magic.load(Acquire) != MAGIC {
        return Err(invalid("no ipcbench shm-crate header".into()));
    }
    // Relaxed: ordered by the magic's Acquire.
    let (version, slot, pid) = (
        id.version.load(Relaxed),
        id.slot_size.load(Relaxed),
        id.listener_pid.load(Relaxed),
    );
    if version != VERSION {
        return Err(invalid(format!(
            "layout version {version}, expected {VERSION}"
        )));
    }
    let slot = usize::try_from(slot).unwrap_or(usize::MAX);
    if !slot.is_power_of_two() || !(MIN_SLOT..=MAX_SLOT).contains(&slot) || total_len(slot) > len {
        return Err(invalid(format!(
            "slot of {slot} bytes in a segment of {len} (slots are powers of two in {MIN_SLOT}..={MAX_SLOT})"
        )));
    }
    if pid != listener_pid {
        return Err(invalid(format!(
            "created by pid {pid}, the endpoint says {listener_pid}"
        )));
    }
    seg.slot_size = slot;
    for dir in 0..2 {
        seg.event(dir, Which::Full)?;
        seg.event(dir, Which::Empty)?;
    }
    let id = seg.ident();
    // Relaxed: the claim only keeps a second connector out; the Release store
    // of CONNECTED publishes our pid.
    if id
        .state
        .compare_exchange(LISTENING, CLAIMED, Relaxed, Relaxed)
        .is_err()
    {
        return Err(Error::Taken {
            name: name.to_owned(),
        });
    }
    id.connector_pid.store(std::process::id(), Relaxed);
    id.state.store(CONNECTED, Release);
    Ok(seg)
}

/// The creator pid a segment name starts with.
pub fn creator_of(name: &str) -> Option<u32> {
    shm_names::creator_of(name, NAME_PREFIX)
}

/// Removes the segments in /dev/shm that killed runs left behind: every
/// `ipcbench-shmcrate-<pid>-*` whose creator `<pid>` no longer exists (a
/// zombie still does). Returns how many were removed; segments of live
/// processes stay.
pub fn reclaim_stale() -> usize {
    shm_names::sweep_stale(NAME_PREFIX, |_, pid| !process::exists(pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_creator() {
        assert_eq!(creator_of("ipcbench-shmcrate-42-conf-1"), Some(42));
        assert_eq!(creator_of("ipcbench-shmcrate-x"), None);
        assert_eq!(creator_of("ipcbench-shm-42-x"), None);
        assert_eq!(sanitize("a/b c:d"), "a_b_c_d");
    }

    #[test]
    fn sweep_removes_segments_of_dead_creators_only() {
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let dead = child.id();
        child.wait().expect("reap");
        let stale = create("sweeptest", MIN_SLOT).expect("create");
        // Rename by recreating under the dead pid's name, as a killed run
        // would have left it.
        let stale_name = format!("{NAME_PREFIX}{dead}-sweeptest");
        let mut left = ShmemConf::new()
            .os_id(format!("/{stale_name}"))
            .size(4096)
            .create()
            .expect("create stale");
        left.set_owner(false);
        drop(left);
        assert!(std::path::Path::new(&format!("/dev/shm/{stale_name}")).exists());
        assert!(reclaim_stale() >= 1);
        assert!(!std::path::Path::new(&format!("/dev/shm/{stale_name}")).exists());
        let live = format!("/dev/shm/{}", stale.name());
        assert!(std::path::Path::new(&live).exists(), "a live segment swept");
        drop(stale);
        assert!(
            !std::path::Path::new(&live).exists(),
            "the owner's drop removes it"
        );
    }

    #[test]
    fn open_checks_the_creator_and_admits_one_connector() {
        let seg = create("opentest", MIN_SLOT).expect("create");
        let me = std::process::id();
        let err = open(seg.name(), me + 1).expect_err("wrong creator accepted");
        assert!(err.to_string().contains("created by pid"), "{err}");
        assert!(!seg.connected());
        let peer = open(seg.name(), me).expect("open");
        assert!(seg.connected());
        assert_eq!(seg.connector_pid(), me);
        assert_eq!(peer.slot_size(), MIN_SLOT);
        let err = open(seg.name(), me).expect_err("second connector accepted");
        assert!(matches!(err, Error::Taken { .. }), "{err}");
    }
}
