//! Fuzzes the MPMC queue's handling of a segment a hostile process wrote
//! (`shm_queue::ring`): the input becomes the header and the slots' state
//! and length words of a heap queue, then puts, gets and reclaims run on it
//! with pids the input declares dead or alive. Every call must return (no
//! hang), never panic, never touch memory outside the queue (AddressSanitizer
//! checks), and every record a get lends must fit its slot.

#![no_main]

use std::ptr::NonNull;

use libfuzzer_sys::fuzz_target;
use shm_queue::ring::{Attempt, HEADER_SIZE, Ring, SLOT_HEADER, stride, total_size};

const ME: u32 = 4242;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let slots = 2 + u64::from(data[0] % 6);
    let size = 64 * u64::from(1 + data[1] % 4);
    let ops = data[2];
    let dead_mask = data[3];
    let body = &data[4..];
    let Some(len) = total_size(slots, size) else { return };
    // 128-byte aligned heap memory of exactly `len` bytes.
    let layout = std::alloc::Layout::from_size_align(len, 128).expect("layout");
    // SAFETY: non-zero size; freed below with the same layout.
    let raw = unsafe { std::alloc::alloc_zeroed(layout) };
    let Some(base) = NonNull::new(raw) else { return };
    // SAFETY: `base` holds `len` writable bytes for the whole input.
    let ring = unsafe { Ring::init(base, len, slots, size, ME) }.expect("init");
    // Hostile words: the positions, then each slot's state and length.
    let mut words = body
        .chunks(8)
        .map(|c| c.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b)));
    let stride = stride(size).expect("stride") as usize;
    let mut targets: Vec<usize> = vec![128, 256];
    for i in 0..slots as usize {
        targets.push(HEADER_SIZE + i * stride);
        targets.push(HEADER_SIZE + i * stride + 8);
    }
    for off in targets {
        let Some(w) = words.next() else { break };
        // SAFETY: every offset is an aligned u64 inside the buffer (the
        // positions at 128/256 lie in the header, the rest in slot headers).
        unsafe { base.add(off).cast::<u64>().write(w) };
    }
    let _ = SLOT_HEADER;
    let alive = |pid: u32| pid == ME || dead_mask & (1 << (pid % 8)) == 0;
    for op in 0..ops % 32 {
        match op % 3 {
            0 => {
                let _ = ring.try_put((op as usize * 7) % (size as usize + 1), ME, &alive, &mut |b| {
                    b.fill(op)
                });
            }
            1 => {
                if let Ok(Attempt::Done(n)) = ring.try_get(ME, &alive, &mut |b| b.len()) {
                    assert!(n as u64 <= size);
                }
            }
            _ => {
                let _ = ring.reclaim_dead(ME, &alive);
            }
        }
    }
    // SAFETY: allocated above with this layout; the ring is not used again.
    unsafe { std::alloc::dealloc(raw, layout) };
});
