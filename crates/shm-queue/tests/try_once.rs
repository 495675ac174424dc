//! `Queue::try_put_with` / `try_get_with`: one attempt that never waits,
//! for callers (the Python binding, holding the GIL) that wait elsewhere.

use std::time::{Duration, Instant};

use shm_queue::{Error, Queue};

#[test]
fn try_once_fills_takes_and_reports_busy_without_waiting() {
    let q = Queue::create_unique(2, 64).expect("create");
    let t0 = Instant::now();
    assert_eq!(
        q.try_get_with(|_| panic!("nothing to take"))
            .expect("empty"),
        None
    );
    assert!(
        q.try_put_with(3, |b| b.copy_from_slice(b"abc"))
            .expect("put")
    );
    assert!(q.try_put_with(1, |b| b[0] = b'd').expect("put"));
    // Full: `fill` is not called, nothing is written.
    assert!(!q.try_put_with(1, |_| panic!("no slot")).expect("full"));
    assert_eq!(q.len(), 2);
    assert!(t0.elapsed() < Duration::from_secs(1), "never waits");
    assert_eq!(
        q.try_get_with(<[u8]>::to_vec).expect("get"),
        Some(b"abc".to_vec())
    );
    assert_eq!(q.get(Some(Duration::ZERO)).expect("get"), b"d");
    assert_eq!(q.try_get_with(<[u8]>::len).expect("empty"), None);
}

#[test]
fn try_put_refuses_a_record_that_can_never_fit() {
    let q = Queue::create_unique(2, 64).expect("create");
    match q.try_put_with(q.max_record() + 1, |_| panic!("written")) {
        Err(Error::TooLarge { size, max }) => {
            assert_eq!((size, max), (q.max_record() + 1, q.max_record()));
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert_eq!(q.len(), 0);
}
