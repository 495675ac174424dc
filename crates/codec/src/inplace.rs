//! Payloads produced in place: the producer writes message `seq` (the `raw`
//! layout: 16-byte header, then the int64 array) straight into the memory it
//! sends from, a transport's loan or its own buffer, and the consumer checks
//! it where it lies. Neither side keeps the rotating arrays in memory (at
//! 64 MiB, [`crate::pattern::PatternSet`]'s four arrays would be 256 MiB per
//! process): only their checksums, computed once per size.
//!
//! The arrays are exactly [`crate::pattern::PatternSet`]'s, so a message
//! produced in place verifies against either.

use crate::pattern::{STEP, VARIANTS, VerifyError, checksum, salt};
use crate::{Header, RAW_HEADER_LEN};

/// A buffer of the wrong length was given to [`InPlace::fill`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a message of {expected} bytes cannot be produced into {got} bytes")]
pub struct FillError {
    /// The message's length.
    pub expected: usize,
    /// The buffer's.
    pub got: usize,
}

/// One size's messages: their length and the checksum of each variant.
#[derive(Debug, Clone)]
pub struct InPlace {
    elements: usize,
    sums: [u64; VARIANTS],
}

impl InPlace {
    /// The messages of `elements` int64 values; computes the checksums with
    /// one scratch array (built and freed here, off any clock).
    pub fn new(elements: usize) -> Self {
        let mut scratch = vec![0u8; elements * 8];
        let mut sums = [0u64; VARIANTS];
        for (v, sum) in sums.iter_mut().enumerate() {
            fill_array(&mut scratch, v as u64);
            *sum = checksum(&scratch);
        }
        Self { elements, sums }
    }

    /// Elements per array.
    pub fn elements(&self) -> usize {
        self.elements
    }

    /// Bytes of one message: the header and the array.
    pub fn message_len(&self) -> usize {
        RAW_HEADER_LEN + self.elements * 8
    }

    /// The checksum of the array message `seq` carries.
    pub fn checksum_of(&self, seq: u64) -> u64 {
        self.sums[(seq % VARIANTS as u64) as usize]
    }

    /// Produces message `seq` into `msg`: the header (with `send_ns`) and
    /// every element of its array, written in place.
    pub fn fill(&self, msg: &mut [u8], seq: u64, send_ns: u64) -> Result<(), FillError> {
        if msg.len() != self.message_len() {
            return Err(FillError {
                expected: self.message_len(),
                got: msg.len(),
            });
        }
        let (head, body) = msg.split_at_mut(RAW_HEADER_LEN);
        head[..8].copy_from_slice(&seq.to_le_bytes());
        head[8..].copy_from_slice(&send_ns.to_le_bytes());
        fill_array(body, seq % VARIANTS as u64);
        Ok(())
    }

    /// Checks a received message where it lies: its sequence number against
    /// `expected_seq`, its length, and the checksum of every array byte.
    /// Returns its header and the checksum (which the consumer hands back).
    pub fn check(&self, msg: &[u8], expected_seq: u64) -> Result<(Header, u64), VerifyError> {
        let header = header_of(msg)?;
        if header.seq != expected_seq {
            return Err(VerifyError::Sequence {
                expected: expected_seq,
                got: header.seq,
            });
        }
        let body = &msg[RAW_HEADER_LEN..];
        if body.len() != self.elements * 8 {
            return Err(VerifyError::Length {
                seq: header.seq,
                expected: self.elements,
                got: body.len() / 8,
            });
        }
        let got = checksum(body);
        let want = self.checksum_of(header.seq);
        if got != want {
            return Err(VerifyError::Checksum {
                seq: header.seq,
                expected: want,
                got,
            });
        }
        Ok((header, got))
    }
}

/// The header of a `raw` message, or why it has none.
pub fn header_of(msg: &[u8]) -> Result<Header, VerifyError> {
    let le = |at: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&msg[at..at + 8]);
        u64::from_le_bytes(a)
    };
    if msg.len() < RAW_HEADER_LEN {
        return Err(VerifyError::Truncated { got: msg.len() });
    }
    Ok(Header {
        seq: le(0),
        send_ns: le(8),
    })
}

/// Writes variant `v`'s array into `out`, little-endian, element by element
/// (a trailing partial element is left alone: callers pass whole arrays).
fn fill_array(out: &mut [u8], v: u64) {
    let salt = salt(v);
    let mut x = 0u64;
    for chunk in out.chunks_exact_mut(8) {
        chunk.copy_from_slice(&(x ^ salt).to_le_bytes());
        x = x.wrapping_add(STEP);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::PatternSet;
    use crate::{Codec, as_le_bytes};

    #[test]
    fn fills_the_pattern_sets_arrays_and_checks_them() {
        let set = PatternSet::new(37);
        let p = InPlace::new(37);
        let mut msg = vec![0u8; p.message_len()];
        for seq in [0, 1, 2, 3, 5, 1 << 63 | 2] {
            p.fill(&mut msg, seq, 99).expect("fill");
            assert_eq!(&msg[RAW_HEADER_LEN..], as_le_bytes(set.array(seq)));
            let d = Codec::Raw.decode(&msg).expect("decode");
            assert_eq!(set.verify(&d, seq), Ok(()));
            let (h, sum) = p.check(&msg, seq).expect("check");
            assert_eq!(h, Header { seq, send_ns: 99 });
            assert_eq!(sum, checksum(as_le_bytes(set.array(seq))));
        }
    }

    #[test]
    fn catches_loss_stale_data_truncation_and_a_wrong_buffer() {
        let p = InPlace::new(100);
        let mut msg = vec![0u8; p.message_len()];
        p.fill(&mut msg, 5, 0).expect("fill");
        assert!(matches!(
            p.check(&msg, 6),
            Err(VerifyError::Sequence {
                expected: 6,
                got: 5
            })
        ));
        // The previous message's array under this header: stale.
        let mut stale = vec![0u8; p.message_len()];
        p.fill(&mut stale, 4, 0).expect("fill");
        stale[..8].copy_from_slice(&5u64.to_le_bytes());
        assert!(matches!(
            p.check(&stale, 5),
            Err(VerifyError::Checksum { .. })
        ));
        assert!(matches!(
            p.check(&msg[..msg.len() - 8], 5),
            Err(VerifyError::Length { got: 99, .. })
        ));
        assert!(matches!(
            p.check(&msg[..7], 5),
            Err(VerifyError::Truncated { got: 7 })
        ));
        let e = p.fill(&mut msg[1..], 0, 0).expect_err("short buffer");
        assert_eq!(e.expected, 816);
        assert!(e.to_string().contains("816"), "{e}");
    }

    #[test]
    fn an_empty_array_is_a_bare_header() {
        let p = InPlace::new(0);
        let mut msg = [0u8; RAW_HEADER_LEN];
        p.fill(&mut msg, 3, 7).expect("fill");
        assert_eq!(p.check(&msg, 3).expect("check").0.send_ns, 7);
    }
}
