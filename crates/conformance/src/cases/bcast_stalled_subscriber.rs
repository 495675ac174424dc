//! Broadcast: subscriber 1 is alive but never reads. Once its room is used
//! up the publisher waits, and after its stall timeout the backend does
//! exactly what its `Capabilities::broadcast_stall` declares:
//!
//! - `Nobody`: `publish` fails with `Stalled` naming that subscriber, which
//!   stays in the group; the message it refused reached nobody: once the
//!   silent subscriber is killed, publishing it again delivers it to the
//!   reader exactly once, in order.
//! - `CutOff`: that `publish` succeeds, the silent subscriber is departed
//!   (named, after exactly the messages before the stalled one) and the
//!   reader receives every message exactly once, in order; killing the
//!   cut-off subscriber later reports nothing more.

use std::thread;
use std::time::{Duration, Instant};

use transport::broadcast::DEPARTURE_NOTICE;
use transport::{BroadcastStall, PublishError, Publisher, Receiver};

use crate::WATCHDOG;
use crate::bcast::{PubCtx, Sides, SubCtx, assert_one_departed, publish_end, read_all};
use crate::message::message;

pub(super) const SIDES: Sides = Sides {
    subscribers: 2,
    publisher,
    subscriber,
};

/// A stall timeout short enough for a quick test.
const STALL: Duration = Duration::from_millis(500);
/// Messages published after the stalled one went through.
const AFTER: u64 = 100;

fn len(_seq: u64) -> usize {
    4096
}

/// The publisher side, for the behaviour the backend declares.
fn publisher(p: &mut dyn Publisher, ctx: &PubCtx) {
    match ctx.stall {
        BroadcastStall::Nobody => publisher_nobody(p, ctx),
        BroadcastStall::CutOff => publisher_cut_off(p, ctx),
    }
}

/// `CutOff`: every publish succeeds; the one that waited out the stall
/// timeout cut the silent subscriber off.
fn publisher_cut_off(p: &mut dyn Publisher, ctx: &PubCtx) {
    p.set_stall_timeout(STALL);
    let mut seq = 0u64;
    let took = loop {
        let m = message(seq, len(seq));
        let start = Instant::now();
        p.publish(&m).unwrap_or_else(|e| {
            panic!(
                "{}: the backend declares BroadcastStall::CutOff, yet publish #{seq} failed: {e}",
                ctx.label
            )
        });
        let took = start.elapsed();
        seq += 1;
        if !p.departed().is_empty() {
            break took;
        }
        assert!(
            took < STALL,
            "{}: publish #{} took {took:?}, past the stall timeout of {STALL:?}, and cut nobody off",
            ctx.label,
            seq - 1
        );
    };
    let stalled_at = seq - 1;
    assert!(
        took >= STALL,
        "{}: subscriber cut off after {took:?}, before the timeout of {STALL:?}",
        ctx.label
    );
    assert!(
        took <= STALL + DEPARTURE_NOTICE,
        "{}: publish took {took:?} to cut off a subscriber stalled for {STALL:?}",
        ctx.label
    );
    // Cut off at the stalled message: after exactly the ones before it.
    let gone = assert_one_departed(p, ctx, 1, stalled_at..=stalled_at);
    // The cut-off subscriber's death is no news.
    ctx.kill(1);
    p.set_stall_timeout(WATCHDOG);
    for k in seq..seq + AFTER {
        p.publish(&message(k, len(k)))
            .unwrap_or_else(|e| panic!("{}: publish #{k} after the cut-off: {e}", ctx.label));
    }
    publish_end(p, seq + AFTER);
    assert_eq!(
        p.departed(),
        &gone[..],
        "{}: departed after the cut-off subscriber's death",
        ctx.label
    );
}

/// `Nobody`: the stalled publish fails and reached nobody.
fn publisher_nobody(p: &mut dyn Publisher, ctx: &PubCtx) {
    p.set_stall_timeout(STALL);
    let mut seq = 0u64;
    let (err, took) = loop {
        let m = message(seq, len(seq));
        let start = Instant::now();
        match p.publish(&m) {
            Ok(()) => seq += 1,
            Err(e) => break (e, start.elapsed()),
        }
    };
    let PublishError::Stalled {
        subscriber,
        pid,
        waited,
    } = err
    else {
        panic!(
            "{}: expected Stalled after {seq} messages, got {err:?}",
            ctx.label
        );
    };
    if let Some(pid) = pid {
        assert_eq!(
            pid, ctx.pids[1],
            "{}: Stalled names subscriber {subscriber} (pid {pid}), not the silent one",
            ctx.label
        );
    }
    assert!(
        waited >= STALL,
        "{}: Stalled after {waited:?}, before the timeout of {STALL:?}",
        ctx.label
    );
    // The backend watches its subscribers at least every DEPARTURE_NOTICE
    // while it waits, so the stall is reported that soon after the timeout.
    assert!(
        took <= STALL + DEPARTURE_NOTICE,
        "{}: publish took {took:?} to report a stall of {STALL:?}",
        ctx.label
    );
    assert_eq!(
        p.subscribers(),
        2,
        "{}: a stalled subscriber is not departed",
        ctx.label
    );
    assert!(
        p.departed().is_empty(),
        "{}: departed {:?}",
        ctx.label,
        p.departed()
    );
    // Without the silent subscriber, the refused message goes through.
    ctx.kill(1);
    p.set_stall_timeout(WATCHDOG);
    for k in seq..seq + AFTER {
        p.publish(&message(k, len(k)))
            .unwrap_or_else(|e| panic!("{}: publish #{k} after the kill: {e}", ctx.label));
    }
    publish_end(p, seq + AFTER);
    assert_eq!(
        p.departed().len(),
        1,
        "{}: departed {:?}",
        ctx.label,
        p.departed()
    );
}

fn subscriber(rx: &mut dyn Receiver, who: &SubCtx) {
    if who.index == 0 {
        return read_all(rx, who, len);
    }
    // Never reads: killed by the publisher's side.
    thread::sleep(WATCHDOG);
}
