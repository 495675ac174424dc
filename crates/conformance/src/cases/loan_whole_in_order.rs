//! Loaned messages arrive whole, in order, exactly once, mixed with copied
//! ones: the peer loans numbered messages of every size up to its maximum,
//! then echoes the test side's loaned messages back through
//! `transport::fill_and_send`.

use transport::{Receiver, RecvError, Transport};

use super::Ctx;
use super::loan::{announce_max, checked_max, loan_send, read_max, sizes};
use crate::message::{check, recv_check, send};

/// Small loaned messages after the sized ones: several laps of a ring.
const MANY: u64 = 3000;

pub(super) fn peer<T: Transport>(mut tx: T::Sender, mut rx: T::Receiver) {
    let max = checked_max::<T>(&tx);
    announce_max(&mut tx, max);
    let mut seq = 0;
    for _ in 0..2 {
        for len in sizes(max) {
            loan_send(&mut tx, seq, len);
            send(&mut tx, seq + 1, len);
            seq += 2;
        }
    }
    for _ in 0..MANY {
        loan_send(&mut tx, seq, 64);
        seq += 1;
    }
    // Echo, loaning where the size allows.
    let mut scratch = Vec::new();
    loop {
        let msg = match rx.recv() {
            Ok(m) => m,
            Err(RecvError::Disconnected) => return,
            Err(e) => panic!("peer recv: {e}"),
        };
        transport::fill_and_send(&mut tx, &mut scratch, msg.len(), |b| b.copy_from_slice(msg))
            .unwrap_or_else(|e| panic!("echo of {} bytes: {e}", msg.len()));
    }
}

pub(super) fn test<T: Transport>(mut tx: T::Sender, mut rx: T::Receiver, _: &Ctx) {
    let peer_max = read_max(&mut rx);
    let mut seq = 0;
    for _ in 0..2 {
        for len in sizes(peer_max) {
            recv_check(&mut rx, seq, len);
            recv_check(&mut rx, seq + 1, len);
            seq += 2;
        }
    }
    for _ in 0..MANY {
        recv_check(&mut rx, seq, 64);
        seq += 1;
    }
    let max = checked_max::<T>(&tx);
    for (seq, len) in (0..).zip(sizes(max).into_iter().cycle().take(40)) {
        loan_send(&mut tx, seq, len);
        let got = rx
            .recv()
            .unwrap_or_else(|e| panic!("echo #{seq} ({len} bytes): {e}"));
        check(seq, got, len);
    }
}
