//! Broadcast: every subscriber receives every message, whole, in order,
//! exactly once, sizes from empty to 1 MiB, and then `Disconnected` once
//! the publisher has gone; the group stays whole.

use transport::{Publisher, Receiver};

use crate::bcast::{PubCtx, Sides, SubCtx, publish, publish_end, read_all};

pub(super) const SIDES: Sides = Sides {
    subscribers: 3,
    publisher,
    subscriber,
};

/// Messages before the end.
const MESSAGES: u64 = 1_000;

/// Message `seq`'s length: small and medium ones, every 50th 100 000
/// bytes, every 100th 1 MiB (the suite's expected largest message); never
/// 8 (the end's length).
fn len(seq: u64) -> usize {
    match seq % 100 {
        99 => 1 << 20,
        49 => 100_000,
        k => [0, 1, 7, 48, 64, 65, 1000, 4096][k as usize % 8],
    }
}

fn publisher(p: &mut dyn Publisher, ctx: &PubCtx) {
    let n = ctx.pids.len();
    assert_eq!(
        p.subscribers(),
        n,
        "{}: subscribers after accept",
        ctx.label
    );
    for seq in 0..MESSAGES {
        publish(p, seq, len(seq));
    }
    publish_end(p, MESSAGES);
    assert_eq!(p.subscribers(), n, "{}: subscribers at the end", ctx.label);
    assert!(
        p.departed().is_empty(),
        "{}: nobody left, yet departed says {:?}",
        ctx.label,
        p.departed()
    );
}

fn subscriber(rx: &mut dyn Receiver, who: &SubCtx) {
    read_all(rx, who, len);
}
