//! The peer process sends three messages and exits without a goodbye: recv
//! drains them, then reports Disconnected; send reports Disconnected.

use transport::Transport;

use super::Ctx;
use super::fault::{expect_recv_disconnected, send_until_gone};
use crate::message::{recv_check, send};

pub(super) fn peer<T: Transport>(mut tx: T::Sender, _rx: T::Receiver) {
    for seq in 0..3 {
        send(&mut tx, seq, 100);
    }
    // Leave without any goodbye: the listener must notice on its own.
    std::process::exit(0);
}

pub(super) fn test<T: Transport>(mut tx: T::Sender, mut rx: T::Receiver, _: &Ctx) {
    for seq in 0..3 {
        recv_check(&mut rx, seq, 100);
    }
    expect_recv_disconnected(&mut rx, "after the peer exited");
    send_until_gone(&mut tx, 9, "send to an exited peer");
}
