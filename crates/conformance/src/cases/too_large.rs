//! A message over the declared maximum is refused with TooLarge, and the
//! connection still carries a message of the maximum (the peer echoes).

use transport::{SendError, Sender, Transport};

use super::Ctx;
use crate::message::{recv_check, send};

pub(super) fn test<T: Transport>(mut tx: T::Sender, mut rx: T::Receiver, _: &Ctx) {
    let max = T::capabilities().max_message_size;
    // Only testable where max + 1 bytes is a reasonable allocation.
    if max < 64 << 20 {
        let big = vec![0u8; max + 1];
        match tx.send(&big) {
            Err(SendError::TooLarge { size, max: m }) => {
                assert_eq!((size, m), (max + 1, max));
            }
            other => panic!("expected TooLarge for {} bytes, got {other:?}", max + 1),
        }
    }
    // The connection still works after a refused send, up to the
    // maximum where that is a reasonable allocation.
    let len = max.min(64 << 20);
    send(&mut tx, 1, len);
    recv_check(&mut rx, 1, len);
}
