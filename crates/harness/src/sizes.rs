//! Message sizes from the command line: element counts (`100`, the seed's
//! unit: int64 elements) or byte sizes with units (`8B`, `4KiB`, `1MiB`, `6.4KB`).

/// The seed notebook's sizes: `np.around(np.geomspace(100, 51200, 10))` int64 elements.
pub const SEED_ELEMENTS: [u64; 10] = [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200];

/// The default sizes in bytes.
pub fn default_sizes() -> Vec<u64> {
    SEED_ELEMENTS.iter().map(|e| e * 8).collect()
}

/// Why a size was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    /// Not a number with an optional unit.
    #[error(
        "invalid size {0:?}: expected an int64 element count (100) or bytes with a unit (8B, 4KiB, 1MiB, 6.4KB)"
    )]
    Syntax(String),
    /// Negative.
    #[error("invalid size {0:?}: sizes cannot be negative")]
    Negative(String),
    /// Not a whole number of int64 elements.
    #[error(
        "invalid size {0:?} = {1} bytes: payloads are int64 arrays, so byte sizes must be multiples of 8"
    )]
    NotWholeElements(String, u64),
    /// More than the limit.
    #[error(
        "invalid size {0:?} = {1} bytes: larger than the maximum of {2} bytes (a quarter of this machine's memory, at most 1 GiB)"
    )]
    TooLarge(String, u64, u64),
    /// Empty list.
    #[error("no sizes given")]
    Empty,
}

/// Parses one size into bytes; `max` is the largest acceptable.
pub fn parse_size(text: &str, max: u64) -> Result<u64, SizeError> {
    let t = text.trim();
    if t.starts_with('-') {
        return Err(SizeError::Negative(text.into()));
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| SizeError::Syntax(text.into()))?;
    let bytes = match unit.trim() {
        "" => {
            if num.contains('.') {
                return Err(SizeError::Syntax(text.into()));
            }
            value * 8.0
        }
        "B" => value,
        "KB" | "kB" => value * 1e3,
        "MB" => value * 1e6,
        "GB" => value * 1e9,
        "KiB" => value * 1024.0,
        "MiB" => value * 1024.0 * 1024.0,
        "GiB" => value * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(SizeError::Syntax(text.into())),
    };
    if !bytes.is_finite() || bytes > max as f64 {
        return Err(SizeError::TooLarge(
            text.into(),
            bytes.min(u64::MAX as f64) as u64,
            max,
        ));
    }
    if bytes.fract() != 0.0 {
        return Err(SizeError::Syntax(text.into()));
    }
    let bytes = bytes as u64;
    if !bytes.is_multiple_of(8) {
        return Err(SizeError::NotWholeElements(text.into(), bytes));
    }
    Ok(bytes)
}

/// Parses a comma-separated list, keeping order and dropping duplicates.
pub fn parse_list(text: &str, max: u64) -> Result<Vec<u64>, SizeError> {
    let mut out = Vec::new();
    for part in text.split(',').filter(|p| !p.trim().is_empty()) {
        let b = parse_size(part, max)?;
        if !out.contains(&b) {
            out.push(b);
        }
    }
    if out.is_empty() {
        return Err(SizeError::Empty);
    }
    Ok(out)
}

/// The largest size this machine should attempt: a quarter of physical
/// memory (sender, receiver and transport buffers all hold a copy), capped at
/// the transports' 1 GiB ceiling.
pub fn machine_max() -> u64 {
    let cap = transport::DEFAULT_MAX_MESSAGE_SIZE as u64;
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(cap, |kib| (kib * 1024 / 4).min(cap))
}

/// Human-readable bytes for messages and progress: `800 B`, `6.4 KB`, `409.6 KB`.
pub fn human(bytes: u64) -> String {
    if bytes < 1000 {
        format!("{bytes} B")
    } else if bytes < 1_000_000 {
        format!("{} KB", trim(bytes as f64 / 1e3))
    } else {
        format!("{} MB", trim(bytes as f64 / 1e6))
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u64 = 1 << 30;

    #[test]
    fn units() {
        assert_eq!(parse_size("100", MAX), Ok(800));
        assert_eq!(parse_size("0", MAX), Ok(0));
        assert_eq!(parse_size("8B", MAX), Ok(8));
        assert_eq!(parse_size("4KiB", MAX), Ok(4096));
        assert_eq!(parse_size("1MiB", MAX), Ok(1 << 20));
        assert_eq!(parse_size("6.4KB", MAX), Ok(6400));
        assert_eq!(parse_size(" 16 ", MAX), Ok(128));
    }

    #[test]
    fn rejects_bad_input_with_the_value_named() {
        for bad in ["-1", "abc", "1.5", "12XB", "", "1e3"] {
            let err = parse_size(bad, MAX).expect_err(bad);
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
        assert!(matches!(
            parse_size("12B", MAX),
            Err(SizeError::NotWholeElements(..))
        ));
        assert!(matches!(
            parse_size("2GiB", MAX),
            Err(SizeError::TooLarge(..))
        ));
        assert!(matches!(
            parse_size("99999999999999999999999", MAX),
            Err(SizeError::TooLarge(..))
        ));
    }

    #[test]
    fn large_sizes_parse_and_absurd_ones_name_the_limit() {
        assert_eq!(
            parse_list("8B,409.6KB,1MiB,4MiB,16MiB,64MiB,256MiB", MAX),
            Ok(vec![
                8,
                409_600,
                1 << 20,
                4 << 20,
                16 << 20,
                64 << 20,
                256 << 20
            ])
        );
        let e = parse_size("4GiB", MAX).expect_err("above the limit");
        assert!(
            e.to_string().contains("\"4GiB\"") && e.to_string().contains(&MAX.to_string()),
            "{e}"
        );
    }

    #[test]
    fn lists() {
        assert_eq!(parse_list("100,8B,100", MAX), Ok(vec![800, 8]));
        assert_eq!(parse_list(",", MAX), Err(SizeError::Empty));
        assert_eq!(default_sizes().len(), 10);
        assert_eq!(default_sizes()[9], 409_600);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(800), "800 B");
        assert_eq!(human(6400), "6.4 KB");
        assert_eq!(human(409_600), "409.6 KB");
        assert_eq!(human(16_000_000), "16 MB");
    }
}
