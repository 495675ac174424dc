//! A loan dropped without publishing sends nothing: the peer opens and
//! drops loans (written to, of every size up to its maximum, more of the
//! largest than the transport could hold at once) between loaned
//! messages; exactly the published messages arrive, and nothing after
//! them.

use transport::{Sender, Transport};

use super::Ctx;
use super::loan::{announce_max, checked_max, expect_disconnected, loan_send, read_max, sizes};
use crate::message::recv_check;

/// Largest loans opened and dropped in a row: more than any ring or pool
/// holds at once, so a dropped loan that kept its space would block.
const DROPPED_MAX: usize = 20;
/// Size of those loans at most (a backend without a ring may lend any
/// size; this is already more than the suite's connections hold at once).
const LARGEST: usize = 16 << 20;

fn size(sizes: &[usize], seq: u64) -> usize {
    sizes[seq as usize % sizes.len()]
}

pub(super) fn peer<T: Transport>(mut tx: T::Sender, _rx: T::Receiver) {
    let max = checked_max::<T>(&tx);
    announce_max(&mut tx, max);
    let sizes = sizes(max);
    for seq in 0..200u64 {
        if seq % 2 == 0 {
            // Written to, then dropped.
            let len = size(&sizes, seq + 1);
            let mut loan = tx.loan(len).expect("loan to drop");
            loan.bytes_mut()
                .iter_mut()
                .take(4096)
                .for_each(|b| *b = 0xAB);
            drop(loan);
        }
        if seq == 100 {
            for _ in 0..DROPPED_MAX {
                let mut loan = tx.loan(max.min(LARGEST)).expect("largest loan to drop");
                if let Some(last) = loan.bytes_mut().last_mut() {
                    *last = 0xAB;
                }
            }
        }
        loan_send(&mut tx, seq, size(&sizes, seq));
    }
    // A dropped loan last: nothing may follow the final message.
    drop(tx.loan(size(&sizes, 3)).expect("last loan to drop"));
}

pub(super) fn test<T: Transport>(_tx: T::Sender, mut rx: T::Receiver, ctx: &Ctx) {
    let sizes = sizes(read_max(&mut rx));
    for seq in 0..200u64 {
        recv_check(&mut rx, seq, size(&sizes, seq));
    }
    expect_disconnected(&mut rx, &format!("{}: after the last message", ctx.label));
}
