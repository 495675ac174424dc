//! Broadcast: subscriber 1 reads a few messages, then drops its receiver
//! and stays alive (until the case ends). The publisher drops it from the
//! group (`departed` names it) and goes on; the other subscribers receive
//! every message, in order.

use transport::{Publisher, Receiver};

use crate::bcast::{
    PubCtx, Sides, SubCtx, assert_one_departed, publish, publish_end, read_all, read_first,
};

pub(super) const SIDES: Sides = Sides {
    subscribers: 3,
    publisher,
    subscriber,
};

/// Messages subscriber 1 reads before it leaves.
const READS: u64 = 5;
/// Messages published after the departure was noticed.
const AFTER: u64 = 200;

fn len(seq: u64) -> usize {
    (seq as usize * 251) % 20_000 + 9
}

fn publisher(p: &mut dyn Publisher, ctx: &PubCtx) {
    let mut seq = 0u64;
    while p.departed().is_empty() {
        publish(p, seq, len(seq));
        seq += 1;
    }
    // It read READS messages; at most `seq` were published.
    assert_one_departed(p, ctx, 1, READS..=seq);
    for k in seq..seq + AFTER {
        publish(p, k, len(k));
    }
    publish_end(p, seq + AFTER);
}

fn subscriber(rx: &mut dyn Receiver, who: &SubCtx) {
    if who.index != 1 {
        return read_all(rx, who, len);
    }
    read_first(rx, who, READS, len);
    // The caller drops the receiver when we return; this process lives on
    // until the case is over, so only the drop can tell the publisher.
}
