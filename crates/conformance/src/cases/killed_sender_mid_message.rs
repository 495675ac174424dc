//! The sending peer is killed in the middle of a 16 MiB message: `recv`
//! hands out only whole, correct messages, then Disconnected or Corrupt.

use std::sync::atomic::AtomicBool;
use std::thread;
use std::time::Duration;

use transport::{Receiver, RecvError, Transport};

use super::Ctx;
use super::fault::send_until_disconnected;
use crate::message::{cap, check, recv_check, send};
use crate::process;

pub(super) fn peer<T: Transport>(mut tx: T::Sender, _rx: T::Receiver) {
    send(&mut tx, 0, 8);
    let len = cap::<T>(16 << 20);
    // Blocks inside one of these once the buffers are full, which is
    // where the test kills us.
    for seq in 1.. {
        send(&mut tx, seq, len);
    }
}

pub(super) fn test<T: Transport>(mut tx: T::Sender, mut rx: T::Receiver, ctx: &Ctx) {
    recv_check(&mut rx, 0, 8);
    // The peer is now filling the buffers with 16 MiB messages and
    // blocks inside one; kill it there.
    thread::sleep(Duration::from_millis(300));
    process::kill_peer(ctx.peer);
    let len = cap::<T>(16 << 20);
    for seq in 1.. {
        match rx.recv() {
            // Whatever arrives whole must be exactly what was sent.
            Ok(got) => check(seq, got, len),
            Err(e @ (RecvError::Disconnected | RecvError::Corrupt(_))) => {
                // The fault matrix in docs/reliability.md records this.
                eprintln!(
                    "conformance: {}: {} whole message(s), then {e}",
                    ctx.label,
                    seq - 1
                );
                break;
            }
            Err(e) => panic!(
                "recv from a sender killed mid-message: expected Disconnected or Corrupt, got {e:?}"
            ),
        }
    }
    let dead = AtomicBool::new(true);
    send_until_disconnected(&ctx.label, &mut tx, 0, 4096, &dead);
}
