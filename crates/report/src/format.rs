//! Number formatting shared by every table and plot: three significant
//! figures, one unit chosen per column, decimal (SI) byte units.
//!
//! Convention: sizes and rates use decimal units (1 KB = 1000 B, 1 GB/s =
//! 10⁹ B/s), because the seed's sizes (100 × 8 B … 51 200 × 8 B) come out
//! exact that way (800 B … 409.6 KB).

/// Placeholder for a value that is absent (missing cell, undefined ratio).
pub const MISSING: &str = "–";

/// Rounds to `digits` significant figures.
pub fn round_sig(x: f64, digits: u32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let magnitude = x.abs().log10().floor() as i32;
    let scale = 10f64.powi(digits as i32 - 1 - magnitude);
    (x * scale).round() / scale
}

/// `x` with three significant figures: `0.00123`, `1.23`, `12.3`, `123`,
/// `1230`. Non-finite values print as `–`.
pub fn sig3(x: f64) -> String {
    if !x.is_finite() {
        return MISSING.to_owned();
    }
    if x == 0.0 {
        return "0".to_owned();
    }
    let r = round_sig(x, 3);
    // Decimals follow the rounded value so 999.6 prints as "1000", not "1000.0".
    let magnitude = r.abs().log10().floor() as i32;
    let decimals = (2 - magnitude).max(0) as usize;
    format!("{r:.decimals$}")
}

/// A unit of time; values are stored in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// Nanoseconds.
    Ns,
    /// Microseconds.
    Us,
    /// Milliseconds.
    Ms,
    /// Seconds.
    S,
}

impl TimeUnit {
    /// The largest unit in which `ns` is at least 1.
    pub fn for_value(ns: f64) -> Self {
        let a = ns.abs();
        if a < 1e3 {
            Self::Ns
        } else if a < 1e6 {
            Self::Us
        } else if a < 1e9 {
            Self::Ms
        } else {
            Self::S
        }
    }

    /// One unit for a whole column: the unit of the column's median value, so
    /// most numbers read between 1 and 1000 and outliers stay legible.
    pub fn for_column(values: impl IntoIterator<Item = f64>) -> Self {
        median(values).map_or(Self::Us, Self::for_value)
    }

    /// Nanoseconds per unit.
    pub fn ns(self) -> f64 {
        match self {
            Self::Ns => 1.0,
            Self::Us => 1e3,
            Self::Ms => 1e6,
            Self::S => 1e9,
        }
    }

    /// The unit's symbol.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ns => "ns",
            Self::Us => "µs",
            Self::Ms => "ms",
            Self::S => "s",
        }
    }

    /// `ns` in this unit, three significant figures, without the symbol.
    pub fn fmt(self, ns: f64) -> String {
        sig3(ns / self.ns())
    }
}

/// A time with its own unit: `412 ns`, `11.2 µs`, `1.05 ms`.
pub fn fmt_time(ns: f64) -> String {
    if !ns.is_finite() {
        return MISSING.to_owned();
    }
    let unit = TimeUnit::for_value(round_sig(ns, 3));
    format!("{} {}", unit.fmt(ns), unit.label())
}

/// A unit of bandwidth (bytes per second, decimal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateUnit {
    /// Bytes per second.
    Bps,
    /// 10³ bytes per second.
    KBps,
    /// 10⁶ bytes per second.
    MBps,
    /// 10⁹ bytes per second.
    GBps,
}

impl RateUnit {
    /// The largest unit in which `bps` is at least 1.
    pub fn for_value(bps: f64) -> Self {
        let a = bps.abs();
        if a < 1e3 {
            Self::Bps
        } else if a < 1e6 {
            Self::KBps
        } else if a < 1e9 {
            Self::MBps
        } else {
            Self::GBps
        }
    }

    /// One unit for a whole column (see [`TimeUnit::for_column`]).
    pub fn for_column(values: impl IntoIterator<Item = f64>) -> Self {
        median(values).map_or(Self::GBps, Self::for_value)
    }

    /// Bytes per second per unit.
    pub fn scale(self) -> f64 {
        match self {
            Self::Bps => 1.0,
            Self::KBps => 1e3,
            Self::MBps => 1e6,
            Self::GBps => 1e9,
        }
    }

    /// The unit's symbol.
    pub fn label(self) -> &'static str {
        match self {
            Self::Bps => "B/s",
            Self::KBps => "KB/s",
            Self::MBps => "MB/s",
            Self::GBps => "GB/s",
        }
    }

    /// `bps` in this unit, three significant figures, without the symbol.
    pub fn fmt(self, bps: f64) -> String {
        sig3(bps / self.scale())
    }
}

/// A bandwidth with its own unit: `2.31 GB/s`, `512 MB/s`.
pub fn fmt_rate(bps: f64) -> String {
    if !bps.is_finite() {
        return MISSING.to_owned();
    }
    let unit = RateUnit::for_value(round_sig(bps, 3));
    format!("{} {}", unit.fmt(bps), unit.label())
}

/// A decimal prefix for plain counts (messages per second).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountUnit {
    /// Units.
    One,
    /// Thousands.
    K,
    /// Millions.
    M,
    /// Billions.
    G,
}

impl CountUnit {
    /// The largest prefix in which `x` is at least 1.
    pub fn for_value(x: f64) -> Self {
        let a = x.abs();
        if a < 1e3 {
            Self::One
        } else if a < 1e6 {
            Self::K
        } else if a < 1e9 {
            Self::M
        } else {
            Self::G
        }
    }

    /// One prefix for a whole column.
    pub fn for_column(values: impl IntoIterator<Item = f64>) -> Self {
        median(values).map_or(Self::One, Self::for_value)
    }

    /// Multiplier of the prefix.
    pub fn scale(self) -> f64 {
        match self {
            Self::One => 1.0,
            Self::K => 1e3,
            Self::M => 1e6,
            Self::G => 1e9,
        }
    }

    /// The prefix as written before a unit (`k msg/s`); empty for units.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::One => "",
            Self::K => "k ",
            Self::M => "M ",
            Self::G => "G ",
        }
    }

    /// `x` with this prefix, three significant figures.
    pub fn fmt(self, x: f64) -> String {
        sig3(x / self.scale())
    }
}

/// A payload size, exact to the byte up to 1 MB: `8 B`, `800 B`, `6.4 KB`,
/// `65.536 KB`, `409.6 KB`, `16 MB`.
pub fn fmt_bytes(bytes: u64) -> String {
    let (value, unit) = if bytes < 1_000 {
        return format!("{bytes} B");
    } else if bytes < 1_000_000 {
        (bytes as f64 / 1e3, "KB")
    } else if bytes < 1_000_000_000 {
        (bytes as f64 / 1e6, "MB")
    } else {
        (bytes as f64 / 1e9, "GB")
    };
    let s = format!("{value:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s} {unit}")
}

/// A ratio as a multiple: `1.21x`, `63.2x`.
pub fn fmt_multiple(ratio: f64) -> String {
    if !ratio.is_finite() {
        return MISSING.to_owned();
    }
    format!("{}x", sig3(ratio))
}

/// A fraction as a percentage: `41.2%`.
pub fn fmt_percent(fraction: f64) -> String {
    if !fraction.is_finite() {
        return MISSING.to_owned();
    }
    format!("{}%", sig3(fraction * 100.0))
}

/// A signed percentage change: `+12.3%`, `-4.10%`, `0%`.
pub fn fmt_change(fraction: f64) -> String {
    if !fraction.is_finite() {
        return MISSING.to_owned();
    }
    let s = sig3(fraction * 100.0);
    if fraction > 0.0 {
        format!("+{s}%")
    } else {
        format!("{s}%")
    }
}

/// Median of finite values, `None` if there are none.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_significant_figures() {
        assert_eq!(sig3(0.0), "0");
        assert_eq!(sig3(1.0), "1.00");
        assert_eq!(sig3(1.23456), "1.23");
        assert_eq!(sig3(12.3456), "12.3");
        assert_eq!(sig3(123.456), "123");
        assert_eq!(sig3(1234.56), "1230");
        assert_eq!(sig3(0.0012345), "0.00123");
        assert_eq!(sig3(999.6), "1000");
        assert_eq!(sig3(9.996), "10.0");
        assert_eq!(sig3(-2.5), "-2.50");
        assert_eq!(sig3(f64::NAN), "–");
        assert_eq!(sig3(f64::INFINITY), "–");
    }

    #[test]
    fn times_pick_their_unit() {
        assert_eq!(fmt_time(412.0), "412 ns");
        assert_eq!(fmt_time(11_200.0), "11.2 µs");
        assert_eq!(fmt_time(999_999.0), "1.00 ms");
        assert_eq!(fmt_time(1_050_000.0), "1.05 ms");
        assert_eq!(fmt_time(2.5e9), "2.50 s");
        assert_eq!(TimeUnit::Us.fmt(196.0), "0.196");
        assert_eq!(TimeUnit::Us.label(), "µs");
    }

    #[test]
    fn column_unit_follows_the_median() {
        let unit = TimeUnit::for_column([200.0, 3_000.0, 89_000.0]);
        assert_eq!(unit, TimeUnit::Us);
        assert_eq!(TimeUnit::for_column([]), TimeUnit::Us);
        assert_eq!(RateUnit::for_column([2e8, 3e8, 2e9]), RateUnit::MBps);
        assert_eq!(CountUnit::for_column([2e5]), CountUnit::K);
    }

    #[test]
    fn rates_and_counts() {
        assert_eq!(fmt_rate(2.31e9), "2.31 GB/s");
        assert_eq!(fmt_rate(512e6), "512 MB/s");
        assert_eq!(fmt_rate(999.9e6), "1.00 GB/s");
        assert_eq!(CountUnit::K.fmt(282_345.0), "282");
        assert_eq!(CountUnit::M.prefix(), "M ");
    }

    #[test]
    fn sizes_are_exact_decimal() {
        assert_eq!(fmt_bytes(8), "8 B");
        assert_eq!(fmt_bytes(800), "800 B");
        assert_eq!(fmt_bytes(1000), "1 KB");
        assert_eq!(fmt_bytes(6400), "6.4 KB");
        assert_eq!(fmt_bytes(65_536), "65.536 KB");
        assert_eq!(fmt_bytes(409_600), "409.6 KB");
        assert_eq!(fmt_bytes(16_000_000), "16 MB");
        assert_eq!(fmt_bytes(1_048_576), "1.049 MB");
    }

    #[test]
    fn ratios_and_changes() {
        assert_eq!(fmt_multiple(1.2149), "1.21x");
        assert_eq!(fmt_multiple(f64::INFINITY), "–");
        assert_eq!(fmt_percent(0.4123), "41.2%");
        assert_eq!(fmt_change(0.123), "+12.3%");
        assert_eq!(fmt_change(-0.041), "-4.10%");
        assert_eq!(fmt_change(0.0), "0%");
    }

    #[test]
    fn medians() {
        assert_eq!(median([3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median([4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median([f64::NAN]), None);
    }
}
