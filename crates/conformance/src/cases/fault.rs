//! What the cases that end a connection expect of the survivor: `send`
//! ends in Disconnected within [`NOTICE_DEADLINE`] of the peer's death and
//! not before, `recv` reports Disconnected; and the thread that kills the
//! peer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use transport::{Receiver, RecvError, SendError, Sender};

use crate::NOTICE_DEADLINE;
use crate::message::message;
use crate::process;

/// Sends numbered messages until `send` reports Disconnected, which it must
/// do at the latest [`NOTICE_DEADLINE`] after `dead` (the kill was sent) is
/// set, and not before.
pub(super) fn send_until_disconnected(
    what: &str,
    tx: &mut impl Sender,
    mut seq: u64,
    len: usize,
    dead: &AtomicBool,
) {
    let mut dead_since: Option<Instant> = None;
    let mut accepted = 0u64;
    loop {
        let msg = message(seq, len);
        match tx.send(&msg) {
            Err(SendError::Disconnected) => {
                assert!(
                    dead.load(Ordering::SeqCst),
                    "send reported Disconnected while the peer was alive"
                );
                // The fault matrix in docs/reliability.md records this.
                eprintln!(
                    "conformance: {what}: {accepted} send(s) of {len} bytes accepted after the kill, then Disconnected"
                );
                return;
            }
            Ok(()) => {
                if dead.load(Ordering::SeqCst) {
                    accepted += 1;
                    let since = *dead_since.get_or_insert_with(Instant::now);
                    assert!(
                        since.elapsed() < NOTICE_DEADLINE,
                        "send still succeeds {NOTICE_DEADLINE:?} after the receiver was killed"
                    );
                }
            }
            Err(e) => panic!("send #{seq} to a killed receiver: expected Disconnected, got {e:?}"),
        }
        seq += 1;
    }
}

/// After the other side left on its own (exited or dropped its halves):
/// 4 KiB sends may still be accepted for up to 10 s (kernel buffers), then
/// `send` reports Disconnected; any other error fails.
pub(super) fn send_until_gone(tx: &mut impl Sender, seq: u64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let msg = message(seq, 4096);
    loop {
        match tx.send(&msg) {
            Err(SendError::Disconnected) => return,
            Ok(()) if Instant::now() < deadline => {}
            other => panic!("{what}: expected Disconnected, got {other:?}"),
        }
    }
}

/// With the other side gone and nothing more in flight: `recv` reports
/// Disconnected.
pub(super) fn expect_recv_disconnected(rx: &mut impl Receiver, what: &str) {
    match rx.recv() {
        Err(RecvError::Disconnected) => {}
        other => panic!(
            "{what}: expected Disconnected, got {:?}",
            other.map(<[u8]>::len)
        ),
    }
}

/// Kills the peer from another thread after `delay`, setting `dead` just
/// before the signal goes out.
pub(super) fn kill_peer_later(
    peer: u32,
    delay: Duration,
    dead: &Arc<AtomicBool>,
) -> thread::JoinHandle<()> {
    let dead = Arc::clone(dead);
    thread::spawn(move || {
        thread::sleep(delay);
        dead.store(true, Ordering::SeqCst);
        process::kill_peer(peer);
    })
}
