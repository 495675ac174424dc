//! What a remote run (`ipcbench run --remote`) records about the link
//! between its two hosts, as entries of the environment's `extra`: the
//! harness writes them from its flags, the report's "What leaving the
//! machine costs" reads them. Files without them are still remote runs.

use crate::schema::Results;

/// The entry every remote run carries: where its consumers ran.
pub const REMOTE: &str = "remote";
/// How the two hosts are joined, in words (`--link`).
pub const LINK: &str = "link";
/// The delay added on each end of the link, in microseconds
/// (`--added-delay-us`; absent or 0: none).
pub const ADDED_DELAY_US: &str = "added_delay_us";
/// Why no run with an added delay was made beside this one
/// (`--delay-not-measured`).
pub const DELAY_NOT_MEASURED: &str = "delay_not_measured";

/// The value of environment entry `key`, if the run has it.
pub fn entry<'r>(r: &'r Results, key: &str) -> Option<&'r str> {
    r.environment
        .extra
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Whether `r` is a remote run.
pub fn is_remote(r: &Results) -> bool {
    entry(r, REMOTE).is_some()
}

/// The delay added on each end of the link, microseconds (0: none).
pub fn added_delay_us(r: &Results) -> f64 {
    entry(r, ADDED_DELAY_US)
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|d| d.is_finite() && *d > 0.0)
        .unwrap_or(0.0)
}
