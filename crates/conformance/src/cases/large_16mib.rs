//! A 16 MiB message (or the backend's maximum) there and back (the peer
//! echoes).

use transport::Transport;

use super::Ctx;
use crate::message::{cap, recv_check, send};

pub(super) fn test<T: Transport>(mut tx: T::Sender, mut rx: T::Receiver, _: &Ctx) {
    let len = cap::<T>(16 << 20);
    send(&mut tx, 7, len);
    recv_check(&mut rx, 7, len);
}
