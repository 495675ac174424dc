//! How a side waits for an event: raw_sync's busy wait, bounded to a few
//! microseconds, then `sched_yield`, then sleeps that grow to a millisecond,
//! checking between polls whether the peer has gone.

use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::Acquire;
use std::thread;
use std::time::{Duration, Instant};

use transport::process::PeerProcess;

use crate::segment::Event;

/// How long raw_sync's busy wait may spin at the start of a wait: enough to
/// catch a reply from a peer on another core, short enough that a peer on
/// our own core is not kept off it for long. raw_sync's own `Infinite`
/// timeout would spin for ever, which starves a peer sharing the core.
pub const SPIN: Duration = Duration::from_micros(10);
/// `sched_yield`s after the spin: on a shared core each lets the peer run.
pub const YIELDS: u32 = 32;
/// First sleep after the yields; each next one doubles, up to [`MAX_SLEEP`].
/// Without a futex (raw_sync's busy event has none, and its blocking `Event`
/// is a process-shared pthread mutex that a killed peer can leave locked for
/// ever) a sleeping side only sees a signal when it wakes.
pub const MIN_SLEEP: Duration = Duration::from_micros(20);
/// Longest sleep: the worst added latency once a side has gone to sleep.
pub const MAX_SLEEP: Duration = Duration::from_millis(1);
/// Least time between two checks of the peer process.
pub const LIVENESS_PERIOD: Duration = Duration::from_millis(10);

/// Why a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woke {
    /// The event was set, and is now taken.
    Signaled,
    /// The peer closed its end or died, and the event is not set.
    Gone,
}

/// Waits until `ev` is set (and takes it), or until the peer has set
/// `closed` or died without setting it.
pub fn wait(ev: &Event, closed: &AtomicU32, peer: &PeerProcess) -> Woke {
    if ev.take(SPIN) {
        return Woke::Signaled;
    }
    let mut yields = 0;
    let mut sleep = MIN_SLEEP;
    let mut checked = Instant::now();
    loop {
        if yields < YIELDS {
            yields += 1;
            thread::yield_now();
        } else {
            thread::sleep(sleep);
            sleep = (sleep * 2).min(MAX_SLEEP);
        }
        if ev.take(Duration::ZERO) {
            return Woke::Signaled;
        }
        // Acquire: whatever the peer signalled before closing is visible, so
        // the last look at the event below cannot miss it.
        let mut gone = closed.load(Acquire) != 0;
        if !gone && checked.elapsed() >= LIVENESS_PERIOD {
            checked = Instant::now();
            gone = !peer.alive();
        }
        if gone {
            return if ev.take(Duration::ZERO) {
                Woke::Signaled
            } else {
                Woke::Gone
            };
        }
    }
}
