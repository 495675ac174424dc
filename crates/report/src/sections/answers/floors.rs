//! What each transport costs over the machine's floors: its smallest round
//! trip over the cache-line and bare-pipe round trips, and its largest
//! stream rate as a share of one memcpy.

use super::sizes_of;
use crate::sections::{bytes_per_s, group, headline};
use judge::contenders::row_codec;
use results::index::Index;
use results::schema::{Floors, Metric, Results, Workload};

/// One transport's cost over the machine's floors.
#[derive(Debug, Clone, PartialEq)]
pub struct FloorCost {
    pub transport: String,
    /// Smallest-size round trip ÷ the cache-line round trip.
    pub over_cacheline: Option<f64>,
    /// Smallest-size round trip ÷ the bare pipe round trip.
    pub over_pipe: Option<f64>,
    /// Batch-timed round trip ÷ the batch-timed cache-line round trip (no
    /// clock read in either loop).
    pub over_cacheline_batch: Option<f64>,
    /// Batch-timed round trip ÷ the batch-timed bare pipe round trip.
    pub over_pipe_batch: Option<f64>,
    /// Largest-size stream rate as a fraction of memcpy bandwidth.
    pub of_memcpy: Option<f64>,
}

/// The floors of the placement the floor costs are read at: pingpong's
/// primary placement, else stream's.
pub fn primary_floors<'a>(idx: &Index<'a>) -> Option<&'a Floors> {
    let r: &Results = idx.results;
    let p = idx
        .primary_placement(Workload::Pingpong)
        .or_else(|| idx.primary_placement(Workload::Stream))?;
    r.floors.iter().find(|f| f.placement == p)
}

/// Every transport against the floors of the primary placement, cheapest
/// round trip first.
pub fn floor_costs(idx: &Index<'_>) -> Vec<FloorCost> {
    let Some(f) = primary_floors(idx) else {
        return Vec::new();
    };
    let p = f.placement;
    let ping =
        row_codec(idx, Workload::Pingpong, p).map(|c| (c, sizes_of(idx, Workload::Pingpong, p)));
    let stream =
        row_codec(idx, Workload::Stream, p).map(|c| (c, sizes_of(idx, Workload::Stream, p)));
    let mut names: Vec<String> = Vec::new();
    for (w, c) in [(Workload::Pingpong, &ping), (Workload::Stream, &stream)] {
        if let Some((codec, _)) = c {
            for t in idx.transports(group(w, p, *codec)) {
                if !names.contains(&t) {
                    names.push(t);
                }
            }
        }
    }
    let mut out: Vec<FloorCost> = names
        .into_iter()
        .map(|t| {
            let rtt = ping.as_ref().and_then(|(codec, sizes)| {
                let size = *sizes.first()?;
                idx.ok(&t, group(Workload::Pingpong, p, *codec), size, Metric::Rtt)
                    .map(headline)
            });
            let rate = stream.as_ref().and_then(|(codec, sizes)| {
                let size = *sizes.last()?;
                let c = idx.ok(
                    &t,
                    group(Workload::Stream, p, *codec),
                    size,
                    Metric::Throughput,
                )?;
                let m = f.memcpy.iter().find(|m| m.size_bytes == size)?;
                bytes_per_s(c).map(|b| b / m.bytes_per_s)
            });
            let batch = ping.as_ref().and_then(|(codec, sizes)| {
                let size = *sizes.first()?;
                idx.ok(
                    &t,
                    group(Workload::Pingpong, p, *codec),
                    size,
                    Metric::RttBatch,
                )
                .map(headline)
            });
            let ratio = |x: Option<f64>, floor: Option<f64>| match (x, floor) {
                (Some(x), Some(fl)) if fl > 0.0 => Some(x / fl),
                _ => None,
            };
            FloorCost {
                over_cacheline: ratio(rtt, f.cacheline_rtt.as_ref().map(|s| s.p50_ns)),
                over_pipe: ratio(rtt, f.raw_pipe_rtt.as_ref().map(|s| s.p50_ns)),
                over_cacheline_batch: ratio(batch, f.cacheline_rtt_batch_ns),
                over_pipe_batch: ratio(batch, f.raw_pipe_rtt_batch_ns),
                of_memcpy: rate,
                transport: t,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        let key = |x: &FloorCost| x.over_pipe.or(x.over_cacheline).unwrap_or(f64::INFINITY);
        key(a).total_cmp(&key(b))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sections::testing::{cell, results};

    #[test]
    fn floor_costs_divide_by_the_runs_own_floors() {
        let r = results(vec![cell("a", "pingpong", "split", 8, "rtt", 100_000.0)]);
        let rows = floor_costs(&Index::new(&r));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].over_cacheline, Some(500.0));
        assert_eq!(rows[0].over_pipe, Some(1.25));
        assert_eq!(rows[0].of_memcpy, None);
    }
}
