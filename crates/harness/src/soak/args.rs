//! The `ipcbench soak` command line.

use clap::Args;

/// `ipcbench soak` arguments.
#[derive(Debug, Args)]
pub struct SoakArgs {
    /// Total duration in minutes, shared equally by the transports (fractions allowed).
    #[arg(long, allow_hyphen_values = true, value_parser = parse_minutes)]
    pub minutes: f64,
    /// Transports, comma-separated (default: all; see `ipcbench list`).
    #[arg(long, value_delimiter = ',')]
    pub transport: Vec<String>,
    /// Payload sizes streamed in turn (same syntax as `run --sizes`).
    #[arg(long, default_value = "100,800,6400,51200")]
    pub sizes: String,
    /// Where producer and consumer run: split, same or none.
    #[arg(long, default_value = "split")]
    pub placement: String,
    /// Kill a pair that finishes no size within this many seconds.
    #[arg(long, default_value_t = 60, allow_hyphen_values = true, value_parser = crate::cli::number_in(1u64, 86_400))]
    pub stall_timeout: u64,
}

fn parse_minutes(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| *v > 0.0 && *v <= 10_080.0)
        .ok_or_else(|| {
            format!(
                "invalid duration {s:?}: minutes, more than 0 and at most 10080 minutes (a week), such as 10 or 0.5"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_are_validated_with_the_range() {
        assert_eq!(parse_minutes("0.5"), Ok(0.5));
        for bad in ["0", "-1", "abc", "nan", "20000"] {
            let e = parse_minutes(bad).expect_err(bad);
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }
}
