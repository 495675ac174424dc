//! In-process tests on heap memory; they also run under Miri:
//! `MIRIFLAGS=-Zmiri-disable-weak-memory-emulation cargo +nightly miri test -p transport-shm --lib ring`.

use super::layout::{meta, stamp};
use super::*;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

/// Two words on a 16-byte boundary, so the data area is aligned like a
/// record.
#[repr(C, align(16))]
struct Pair([AtomicU64; 2]);

/// A ring on the heap: control block and data area.
struct Heap {
    ctrl: Box<RingCtrl>,
    data: Box<[Pair]>,
}

impl Heap {
    fn new(size: usize) -> Arc<Self> {
        Arc::new(Self {
            ctrl: Box::default(),
            data: (0..size / 16)
                .map(|_| Pair([AtomicU64::new(0), AtomicU64::new(0)]))
                .collect(),
        })
    }

    fn word(&self, off: usize) -> &AtomicU64 {
        &self.data[off / 16].0[(off / 8) % 2]
    }

    /// The ring with 16-byte records, so tiny rings hold several.
    fn ring(&self) -> MemRing {
        self.line_ring().with_record_align(ALIGN)
    }

    /// The ring as production uses it: cache-line aligned records.
    fn line_ring(&self) -> MemRing {
        let size = self.data.len() * 16;
        // SAFETY: both allocations outlive every use in these tests (each
        // test keeps the Arc), the area is 16-aligned and a power of two.
        unsafe {
            MemRing::new(
                NonNull::from(&*self.ctrl),
                NonNull::new(self.data.as_ptr() as *mut u8).expect("non-null"),
                size,
            )
        }
    }
}

fn pair(size: usize) -> (Arc<Heap>, Producer<MemRing>, Consumer<MemRing>) {
    let heap = Heap::new(size);
    let p = Producer::new(heap.ring());
    let c = Consumer::new(heap.ring(), 1 << 20);
    (heap, p, c)
}

fn body(c: &Consumer<MemRing>, r: Record) -> Vec<u8> {
    // SAFETY: the record was just popped and not yet released.
    unsafe { c.mem().bytes(r.off, r.len) }.to_vec()
}

#[test]
fn ring_round_trip_and_wrap_with_padding() {
    let (_h, mut p, mut c) = pair(256);
    let mut seq = 0u8;
    for round in 0..50 {
        let len = (round * 7) % 100;
        let msg: Vec<u8> = (0..len).map(|i| seq.wrapping_add(i as u8)).collect();
        loop {
            match p.try_push(kind::MSG, len as u32, &msg).expect("push") {
                Push::Done => break,
                Push::Padded => {}
                Push::Full => panic!("ring must have room after each pop"),
            }
        }
        let r = c.try_pop().expect("pop").expect("a record");
        assert_eq!(r.kind, kind::MSG);
        assert_eq!(body(&c, r), msg);
        assert!(c.try_pop().expect("pop").is_none());
        c.release();
        c.check_tail().expect("consistent tail");
        seq = seq.wrapping_add(1);
    }
}

#[test]
fn ring_full_until_released() {
    let (_h, mut p, mut c) = pair(256);
    let msg = [1u8; 48]; // 64-byte records
    let mut pushed = 0;
    while p.try_push(kind::MSG, 48, &msg).expect("push") == Push::Done {
        pushed += 1;
    }
    // 256 bytes minus the 8-byte guard: three 64-byte records fit.
    assert_eq!(pushed, 3);
    let r = c.try_pop().expect("pop").expect("record");
    assert_eq!(r.len, 48);
    // Not yet released: still full.
    assert_eq!(p.try_push(kind::MSG, 48, &msg).expect("push"), Push::Full);
    c.release();
    assert_ne!(p.try_push(kind::MSG, 48, &msg).expect("push"), Push::Full);
}

#[test]
fn ring_record_larger_than_half_is_refused() {
    let (_h, mut p, _c) = pair(256);
    assert!(p.try_push(kind::MSG, 200, &[0u8; 200]).is_err());
    assert_eq!(p.max_inline(), 112);
    assert!(p.try_push(kind::MSG, 112, &[0u8; 112]).is_ok());
}

fn forge(heap: &Heap, off: usize, stamp_pos: u64, kind: u32, len: u32) {
    heap.word(off).store(stamp(stamp_pos), Relaxed);
    heap.word(off + 8).store(meta(kind, len), Relaxed);
}

#[test]
fn ring_corrupt_headers_are_rejected() {
    let cases: [(u32, u32, &str); 8] = [
        // Kind 0 makes `meta - (MSG << 32)` wrap: still refused.
        (0, 0, "kind 0"),
        (0, 8, "kind 0 with a length"),
        (kind::MSG, u32::MAX, "huge length"),
        (kind::MSG, 200, "longer than half the ring"),
        (kind::CHUNK, 129, "longer than half the ring"),
        (kind::PAD, 16, "padding not reaching the end"),
        (kind::BEGIN, (1 << 20) + 1, "total above the maximum"),
        (0xdead, 0, "unknown kind"),
    ];
    for (k, len, what) in cases {
        for claim in [false, true] {
            let (heap, _p, mut c) = pair(256);
            forge(&heap, 0, 0, k, len);
            let err = c.try_pop_as(claim).expect_err(what);
            assert!(!err.0.is_empty(), "{what}");
        }
    }
}

#[test]
fn ring_claiming_polls_take_the_same_records_and_change_nothing() {
    let (heap, mut p, mut c) = pair(256);
    let words = |h: &Heap| {
        (0..256)
            .step_by(8)
            .map(|o| h.word(o).load(Relaxed))
            .collect::<Vec<_>>()
    };
    for round in 0..50u8 {
        let len = (usize::from(round) * 7) % 100;
        let msg: Vec<u8> = (0..len).map(|i| round.wrapping_add(i as u8)).collect();
        let before = words(&heap);
        assert!(c.try_pop_as(true).expect("empty poll").is_none());
        assert_eq!(words(&heap), before, "an empty claiming poll wrote");
        loop {
            match p.try_push(kind::MSG, len as u32, &msg).expect("push") {
                Push::Done => break,
                Push::Padded => {}
                Push::Full => panic!("ring must have room after each pop"),
            }
        }
        let before = words(&heap);
        let r = c.try_pop_as(true).expect("pop").expect("a record");
        assert_eq!(words(&heap), before, "a successful claiming poll wrote");
        assert_eq!((r.kind, body(&c, r)), (kind::MSG, msg));
        c.release();
    }
}

/// The one-comparison check of a whole message accepts exactly the
/// lengths the separate checks did: up to half the ring minus a header,
/// and up to the maximum message size when that is smaller.
#[test]
fn ring_message_length_limits_are_exact() {
    for (max_message, limit) in [(1 << 20, 128 - HEADER), (100, 100)] {
        for (len, ok) in [(limit, true), (limit + 1, false)] {
            let heap = Heap::new(256);
            let mut c = Consumer::new(heap.ring(), max_message);
            forge(&heap, 0, 0, kind::MSG, len as u32);
            match c.try_pop() {
                Ok(Some(r)) => {
                    assert!(ok, "{len} accepted (max {max_message})");
                    assert_eq!((r.kind, r.len, r.off), (kind::MSG, len, HEADER));
                }
                Ok(None) => panic!("{len}: record not seen"),
                Err(e) => assert!(!ok, "{len} refused (max {max_message}): {}", e.0),
            }
        }
    }
}

#[test]
fn ring_record_crossing_the_end_is_rejected() {
    let (heap, mut p, mut c) = pair(256);
    // Move both sides to offset 192 legitimately.
    for _ in 0..3 {
        assert_eq!(
            p.try_push(kind::MSG, 48, &[0; 48]).expect("push"),
            Push::Done
        );
        c.try_pop().expect("pop").expect("record");
        c.release();
    }
    // A 112-byte body at offset 192 would run 64 bytes past the end.
    forge(&heap, 192, 192, kind::MSG, 100);
    assert!(c.try_pop().is_err());
}

#[test]
fn ring_stale_body_bytes_are_not_mistaken_for_a_stamp() {
    let (_heap, mut p, mut c) = pair(256);
    // Records: 128 bytes at 0, 64 at 128, 64 at 192, then 64 at 0 (the
    // second lap, position 256). The consumer then expects position 320
    // at offset 64, which the first record's body covered: plant exactly
    // that stamp value there.
    let mut big = [0u8; 112];
    big[48..56].copy_from_slice(&stamp(320).to_le_bytes());
    assert_eq!(p.try_push(kind::MSG, 112, &big).expect("push"), Push::Done);
    for _ in 0..3 {
        c.try_pop().expect("pop").expect("record");
        c.release();
        assert_eq!(
            p.try_push(kind::MSG, 48, &[9; 48]).expect("push"),
            Push::Done
        );
    }
    c.try_pop().expect("pop").expect("record");
    c.release();
    // The producer zeroed the planted value when it published the record
    // before it.
    assert!(c.try_pop().expect("pop").is_none());
}

#[test]
fn ring_hostile_head_is_detected_by_producer() {
    let (heap, mut p, _c) = pair(256);
    heap.ctrl.head.0.store(1000, Relaxed);
    // Fill until the producer must look at head.
    let err = loop {
        match p.try_push(kind::MSG, 48, &[0; 48]) {
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert!(err.0.contains("head"));
}

#[test]
fn ring_hostile_tail_is_detected_by_consumer() {
    let (heap, _p, c) = pair(256);
    c.check_tail().expect("initial state is consistent");
    heap.ctrl.tail.0.store(10_000, Relaxed);
    assert!(c.check_tail().is_err());
}

/// A ring that logs which data-area lines (64-byte, relative to the area)
/// each access touches.
struct Traced {
    ring: MemRing,
    lines: std::cell::RefCell<Vec<usize>>,
}

impl Traced {
    fn take(&self) -> Vec<usize> {
        let mut v = self.lines.take();
        v.sort_unstable();
        v.dedup();
        v
    }
}

// SAFETY: delegates everything to a valid `MemRing`.
unsafe impl RingMem for Traced {
    fn ctrl(&self) -> &RingCtrl {
        self.ring.ctrl()
    }
    fn size(&self) -> usize {
        self.ring.size()
    }
    fn record_align(&self) -> usize {
        self.ring.record_align()
    }
    fn word(&self, off: usize) -> &AtomicU64 {
        self.lines
            .borrow_mut()
            .push((off & (self.size() - 1)) / LINE);
        self.ring.word(off)
    }
    unsafe fn write(&self, off: usize, bytes: &[u8]) {
        if !bytes.is_empty() {
            let mut l = self.lines.borrow_mut();
            l.extend(off / LINE..=(off + bytes.len() - 1) / LINE);
        }
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { self.ring.write(off, bytes) }
    }
}

/// The cache-line budget of ping-pong messages of `body` bytes, in
/// lockstep over `laps` laps of a 4 KiB ring: (lines the consumer touches
/// per message, averaged; messages whose producer touched the line of the
/// *next* record, the one the consumer polls while it waits).
fn line_budget(align: usize, len: usize, laps: usize) -> (f64, usize) {
    let heap = Heap::new(4096);
    let traced = |ring: MemRing| Traced {
        ring: ring.with_record_align(align),
        lines: Default::default(),
    };
    let mut p = Producer::new(traced(heap.line_ring()));
    let mut c = Consumer::new(traced(heap.line_ring()), 1 << 20);
    let msg = vec![7u8; len];
    let mut consumer_lines = 0;
    let mut touched_next = 0;
    let rec = record_size(len, align).expect("small");
    let n = laps * 4096 / rec;
    for k in 0..n {
        while p.try_push(kind::MSG, len as u32, &msg).expect("push") != Push::Done {}
        let produced = p.mem().take();
        let r = c.try_pop().expect("pop").expect("record");
        // SAFETY: the record was just popped and not yet released.
        assert_eq!(unsafe { c.mem().ring.bytes(r.off, r.len) }, msg);
        c.mem()
            .lines
            .borrow_mut()
            .extend(r.off / LINE..=(r.off + r.len - 1) / LINE);
        c.release();
        consumer_lines += c.mem().take().len();
        // The consumer's next poll: the line of the next record's stamp.
        let next_line = (p.tail as usize & 4095) / LINE;
        if k > 0 && produced.contains(&next_line) {
            touched_next += 1;
        }
    }
    (consumer_lines as f64 / n as f64, touched_next)
}

/// docs/shm.md's cache-line budget, asserted: the harness's 8-byte
/// message (24 bytes on the wire) costs one line on each side with
/// line-aligned records, and the producer's stores after publishing stay
/// off the line the consumer polls next except when the zeroing frontier
/// is held back by a stale head at a lap's end. 16-byte alignment (the
/// layout before) splits half the records over two lines.
#[test]
fn ring_small_message_costs_one_line() {
    let (lines, touched) = line_budget(LINE, 24, 4);
    assert_eq!(lines, 1.0);
    assert!(
        touched <= 4,
        "{touched} messages touched the polled line in 4 laps"
    );
    let (lines16, _) = line_budget(ALIGN, 24, 4);
    assert!(lines16 > 1.4, "{lines16}");
    // Up to 48 bytes of body still fit one line.
    assert_eq!(line_budget(LINE, 48, 2).0, 1.0);
}

/// Round trips through a line-aligned ring: every size up to chunking,
/// with wrap-around padding.
#[test]
fn ring_line_aligned_round_trip() {
    let heap = Heap::new(1024);
    let mut p = Producer::new(heap.line_ring());
    let mut c = Consumer::new(heap.line_ring(), 1 << 20);
    for i in 0..2000usize {
        let len = (i * 13) % (p.max_inline() + 1);
        let msg: Vec<u8> = (0..len).map(|j| (i ^ j) as u8).collect();
        while p.try_push(kind::MSG, len as u32, &msg).expect("push") != Push::Done {}
        let r = c.try_pop().expect("pop").expect("record");
        assert_eq!(r.off % LINE, HEADER);
        assert_eq!(body(&c, r), msg);
        c.release();
    }
    c.check_tail().expect("consistent tail");
}

/// Producer and consumer on two threads, records of many sizes, some
/// chunked; Miri checks the accesses for data races.
#[test]
fn ring_two_threads_stream() {
    let heap = Heap::new(512);
    let count: usize = if cfg!(miri) { 60 } else { 5000 };
    let mut p = Producer::new(heap.ring());
    let mut c = Consumer::new(heap.ring(), 1 << 20);
    let keep = Arc::clone(&heap);
    let producer = std::thread::spawn(move || {
        let _keep = keep;
        for i in 0..count {
            let len = (i * 37) % 300;
            let msg: Vec<u8> = (0..len).map(|j| (i + j) as u8).collect();
            let pieces: Vec<(u32, u32, &[u8])> = if len <= p.max_inline() {
                vec![(kind::MSG, len as u32, &msg[..])]
            } else {
                let mut v = vec![(kind::BEGIN, len as u32, &[][..])];
                v.extend(
                    msg.chunks(p.chunk_payload())
                        .map(|ch| (kind::CHUNK, ch.len() as u32, ch)),
                );
                v
            };
            for (k, l, b) in pieces {
                loop {
                    match p.try_push(k, l, b).expect("push") {
                        Push::Done => break,
                        Push::Padded => {}
                        Push::Full => std::thread::yield_now(),
                    }
                }
            }
        }
        p.close();
    });
    let mut got = 0;
    let mut assembling: Option<(usize, Vec<u8>)> = None;
    loop {
        c.release();
        match c.try_pop().expect("pop") {
            Some(r) => {
                let msg = match r.kind {
                    kind::MSG => body(&c, r),
                    kind::BEGIN => {
                        assembling = Some((r.len, Vec::new()));
                        continue;
                    }
                    kind::CHUNK => {
                        let (total, mut buf) = assembling.take().expect("begin first");
                        buf.extend_from_slice(&body(&c, r));
                        if buf.len() < total {
                            assembling = Some((total, buf));
                            continue;
                        }
                        buf
                    }
                    k => panic!("kind {k}"),
                };
                let len = (got * 37) % 300;
                assert_eq!(msg.len(), len, "message {got}");
                assert!(msg.iter().enumerate().all(|(j, &b)| b == (got + j) as u8));
                got += 1;
            }
            None if c.producer_closed() => {
                if c.try_pop().expect("pop").is_none() {
                    break;
                }
                panic!("record appeared after close was seen");
            }
            None => std::thread::yield_now(),
        }
    }
    producer.join().expect("producer thread");
    assert_eq!(got, count);
}

/// Reserves a record for `len` bytes (publishing padding if it must) and
/// writes `fill` into it in place, as a loan does.
fn reserve_and_write(p: &mut Producer<MemRing>, len: usize, fill: u8) {
    loop {
        match p.try_reserve(len).expect("reserve") {
            Push::Done => break,
            Push::Padded => {}
            Push::Full => panic!("ring must have room after each pop"),
        }
    }
    let off = p.reserved_body();
    // SAFETY: just reserved, not published, no other slice of it exists.
    unsafe { p.mem().bytes_mut(off, len) }.fill(fill);
}

/// Loans: records written in place arrive whole and in order, around the
/// ring's end (padding) too, interleaved with copied records; an abandoned
/// reservation sends nothing and the next record takes its place.
#[test]
fn ring_loans_publish_in_place_and_abandoned_ones_send_nothing() {
    let (_h, mut p, mut c) = pair(256);
    for round in 0..60usize {
        let len = (round * 11) % (p.max_inline() + 1);
        let fill = round as u8;
        if round % 3 == 0 {
            // Reserved and dropped: never published.
            reserve_and_write(&mut p, len, 0xEE);
            assert!(c.try_pop().expect("pop").is_none(), "round {round}");
        }
        reserve_and_write(&mut p, len, fill);
        assert!(
            c.try_pop().expect("pop").is_none(),
            "a reserved record is visible before it is published"
        );
        p.publish_reserved(kind::MSG, len).expect("publish");
        let msg = vec![fill; len];
        let r = c.try_pop().expect("pop").expect("record");
        assert_eq!(
            (r.kind, body(&c, r)),
            (kind::MSG, msg.clone()),
            "round {round}"
        );
        c.release();
        if round % 2 == 0 {
            // A copied record after a loaned one, through the same tail.
            loop {
                match p.try_push(kind::MSG, len as u32, &msg).expect("push") {
                    Push::Done => break,
                    Push::Padded => {}
                    Push::Full => panic!("ring must have room after each pop"),
                }
            }
            let r = c.try_pop().expect("pop").expect("copied record");
            assert_eq!(body(&c, r), msg);
            c.release();
        }
        assert!(c.try_pop().expect("pop").is_none());
    }
    c.check_tail().expect("consistent tail");
}

/// A reservation is refused like a push: over half the ring, or with no
/// room; publishing what was not reserved is refused, not written.
#[test]
fn ring_reservations_respect_bounds_and_space() {
    let (_h, mut p, mut c) = pair(256);
    assert!(p.try_reserve(p.max_inline() + 1).is_err());
    assert!(p.publish_reserved(kind::MSG, p.max_inline() + 1).is_err());
    let half = p.max_inline();
    reserve_and_write(&mut p, half, 1);
    p.publish_reserved(kind::MSG, half).expect("publish");
    // Half the ring is held by the consumer: a second half-ring record
    // does not fit, and publishing it anyway is refused.
    assert_eq!(p.try_reserve(half).expect("reserve"), Push::Full);
    assert!(p.publish_reserved(kind::MSG, half).is_err());
    let r = c.try_pop().expect("pop").expect("record");
    assert_eq!(body(&c, r), vec![1; half]);
    c.release();
    assert!(c.try_pop().expect("pop").is_none());
}
