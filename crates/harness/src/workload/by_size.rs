//! How many messages a size gets. Sizes of 1 MiB and more cannot run the
//! fixed counts of the notebook's sizes (1000 hand-overs of 64 MiB are
//! 64 GB of copying), so from [`LARGE_FROM`] up the count of measured
//! messages follows the size ([`messages_for`]), and so does the least
//! warm-up ([`warm_up_messages`]). Below it every count is the run's, as it
//! always was. Both sides of a pair derive the same counts from the size, so
//! no count travels between them.

use super::MIN_WARMUP_MESSAGES;

/// Payload bytes from which counts follow the size.
pub const LARGE_FROM: u64 = 1 << 20;

/// Payload bytes a large size's measured messages may move in one trial.
pub const BYTES_PER_SIZE: u64 = 128 << 20;

/// The fewest measured messages a size gets, however large (unless the run
/// asks for fewer).
pub const MIN_MESSAGES: u64 = 5;

/// Payload bytes the least warm-up of a large size moves; the warm-up also
/// lasts the run's warm-up time. At least the smallest set of buffers a
/// loaning transport keeps for any size: shm-queue's ring is at least
/// 16 MiB of slots.
pub const WARMUP_BYTES: u64 = 16 << 20;

/// The fewest warm-up messages: every buffer on the way is touched at least
/// once before the clock runs. The deepest transports cycle through four
/// buffers of a large size (shm-queue's four slots, iceoryx2's `depth + 2`
/// chunks at depth 2; the shm ring holds two), and a buffer first touched
/// on the clock costs its page faults in both processes (docs/methodology.md,
/// "Large sizes").
pub const MIN_WARMUP_LARGE: u64 = 4;

/// Measured messages per trial at `size_bytes` when the run asks for
/// `asked`: below [`LARGE_FROM`], `asked`; from there, as many as
/// [`BYTES_PER_SIZE`] holds, at least [`MIN_MESSAGES`], at most `asked`.
pub fn messages_for(size_bytes: u64, asked: usize) -> usize {
    if size_bytes < LARGE_FROM {
        return asked;
    }
    let by_bytes = (BYTES_PER_SIZE / size_bytes).max(MIN_MESSAGES);
    asked.min(usize::try_from(by_bytes).unwrap_or(usize::MAX))
}

/// The fewest warm-up messages at `size_bytes`: [`MIN_WARMUP_MESSAGES`]
/// below [`LARGE_FROM`]; from there as many as [`WARMUP_BYTES`] holds, at
/// least [`MIN_WARMUP_LARGE`].
pub fn warm_up_messages(size_bytes: u64) -> u64 {
    if size_bytes < LARGE_FROM {
        return MIN_WARMUP_MESSAGES;
    }
    (WARMUP_BYTES / size_bytes).clamp(MIN_WARMUP_LARGE, MIN_WARMUP_MESSAGES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn todays_sizes_keep_the_runs_counts() {
        for size in [8, 800, 409_600, LARGE_FROM - 8] {
            assert_eq!(messages_for(size, 1000), 1000);
            assert_eq!(warm_up_messages(size), MIN_WARMUP_MESSAGES);
        }
    }

    #[test]
    fn large_sizes_get_fewer_messages_and_warm_ups() {
        assert_eq!(messages_for(1 << 20, 100), 100);
        assert_eq!(messages_for(1 << 20, 1000), 128);
        assert_eq!(messages_for(4 << 20, 100), 32);
        assert_eq!(messages_for(16 << 20, 100), 8);
        assert_eq!(messages_for(64 << 20, 100), 5);
        assert_eq!(messages_for(256 << 20, 100), 5);
        // A run that asks for fewer gets what it asks for.
        assert_eq!(messages_for(64 << 20, 2), 2);
        assert_eq!(warm_up_messages(1 << 20), MIN_WARMUP_MESSAGES);
        assert_eq!(warm_up_messages(4 << 20), 4);
        assert_eq!(warm_up_messages(16 << 20), MIN_WARMUP_LARGE);
        assert_eq!(warm_up_messages(64 << 20), MIN_WARMUP_LARGE);
        assert_eq!(warm_up_messages(256 << 20), MIN_WARMUP_LARGE);
    }
}
