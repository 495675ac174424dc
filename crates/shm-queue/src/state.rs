//! The per-slot state word: who may touch a slot, in which lap, and whether
//! its owner is mid-operation — all in one `u64` so every transition is a
//! single compare-and-swap that names its owner.
//!
//! ```text
//! bits 63..32  seq   lap tag, compared with a position by wrapping 32-bit difference
//! bits 31..30  kind  IDLE, WRITING, READING or LOST
//! bits 29..0   pid   owner of a WRITING/READING claim (0 otherwise)
//! ```
//!
//! For a slot at queue position `p` (slot `p % n`), the states of one lap are
//!
//! | state | seq | kind | meaning |
//! |---|---|---|---|
//! | free | `p` | IDLE | a producer at `p` may claim it |
//! | writing | `p` | WRITING | producer `pid` is filling it |
//! | full | `p+1` | IDLE | a consumer at `p` may claim it |
//! | lost | `p+1` | LOST | its producer died mid-write; consumers skip it |
//! | reading | `p+1` | READING | consumer `pid` is copying it out |
//! | free (next lap) | `p+n` | IDLE | |

/// Neither claimed nor lost: free or full, depending on `seq`.
pub const IDLE: u32 = 0;
/// Claimed by a producer that has not published yet.
pub const WRITING: u32 = 1;
/// Claimed by a consumer that has not released it yet.
pub const READING: u32 = 2;
/// Published empty because its producer died mid-write.
pub const LOST: u32 = 3;

/// Largest pid a state word can name. Linux's `pid_max` is at most 2^22.
pub const PID_MASK: u32 = (1 << 30) - 1;

/// Packs a state word.
#[inline]
pub const fn pack(seq: u32, kind: u32, pid: u32) -> u64 {
    ((seq as u64) << 32) | (((kind & 3) as u64) << 30) | (pid & PID_MASK) as u64
}

/// Unpacks a state word into `(seq, kind, pid)`.
#[inline]
pub const fn unpack(word: u64) -> (u32, u32, u32) {
    (
        (word >> 32) as u32,
        ((word >> 30) & 3) as u32,
        (word as u32) & PID_MASK,
    )
}

/// `seq - pos` as a signed lap distance (positions are compared modulo 2^32,
/// which is exact while fewer than 2^31 positions separate them).
#[inline]
pub const fn dist(seq: u32, pos: u64) -> i32 {
    seq.wrapping_sub(pos as u32) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trips_and_masks() {
        for (s, k, p) in [
            (0, IDLE, 0),
            (u32::MAX, LOST, PID_MASK),
            (7, READING, 4_194_304),
        ] {
            assert_eq!(unpack(pack(s, k, p)), (s, k, p));
        }
        assert_eq!(unpack(pack(1, 7, u32::MAX)), (1, 3, PID_MASK));
    }

    #[test]
    fn distance_wraps() {
        assert_eq!(dist(5, 4), 1);
        assert_eq!(dist(3, 4), -1);
        assert_eq!(dist(0, u64::from(u32::MAX)), 1);
        assert_eq!(dist(1, (1u64 << 32) + 1), 0);
    }
}
