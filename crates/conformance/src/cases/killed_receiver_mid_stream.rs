//! The receiving peer is killed with SIGKILL while we stream 4 KiB messages
//! to it: `send` ends in Disconnected, `recv` too.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use transport::Transport;

use super::Ctx;
use super::fault::{expect_recv_disconnected, kill_peer_later, send_until_disconnected};
use crate::message::{cap, recv_check, send};

/// Message size of the stream.
const LEN: usize = 4096;
/// Messages delivered before the kill.
const BEFORE_KILL: u64 = 100;

pub(super) fn peer<T: Transport>(mut tx: T::Sender, mut rx: T::Receiver) {
    let len = cap::<T>(LEN);
    for seq in 0..BEFORE_KILL {
        recv_check(&mut rx, seq, len);
    }
    send(&mut tx, 0, 8);
    // Go on consuming until the test kills us.
    for seq in BEFORE_KILL.. {
        recv_check(&mut rx, seq, len);
    }
}

pub(super) fn test<T: Transport>(mut tx: T::Sender, mut rx: T::Receiver, ctx: &Ctx) {
    let len = cap::<T>(LEN);
    for seq in 0..BEFORE_KILL {
        send(&mut tx, seq, len);
    }
    recv_check(&mut rx, 0, 8);
    // Killed while it is consuming and we are sending.
    let dead = Arc::new(AtomicBool::new(false));
    let killer = kill_peer_later(ctx.peer, Duration::from_millis(20), &dead);
    send_until_disconnected(&ctx.label, &mut tx, BEFORE_KILL, len, &dead);
    killer.join().expect("killer thread");
    expect_recv_disconnected(&mut rx, "recv from a killed peer");
}
