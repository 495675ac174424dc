//! Broadcast: subscriber 1 reads a few messages, then drops its receiver
//! and stays alive (until the case ends). The publisher drops it from the
//! group (`departed` names it) and goes on; the other subscribers receive
//! every message, in order.

use transport::{Publisher, Receiver};

use crate::bcast::{PubCtx, Sides, SubCtx, publish, publish_end, read_all};

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
    let n = ctx.pids.len();
    let mut seq = 0u64;
    while p.departed().is_empty() {
        publish(p, seq, len(seq));
        seq += 1;
    }
    let gone = p.departed().to_vec();
    assert_eq!(gone.len(), 1, "{}: departed {gone:?}", ctx.label);
    if let Some(pid) = gone[0].pid {
        assert_eq!(
            pid, ctx.pids[1],
            "{}: departed names {}",
            ctx.label, gone[0]
        );
    }
    assert!(
        gone[0].after_messages >= READS,
        "{}: {} left after {} messages, but it read {READS}",
        ctx.label,
        gone[0],
        gone[0].after_messages
    );
    assert_eq!(p.subscribers(), n - 1, "{}: subscribers", ctx.label);
    for k in seq..seq + AFTER {
        publish(p, k, len(k));
    }
    publish_end(p, seq + AFTER);
}

fn subscriber(rx: &mut dyn Receiver, who: &SubCtx) {
    if who.index != 1 {
        return read_all(rx, who, len);
    }
    for seq in 0..READS {
        let m = rx
            .recv()
            .unwrap_or_else(|e| panic!("subscriber 1: recv #{seq}: {e}"));
        crate::message::check(seq, m, len(seq));
    }
    // The caller drops the receiver when we return; this process lives on
    // until the case is over, so only the drop can tell the publisher.
}
