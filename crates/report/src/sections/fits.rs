//! details/fits.md: time ≈ fixed + size / bandwidth per transport, or "no
//! linear fit" with the reason where the line would lie.

use crate::sections::*;
use crate::words;
use judge::analysis::fit;
use results::index::{Index, primary_metric};
use results::schema::{Metric, Workload};

/// Every fit, grouped by workload, placement and codec.
pub fn render(d: &mut Doc, idx: &Index<'_>, py: Option<&Python<'_>>) {
    let mut any = false;
    let mut body = Doc::default();
    for (w, p, codec) in idx.groups() {
        let g = group(w, p, codec);
        let metrics = idx.metrics(g);
        let chosen: Vec<Metric> = match primary_metric(w) {
            Some(m) if metrics.contains(&m) => vec![m],
            _ => metrics,
        };
        for metric in chosen {
            let mut lines = Vec::new();
            let mut series: Vec<(String, Vec<(f64, f64)>)> = idx
                .transports(g)
                .into_iter()
                .map(|tr| {
                    let pts = idx
                        .sizes(g)
                        .into_iter()
                        .filter_map(|s| idx.ok(&tr, g, s, metric))
                        .map(|c| (c.size_bytes as f64, c.summary.p50_ns))
                        .collect();
                    (tr, pts)
                })
                .collect();
            if w == Workload::Seed
                && let Some(py) = py
            {
                for pt in py.transports_in(Workload::Seed) {
                    let pts = idx
                        .sizes(g)
                        .into_iter()
                        .filter_map(|s| py.cell_in(Workload::Seed, &pt, p, s, metric))
                        .map(|c| (c.size_bytes as f64, c.summary.p50_ns))
                        .collect();
                    series.push((format!("py {pt}"), pts));
                }
            }
            for (name, pts) in series {
                if let Some(f) = fit(&pts) {
                    let text = words::fit_rejection(&f).unwrap_or_else(|| words::fit(&f));
                    lines.push(format!("- {name}: {text}"));
                }
            }
            if !lines.is_empty() {
                any = true;
                body.para(&format!(
                    "**{w} {metric}** (placement {p}, codec {codec}):\n\n{}",
                    lines.join("\n")
                ));
            }
        }
    }
    if any {
        d.h(2, "Fits: time ≈ fixed + size / bandwidth");
        d.para(
            "Least squares over the medians at each size. The fixed part is the \
             per-message overhead; the bandwidth is the marginal cost of each extra byte. \
             R² near 1 means the straight line explains the sizes; lower means cost \
             steps (buffer limits, page faults) the line smooths over.",
        );
        d.raw(&body.out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sections::testing::{cell, results};

    #[test]
    fn a_line_that_would_lie_is_shown_as_no_linear_fit() {
        let r = results(vec![
            // 1 µs + 1 ns per byte: a clean line.
            cell("line", "pingpong", "split", 1_000, "rtt", 2_000.0),
            cell("line", "pingpong", "split", 10_000, "rtt", 11_000.0),
            cell("line", "pingpong", "split", 100_000, "rtt", 101_000.0),
            // Flat, then a cliff: the line's fixed cost comes out negative.
            cell("odd", "pingpong", "split", 1_000, "rtt", 100.0),
            cell("odd", "pingpong", "split", 10_000, "rtt", 100.0),
            cell("odd", "pingpong", "split", 100_000, "rtt", 1e6),
        ]);
        let mut d = Doc::default();
        render(&mut d, &Index::new(&r), None);
        let line = d
            .out
            .lines()
            .find(|l| l.starts_with("- line:"))
            .expect("line fit");
        assert!(line.contains("1.00 µs") && line.contains("R²"), "{line}");
        let odd = d
            .out
            .lines()
            .find(|l| l.starts_with("- odd:"))
            .expect("odd fit");
        assert!(odd.contains("no linear fit"), "{odd}");
    }
}
