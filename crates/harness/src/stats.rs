//! Recording latencies without allocating, and summarising them: mean, sd,
//! percentiles, Tukey outliers, per-trial medians and means, and 95%
//! bootstrap intervals from those independent trial values (per-message
//! samples are autocorrelated, so they cannot give an honest interval on
//! their own; see `results::bootstrap`).

use hdrhistogram::Histogram;
use results::Summary;
use results::bootstrap;
use serde::{Deserialize, Serialize};

/// Highest recordable value: 100 s. Larger values saturate (and a message
/// that slow fails the run's stall deadline anyway).
const HIGHEST_NS: u64 = 100_000_000_000;

/// Per-message recorder for one metric of one trial. `record` never
/// allocates: the histogram's range is fixed up front.
#[derive(Debug, Clone)]
pub struct Recorder {
    hist: Histogram<u64>,
    sum: u128,
}

impl Recorder {
    /// An empty recorder, 3 significant digits from 1 ns to 100 s.
    pub fn new() -> Self {
        // Construction only fails for invalid bounds, which are constants here.
        let hist = Histogram::new_with_bounds(1, HIGHEST_NS, 3).unwrap_or_else(|_| unreachable!());
        Self { hist, sum: 0 }
    }

    /// Adds one sample, in nanoseconds.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.hist.saturating_record(ns);
        self.sum += u128::from(ns);
    }

    /// Samples recorded.
    pub fn len(&self) -> u64 {
        self.hist.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.hist.is_empty()
    }

    /// The exact mean of what was recorded.
    pub fn mean(&self) -> f64 {
        if self.is_empty() {
            0.0
        } else {
            self.sum as f64 / self.len() as f64
        }
    }

    /// A serialisable copy for sending to the supervisor.
    pub fn to_trial(&self) -> Trial {
        Trial {
            counts: self
                .hist
                .iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect(),
            sum: self.sum as f64,
        }
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

/// One trial's samples of one metric, as (value, count) pairs plus the exact sum.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Trial {
    /// Histogram buckets that hold samples: (highest equivalent value, count).
    pub counts: Vec<(u64, u64)>,
    /// Exact sum of the samples, nanoseconds.
    pub sum: f64,
}

impl Trial {
    /// Samples in the trial.
    pub fn n(&self) -> u64 {
        self.counts.iter().map(|c| c.1).sum()
    }

    /// The trial's exact mean.
    pub fn mean(&self) -> f64 {
        let n = self.n();
        if n == 0 { 0.0 } else { self.sum / n as f64 }
    }

    /// The value at quantile `q` (0..=1) of the trial's samples, as the
    /// histogram resolves it (3 significant digits); 0 for an empty trial.
    pub fn quantile(&self, q: f64) -> f64 {
        let n = self.n();
        if n == 0 {
            return 0.0;
        }
        // The smallest recorded value with at least ceil(q n) samples at or
        // below it: HdrHistogram's own definition.
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for &(v, c) in &self.counts {
            seen += c;
            if seen >= rank {
                return v as f64;
            }
        }
        self.counts.last().map_or(0.0, |c| c.0 as f64)
    }
}

/// Mean and 95% bootstrap interval of the mean of independent values
/// (trial means or rates).
pub fn mean_ci(values: &[f64]) -> (f64, Option<(f64, f64)>) {
    (
        bootstrap::mean(values).unwrap_or(0.0),
        bootstrap::mean_interval(values),
    )
}

/// Quantiles recorded per cell for distribution curves (CDF, percentile
/// spectrum): dense in the tail, where transports differ most.
pub const CURVE_QUANTILES: [f64; 12] = [
    0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999, 1.0,
];

/// Summarises the trials of one cell.
pub fn summarize(trials: &[Trial]) -> Summary {
    let Ok(mut hist) = Histogram::<u64>::new_with_bounds(1, HIGHEST_NS, 3) else {
        return Summary::default();
    };
    for t in trials {
        for &(v, c) in &t.counts {
            // Values come from a histogram with the same bounds.
            let _ = hist.record_n(v.clamp(1, HIGHEST_NS), c);
        }
    }
    let n = hist.len();
    if n == 0 {
        return Summary::default();
    }
    let total: f64 = trials.iter().map(|t| t.sum).sum();
    let mean = total / n as f64;
    let means: Vec<f64> = trials
        .iter()
        .filter(|t| t.n() > 0)
        .map(Trial::mean)
        .collect();
    let ci = bootstrap::mean_interval(&means);
    let q = |p: f64| hist.value_at_quantile(p) as f64;
    let (q1, q3) = (q(0.25), q(0.75));
    let iqr = q3 - q1;
    let (lo, hi) = (q1 - 1.5 * iqr, q3 + 1.5 * iqr);
    let outliers = hist
        .iter_recorded()
        .filter(|v| {
            let x = hist.median_equivalent(v.value_iterated_to()) as f64;
            x < lo || x > hi
        })
        .map(|v| v.count_at_value())
        .sum();
    Summary {
        n,
        mean_ns: mean,
        sd_ns: hist.stdev(),
        ci95_low_ns: ci.map(|c| c.0),
        ci95_high_ns: ci.map(|c| c.1),
        p50_ns: q(0.5),
        p90_ns: q(0.9),
        p99_ns: q(0.99),
        p999_ns: q(0.999),
        min_ns: hist.min() as f64,
        max_ns: hist.max() as f64,
        outliers,
    }
}

/// CPU time (user + system) this process has used, nanoseconds.
pub fn cpu_time_ns() -> u64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer cannot fail.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let ns = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    ns(u.ru_utime) + ns(u.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(values: &[u64]) -> Trial {
        let mut r = Recorder::new();
        for &v in values {
            r.record(v);
        }
        r.to_trial()
    }

    #[test]
    fn summary_of_known_samples() {
        let values: Vec<u64> = (1..=1000).collect();
        let s = summarize(&[trial(&values)]);
        assert_eq!(s.n, 1000);
        assert!((s.mean_ns - 500.5).abs() < 1e-9);
        assert!((s.p50_ns - 500.0).abs() <= 1.0, "{}", s.p50_ns);
        assert!((s.p99_ns - 990.0).abs() <= 1.0, "{}", s.p99_ns);
        assert_eq!(s.min_ns, 1.0);
        assert_eq!(s.max_ns, 1000.0);
        assert_eq!(s.outliers, 0);
        assert!(s.ci95_low_ns.is_none(), "one trial gives no interval");
    }

    #[test]
    fn outliers_are_counted_not_dropped() {
        let mut values = vec![100u64; 99];
        values.push(1_000_000);
        let s = summarize(&[trial(&values)]);
        assert_eq!(s.n, 100);
        assert_eq!(s.outliers, 1);
        assert!(s.max_ns >= 999_000.0);
    }

    #[test]
    fn ci_of_the_mean_is_a_bootstrap_over_trial_means() {
        // Means 10, 12, 14: the interval lies within the trial means (the
        // t-interval, 12 ± 4.97, reached below them) and is exactly what the
        // report's bootstrap gives for those means.
        let trials = [trial(&[10, 10]), trial(&[12, 12]), trial(&[14, 14])];
        let s = summarize(&trials);
        let (lo, hi) = (s.ci95_low_ns.expect("ci"), s.ci95_high_ns.expect("ci"));
        assert!(
            (10.0..=12.0).contains(&lo) && (12.0..=14.0).contains(&hi),
            "{lo}..{hi}"
        );
        assert_eq!(
            Some((lo, hi)),
            bootstrap::mean_interval(&[10.0, 12.0, 14.0])
        );
        let two = summarize(&trials[..2]);
        assert!(two.ci95_low_ns.is_none(), "two trials are too few");
    }

    #[test]
    fn trial_quantiles_follow_the_histogram() {
        let t = trial(&(1..=100).collect::<Vec<_>>());
        assert_eq!(t.quantile(0.5), 50.0);
        assert_eq!(t.quantile(0.0), 1.0);
        assert_eq!(t.quantile(1.0), 100.0);
        assert_eq!(t.quantile(0.99), 99.0);
        assert_eq!(Trial::default().quantile(0.5), 0.0);
    }

    #[test]
    fn empty_is_all_zero() {
        assert_eq!(summarize(&[]), Summary::default());
    }

    #[test]
    fn cpu_time_advances() {
        let a = cpu_time_ns();
        let mut x = 0u64;
        for i in 0..50_000_000u64 {
            x = x.wrapping_add(std::hint::black_box(i));
        }
        std::hint::black_box(x);
        assert!(cpu_time_ns() > a);
    }
}
