//! Empty and 1-byte messages there and back (the peer echoes).

use transport::Transport;

use super::Ctx;
use crate::message::{recv_check, send};

pub(super) fn test<T: Transport>(mut tx: T::Sender, mut rx: T::Receiver, _: &Ctx) {
    for (seq, len) in [0usize, 1, 0, 1, 0].into_iter().enumerate() {
        send(&mut tx, seq as u64, len);
        recv_check(&mut rx, seq as u64, len);
    }
}
