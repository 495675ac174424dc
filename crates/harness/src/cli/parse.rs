//! Parsers of command-line values that several subcommands share: whole
//! numbers and percentages in a range, transports, placements and sizes. A
//! bad value is bad input ([`Usage`]) naming it and the valid ones.

use anyhow::{Result, bail};

use super::Usage;
use crate::placement::Placement;
use crate::registry::{self, Backend};
use crate::sizes;

/// A parser for a whole number in `min..=max` whose error names the value
/// and the range (clap's own says "invalid digit" for `-5`).
pub(crate) fn number_in<T>(min: T, max: T) -> impl Fn(&str) -> Result<T, String> + Clone
where
    T: std::str::FromStr + PartialOrd + Copy + std::fmt::Display,
{
    move |s: &str| {
        s.trim()
            .parse::<T>()
            .ok()
            .filter(|v| *v >= min && *v <= max)
            .ok_or_else(|| format!("{s:?} is not a whole number from {min} to {max}"))
    }
}

pub(super) fn parse_percent(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("invalid threshold {s:?}: expected a percentage such as 5"))?;
    if !(0.0..=1000.0).contains(&v) {
        return Err(format!(
            "invalid threshold {s:?}: must be between 0 and 1000 percent"
        ));
    }
    Ok(v / 100.0)
}

pub(super) fn parse_names<T>(
    given: &[String],
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for name in given.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        out.push(parse(name).map_err(Usage)?);
    }
    Ok(out)
}

pub(super) fn parse_transports(given: &[String]) -> Result<Vec<&'static Backend>> {
    if given.is_empty() {
        return Ok(registry::BACKENDS.iter().collect());
    }
    if given.iter().any(|g| g.trim() == registry::DEFAULT_GROUP) {
        let mut out = registry::default_run();
        let rest: Vec<String> = given
            .iter()
            .filter(|g| g.trim() != registry::DEFAULT_GROUP)
            .cloned()
            .collect();
        for b in parse_transports(&rest)?
            .into_iter()
            .filter(|_| !rest.is_empty())
        {
            if !out.iter().any(|o| o.name == b.name) {
                out.push(b);
            }
        }
        return Ok(out);
    }
    parse_names(given, |n| {
        registry::find(n).ok_or_else(|| {
            format!(
                "unknown transport {n:?}; valid transports: {} (or {}: those of the default run)",
                registry::names().join(", "),
                registry::DEFAULT_GROUP
            )
        })
    })
}

pub(super) fn parse_placements(given: &[String]) -> Result<Vec<Placement>> {
    let cores = crate::env::online_cpus();
    let ps = parse_names(given, str::parse::<Placement>)?;
    if let Some(p) = ps.iter().find(|p| !p.supported(cores)) {
        bail!(Usage(format!(
            "placement {p} needs 2 cores; this machine has {cores}"
        )));
    }
    if ps.is_empty() {
        bail!(Usage(
            "no placement given; valid placements: split, same, none".into()
        ));
    }
    Ok(ps)
}

pub(super) fn parse_sizes(given: Option<&str>) -> Result<Vec<u64>> {
    match given {
        None => Ok(sizes::default_sizes()),
        Some(text) => {
            sizes::parse_list(text, sizes::machine_max()).map_err(|e| Usage(e.to_string()).into())
        }
    }
}
