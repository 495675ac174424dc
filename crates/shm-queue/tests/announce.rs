//! Announced records, end to end: a consumer asleep on an empty queue is
//! woken by an announcement, and gets the record when it is published,
//! whether it polled for it or (its core wanted by another task) went back
//! to sleep. What the poll does is tested beside it (`queue.rs`).

use std::time::{Duration, Instant};

use shm_queue::Queue;
use shm_queue::soon::{ANNOUNCE_MIN, poll_until};

/// Waits up to 10 s for `cond`, sampling every millisecond.
fn eventually(what: &str, cond: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_sleeping_consumer_gets_an_announced_record() {
    let q = Queue::create_unique(4, 64).expect("queue");
    std::thread::scope(|s| {
        let consumer = s.spawn(|| q.get(Some(Duration::from_secs(30))));
        eventually("the consumer sleeps", || q.sleeping_consumers() == 1);
        q.announce(64 << 20);
        std::thread::sleep(Duration::from_millis(20));
        q.put(b"the record", None).expect("put");
        let got = consumer.join().expect("consumer thread");
        assert_eq!(got.expect("the record").as_slice(), b"the record");
    });
}

#[test]
fn only_a_large_record_is_announced_and_only_for_its_hint() {
    let q = Queue::create_unique(4, 64).expect("queue");
    q.announce(ANNOUNCE_MIN - 1);
    assert_eq!(poll_until(q.announced_until(), None), None, "too small");
    let before = Instant::now();
    q.announce(4 << 20);
    let until = poll_until(q.announced_until(), None).expect("announced");
    // 4 MiB at a nanosecond a byte.
    let hint = Duration::from_nanos(4 << 20);
    assert!(
        until > before && until <= Instant::now() + hint,
        "{:?}",
        until - before
    );
    // A later, shorter announcement does not cut an earlier one short.
    q.announce(ANNOUNCE_MIN);
    let still = poll_until(q.announced_until(), None).expect("still announced");
    assert!(still + Duration::from_micros(100) >= until);
}
