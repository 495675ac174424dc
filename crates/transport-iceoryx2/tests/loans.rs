//! Loans through iceoryx2, in one process: a connection opened for 64 MiB
//! messages lends 64 MiB samples that arrive whole; one opened for small
//! messages lends up to `MAX_MESSAGE` and refuses more, naming both sizes.

use std::time::{Duration, Instant};

use transport::{Listener, Options, Receiver, SendError, Sender, Transport};
use transport_iceoryx2::{Iceoryx2, MAX_MESSAGE};

const BIG: usize = 64 << 20;

type Halves = (
    <Iceoryx2 as Transport>::Sender,
    <Iceoryx2 as Transport>::Receiver,
);

fn connect(expected: usize) -> (Halves, Halves) {
    let mut opts = Options::unique("iox2-loans");
    opts.expected_max_message = expected;
    let (listener, endpoint) = Iceoryx2::listen(&opts).expect("listen");
    let connector =
        std::thread::spawn(move || Iceoryx2::connect(&endpoint, &opts).expect("connect"));
    let ours = listener
        .accept(Instant::now() + Duration::from_secs(20))
        .expect("accept");
    (ours, connector.join().expect("connect thread"))
}

fn byte(seed: u8, i: usize) -> u8 {
    (i as u8).wrapping_mul(31) ^ (i >> 12) as u8 ^ seed
}

#[test]
fn a_64_mib_loan_arrives_whole() {
    let ((mut tx, _rx), (_ptx, mut prx)) = connect(BIG);
    assert!(tx.max_loan() >= BIG, "{}", tx.max_loan());
    let reader = std::thread::spawn(move || {
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
fn small_connections_lend_up_to_the_message_maximum() {
    let ((mut tx, _rx), _peer) = connect(4096);
    assert_eq!(tx.max_loan(), MAX_MESSAGE);
    match tx.loan(BIG) {
        Err(SendError::LoanTooLarge { size, max }) => assert_eq!((size, max), (BIG, MAX_MESSAGE)),
        Err(e) => panic!("expected LoanTooLarge, got {e}"),
        Ok(_) => panic!("a 64 MiB loan from a connection sized for 4 KiB"),
    }
}
