//! The protocol on heap memory: order, sizes, full/empty, hostile headers,
//! and recovery from owners that "die" (a fill or take that panics leaves its
//! claim behind, exactly like a killed process; the liveness function then
//! declares that pid dead).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;

use shm_queue::Error;
use shm_queue::ring::{Attempt, Ring, total_size};

const ME: u32 = 100;
const DEAD: u32 = 200;

/// Heap memory aligned for the queue, freed on drop.
struct Mem(Vec<u128>, usize);

impl Mem {
    fn new(len: usize) -> Self {
        Self(vec![0u128; len.div_ceil(16) + 16], len)
    }
    fn base(&mut self) -> NonNull<u8> {
        let p = self.0.as_mut_ptr().cast::<u8>();
        let pad = p.align_offset(128);
        NonNull::new(p.wrapping_add(pad)).expect("non-null")
    }
}

fn ring(mem: &mut Mem, slots: u64, size: u64) -> Ring {
    let len = mem.1;
    // SAFETY: `mem` outlives every use of the ring in these tests.
    unsafe { Ring::init(mem.base(), len, slots, size, ME) }.expect("init")
}

fn alive_all(_: u32) -> bool {
    true
}
fn dead_200(pid: u32) -> bool {
    pid != DEAD
}

fn put(r: &Ring, msg: &[u8]) -> Attempt<()> {
    r.try_put(msg.len(), ME, &alive_all, &mut |b| b.copy_from_slice(msg))
        .expect("put")
}

fn get(r: &Ring, alive: &dyn Fn(u32) -> bool) -> Attempt<Vec<u8>> {
    r.try_get(ME, alive, &mut |b| b.to_vec()).expect("get")
}

#[test]
fn fifo_sizes_full_and_empty() {
    let mut m = Mem::new(total_size(4, 100).expect("size"));
    let r = ring(&mut m, 4, 100);
    assert_eq!(get(&r, &alive_all), Attempt::Busy);
    for lap in 0..5u8 {
        for i in 0..4u8 {
            let len = [0usize, 1, 99, 100][i as usize];
            assert_eq!(put(&r, &vec![lap ^ i; len]), Attempt::Done(()));
        }
        assert_eq!(r.len(), 4);
        assert_eq!(put(&r, b"x"), Attempt::Busy, "a fifth record fits 4 slots");
        for i in 0..4u8 {
            let len = [0usize, 1, 99, 100][i as usize];
            assert_eq!(get(&r, &alive_all), Attempt::Done(vec![lap ^ i; len]));
        }
        assert_eq!(get(&r, &alive_all), Attempt::Busy);
    }
    match r.try_put(101, ME, &alive_all, &mut |_| panic!("written")) {
        Err(Error::TooLarge {
            size: 101,
            max: 100,
        }) => {}
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let msg = Error::TooLarge {
        size: 101,
        max: 100,
    }
    .to_string();
    assert!(msg.contains("101") && msg.contains("100"), "{msg}");
    assert_eq!(r.lost(), 0);
}

#[test]
fn producer_dead_mid_put_is_skipped_and_counted() {
    let mut m = Mem::new(total_size(2, 64).expect("size"));
    let r = ring(&mut m, 2, 64);
    assert_eq!(put(&r, b"first"), Attempt::Done(()));
    let died = catch_unwind(AssertUnwindSafe(|| {
        let _ = r.try_put(8, DEAD, &alive_all, &mut |_| panic!("killed mid-put"));
    }));
    assert!(died.is_err());
    // While the writer counts as alive, the record behind it waits.
    assert_eq!(get(&r, &alive_all), Attempt::Done(b"first".to_vec()));
    assert_eq!(get(&r, &alive_all), Attempt::Busy);
    assert_eq!(r.lost(), 0);
    // Once it is dead, its slot is skipped, counted, and reused.
    assert_eq!(get(&r, &dead_200), Attempt::Busy);
    assert_eq!(r.lost(), 1);
    for round in 0..3u8 {
        assert_eq!(put(&r, &[round; 3]), Attempt::Done(()));
        assert_eq!(get(&r, &dead_200), Attempt::Done(vec![round; 3]));
    }
    assert_eq!(r.lost(), 1);
}

#[test]
fn consumer_dead_mid_get_frees_its_slot_and_counts() {
    let mut m = Mem::new(total_size(2, 64).expect("size"));
    let r = ring(&mut m, 2, 64);
    assert_eq!(put(&r, b"a"), Attempt::Done(()));
    assert_eq!(put(&r, b"b"), Attempt::Done(()));
    let died = catch_unwind(AssertUnwindSafe(|| {
        let _ = r.try_get(DEAD, &alive_all, &mut |_| panic!("killed mid-get"));
    }));
    assert!(died.is_err());
    assert_eq!(get(&r, &alive_all), Attempt::Done(b"b".to_vec()));
    // The dead reader's slot blocks producers until it is reclaimed.
    assert_eq!(put(&r, b"c"), Attempt::Busy);
    assert_eq!(r.reclaim_dead(ME, &dead_200), 1);
    assert_eq!(put(&r, b"c"), Attempt::Done(()));
    assert_eq!(put(&r, b"d"), Attempt::Done(()));
    assert_eq!(get(&r, &dead_200), Attempt::Done(b"c".to_vec()));
    assert_eq!(get(&r, &dead_200), Attempt::Done(b"d".to_vec()));
    assert_eq!(r.lost(), 1);
}

#[test]
fn hostile_length_is_an_error_and_the_queue_goes_on() {
    let slots = 2;
    let len = total_size(slots, 64).expect("size");
    let mut m = Mem::new(len);
    let r = ring(&mut m, slots, 64);
    assert_eq!(put(&r, b"ok"), Attempt::Done(()));
    // The first slot's length word: header page, then the state word.
    let base = m.base();
    // SAFETY: inside the buffer; nobody else touches it now.
    unsafe { base.add(4096 + 8).cast::<u64>().write(u64::MAX) };
    match r.try_get(ME, &alive_all, &mut |b| b.len()) {
        Err(Error::Corrupt(m)) => assert!(m.contains("claims"), "{m}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert_eq!(put(&r, b"next"), Attempt::Done(()));
    assert_eq!(get(&r, &alive_all), Attempt::Done(b"next".to_vec()));
}

#[test]
fn attach_refuses_bad_headers() {
    let len = total_size(4, 64).expect("size");
    let mut m = Mem::new(len);
    let base = m.base();
    // SAFETY: `m` outlives the views.
    let zeroed = unsafe { Ring::attach(base, len) };
    assert!(zeroed.is_err(), "zeroed memory accepted");
    let _ = ring(&mut m, 4, 64);
    // SAFETY: as above.
    assert!(unsafe { Ring::attach(base, len) }.is_ok());
    // SAFETY: as above; wrong length for the header's geometry.
    assert!(unsafe { Ring::attach(base, len - 64) }.is_err());
    // Claim an absurd slot count in the header (the `slots` word).
    // SAFETY: inside the buffer.
    unsafe { base.add(8).cast::<u64>().write(u64::MAX) };
    // SAFETY: as above.
    assert!(unsafe { Ring::attach(base, len) }.is_err());
    assert!(total_size(1, 64).is_none() && total_size(2, u64::MAX).is_none());
}

#[test]
fn threads_mpmc_every_record_once() {
    use std::sync::Mutex;
    let (slots, producers, consumers, per) = (8u64, 3u64, 3usize, 3000u64);
    let mut m = Mem::new(total_size(slots, 32).expect("size"));
    let r = ring(&mut m, slots, 32);
    let seen = Mutex::new(vec![0u8; (producers * per) as usize]);
    std::thread::scope(|s| {
        for p in 0..producers {
            let r = &r;
            s.spawn(move || {
                for i in 0..per {
                    let id = p * per + i;
                    let rec: Vec<u8> = id.to_le_bytes().repeat(1 + (id % 4) as usize);
                    while put(r, &rec) == Attempt::Busy {
                        std::thread::yield_now();
                    }
                }
            });
        }
        for _ in 0..consumers {
            let (r, seen) = (&r, &seen);
            s.spawn(move || {
                let total = producers * per;
                loop {
                    let done: u64 = seen
                        .lock()
                        .expect("lock")
                        .iter()
                        .map(|&c| u64::from(c))
                        .sum();
                    if done == total {
                        return;
                    }
                    if let Attempt::Done(rec) = get(r, &alive_all) {
                        let id = u64::from_le_bytes(rec[..8].try_into().expect("8 bytes"));
                        assert_eq!(rec, id.to_le_bytes().repeat(1 + (id % 4) as usize));
                        seen.lock().expect("lock")[id as usize] += 1;
                    } else {
                        std::thread::yield_now();
                    }
                }
            });
        }
    });
    assert!(seen.into_inner().expect("lock").iter().all(|&c| c == 1));
}

#[test]
fn a_slot_state_ahead_of_the_positions_is_corrupt_not_a_hang() {
    let len = total_size(2, 64).expect("size");
    let mut m = Mem::new(len);
    let r = ring(&mut m, 2, 64);
    let base = m.base();
    // Slot 0's state word: free for lap 40, far ahead of position 0.
    // SAFETY: inside the buffer; nobody else touches it now.
    unsafe {
        base.add(4096)
            .cast::<u64>()
            .write(shm_queue::state::pack(80, 0, 0))
    };
    assert!(matches!(
        r.try_put(1, ME, &alive_all, &mut |_| {}),
        Err(Error::Corrupt(_))
    ));
    assert!(matches!(
        r.try_get(ME, &alive_all, &mut |_| ()),
        Err(Error::Corrupt(_))
    ));
}

/// What an attempt that must succeed got.
fn done<T>(attempt: Result<Attempt<T>, Error>, what: &str) -> T {
    match attempt.expect(what) {
        Attempt::Done(v) => v,
        Attempt::Busy => panic!("{what}: busy"),
    }
}

fn claim(r: &Ring, len: usize) -> shm_queue::ring::Claim {
    done(r.try_claim(len, ME, &alive_all), "claim")
}

/// Claims written in place and published arrive in order among copied
/// records; an abandoned claim is skipped by consumers, frees its slot and
/// counts no loss; consumers wait at a claim until it is settled.
#[test]
fn claims_publish_in_place_and_abandoned_ones_are_skipped() {
    let mut m = Mem::new(total_size(3, 64).expect("size"));
    let r = ring(&mut m, 3, 64);
    for lap in 0..4u8 {
        let mut c = claim(&r, 5);
        assert_eq!(c.len(), 5);
        r.claimed(&mut c).copy_from_slice(&[lap; 5]);
        // In order: a record put after an unsettled claim waits behind it.
        assert_eq!(put(&r, b"after"), Attempt::Done(()));
        assert_eq!(get(&r, &alive_all), Attempt::Busy, "read past a claim");
        r.publish(c);
        assert_eq!(get(&r, &alive_all), Attempt::Done(vec![lap; 5]));
        assert_eq!(get(&r, &alive_all), Attempt::Done(b"after".to_vec()));
        let mut dropped = claim(&r, 64);
        r.claimed(&mut dropped).fill(0xAB);
        r.abandon(dropped);
        assert_eq!(
            get(&r, &alive_all),
            Attempt::Busy,
            "an abandoned claim delivered"
        );
    }
    assert_eq!(r.lost(), 0, "abandoning is not a loss");
    // Every slot is free again: three claims fit.
    let all: Vec<_> = (0..3).map(|_| claim(&r, 1)).collect();
    assert!(matches!(
        r.try_claim(1, ME, &alive_all).expect("claim"),
        Attempt::Busy
    ));
    for c in all {
        r.abandon(c);
    }
    assert!(matches!(
        r.try_claim(65, ME, &alive_all),
        Err(Error::TooLarge { size: 65, max: 64 })
    ));
}

fn hold(r: &Ring, me: u32) -> shm_queue::ring::Held {
    done(r.try_hold(me, &alive_all), "hold")
}

/// A held record is read in place and keeps its slot from producers until
/// it is released, while later records still go to other readers in order;
/// a holder that dies is reclaimed as a loss.
#[test]
fn held_records_are_read_in_place_and_keep_their_slot_until_released() {
    let mut m = Mem::new(total_size(2, 64).expect("size"));
    let r = ring(&mut m, 2, 64);
    assert!(matches!(r.try_hold(ME, &alive_all), Ok(Attempt::Busy)));
    assert_eq!(put(&r, b"first"), Attempt::Done(()));
    assert_eq!(put(&r, b"second"), Attempt::Done(()));
    let h = hold(&r, ME);
    assert_eq!((h.len(), r.held(&h)), (5, &b"first"[..]));
    // The next record is not behind the held one.
    assert_eq!(get(&r, &alive_all), Attempt::Done(b"second".to_vec()));
    // Producers go round in order: the next position is the held slot's,
    // so the lap stops there although the second's slot is free.
    assert_eq!(put(&r, b"third"), Attempt::Busy, "wrote over a held record");
    assert_eq!(r.held(&h), b"first", "a held record changed");
    r.release(h);
    assert_eq!(put(&r, b"third"), Attempt::Done(()));
    assert_eq!(get(&r, &alive_all), Attempt::Done(b"third".to_vec()));
    // A holder that dies: its slot is freed by the reclaim and counted.
    assert_eq!(put(&r, b"lost"), Attempt::Done(()));
    // Never released: its process "dies" holding it.
    let _lost = hold(&r, DEAD);
    assert_eq!(put(&r, b"fifth"), Attempt::Done(()));
    assert_eq!(put(&r, b"sixth"), Attempt::Busy);
    assert_eq!(r.reclaim_dead(ME, &dead_200), 1);
    assert_eq!(put(&r, b"sixth"), Attempt::Done(()));
    assert_eq!(get(&r, &alive_all), Attempt::Done(b"fifth".to_vec()));
    assert_eq!(get(&r, &alive_all), Attempt::Done(b"sixth".to_vec()));
    assert_eq!(r.lost(), 1);
}
