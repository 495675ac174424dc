//! The report's sections, one module each. Every section first collects its
//! rows as plain data (unit-tested), then renders them as a table; this
//! module holds what they share: the document builder, cell slots, footnotes,
//! the Python baseline lookup and the headline statistic.

pub mod answers;
pub mod cpu;
pub mod cpu_map;
pub mod environment;
pub mod fanout;
pub mod fits;
pub mod leaving;
pub mod machine;
pub mod matrix;
pub mod paced;
pub mod placement;
pub mod python;
pub mod python_handover;
pub mod seed;
pub mod transports;
pub mod workload;

use crate::format::{CountUnit, MISSING, TimeUnit, fmt_bytes, fmt_multiple};
use crate::table::Table;
use results::index::{Group, Index};
use results::schema::{Cell, Codec, Metric, Placement, Results, Status, Workload};

/// Accumulates one Markdown document.
#[derive(Default)]
pub struct Doc {
    pub out: String,
}

impl Doc {
    pub fn h(&mut self, level: usize, text: &str) {
        self.out.push_str(&"#".repeat(level));
        self.out.push(' ');
        self.out.push_str(text);
        self.out.push_str("\n\n");
    }

    pub fn para(&mut self, text: &str) {
        self.out.push_str(text.trim_end());
        self.out.push_str("\n\n");
    }

    pub fn raw(&mut self, text: &str) {
        self.out.push_str(text);
        if !text.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    pub fn table(&mut self, t: &Table) {
        self.out.push_str(&t.render());
        self.out.push('\n');
    }

    /// A bullet list of failed cells below a table, once per distinct error.
    pub fn failures(&mut self, failed: &[(String, u64, String)]) {
        let mut seen: Vec<&(String, u64, String)> = Vec::new();
        for f in failed {
            if !seen.contains(&f) {
                seen.push(f);
            }
        }
        for (name, size, err) in &seen {
            self.out.push_str(&format!(
                "- failed: {name} at {}: {err}\n",
                fmt_bytes(*size)
            ));
        }
        if !seen.is_empty() {
            self.out.push('\n');
        }
    }
}

/// A cell as one entry of a table.
#[derive(Clone, Copy)]
pub enum Slot<'a> {
    Missing,
    Failed(&'a Cell),
    Ok(&'a Cell),
}

impl<'a> Slot<'a> {
    pub fn of(c: Option<&'a Cell>) -> Self {
        match c {
            None => Self::Missing,
            Some(c) if c.status == Status::Failed => Self::Failed(c),
            Some(c) => Self::Ok(c),
        }
    }

    pub fn ok(self) -> Option<&'a Cell> {
        match self {
            Self::Ok(c) => Some(c),
            _ => None,
        }
    }
}

/// Cell notes (`Cell::note`) collected for the footnotes below a table: each
/// distinct note once, with the series it applies to.
#[derive(Default)]
pub struct Notes {
    pub seen: Vec<(String, Vec<String>)>,
}

impl Notes {
    pub fn add(&mut self, note: &str, name: &str) {
        match self.seen.iter_mut().find(|(n, _)| n == note) {
            Some((_, names)) => {
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_owned());
                }
            }
            None => self.seen.push((note.to_owned(), vec![name.to_owned()])),
        }
    }

    pub fn render(&self, d: &mut Doc) {
        for (note, names) in &self.seen {
            d.out
                .push_str(&format!("- † {}: {note}\n", names.join(", ")));
        }
        if !self.seen.is_empty() {
            d.out.push('\n');
        }
    }
}

/// The Python baseline, looked up like a transport.
pub struct Python<'a> {
    pub idx: Index<'a>,
}

impl<'a> Python<'a> {
    pub fn new(r: &'a Results) -> Self {
        Self { idx: Index::new(r) }
    }

    /// Transports in the baseline's cells of a workload, the one with the
    /// most cells first (the two-process queue, which every workload has),
    /// then by name.
    pub fn transports_in(&self, workload: Workload) -> Vec<String> {
        let mut v: Vec<(String, usize)> = Vec::new();
        for c in self.idx.results.cells.iter() {
            match v.iter_mut().find(|(t, _)| *t == c.transport) {
                Some((_, n)) => *n += 1,
                None => v.push((c.transport.clone(), 1)),
            }
        }
        let in_workload = |t: &str| {
            self.idx
                .results
                .cells
                .iter()
                .any(|c| c.workload == workload && c.transport == t)
        };
        v.retain(|(t, _)| in_workload(t));
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.into_iter().map(|(t, _)| t).collect()
    }

    /// The transport "vs mp.Queue" refers to, for a workload.
    pub fn main_in(&self, workload: Workload) -> Option<String> {
        self.transports_in(workload).into_iter().next()
    }

    /// A cell of a workload, in the same placement if the baseline has it,
    /// else in the baseline's first placement for that workload.
    pub fn cell_in(
        &self,
        workload: Workload,
        transport: &str,
        placement: Placement,
        size: u64,
        metric: Metric,
    ) -> Option<&'a Cell> {
        let placements = self.idx.placements(workload);
        let p = if placements.contains(&placement) {
            placement
        } else {
            placements.into_iter().next()?
        };
        let codecs = self.idx.codecs(workload, p);
        codecs.iter().find_map(|codec| {
            self.idx
                .ok(transport, group(workload, p, *codec), size, metric)
        })
    }
}

/// Whether the Python baseline can have a counterpart for this workload.
pub fn python_has(workload: Workload) -> bool {
    matches!(
        workload,
        Workload::Seed | Workload::Fanout(_) | Workload::Handover | Workload::Gather(_)
    )
}

/// Each workload with the first codec it ran at placement `p` (workloads that
/// did not run there are left out): the one table per workload a section shows.
pub fn first_codecs(
    idx: &Index<'_>,
    workloads: &[Workload],
    p: Placement,
) -> Vec<(Workload, Codec)> {
    workloads
        .iter()
        .filter_map(|&w| Some((w, idx.codecs(w, p).into_iter().next()?)))
        .collect()
}

pub fn group(w: Workload, p: Placement, c: Codec) -> Group {
    Group {
        workload: w,
        placement: p,
        codec: c,
    }
}

pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The headline statistic of a cell: the median of its trial medians where
/// the file has it, else the pooled median (ns; ns per message for
/// throughput cells).
pub fn headline(c: &Cell) -> f64 {
    c.median()
}

/// The 95% interval of [`headline`], where the file has one.
pub fn headline_interval(c: &Cell) -> Option<(f64, f64)> {
    c.median_ci()
}

/// Median with its interval in one unit: `11.2 µs (11.0–11.4)`.
pub fn median_ci(c: &Cell) -> String {
    let m = headline(c);
    let u = TimeUnit::for_value(m);
    match headline_interval(c) {
        Some((lo, hi)) => format!("{} {} ({}–{})", u.fmt(m), u.label(), u.fmt(lo), u.fmt(hi)),
        None => format!("{} {}", u.fmt(m), u.label()),
    }
}

/// Payload bytes per second of a throughput cell at its headline (median)
/// time per message: every table and plot ranks on the median.
pub fn bytes_per_s(c: &Cell) -> Option<f64> {
    msgs_per_s(c).map(|r| r * c.size_bytes as f64)
}

/// Messages (tasks) per second of a throughput cell at its headline time
/// per message.
pub fn msgs_per_s(c: &Cell) -> Option<f64> {
    let ns = headline(c);
    (ns > 0.0 && ns.is_finite()).then(|| 1e9 / ns)
}

/// "1.90x faster" / "2.00x slower": how a figure compares with Python's.
pub fn versus(py_ns: f64, ns: f64) -> String {
    let r = py_ns / ns;
    if !r.is_finite() || r <= 0.0 {
        MISSING.to_owned()
    } else if r >= 1.0 {
        format!("{} faster", fmt_multiple(r))
    } else {
        format!("{} slower", fmt_multiple(1.0 / r))
    }
}

pub fn cpu_sum(c: &Cell) -> f64 {
    c.cpu_producer_ns.unwrap_or(0.0) + c.cpu_consumer_ns.unwrap_or(0.0)
}

/// `12.3 k tasks/s`, `60.4 msg/s`.
pub fn fmt_per_s(x: f64, unit: &str) -> String {
    let u = CountUnit::for_value(x);
    format!("{} {}{unit}/s", u.fmt(x), u.prefix())
}

/// What a workload's throughput counts.
pub fn rate_unit(workload: Workload) -> &'static str {
    if results::index::is_fanout(workload) {
        "tasks"
    } else {
        "msg"
    }
}

/// The i-th footnote mark: †, ‡, §, then †4, †5, ...
pub fn footnote_mark(i: usize) -> String {
    match i {
        0 => "†".to_owned(),
        1 => "‡".to_owned(),
        2 => "§".to_owned(),
        _ => format!("†{}", i + 1),
    }
}

#[cfg(test)]
pub mod testing {
    //! Hand-built cells for the sections' unit tests.
    use results::schema::{Cell, Floors, Placement, Results, Summary};

    pub fn cell(
        transport: &str,
        workload: &str,
        placement: &str,
        size: u64,
        metric: &str,
        p50: f64,
    ) -> Cell {
        Cell {
            transport: transport.into(),
            codec: results::Codec::Raw,
            workload: workload.parse().expect("workload"),
            placement: placement.parse().expect("placement"),
            size_bytes: size,
            metric: metric.parse().expect("metric"),
            trials: 3,
            summary: Summary {
                n: 1000,
                mean_ns: p50,
                p50_ns: p50,
                p90_ns: p50 * 1.2,
                p99_ns: p50 * 2.0,
                p999_ns: p50 * 3.0,
                min_ns: p50 * 0.8,
                max_ns: p50 * 5.0,
                ci95_low_ns: Some(p50 * 0.98),
                ci95_high_ns: Some(p50 * 1.02),
                ..Summary::default()
            },
            trial_means_ns: vec![p50 * 0.99, p50, p50 * 1.01],
            ..Cell::default()
        }
    }

    // RunConfig gains optional fields over time; the update keeps this
    // fixture building whatever they are.
    #[allow(clippy::needless_update)]
    pub fn results(cells: Vec<Cell>) -> Results {
        Results {
            schema_version: 1,
            environment: results::schema::Environment {
                cpu_model: "Test CPU".into(),
                cores: 2,
                kernel: "Linux 6.1".into(),
                virtualization: "kvm".into(),
                ..Default::default()
            },
            config: results::schema::RunConfig {
                trials: 3,
                messages: 1000,
                warmup_ms: 20,
                placements: vec![Placement::Split, Placement::Same],
                ..Default::default()
            },
            floors: vec![
                Floors {
                    placement: Placement::Split,
                    cacheline_rtt: Some(Summary {
                        p50_ns: 200.0,
                        ..Summary::default()
                    }),
                    raw_pipe_rtt: Some(Summary {
                        p50_ns: 80_000.0,
                        ..Summary::default()
                    }),
                    ..Floors::default()
                },
                Floors {
                    placement: Placement::Same,
                    raw_pipe_rtt: Some(Summary {
                        p50_ns: 2_400.0,
                        ..Summary::default()
                    }),
                    ..Floors::default()
                },
            ],
            cells,
            targets: Vec::new(),
            transports: Vec::new(),
        }
    }
}
