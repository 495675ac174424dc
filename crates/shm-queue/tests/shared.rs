//! The shared-receivers contract on `shm-queue`: one listener, several
//! connectors, each message received by exactly one connector, replies
//! merged, and the listener's peer gone only when every connector is.
//! Connectors are threads: registration and delivery are per handle, the
//! same as across processes.

use std::collections::BTreeSet;
use std::thread;
use std::time::{Duration, Instant};

use shm_queue::ShmQueue;
use transport::{Listener, Options, Receiver, RecvError, Sender, Transport};

const DEADLINE: Duration = Duration::from_secs(10);

#[test]
fn every_message_reaches_exactly_one_connector() {
    const N: usize = 3;
    const MESSAGES: u32 = 600;
    assert!(ShmQueue::capabilities().shared_receivers >= N);
    let opts = Options::unique("shared");
    let (listener, ep) = ShmQueue::listen_shared(&opts, N).expect("listen_shared");
    let workers: Vec<_> = (0..N)
        .map(|_| {
            let (ep, opts) = (ep.clone(), opts.clone());
            thread::spawn(move || {
                let (mut tx, mut rx) = ShmQueue::connect(&ep, &opts).expect("connect");
                let mut got = Vec::new();
                loop {
                    match rx.recv() {
                        Ok(m) => {
                            let m = m.to_vec();
                            got.push(u32::from_le_bytes(m[..4].try_into().expect("4 bytes")));
                            tx.send(&m).expect("reply");
                        }
                        Err(RecvError::Disconnected) => return got,
                        Err(e) => panic!("worker recv: {e}"),
                    }
                }
            })
        })
        .collect();
    let (mut tx, mut rx) = listener
        .accept(Instant::now() + DEADLINE)
        .expect("accept waits for every connector");
    // Sent from a thread of its own: both queues are bounded, and replies
    // must be drained while tasks are still going out.
    let sending = thread::spawn(move || {
        for i in 0..MESSAGES {
            tx.send(&i.to_le_bytes()).expect("send");
        }
        tx
    });
    let mut replies = BTreeSet::new();
    for _ in 0..MESSAGES {
        let m = rx.recv().expect("reply");
        assert!(replies.insert(u32::from_le_bytes(m.try_into().expect("4 bytes"))));
    }
    drop((sending.join().expect("sender thread"), rx));
    let mut seen = BTreeSet::new();
    for w in workers {
        let got = w.join().expect("worker thread");
        // Each connector sees the listener's order among its own messages.
        assert!(got.windows(2).all(|p| p[0] < p[1]), "{got:?}");
        for i in got {
            assert!(seen.insert(i), "message {i} delivered twice");
        }
    }
    let all: BTreeSet<u32> = (0..MESSAGES).collect();
    assert_eq!(seen, all, "every message delivered once");
    assert_eq!(replies, all, "every reply merged");
}

#[test]
fn extra_connectors_are_refused_and_the_group_ends_with_its_last_member() {
    let opts = Options::unique("shared-gone");
    let (listener, ep) = ShmQueue::listen_shared(&opts, 2).expect("listen_shared");
    let a = ShmQueue::connect(&ep, &opts).expect("connect a");
    let mut b = ShmQueue::connect(&ep, &opts).expect("connect b");
    let e = ShmQueue::connect(&ep, &opts).expect_err("one connector too many");
    assert!(
        e.to_string().contains("already has its 2 connectors"),
        "{e}"
    );
    let (_tx, mut rx) = listener.accept(Instant::now() + DEADLINE).expect("accept");
    drop(a);
    b.0.send(b"still here").expect("b sends");
    assert_eq!(rx.recv().expect("b's message"), b"still here");
    drop(b);
    assert!(matches!(rx.recv(), Err(RecvError::Disconnected)));
}

#[test]
fn bad_connector_counts_are_refused() {
    for n in [0, shm_queue::MAX_SHARED + 1] {
        let e = ShmQueue::listen_shared(&Options::unique("shared-bad"), n).expect_err("refused");
        assert!(e.to_string().contains("1..=16"), "{e}");
    }
}
