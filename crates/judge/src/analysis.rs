//! Judgements from numbers other than a row's verdict: whether two mean
//! intervals overlap (the cell-by-cell comparison of two runs), the
//! `fixed + size / bandwidth` fit and whether it may be shown as a cost
//! model, and the geometric mean of a matrix row.

use results::schema::Summary;

/// The 95% CI of a summary's mean, if it has one.
pub fn ci(s: &Summary) -> Option<(f64, f64)> {
    match (s.ci95_low_ns, s.ci95_high_ns) {
        (Some(lo), Some(hi)) if lo.is_finite() && hi.is_finite() => Some((lo.min(hi), lo.max(hi))),
        _ => None,
    }
}

/// Whether two intervals share any point.
pub fn overlap(a: (f64, f64), b: (f64, f64)) -> bool {
    a.0 <= b.1 && b.0 <= a.1
}

/// Lowest R² at which a fit is shown as a cost model.
pub const MIN_FIT_R2: f64 = 0.9;

/// A least-squares line `time = fixed + size × per_byte`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// Intercept: the per-message cost at zero bytes, nanoseconds.
    pub fixed_ns: f64,
    /// Slope, nanoseconds per byte.
    pub ns_per_byte: f64,
    /// Coefficient of determination.
    pub r2: f64,
    /// Points fitted.
    pub points: usize,
}

impl Fit {
    /// Bytes per second implied by the slope; `None` when time does not grow
    /// with size (the slope is zero or negative).
    pub fn bandwidth(&self) -> Option<f64> {
        (self.ns_per_byte > 0.0).then(|| 1e9 / self.ns_per_byte)
    }

    /// Why the line should not be shown as a cost model, if it should not: a
    /// negative fixed cost is impossible, and below [`MIN_FIT_R2`] the line
    /// explains too little of how time grows with size.
    pub fn rejection(&self) -> Option<Rejection> {
        if self.fixed_ns < 0.0 {
            Some(Rejection::NegativeFixedCost)
        } else if self.r2 < MIN_FIT_R2 {
            Some(Rejection::PoorFit)
        } else {
            None
        }
    }
}

/// Why a fit is not shown as a cost model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The line's fixed cost comes out negative.
    NegativeFixedCost,
    /// R² is below [`MIN_FIT_R2`].
    PoorFit,
}

/// Fits `(size_bytes, ns)` points; `None` with fewer than two distinct sizes.
pub fn fit(points: &[(f64, f64)]) -> Option<Fit> {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let n = pts.len() as f64;
    if pts.len() < 2 {
        return None;
    }
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let ss_tot: f64 = pts.iter().map(|p| (p.1 - my).powi(2)).sum();
    let ss_res: f64 = pts
        .iter()
        .map(|p| (p.1 - (intercept + slope * p.0)).powi(2))
        .sum();
    let r2 = if ss_tot == 0.0 {
        1.0
    } else {
        1.0 - ss_res / ss_tot
    };
    Some(Fit {
        fixed_ns: intercept,
        ns_per_byte: slope,
        r2,
        points: pts.len(),
    })
}

/// Geometric mean of positive finite values.
pub fn geomean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let logs: Vec<f64> = values
        .into_iter()
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(f64::ln)
        .collect();
    (!logs.is_empty()).then(|| (logs.iter().sum::<f64>() / logs.len() as f64).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_is_exact_on_a_line() {
        // 11.2 µs fixed, 2.5 GB/s => 0.4 ns per byte.
        let pts: Vec<(f64, f64)> = [800.0, 6400.0, 51_200.0, 409_600.0]
            .iter()
            .map(|&x| (x, 11_200.0 + 0.4 * x))
            .collect();
        let f = fit(&pts).expect("fit");
        assert!((f.fixed_ns - 11_200.0).abs() < 1e-6, "{f:?}");
        assert!((f.ns_per_byte - 0.4).abs() < 1e-12, "{f:?}");
        assert!((f.r2 - 1.0).abs() < 1e-12);
        assert!((f.bandwidth().expect("bw") - 2.5e9).abs() < 1.0);
    }

    #[test]
    fn fits_that_cannot_be_cost_models_are_rejected() {
        let good = fit(&[(0.0, 10.0), (1.0, 11.0), (2.0, 12.0)]).expect("fit");
        assert_eq!(good.rejection(), None);
        let negative = fit(&[(100.0, 1.0), (200.0, 100.0), (300.0, 199.0)]).expect("fit");
        assert_eq!(negative.rejection(), Some(Rejection::NegativeFixedCost));
        let noisy = fit(&[(1.0, 1.0), (2.0, 3.0), (3.0, 2.0), (4.0, 4.0)]).expect("fit");
        assert_eq!(noisy.rejection(), Some(Rejection::PoorFit));
    }

    #[test]
    fn fit_needs_two_sizes() {
        assert!(fit(&[(800.0, 1.0)]).is_none());
        assert!(fit(&[(800.0, 1.0), (800.0, 2.0)]).is_none());
        let flat = fit(&[(1.0, 5.0), (2.0, 5.0)]).expect("fit");
        assert_eq!(flat.bandwidth(), None);
        assert_eq!(flat.r2, 1.0);
    }

    #[test]
    fn fit_r2_below_one_on_noise() {
        let f = fit(&[(1.0, 1.0), (2.0, 3.0), (3.0, 2.0), (4.0, 4.0)]).expect("fit");
        assert!(f.r2 > 0.0 && f.r2 < 1.0, "{f:?}");
    }

    #[test]
    fn geometric_mean() {
        let g = geomean([1.0, 4.0]).expect("g");
        assert!((g - 2.0).abs() < 1e-12);
        assert_eq!(geomean([0.0, f64::NAN]), None);
    }
}
