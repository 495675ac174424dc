//! Model checks of one ring read by two consumers ([`Readers`]):
//! `RUSTFLAGS="--cfg loom" cargo test -p transport-shm --release --lib loom`.
//! Each reader has a control block of its own over the shared words; the
//! producer overwrites only what both have released (a stale or torn body
//! shows; gathering the fastest reader's head instead of the slowest's
//! fails here). Loom does not model a load that reads a later store, so it
//! cannot tell `gather`'s Acquire load of a head from a Relaxed one: that
//! ordering rests on the argument in `readers.rs`, as the single reader's
//! does in `producer.rs`.

use super::*;
use loom::sync::Arc;
use loom::sync::atomic::AtomicU64 as LAtomicU64;
use loom::thread;
use std::sync::atomic::Ordering::Relaxed;

struct Inner {
    /// Index 0: the producer's; then one per reader.
    ctrls: Vec<RingCtrl>,
    words: Vec<LAtomicU64>,
}

/// The shared words seen through control block `which`.
#[derive(Clone)]
struct View(Arc<Inner>, usize);

fn views(size: usize, readers: usize) -> Vec<View> {
    let inner = Arc::new(Inner {
        ctrls: (0..=readers).map(|_| RingCtrl::default()).collect(),
        words: (0..size / 8).map(|_| LAtomicU64::new(0)).collect(),
    });
    (0..=readers).map(|i| View(Arc::clone(&inner), i)).collect()
}

impl View {
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
unsafe impl RingMem for View {
    fn ctrl(&self) -> &RingCtrl {
        &self.0.ctrls[self.1]
    }
    fn size(&self) -> usize {
        self.0.words.len() * 8
    }
    fn word(&self, off: usize) -> &LAtomicU64 {
        &self.0.words[(off & (self.size() - 1)) / 8]
    }
    fn record_align(&self) -> usize {
        super::ALIGN
    }
    unsafe fn write(&self, off: usize, bytes: &[u8]) {
        for (i, ch) in bytes.chunks(8).enumerate() {
            let mut w = [0u8; 8];
            w[..ch.len()].copy_from_slice(ch);
            self.0.words[off / 8 + i].store(u64::from_le_bytes(w), Relaxed);
        }
    }
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(2);
    b.check(f);
}

/// An empty record and a 64-byte one fill most of a 128-byte ring; the
/// next one needs a padding record and then offset 0, over the second's
/// body, i.e. both readers' release of it. Each reader checks that body
/// after taking it: the producer, gathering the readers' heads, must not
/// overwrite it before both have released it, in any interleaving.
#[test]
fn loom_the_producer_waits_for_both_readers() {
    model(|| {
        let v = views(128, 2);
        let mut p = Producer::new(v[0].clone());
        let mut readers = Readers::new(vec![v[1].clone(), v[2].clone()]);
        assert_eq!(p.try_push(kind::MSG, 0, &[]).expect("push"), Push::Done);
        assert_eq!(
            p.try_push(kind::MSG, 48, &[1; 48]).expect("push"),
            Push::Done
        );
        let reader = |view: View| {
            move || {
                let mut c = Consumer::new(view.clone(), 1 << 20);
                let r = c
                    .try_pop()
                    .expect("no corruption")
                    .expect("published before");
                assert_eq!(r.len, 0);
                let r = c
                    .try_pop()
                    .expect("no corruption")
                    .expect("published before");
                assert_eq!(view.read(r.off, r.len), vec![1; 48]);
                c.release();
            }
        };
        let t1 = thread::spawn(reader(v[1].clone()));
        let t2 = thread::spawn(reader(v[2].clone()));
        loop {
            match p.try_push(kind::MSG, 48, &[2; 48]).expect("push") {
                Push::Done => break,
                Push::Padded => {}
                Push::Full => {
                    let tail = p.tail();
                    readers.gather(p.mem().ctrl(), tail).expect("heads");
                    thread::yield_now();
                }
            }
        }
        t1.join().expect("reader 1");
        t2.join().expect("reader 2");
    });
}
