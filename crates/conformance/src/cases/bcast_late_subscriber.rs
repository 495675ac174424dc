//! Broadcast: the group is fixed at accept. A subscriber that comes after
//! `accept` returned (and after messages went out) is refused: its
//! `subscribe` gives an error, or its `recv` reads `Disconnected` before
//! any message. The group's subscribers and messages are unaffected.

use transport::{Publisher, Receiver};

use crate::bcast::{PubCtx, Sides, SubCtx, publish, publish_end, read_all};

pub(super) const SIDES: Sides = Sides {
    subscribers: 2,
    publisher,
    subscriber,
};

/// Messages before and after the late subscriber tries.
const HALF: u64 = 100;

fn len(seq: u64) -> usize {
    (seq as usize * 37) % 3000 + 9
}

fn publisher(p: &mut dyn Publisher, ctx: &PubCtx) {
    for seq in 0..HALF {
        publish(p, seq, len(seq));
    }
    let said = ctx.late();
    assert!(
        said.starts_with("refused") || said == "subscribed",
        "{}: the late subscriber said {said:?}",
        ctx.label
    );
    eprintln!("conformance: {}: late subscriber: {said}", ctx.label);
    for seq in HALF..2 * HALF {
        publish(p, seq, len(seq));
    }
    publish_end(p, 2 * HALF);
    assert_eq!(
        p.subscribers(),
        ctx.pids.len(),
        "{}: subscribers",
        ctx.label
    );
    assert!(
        p.departed().is_empty(),
        "{}: departed {:?}",
        ctx.label,
        p.departed()
    );
}

fn subscriber(rx: &mut dyn Receiver, who: &SubCtx) {
    read_all(rx, who, len);
}
