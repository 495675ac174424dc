//! Broadcast: subscriber 0 reads a few messages and stops, so the
//! publisher soon waits on it; then it is killed with SIGKILL. Within
//! `DEPARTURE_NOTICE` of its death the publisher goes on, `departed` names
//! it (its pid, and at least the messages it read), and the other
//! subscribers receive every message, in order.

use std::thread;
use std::time::{Duration, Instant};

use transport::broadcast::DEPARTURE_NOTICE;
use transport::{Publisher, Receiver};

use crate::WATCHDOG;
use crate::bcast::{
    PubCtx, Sides, SubCtx, assert_one_departed, publish, publish_end, read_all, read_first,
};

pub(super) const SIDES: Sides = Sides {
    subscribers: 3,
    publisher,
    subscriber,
};

/// Messages subscriber 0 reads before it stops.
const READS: u64 = 10;
/// Messages published after the departure was noticed.
const AFTER: u64 = 200;

fn len(_seq: u64) -> usize {
    4096
}

fn publisher(p: &mut dyn Publisher, ctx: &PubCtx) {
    // Only a departure may end the wait, never a stall.
    p.set_stall_timeout(WATCHDOG);
    let (dead_tx, dead_rx) = std::sync::mpsc::channel();
    thread::scope(|s| {
        s.spawn(|| {
            // By then the publisher has filled the ring and waits on
            // subscriber 0.
            thread::sleep(Duration::from_millis(300));
            let _ = dead_tx.send(ctx.kill(0));
        });
        let mut seq = 0u64;
        while p.departed().is_empty() {
            publish(p, seq, len(seq));
            seq += 1;
        }
        let noticed = Instant::now();
        let dead: Instant = dead_rx.recv().expect("the killer's time of death");
        let late = noticed.saturating_duration_since(dead);
        assert!(
            late <= DEPARTURE_NOTICE,
            "{}: the killed subscriber was noticed {late:?} after its death, more than DEPARTURE_NOTICE ({DEPARTURE_NOTICE:?})",
            ctx.label
        );
        // It read READS messages; at most `seq` were published.
        assert_one_departed(p, ctx, 0, READS..=seq);
        for k in seq..seq + AFTER {
            publish(p, k, len(k));
        }
        publish_end(p, seq + AFTER);
    });
}

fn subscriber(rx: &mut dyn Receiver, who: &SubCtx) {
    if who.index != 0 {
        return read_all(rx, who, len);
    }
    read_first(rx, who, READS, len);
    // Holds the ring until the publisher's side kills us.
    thread::sleep(WATCHDOG);
}
