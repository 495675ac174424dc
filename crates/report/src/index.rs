//! Lookup and ordering of a run's cells: which workloads, placements, codecs,
//! metrics, transports and sizes exist, in the order a reader expects them.

use std::collections::HashMap;

use crate::schema::{Cell, Results, Status};

/// Workload families in reading order; within a family, by parameter
/// (`fanout1`, `fanout2`, `fanout4`); others follow alphabetically.
const WORKLOAD_ORDER: &[&str] = &["seed", "pingpong", "stream", "fanout", "fanoutq", "paced"];
/// Codecs cheapest first; others follow alphabetically.
const CODEC_ORDER: &[&str] = &["raw", "bincode", "msgpack", "pickle"];
/// Placements as documented; others follow alphabetically.
const PLACEMENT_ORDER: &[&str] = &["split", "same", "none"];
/// Metrics in reading order; others follow alphabetically.
const METRIC_ORDER: &[&str] = &[
    "total",
    "put",
    "get",
    "encode",
    "decode",
    "rtt",
    "throughput",
    "latency",
    "oneway",
];

/// A workload name split into its family and numeric parameter:
/// `fanout4` → (`fanout`, 4), `paced80` → (`paced`, 80), `seed` → (`seed`, None).
pub fn family(workload: &str) -> (&str, Option<u32>) {
    let digits = workload.len()
        - workload
            .bytes()
            .rev()
            .take_while(u8::is_ascii_digit)
            .count();
    let (name, n) = workload.split_at(digits);
    match n.parse() {
        Ok(n) if !name.is_empty() => (name, Some(n)),
        _ => (workload, None),
    }
}

/// Whether a workload is a fanout of either mode: `fanoutN` (one channel per
/// worker) or `fanoutqN` (N workers pulling from one shared queue). Both
/// count tasks.
pub fn is_fanout(workload: &str) -> bool {
    matches!(family(workload).0, "fanout" | "fanoutq")
}

/// The metric a workload's answer is judged on.
pub fn primary_metric(workload: &str) -> Option<&'static str> {
    match family(workload).0 {
        "seed" => Some("total"),
        "pingpong" => Some("rtt"),
        "stream" | "fanout" | "fanoutq" => Some("throughput"),
        "paced" => Some("latency"),
        _ => None,
    }
}

/// What a metric measures, for headings (after the metric's name).
pub fn describe_metric(workload: &str, metric: &str) -> String {
    match (workload, metric) {
        (_, "total") => "put + get".to_owned(),
        (_, "put") => "duration of the send call".to_owned(),
        (_, "get") => "from send return to the consumer holding the decoded payload".to_owned(),
        (_, "encode") => "serialising the payload".to_owned(),
        (_, "decode") => "deserialising the payload".to_owned(),
        (_, "rtt") => "round trip of a message echoed back".to_owned(),
        ("stream", "throughput") => "payload rate with the producer flooding".to_owned(),
        ("stream", "oneway") => {
            "one-way latency under saturation: queueing time, not a latency floor".to_owned()
        }
        _ => match (family(workload), metric) {
            (("fanout", Some(n)), "throughput") => format!(
                "tasks per second handed to {n} worker process{}, one task in flight per worker",
                if n == 1 { "" } else { "es" }
            ),
            (("fanoutq", Some(n)), "throughput") => format!(
                "tasks per second handed to {n} worker process{} pulling from one shared queue, \
                 {n} task{} in flight",
                if n == 1 { "" } else { "es" },
                if n == 1 { "" } else { "s" }
            ),
            (("fanout" | "fanoutq", _), "latency") => {
                "from the producer's send to the worker holding the task".to_owned()
            }
            (("paced", Some(p)), "latency") => format!(
                "open loop at {p}% of the stream rate: from the intended send time to the \
                 consumer holding the message"
            ),
            (_, m) => m.to_owned(),
        },
    }
}

/// Whether higher values are better for a figure derived from this metric's
/// rate (throughput); the summary itself is always time, lower is better.
pub fn is_throughput(metric: &str) -> bool {
    metric == "throughput"
}

fn order(known: &[&str], mut found: Vec<String>) -> Vec<String> {
    found.sort_by(|a, b| {
        let pa = known.iter().position(|k| k == a).unwrap_or(known.len());
        let pb = known.iter().position(|k| k == b).unwrap_or(known.len());
        pa.cmp(&pb).then_with(|| a.cmp(b))
    });
    found.dedup();
    found
}

/// Workloads ordered by family, then parameter.
fn order_workloads(mut found: Vec<String>) -> Vec<String> {
    found.sort_by(|a, b| {
        let key = |w: &String| {
            let (f, n) = family(w);
            let known = WORKLOAD_ORDER.iter().position(|k| *k == f);
            // Unknown families sort after known ones, by whole name.
            (
                known.unwrap_or(WORKLOAD_ORDER.len()),
                known.map(|_| n),
                w.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    found.dedup();
    found
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
pub type Key<'a> = (&'a str, &'a str, &'a str, &'a str, u64, &'a str);

/// A run's cells, indexed.
#[derive(Debug)]
pub struct Index<'a> {
    /// The run.
    pub results: &'a Results,
    by_key: HashMap<Key<'a>, &'a Cell>,
}

/// Cells selected for one table: a workload in one placement with one codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group<'a> {
    /// Workload.
    pub workload: &'a str,
    /// Placement.
    pub placement: &'a str,
    /// Codec.
    pub codec: &'a str,
}

impl<'a> Index<'a> {
    /// Indexes a run; a duplicated key keeps its first cell.
    pub fn new(results: &'a Results) -> Self {
        let mut by_key = HashMap::new();
        for c in &results.cells {
            by_key
                .entry((
                    c.transport.as_str(),
                    c.codec.as_str(),
                    c.workload.as_str(),
                    c.placement.as_str(),
                    c.size_bytes,
                    c.metric.as_str(),
                ))
                .or_insert(c);
        }
        Self { results, by_key }
    }

    /// One cell.
    pub fn get(&self, transport: &str, g: Group<'_>, size: u64, metric: &str) -> Option<&'a Cell> {
        self.by_key
            .get(&(transport, g.codec, g.workload, g.placement, size, metric))
            .copied()
    }

    /// One cell if it produced numbers.
    pub fn ok(&self, transport: &str, g: Group<'_>, size: u64, metric: &str) -> Option<&'a Cell> {
        self.get(transport, g, size, metric)
            .filter(|c| c.status == Status::Ok)
    }

    fn cells(&self) -> impl Iterator<Item = &'a Cell> + '_ {
        self.results.cells.iter()
    }

    /// Workloads present, in reading order.
    pub fn workloads(&self) -> Vec<String> {
        order_workloads(distinct(self.cells().map(|c| c.workload.as_str())))
    }

    /// Placements present for a workload: the run's configured order first.
    pub fn placements(&self, workload: &str) -> Vec<String> {
        let found = distinct(
            self.cells()
                .filter(|c| c.workload == workload)
                .map(|c| c.placement.as_str()),
        );
        let mut out: Vec<String> = self
            .results
            .config
            .placements
            .iter()
            .filter(|p| found.contains(p))
            .cloned()
            .collect();
        let rest: Vec<String> = found.into_iter().filter(|p| !out.contains(p)).collect();
        out.extend(order(PLACEMENT_ORDER, rest));
        out
    }

    /// The placement a short answer is given for: the first configured one
    /// that has cells, else the first found.
    pub fn primary_placement(&self, workload: &str) -> Option<String> {
        self.placements(workload).into_iter().next()
    }

    /// Codecs present for a workload and placement.
    pub fn codecs(&self, workload: &str, placement: &str) -> Vec<String> {
        order(
            CODEC_ORDER,
            distinct(
                self.cells()
                    .filter(|c| c.workload == workload && c.placement == placement)
                    .map(|c| c.codec.as_str()),
            ),
        )
    }

    /// Metrics present in a group.
    pub fn metrics(&self, g: Group<'_>) -> Vec<String> {
        order(
            METRIC_ORDER,
            distinct(self.in_group(g).map(|c| c.metric.as_str())),
        )
    }

    /// Transports present in a group, in the order the run produced them.
    pub fn transports(&self, g: Group<'_>) -> Vec<String> {
        distinct(self.in_group(g).map(|c| c.transport.as_str()))
    }

    /// Sizes present in a group, ascending.
    pub fn sizes(&self, g: Group<'_>) -> Vec<u64> {
        let mut v: Vec<u64> = self.in_group(g).map(|c| c.size_bytes).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The group's cells.
    pub fn in_group<'s>(&'s self, g: Group<'s>) -> impl Iterator<Item = &'a Cell> + 's {
        self.cells().filter(move |c| {
            c.workload == g.workload && c.placement == g.placement && c.codec == g.codec
        })
    }

    /// Every (workload, placement, codec) group, in reading order.
    pub fn groups(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for w in self.workloads() {
            for p in self.placements(&w) {
                for c in self.codecs(&w, &p) {
                    out.push((w.clone(), p.clone(), c));
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
    fn known_names_come_first_in_their_order() {
        let v = order(
            CODEC_ORDER,
            vec!["zz".into(), "msgpack".into(), "raw".into(), "aa".into()],
        );
        assert_eq!(v, ["raw", "msgpack", "aa", "zz"]);
    }

    #[test]
    fn workloads_sort_by_family_then_parameter() {
        let v = order_workloads(
            [
                "paced80", "fanout4", "zz", "fanout16", "seed", "paced50", "fanoutq4", "fanout2",
                "stream", "fanoutq1",
            ]
            .map(String::from)
            .to_vec(),
        );
        assert_eq!(
            v,
            [
                "seed", "stream", "fanout2", "fanout4", "fanout16", "fanoutq1", "fanoutq4",
                "paced50", "paced80", "zz"
            ]
        );
        assert_eq!(family("fanout4"), ("fanout", Some(4)));
        assert_eq!(family("fanoutq4"), ("fanoutq", Some(4)));
        assert!(is_fanout("fanout2") && is_fanout("fanoutq2") && !is_fanout("paced50"));
        assert!(describe_metric("fanoutq4", "throughput").contains("one shared queue"));
        assert_eq!(primary_metric("fanoutq2"), Some("throughput"));
        assert_eq!(family("seed"), ("seed", None));
        assert_eq!(family("42"), ("42", None));
    }
}
