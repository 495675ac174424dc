//! Loom models of the claim / publish / release protocol of [`crate::ring`]
//! (every interleaving of its atomics, with loom's weak-memory model):
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" cargo test -p shm-queue --release --lib loom
//! ```

use std::alloc::Layout;
use std::ptr::NonNull;

use loom::sync::Arc;
use loom::thread;

use crate::ring::{Attempt, Ring, total_size};
use crate::state::{WRITING, pack};

const SLOTS: u64 = 2;
const SIZE: u64 = 8;
const DEAD: u32 = 7;

/// Queue memory for one model execution, freed when the last thread drops it.
struct Mem {
    ring: Ring,
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: the memory is only reached through the ring's atomics and claims.
unsafe impl Send for Mem {}
// SAFETY: as above.
unsafe impl Sync for Mem {}

impl Mem {
    fn new() -> Arc<Self> {
        let len = total_size(SLOTS, SIZE).expect("size");
        let layout = Layout::from_size_align(len, 128).expect("layout");
        // SAFETY: non-zero size; freed in Drop with the same layout.
        let ptr = NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) }).expect("alloc");
        // SAFETY: `len` bytes, 128-aligned, alive until Drop.
        let ring = unsafe { Ring::init(ptr, len, SLOTS, SIZE, 1) }.expect("init");
        Arc::new(Self { ring, ptr, layout })
    }
}

impl Drop for Mem {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout; no view outlives `self`.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) };
    }
}

fn alive(pid: u32) -> bool {
    pid != DEAD
}

fn put(m: &Mem, me: u32, byte: u8) {
    loop {
        match m.ring.try_put(1, me, &alive, &mut |b| b[0] = byte) {
            Ok(Attempt::Done(())) => return,
            Ok(Attempt::Busy) => thread::yield_now(),
            Err(e) => panic!("put: {e}"),
        }
    }
}

fn get(m: &Mem, me: u32) -> u8 {
    loop {
        match m.ring.try_get(me, &alive, &mut |b| b[0]) {
            Ok(Attempt::Done(v)) => return v,
            Ok(Attempt::Busy) => thread::yield_now(),
            Err(e) => panic!("get: {e}"),
        }
    }
}

/// Two producers race for the two slots, then a consumer takes both:
/// every record arrives exactly once, intact.
#[test]
fn loom_producers_race() {
    loom::model(|| {
        let m = Mem::new();
        let other = {
            let m = Arc::clone(&m);
            thread::spawn(move || put(&m, 10, 1))
        };
        put(&m, 11, 2);
        other.join().expect("producer");
        let mut got = [get(&m, 20), get(&m, 20)];
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        assert_eq!(m.ring.lost(), 0);
    });
}

/// A producer publishes while two consumers each try once: the record goes
/// to exactly one of them (or neither, if both looked too early), never both.
#[test]
fn loom_consumers_race() {
    loom::model(|| {
        let m = Mem::new();
        let producer = {
            let m = Arc::clone(&m);
            thread::spawn(move || put(&m, 10, 9))
        };
        let other = {
            let m = Arc::clone(&m);
            thread::spawn(move || m.ring.try_get(21, &alive, &mut |b| b[0]).expect("get"))
        };
        let mine = m.ring.try_get(20, &alive, &mut |b| b[0]).expect("get");
        producer.join().expect("producer");
        let theirs = other.join().expect("consumer");
        let taken = [mine, theirs]
            .into_iter()
            .filter(|a| *a == Attempt::Done(9))
            .count();
        assert!(taken <= 1, "one record taken twice");
        if taken == 0 {
            assert_eq!(get(&m, 22), 9, "the record was lost");
        }
    });
}

/// A producer died holding slot 0 (its claim left behind): a live producer
/// and a consumer racing to reclaim it still deliver the live record, and
/// the loss is counted exactly once.
#[test]
fn loom_dead_writer_is_reclaimed_once() {
    loom::model(|| {
        let m = Mem::new();
        // What a producer that died right after its claim leaves.
        let slot0 = total_size(SLOTS, SIZE)
            .map(|_| crate::ring::HEADER_SIZE)
            .expect("size");
        // SAFETY: slot 0's state word, inside the memory, an atomic.
        let state = unsafe { m.ptr.add(slot0).cast::<crate::sync::AtomicU64>().as_ref() };
        state.store(pack(0, WRITING, DEAD), std::sync::atomic::Ordering::Release);
        let producer = {
            let m = Arc::clone(&m);
            thread::spawn(move || put(&m, 10, 5))
        };
        assert_eq!(get(&m, 20), 5);
        producer.join().expect("producer");
        assert_eq!(m.ring.lost(), 1);
    });
}
