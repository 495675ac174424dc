//! The receiving peer stops reading, we block in a 16 MiB send, and the peer
//! is killed: the blocked `send` returns Disconnected.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread;
use std::time::Duration;

use transport::Transport;

use super::Ctx;
use super::fault::{expect_recv_disconnected, kill_peer_later, send_until_disconnected};
use crate::WATCHDOG;
use crate::message::{cap, recv_check, send};

pub(super) fn peer<T: Transport>(mut tx: T::Sender, mut rx: T::Receiver) {
    recv_check(&mut rx, 0, cap::<T>(16 << 20));
    send(&mut tx, 0, 8);
    // Stop reading, so the next large send blocks; then be killed.
    thread::sleep(WATCHDOG);
}

pub(super) fn test<T: Transport>(mut tx: T::Sender, mut rx: T::Receiver, ctx: &Ctx) {
    let len = cap::<T>(16 << 20);
    send(&mut tx, 0, len);
    recv_check(&mut rx, 0, 8);
    // The peer no longer reads: the next send fills the buffers and
    // blocks, and the kill lands while it is blocked (if the delay
    // was too short, it lands between sends: the check still holds).
    let dead = Arc::new(AtomicBool::new(false));
    let killer = kill_peer_later(ctx.peer, Duration::from_millis(300), &dead);
    send_until_disconnected(&ctx.label, &mut tx, 1, len, &dead);
    killer.join().expect("killer thread");
    expect_recv_disconnected(&mut rx, "recv from a killed peer");
}
