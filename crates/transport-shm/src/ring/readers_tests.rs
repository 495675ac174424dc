//! In-process tests of one ring read by several consumers ([`Readers`]) on
//! heap memory: the slowest live reader holds the producer back, a
//! departed one does not, every reader reads every record in order, and an
//! inconsistent head is named.

use super::*;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

/// Two words on a 16-byte boundary, so the data area is aligned like a
/// record.
#[repr(C, align(16))]
struct Pair([AtomicU64; 2]);

/// One data area and a control block per end: index 0 the producer's,
/// then one per reader.
struct Shared {
    ctrls: Vec<RingCtrl>,
    data: Box<[Pair]>,
}

impl Shared {
    fn new(size: usize, readers: usize) -> Arc<Self> {
        Arc::new(Self {
            ctrls: (0..=readers).map(|_| RingCtrl::default()).collect(),
            data: (0..size / 16)
                .map(|_| Pair([AtomicU64::new(0), AtomicU64::new(0)]))
                .collect(),
        })
    }

    /// The ring with control block `i`, 16-byte records.
    fn ring(&self, i: usize) -> MemRing {
        let size = self.data.len() * 16;
        // SAFETY: both allocations outlive every use (each test keeps the
        // Arc), the area is 16-aligned and a power of two; each control
        // block has one user.
        unsafe {
            MemRing::new(
                NonNull::from(&self.ctrls[i]),
                NonNull::new(self.data.as_ptr() as *mut u8).expect("non-null"),
                size,
            )
        }
        .with_record_align(ALIGN)
    }
}

struct Group {
    _shared: Arc<Shared>,
    prod: Producer<MemRing>,
    readers: Readers<MemRing>,
    cons: Vec<Consumer<MemRing>>,
}

fn group(size: usize, n: usize) -> Group {
    let shared = Shared::new(size, n);
    Group {
        prod: Producer::new(shared.ring(0)),
        readers: Readers::new((1..=n).map(|i| shared.ring(i)).collect()),
        cons: (1..=n)
            .map(|i| Consumer::new(shared.ring(i), 1 << 20))
            .collect(),
        _shared: shared,
    }
}

impl Group {
    /// One attempt to publish `msg`, gathering the readers' heads when the
    /// ring looks full, as the publisher does.
    fn push(&mut self, msg: &[u8]) -> Push {
        loop {
            match self
                .prod
                .try_push(kind::MSG, msg.len() as u32, msg)
                .expect("push")
            {
                Push::Padded => continue,
                Push::Done => return Push::Done,
                Push::Full => {}
            }
            let before = self.prod.mem().ctrl().head.0.load(Relaxed);
            let tail = self.prod.tail();
            self.readers
                .gather(self.prod.mem().ctrl(), tail)
                .expect("consistent heads");
            if self.prod.mem().ctrl().head.0.load(Relaxed) == before {
                return Push::Full;
            }
        }
    }

    /// Reader `i`'s next message, releasing the one before.
    fn pop(&mut self, i: usize) -> Option<Vec<u8>> {
        let c = &mut self.cons[i];
        c.release();
        let r = c.try_pop().expect("valid record")?;
        // SAFETY: just popped, released only by the next call.
        Some(unsafe { c.mem().bytes(r.off, r.len) }.to_vec())
    }
}

fn msg(seq: u64) -> Vec<u8> {
    let len = (seq as usize * 13) % 40;
    (0..len)
        .map(|k| (seq as u8).wrapping_add(k as u8))
        .collect()
}

#[test]
fn the_slowest_reader_holds_the_producer_back() {
    let mut g = group(256, 2);
    let mut sent = 0u64;
    while g.push(&msg(sent)) == Push::Done {
        sent += 1;
    }
    assert!(sent > 2, "a 256-byte ring holds a few records");
    for seq in 0..sent {
        assert_eq!(g.pop(0), Some(msg(seq)), "reader 0, #{seq}");
    }
    assert_eq!(g.pop(0), None);
    // Reader 0 has released everything; reader 1 nothing.
    assert_eq!(g.push(&msg(sent)), Push::Full);
    let tail = g.prod.tail();
    let slowest = g.readers.gather(g.prod.mem().ctrl(), tail).expect("heads");
    assert_eq!(slowest, Some(Slowest { reader: 1, head: 0 }));
    // Half the ring's records released: room for one more of at most 64
    // bytes.
    for seq in 0..sent / 2 {
        assert_eq!(g.pop(1), Some(msg(seq)), "reader 1, #{seq}");
    }
    g.cons[1].release();
    assert_eq!(g.push(&msg(sent)), Push::Done, "reader 1 made room");
}

#[test]
fn a_departed_reader_holds_nothing_back() {
    let mut g = group(256, 3);
    let mut sent = 0u64;
    while g.push(&msg(sent)) == Push::Done {
        sent += 1;
    }
    for seq in 0..sent {
        assert_eq!(g.pop(0), Some(msg(seq)));
        assert_eq!(g.pop(2), Some(msg(seq)));
    }
    assert_eq!((g.pop(0), g.pop(2)), (None, None));
    assert_eq!(g.push(&msg(sent)), Push::Full, "reader 1 read nothing");
    assert!(g.readers.depart(1));
    assert!(!g.readers.depart(1), "departs once");
    assert_eq!(g.readers.live_count(), 2);
    assert!(!g.readers.is_live(1));
    assert_eq!(g.push(&msg(sent)), Push::Done);
    assert_eq!(g.pop(0), Some(msg(sent)));
    assert_eq!(g.pop(2), Some(msg(sent)));
    // Nobody left: the producer's head is its tail, everything is free.
    g.readers.depart(0);
    g.readers.depart(2);
    let tail = g.prod.tail();
    assert_eq!(g.readers.gather(g.prod.mem().ctrl(), tail), Ok(None));
    assert_eq!(g.prod.mem().ctrl().head.0.load(Relaxed), tail);
}

#[test]
fn every_reader_reads_every_record_in_order_whatever_the_interleaving() {
    let n = 3;
    let mut g = group(512, n);
    let mut next = vec![0u64; n];
    let mut sent = 0u64;
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let total = 3_000;
    while next.iter().any(|&s| s < total) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let who = (x % (n as u64 + 1)) as usize;
        if who == n {
            if sent < total && g.push(&msg(sent)) == Push::Done {
                sent += 1;
            }
        } else if let Some(m) = g.pop(who) {
            assert_eq!(m, msg(next[who]), "reader {who}, #{}", next[who]);
            next[who] += 1;
        }
    }
    assert_eq!(sent, total);
    for i in 0..n {
        assert_eq!(g.pop(i), None, "reader {i} read past the end");
    }
}

#[test]
fn an_inconsistent_head_is_named() {
    let mut g = group(256, 2);
    assert_eq!(g.push(&msg(0)), Push::Done);
    g.readers.ctrl(1).head.0.store(1 << 20, Relaxed);
    let tail = g.prod.tail();
    let Err((who, why)) = g.readers.gather(g.prod.mem().ctrl(), tail) else {
        panic!("a head past the tail was accepted");
    };
    assert_eq!(who, 1);
    assert!(why.0.contains("reader 1"), "{why}");
}

#[test]
fn only_live_sleepers_are_woken_and_each_once() {
    let mut g = group(256, 3);
    for i in 0..3 {
        g.readers.ctrl(i).flags.0.cons_waiting.store(1, Relaxed);
    }
    g.readers.depart(2);
    let mut woken = 0;
    g.readers.wake_sleepers(|_| woken += 1);
    assert_eq!(woken, 2, "readers 0 and 1; reader 2 has departed");
    g.readers.wake_sleepers(|_| woken += 1);
    assert_eq!(woken, 2, "announcements are consumed");
    g.readers.close_all(|_| {});
    for c in &g.cons {
        assert!(c.producer_closed());
    }
}

#[test]
fn threads_each_read_everything_in_order() {
    let n = 3;
    let total = 20_000u64;
    let shared = Shared::new(1024, n);
    let readers: Vec<_> = (1..=n)
        .map(|i| {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                let mut c = Consumer::new(shared.ring(i), 1 << 20);
                let mut seq = 0;
                while seq < total {
                    c.release();
                    match c.try_pop().expect("valid record") {
                        Some(r) => {
                            // SAFETY: popped, not yet released.
                            let got = unsafe { c.mem().bytes(r.off, r.len) };
                            assert_eq!(got, msg(seq).as_slice(), "reader {i}, #{seq}");
                            seq += 1;
                        }
                        None => std::thread::yield_now(),
                    }
                }
                c.release();
            })
        })
        .collect();
    let mut prod = Producer::new(shared.ring(0));
    let mut rs = Readers::new((1..=n).map(|i| shared.ring(i)).collect());
    for seq in 0..total {
        let m = msg(seq);
        loop {
            match prod.try_push(kind::MSG, m.len() as u32, &m).expect("push") {
                Push::Done => break,
                Push::Padded => {}
                Push::Full => {
                    let tail = prod.tail();
                    rs.gather(prod.mem().ctrl(), tail).expect("heads");
                    std::thread::yield_now();
                }
            }
        }
    }
    for r in readers {
        r.join().expect("reader thread");
    }
}
