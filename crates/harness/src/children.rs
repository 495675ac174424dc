//! The role processes this process started and has not yet reaped, known
//! from the handles the supervisor holds, never by reading /proc. Lock-free,
//! because the interrupt thread reads it while the main thread may be parked
//! anywhere, a lock included.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

use crate::placement::Role;

/// More than any group has processes (fanout4: five).
const SLOTS: usize = 64;
/// A slot being filled in.
const CLAIMED: u32 = u32::MAX;

static PIDS: [AtomicU32; SLOTS] = [const { AtomicU32::new(0) }; SLOTS];
static PRODUCER: [AtomicU8; SLOTS] = [const { AtomicU8::new(0) }; SLOTS];
static TAGS: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];

fn tag_hash(tag: &str) -> u64 {
    let mut h = DefaultHasher::new();
    tag.hash(&mut h);
    h.finish()
}

/// Records a child just started. With every slot taken the child is not
/// listed (it still dies with us: `PR_SET_PDEATHSIG`).
pub fn register(pid: u32, role: Role, tag: &str) {
    for i in 0..SLOTS {
        if PIDS[i]
            .compare_exchange(0, CLAIMED, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            PRODUCER[i].store(u8::from(role == Role::Producer), Ordering::Relaxed);
            TAGS[i].store(tag_hash(tag), Ordering::Relaxed);
            PIDS[i].store(pid, Ordering::Release);
            return;
        }
    }
}

/// Forgets a child that has been reaped.
pub fn unregister(pid: u32) {
    for slot in &PIDS {
        if slot
            .compare_exchange(pid, 0, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
    }
}

fn listed(filter: impl Fn(usize) -> bool) -> Vec<(u32, Role)> {
    (0..SLOTS)
        .filter_map(|i| {
            let pid = PIDS[i].load(Ordering::Acquire);
            if pid == 0 || pid == CLAIMED || !filter(i) {
                return None;
            }
            let role = match PRODUCER[i].load(Ordering::Relaxed) {
                1 => Role::Producer,
                _ => Role::Consumer,
            };
            Some((pid, role))
        })
        .collect()
}

/// Every live child, with its role.
pub fn all() -> Vec<(u32, Role)> {
    listed(|_| true)
}

/// The children of the group tagged `tag`.
pub fn of_tag(tag: &str) -> Vec<(u32, Role)> {
    let h = tag_hash(tag);
    listed(|i| TAGS[i].load(Ordering::Relaxed) == h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_are_listed_by_tag_until_unregistered() {
        // Pids far above any real one, so parallel tests cannot collide.
        register(4_000_001, Role::Producer, "t-a");
        register(4_000_002, Role::Consumer, "t-a");
        register(4_000_003, Role::Consumer, "t-b");
        let mut a = of_tag("t-a");
        a.sort_by_key(|(pid, _)| *pid);
        assert_eq!(
            a,
            [(4_000_001, Role::Producer), (4_000_002, Role::Consumer)]
        );
        assert!(all().contains(&(4_000_003, Role::Consumer)));
        for pid in [4_000_001, 4_000_002, 4_000_003] {
            unregister(pid);
        }
        assert!(of_tag("t-a").is_empty());
        assert!(!all().iter().any(|(p, _)| *p == 4_000_003));
    }
}
