//! The shared-memory segment: a sealed memfd holding one header page and the
//! rings' data areas; how it is created, published, opened, validated and
//! how leftovers of killed runs in /dev/shm are reclaimed.
//!
//! A connection ([`Shape::Pair`]):
//!
//! ```text
//! 0        header page: Ident (128 B), cpu hints (2 x 128 B),
//!          RingCtrl for ring 0 (listener -> connector), for ring 1 (back),
//!          the shared line of `shm-line` (128 B)
//! 4096     ring 0 data area, N bytes
//! 4096+N   ring 1 data area, N bytes
//! ```
//!
//! A broadcast ([`Shape::Broadcast`], `crate::bcast`): the same header page
//! (ring 0's control block is the publisher's), then the subscribers' table
//! (`crate::bcast::layout::Table`, [`BCAST_TABLE`] bytes), then one data
//! area that every subscriber reads.

use std::fs::OpenOptions;
use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicU32, AtomicU64};

use rustix::fs::{MemfdFlags, SealFlags};
use rustix::mm::{MapFlags, ProtFlags};
use transport::endpoint::Fields;
use transport::{Endpoint, OpenError, process, shm_names};

use crate::wait::Peer;

use crate::ring::{self, MemRing, Padded, RingCtrl};

/// Size of the header page; the data areas start after it.
pub const PAGE: usize = 4096;
/// Smallest ring a connector accepts from a segment.
pub const MIN_RING: usize = PAGE;
/// Largest ring a connector accepts from a segment.
pub const MAX_RING: usize = ring::MAX_SIZE;
/// Largest ring mapped with `MAP_POPULATE`: today's rings (up to 16 MiB)
/// are faulted in at set-up, so no page fault lands in a timed send; rings
/// grown for large messages or loans are not, so a connection for 64 MiB
/// messages does not fault in (and pin) half a gigabyte it may never use:
/// their pages are touched as records first reach them.
pub const PREFAULT_MAX_RING: usize = 16 << 20;
/// Prefix of every segment name (memfd names, and /dev/shm leftovers).
pub const NAME_PREFIX: &str = "ipcbench-shm-";

const VERSION: u32 = 1;

/// Bytes between the header page and a broadcast's data area: the
/// subscribers' table, whole pages.
pub const BCAST_TABLE: usize = 5 * PAGE;

/// What a segment holds: one connection's two rings, or one broadcast ring
/// and its subscribers' table. Each has its own magic and endpoint prefix,
/// so an endpoint of one is refused by the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Two rings, one per direction.
    Pair,
    /// One ring, read by every subscriber.
    Broadcast,
}

impl Shape {
    const fn magic(self) -> u64 {
        match self {
            Self::Pair => u64::from_le_bytes(*b"ipcbSHM1"),
            Self::Broadcast => u64::from_le_bytes(*b"ipcbBCS1"),
        }
    }

    const fn prefix(self) -> &'static str {
        match self {
            Self::Pair => "shm",
            Self::Broadcast => "shmb",
        }
    }

    /// The valid form of its endpoints, for errors.
    const fn form(self) -> &'static str {
        match self {
            Self::Pair => "shm:<pid>:<fd>:ipcbench-shm-<name>",
            Self::Broadcast => "shmb:<pid>:<fd>:ipcbench-shm-<name>",
        }
    }

    /// Bytes before the first data area.
    const fn data_start(self) -> usize {
        match self {
            Self::Pair => PAGE,
            Self::Broadcast => PAGE + BCAST_TABLE,
        }
    }

    const fn rings(self) -> usize {
        match self {
            Self::Pair => 2,
            Self::Broadcast => 1,
        }
    }

    fn total_len(self, ring_size: usize) -> usize {
        self.data_start() + self.rings() * ring_size
    }

    /// The ring size of a segment of `len` bytes, if it has a valid layout.
    fn ring_size_of(self, len: usize) -> Option<usize> {
        let ring = len.checked_sub(self.data_start())? / self.rings();
        (self.total_len(ring) == len
            && ring.is_power_of_two()
            && (MIN_RING..=MAX_RING).contains(&ring))
        .then_some(ring)
    }
}

/// `Ident::state`: nobody has connected yet.
const LISTENING: u32 = 0;
/// `Ident::state`: a connector has claimed the segment and is registering.
const CLAIMED: u32 = 1;
/// `Ident::state`: the connector is registered; `accept` may proceed.
const CONNECTED: u32 = 2;

/// "No CPU recorded yet" in a cpu hint.
pub const NO_CPU: u32 = u32::MAX;

/// Identification and handshake words, written once by each side.
#[repr(C)]
#[derive(Debug)]
pub struct Ident {
    magic: AtomicU64,
    ring_size: AtomicU64,
    version: AtomicU32,
    variant: AtomicU32,
    listener_pid: AtomicU32,
    connector_pid: AtomicU32,
    /// Handshake state, also the futex word `accept` sleeps on.
    state: AtomicU32,
}

/// The header page.
#[repr(C)]
#[derive(Debug)]
pub struct SegHeader {
    ident: Padded<Ident>,
    /// The CPU each side last waited on (index 0: listener), for the adaptive
    /// strategy's "is my peer on my core?" test. Only a hint.
    pub cpu: [Padded<AtomicU32>; 2],
    /// Ring 0 carries listener -> connector, ring 1 connector -> listener.
    pub rings: [RingCtrl; 2],
    /// The one cache line `shm-line` carries small messages in, both ways
    /// (`crate::line`); unused by the other variants. Alone in its 128-byte
    /// block, so the adjacent-line prefetcher pairs it with nothing.
    pub line: Padded<[AtomicU64; 8]>,
}

const _: () = assert!(size_of::<SegHeader>() <= PAGE);

/// A mapped segment. Unmapped on drop.
#[derive(Debug)]
pub struct Segment {
    base: NonNull<u8>,
    len: usize,
    ring_size: usize,
    shape: Shape,
}

// SAFETY: the mapping is shared memory accessed only through atomics and the
// SPSC protocol; the pointer stays valid until drop.
unsafe impl Send for Segment {}
// SAFETY: as above; `&Segment` only hands out atomics and ring descriptors.
unsafe impl Sync for Segment {}

impl Drop for Segment {
    fn drop(&mut self) {
        // SAFETY: we mapped exactly this range and nothing borrows it any more
        // (rings and headers borrow from `self` or are kept alive by the Arc
        // holding `self`).
        let _ = unsafe { rustix::mm::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

impl Segment {
    fn map(fd: &OwnedFd, shape: Shape, ring_size: usize) -> Result<Self, OpenError> {
        let len = shape.total_len(ring_size);
        let flags = if ring_size <= PREFAULT_MAX_RING {
            MapFlags::SHARED | MapFlags::POPULATE
        } else {
            MapFlags::SHARED
        };
        // SAFETY: a fresh mapping at an address of the kernel's choosing
        // aliases no Rust object. MAP_POPULATE faults every page in now, not
        // inside a timed send (see PREFAULT_MAX_RING).
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                flags,
                fd,
                0,
            )
        }
        .map_err(|e| OpenError::io("mmap of the shared-memory segment", e.into()))?;
        let base = NonNull::new(ptr.cast::<u8>())
            .ok_or_else(|| OpenError::Backend("mmap returned null".into()))?;
        Ok(Self {
            base,
            len,
            ring_size,
            shape,
        })
    }

    /// The header page.
    pub fn header(&self) -> &SegHeader {
        // SAFETY: the mapping is at least one page, page-aligned, and every
        // field of the header is an atomic, valid for any bit pattern.
        unsafe { self.base.cast::<SegHeader>().as_ref() }
    }

    /// Bytes in each ring's data area.
    pub fn ring_size(&self) -> usize {
        self.ring_size
    }

    /// Ring `dir` (0: listener -> connector, 1: connector -> listener).
    ///
    /// The descriptor holds raw pointers: keep the segment alive while it is
    /// used.
    pub fn ring(&self, dir: usize) -> MemRing {
        let dir = dir % self.shape.rings();
        self.ring_with(&self.header().rings[dir], dir)
    }

    /// Data area `dir` with the control block `ctrl`: a broadcast's
    /// subscribers each read the one data area with a control block of
    /// their own (`crate::bcast`). `ctrl` must lie in this segment.
    pub fn ring_with(&self, ctrl: &RingCtrl, dir: usize) -> MemRing {
        let dir = dir % self.shape.rings();
        let ctrl = NonNull::from(ctrl);
        // SAFETY: `data_start + dir * ring_size + ring_size <= len`.
        let data = unsafe {
            self.base
                .add(self.shape.data_start() + dir * self.ring_size)
        };
        // SAFETY: both pointers are inside the mapping, the area is
        // page-aligned and `ring_size` was validated to be a power of two in
        // range; the caller keeps the segment alive (see above) and the
        // transport hands each ring end to exactly one side.
        unsafe { MemRing::new(ctrl, data, self.ring_size) }
    }

    /// A broadcast's subscribers' table, after the header page.
    pub fn bcast_table(&self) -> Option<&crate::bcast::layout::Table> {
        if self.shape != Shape::Broadcast {
            return None;
        }
        // SAFETY: a broadcast segment has `BCAST_TABLE` bytes at `PAGE`,
        // page-aligned, inside the mapping (the table fits them: asserted
        // in `bcast::layout`); every field of the table is an atomic, valid
        // for any bit pattern.
        Some(unsafe {
            self.base
                .add(PAGE)
                .cast::<crate::bcast::layout::Table>()
                .as_ref()
        })
    }

    /// The connector's pid as registered (after `wait_connected`).
    pub fn connector_pid(&self) -> u32 {
        // Relaxed: ordered by the Acquire load of `state` in `wait_connected`.
        self.header().ident.0.connector_pid.load(Relaxed)
    }

    /// Waits until a connector has registered or `deadline` passes.
    pub fn wait_connected(&self, deadline: std::time::Instant) -> Result<(), OpenError> {
        let state = &self.header().ident.0.state;
        loop {
            // Acquire: pairs with the connector's Release store, so its pid is
            // visible once we see CONNECTED.
            let s = state.load(Acquire);
            if s == CONNECTED {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(OpenError::Timeout);
            }
            crate::wait::futex_wait(state, s, left.min(std::time::Duration::from_millis(50)));
        }
    }
}

/// A freshly created segment, not yet connected.
#[derive(Debug)]
pub struct Created {
    pub seg: Segment,
    /// Keeps the memfd open so the connector can open it through /proc.
    pub fd: OwnedFd,
    pub endpoint: String,
}

/// Keeps the characters that are safe in a name and an endpoint (at most
/// 200).
fn sanitize(tag: &str) -> String {
    shm_names::sanitize(tag, 200)
}

/// Creates, sizes, seals, maps and initialises a connection's segment for
/// `tag`.
pub fn create(tag: &str, ring_size: usize, variant: u32) -> Result<Created, OpenError> {
    create_shaped(Shape::Pair, tag, ring_size, variant)
}

/// [`create`] for a segment of either shape.
pub fn create_shaped(
    shape: Shape,
    tag: &str,
    ring_size: usize,
    variant: u32,
) -> Result<Created, OpenError> {
    if !ring_size.is_power_of_two() || !(MIN_RING..=MAX_RING).contains(&ring_size) {
        return Err(OpenError::Backend(format!(
            "ring size {ring_size} is not a power of two in {MIN_RING}..={MAX_RING}"
        )));
    }
    let pid = std::process::id();
    let name = format!("{NAME_PREFIX}{pid}-{}", sanitize(tag));
    let fd = rustix::fs::memfd_create(
        name.as_str(),
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )
    .map_err(|e| OpenError::io("memfd_create", e.into()))?;
    rustix::fs::ftruncate(&fd, shape.total_len(ring_size) as u64)
        .map_err(|e| OpenError::io("ftruncate of the memfd", e.into()))?;
    // Sealed against shrinking, a peer cannot truncate the file under our
    // mapping and turn our next access into SIGBUS.
    rustix::fs::fcntl_add_seals(&fd, SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL)
        .map_err(|e| OpenError::io("sealing the memfd", e.into()))?;
    let seg = Segment::map(&fd, shape, ring_size)?;
    let id = &seg.header().ident.0;
    // Relaxed: nobody else can see the segment before the endpoint is handed
    // out, which happens after `create` returns.
    id.ring_size.store(ring_size as u64, Relaxed);
    id.version.store(VERSION, Relaxed);
    id.variant.store(variant, Relaxed);
    id.listener_pid.store(pid, Relaxed);
    for c in &seg.header().cpu {
        c.0.store(NO_CPU, Relaxed);
    }
    // Release: the magic is the last word written; a reader that checks it
    // with Acquire sees a complete header.
    id.magic.store(shape.magic(), Release);
    let endpoint = format!("{}:{pid}:{}:{name}", shape.prefix(), fd.as_raw_fd());
    Ok(Created { seg, fd, endpoint })
}

/// An opened and registered segment on the connecting side.
#[derive(Debug)]
pub struct Opened {
    pub seg: Segment,
    /// The listener, opened before the memfd, so that its pidfd (where one
    /// opens) pins the process that made the segment.
    pub peer: Peer,
}

/// Opens the segment an endpoint names, validates it and registers as its
/// one connector.
pub fn open(endpoint: &Endpoint, variant: u32) -> Result<Opened, OpenError> {
    let opened = open_shaped(Shape::Pair, endpoint, variant)?;
    let id = &opened.seg.header().ident.0;
    // Relaxed on success and failure: the claim only excludes a second
    // connector; the Release store of CONNECTED below publishes our pid.
    if id
        .state
        .compare_exchange(LISTENING, CLAIMED, Relaxed, Relaxed)
        .is_err()
    {
        return Err(OpenError::Backend("segment already has a connector".into()));
    }
    id.connector_pid.store(std::process::id(), Relaxed);
    id.state.store(CONNECTED, Release);
    crate::wait::futex_wake(&id.state);
    Ok(opened)
}

/// Opens the segment of shape `shape` an endpoint names and validates it,
/// registering nothing.
pub fn open_shaped(shape: Shape, endpoint: &Endpoint, variant: u32) -> Result<Opened, OpenError> {
    let mut fields = Fields::read(endpoint, shape.form());
    fields.scheme(shape.prefix())?;
    let pid = fields.pid()?;
    let fd: u32 = fields.number("fd")?;
    let name = fields.rest("segment")?;
    let ok = name.starts_with(NAME_PREFIX) && sanitize(name) == name;
    fields.check("segment", name, ok)?;
    let peer = Peer::open_or_pid(pid);
    let path = format!("/proc/{pid}/fd/{fd}");
    // The fd number could have been reused for something else: make sure it
    // is the memfd the endpoint names before opening it read-write.
    let target =
        std::fs::read_link(&path).map_err(|e| OpenError::io(format!("readlink {path}"), e))?;
    if target.as_os_str() != format!("/memfd:{name} (deleted)").as_str() {
        return Err(OpenError::Backend(format!(
            "{path} is {target:?}, not the segment {name}"
        )));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| OpenError::io(format!("opening {path}"), e))?;
    let fd = OwnedFd::from(file);
    let seals = rustix::fs::fcntl_get_seals(&fd)
        .map_err(|e| OpenError::io("reading the memfd's seals", e.into()))?;
    if !seals.contains(SealFlags::SHRINK) {
        return Err(OpenError::Backend(
            "segment is not sealed against shrinking".into(),
        ));
    }
    let size = rustix::fs::fstat(&fd)
        .map_err(|e| OpenError::io("fstat of the memfd", e.into()))?
        .st_size;
    let size = usize::try_from(size).unwrap_or(0);
    let Some(ring_size) = shape.ring_size_of(size) else {
        return Err(OpenError::Backend(format!(
            "segment of {size} bytes does not have a valid layout"
        )));
    };
    let seg = Segment::map(&fd, shape, ring_size)?;
    let id = &seg.header().ident.0;
    // Acquire: pairs with the Release store of the magic in `create`.
    if id.magic.load(Acquire) != shape.magic() {
        return Err(OpenError::Backend("segment has no valid header".into()));
    }
    // Relaxed: ordered by the magic's Acquire.
    let (version, their_variant, their_ring, their_pid) = (
        id.version.load(Relaxed),
        id.variant.load(Relaxed),
        id.ring_size.load(Relaxed),
        id.listener_pid.load(Relaxed),
    );
    if version != VERSION {
        return Err(OpenError::Backend(format!(
            "segment layout version {version}, expected {VERSION}"
        )));
    }
    if their_variant != variant {
        return Err(OpenError::Backend(format!(
            "segment was created for wait strategy #{their_variant}, not #{variant}"
        )));
    }
    if their_ring != ring_size as u64 || their_pid != pid {
        return Err(OpenError::Backend(
            "segment header disagrees with its size or creator".into(),
        ));
    }
    Ok(Opened { seg, peer })
}

/// Removes segment files that a killed run left in /dev/shm: every
/// `ipcbench-shm-<pid>-*` whose creator `<pid>` no longer exists (a zombie
/// still does). Returns how many were removed. Files of live processes
/// (other runs) are left alone.
///
/// This crate's own segments are memfds and never appear in /dev/shm; the
/// sweep covers files created by older versions or by tools that follow the
/// same naming convention.
pub fn reclaim_stale() -> usize {
    shm_names::sweep_stale(NAME_PREFIX, |_, pid| !process::exists(pid))
}
