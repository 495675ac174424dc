//! Which cells contend in an answer row, and the row's verdict: the one
//! rule the README's answer tables, the audit and the comparison of two
//! runs share, so a row counted by the audit is the row a reader sees.

use results::index::{Group, Index};
use results::schema::{Cell, Codec, Metric, Placement, Results, Workload};

use crate::verdict::{Verdict, by_backend, verdict};

/// Suffix of a shared-queue fanout contender's name in a fanout row.
pub const ONE_QUEUE: &str = " (one queue)";

/// An answer row: one workload at one placement, size and metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// The workload; a shared-queue fanout (`fanoutqN`) contends in the
    /// `fanoutN` row, so a row's workload is never `fanoutqN`.
    pub workload: Workload,
    /// Placement.
    pub placement: Placement,
    /// Message size, bytes.
    pub size: u64,
    /// The metric judged.
    pub metric: Metric,
}

/// The codec a workload's rows are judged in at a placement: the cheapest
/// it ran there ([`Index::codecs`] order, so `raw` whenever it ran).
pub fn row_codec(idx: &Index<'_>, workload: Workload, placement: Placement) -> Option<Codec> {
    idx.codecs(workload, placement).into_iter().next()
}

/// Every transport of the row's workload at its placement, size and metric
/// in the row's codec (see [`row_codec`]), in the order the run produced
/// them; a fanout row also has the same worker count's shared-queue
/// contenders (`fanoutqN`: N workers pulling from one queue, in their own
/// cheapest codec), named "NAME (one queue)", since they answer the same
/// question another way. Failed cells contend too: the verdict reports them.
pub fn contenders<'a>(idx: &Index<'a>, row: Row) -> Vec<(String, &'a Cell)> {
    let mut out = Vec::new();
    let mut add = |workload: Workload, suffix: &str| {
        let Some(codec) = row_codec(idx, workload, row.placement) else {
            return;
        };
        let g = Group {
            workload,
            placement: row.placement,
            codec,
        };
        for t in idx.transports(g) {
            if let Some(c) = idx.get(&t, g, row.size, row.metric) {
                out.push((format!("{t}{suffix}"), c));
            }
        }
    };
    add(row.workload, "");
    if let Workload::Fanout(n) = row.workload {
        add(Workload::FanoutQ(n), ONE_QUEUE);
    }
    out
}

/// The row's verdict: the contenders judged by [`verdict`], then read again
/// by backend ([`by_backend`]), as every answer table gives it.
pub fn row_verdict<'a>(
    results: &Results,
    contenders: impl IntoIterator<Item = (&'a str, &'a Cell)>,
) -> Verdict {
    by_backend(verdict(contenders), |t| results.backend_of(t).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::tests::{cell, results};

    fn names(v: &[(String, &Cell)]) -> Vec<String> {
        v.iter().map(|(n, _)| n.clone()).collect()
    }

    #[test]
    fn a_row_takes_its_cheapest_codec_and_the_shared_queue_contenders() {
        let mut cells = vec![
            cell("a", &[1.0, 2.0, 3.0]),
            cell("b", &[1.0, 2.0, 3.0]),
            cell("q", &[1.0, 2.0, 3.0]),
        ];
        // b also ran bincode: another codec is another row's contender.
        let mut encoded = cell("b", &[1.0, 2.0, 3.0]);
        encoded.codec = Codec::Bincode;
        cells.push(encoded);
        for c in &mut cells {
            c.workload = Workload::Fanout(4);
            c.metric = Metric::Throughput;
        }
        cells[2].workload = Workload::FanoutQ(4);
        let r = results(cells);
        let idx = Index::new(&r);
        let row = Row {
            workload: Workload::Fanout(4),
            placement: Placement::Split,
            size: 8,
            metric: Metric::Throughput,
        };
        let v = contenders(&idx, row);
        assert_eq!(names(&v), ["a", "b", "q (one queue)"]);
        assert!(v.iter().all(|(_, c)| c.codec == Codec::Raw));
        // Another size or metric has none.
        assert!(contenders(&idx, Row { size: 800, ..row }).is_empty());
    }

    #[test]
    fn without_raw_a_row_is_judged_in_the_cheapest_codec_that_ran() {
        let mut c = cell("mp-queue", &[1.0, 2.0, 3.0]);
        c.codec = Codec::Pickle;
        let r = results(vec![c]);
        let row = Row {
            workload: Workload::Pingpong,
            placement: Placement::Split,
            size: 8,
            metric: Metric::Rtt,
        };
        assert_eq!(names(&contenders(&Index::new(&r), row)), ["mp-queue"]);
    }
}
