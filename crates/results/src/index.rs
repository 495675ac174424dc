//! Lookup and ordering of a run's cells: which workloads, placements, codecs,
//! metrics, transports and sizes exist, in the order a reader expects them.

use std::collections::HashMap;

use crate::schema::{Cell, Codec, Metric, Placement, Results, Status, Workload};

/// Whether a workload is a fanout of either mode: `fanoutN` (one channel per
/// worker) or `fanoutqN` (N workers pulling from one shared queue). Both
/// count tasks.
pub fn is_fanout(workload: Workload) -> bool {
    workload.is_fanout()
}

/// The metric a workload's answer is judged on.
pub fn primary_metric(workload: Workload) -> Option<Metric> {
    Some(workload.primary_metric())
}

/// Whether higher values are better for a figure derived from this metric's
/// rate (throughput); the summary itself is always time, lower is better.
pub fn is_throughput(metric: Metric) -> bool {
    metric.is_throughput()
}

/// The distinct values, in reading order (the types' derived order).
fn sorted<T: Ord>(it: impl Iterator<Item = T>) -> Vec<T> {
    let mut v: Vec<T> = it.collect();
    v.sort();
    v.dedup();
    v
}

fn distinct<'a>(it: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in it {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    out
}

/// The identity of a cell, borrowed.
pub type Key<'a> = (&'a str, Codec, Workload, Placement, u64, Metric);

/// A run's cells, indexed.
#[derive(Debug)]
pub struct Index<'a> {
    /// The run.
    pub results: &'a Results,
    by_key: HashMap<Key<'a>, &'a Cell>,
}

/// Cells selected for one table: a workload in one placement with one codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    /// Workload.
    pub workload: Workload,
    /// Placement.
    pub placement: Placement,
    /// Codec.
    pub codec: Codec,
}

impl<'a> Index<'a> {
    /// Indexes a run; a duplicated key keeps its first cell.
    pub fn new(results: &'a Results) -> Self {
        let mut by_key = HashMap::new();
        for c in &results.cells {
            by_key
                .entry((
                    c.transport.as_str(),
                    c.codec,
                    c.workload,
                    c.placement,
                    c.size_bytes,
                    c.metric,
                ))
                .or_insert(c);
        }
        Self { results, by_key }
    }

    /// One cell.
    pub fn get(&self, transport: &str, g: Group, size: u64, metric: Metric) -> Option<&'a Cell> {
        self.by_key
            .get(&(transport, g.codec, g.workload, g.placement, size, metric))
            .copied()
    }

    /// One cell if it produced numbers.
    pub fn ok(&self, transport: &str, g: Group, size: u64, metric: Metric) -> Option<&'a Cell> {
        self.get(transport, g, size, metric)
            .filter(|c| c.status == Status::Ok)
    }

    fn cells(&self) -> impl Iterator<Item = &'a Cell> + '_ {
        self.results.cells.iter()
    }

    /// Workloads present, in reading order.
    pub fn workloads(&self) -> Vec<Workload> {
        sorted(self.cells().map(|c| c.workload))
    }

    /// Placements present for a workload: the run's configured order first.
    pub fn placements(&self, workload: Workload) -> Vec<Placement> {
        let found = sorted(
            self.cells()
                .filter(|c| c.workload == workload)
                .map(|c| c.placement),
        );
        let mut out: Vec<Placement> = Vec::new();
        for p in self.results.config.placements.iter().chain(&found) {
            if found.contains(p) && !out.contains(p) {
                out.push(*p);
            }
        }
        out
    }

    /// The placement a short answer is given for: the first configured one
    /// that has cells, else the first found.
    pub fn primary_placement(&self, workload: Workload) -> Option<Placement> {
        self.placements(workload).into_iter().next()
    }

    /// Codecs present for a workload and placement, cheapest first.
    pub fn codecs(&self, workload: Workload, placement: Placement) -> Vec<Codec> {
        sorted(
            self.cells()
                .filter(|c| c.workload == workload && c.placement == placement)
                .map(|c| c.codec),
        )
    }

    /// Metrics present in a group.
    pub fn metrics(&self, g: Group) -> Vec<Metric> {
        sorted(self.in_group(g).map(|c| c.metric))
    }

    /// Transports present in a group, in the order the run produced them.
    pub fn transports(&self, g: Group) -> Vec<String> {
        distinct(self.in_group(g).map(|c| c.transport.as_str()))
    }

    /// Sizes present in a group, ascending.
    pub fn sizes(&self, g: Group) -> Vec<u64> {
        let mut v: Vec<u64> = self.in_group(g).map(|c| c.size_bytes).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The group's cells.
    pub fn in_group<'s>(&'s self, g: Group) -> impl Iterator<Item = &'a Cell> + 's {
        self.cells().filter(move |c| {
            c.workload == g.workload && c.placement == g.placement && c.codec == g.codec
        })
    }

    /// Every (workload, placement, codec) group, in reading order.
    pub fn groups(&self) -> Vec<(Workload, Placement, Codec)> {
        let mut out = Vec::new();
        for w in self.workloads() {
            for p in self.placements(w) {
                for c in self.codecs(w, p) {
                    out.push((w, p, c));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codecs_come_cheapest_first() {
        let cell = |codec| Cell {
            transport: "pipe".into(),
            codec,
            ..Cell::default()
        };
        let r = Results {
            cells: vec![cell(Codec::Msgpack), cell(Codec::Raw), cell(Codec::Msgpack)],
            ..Results::default()
        };
        let v = Index::new(&r).codecs(Workload::default(), Placement::default());
        assert_eq!(v, [Codec::Raw, Codec::Msgpack]);
    }

    #[test]
    fn the_primary_metric_and_fanout_follow_the_workload() {
        assert_eq!(
            primary_metric(Workload::FanoutQ(2)),
            Some(Metric::Throughput)
        );
        assert!(is_fanout(Workload::Fanout(2)) && !is_fanout(Workload::Paced(50)));
    }
}
