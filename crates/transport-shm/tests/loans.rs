//! Loans on the shared-memory rings, in one process: a connection opened
//! for 64 MiB messages lends 64 MiB, the message is read where it was
//! written (no copy on either side), and a connection opened for small
//! messages keeps its small rings and refuses the large loan, naming both
//! sizes, while `fill_and_send` still delivers it (chunked, copied).

use std::thread;

use conformance::loans::{assert_loan_refused, connect, loans_arrive_whole, pattern};
use transport::{Receiver, Sender, Transport};
use transport_shm::{MAX_DEFAULT_RING, ShmBlock, ShmSpin, ring_size_for};

const BIG: usize = 64 << 20;

fn big_loans<T: Transport>() {
    assert!(T::capabilities().max_loan >= BIG);
    let ((mut tx, _rx), (_ptx, prx)) = connect::<T>("shm-loans", BIG);
    assert!(tx.max_loan() >= BIG, "{} lends {}", T::NAME, tx.max_loan());
    let (written, read) = loans_arrive_whole::<T>(&mut tx, prx, BIG, 3);
    // Read where it was written: each side maps the segment at its own
    // address, so a view of the loan's memory sits at one fixed distance
    // from the loan for every message (a copy would not).
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
    let ((mut tx, _rx), (_ptx, mut prx)) = connect::<ShmBlock>("shm-loans", expected);
    let max = tx.max_loan();
    assert!(max >= expected && max < BIG, "{max}");
    assert_loan_refused(&mut tx, BIG, max);
    // The helper falls back to the caller's buffer and `send`.
    let reader = thread::spawn(move || {
        let got = prx.recv().expect("recv");
        got.len() == BIG && got.iter().enumerate().all(|(i, &b)| b == pattern(9, i))
    });
    let mut scratch = Vec::new();
    transport::fill_and_send(&mut tx, &mut scratch, BIG, |buf| {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = pattern(9, i);
        }
    })
    .expect("fill_and_send");
    assert!(reader.join().expect("reader"));
}
