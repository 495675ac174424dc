//! Percentile-bootstrap intervals over independent trials: of a cell's median
//! and mean, and of the ratio of two cells' medians.
//!
//! Per-message samples within a trial are autocorrelated (a slow moment of
//! the machine slows many consecutive messages), so only trials (fresh
//! process pairs) are independent draws; every interval here resamples
//! trials, never messages. A percentile bootstrap of a median or a mean can
//! only return values between the smallest and largest trial value, so a
//! latency never gets a negative bound and a rate never crosses zero (the
//! Student-t interval used before did both with three trials).
//!
//! The generator is ChaCha8 with a fixed seed, so the same trials always give
//! the same interval and a report re-renders byte for byte.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[cfg(test)]
use crate::schema::Cell;
use crate::schema::{Results, Status};

/// Resamples per interval.
pub const RESAMPLES: usize = 2000;

/// Fewest trials an interval is computed from. With two trials a resampled
/// median has three possible values and the "interval" is an artefact; with
/// three it spans the trial range, the honest answer for so few.
pub const MIN_TRIALS: usize = 3;

/// Two-sided coverage of every interval.
pub const COVERAGE: f64 = 0.95;

/// The seed of every resampling stream.
const SEED: u64 = 0x1bc_b007_5eed;

/// How the intervals of a results file were computed, recorded in it.
pub fn method() -> String {
    format!(
        "95% percentile bootstrap over independent trials ({RESAMPLES} resamples, \
         ChaCha8 seed {SEED:#x}); at least {MIN_TRIALS} trials"
    )
}

/// The median of the values (mean of the middle two for an even count);
/// `None` when empty or any value is not finite.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mut v = values.to_vec();
    Some(median_in_place(&mut v))
}

/// The mean; `None` when empty or any value is not finite.
pub fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    Some(values.iter().sum::<f64>() / values.len() as f64)
}

fn median_in_place(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn mean_of(v: &mut [f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Whether the values support an interval.
fn usable(values: &[f64]) -> bool {
    values.len() >= MIN_TRIALS && values.iter().all(|v| v.is_finite())
}

/// Fills `out` with a resample (with replacement) of `from`.
fn resample(rng: &mut ChaCha8Rng, from: &[f64], out: &mut [f64]) {
    for slot in out.iter_mut() {
        *slot = from[rng.random_range(0..from.len())];
    }
}

/// The `COVERAGE` percentile interval of sorted bootstrap statistics.
fn percentile_bounds(mut stats: Vec<f64>) -> (f64, f64) {
    stats.sort_by(f64::total_cmp);
    let tail = (1.0 - COVERAGE) / 2.0;
    let last = (stats.len() - 1) as f64;
    let lo = stats[(tail * last).floor() as usize];
    let hi = stats[((1.0 - tail) * last).ceil() as usize];
    (lo, hi)
}

fn interval_of(values: &[f64], stat: fn(&mut [f64]) -> f64) -> Option<(f64, f64)> {
    if !usable(values) {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut buf = vec![0.0; values.len()];
    let stats = (0..RESAMPLES)
        .map(|_| {
            resample(&mut rng, values, &mut buf);
            stat(&mut buf)
        })
        .collect();
    Some(percentile_bounds(stats))
}

/// 95% interval of the median of the trial values.
pub fn median_interval(trial_values: &[f64]) -> Option<(f64, f64)> {
    interval_of(trial_values, median_in_place)
}

/// 95% interval of the mean of the trial values.
pub fn mean_interval(trial_values: &[f64]) -> Option<(f64, f64)> {
    interval_of(trial_values, mean_of)
}

/// 95% interval of `median(slow) / median(fast)`, resampling each side's
/// trials independently (the two cells ran in different process pairs).
pub fn ratio_interval(fast: &[f64], slow: &[f64]) -> Option<(f64, f64)> {
    if !usable(fast) || !usable(slow) || fast.iter().any(|v| *v <= 0.0) {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let (mut a, mut b) = (vec![0.0; fast.len()], vec![0.0; slow.len()]);
    let stats = (0..RESAMPLES)
        .map(|_| {
            resample(&mut rng, fast, &mut a);
            resample(&mut rng, slow, &mut b);
            median_in_place(&mut b) / median_in_place(&mut a)
        })
        .collect();
    Some(percentile_bounds(stats))
}

/// Fills the intervals a version-2 file left to its reader: the Python
/// baseline records trial medians and means, and ipcbench computes every
/// interval with this one implementation. Cells that already carry an
/// interval, and version-1 files, are left as they are.
pub fn complete_intervals(results: &mut Results) {
    if results.schema_version < 2 {
        return;
    }
    for c in results.cells.iter_mut().filter(|c| c.status == Status::Ok) {
        if c.median_ci().is_none() && !c.trial_medians_ns.is_empty() {
            let ci = median_interval(&c.trial_medians_ns);
            c.median_ci_low_ns = ci.map(|c| c.0);
            c.median_ci_high_ns = ci.map(|c| c.1);
        }
        if c.summary.ci95_low_ns.is_none() {
            let ci = mean_interval(&c.trial_means_ns);
            c.summary.ci95_low_ns = ci.map(|c| c.0);
            c.summary.ci95_high_ns = ci.map(|c| c.1);
        }
    }
    if results.config.interval_method.is_empty() {
        results.config.interval_method = method();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_left_to_the_reader_are_filled() {
        let cell = Cell {
            trial_medians_ns: vec![10.0, 11.0, 12.0],
            trial_means_ns: vec![10.0, 12.0, 14.0],
            median_ns: 11.0,
            ..Cell::default()
        };
        let mut r = Results {
            schema_version: 2,
            environment: Default::default(),
            config: Default::default(),
            floors: Vec::new(),
            cells: vec![cell],
            targets: Vec::new(),
            transports: Vec::new(),
        };
        complete_intervals(&mut r);
        let c = &r.cells[0];
        assert_eq!(c.median_ci(), median_interval(&[10.0, 11.0, 12.0]));
        assert_eq!(
            c.summary.ci95_low_ns.zip(c.summary.ci95_high_ns),
            mean_interval(&[10.0, 12.0, 14.0])
        );
        assert!(!r.config.interval_method.is_empty());
    }

    #[test]
    fn median_and_mean() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1.0, f64::NAN]), None);
        assert_eq!(mean(&[1.0, 2.0, 6.0]), Some(3.0));
    }

    #[test]
    fn too_few_trials_give_no_interval() {
        assert_eq!(median_interval(&[1.0, 2.0]), None);
        assert_eq!(mean_interval(&[1.0]), None);
        assert_eq!(ratio_interval(&[1.0, 1.0, 1.0], &[2.0, 2.0]), None);
    }

    #[test]
    fn intervals_stay_inside_the_trial_range() {
        // The case that printed "13.1 µs (−37.6–63.9)" with a t-interval.
        let trials = [900.0, 1790.0, 36_750.0];
        for (lo, hi) in [
            median_interval(&trials).expect("interval"),
            mean_interval(&trials).expect("interval"),
        ] {
            assert!(lo >= 900.0 && hi <= 36_750.0 && lo <= hi, "{lo}..{hi}");
        }
    }

    #[test]
    fn interval_contains_the_median_and_narrows_with_agreement() {
        let spread: Vec<f64> = (0..10).map(|i| 100.0 + 10.0 * f64::from(i)).collect();
        let tight: Vec<f64> = (0..10).map(|i| 100.0 + f64::from(i)).collect();
        let (lo, hi) = median_interval(&spread).expect("interval");
        let m = median(&spread).expect("median");
        assert!(lo <= m && m <= hi);
        let (tlo, thi) = median_interval(&tight).expect("interval");
        assert!(thi - tlo < hi - lo);
    }

    #[test]
    fn identical_trials_give_a_point() {
        assert_eq!(median_interval(&[5.0; 4]), Some((5.0, 5.0)));
        assert_eq!(ratio_interval(&[5.0; 4], &[5.0; 4]), Some((1.0, 1.0)));
    }

    #[test]
    fn ratio_interval_brackets_the_true_ratio() {
        let fast: Vec<f64> = (0..10).map(|i| 100.0 + f64::from(i % 3)).collect();
        let slow: Vec<f64> = fast.iter().map(|v| v * 2.0).collect();
        let (lo, hi) = ratio_interval(&fast, &slow).expect("interval");
        assert!(lo > 1.9 && hi < 2.1 && lo <= 2.0 && 2.0 <= hi, "{lo}..{hi}");
    }

    #[test]
    fn the_same_input_gives_the_same_interval() {
        let v = [3.0, 9.0, 4.0, 7.0, 5.0];
        assert_eq!(median_interval(&v), median_interval(&v));
        assert_eq!(ratio_interval(&v, &v), ratio_interval(&v, &v));
    }
}
