//! 1 000 numbered messages arrive in order, from the peer; then 1 000 round
//! trips the other way.

use transport::Transport;

use super::Ctx;
use crate::message::{echo_until_disconnect, recv_check, send};

pub(super) fn peer<T: Transport>(mut tx: T::Sender, mut rx: T::Receiver) {
    for seq in 0..1000 {
        send(&mut tx, seq, 64);
    }
    echo_until_disconnect(&mut tx, &mut rx);
}

pub(super) fn test<T: Transport>(mut tx: T::Sender, mut rx: T::Receiver, _: &Ctx) {
    for seq in 0..1000 {
        recv_check(&mut rx, seq, 64);
    }
    for seq in 0..1000 {
        send(&mut tx, seq, 32);
        recv_check(&mut rx, seq, 32);
    }
}
