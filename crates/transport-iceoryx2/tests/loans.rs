//! Loans through iceoryx2, in one process: a connection opened for 64 MiB
//! messages lends 64 MiB samples that arrive whole; one opened for small
//! messages lends up to `MAX_MESSAGE` and refuses more, naming both sizes.

use conformance::loans::{assert_loan_refused, connect, loans_arrive_whole};
use transport::Sender;
use transport_iceoryx2::{Iceoryx2, MAX_MESSAGE};

const BIG: usize = 64 << 20;

#[test]
fn a_64_mib_loan_arrives_whole() {
    let ((mut tx, _rx), (_ptx, prx)) = connect::<Iceoryx2>("iox2-loans", BIG);
    assert!(tx.max_loan() >= BIG, "{}", tx.max_loan());
    loans_arrive_whole::<Iceoryx2>(&mut tx, prx, BIG, 2);
}

#[test]
fn small_connections_lend_up_to_the_message_maximum() {
    let ((mut tx, _rx), _peer) = connect::<Iceoryx2>("iox2-loans", 4096);
    assert_eq!(tx.max_loan(), MAX_MESSAGE);
    assert_loan_refused(&mut tx, BIG, MAX_MESSAGE);
}
