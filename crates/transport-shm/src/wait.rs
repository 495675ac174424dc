//! How a side waits for its peer (spin, adaptive, block), the futex calls it
//! sleeps with, and how it tells that the peer process is gone.

use std::sync::atomic::AtomicU32;
use std::time::{Duration, Instant};

use rustix::thread::futex;
use transport::WaitStrategy;

/// The three waiting disciplines, as a value the generic code matches on
/// (each variant's match folds to one arm at compile time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Busy-poll forever.
    Spin,
    /// Poll a few microseconds, then `sched_yield` a bounded number of times,
    /// then sleep on a futex.
    Adaptive,
    /// Sleep on a futex as soon as there is nothing to do.
    Block,
}

impl Mode {
    /// Whether the peer may sleep in the kernel, so every publish must check
    /// whether it needs a wake-up.
    pub const fn notifies(self) -> bool {
        !matches!(self, Self::Spin)
    }

    /// Tag stored in the segment so both sides agree on the discipline.
    pub const fn id(self) -> u32 {
        match self {
            Self::Spin => 1,
            Self::Adaptive => 2,
            Self::Block => 3,
        }
    }

    /// The contract's name for it.
    pub const fn strategy(self) -> WaitStrategy {
        match self {
            Self::Spin => WaitStrategy::Spin,
            Self::Adaptive => WaitStrategy::Adaptive,
            Self::Block => WaitStrategy::Block,
        }
    }
}

/// How long the adaptive strategy polls before yielding: long enough to catch
/// a reply from a peer running on another core (many hops fit in it), short
/// compared with a futex wake-up (docs/design-figures.md).
pub const ADAPTIVE_SPIN: Duration = Duration::from_micros(5);
/// How many times the adaptive strategy yields before sleeping. On a shared
/// core each yield lets the peer run a round trip; on an idle core it
/// returns at once, so this keeps the busy phase short.
pub const ADAPTIVE_YIELDS: u32 = 32;
/// Longest futex sleep: the period of the liveness check while asleep.
pub const SLEEP_SLICE: Duration = Duration::from_millis(20);
/// Polls between two reads of the peer's close flag while spinning.
pub const CLOSE_CHECK_EVERY: u32 = 64;
/// Least time between two liveness checks of the peer process.
pub const LIVENESS_PERIOD: Duration = Duration::from_millis(10);

/// What to do on the next unsuccessful poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Spin,
    Yield,
    Sleep,
}

/// Polls the adaptive strategy makes before it first reads the clock: a reply
/// from another core usually arrives within them, so the common wait costs no
/// clock read at all (a read costs more than a poll).
pub const ADAPTIVE_FREE_POLLS: u32 = 64;

/// The state of one wait (one call that found nothing to do).
#[derive(Debug)]
pub struct Backoff {
    mode: Mode,
    polls: u32,
    yields: u32,
    /// Adaptive mode: still in the spin phase.
    spinning: bool,
    /// Adaptive mode: end of the spin phase, set once the free polls are used.
    spin_until: Option<Instant>,
}

impl Backoff {
    /// Starts a wait. For the adaptive mode, `same_core` says the peer last
    /// ran on our CPU: spinning would only keep it off the CPU, so the spin
    /// phase is skipped.
    pub fn new(mode: Mode, same_core: bool) -> Self {
        Self {
            mode,
            polls: 0,
            yields: 0,
            spinning: mode == Mode::Adaptive && !same_core,
            spin_until: None,
        }
    }

    /// The same wait, `polls` unsuccessful polls in: the caller polled
    /// before it started the backoff.
    pub fn after(self, polls: u32) -> Self {
        Self { polls, ..self }
    }

    /// Number of unsuccessful polls so far.
    pub fn polls(&self) -> u32 {
        self.polls
    }

    /// The next step.
    #[inline]
    pub fn step(&mut self) -> Step {
        self.polls = self.polls.wrapping_add(1);
        match self.mode {
            Mode::Spin => Step::Spin,
            Mode::Block => Step::Sleep,
            Mode::Adaptive => {
                if self.spinning {
                    if self.polls < ADAPTIVE_FREE_POLLS || !self.polls.is_multiple_of(16) {
                        return Step::Spin;
                    }
                    let now = Instant::now();
                    match self.spin_until {
                        None => {
                            self.spin_until = Some(now + ADAPTIVE_SPIN);
                            return Step::Spin;
                        }
                        Some(until) if now < until => return Step::Spin,
                        Some(_) => self.spinning = false,
                    }
                }
                if self.yields < ADAPTIVE_YIELDS {
                    self.yields += 1;
                    Step::Yield
                } else {
                    Step::Sleep
                }
            }
        }
    }
}

/// Sleeps while `word` holds `expected`, at most `timeout`. Spurious returns
/// are fine: every caller re-checks its condition.
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let ts = futex::Timespec {
        tv_sec: timeout.as_secs() as i64,
        tv_nsec: i64::from(timeout.subsec_nanos()),
    };
    // Not FUTEX_PRIVATE: the word is in memory shared with another process.
    // EAGAIN (value changed), EINTR and ETIMEDOUT all mean "look again".
    let _ = futex::wait(word, futex::Flags::empty(), expected, Some(&ts));
}

/// Wakes every sleeper on `word`.
pub fn futex_wake(word: &AtomicU32) {
    let _ = futex::wake(word, futex::Flags::empty(), i32::MAX as u32);
}

/// The peer process, for liveness checks: a pidfd (the very process we
/// connected with, immune to pid reuse, readable once it has exited, even
/// while it is an unreaped zombie, which `kill(pid, 0)` still reports as
/// alive) where one opens, else the bare pid.
pub use transport::process::PeerProcess as Peer;

/// The CPU this thread runs on (vDSO / rseq through glibc: a few ns).
pub fn current_cpu() -> u32 {
    // SAFETY: no arguments, no memory touched.
    let cpu = unsafe { libc::sched_getcpu() };
    u32::try_from(cpu).unwrap_or(crate::segment::NO_CPU)
}
