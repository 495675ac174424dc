//! Loans through the `shm-queue` transport, in one process: a connection
//! opened for 64 MiB messages gets slots that large and lends 64 MiB, which
//! arrives whole; one opened for small messages keeps 16 MiB slots and
//! refuses the large loan, naming both sizes.

use conformance::loans::{assert_loan_refused, connect, loans_arrive_whole};
use shm_queue::{MAX_LOAN, MAX_MESSAGE, ShmQueue, slot_size_for};
use transport::Sender;

const BIG: usize = 64 << 20;

#[test]
fn slots_follow_the_expected_size() {
    assert_eq!(slot_size_for(0), MAX_MESSAGE);
    assert_eq!(slot_size_for(409_600), MAX_MESSAGE);
    assert_eq!(slot_size_for(BIG), BIG);
    assert_eq!(slot_size_for(usize::MAX), MAX_LOAN);
}

#[test]
fn a_64_mib_loan_arrives_whole() {
    let ((mut tx, _rx), (_ptx, prx)) = connect::<ShmQueue>("q-loans", BIG);
    assert_eq!(tx.max_loan(), BIG);
    loans_arrive_whole::<ShmQueue>(&mut tx, prx, BIG, 2);
}

#[test]
fn small_connections_refuse_large_loans() {
    let ((mut tx, _rx), _peer) = connect::<ShmQueue>("q-loans", 4096);
    assert_eq!(tx.max_loan(), MAX_MESSAGE);
    assert_loan_refused(&mut tx, BIG, MAX_MESSAGE);
}
