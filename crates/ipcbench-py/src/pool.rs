//! The pool of out-of-line blocks behind one queue: a message larger than a
//! slot is written into a shared-memory block and the ring carries only a
//! reference to it ([`Ref`]). Blocks are reused, not made per message.
//!
//! A table segment (`<queue>.pool`) holds one entry per block: a 64-bit
//! state word (generation, kind, pinned bit, owner pid), the block's size
//! and an incarnation number (bumped each time the block's file is made
//! anew, so a process can tell its cached mapping is stale). Block `i` is
//! the shm file `<queue>.b<i>`. Every transition is one compare-and-swap:
//!
//! - `FREE -> WRITING(producer)` (the generation is bumped): a producer
//!   takes a block to fill, or a loan is handed out;
//! - `WRITING -> INFLIGHT` once the ring record that names it is published;
//! - `WRITING | INFLIGHT -> HELD(consumer)` when a consumer takes the record:
//!   the generation must match the record's, so a stale reference never
//!   reads another message;
//! - `HELD -> FREE` when the consumer's last view is collected. A loan that
//!   was put stays *pinned* by its producer until the loan's array is
//!   collected too (`HELD -> DONE`, then `DONE -> FREE`), so a loaned array
//!   used after `put` can only ever alias its own message.
//!
//! A state that names a dead pid is reclaimed (`WRITING`, `HELD`, a pin):
//! on allocation when no block is free, and on `reclaim`. Freed blocks
//! beyond [`KEEP_FREE`] (or beyond the number in use) of their size are
//! deleted, so the pool returns to a small idle size. The block count is not
//! the queue's bound: a consumer may hold any number of received arrays.

use std::collections::HashMap;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard};

use shm_queue::Error;
use shm_queue::segment::{self, Mapping};
use shm_queue::wait::{alive, my_pid};

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;

use crate::map::Map;
use crate::words::{
    CREATING, DONE, EMPTY, FREE, GEN_MASK, HELD, INFLIGHT, PINNED, Ref, WRITING, class_size,
    generation, kind, pack, pid, pinned,
};

/// Blocks a queue may have at once (in flight, held and free).
pub const ENTRIES: u32 = 4096;
/// Free blocks of one size kept for reuse when fewer are in use.
pub const KEEP_FREE: usize = 2;
const MAGIC: u64 = u64::from_le_bytes(*b"ipcbPOOL");
const HEADER: usize = 64;
const ENTRY: usize = 32;

/// The table's first 64 bytes.
#[repr(C)]
struct Header {
    magic: AtomicU64,
    entries: AtomicU32,
    high_water: AtomicU32,
    closed: AtomicU32,
    /// `JoinableQueue`'s unfinished-task count (a futex word).
    unfinished: AtomicU32,
}

/// One block's entry.
#[repr(C)]
struct Entry {
    state: AtomicU64,
    cap: AtomicU64,
    incarnation: AtomicU32,
    pin_pid: AtomicU32,
}

/// A block this process may write (a fresh allocation, a loan) or read (a
/// taken message), with its mapping.
#[derive(Debug)]
pub struct Lease {
    pub idx: u32,
    pub generation: u32,
    pub map: Arc<Map>,
}

/// A loan handed out by this process and not yet collected.
#[derive(Clone)]
pub struct LoanRec {
    pub idx: u32,
    pub generation: u32,
    pub len: usize,
    pub sent: Arc<AtomicBool>,
}

/// One queue's pool as seen by this process (shared by the queue handle and
/// every array still viewing one of its blocks, so those outlive the handle).
pub struct Pool {
    queue: String,
    table: Mapping,
    /// Mappings this process made: block index -> (incarnation, map).
    cache: Mutex<HashMap<u32, (u32, Arc<Map>)>>,
    /// Loans handed out here, by the address of their first byte.
    loans: Mutex<HashMap<usize, LoanRec>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Pool {
    fn table_name(queue: &str) -> String {
        format!("{queue}.pool")
    }

    fn block_name(&self, idx: u32) -> String {
        format!("{}.b{idx}", self.queue)
    }

    fn table_len() -> usize {
        HEADER + ENTRIES as usize * ENTRY
    }

    /// Creates the pool of the new queue `queue`.
    pub fn create(queue: &str) -> Result<Arc<Self>, Error> {
        let table = segment::create(&Self::table_name(queue), Self::table_len())?;
        let pool = Self::with(queue, table);
        let h = pool.header();
        h.entries.store(ENTRIES, Relaxed);
        h.magic.store(MAGIC, Release);
        Ok(Arc::new(pool))
    }

    /// Opens the pool of the existing queue `queue`.
    pub fn open(queue: &str) -> Result<Arc<Self>, Error> {
        let name = Self::table_name(queue);
        let table = segment::open(&name)?;
        if table.len() < Self::table_len() {
            return Err(Error::Invalid(format!(
                "{name} is too small to be a block table"
            )));
        }
        let pool = Self::with(queue, table);
        let h = pool.header();
        if h.magic.load(Acquire) != MAGIC || h.entries.load(Relaxed) != ENTRIES {
            return Err(Error::Invalid(format!("{name} is not a block table")));
        }
        Ok(Arc::new(pool))
    }

    fn with(queue: &str, table: Mapping) -> Self {
        Self {
            queue: queue.to_owned(),
            table,
            cache: Mutex::new(HashMap::new()),
            loans: Mutex::new(HashMap::new()),
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: the table mapping is at least `table_len` bytes (checked at
        // open, made so at create), page-aligned, and lives as long as self;
        // Header is atomics only, valid for any bytes.
        unsafe { &*self.table.base().as_ptr().cast::<Header>() }
    }

    fn entry(&self, idx: u32) -> &Entry {
        debug_assert!(idx < ENTRIES);
        // SAFETY: idx < ENTRIES (callers bound it), so the entry lies inside
        // the table; 8-byte aligned; atomics only.
        unsafe {
            &*self
                .table
                .base()
                .as_ptr()
                .add(HEADER + idx as usize * ENTRY)
                .cast::<Entry>()
        }
    }

    /// Entries ever used (the scans stop there).
    fn high_water(&self) -> u32 {
        self.header().high_water.load(Acquire).min(ENTRIES)
    }

    /// `JoinableQueue`'s unfinished-task counter.
    pub fn unfinished(&self) -> &AtomicU32 {
        &self.header().unfinished
    }

    /// A block of at least `need` bytes in state `WRITING` by this process.
    pub fn alloc(&self, need: usize) -> Result<Lease, Error> {
        let cap = class_size(need).ok_or_else(|| {
            Error::Invalid(format!("a message of {need} bytes is too large to map"))
        })?;
        self.forget_stale();
        if let Some(l) = self.take_free(cap)? {
            return Ok(l);
        }
        if self.reclaim_dead() > 0
            && let Some(l) = self.take_free(cap)?
        {
            return Ok(l);
        }
        self.make_block(cap)
    }

    fn take_free(&self, cap: usize) -> Result<Option<Lease>, Error> {
        let me = my_pid();
        for idx in 0..self.high_water() {
            let e = self.entry(idx);
            let s = e.state.load(Acquire);
            if kind(s) != FREE || e.cap.load(Relaxed) != cap as u64 {
                continue;
            }
            let g = generation(s).wrapping_add(1) & GEN_MASK;
            let w = pack(g, WRITING, false, me);
            if e.state.compare_exchange(s, w, AcqRel, Relaxed).is_ok() {
                return match self.mapping(idx, cap) {
                    Ok(map) => Ok(Some(Lease {
                        idx,
                        generation: g,
                        map,
                    })),
                    Err(err) => {
                        let _ = e.state.compare_exchange(w, s, AcqRel, Relaxed);
                        Err(err)
                    }
                };
            }
        }
        Ok(None)
    }

    /// Makes a new block file in an empty entry (or in place of a free block
    /// of another size when every entry is used).
    fn make_block(&self, cap: usize) -> Result<Lease, Error> {
        let me = my_pid();
        let mut claimed = None;
        for want in [EMPTY, FREE] {
            for idx in 0..ENTRIES {
                let e = self.entry(idx);
                let s = e.state.load(Acquire);
                if kind(s) != want || (want == FREE && idx >= self.high_water()) {
                    continue;
                }
                let c = pack(generation(s), CREATING, false, me);
                if e.state.compare_exchange(s, c, AcqRel, Relaxed).is_ok() {
                    claimed = Some((idx, s));
                    break;
                }
            }
            if claimed.is_some() {
                break;
            }
        }
        let Some((idx, was)) = claimed else {
            return Err(Error::Invalid(format!(
                "queue {} has {ENTRIES} out-of-line messages in flight or held at once, its most; \
                 let received arrays be collected",
                self.queue
            )));
        };
        self.header().high_water.fetch_max(idx + 1, AcqRel);
        let e = self.entry(idx);
        let name = self.block_name(idx);
        if kind(was) == FREE {
            let _ = rustix::shm::unlink(format!("/{name}").as_str());
        }
        lock(&self.cache).remove(&idx);
        let g = generation(was).wrapping_add(1) & GEN_MASK;
        match Map::create(&name, cap) {
            Ok(map) => {
                if self.header().closed.load(Acquire) != 0 {
                    // The creator closed the queue meanwhile: no name may
                    // stay behind it; the mapping still serves this message.
                    let _ = rustix::shm::unlink(format!("/{name}").as_str());
                }
                let map = Arc::new(map);
                e.cap.store(cap as u64, Relaxed);
                let inc = e.incarnation.fetch_add(1, AcqRel).wrapping_add(1);
                lock(&self.cache).insert(idx, (inc, map.clone()));
                e.state.store(pack(g, WRITING, false, me), Release);
                Ok(Lease {
                    idx,
                    generation: g,
                    map,
                })
            }
            Err(err) => {
                e.cap.store(0, Relaxed);
                e.state
                    .store(pack(generation(was), EMPTY, false, 0), Release);
                Err(err)
            }
        }
    }

    /// This process's mapping of block `idx` (which it holds in a state no
    /// one else changes, so its incarnation is stable), made if missing.
    fn mapping(&self, idx: u32, cap: usize) -> Result<Arc<Map>, Error> {
        let inc = self.entry(idx).incarnation.load(Acquire);
        let mut cache = lock(&self.cache);
        if let Some((i, m)) = cache.get(&idx)
            && *i == inc
            && m.len() == cap
        {
            return Ok(m.clone());
        }
        let map = Arc::new(Map::open(&self.block_name(idx), cap)?);
        cache.insert(idx, (inc, map.clone()));
        Ok(map)
    }

    /// Drops cached mappings of blocks deleted or made anew since (their
    /// memory is returned once no array of this process views them).
    fn forget_stale(&self) {
        lock(&self.cache).retain(|&idx, (inc, _)| {
            let e = self.entry(idx);
            !matches!(kind(e.state.load(Acquire)), EMPTY | CREATING)
                && e.incarnation.load(Acquire) == *inc
        });
    }

    /// Marks a block this process filled as named by a published record.
    pub fn publish(&self, idx: u32, g: u32) {
        let e = self.entry(idx);
        let s = e.state.load(Acquire);
        if kind(s) == WRITING && generation(s) == g {
            // Fails harmlessly if a consumer took it already.
            let to = pack(g, INFLIGHT, pinned(s), 0);
            let _ = e.state.compare_exchange(s, to, AcqRel, Relaxed);
        }
    }

    /// Frees a block this process was writing and did not publish.
    pub fn abandon(&self, idx: u32, g: u32) {
        let e = self.entry(idx);
        let s = e.state.load(Acquire);
        if kind(s) == WRITING && generation(s) == g && pid(s) == my_pid() {
            let to = pack(g, FREE, false, 0);
            if e.state.compare_exchange(s, to, AcqRel, Relaxed).is_ok() {
                self.trim(e.cap.load(Relaxed));
            }
        }
    }

    /// Marks a loan about to be put as still viewed by its producer.
    pub fn pin(&self, idx: u32, g: u32) -> Result<(), Error> {
        let me = my_pid();
        let e = self.entry(idx);
        e.pin_pid.store(me, Release);
        let s = pack(g, WRITING, false, me);
        e.state
            .compare_exchange(s, s | PINNED, AcqRel, Acquire)
            .map(drop)
            .map_err(|now| {
                Error::Corrupt(format!(
                    "block {idx} of queue {} loaned to pid {me} is in state {now:#x}",
                    self.queue
                ))
            })
    }

    /// Undoes [`Pool::pin`] after a put that failed (the loan stays the
    /// producer's, unsent).
    pub fn unpin_unsent(&self, idx: u32, g: u32) {
        let s = pack(g, WRITING, false, my_pid());
        let _ = self
            .entry(idx)
            .state
            .compare_exchange(s | PINNED, s, AcqRel, Relaxed);
    }

    /// The producer's loan array was collected: lets its block be freed
    /// once the consumer is done with it (or frees it if never put).
    pub fn unpin(&self, idx: u32, g: u32) {
        let e = self.entry(idx);
        loop {
            let s = e.state.load(Acquire);
            if generation(s) != g {
                return;
            }
            let to = match kind(s) {
                WRITING if pid(s) == my_pid() => pack(g, FREE, false, 0),
                DONE => pack(g, FREE, false, 0),
                INFLIGHT | HELD if pinned(s) => s & !PINNED,
                _ => return,
            };
            if e.state.compare_exchange(s, to, AcqRel, Relaxed).is_ok() {
                if kind(to) == FREE {
                    self.trim(e.cap.load(Relaxed));
                }
                return;
            }
        }
    }

    /// Takes the block a record names, for this process to read.
    pub fn take(&self, r: Ref) -> Result<Lease, Error> {
        let lost = |why: String| {
            Error::Aborted(format!(
                "a message of queue {} was lost: its block {} {why}",
                self.queue, r.idx
            ))
        };
        if r.idx >= ENTRIES {
            return Err(Error::Corrupt(format!("record names block {}", r.idx)));
        }
        let me = my_pid();
        let e = self.entry(r.idx);
        let s = loop {
            let s = e.state.load(Acquire);
            if generation(s) != r.generation || !matches!(kind(s), FREE | WRITING | INFLIGHT) {
                return Err(lost(format!(
                    "was reused (its producer died before the hand-over; state {s:#x})"
                )));
            }
            let to = pack(r.generation, HELD, pinned(s), me);
            if e.state.compare_exchange(s, to, AcqRel, Relaxed).is_ok() {
                break to;
            }
        };
        let cap = e.cap.load(Relaxed);
        if r.len > cap {
            self.release(r.idx, r.generation, me);
            return Err(Error::Corrupt(format!(
                "record of {} bytes in block {} of {cap}",
                r.len, r.idx
            )));
        }
        self.forget_stale();
        match self.mapping(r.idx, cap as usize) {
            Ok(map) => Ok(Lease {
                idx: r.idx,
                generation: generation(s),
                map,
            }),
            Err(err) => {
                self.release(r.idx, r.generation, me);
                Err(err)
            }
        }
    }

    /// The consumer `holder` is done with the block (its last view was
    /// collected). Nothing happens in a forked child, which never held it.
    pub fn release(&self, idx: u32, g: u32, holder: u32) {
        if my_pid() != holder {
            return;
        }
        let e = self.entry(idx);
        loop {
            let s = e.state.load(Acquire);
            if generation(s) != g || kind(s) != HELD || pid(s) != holder {
                return; // reclaimed meanwhile
            }
            let to = if pinned(s) {
                pack(g, DONE, true, 0)
            } else {
                pack(g, FREE, false, 0)
            };
            if e.state.compare_exchange(s, to, AcqRel, Relaxed).is_ok() {
                if !pinned(s) {
                    self.trim(e.cap.load(Relaxed));
                }
                return;
            }
        }
    }

    /// Frees the blocks and pins of dead processes; returns how many.
    pub fn reclaim_dead(&self) -> u64 {
        let mut n = 0;
        for idx in 0..self.high_water() {
            let e = self.entry(idx);
            let s = e.state.load(Acquire);
            let to = match kind(s) {
                CREATING if !alive(pid(s)) => {
                    let _ = rustix::shm::unlink(format!("/{}", self.block_name(idx)).as_str());
                    Some(pack(generation(s), EMPTY, false, 0))
                }
                WRITING if !alive(pid(s)) => Some(pack(generation(s), FREE, false, 0)),
                HELD if !alive(pid(s)) => Some(if pinned(s) {
                    pack(generation(s), DONE, true, 0)
                } else {
                    pack(generation(s), FREE, false, 0)
                }),
                _ => None,
            };
            let s = match to {
                Some(to) if e.state.compare_exchange(s, to, AcqRel, Relaxed).is_ok() => {
                    n += 1;
                    to
                }
                Some(_) => continue,
                None => s,
            };
            if pinned(s) && !alive(e.pin_pid.load(Acquire)) {
                let to = if kind(s) == DONE {
                    pack(generation(s), FREE, false, 0)
                } else {
                    s & !PINNED
                };
                if e.state.compare_exchange(s, to, AcqRel, Relaxed).is_ok() {
                    n += 1;
                }
            }
        }
        n
    }

    /// Deletes free blocks of size `cap` beyond what is kept for reuse.
    fn trim(&self, cap: u64) {
        let (mut free, mut busy) = (0usize, 0usize);
        let hw = self.high_water();
        for idx in 0..hw {
            let e = self.entry(idx);
            if e.cap.load(Relaxed) != cap {
                continue;
            }
            match kind(e.state.load(Acquire)) {
                FREE => free += 1,
                WRITING | INFLIGHT | HELD | DONE => busy += 1,
                _ => {}
            }
        }
        let mut extra = free.saturating_sub(KEEP_FREE.max(busy));
        let me = my_pid();
        for idx in (0..hw).rev() {
            if extra == 0 {
                break;
            }
            let e = self.entry(idx);
            let s = e.state.load(Acquire);
            if kind(s) != FREE || e.cap.load(Relaxed) != cap {
                continue;
            }
            let c = pack(generation(s), CREATING, false, me);
            if e.state.compare_exchange(s, c, AcqRel, Relaxed).is_ok() {
                let _ = rustix::shm::unlink(format!("/{}", self.block_name(idx)).as_str());
                lock(&self.cache).remove(&idx);
                e.cap.store(0, Relaxed);
                e.state.store(pack(generation(s), EMPTY, false, 0), Release);
                extra -= 1;
            }
        }
    }

    /// Blocks that exist (any state but empty), for tests and `stats`.
    pub fn blocks(&self) -> (u32, u64) {
        let (mut n, mut bytes) = (0, 0);
        for idx in 0..self.high_water() {
            let e = self.entry(idx);
            if !matches!(kind(e.state.load(Acquire)), EMPTY) {
                n += 1;
                bytes += e.cap.load(Relaxed);
            }
        }
        (n, bytes)
    }

    /// The creator closes the queue: every block's name and the table's go.
    /// Mappings stay valid for arrays still viewing them.
    pub fn close(&self) {
        self.header().closed.store(1, Release);
        for idx in 0..self.high_water() {
            let _ = rustix::shm::unlink(format!("/{}", self.block_name(idx)).as_str());
        }
        let _ = segment::unlink(&Self::table_name(&self.queue));
        lock(&self.cache).clear();
    }

    /// Registers a loan handed out by this process.
    pub fn add_loan(&self, addr: usize, rec: LoanRec) {
        lock(&self.loans).insert(addr, rec);
    }

    /// Forgets a collected loan.
    pub fn remove_loan(&self, addr: usize) {
        lock(&self.loans).remove(&addr);
    }

    /// The loan whose whole memory is `[addr, addr + len)`, if any.
    pub fn loan_at(&self, addr: usize, len: usize) -> Option<LoanRec> {
        lock(&self.loans)
            .get(&addr)
            .filter(|r| r.len == len)
            .cloned()
    }
}
