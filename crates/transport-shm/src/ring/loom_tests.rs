//! Model checks of the index and wake-up protocols:
//! `RUSTFLAGS="--cfg loom" cargo test -p transport-shm --release --lib loom`.
//! Bodies live in loom atomics (written Relaxed), so a missing
//! Release/Acquire pair shows up as a stale body, and a lost wake-up as a
//! deadlock.

use super::*;
use crate::sync::AtomicU32;
use loom::sync::atomic::AtomicU64 as LAtomicU64;
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use std::sync::atomic::Ordering::Relaxed;

struct Inner {
    ctrl: RingCtrl,
    words: Vec<LAtomicU64>,
}

#[derive(Clone)]
struct LoomMem(Arc<Inner>);

impl LoomMem {
    fn new(size: usize) -> Self {
        Self(Arc::new(Inner {
            ctrl: RingCtrl::default(),
            words: (0..size / 8).map(|_| LAtomicU64::new(0)).collect(),
        }))
    }

    fn read(&self, off: usize, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len);
        let mut o = off;
        while out.len() < len {
            let w = self.0.words[o / 8].load(Relaxed).to_le_bytes();
            let take = (len - out.len()).min(8);
            out.extend_from_slice(&w[..take]);
            o += 8;
        }
        out
    }
}

// SAFETY: size fixed power of two; word masks; write stores the bytes.
unsafe impl RingMem for LoomMem {
    fn ctrl(&self) -> &RingCtrl {
        &self.0.ctrl
    }
    fn size(&self) -> usize {
        self.0.words.len() * 8
    }
    fn word(&self, off: usize) -> &LAtomicU64 {
        &self.0.words[(off & (self.size() - 1)) / 8]
    }
    fn record_align(&self) -> usize {
        // The orderings do not depend on the alignment; 16 keeps the
        // modelled ring (and loom's state space) small.
        super::ALIGN
    }
    unsafe fn write(&self, off: usize, bytes: &[u8]) {
        // Bodies start 16-aligned; whole words are ours up to the record end.
        for (i, ch) in bytes.chunks(8).enumerate() {
            let mut w = [0u8; 8];
            w[..ch.len()].copy_from_slice(ch);
            self.0.words[off / 8 + i].store(u64::from_le_bytes(w), Relaxed);
        }
    }
}

/// A futex over a loom atomic: `wait` sleeps only if the word still holds
/// `expected`, checked under the lock that `wake` takes, as the kernel does.
#[derive(Default)]
struct Futex {
    lock: Mutex<()>,
    cond: Condvar,
}

impl Futex {
    fn wait(&self, word: &AtomicU32, expected: u32) {
        let guard = self.lock.lock().expect("lock");
        if word.load(Relaxed) == expected {
            drop(self.cond.wait(guard).expect("wait"));
        }
    }
    fn wake(&self) {
        let _guard = self.lock.lock().expect("lock");
        self.cond.notify_all();
    }
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(f);
}

/// Three records through a 64-byte ring (padding and wrap included):
/// contents and order survive every interleaving.
#[test]
fn loom_index_protocol() {
    index_protocol(false);
}

/// The same with the consumer's claiming polls (a compare-exchange that
/// never changes the stamp), which a waiting `shm-spin` receiver uses.
#[test]
fn loom_index_protocol_claiming() {
    index_protocol(true);
}

fn index_protocol(claim: bool) {
    model(move || {
        let mem = LoomMem::new(64);
        let mut p = Producer::new(mem.clone());
        let mut c = Consumer::new(mem.clone(), 1 << 20);
        // 32 + 16 bytes, then a 32-byte record that does not fit the last
        // 16 bytes: padding, then offset 0.
        let sizes = [8usize, 0, 16];
        let t = thread::spawn(move || {
            for (i, &len) in sizes.iter().enumerate() {
                let msg = vec![i as u8 + 1; len];
                loop {
                    match p.try_push(kind::MSG, len as u32, &msg).expect("push") {
                        Push::Done => break,
                        Push::Padded => {}
                        Push::Full => thread::yield_now(),
                    }
                }
            }
        });
        for (i, &len) in sizes.iter().enumerate() {
            let r = loop {
                c.release();
                match c.try_pop_as(claim).expect("no corruption") {
                    Some(r) => break r,
                    None => thread::yield_now(),
                }
            };
            assert_eq!(r.len, len);
            assert_eq!(mem.read(r.off, r.len), vec![i as u8 + 1; len]);
        }
        t.join().expect("producer");
    });
}

/// The consumer sleeps when the ring is empty; the producer's publish
/// must always wake it (no lost wake-up = no deadlock).
#[test]
fn loom_consumer_wakeup() {
    model(|| {
        let mem = LoomMem::new(64);
        let futex = Arc::new(Futex::default());
        let mut p = Producer::new(mem.clone());
        let mut c = Consumer::new(mem.clone(), 1 << 20);
        let f2 = Arc::clone(&futex);
        let t = thread::spawn(move || {
            assert_eq!(p.try_push(kind::MSG, 8, &[7; 8]).expect("push"), Push::Done);
            if p.consumer_sleeping() {
                f2.wake();
            }
        });
        let r = loop {
            if let Some(r) = c.try_pop().expect("pop") {
                break r;
            }
            c.announce_sleep();
            if let Some(r) = c.try_pop().expect("pop") {
                c.cancel_sleep();
                break r;
            }
            futex.wait(c.waiting_word(), 1);
        };
        assert_eq!(mem.read(r.off, r.len), vec![7; 8]);
        t.join().expect("producer");
    });
}

/// The producer sleeps on a full ring; the consumer's release must wake
/// it.
#[test]
fn loom_producer_wakeup() {
    model(|| {
        let mem = LoomMem::new(64);
        let futex = Arc::new(Futex::default());
        let mut p = Producer::new(mem.clone());
        let mut c = Consumer::new(mem.clone(), 1 << 20);
        // 32-byte records: one fits (32 + 8 guard), the second needs the
        // first released.
        assert_eq!(
            p.try_push(kind::MSG, 16, &[1; 16]).expect("push"),
            Push::Done
        );
        let f2 = Arc::clone(&futex);
        let t = thread::spawn(move || {
            loop {
                match p.try_push(kind::MSG, 16, &[2; 16]).expect("push") {
                    Push::Done => break,
                    Push::Padded => continue,
                    Push::Full => {}
                }
                p.announce_sleep();
                match p.try_push(kind::MSG, 16, &[2; 16]).expect("push") {
                    Push::Done => {
                        p.cancel_sleep();
                        break;
                    }
                    Push::Padded => {
                        p.cancel_sleep();
                        continue;
                    }
                    Push::Full => f2.wait(p.waiting_word(), 1),
                }
            }
        });
        let r = c.try_pop().expect("pop").expect("first record");
        assert_eq!(mem.read(r.off, r.len), vec![1; 16]);
        c.release();
        if c.producer_sleeping() {
            futex.wake();
        }
        t.join().expect("producer");
    });
}

/// A producer that closes after publishing: a consumer that sees the
/// close also sees the record.
#[test]
fn loom_close_after_publish_drains() {
    model(|| {
        let mem = LoomMem::new(64);
        let mut p = Producer::new(mem.clone());
        let mut c = Consumer::new(mem.clone(), 1 << 20);
        let t = thread::spawn(move || {
            assert_eq!(p.try_push(kind::MSG, 8, &[3; 8]).expect("push"), Push::Done);
            p.close();
        });
        loop {
            if c.try_pop().expect("pop").is_some() {
                break;
            }
            if c.producer_closed() {
                assert!(c.try_pop().expect("pop").is_some(), "record lost at close");
                break;
            }
            thread::yield_now();
        }
        t.join().expect("producer");
    });
}
