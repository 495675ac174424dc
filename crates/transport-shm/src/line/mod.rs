//! `shm-line`: the shm backend with both directions' small messages in one
//! cache line. A request/response connection whose messages fit a slot
//! (24 bytes: the harness's header and 8 bytes) then moves one line per hop,
//! written by each side in turn: the one-line shape of the floor probes,
//! instead of a record line per direction. Larger messages, and small ones
//! whose previous line message the peer has not yet acknowledged (a one-way
//! stream), go through the same rings as `shm-spin`, so a stream pays one
//! extra load per message of a line nobody writes. Busy-polls like
//! `shm-spin`: a core per side. See [`slot`] for the line's protocol and
//! docs/shm.md, "shm-line", for why.

mod receiver;
mod sender;
pub mod slot;

use std::os::fd::OwnedFd;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use transport::{Capabilities, Endpoint, OpenError, Options, WaitStrategy};

pub use receiver::ShmLineReceiver;
pub use sender::ShmLineSender;

use crate::channel::Link;
use crate::ring::{Consumer, Producer};
use crate::segment::{self, Created};
use crate::wait::{LIVENESS_PERIOD, Peer};
use crate::{MAX_MESSAGE, ring_size_for};
use slot::{LineMem, LineRx, LineTx};

/// The segment's variant tag for `shm-line` (the wait modes use 1 to 3), so
/// a connector of another variant is refused.
const VARIANT: u32 = 4;

/// What both halves of one side share.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The mapping and the peer.
    link: Link,
    /// Line messages of the peer our receiver has taken (mod 4096), for
    /// our sender to acknowledge; written by the receiver with Release.
    line_taken: AtomicU64,
}

/// Whether a liveness check of the peer is due, at most every
/// [`LIVENESS_PERIOD`]; the first call only starts the clock, so a short
/// wait costs no system call.
fn check_due(last: &mut Option<Instant>) -> bool {
    let now = Instant::now();
    match *last {
        Some(t) if now.duration_since(t) < LIVENESS_PERIOD => false,
        _ => last.replace(now).is_some(),
    }
}

/// Splits a connected segment into this side's halves.
fn halves(link: Link) -> (ShmLineSender, ShmLineReceiver) {
    let side = link.side;
    // SAFETY: the line lives in the segment's header page, which the
    // `Shared` (kept alive by both halves) maps until both are dropped; each
    // side's half of the line is written only by that side's sender.
    let line = unsafe { LineMem::new(NonNull::from(&link.seg.header().line.0)) };
    let tx_ring = link.seg.ring(side);
    let rx_ring = link.seg.ring(side ^ 1);
    let shared = Arc::new(Shared {
        link,
        line_taken: AtomicU64::new(0),
    });
    (
        ShmLineSender::new(
            Producer::new(tx_ring),
            LineTx::new(line, side),
            Arc::clone(&shared),
        ),
        ShmLineReceiver::new(
            Consumer::new(rx_ring, MAX_MESSAGE),
            LineRx::new(line, side),
            shared,
        ),
    )
}

/// `shm-line`.
#[derive(Debug)]
pub struct ShmLine;

/// The listening side: the segment, waiting for its connector.
#[derive(Debug)]
pub struct ShmLineListener {
    /// `None` once `accept` has taken it.
    created: Option<Created>,
}

impl transport::Listener for ShmLineListener {
    type Sender = ShmLineSender;
    type Receiver = ShmLineReceiver;

    fn accept(mut self, deadline: Instant) -> Result<(ShmLineSender, ShmLineReceiver), OpenError> {
        let Some(created) = self.created.take() else {
            return Err(OpenError::Backend("listener already accepted".into()));
        };
        if let Err(e) = created.seg.wait_connected(deadline) {
            // Dropping `self` with the segment back in place tells a late
            // connector that nobody will ever read.
            self.created = Some(created);
            return Err(e);
        }
        // If the connector has already exited, `pidfd` fails and `Peer`
        // falls back to `kill(pid, 0)`, which reports it gone.
        let peer = Peer::open_or_pid(created.seg.connector_pid());
        let Created { seg, fd, .. } = created;
        drop::<OwnedFd>(fd);
        Ok(halves(Link {
            seg,
            peer,
            side: 0,
            checks_tail: true,
            subscriber: None,
        }))
    }
}

impl Drop for ShmLineListener {
    fn drop(&mut self) {
        if let Some(created) = self.created.take() {
            // Close the listener's ends so a connector does not wait for a
            // side that will never exist (it spins, so no wake-up is due).
            Producer::new(created.seg.ring(0)).close();
            Consumer::new(created.seg.ring(1), 0).close();
        }
    }
}

impl transport::Transport for ShmLine {
    const NAME: &'static str = "shm-line";
    const BACKEND: &'static str = "shm";
    const DESCRIPTION: &'static str = "shared-memory SPSC rings (sealed memfd), busy-polling, with small messages of both directions in one shared cache line; needs a core per side";
    type Sender = ShmLineSender;
    type Receiver = ShmLineReceiver;
    type Listener = ShmLineListener;

    fn listen(opts: &Options) -> Result<(ShmLineListener, Endpoint), OpenError> {
        segment::reclaim_stale();
        let created =
            segment::create(&opts.tag, ring_size_for(opts.expected_max_message), VARIANT)?;
        let endpoint = Endpoint(created.endpoint.clone());
        Ok((
            ShmLineListener {
                created: Some(created),
            },
            endpoint,
        ))
    }

    fn connect(
        endpoint: &Endpoint,
        _opts: &Options,
    ) -> Result<(ShmLineSender, ShmLineReceiver), OpenError> {
        let opened = segment::open(endpoint, VARIANT)?;
        Ok(halves(Link {
            seg: opened.seg,
            peer: opened.peer,
            side: 1,
            checks_tail: true,
            subscriber: None,
        }))
    }

    fn capabilities() -> Capabilities {
        Capabilities {
            max_message_size: MAX_MESSAGE,
            // Messages above a line slot are lent from the ring; those in
            // a slot (24 bytes at most) are copied out of the line.
            zero_copy_recv: true,
            wait: WaitStrategy::Spin,
            ..Capabilities::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_liveness_check_waits_its_period() {
        let mut last = None;
        assert!(!check_due(&mut last), "the first call starts the clock");
        assert!(!check_due(&mut last));
        last = Some(Instant::now() - LIVENESS_PERIOD);
        assert!(check_due(&mut last));
        assert!(!check_due(&mut last));
    }
}
