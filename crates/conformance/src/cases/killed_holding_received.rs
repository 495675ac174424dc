//! The receiving peer is killed with SIGKILL while it holds a received
//! (lent) message and reads nothing more: loans to it end in Disconnected,
//! never block on the space it held, and `recv` reports Disconnected.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread;
use std::time::Duration;

use transport::{Receiver, Transport};

use super::Ctx;
use super::fault::kill_peer_later;
use super::loan::{checked_max, expect_disconnected, loan_send, loan_until_disconnected};
use crate::message::{check, send};

/// Size of the message the peer holds: large, so its slot matters.
fn held_len(max: usize) -> usize {
    max.min(1 << 20)
}

pub(super) fn peer<T: Transport>(mut tx: T::Sender, mut rx: T::Receiver) {
    checked_max::<T>(&tx);
    let held = rx.recv().expect("peer: recv of the message to hold");
    // Its length is the test side's choice, from its own maximum.
    check(0, held, held.len());
    send(&mut tx, 0, 8);
    // Holds the lent message (the next `recv` would give it back) until
    // the test kills us.
    thread::sleep(crate::WATCHDOG);
    assert!(!held.is_empty());
}

pub(super) fn test<T: Transport>(mut tx: T::Sender, mut rx: T::Receiver, ctx: &Ctx) {
    let max = checked_max::<T>(&tx);
    loan_send(&mut tx, 0, held_len(max));
    crate::message::recv_check(&mut rx, 0, 8);
    let dead = Arc::new(AtomicBool::new(false));
    let killer = kill_peer_later(ctx.peer, Duration::from_millis(100), &dead);
    let what = format!("{}: loans to a killed holder of a message", ctx.label);
    loan_until_disconnected(&what, &mut tx, held_len(max), &dead);
    killer.join().expect("killer thread");
    expect_disconnected(
        &mut rx,
        &format!("{}: recv from a killed holder", ctx.label),
    );
}
