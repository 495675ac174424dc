//! A loan above the connection's maximum is refused with `LoanTooLarge`,
//! naming both sizes, before anything is reserved or written: the
//! connection then carries loaned messages as before and nothing else.

use transport::{Receiver, SendError, Sender, Transport};

use super::Ctx;
use super::loan::{checked_max, expect_disconnected, loan_send};
use crate::message::recv_check;

/// Refuses loans just above the maximum and far above it.
fn refuse<T: Transport>(tx: &mut T::Sender) -> usize {
    let max = checked_max::<T>(tx);
    for size in [max + 1, max.saturating_mul(2), usize::MAX] {
        match tx.loan(size) {
            Err(SendError::LoanTooLarge { size: s, max: m }) => {
                assert_eq!((s, m), (size, max), "LoanTooLarge names both sizes");
                let text = SendError::LoanTooLarge { size: s, max: m }.to_string();
                assert!(text.contains(&size.to_string()) && text.contains(&max.to_string()));
            }
            Err(e) => {
                panic!("loan of {size} bytes (maximum {max}): expected LoanTooLarge, got {e}")
            }
            Ok(loan) => panic!(
                "loan of {size} bytes above the maximum of {max} was granted ({} bytes)",
                loan.len()
            ),
        }
    }
    max
}

pub(super) fn peer<T: Transport>(mut tx: T::Sender, _rx: T::Receiver) {
    let max = refuse::<T>(&mut tx);
    loan_send(&mut tx, 0, 16);
    loan_send(&mut tx, 1, max.min(1 << 20));
    tx.send(&(max as u64).to_le_bytes()).expect("send");
}

pub(super) fn test<T: Transport>(mut tx: T::Sender, mut rx: T::Receiver, ctx: &Ctx) {
    refuse::<T>(&mut tx);
    recv_check(&mut rx, 0, 16);
    // The peer's maximum is only known at the end: check the large
    // message's length against it afterwards.
    let got = rx.recv().expect("recv #1").to_vec();
    let peer_max = super::loan::read_max(&mut rx);
    crate::message::check(1, &got, peer_max.min(1 << 20));
    expect_disconnected(&mut rx, &format!("{}: after the refused loans", ctx.label));
}
