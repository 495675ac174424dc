//! Back-to-back messages of growing sizes, around page and buffer edges,
//! keep their boundaries.

use transport::Transport;

use super::Ctx;
use crate::message::{cap, echo_until_disconnect, recv_check, send};

const SIZES: [usize; 12] = [1, 2, 3, 7, 8, 9, 100, 4095, 4096, 4097, 65_537, 200_000];

pub(super) fn peer<T: Transport>(mut tx: T::Sender, mut rx: T::Receiver) {
    for (seq, &len) in SIZES.iter().enumerate() {
        send(&mut tx, seq as u64, cap::<T>(len));
    }
    echo_until_disconnect(&mut tx, &mut rx);
}

pub(super) fn test<T: Transport>(_tx: T::Sender, mut rx: T::Receiver, _: &Ctx) {
    for (seq, &len) in SIZES.iter().enumerate() {
        recv_check(&mut rx, seq as u64, cap::<T>(len));
    }
}
