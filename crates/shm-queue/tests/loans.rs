//! Loans through the `shm-queue` transport, in one process: a connection
//! opened for 64 MiB messages gets slots that large and lends 64 MiB, which
//! arrives whole; one opened for small messages keeps 16 MiB slots and
//! refuses the large loan, naming both sizes.

use std::thread;
use std::time::{Duration, Instant};

use shm_queue::{MAX_LOAN, MAX_MESSAGE, ShmQueue, slot_size_for};
use transport::{Listener, Options, Receiver, SendError, Sender, Transport};

const BIG: usize = 64 << 20;

type Halves = (
    <ShmQueue as Transport>::Sender,
    <ShmQueue as Transport>::Receiver,
);

fn connect(expected: usize) -> (Halves, Halves) {
    let mut opts = Options::unique("q-loans");
    opts.expected_max_message = expected;
    let (listener, endpoint) = ShmQueue::listen(&opts).expect("listen");
    let peer = ShmQueue::connect(&endpoint, &opts).expect("connect");
    let ours = listener
        .accept(Instant::now() + Duration::from_secs(10))
        .expect("accept");
    (ours, peer)
}

fn byte(seed: u8, i: usize) -> u8 {
    (i as u8).wrapping_mul(31) ^ (i >> 12) as u8 ^ seed
}

#[test]
fn slots_follow_the_expected_size() {
    assert_eq!(slot_size_for(0), MAX_MESSAGE);
    assert_eq!(slot_size_for(409_600), MAX_MESSAGE);
    assert_eq!(slot_size_for(BIG), BIG);
    assert_eq!(slot_size_for(usize::MAX), MAX_LOAN);
}

#[test]
fn a_64_mib_loan_arrives_whole() {
    let ((mut tx, _rx), (_ptx, mut prx)) = connect(BIG);
    assert_eq!(tx.max_loan(), BIG);
    let reader = thread::spawn(move || {
        for seed in 0..2u8 {
            let got = prx.recv().expect("recv");
            assert_eq!(got.len(), BIG);
            assert!(got.iter().enumerate().all(|(i, &b)| b == byte(seed, i)));
        }
    });
    for seed in 0..2u8 {
        let mut loan = tx.loan(BIG).expect("64 MiB loan");
        for (i, b) in loan.bytes_mut().iter_mut().enumerate() {
            *b = byte(seed, i);
        }
        loan.publish().expect("publish");
    }
    reader.join().expect("reader");
}

#[test]
fn small_connections_refuse_large_loans() {
    let ((mut tx, _rx), _peer) = connect(4096);
    assert_eq!(tx.max_loan(), MAX_MESSAGE);
    match tx.loan(BIG) {
        Err(SendError::LoanTooLarge { size, max }) => assert_eq!((size, max), (BIG, MAX_MESSAGE)),
        Err(e) => panic!("expected LoanTooLarge, got {e}"),
        Ok(_) => panic!("a 64 MiB loan from 16 MiB slots"),
    }
}
