//! Every threshold the report judges by, in one place, so a reader (and a
//! reviewer) finds what "critical", "backlog" or "smoke run" mean here.

/// The pipe transport's target: at most this multiple of a bare pipe round trip.
pub const PIPE_TARGET: f64 = 1.25;

/// A placement costing this many times `split` or more is called out.
pub const CRITICAL_RATIO: f64 = 10.0;

/// A paced cell whose median latency exceeds this many send intervals did
/// not keep up: a backlog built up.
pub const BACKLOG_INTERVALS: f64 = 50.0;

/// A run with fewer trials per cell than this is a low-precision smoke run.
pub const SMOKE_TRIALS: usize = 3;

/// A run with fewer measured messages per trial than this is a smoke run
/// too (`bench-all --quick` measures 100; a real run, hundreds or more).
pub const SMOKE_MESSAGES: usize = 200;

/// A cross-core floor this many times the same-core one means idle cores
/// wake slowly (a sleeping receiver pays the wake-up on every message).
pub const SLOW_WAKE_RATIO: f64 = 3.0;

/// The seed notebook's size range: int64 arrays of 100..51 200 elements.
pub const SEED_SIZES: (u64, u64) = (800, 409_600);

/// The large arrays of the hand-over answer: 1 MiB to 64 MiB, both ends
/// included (issue 23: the batches and frames ML, image and simulation
/// code moves).
pub const LARGE_ARRAYS: (u64, u64) = (1 << 20, 64 << 20);

/// Sizes at or below this are "small messages" in the answers.
pub const SMALL_MESSAGE: u64 = 1_000;

/// Whether a run's settings make it a low-precision smoke run.
pub fn is_smoke(trials: usize, messages: usize) -> bool {
    trials < SMOKE_TRIALS || messages < SMOKE_MESSAGES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_settings_are_a_smoke_run_and_default_ones_are_not() {
        assert!(is_smoke(2, 100));
        assert!(is_smoke(10, 100));
        assert!(!is_smoke(3, 1000));
        assert!(!is_smoke(10, 200));
    }
}
