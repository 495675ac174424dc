//! 10 000 small messages from the peer, none lost.

use transport::Transport;

use super::Ctx;
use crate::message::{echo_until_disconnect, recv_check, send};

const COUNT: u64 = 10_000;

pub(super) fn peer<T: Transport>(mut tx: T::Sender, mut rx: T::Receiver) {
    for seq in 0..COUNT {
        send(&mut tx, seq, 16);
    }
    echo_until_disconnect(&mut tx, &mut rx);
}

pub(super) fn test<T: Transport>(_tx: T::Sender, mut rx: T::Receiver, _: &Ctx) {
    for seq in 0..COUNT {
        recv_check(&mut rx, seq, 16);
    }
}
