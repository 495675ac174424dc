//! Unit tests of the block pool's state machine on real shm blocks: reuse,
//! generations, loans pinned until collected, trimming, and reclaiming the
//! blocks of a dead process.

use std::sync::atomic::Ordering::Release;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use super::{KEEP_FREE, Pool};
use crate::words::{HELD, Ref, WRITING, pack};

/// A pool whose names are removed when the test ends, passed or not.
struct Guard(std::sync::Arc<Pool>);

impl std::ops::Deref for Guard {
    type Target = Pool;
    fn deref(&self) -> &Pool {
        &self.0
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.close();
    }
}

fn pool() -> Guard {
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "ipcbench-q-{}-pooltest{}",
        std::process::id(),
        N.fetch_add(1, Relaxed)
    );
    Guard(Pool::create(&name).expect("create pool"))
}

fn gone(p: &Pool) -> bool {
    !std::fs::read_dir("/dev/shm")
        .expect("/dev/shm")
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with(&p.queue))
}

fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().expect("spawn");
    let pid = child.id();
    child.wait().expect("reap");
    pid
}

#[test]
fn a_released_block_is_reused_and_a_stale_reference_is_refused() {
    let p = pool();
    let a = p.alloc(100_000).expect("alloc");
    p.publish(a.idx, a.generation);
    let r = Ref {
        idx: a.idx,
        generation: a.generation,
        len: 100_000,
    };
    let got = p.take(r).expect("take");
    assert_eq!(got.map.ptr(), a.map.ptr(), "one process, one mapping");
    p.release(got.idx, got.generation, shm_queue::wait::my_pid());
    let b = p.alloc(99_000).expect("alloc again");
    assert_eq!(
        (b.idx, p.blocks().0),
        (a.idx, 1),
        "the same size class reuses the block"
    );
    assert_ne!(b.generation, a.generation);
    let stale = p.take(r).expect_err("an old generation");
    assert!(stale.to_string().contains("lost"), "{stale}");
    p.close();
    assert!(gone(&p));
}

#[test]
fn a_put_loan_is_not_reused_until_it_is_collected() {
    let p = pool();
    let me = shm_queue::wait::my_pid();
    let l = p.alloc(1 << 20).expect("loan");
    p.pin(l.idx, l.generation).expect("pin");
    p.publish(l.idx, l.generation);
    let r = Ref {
        idx: l.idx,
        generation: l.generation,
        len: 1 << 20,
    };
    let got = p.take(r).expect("take");
    p.release(got.idx, got.generation, me);
    let other = p.alloc(1 << 20).expect("another block");
    assert_ne!(other.idx, l.idx, "the pinned block is not handed out");
    p.abandon(other.idx, other.generation);
    p.unpin(l.idx, l.generation);
    let again = p.alloc(1 << 20).expect("reuse");
    assert!(again.idx == l.idx || again.idx == other.idx);
    assert!(
        p.pin(l.idx, l.generation).is_err(),
        "an old loan cannot be pinned"
    );
    p.close();
}

#[test]
fn free_blocks_beyond_the_kept_ones_are_deleted() {
    let p = pool();
    let me = shm_queue::wait::my_pid();
    let leases: Vec<_> = (0..6).map(|_| p.alloc(200_000).expect("alloc")).collect();
    assert_eq!(p.blocks().0, 6);
    for l in &leases {
        p.publish(l.idx, l.generation);
        let r = Ref {
            idx: l.idx,
            generation: l.generation,
            len: 1,
        };
        let t = p.take(r).expect("take");
        p.release(t.idx, t.generation, me);
    }
    assert_eq!(
        p.blocks().0 as usize,
        KEEP_FREE,
        "the pool returns to its idle size"
    );
    p.close();
    assert!(gone(&p));
}

#[test]
fn blocks_of_a_dead_process_are_reclaimed() {
    let p = pool();
    let a = p.alloc(50_000).expect("alloc");
    let b = p.alloc(50_000).expect("alloc");
    let dead = dead_pid();
    p.entry(a.idx)
        .state
        .store(pack(a.generation, WRITING, false, dead), Release);
    p.entry(b.idx)
        .state
        .store(pack(b.generation, HELD, false, dead), Release);
    assert_eq!(p.reclaim_dead(), 2);
    assert_eq!(p.reclaim_dead(), 0, "once");
    let c = p.alloc(50_000).expect("reuse");
    assert!(c.idx == a.idx || c.idx == b.idx);
    p.close();
}

#[test]
fn a_reservation_larger_than_dev_shm_is_an_error_naming_both() {
    let p = pool();
    let e = p.alloc(usize::MAX / 4).expect_err("too large");
    let m = e.to_string();
    assert!(
        m.contains("cannot reserve") && m.contains("/dev/shm has"),
        "{m}"
    );
    assert_eq!(p.blocks(), (0, 0));
    p.close();
    assert!(gone(&p));
}
