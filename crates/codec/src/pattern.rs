//! Deterministic payloads that differ from message to message, and their check.
//!
//! The producer sends one of [`VARIANTS`] pre-built arrays, chosen by sequence
//! number, so consecutive messages always differ (a transport that re-delivers
//! a stale buffer is caught) while generating the data stays off the clock.
//! The consumer checks sequence number, length and an xxh3 checksum of every
//! byte against the variant the sequence number implies.

use xxhash_rust::xxh3::xxh3_64;

use crate::{Decoded, as_le_bytes};

/// Number of distinct arrays in rotation.
pub const VARIANTS: usize = 4;

/// What went wrong with a received message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The sequence number is not the next one expected.
    #[error("expected message #{expected}, got #{got} ({})", seq_hint(*expected, *got))]
    Sequence {
        /// The next sequence number expected.
        expected: u64,
        /// The one that arrived.
        got: u64,
    },
    /// Wrong number of elements.
    #[error("message #{seq}: expected {expected} int64 elements, got {got}")]
    Length {
        /// Sequence number of the message.
        seq: u64,
        /// Elements expected.
        expected: usize,
        /// Elements received.
        got: usize,
    },
    /// Same length, different bytes.
    #[error("message #{seq}: contents corrupted (checksum {got:#018x}, expected {expected:#018x})")]
    Checksum {
        /// Sequence number of the message.
        seq: u64,
        /// Checksum expected.
        expected: u64,
        /// Checksum of what arrived.
        got: u64,
    },
}

fn seq_hint(expected: u64, got: u64) -> &'static str {
    if got < expected {
        "duplicate or reordered"
    } else {
        "lost or reordered"
    }
}

/// The rotating arrays for one size, with their checksums.
#[derive(Debug, Clone)]
pub struct PatternSet {
    arrays: Vec<Vec<i64>>,
    sums: Vec<u64>,
}

impl PatternSet {
    /// Builds the arrays for `elements` int64 values each.
    pub fn new(elements: usize) -> Self {
        let arrays: Vec<Vec<i64>> = (0..VARIANTS as u64)
            .map(|v| {
                let salt = (v + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93);
                (0..elements as u64)
                    .map(|j| (j.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt) as i64)
                    .collect()
            })
            .collect();
        let sums = arrays.iter().map(|a| checksum(as_le_bytes(a))).collect();
        Self { arrays, sums }
    }

    /// Number of elements per array.
    pub fn elements(&self) -> usize {
        self.arrays.first().map_or(0, Vec::len)
    }

    /// The array message `seq` carries.
    pub fn array(&self, seq: u64) -> &[i64] {
        &self.arrays[(seq % VARIANTS as u64) as usize]
    }

    /// Checks a decoded message against what message `expected_seq` must be.
    pub fn verify(&self, decoded: &Decoded<'_>, expected_seq: u64) -> Result<(), VerifyError> {
        self.verify_parts(decoded.header.seq, &decoded.data, expected_seq)
    }

    /// As [`PatternSet::verify`], for a sequence number and array already in hand.
    pub fn verify_parts(
        &self,
        seq: u64,
        data: &[i64],
        expected_seq: u64,
    ) -> Result<(), VerifyError> {
        if seq != expected_seq {
            return Err(VerifyError::Sequence {
                expected: expected_seq,
                got: seq,
            });
        }
        let expected = self.elements();
        if data.len() != expected {
            return Err(VerifyError::Length {
                seq,
                expected,
                got: data.len(),
            });
        }
        let want = self.sums[(seq % VARIANTS as u64) as usize];
        let got = checksum(as_le_bytes(data));
        if got != want {
            return Err(VerifyError::Checksum {
                seq,
                expected: want,
                got,
            });
        }
        Ok(())
    }
}

/// The checksum used for verification: xxh3, fast enough to touch every byte
/// of every message (it runs off the clock either way).
pub fn checksum(bytes: &[u8]) -> u64 {
    xxh3_64(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Codec, Header};

    fn decoded_of(set: &PatternSet, seq: u64) -> Vec<u8> {
        let mut buf = Vec::new();
        Codec::Raw
            .encode(Header { seq, send_ns: 0 }, set.array(seq), &mut buf)
            .expect("encode");
        buf
    }

    #[test]
    fn consecutive_messages_differ() {
        let set = PatternSet::new(16);
        assert_ne!(set.array(0), set.array(1));
        assert_eq!(set.array(0), set.array(VARIANTS as u64));
    }

    #[test]
    fn detects_loss_duplicate_length_and_corruption() {
        let set = PatternSet::new(100);
        let good = decoded_of(&set, 5);
        let d = Codec::Raw.decode(&good).expect("decode");
        assert_eq!(set.verify(&d, 5), Ok(()));
        assert!(matches!(
            set.verify(&d, 4),
            Err(VerifyError::Sequence { .. })
        ));
        assert!(matches!(
            set.verify(&d, 6),
            Err(VerifyError::Sequence { .. })
        ));

        let mut bad = good.clone();
        bad[100] ^= 1;
        let d = Codec::Raw.decode(&bad).expect("decode");
        assert!(matches!(
            set.verify(&d, 5),
            Err(VerifyError::Checksum { .. })
        ));

        let short = &good[..good.len() - 8];
        let d = Codec::Raw.decode(short).expect("decode");
        assert!(matches!(set.verify(&d, 5), Err(VerifyError::Length { .. })));

        // A stale copy of the previous message under a new header is caught.
        let prev = decoded_of(&set, 4);
        let mut stale = good.clone();
        stale[16..].copy_from_slice(&prev[16..]);
        let d = Codec::Raw.decode(&stale).expect("decode");
        assert!(matches!(
            set.verify(&d, 5),
            Err(VerifyError::Checksum { .. })
        ));
    }

    #[test]
    fn empty_arrays_verify() {
        let set = PatternSet::new(0);
        let buf = decoded_of(&set, 3);
        let d = Codec::Raw.decode(&buf).expect("decode");
        assert_eq!(set.verify(&d, 3), Ok(()));
    }
}
