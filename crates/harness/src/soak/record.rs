//! What a soak measured per backend, and the memory rule it is judged by:
//! resident memory from the end of the first round to the end of a pair
//! may grow by at most [`GROWTH_FACTOR`] plus [`GROWTH_SLACK_KIB`].

use crate::placement::Role;

/// Memory may grow by this factor between the end of the first round and the
/// end of the run ...
pub const GROWTH_FACTOR: f64 = 1.2;
/// ... plus this many KiB (allocator noise, lazily touched pages).
pub const GROWTH_SLACK_KIB: u64 = 8 * 1024;

/// One reading of both role processes' resident memory, KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    /// Seconds since the soak pair started.
    pub at_s: f64,
    /// Producer `VmRSS`, if it was readable.
    pub producer_kib: Option<u64>,
    /// Consumer `VmRSS`, if it was readable.
    pub consumer_kib: Option<u64>,
}

/// The memory record of one soak pair.
#[derive(Debug, Clone, Default)]
pub struct PairMemory {
    /// Memory over time.
    pub samples: Vec<Sample>,
    /// Seconds after which memory counts as warmed up.
    pub warm_s: f64,
}

/// What one backend's soak did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Backend name.
    pub transport: &'static str,
    /// Wall time of the soak pairs.
    pub seconds: f64,
    /// Measured messages sent and verified (warm-up excluded).
    pub messages: u64,
    /// Their payload bytes.
    pub bytes: u64,
    /// Failed pairs (calibration or soak); each message says why.
    pub errors: Vec<String>,
    /// One per soak pair.
    pub pairs: Vec<PairMemory>,
}

/// Memory at the end of the first round and at the end, per role, KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Growth {
    /// Reference reading, after the first round.
    pub first: u64,
    /// Last reading.
    pub last: u64,
    /// Largest reading.
    pub max: u64,
}

impl Growth {
    /// Whether the last reading stays within the allowed growth.
    pub fn flat(&self) -> bool {
        (self.last as f64) <= self.first as f64 * GROWTH_FACTOR + GROWTH_SLACK_KIB as f64
    }
}

/// The growth of one role's memory over `samples`, from the first reading at
/// or after `warm_s`; `None` with fewer than two readings to compare.
pub fn growth(samples: &[Sample], warm_s: f64, role: Role) -> Option<Growth> {
    let values: Vec<(f64, u64)> = samples
        .iter()
        .filter_map(|s| {
            let v = match role {
                Role::Producer => s.producer_kib,
                Role::Consumer => s.consumer_kib,
            };
            v.map(|v| (s.at_s, v))
        })
        .collect();
    let start = values.iter().position(|&(t, _)| t >= warm_s)?;
    let warm = &values[start..];
    if warm.len() < 2 {
        return None;
    }
    Some(Growth {
        first: warm[0].1,
        last: warm[warm.len() - 1].1,
        max: warm.iter().map(|&(_, v)| v).max().unwrap_or(0),
    })
}

impl Outcome {
    /// Each pair's growth for `role`, where there were enough readings.
    pub fn growths(&self, role: Role) -> Vec<Growth> {
        self.pairs
            .iter()
            .filter_map(|p| growth(&p.samples, p.warm_s, role))
            .collect()
    }

    /// The pair whose memory grew most (relative to the allowance).
    pub fn worst(&self, role: Role) -> Option<Growth> {
        let excess = |g: &Growth| g.last as f64 - g.first as f64 * GROWTH_FACTOR;
        self.growths(role)
            .into_iter()
            .max_by(|a, b| excess(a).total_cmp(&excess(b)))
    }

    /// No failed pair and flat memory in both roles of every pair.
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
            && [Role::Producer, Role::Consumer]
                .into_iter()
                .all(|r| self.growths(r).iter().all(Growth::flat))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(values: &[(f64, u64)]) -> Vec<Sample> {
        values
            .iter()
            .map(|&(at_s, v)| Sample {
                at_s,
                producer_kib: Some(v),
                consumer_kib: Some(v),
            })
            .collect()
    }

    #[test]
    fn growth_counts_from_the_end_of_the_first_round() {
        let s = samples(&[(0.5, 1000), (2.5, 50_000), (3.5, 51_000), (9.0, 52_000)]);
        let g = growth(&s, 2.0, Role::Producer).expect("enough samples");
        assert_eq!((g.first, g.last, g.max), (50_000, 52_000, 52_000));
        assert!(g.flat());
        assert!(growth(&s, 5.0, Role::Consumer).is_none());
    }

    #[test]
    fn growth_beyond_the_allowance_is_not_flat() {
        let flat = Growth {
            first: 100_000,
            last: 120_000 + GROWTH_SLACK_KIB,
            max: 0,
        };
        assert!(flat.flat());
        let grew = Growth {
            last: flat.last + 1,
            ..flat
        };
        assert!(!grew.flat());
    }

    #[test]
    fn every_pair_must_stay_flat() {
        let flat = PairMemory {
            samples: samples(&[(1.0, 10_000), (2.0, 10_000), (3.0, 11_000)]),
            warm_s: 1.5,
        };
        let leaky = PairMemory {
            samples: samples(&[(1.0, 10_000), (2.0, 10_000), (3.0, 30_000)]),
            warm_s: 1.5,
        };
        let mut o = Outcome {
            pairs: vec![flat.clone(), flat],
            ..Outcome::default()
        };
        assert!(o.ok());
        o.pairs.push(leaky);
        assert!(!o.ok());
        assert_eq!(o.worst(Role::Consumer).map(|g| g.last), Some(30_000));
        o.pairs.pop();
        o.errors.push("soak pair: boom".into());
        assert!(!o.ok());
    }
}
