//! The messages every case sends: numbered, each byte depending on the
//! number and the length, so loss, reorder, truncation and stale data all
//! show; and the send/receive/echo steps the cases are built from.

use transport::{Receiver, RecvError, Sender, Transport};

/// Message `seq` of `len` bytes: every byte depends on both, so loss, reorder,
/// truncation and stale data all show.
pub fn message(seq: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    fill(seq, &mut v);
    v
}

/// Writes message `seq` of `buf.len()` bytes into `buf` (where a loan is).
pub(crate) fn fill(seq: u64, buf: &mut [u8]) {
    let mut x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ buf.len() as u64;
    for chunk in buf.chunks_mut(8) {
        x = splitmix(x);
        let bytes = x.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

/// Asserts that `got` is message `seq` of `want_len` bytes.
pub(crate) fn check(seq: u64, got: &[u8], want_len: usize) {
    assert_eq!(got.len(), want_len, "message #{seq}: length");
    let want = message(seq, want_len);
    assert!(
        got == want.as_slice(),
        "message #{seq} of {want_len} bytes: contents differ"
    );
}

pub(crate) fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// `len`, or the backend's maximum message size if that is smaller.
pub(crate) fn cap<T: Transport>(len: usize) -> usize {
    len.min(T::capabilities().max_message_size)
}

pub(crate) fn recv_check(rx: &mut impl Receiver, seq: u64, len: usize) {
    let got = rx.recv().unwrap_or_else(|e| panic!("recv #{seq}: {e}"));
    check(seq, got, len);
}

pub(crate) fn send(tx: &mut impl Sender, seq: u64, len: usize) {
    tx.send(&message(seq, len))
        .unwrap_or_else(|e| panic!("send #{seq} ({len} bytes): {e}"));
}

/// Echoes every message back until the listener disconnects.
pub(crate) fn echo_until_disconnect(tx: &mut impl Sender, rx: &mut impl Receiver) {
    loop {
        match rx.recv() {
            Ok(m) => tx.send(m).expect("echo send"),
            Err(RecvError::Disconnected) => return,
            Err(e) => panic!("peer recv: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_depend_on_sequence_and_length() {
        assert_ne!(message(1, 64), message(2, 64));
        assert_ne!(&message(1, 64)[..32], &message(1, 32)[..]);
        assert!(message(5, 0).is_empty());
    }
}
