//! Broadcast: subscriber 1 is alive but never reads. Once the ring is full
//! the publisher waits, and after its stall timeout `publish` fails with
//! `Stalled` naming that subscriber; the message it refused reached
//! nobody: once the silent subscriber is killed, publishing it again
//! delivers it to the reader exactly once, in order.

use std::thread;
use std::time::{Duration, Instant};

use transport::broadcast::DEPARTURE_NOTICE;
use transport::{PublishError, Publisher, Receiver};

use crate::WATCHDOG;
use crate::bcast::{PubCtx, Sides, SubCtx, publish_end, read_all};
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

fn publisher(p: &mut dyn Publisher, ctx: &PubCtx) {
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
