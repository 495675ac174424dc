//! In-process loan checks shared by the loaning backends' own tests: a
//! connection opened for a given size, large loans that arrive whole (with
//! where each was written and read, for backends that can show it was read
//! in place), and a loan above the connection's maximum refused by name.

use std::thread;
use std::time::{Duration, Instant};

use transport::{Listener, Options, Receiver, SendError, Sender, Transport};

/// One side's sender and receiver.
pub type Halves<T> = (<T as Transport>::Sender, <T as Transport>::Receiver);

/// A connection of `T` in this process, opened for messages of `expected`
/// bytes: (the listener's halves, the connector's halves). The connector
/// runs on its own thread, for backends whose connect waits for accept.
pub fn connect<T: Transport>(prefix: &str, expected: usize) -> (Halves<T>, Halves<T>) {
    let mut opts = Options::unique(prefix);
    opts.expected_max_message = expected;
    let (listener, endpoint) = T::listen(&opts).expect("listen");
    let connector = thread::spawn(move || T::connect(&endpoint, &opts).expect("connect"));
    let ours = listener
        .accept(Instant::now() + Duration::from_secs(20))
        .expect("accept");
    (ours, connector.join().expect("connect thread"))
}

/// A pattern every byte of which depends on its position and `seed`.
pub fn pattern(seed: u8, i: usize) -> u8 {
    (i as u8).wrapping_mul(31) ^ (i >> 12) as u8 ^ seed
}

/// Sends `count` loans of `len` bytes, each filled with [`pattern`], and
/// checks on another thread that each arrives whole. Returns where each loan
/// was written and where each message was read (addresses).
pub fn loans_arrive_whole<T: Transport>(
    tx: &mut T::Sender,
    mut rx: T::Receiver,
    len: usize,
    count: u8,
) -> (Vec<usize>, Vec<usize>) {
    let reader = thread::spawn(move || {
        let mut at = Vec::new();
        for seed in 0..count {
            let got = rx.recv().expect("recv");
            assert_eq!(got.len(), len);
            assert!(got.iter().enumerate().all(|(i, &b)| b == pattern(seed, i)));
            at.push(got.as_ptr() as usize);
        }
        at
    });
    let mut written = Vec::new();
    for seed in 0..count {
        let mut loan = tx.loan(len).expect("loan");
        let bytes = loan.bytes_mut();
        written.push(bytes.as_ptr() as usize);
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = pattern(seed, i);
        }
        loan.publish().expect("publish");
    }
    (written, reader.join().expect("reader"))
}

/// A loan of `len` bytes is refused with `LoanTooLarge` naming `len` and `max`.
pub fn assert_loan_refused<S: Sender>(tx: &mut S, len: usize, max: usize) {
    match tx.loan(len) {
        Err(SendError::LoanTooLarge { size, max: m }) => assert_eq!((size, m), (len, max)),
        Err(e) => panic!("expected LoanTooLarge, got {e}"),
        Ok(_) => panic!("a loan of {len} bytes from a connection lending {max}"),
    }
}
