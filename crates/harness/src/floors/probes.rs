//! The cache-line round-trip probes: two processes pinned to different cores
//! hand a number back and forth through shared memory in several shapes,
//! each with and without `pause` in the wait loop, each timed per round trip
//! and batch-timed. Which shape is cheapest depends on the CPU (its
//! coherence protocol, how a line that two cores write changes owner, how
//! long `pause` stalls), so no one shape is the floor: the floor of a timing
//! method is the cheapest probe measured with it (docs/methodology.md,
//! "Floors"; docs/shm.md, "The floor's shapes").
//!
//! Every probe runs the same protocol: for round trip `i`, the parent
//! stores `2i + 1` in the ping word and spins until the pong word reads
//! `2i + 2`; the child spins until the ping word reads `2i + 1` and stores
//! `2i + 2` in the pong word. The shapes differ only in where the two words
//! are; in the one-word shape they are the same word, which then carries
//! both directions.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{Counts, Probed, Rounds, SharedPage, Timed, fork_pair_on};
use crate::placement::{Placement, Role};
use results::ProbeFloor;

/// Longest a probe may take before it keeps what it has measured: the eight
/// probes then cost at most ~12 s of a run on a machine too busy to finish
/// them (their planned round trips take under half a second each here).
const CAP_NS: u64 = 1_500_000_000;

/// Where the ping and the pong word are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One 8-byte word carries both directions.
    OneWord,
    /// Ping and pong in one cache line, 8 bytes apart.
    OneLine,
    /// Ping and pong in two adjacent lines (64 bytes apart): one pair for
    /// Intel's adjacent-line prefetcher.
    AdjacentLines,
    /// Ping and pong in two lines 256 bytes apart, clear of the
    /// adjacent-line prefetcher (the only shape measured until issue 22).
    FarLines,
}

impl Shape {
    /// Every shape, in the order they are measured and listed.
    pub const ALL: [Self; 4] = [
        Self::OneWord,
        Self::OneLine,
        Self::AdjacentLines,
        Self::FarLines,
    ];

    /// The name the results file records.
    pub fn id(self) -> &'static str {
        match self {
            Self::OneWord => "one-word",
            Self::OneLine => "one-line",
            Self::AdjacentLines => "adjacent-lines",
            Self::FarLines => "far-lines",
        }
    }

    /// Byte offsets of the ping and the pong word in the shared page.
    pub fn offsets(self) -> (usize, usize) {
        match self {
            Self::OneWord => (0, 0),
            Self::OneLine => (0, 8),
            Self::AdjacentLines => (0, 64),
            Self::FarLines => (0, 256),
        }
    }
}

/// One probe: a shape, whether its wait loops `pause`, and what it gave.
#[derive(Debug, Clone)]
pub struct Probe {
    /// Where the two words are.
    pub shape: Shape,
    /// Whether each poll of the wait loops is followed by
    /// `core::hint::spin_loop` (`pause` on x86).
    pub pause: bool,
    /// The round trip timed both ways, or why it was not measured.
    pub outcome: Probed<Timed>,
}

impl Probe {
    /// The probe as the results file records it.
    pub fn record(&self) -> ProbeFloor {
        let (per_rtt, batch_ns, not_measured) = match &self.outcome {
            Ok(t) => (Some(t.per_rtt.clone()), Some(t.batch_ns), None),
            Err(why) => (None, None, Some(why.clone())),
        };
        ProbeFloor {
            shape: self.shape.id().to_owned(),
            pause: self.pause,
            per_rtt,
            batch_ns,
            not_measured,
        }
    }
}

/// Measures every shape with and without `pause`, one forked pair each.
/// Spinning is measured only with the two processes on separate cores
/// (`split`); elsewhere every probe is recorded as not measured.
pub fn measure_all(placement: Placement, counts: Counts) -> Vec<Probe> {
    let plan = Rounds::new(counts.rtt_rounds, counts.batch_rounds, CAP_NS);
    let mut out = Vec::with_capacity(2 * Shape::ALL.len());
    for pause in [true, false] {
        for shape in Shape::ALL {
            let outcome = match placement {
                Placement::Split if pause => probe::<true>(placement, shape, plan),
                Placement::Split => probe::<false>(placement, shape, plan),
                // Two spinners that may share a core hand over once per
                // timeslice (~ms): a measurement of the scheduler, not of
                // the machine.
                Placement::Same => Err("both processes on one core: two spinners there hand \
                                        over once per scheduler timeslice"
                    .into()),
                Placement::None => Err("processes not pinned: two spinners may share a core, \
                                        which hands over once per scheduler timeslice"
                    .into()),
            };
            out.push(Probe {
                shape,
                pause,
                outcome,
            });
        }
    }
    out
}

/// One probe in its own forked pair; `PAUSE` is a constant so each wait
/// loop is a load, a compare and (with it) one `pause`, nothing else.
fn probe<const PAUSE: bool>(placement: Placement, shape: Shape, plan: Rounds) -> Probed<Timed> {
    let cores = [Role::Producer, Role::Consumer].map(|r| crate::placement::core_for(placement, r));
    probe_on::<PAUSE>(cores, shape, plan)
}

/// One probe between two given cores (the parent on the first).
pub(super) fn probe_on<const PAUSE: bool>(
    cores: [Option<usize>; 2],
    shape: Shape,
    plan: Rounds,
) -> Probed<Timed> {
    let page = SharedPage::new().map_err(|e| format!("{e:#}"))?;
    let (a, b) = shape.offsets();
    let ping = page.atomic(a);
    let pong = page.atomic(b);
    fork_pair_on(
        cores,
        || {
            let mut i: u64 = 0;
            loop {
                wait_for::<PAUSE>(ping, 2 * i + 1);
                // Release: pairs with the parent's Acquire load; nothing else
                // is published, but the orderings are those of a real
                // hand-over (plain stores and loads on x86).
                pong.store(2 * i + 2, Ordering::Release);
                i += 1;
            }
        },
        || {
            plan.time(|i| {
                ping.store(2 * i + 1, Ordering::Release);
                wait_for::<PAUSE>(pong, 2 * i + 2);
                Ok(())
            })
        },
    )
}

/// Spins until `word` reads `want`.
#[inline(always)]
fn wait_for<const PAUSE: bool>(word: &AtomicU64, want: u64) {
    // Acquire: pairs with the other side's Release store.
    while word.load(Ordering::Acquire) != want {
        if PAUSE {
            core::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Counts = Counts {
        rtt_rounds: 1000,
        batch_rounds: 900,
    };

    #[test]
    fn every_shape_is_measured_with_and_without_pause_at_split() {
        let probes = measure_all(Placement::Split, SMALL);
        assert_eq!(probes.len(), 8);
        for shape in Shape::ALL {
            for pause in [true, false] {
                let p = probes
                    .iter()
                    .find(|p| p.shape == shape && p.pause == pause)
                    .unwrap_or_else(|| panic!("{shape:?} pause {pause} missing"));
                let t = p
                    .outcome
                    .as_ref()
                    .unwrap_or_else(|e| panic!("{shape:?}: {e}"));
                assert!(t.per_rtt.n > 0 && t.per_rtt.n <= 1000, "{}", t.per_rtt.n);
                assert!(t.batches >= 1 && t.batch_rounds >= 100, "{t:?}");
                assert!(t.batch_ns > 0.0 && t.per_rtt.p50_ns > 0.0, "{t:?}");
            }
        }
    }

    #[test]
    fn spinning_on_a_shared_core_is_not_measured_and_says_why() {
        for placement in [Placement::Same, Placement::None] {
            let probes = measure_all(placement, SMALL);
            assert_eq!(probes.len(), 8);
            for p in probes {
                let why = p.outcome.expect_err("not measured");
                assert!(why.contains("timeslice"), "{why}");
            }
        }
    }

    #[test]
    fn shapes_put_their_words_where_they_say() {
        for s in Shape::ALL {
            let (a, b) = s.offsets();
            let apart = b - a;
            match s {
                Shape::OneWord => assert_eq!(apart, 0),
                Shape::OneLine => assert!(apart > 0 && b < 64),
                Shape::AdjacentLines => assert_eq!((a / 64, b / 64), (0, 1)),
                Shape::FarLines => assert!(apart >= 256),
            }
        }
    }
}
