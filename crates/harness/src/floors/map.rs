//! The core-to-core map: the cheapest cache-line probe shape of the run's
//! `split` floors, timed between pairs of CPUs, one forked pair each.
//! Every pair where the time budget allows; on larger machines a sample
//! ([`plan`]): the closest pair of each relation the topology offers first,
//! then pairs spread evenly over the whole triangle, so every relation and
//! (budget permitting) every CPU is in the map. The map records how many
//! pairs the machine has and how many were planned.

use results::{CpuMap, CpuPair};

use super::probes::{Probe, Shape, probe_on};
use super::{BATCHES, Rounds};
use crate::clock::now_ns;
use crate::topology::Topology;

/// The map's budget in a default run (`ipcbench run`, `ipcbench floors`):
/// one pair (a 2-CPU machine) takes a few milliseconds; a large machine
/// gets a sample that fits beside the probes' share of the run.
pub const DEFAULT_BUDGET_NS: u64 = 5_000_000_000;

/// The budget of `ipcbench floors --map`.
pub const FULL_BUDGET_NS: u64 = 60_000_000_000;

/// Round trips timed one by one per pair (after a tenth as many to warm up).
const RTT_ROUNDS: u64 = 1_000;

/// Round trips of each of the [`BATCHES`] batch-timed runs per pair.
const BATCH_ROUNDS: u64 = 1_000;

/// What forking, pinning and reaping one pair costs besides its round
/// trips (the child's start is polled every 100 µs).
const PAIR_OVERHEAD_NS: u64 = 3_000_000;

/// The longest one pair may take: a pair of a loaded CPU keeps what it
/// measured by then.
const PAIR_CAP_NS: u64 = 200_000_000;

/// The pairs a map measures, and how many the machine has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapPlan {
    /// The pairs to measure, lower CPU first, in order.
    pub pairs: Vec<[usize; 2]>,
    /// Pairs of distinct CPUs on the machine.
    pub total: usize,
}

/// Expected cost of one pair, from the round trip the probes measured at
/// `split` (a pair further apart may take twice that).
pub fn pair_cost_ns(rtt_ns: f64) -> u64 {
    let rounds = RTT_ROUNDS + RTT_ROUNDS / 10 + BATCH_ROUNDS * u64::from(BATCHES);
    PAIR_OVERHEAD_NS + (2.0 * rtt_ns.max(1.0) * rounds as f64) as u64
}

/// Chooses the pairs of `cpus` that fit `budget_ns` at `pair_ns` each:
/// every pair if they fit; else `first` (one pair per relation), then pairs
/// taken at an even stride through the list of all pairs (a step near the
/// golden ratio of its length and coprime with it, so the sample covers
/// the whole triangle without clustering). At least one pair.
pub fn plan(cpus: &[usize], first: &[[usize; 2]], budget_ns: u64, pair_ns: u64) -> MapPlan {
    let all: Vec<[usize; 2]> = cpus
        .iter()
        .enumerate()
        .flat_map(|(i, &a)| cpus[i + 1..].iter().map(move |&b| [a.min(b), a.max(b)]))
        .collect();
    let total = all.len();
    let fit = usize::try_from(budget_ns / pair_ns.max(1))
        .unwrap_or(usize::MAX)
        .max(1);
    if total <= fit {
        return MapPlan { pairs: all, total };
    }
    let mut pairs: Vec<[usize; 2]> = Vec::with_capacity(fit);
    for p in first {
        let p = [p[0].min(p[1]), p[0].max(p[1])];
        if pairs.len() < fit && all.contains(&p) && !pairs.contains(&p) {
            pairs.push(p);
        }
    }
    let mut step = ((total as f64) * 0.618_033_988_75) as usize;
    while gcd(step.max(1), total) != 1 {
        step += 1;
    }
    let mut i = 0;
    for _ in 0..total {
        if pairs.len() >= fit {
            break;
        }
        if !pairs.contains(&all[i]) {
            pairs.push(all[i]);
        }
        i = (i + step) % total;
    }
    pairs.sort_unstable();
    MapPlan { pairs, total }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Measures the map within `budget_ns`, in the shape of the cheapest
/// per-round-trip probe among `probes` (the `split` placement's). A pair
/// is never started after the budget is spent: the rest are recorded as
/// not measured, saying so.
pub fn measure(topology: &Topology, probes: &[Probe], budget_ns: u64) -> CpuMap {
    let cheapest = probes
        .iter()
        .filter_map(|p| p.outcome.as_ref().ok().map(|t| (p, t.per_rtt.p50_ns)))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    let cpus: Vec<usize> = topology.cpus.iter().map(|c| c.id).collect();
    let mut map = CpuMap {
        shape: String::new(),
        pairs_total: cpus.len() * cpus.len().saturating_sub(1) / 2,
        cpus,
        budget_s: budget_ns as f64 / 1e9,
        pairs: Vec::new(),
        not_measured: None,
    };
    let Some((probe, rtt_ns)) = cheapest else {
        map.not_measured = Some("no cache-line probe was measured at split".into());
        return map;
    };
    map.shape = probe.record().label();
    if map.cpus.len() < 2 {
        map.not_measured = Some(match &topology.fallback {
            Some(why) => format!("the CPU topology is unknown ({why})"),
            None => "fewer than two CPUs".into(),
        });
        return map;
    }
    let first: Vec<[usize; 2]> = topology.pairs.iter().map(|p| [p.first, p.second]).collect();
    let planned = plan(&map.cpus, &first, budget_ns, pair_cost_ns(rtt_ns));
    let deadline = now_ns() + budget_ns;
    for [a, b] in planned.pairs {
        let left = deadline.saturating_sub(now_ns());
        let outcome = if left == 0 {
            Err("the map's time budget was spent before this pair".to_owned())
        } else {
            let rounds = Rounds::new(RTT_ROUNDS, BATCH_ROUNDS, left.min(PAIR_CAP_NS));
            time_pair(probe.shape, probe.pause, [a, b], rounds)
        };
        let (p50_ns, batch_ns, not_measured) = match outcome {
            Ok(t) => (Some(t.per_rtt.p50_ns), Some(t.batch_ns), None),
            Err(why) => (None, None, Some(why)),
        };
        map.pairs.push(CpuPair {
            cpus: [a, b],
            relation: topology.relation(a, b).map(|r| r.name().to_owned()),
            p50_ns,
            batch_ns,
            not_measured,
        });
    }
    map
}

fn time_pair(
    shape: Shape,
    pause: bool,
    [a, b]: [usize; 2],
    rounds: Rounds,
) -> super::Probed<super::Timed> {
    let cores = [Some(a), Some(b)];
    if pause {
        probe_on::<true>(cores, shape, rounds)
    } else {
        probe_on::<false>(cores, shape, rounds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_when_the_budget_allows() {
        let p = plan(&[0, 1], &[[0, 1]], DEFAULT_BUDGET_NS, pair_cost_ns(250.0));
        assert_eq!((p.pairs, p.total), (vec![[0, 1]], 1));
        let p = plan(&[0, 1, 2, 3], &[], 1_000, 1);
        assert_eq!(p.pairs.len(), 6);
    }

    #[test]
    fn a_budget_too_small_still_measures_one_pair() {
        let p = plan(&[0, 1, 2, 3], &[[2, 3]], 0, 1_000);
        assert_eq!((p.pairs, p.total), (vec![[2, 3]], 6));
    }

    #[test]
    fn the_cost_of_a_pair_grows_with_the_round_trip() {
        assert!(pair_cost_ns(250.0) > PAIR_OVERHEAD_NS);
        assert!(pair_cost_ns(500.0) > pair_cost_ns(250.0));
    }
}
