//! The words of the block table: a block's state word (generation, kind,
//! pinned bit, owner pid, packed in 64 bits so one compare-and-swap moves
//! it), the reference a ring record carries to its block, and the sizes
//! blocks are made in.

/// The kinds of a block's state (what each means: `pool`'s module doc).
pub const EMPTY: u64 = 0;
pub const CREATING: u64 = 1;
pub const FREE: u64 = 2;
pub const WRITING: u64 = 3;
pub const INFLIGHT: u64 = 4;
pub const HELD: u64 = 5;
pub const DONE: u64 = 6;
/// The bit of a block still viewed by the loan it was put from.
pub const PINNED: u64 = 1 << 36;
pub const GEN_MASK: u32 = (1 << 27) - 1;

/// A state word of `kind`, owned by `pid` (0: nobody).
pub fn pack(generation: u32, kind: u64, pinned: bool, pid: u32) -> u64 {
    (u64::from(generation & GEN_MASK) << 37)
        | if pinned { PINNED } else { 0 }
        | (kind << 32)
        | u64::from(pid)
}
pub fn kind(s: u64) -> u64 {
    (s >> 32) & 0xF
}
pub fn generation(s: u64) -> u32 {
    (s >> 37) as u32
}
pub fn pinned(s: u64) -> bool {
    s & PINNED != 0
}
pub fn pid(s: u64) -> u32 {
    s as u32
}

/// What a ring record says about its out-of-line payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ref {
    pub idx: u32,
    pub generation: u32,
    pub len: u64,
}

impl Ref {
    /// Bytes of a reference in a record.
    pub const BYTES: usize = 16;

    pub fn write(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.idx.to_le_bytes());
        out[4..8].copy_from_slice(&self.generation.to_le_bytes());
        out[8..16].copy_from_slice(&self.len.to_le_bytes());
    }

    pub fn read(b: &[u8]) -> Option<Self> {
        let b: &[u8; 16] = b.try_into().ok()?;
        let [i0, i1, i2, i3, g0, g1, g2, g3, l @ ..] = *b;
        Some(Self {
            idx: u32::from_le_bytes([i0, i1, i2, i3]),
            generation: u32::from_le_bytes([g0, g1, g2, g3]),
            len: u64::from_le_bytes(l),
        })
    }
}

/// Size a block for `need` bytes is made with: whole pages, and four sizes
/// per power of two, so blocks are reused across slightly different sizes
/// and waste at most a quarter.
pub fn class_size(need: usize) -> Option<usize> {
    const PAGE: usize = 4096;
    let n = need.max(PAGE);
    let p = n.checked_next_power_of_two()?;
    if p <= 4 * PAGE {
        return Some(p);
    }
    let (half, step) = (p / 2, p / 8);
    Some(half + (n - half).div_ceil(step) * step)
}

#[cfg(test)]
mod tests {
    use super::{class_size, generation, kind, pack, pid, pinned};

    #[test]
    fn sizes_are_pages_and_quarter_steps() {
        assert_eq!(class_size(1), Some(4096));
        assert_eq!(class_size(5000), Some(8192));
        assert_eq!(class_size(64 << 20), Some(64 << 20));
        assert_eq!(class_size((64 << 20) + 1), Some(80 << 20));
        assert_eq!(class_size(4 << 20), Some(4 << 20));
        assert_eq!(class_size(3_276_800), Some(3_670_016));
        assert_eq!(class_size(usize::MAX), None);
    }

    #[test]
    fn states_pack_and_unpack() {
        let s = pack(0x7FF_FFFF, 5, true, 4_194_304);
        assert_eq!(
            (generation(s), kind(s), pinned(s), pid(s)),
            (0x7FF_FFFF, 5, true, 4_194_304)
        );
        assert_eq!(generation(pack(0x800_0001, 2, false, 1)), 1);
    }
}
