//! Loans on the shared-memory rings, in one process: a connection opened
//! for 64 MiB messages lends 64 MiB, the message is read where it was
//! written (no copy on either side), and a connection opened for small
//! messages keeps its small rings and refuses the large loan, naming both
//! sizes, while `fill_and_send` still delivers it (chunked, copied).

use std::thread;
use std::time::{Duration, Instant};

use transport::{Listener, Options, Receiver, SendError, Sender, Transport};
use transport_shm::{MAX_DEFAULT_RING, ShmBlock, ShmSpin, ring_size_for};

const BIG: usize = 64 << 20;

/// One side's sender and receiver.
type Halves<T> = (<T as Transport>::Sender, <T as Transport>::Receiver);

fn connect<T: Transport>(expected: usize) -> (Halves<T>, Halves<T>) {
    let mut opts = Options::unique("shm-loans");
    opts.expected_max_message = expected;
    let (listener, endpoint) = T::listen(&opts).expect("listen");
    let peer = T::connect(&endpoint, &opts).expect("connect");
    let ours = listener
        .accept(Instant::now() + Duration::from_secs(10))
        .expect("accept");
    (ours, peer)
}

/// A pattern every byte of which depends on its position and `seed`.
fn byte(seed: u8, i: usize) -> u8 {
    (i as u8).wrapping_mul(31) ^ (i >> 12) as u8 ^ seed
}

fn big_loans<T: Transport>() {
    assert!(T::capabilities().max_loan >= BIG);
    let ((mut tx, _rx), (_ptx, mut prx)) = connect::<T>(BIG);
    assert!(tx.max_loan() >= BIG, "{} lends {}", T::NAME, tx.max_loan());
    let reader = thread::spawn(move || {
        let mut at = Vec::new();
        for seed in 0..3u8 {
            let got = prx.recv().expect("recv");
            assert_eq!(got.len(), BIG);
            assert!(got.iter().enumerate().all(|(i, &b)| b == byte(seed, i)));
            at.push(got.as_ptr() as usize);
        }
        at
    });
    let mut written = Vec::new();
    for seed in 0..3u8 {
        let mut loan = tx.loan(BIG).expect("64 MiB loan");
        let bytes = loan.bytes_mut();
        written.push(bytes.as_ptr() as usize);
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = byte(seed, i);
        }
        loan.publish().expect("publish");
    }
    // Read where it was written: each side maps the segment at its own
    // address, so a view of the loan's memory sits at one fixed distance
    // from the loan for every message (a copy would not).
    let read = reader.join().expect("reader");
    let delta: Vec<usize> = read
        .iter()
        .zip(&written)
        .map(|(r, w)| r.wrapping_sub(*w))
        .collect();
    assert!(delta.iter().all(|&d| d == delta[0]), "{delta:?}");
    assert_ne!(written[0], written[1], "messages go to different places");
}

#[test]
fn a_64_mib_loan_is_read_in_place_spin() {
    big_loans::<ShmSpin>();
}

#[test]
fn a_64_mib_loan_is_read_in_place_block() {
    big_loans::<ShmBlock>();
}

#[test]
fn small_connections_keep_small_rings_and_refuse_large_loans() {
    let expected = 409_600 + 64;
    assert!(ring_size_for(expected) <= MAX_DEFAULT_RING);
    let ((mut tx, _rx), (_ptx, mut prx)) = connect::<ShmBlock>(expected);
    let max = tx.max_loan();
    assert!(max >= expected && max < BIG, "{max}");
    match tx.loan(BIG) {
        Err(SendError::LoanTooLarge { size, max: m }) => assert_eq!((size, m), (BIG, max)),
        Err(e) => panic!("expected LoanTooLarge, got {e}"),
        Ok(_) => panic!("a 64 MiB loan from a small ring"),
    }
    // The helper falls back to the caller's buffer and `send`.
    let reader = thread::spawn(move || {
        let got = prx.recv().expect("recv");
        got.len() == BIG && got.iter().enumerate().all(|(i, &b)| b == byte(9, i))
    });
    let mut scratch = Vec::new();
    transport::fill_and_send(&mut tx, &mut scratch, BIG, |buf| {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = byte(9, i);
        }
    })
    .expect("fill_and_send");
    assert!(reader.join().expect("reader"));
}
