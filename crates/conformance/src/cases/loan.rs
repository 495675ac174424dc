//! What the loan cases share: sending numbered messages through loans, the
//! sizes to loan on a connection, telling the other side this side's
//! maximum loan, and loaning until a dead peer is noticed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use transport::{Options, Receiver, RecvError, SendError, Sender, Transport};

use crate::NOTICE_DEADLINE;
use crate::message::fill;

/// Sends message `seq` of `len` bytes through a loan: filled in place,
/// then published.
pub(crate) fn loan_send(tx: &mut impl Sender, seq: u64, len: usize) {
    let mut loan = tx
        .loan(len)
        .unwrap_or_else(|e| panic!("loan #{seq} ({len} bytes): {e}"));
    assert_eq!(loan.len(), len, "loan #{seq}: size");
    assert_eq!(loan.bytes_mut().len(), len, "loan #{seq}: region size");
    fill(seq, loan.bytes_mut());
    loan.publish()
        .unwrap_or_else(|e| panic!("publish #{seq} ({len} bytes): {e}"));
}

/// Checks this side's maximum loan against the contract (a connection made
/// with the suite's options lends at least their expected message size, up
/// to the declared maximum) and returns it.
pub(crate) fn checked_max<T: Transport>(tx: &T::Sender) -> usize {
    let declared = T::capabilities().max_loan;
    let max = tx.max_loan();
    let expected = Options::unique("x").expected_max_message;
    assert!(
        max <= declared,
        "{}: this connection lends {max} bytes, more than the declared maximum of {declared}",
        T::NAME
    );
    assert!(
        max >= expected.min(declared),
        "{}: a connection opened for {expected}-byte messages lends only {max} bytes",
        T::NAME
    );
    max
}

/// Sends this side's maximum loan (so the other side knows what sizes to
/// expect) as an 8-byte message.
pub(crate) fn announce_max(tx: &mut impl Sender, max: usize) {
    tx.send(&(max as u64).to_le_bytes())
        .unwrap_or_else(|e| panic!("send of the maximum loan: {e}"));
}

/// Receives what [`announce_max`] sent.
pub(crate) fn read_max(rx: &mut impl Receiver) -> usize {
    let got = rx
        .recv()
        .unwrap_or_else(|e| panic!("recv of the maximum loan: {e}"));
    let bytes: [u8; 8] = got
        .try_into()
        .unwrap_or_else(|_| panic!("the maximum loan came as {} bytes, not 8", got.len()));
    usize::try_from(u64::from_le_bytes(bytes)).expect("a maximum loan that fits usize")
}

/// Loan sizes worth checking on a connection lending at most `max`: empty,
/// tiny, around a cache line, a page, large, and the maximum itself (up to
/// 16 MiB, which the suite's connections lend).
pub(crate) fn sizes(max: usize) -> Vec<usize> {
    let mut v: Vec<usize> = [0, 1, 7, 48, 64, 65, 4096, 100_000, 1 << 20]
        .into_iter()
        .chain([max.min(16 << 20)])
        .filter(|&n| n <= max)
        .collect();
    v.dedup();
    v
}

/// Loans messages of `len` bytes until the loan or its publication reports
/// Disconnected, which must happen within [`NOTICE_DEADLINE`] of `dead`
/// being set, and not before.
pub(crate) fn loan_until_disconnected(
    what: &str,
    tx: &mut impl Sender,
    len: usize,
    dead: &AtomicBool,
) {
    let mut dead_since: Option<Instant> = None;
    for seq in 0u64.. {
        let got = tx.loan(len).and_then(|mut loan| {
            fill(seq, loan.bytes_mut());
            loan.publish()
        });
        match got {
            Err(SendError::Disconnected) => {
                assert!(
                    dead.load(Ordering::SeqCst),
                    "{what}: a loan reported Disconnected while the peer was alive"
                );
                return;
            }
            Ok(()) => {
                if dead.load(Ordering::SeqCst) {
                    let since = *dead_since.get_or_insert_with(Instant::now);
                    assert!(
                        since.elapsed() < NOTICE_DEADLINE,
                        "{what}: loans still succeed {NOTICE_DEADLINE:?} after the peer was killed"
                    );
                }
            }
            Err(e) => panic!("{what}: loan #{seq}: expected Disconnected, got {e:?}"),
        }
    }
}

/// After the peer is gone with nothing more in flight, `recv` says so.
pub(crate) fn expect_disconnected(rx: &mut impl Receiver, what: &str) {
    match rx.recv() {
        Err(RecvError::Disconnected) => {}
        other => panic!(
            "{what}: expected Disconnected, got {:?}",
            other.map(<[u8]>::len)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_stay_within_the_maximum_and_include_it() {
        assert_eq!(sizes(0), vec![0]);
        assert_eq!(sizes(64), vec![0, 1, 7, 48, 64]);
        let big = sizes(8 << 20);
        assert_eq!(big.last(), Some(&(8 << 20)));
        assert!(big.contains(&(1 << 20)));
        assert_eq!(sizes(usize::MAX).last(), Some(&(16 << 20)));
    }
}
