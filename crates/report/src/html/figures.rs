//! The figures index.html draws, collected from a run as plain data: per
//! headline workload, medians with interval bars across sizes in small
//! multiples per transport family, and latency distributions (percentile
//! spectra) of the headline cells; Python beside the transports where it ran.

use crate::sections::{Python, group, headline, headline_interval, python_has};
use judge::thresholds::BACKLOG_INTERVALS;
use results::index::{Index, is_throughput, primary_metric};
use results::schema::{Cell, Status};
use results::schema::{Codec, Metric, Placement, Workload};

use super::chart::{self, Figure, Panel, Point, Series, XKind, YKind};

/// A transport's family for the small multiples: its name up to the first
/// `-` (`shm-spin` → `shm`), as the registry names variants of one backend.
pub fn transport_family(name: &str) -> &str {
    name.split('-').next().unwrap_or(name)
}

/// Transports grouped into panels by family; families of one transport
/// share an "other" panel so no panel holds a single line.
pub fn panels_of(transports: &[String]) -> Vec<(String, Vec<String>)> {
    let mut fams: Vec<(String, Vec<String>)> = Vec::new();
    for t in transports {
        let f = transport_family(t).to_owned();
        match fams.iter_mut().find(|(n, _)| *n == f) {
            Some((_, v)) => v.push(t.clone()),
            None => fams.push((f, vec![t.clone()])),
        }
    }
    let (mut many, single): (Vec<_>, Vec<_>) = fams.into_iter().partition(|(_, v)| v.len() > 1);
    let rest: Vec<String> = single.into_iter().flat_map(|(_, v)| v).collect();
    match rest.len() {
        0 => {}
        1 => many.push((rest[0].clone(), rest)),
        _ => many.push(("other".to_owned(), rest)),
    }
    many
}

fn y_kind(workload: Workload, metric: Metric) -> YKind {
    if !is_throughput(metric) {
        YKind::Time
    } else if results::index::is_fanout(workload) {
        YKind::PerSecond
    } else {
        YKind::Rate
    }
}

/// A cell as a point: its median and the median's interval, in the
/// figure's unit (rates invert the time per message, so the bounds swap).
pub fn point(c: &Cell, y: YKind) -> Option<Point> {
    let m = headline(c);
    if c.status != Status::Ok || !(m > 0.0 && m.is_finite()) {
        return None;
    }
    let ci = headline_interval(c).filter(|(lo, _)| *lo > 0.0);
    let conv = |ns: f64| match y {
        YKind::Time => ns,
        YKind::Rate => c.size_bytes as f64 * 1e9 / ns,
        YKind::PerSecond => 1e9 / ns,
    };
    let (lo, hi) = match (ci, y) {
        (None, _) => (None, None),
        (Some((l, h)), YKind::Time) => (Some(l), Some(h)),
        (Some((l, h)), _) => (Some(conv(h)), Some(conv(l))),
    };
    let backlog = c
        .offered_msgs_per_s
        .is_some_and(|r| r > 0.0 && c.summary.p50_ns > BACKLOG_INTERVALS * 1e9 / r);
    Some(Point {
        x: c.size_bytes as f64,
        y: conv(m),
        lo,
        hi,
        mark: if backlog {
            Some("⚠")
        } else if c.note.is_some() {
            Some("†")
        } else {
            None
        },
    })
}

/// Medians across sizes for one workload, placement and codec.
pub fn sizes_figure(
    idx: &Index<'_>,
    py: Option<&Python<'_>>,
    w: Workload,
    p: Placement,
    codec: Codec,
) -> Option<Figure> {
    let metric = primary_metric(w)?;
    let g = group(w, p, codec);
    let y = y_kind(w, metric);
    let sizes = idx.sizes(g);
    let series_of = |name: String, cells: Vec<&Cell>, reference: bool| Series {
        name,
        reference,
        points: cells.into_iter().filter_map(|c| point(c, y)).collect(),
    };
    let mut refs: Vec<Series> = Vec::new();
    if python_has(w)
        && let Some(py) = py
        && py.idx.placements(w).contains(&p)
    {
        for pt in py.transports_in(w) {
            let cells = sizes
                .iter()
                .filter_map(|&s| py.cell_in(w, &pt, p, s, metric))
                .collect();
            let s = series_of(format!("py {pt}"), cells, true);
            if !s.points.is_empty() {
                refs.push(s);
            }
        }
    }
    let mut failed: Vec<String> = Vec::new();
    let panels = panels_of(&idx.transports(g))
        .into_iter()
        .map(|(title, members)| {
            let mut series: Vec<Series> = members
                .into_iter()
                .map(|t| {
                    let cells: Vec<&Cell> = sizes
                        .iter()
                        .filter_map(|&s| idx.get(&t, g, s, metric))
                        .inspect(|c| {
                            if c.status == Status::Failed {
                                failed.push(format!(
                                    "{t} at {}",
                                    crate::format::fmt_bytes(c.size_bytes)
                                ));
                            }
                        })
                        .collect();
                    series_of(t, cells, false)
                })
                .collect();
            series.extend(refs.iter().cloned());
            Panel { title, series }
        })
        .collect();
    let what = match y {
        YKind::Time => "median with its 95% interval",
        YKind::Rate => "payload rate at the median time per message, with its 95% interval",
        YKind::PerSecond => "tasks per second at the median time per task, with its 95% interval",
    };
    let mut caption = format!(
        "{w} {metric}, placement {p}, codec {codec}: {what}, per transport family on shared \
         axes. † deviates from the run's settings, ⚠ did not keep up (backlog)."
    );
    if !refs.is_empty() {
        caption.push_str(" Dashed grey: the Python baseline.");
    }
    if !failed.is_empty() {
        caption.push_str(&format!(" Failed (not drawn): {}.", failed.join(", ")));
    }
    Some(Figure {
        id: format!("sizes-{w}-{p}-{codec}"),
        title: format!("{w}: {metric} against size ({p}, {codec})"),
        y_range: None,
        caption,
        x: XKind::Size,
        y,
        x_label: "payload bytes (log scale)".into(),
        panels,
    })
}

/// x position of a quantile on the "nines" axis.
fn nines(q: f64) -> f64 {
    if q >= 1.0 {
        super::chart::MAX_AT
    } else {
        (-(1.0 - q).log10()).min(4.4)
    }
}

/// A cell's latency distribution as (nines, ns) points: the recorded
/// percentile series, or the summary's percentiles for older files.
pub fn spectrum(c: &Cell) -> Vec<Point> {
    let s = &c.summary;
    let pairs: Vec<(f64, f64)> = if c.percentiles.is_empty() {
        vec![
            (0.0, s.min_ns),
            (0.5, s.p50_ns),
            (0.9, s.p90_ns),
            (0.99, s.p99_ns),
            (0.999, s.p999_ns),
            (1.0, s.max_ns),
        ]
    } else {
        c.percentiles.clone()
    };
    pairs
        .into_iter()
        .filter(|(_, ns)| *ns > 0.0 && ns.is_finite())
        .map(|(q, ns)| Point {
            x: nines(q),
            y: ns,
            lo: None,
            hi: None,
            mark: None,
        })
        .collect()
}

/// The latency distribution of one workload's cells at its smallest size.
pub fn distribution_figure(
    idx: &Index<'_>,
    py: Option<&Python<'_>>,
    w: Workload,
    metric: Metric,
) -> Option<Figure> {
    let p = idx.primary_placement(w)?;
    let codec = idx.codecs(w, p).into_iter().next()?;
    let g = group(w, p, codec);
    let size = *idx.sizes(g).first()?;
    let mut refs = Vec::new();
    if python_has(w)
        && let Some(py) = py
        && py.idx.placements(w).contains(&p)
    {
        for pt in py.transports_in(w) {
            if let Some(c) = py.cell_in(w, &pt, p, size, metric) {
                refs.push(Series {
                    name: format!("py {pt}"),
                    reference: true,
                    points: spectrum(c),
                });
            }
        }
    }
    let panels: Vec<Panel> = panels_of(&idx.transports(g))
        .into_iter()
        .map(|(title, members)| {
            let mut series: Vec<Series> = members
                .into_iter()
                .filter_map(|t| {
                    let c = idx.ok(&t, g, size, metric)?;
                    Some(Series {
                        name: t,
                        reference: false,
                        points: spectrum(c),
                    })
                })
                .collect();
            series.extend(refs.iter().cloned());
            Panel { title, series }
        })
        .collect();
    let size = crate::format::fmt_bytes(size);
    Some(Figure {
        id: format!("dist-{w}-{metric}"),
        y_range: None,
        title: format!("{w} {metric} at {size}: latency distribution ({p})"),
        caption: format!(
            "Percentile spectrum of every message of every trial, {w} {metric} at {size}, \
             placement {p}: x runs from the fastest message through p90, p99, p99.9 and \
             p99.99 to the slowest; both axes logarithmic. A flat line is a steady \
             transport; a late rise is its tail."
        ),
        x: XKind::Nines,
        y: YKind::Time,
        x_label: "percentile (log scale of 1 − q)".into(),
        panels,
    })
}

/// Figures of one workload family share their y range (fanout 1, 2 and 4
/// workers read side by side).
fn share_y(figs: &mut [Figure]) {
    for f in family_names(figs) {
        let ext: Vec<(f64, f64)> = figs
            .iter()
            .filter(|g| fig_family(g) == f)
            .filter_map(chart::y_extent)
            .collect();
        let lo = ext.iter().map(|e| e.0).reduce(f64::min);
        let hi = ext.iter().map(|e| e.1).reduce(f64::max);
        if let (Some(lo), Some(hi)) = (lo, hi) {
            for g in figs.iter_mut().filter(|g| fig_family(g) == f) {
                g.y_range = Some((lo, hi));
            }
        }
    }
}

/// `sizes-fanout4-split-raw` → `sizes-fanout-split-raw`: figures that share a y range.
fn fig_family(f: &Figure) -> String {
    let mut parts: Vec<&str> = f.id.split('-').collect();
    if let Some(w) = parts.get_mut(1)
        && let Ok(workload) = w.parse::<Workload>()
    {
        *w = workload.family();
    }
    parts.join("-")
}

fn family_names(figs: &[Figure]) -> Vec<String> {
    let mut v: Vec<String> = figs.iter().map(fig_family).collect();
    v.sort();
    v.dedup();
    v
}

/// The distribution figures of the headline cells.
fn distributions(idx: &Index<'_>, py: Option<&Python<'_>>) -> Vec<Figure> {
    let mut out = Vec::new();
    out.extend(distribution_figure(
        idx,
        py,
        Workload::Pingpong,
        Metric::Rtt,
    ));
    out.extend(distribution_figure(idx, py, Workload::Seed, Metric::Total));
    out
}

/// The page's figures, in reading order: each workload on its primary
/// placement and first codec, then the distributions.
pub fn figures(idx: &Index<'_>, py: Option<&Python<'_>>) -> Vec<Figure> {
    let mut out = Vec::new();
    for w in idx.workloads() {
        let Some(p) = idx.primary_placement(w) else {
            continue;
        };
        let Some(codec) = idx.codecs(w, p).into_iter().next() else {
            continue;
        };
        out.extend(sizes_figure(idx, py, w, p, codec));
    }
    share_y(&mut out);
    out.extend(distributions(idx, py));
    out
}

/// Every figure for the plot files: each workload on every placement and
/// codec it ran, then the distributions.
pub fn all_figures(idx: &Index<'_>, py: Option<&Python<'_>>) -> Vec<Figure> {
    let mut out: Vec<Figure> = idx
        .groups()
        .into_iter()
        .filter_map(|(w, p, c)| sizes_figure(idx, py, w, p, c))
        .collect();
    share_y(&mut out);
    out.extend(distributions(idx, py));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sections::testing::{cell, results};

    #[test]
    fn families_share_panels_and_singletons_share_one() {
        let names: Vec<String> = [
            "shm-spin",
            "shm-block",
            "pipe",
            "tcp",
            "uds",
            "uds-seqpacket",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let p = panels_of(&names);
        let titles: Vec<&str> = p.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(titles, ["shm", "uds", "other"]);
        assert_eq!(p[2].1, ["pipe", "tcp"]);
    }

    #[test]
    fn rates_invert_the_interval_and_marks_follow_notes() {
        let mut c = cell("a", "stream", "split", 1000, "throughput", 1000.0);
        c.median_ns = 1000.0;
        c.median_ci_low_ns = Some(800.0);
        c.median_ci_high_ns = Some(1250.0);
        c.note = Some("fewer messages".into());
        let p = point(&c, YKind::Rate).expect("point");
        assert_eq!(p.y, 1e9);
        assert_eq!((p.lo, p.hi), (Some(8e8), Some(1.25e9)));
        assert_eq!(p.mark, Some("†"));
    }

    #[test]
    fn spectra_use_recorded_percentiles_when_present() {
        let mut c = cell("a", "pingpong", "split", 8, "rtt", 1000.0);
        assert_eq!(spectrum(&c).len(), 6);
        c.percentiles = vec![(0.0, 500.0), (0.99, 2000.0), (1.0, 9000.0)];
        let s = spectrum(&c);
        let xs: Vec<f64> = s.iter().map(|p| p.x).collect();
        for (x, want) in xs.iter().zip([0.0, 2.0, 5.0]) {
            assert!((x - want).abs() < 1e-9, "{xs:?}");
        }
        assert_eq!(xs.len(), 3);
    }

    #[test]
    fn a_figure_per_workload_and_the_python_reference_where_it_ran() {
        let r = results(vec![
            cell("shm-a", "seed", "split", 800, "total", 1000.0),
            cell("shm-b", "seed", "split", 800, "total", 2000.0),
        ]);
        let py = results(vec![cell(
            "mp-queue", "seed", "split", 800, "total", 9000.0,
        )]);
        let pyx = Python::new(&py);
        let figs = figures(&Index::new(&r), Some(&pyx));
        let ids: Vec<&str> = figs.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["sizes-seed-split-raw", "dist-seed-total"]);
        let s = &figs[0].panels[0].series;
        assert_eq!(s.len(), 3);
        assert!(s[2].reference && s[2].name == "py mp-queue");
    }
}
