//! Fuzzes the shared-memory ring's record validation
//! (`transport_shm::ring`), the code that reads what a possibly hostile peer
//! wrote into the shared segment.
//!
//! Two phases per input, on a heap ring of 64 B .. 16 KiB:
//!
//! 1. **Forged records.** Every 16-byte slot gets a valid stamp for the
//!    current lap and a meta word (kind, length) from the input, biased
//!    towards the interesting lengths (exact padding, half the ring, one
//!    past). The consumer pops until the ring looks empty or it reports
//!    `Corrupt`, over several laps. Every record it hands out must lie inside
//!    the data area and respect the maximum message size; its body is read.
//! 2. **Hostile head.** A producer pushes records while the input scribbles
//!    over the consumer's published `head` (behind, ahead of `tail`, random)
//!    and an honest consumer pops. The producer must answer `Full`, `Padded`,
//!    `Done` or `Corrupt`, never write outside the area (AddressSanitizer and
//!    the ring's debug assertions check), and the consumer's records must
//!    still lie inside the area.

#![no_main]

use std::ptr::NonNull;
use std::sync::atomic::Ordering::Relaxed;

use libfuzzer_sys::fuzz_target;
use transport_shm::ring::{
    Consumer, HEADER, MemRing, Producer, Push, Record, RingCtrl, RingMem, kind,
};

/// One 16-byte slot; the data area is a boxed slice of them, so it is
/// 16-aligned and exactly `size` bytes (AddressSanitizer sees any overrun).
#[repr(C, align(16))]
#[derive(Clone, Copy)]
struct Slot([u8; 16]);

struct Heap {
    ctrl: Box<RingCtrl>,
    data: Box<[Slot]>,
}

impl Heap {
    fn new(size: usize) -> Self {
        Self {
            ctrl: Box::default(),
            data: vec![Slot([0; 16]); size / 16].into_boxed_slice(),
        }
    }

    fn ring(&mut self) -> MemRing {
        let size = self.data.len() * 16;
        // SAFETY: both allocations outlive every use (the rings are dropped
        // before `self`), the area is 16-aligned and a power of two in
        // MIN_SIZE..=MAX_SIZE, one producer and one consumer at most.
        unsafe {
            MemRing::new(
                NonNull::from(&mut *self.ctrl),
                NonNull::new(self.data.as_mut_ptr().cast()).expect("non-null"),
                size,
            )
        }
    }
}

/// Reads input bytes, yielding zeros once it runs out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fuzz_target!(|input: &[u8]| {
    let mut inp = Bytes(input);
    let size = 64usize << (inp.u8() % 9);
    let max_message = match inp.u8() % 6 {
        0 => 0,
        1 => 16,
        2 => size / 2,
        3 => 1 << 30,
        4 => size * 4,
        _ => inp.u32() as usize,
    };
    forged_records(&mut inp, size, max_message);
    hostile_head(&mut inp, size, max_message);
});

/// Checks a record the consumer handed out and reads its body.
fn check_record(ring: &MemRing, rec: Record, size: usize, max_message: usize) -> u64 {
    assert!(rec.len <= max_message, "{rec:?} exceeds max {max_message}");
    match rec.kind {
        kind::MSG | kind::CHUNK => {
            assert!(rec.off >= HEADER && rec.off.is_multiple_of(16), "{rec:?}");
            assert!(
                rec.off + rec.len <= size,
                "{rec:?} outside a {size} byte ring"
            );
            // SAFETY: in the area (checked above) and not yet released.
            let body = unsafe { ring.bytes(rec.off, rec.len) };
            body.iter().map(|&b| u64::from(b)).sum()
        }
        kind::BEGIN => 0,
        other => panic!("consumer handed out a record of kind {other:#x}"),
    }
}

fn forged_records(inp: &mut Bytes<'_>, size: usize, max_message: usize) {
    let mut heap = Heap::new(size);
    let ring = heap.ring();
    let mut cons = Consumer::new(ring, max_message);
    for lap in 0..4u64 {
        for off in (0..size).step_by(16) {
            let k = inp.u8();
            let raw = inp.u32();
            let room = (size - off) as u32;
            let len = match k >> 5 {
                0 => raw,
                1 => raw % 64,
                2 => raw % size as u32,
                3 => room.wrapping_sub(HEADER as u32),
                4 => (size / 2 - HEADER) as u32,
                5 => (size / 2 - HEADER + 1) as u32,
                _ => raw % 256,
            };
            let kind = u64::from(k & 0x7);
            ring.word(off + 8)
                .store((kind << 32) | u64::from(len), Relaxed);
            ring.word(off)
                .store(lap * size as u64 + off as u64 + 1, Relaxed);
        }
        ring.ctrl()
            .tail
            .0
            .store(inp.u64() % (8 * size as u64), Relaxed);
        for _ in 0..=size / 16 {
            match cons.try_pop() {
                Ok(None) => break,
                Ok(Some(rec)) => {
                    check_record(&ring, rec, size, max_message);
                }
                Err(why) => {
                    assert!(!why.0.is_empty());
                    let _ = cons.check_tail();
                    return;
                }
            }
        }
        cons.release();
        let _ = cons.check_tail();
        if inp.is_empty() {
            return;
        }
    }
}

fn hostile_head(inp: &mut Bytes<'_>, size: usize, max_message: usize) {
    let mut heap = Heap::new(size);
    let ring = heap.ring();
    let mut prod = Producer::new(ring);
    let mut cons = Consumer::new(ring, max_message.max(size));
    let body = vec![0xa5u8; prod.max_inline()];
    for _ in 0..256 {
        if inp.is_empty() {
            return;
        }
        match inp.u8() % 8 {
            0..=3 => {
                let len = usize::from(inp.u8()) * 4 % (prod.max_inline() + 1);
                match prod.try_push(kind::MSG, len as u32, &body[..len]) {
                    Ok(Push::Done | Push::Padded | Push::Full) => {}
                    Err(why) => {
                        assert!(!why.0.is_empty());
                        return;
                    }
                }
            }
            4 | 5 => {
                for _ in 0..=inp.u8() % 4 {
                    match cons.try_pop() {
                        Ok(Some(rec)) => {
                            check_record(&ring, rec, size, max_message.max(size));
                        }
                        Ok(None) | Err(_) => break,
                    }
                }
                cons.release();
            }
            6 => {
                // Scribble over the published head, near the published tail.
                let tail = ring.ctrl().tail.0.load(Relaxed);
                let delta = u64::from(inp.u32()) % (2 * size as u64 + 1);
                let head = if inp.u8() & 1 == 0 {
                    tail.wrapping_sub(delta)
                } else {
                    tail.wrapping_add(delta)
                };
                ring.ctrl().head.0.store(head, Relaxed);
            }
            _ => ring.ctrl().head.0.store(inp.u64(), Relaxed),
        }
    }
}
