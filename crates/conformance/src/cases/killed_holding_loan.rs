//! The sending peer is killed with SIGKILL while it holds a loan it has
//! half written: nothing of it arrives, `recv` reports Disconnected, and
//! loans and sends to the dead peer end in Disconnected.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread;
use std::time::Duration;

use transport::{Sender, Transport};

use super::Ctx;
use super::fault::{kill_peer_later, send_until_disconnected};
use super::loan::{
    announce_max, checked_max, expect_disconnected, loan_send, loan_until_disconnected, read_max,
};
use crate::message::{fill, recv_check};

pub(super) fn peer<T: Transport>(mut tx: T::Sender, _rx: T::Receiver) {
    let max = checked_max::<T>(&tx);
    announce_max(&mut tx, max);
    let len = max.min(1 << 20);
    loan_send(&mut tx, 0, len);
    let mut loan = tx.loan(len).expect("loan to hold");
    let bytes = loan.bytes_mut();
    let half = bytes.len() / 2;
    fill(1, &mut bytes[..half]);
    // Held until the test kills us.
    thread::sleep(crate::WATCHDOG);
    drop(loan);
}

pub(super) fn test<T: Transport>(mut tx: T::Sender, mut rx: T::Receiver, ctx: &Ctx) {
    let len = read_max(&mut rx).min(1 << 20);
    recv_check(&mut rx, 0, len);
    let dead = Arc::new(AtomicBool::new(false));
    // Time for the peer to open and half-fill its loan.
    let killer = kill_peer_later(ctx.peer, Duration::from_millis(300), &dead);
    killer.join().expect("killer thread");
    expect_disconnected(&mut rx, &format!("{}: a killed loan holder", ctx.label));
    let what = format!("{}: loans to a killed loan holder", ctx.label);
    loan_until_disconnected(&what, &mut tx, 4096, &dead);
    send_until_disconnected(&ctx.label, &mut tx, 0, 4096, &dead);
}
