//! The test side sends one message and drops its halves: the peer receives
//! it, then sees Disconnected on recv and on send.

use transport::Transport;

use super::Ctx;
use super::fault::{expect_recv_disconnected, send_until_gone};
use crate::message::{recv_check, send};

pub(super) fn peer<T: Transport>(mut tx: T::Sender, mut rx: T::Receiver) {
    recv_check(&mut rx, 0, 10);
    expect_recv_disconnected(&mut rx, "after the listener dropped");
    send_until_gone(&mut tx, 1, "send to a gone listener");
}

pub(super) fn test<T: Transport>(mut tx: T::Sender, rx: T::Receiver, _: &Ctx) {
    send(&mut tx, 0, 10);
    drop(tx);
    drop(rx);
}
