//! results/README.md from a run: the answer first, then the environment,
//! floors, per-workload matrices, seed-style tables, fits, CPU cost, plots
//! and the change since a baseline run.

use crate::analysis::{ci, fit, geomean, standing};
use crate::compare;
use crate::format::{
    CountUnit, MISSING, RateUnit, TimeUnit, fmt_bytes, fmt_multiple, fmt_percent, fmt_rate,
    fmt_time,
};
use crate::index::{Group, Index, describe_metric, family, is_throughput, primary_metric};
use crate::schema::{Cell, Results, Status, Summary};
use crate::table::{Align, Table};

/// The pipe transport's target: at most this multiple of a bare pipe round trip.
pub const PIPE_TARGET: f64 = 1.25;

/// What to render besides the run itself.
#[derive(Debug, Clone)]
pub struct RenderOptions<'a> {
    /// The Python `multiprocessing.Queue` baseline (same schema).
    pub python: Option<&'a Results>,
    /// An older run to compare against.
    pub baseline: Option<&'a Results>,
    /// Threshold for the baseline comparison, as a fraction (0.05 = 5%).
    pub threshold: f64,
    /// Plots to embed: (title, path of the SVG relative to the Markdown file).
    pub plots: Vec<(String, String)>,
}

impl Default for RenderOptions<'_> {
    fn default() -> Self {
        Self {
            python: None,
            baseline: None,
            threshold: compare::DEFAULT_THRESHOLD,
            plots: Vec::new(),
        }
    }
}

/// Renders results/README.md.
pub fn render_markdown(results: &Results, opts: &RenderOptions<'_>) -> String {
    let idx = Index::new(results);
    let py = opts.python.map(Python::new);
    let mut d = Doc::default();
    d.h(1, "ipcbench results");
    d.para(&intro(&idx));
    answer(&mut d, &idx, py.as_ref());
    placement_sweep(&mut d, &idx, py.as_ref());
    environment(&mut d, results);
    floors(&mut d, &idx);
    d.raw(&crate::targets::section(results));
    matrices(&mut d, &idx, py.as_ref());
    seed_tables(&mut d, &idx, py.as_ref());
    fanout_section(&mut d, &idx, py.as_ref());
    paced_section(&mut d, &idx);
    fits(&mut d, &idx, py.as_ref());
    cpu(&mut d, &idx);
    if !opts.plots.is_empty() {
        d.h(2, "Plots");
        for (title, path) in &opts.plots {
            d.para(&format!("![{title}]({path})\n\n*{title}*"));
        }
    }
    if let Some(py) = &py {
        python_section(&mut d, py);
    }
    if let Some(base) = opts.baseline {
        d.h(2, "Change since the baseline run");
        let c = compare::compare(base, results, opts.threshold);
        d.raw(&compare::render_body(&c, 3, false));
    }
    d.para(&format!(
        "*Rendered from the results JSON (schema version {}, documented in \
         docs/results-schema.md). Sizes are payload bytes of int64 arrays in decimal \
         units (1 KB = 1000 B); rates are decimal too (1 GB/s = 10⁹ B/s).*",
        results.schema_version
    ));
    d.out
}

/// Accumulates the document.
#[derive(Default)]
struct Doc {
    out: String,
}

impl Doc {
    fn h(&mut self, level: usize, text: &str) {
        self.out.push_str(&"#".repeat(level));
        self.out.push(' ');
        self.out.push_str(text);
        self.out.push_str("\n\n");
    }

    fn para(&mut self, text: &str) {
        self.out.push_str(text.trim_end());
        self.out.push_str("\n\n");
    }

    fn raw(&mut self, text: &str) {
        self.out.push_str(text);
        if !text.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    fn table(&mut self, t: &Table) {
        self.out.push_str(&t.render());
        self.out.push('\n');
    }

    /// A bullet list of failed cells below a table, once per distinct error.
    fn failures(&mut self, failed: &[(String, u64, String)]) {
        let mut seen: Vec<&(String, u64, String)> = Vec::new();
        for f in failed {
            if !seen.contains(&f) {
                seen.push(f);
            }
        }
        if seen.is_empty() {
            return;
        }
        for (name, size, err) in seen {
            self.out.push_str(&format!(
                "- failed: {name} at {}: {err}\n",
                fmt_bytes(*size)
            ));
        }
        self.out.push('\n');
    }
}

fn intro(idx: &Index<'_>) -> String {
    let r = idx.results;
    let mut transports: Vec<&str> = Vec::new();
    for c in &r.cells {
        if !transports.contains(&c.transport.as_str()) {
            transports.push(&c.transport);
        }
    }
    let workloads = idx.workloads();
    if transports.is_empty() {
        return "ipcbench runs one identical producer–consumer benchmark over inter-process \
                transports on one machine and verifies every message. This run produced no \
                cells."
            .to_owned();
    }
    format!(
        "ipcbench runs one identical producer–consumer benchmark over inter-process \
         transports on one machine and verifies every message. This run covers {} \
         transport{} ({}) in the workload{} {}, with {} independent trial{} of {} messages \
         per cell (fresh processes per trial). Times are `CLOCK_MONOTONIC` nanoseconds; \
         tables show the median with the 99th percentile in parentheses; a winner is \
         named only where its 95% confidence interval of the mean (from trial means) \
         does not overlap the runner-up's.",
        transports.len(),
        plural(transports.len()),
        transports.join(", "),
        plural(workloads.len()),
        workloads.join(", "),
        r.config.trials,
        plural(r.config.trials),
        r.config.messages,
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The Python baseline, looked up like a transport.
struct Python<'a> {
    idx: Index<'a>,
}

impl<'a> Python<'a> {
    fn new(r: &'a Results) -> Self {
        Self { idx: Index::new(r) }
    }

    /// Transports in the baseline's cells of a workload, the two-process one
    /// first.
    fn transports_in(&self, workload: &str) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for c in self
            .idx
            .results
            .cells
            .iter()
            .filter(|c| c.workload == workload)
        {
            if !v.contains(&c.transport) {
                v.push(c.transport.clone());
            }
        }
        v.sort_by_key(|t| match t.as_str() {
            "mp-queue" => 0,
            "mp-queue-inproc" => 1,
            _ => 2,
        });
        v
    }

    /// Transports in the baseline's seed cells.
    fn transports(&self) -> Vec<String> {
        self.transports_in("seed")
    }

    /// The transport "x faster than mp.Queue" refers to, for a workload.
    fn main_in(&self, workload: &str) -> Option<String> {
        self.transports_in(workload).into_iter().next()
    }

    /// The transport "x faster than mp.Queue" refers to in seed tables.
    fn main(&self) -> Option<String> {
        self.main_in("seed")
    }

    /// A cell of a workload, in the same placement if the baseline has it,
    /// else in the baseline's first placement for that workload.
    fn cell_in(
        &self,
        workload: &str,
        transport: &str,
        placement: &str,
        size: u64,
        metric: &str,
    ) -> Option<&'a Cell> {
        let placements = self.idx.placements(workload);
        let p = if placements.iter().any(|p| p == placement) {
            placement.to_owned()
        } else {
            placements.into_iter().next()?
        };
        let codecs = self.idx.codecs(workload, &p);
        codecs.iter().find_map(|codec| {
            self.idx.ok(
                transport,
                Group {
                    workload,
                    placement: &p,
                    codec,
                },
                size,
                metric,
            )
        })
    }

    /// A seed cell.
    fn cell(&self, transport: &str, placement: &str, size: u64, metric: &str) -> Option<&'a Cell> {
        self.cell_in("seed", transport, placement, size, metric)
    }
}

/// Whether the Python baseline has a counterpart for this workload.
fn python_has(workload: &str) -> bool {
    workload == "seed" || family(workload).0 == "fanout"
}

/// A cell as one entry of a matrix.
#[derive(Clone, Copy)]
enum Slot<'a> {
    Missing,
    Failed(&'a Cell),
    Ok(&'a Cell),
}

impl<'a> Slot<'a> {
    fn of(c: Option<&'a Cell>) -> Self {
        match c {
            None => Self::Missing,
            Some(c) if c.status == Status::Failed => Self::Failed(c),
            Some(c) => Self::Ok(c),
        }
    }

    fn ok(self) -> Option<&'a Cell> {
        match self {
            Self::Ok(c) => Some(c),
            _ => None,
        }
    }
}

/// What a matrix shows of each cell.
#[derive(Clone, Copy, PartialEq)]
enum Show {
    /// Median (p99), lower is better.
    Time,
    /// Payload bytes per second, higher is better.
    Bytes,
    /// Messages per second, higher is better.
    Msgs,
}

/// Bytes per second of a throughput cell, derived from ns per message when
/// the writer left the rate out.
fn bytes_per_s(c: &Cell) -> Option<f64> {
    c.bytes_per_s.or_else(|| {
        (c.summary.mean_ns > 0.0).then(|| c.size_bytes as f64 * 1e9 / c.summary.mean_ns)
    })
}

fn msgs_per_s(c: &Cell) -> Option<f64> {
    c.msgs_per_s
        .or_else(|| (c.summary.mean_ns > 0.0).then(|| 1e9 / c.summary.mean_ns))
}

/// One matrix: rows = sizes, columns = named series, plus a Relative row.
/// Every matrix in the report goes through here.
fn matrix(d: &mut Doc, sizes: &[u64], columns: &[(String, Vec<Slot<'_>>)], show: Show) {
    let value = |c: &Cell| -> Option<f64> {
        match show {
            Show::Time => Some(c.summary.p50_ns),
            Show::Bytes => bytes_per_s(c),
            Show::Msgs => msgs_per_s(c),
        }
    };
    let mut header: Vec<(String, Align)> = vec![("Size".to_owned(), Align::Left)];
    let mut units = Vec::new();
    for (name, slots) in columns {
        let vals = slots.iter().filter_map(|s| s.ok()).filter_map(value);
        let (unit_label, fmt): (String, Box<dyn Fn(f64) -> String>) = match show {
            Show::Time => {
                let u = TimeUnit::for_column(vals);
                (u.label().to_owned(), Box::new(move |x| u.fmt(x)))
            }
            Show::Bytes => {
                let u = RateUnit::for_column(vals);
                (u.label().to_owned(), Box::new(move |x| u.fmt(x)))
            }
            Show::Msgs => {
                let u = CountUnit::for_column(vals);
                (format!("{}msg/s", u.prefix()), Box::new(move |x| u.fmt(x)))
            }
        };
        header.push((format!("{name} ({unit_label})"), Align::Right));
        units.push(fmt);
    }
    let mut t = Table::new(header);
    let mut failed = Vec::new();
    let mut notes = Notes::default();
    // Per column, each size's ratio to the best of that size (1 = best).
    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); columns.len()];
    for (row, &size) in sizes.iter().enumerate() {
        let vals: Vec<Option<f64>> = columns
            .iter()
            .map(|(_, s)| {
                s[row]
                    .ok()
                    .and_then(value)
                    .filter(|v| v.is_finite() && *v > 0.0)
            })
            .collect();
        let best = match show {
            Show::Time => vals.iter().flatten().copied().reduce(f64::min),
            Show::Bytes | Show::Msgs => vals.iter().flatten().copied().reduce(f64::max),
        };
        let mut cells = vec![fmt_bytes(size)];
        for (i, (name, slots)) in columns.iter().enumerate() {
            cells.push(match slots[row] {
                Slot::Missing => MISSING.to_owned(),
                Slot::Failed(c) => {
                    failed.push((
                        name.clone(),
                        size,
                        c.error
                            .clone()
                            .unwrap_or_else(|| "no error message".to_owned()),
                    ));
                    "failed".to_owned()
                }
                Slot::Ok(c) => {
                    if let (Some(v), Some(b)) = (vals[i], best) {
                        ratios[i].push(if show == Show::Time { v / b } else { b / v });
                    }
                    let text = match value(c) {
                        Some(v) if show == Show::Time => {
                            format!("{} ({})", units[i](v), units[i](c.summary.p99_ns))
                        }
                        Some(v) => units[i](v),
                        None => MISSING.to_owned(),
                    };
                    match &c.note {
                        Some(note) => {
                            notes.add(note, name);
                            format!("{text} †")
                        }
                        None => text,
                    }
                }
            });
        }
        t.row(cells);
    }
    if columns.len() > 1 && !sizes.is_empty() {
        let mut cells = vec!["Relative".to_owned()];
        for r in &ratios {
            cells.push(geomean(r.iter().copied()).map_or(MISSING.to_owned(), fmt_multiple));
        }
        t.row(cells);
    }
    d.table(&t);
    if columns.len() > 1 && !sizes.is_empty() {
        let what = if show == Show::Time {
            "median time"
        } else {
            "rate"
        };
        d.para(&format!(
            "Relative: geometric mean over sizes of each {what} against the best at that \
             size (1.00x = best everywhere)."
        ));
    }
    d.failures(&failed);
    notes.render(d);
}

/// Cell notes (`Cell::note`) collected for the footnotes below a table: each
/// distinct note once, with the series it applies to.
#[derive(Default)]
struct Notes {
    seen: Vec<(String, Vec<String>)>,
}

impl Notes {
    fn add(&mut self, note: &str, name: &str) {
        match self.seen.iter_mut().find(|(n, _)| n == note) {
            Some((_, names)) => {
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_owned());
                }
            }
            None => self.seen.push((note.to_owned(), vec![name.to_owned()])),
        }
    }

    fn render(&self, d: &mut Doc) {
        for (note, names) in &self.seen {
            d.out
                .push_str(&format!("- † {}: {note}\n", names.join(", ")));
        }
        if !self.seen.is_empty() {
            d.out.push('\n');
        }
    }
}

fn group<'s>(w: &'s str, p: &'s str, c: &'s str) -> Group<'s> {
    Group {
        workload: w,
        placement: p,
        codec: c,
    }
}

/// Mean with its CI, in one unit: `11.2 µs (11.0–11.4)`.
fn mean_ci(s: &Summary) -> String {
    let u = TimeUnit::for_value(s.mean_ns);
    match ci(s) {
        Some((lo, hi)) => format!(
            "{} {} ({}–{})",
            u.fmt(s.mean_ns),
            u.label(),
            u.fmt(lo),
            u.fmt(hi)
        ),
        None => format!("{} {} (no CI)", u.fmt(s.mean_ns), u.label()),
    }
}

fn versus(py_ns: f64, ns: f64) -> String {
    let r = py_ns / ns;
    if !r.is_finite() || r <= 0.0 {
        MISSING.to_owned()
    } else if r >= 1.0 {
        format!("{} faster", fmt_multiple(r))
    } else {
        format!("{} slower", fmt_multiple(1.0 / r))
    }
}

fn answer(d: &mut Doc, idx: &Index<'_>, py: Option<&Python<'_>>) {
    d.h(2, "The answer");
    let workloads = idx.workloads();
    if workloads.is_empty() {
        d.para("This run has no cells.");
        return;
    }
    d.para(
        "Fastest transport per size, judged on the mean with its 95% confidence interval \
         across trials (interval in parentheses). \"tie\" lists every transport whose \
         interval overlaps the fastest's.",
    );
    for w in &workloads {
        let Some(p) = idx.primary_placement(w) else {
            continue;
        };
        let Some(codec) = idx.codecs(w, &p).into_iter().next() else {
            continue;
        };
        let g = group(w, &p, &codec);
        let metrics = idx.metrics(g);
        let Some(metric) = primary_metric(w)
            .map(str::to_owned)
            .filter(|m| metrics.contains(m))
            .or_else(|| metrics.first().cloned())
        else {
            continue;
        };
        d.h(
            3,
            &format!(
                "{w}, {metric}: {} (codec {codec}, placement {p})",
                describe_metric(w, &metric)
            ),
        );
        let py_main = py.filter(|_| python_has(w)).and_then(|py| py.main_in(w));
        let throughput = is_throughput(&metric);
        let mut cols = vec![
            ("Size", Align::Left),
            ("Result", Align::Left),
            (
                if throughput {
                    "Fastest: throughput"
                } else {
                    "Fastest: mean (95% CI)"
                },
                Align::Right,
            ),
            ("Runner-up", Align::Left),
        ];
        if py_main.is_some() {
            cols.push(("vs mp.Queue (Python)", Align::Right));
        }
        let mut t = Table::new(cols);
        let transports = idx.transports(g);
        for size in idx.sizes(g) {
            let ok: Vec<(&str, &Cell)> = transports
                .iter()
                .filter_map(|tr| idx.ok(tr, g, size, &metric).map(|c| (tr.as_str(), c)))
                .collect();
            let st = standing(ok.iter().map(|(n, c)| (*n, &c.summary)));
            let mut by_mean = ok.clone();
            by_mean.sort_by(|a, b| a.1.summary.mean_ns.total_cmp(&b.1.summary.mean_ns));
            let figure = |c: &Cell| {
                if throughput && family(w).0 == "fanout" {
                    msgs_per_s(c).map_or(MISSING.to_owned(), |r| fmt_per_s(r, "tasks"))
                } else if throughput {
                    bytes_per_s(c).map_or(MISSING.to_owned(), fmt_rate)
                } else {
                    mean_ci(&c.summary)
                }
            };
            let fastest = by_mean.first().map(|x| x.1);
            let failed: Vec<&str> = transports
                .iter()
                .filter(|tr| {
                    idx.get(tr, g, size, &metric)
                        .is_some_and(|c| c.status == Status::Failed)
                })
                .map(String::as_str)
                .collect();
            let mut result = st.describe();
            if !failed.is_empty() {
                result.push_str(&format!(" (failed: {})", failed.join(", ")));
            }
            let mut row = vec![
                fmt_bytes(size),
                result,
                fastest.map_or(MISSING.to_owned(), figure),
                by_mean
                    .get(1)
                    .map_or(MISSING.to_owned(), |(n, c)| format!("{n}: {}", figure(c))),
            ];
            if let (Some(pm), Some(py)) = (&py_main, py) {
                row.push(match (fastest, py.cell_in(w, pm, &p, size, &metric)) {
                    (Some(c), Some(pc)) => versus(pc.summary.mean_ns, c.summary.mean_ns),
                    _ => MISSING.to_owned(),
                });
            }
            t.row(row);
        }
        d.table(&t);
        if let Some(pm) = &py_main {
            d.para(&format!(
                "\"vs mp.Queue\": the fastest transport's mean against Python's `{pm}` \
                 (pickle) mean at the same size."
            ));
        }
    }
}

fn environment(d: &mut Doc, r: &Results) {
    d.h(2, "Environment");
    let e = &r.environment;
    let or_unknown = |s: &str| {
        if s.is_empty() {
            "unknown".to_owned()
        } else {
            s.to_owned()
        }
    };
    let mut t = Table::new([("Item", Align::Left), ("Value", Align::Left)]);
    let mut kv = |k: &str, v: String| t.row([k.to_owned(), v]);
    kv("Tool", or_unknown(&e.tool));
    kv("CPU", or_unknown(&e.cpu_model));
    kv("Logical CPUs", e.cores.to_string());
    kv("Kernel", or_unknown(&e.kernel));
    kv("rustc", or_unknown(&e.rustc));
    kv("Virtualization", or_unknown(&e.virtualization));
    kv("CPU governor", or_unknown(&e.governor));
    kv("Placements", r.config.placements.join(", "));
    kv("Clock read overhead", fmt_time(e.clock_overhead_ns));
    kv("Git commit", or_unknown(&e.git_commit));
    kv("Date (UTC)", or_unknown(&e.date));
    kv("Command", format!("`{}`", e.command_line));
    kv("Trials per cell", r.config.trials.to_string());
    kv("Messages per trial", r.config.messages.to_string());
    kv("Warm-up per trial", format!("{} ms", r.config.warmup_ms));
    for (k, v) in &e.extra {
        kv(k, v.clone());
    }
    d.table(&t);
}

fn floors(d: &mut Doc, idx: &Index<'_>) {
    let r = idx.results;
    if r.floors.is_empty() {
        return;
    }
    d.h(2, "Floors");
    d.para(
        "Machine floors measured in the same run: the cheapest possible round trip \
         between two processes (one cache line, spinning), a bare 8-byte pipe round trip, \
         and `memcpy` per size.",
    );
    let mut t = Table::new([
        ("Placement", Align::Left),
        ("Floor", Align::Left),
        ("p50", Align::Right),
        ("p99", Align::Right),
        ("mean (95% CI)", Align::Right),
        ("samples", Align::Right),
    ]);
    for f in &r.floors {
        for (name, s) in [
            ("cache-line RTT", &f.cacheline_rtt),
            ("raw pipe RTT (8 B)", &f.raw_pipe_rtt),
        ] {
            match s {
                Some(s) => t.row([
                    f.placement.clone(),
                    name.to_owned(),
                    fmt_time(s.p50_ns),
                    fmt_time(s.p99_ns),
                    mean_ci(s),
                    s.n.to_string(),
                ]),
                None => t.row([
                    f.placement.clone(),
                    name.to_owned(),
                    "not measured".to_owned(),
                ]),
            }
        }
    }
    d.table(&t);
    if let Some(f) = r.floors.iter().find(|f| !f.memcpy.is_empty()) {
        let mut t = Table::new([
            ("Size", Align::Left),
            ("memcpy p50", Align::Right),
            ("bandwidth", Align::Right),
        ]);
        let mut m = f.memcpy.clone();
        m.sort_by_key(|m| m.size_bytes);
        for m in &m {
            t.row([
                fmt_bytes(m.size_bytes),
                fmt_time(m.p50_ns),
                fmt_rate(m.bytes_per_s),
            ]);
        }
        d.table(&t);
    }

    d.h(3, "Transports as multiples of their floor");
    for f in &r.floors {
        pipe_target(d, idx, f);
    }
    for f in &r.floors {
        let p = f.placement.as_str();
        let ping: Option<String> = idx
            .placements("pingpong")
            .contains(&f.placement)
            .then(|| idx.codecs("pingpong", p).into_iter().next())
            .flatten();
        if let (Some(codec), Some(cl)) = (&ping, &f.cacheline_rtt) {
            let g = group("pingpong", p, codec);
            d.para(&format!(
                "Round trip (pingpong p50) as a multiple of the cache-line RTT p50 ({}), \
                 placement {p}:",
                fmt_time(cl.p50_ns)
            ));
            ratio_matrix(d, idx, g, "rtt", |c| {
                let r = c.summary.p50_ns / cl.p50_ns;
                r.is_finite().then(|| fmt_multiple(r))
            });
        }
        let stream = idx
            .placements("stream")
            .contains(&f.placement)
            .then(|| idx.codecs("stream", p).into_iter().next())
            .flatten();
        if let Some(codec) = &stream
            && !f.memcpy.is_empty()
        {
            let g = group("stream", p, codec);
            d.para(&format!(
                "Stream throughput as a fraction of `memcpy` bandwidth at the same size, \
                 placement {p}:"
            ));
            ratio_matrix(d, idx, g, "throughput", |c| {
                let m = f.memcpy.iter().find(|m| m.size_bytes == c.size_bytes)?;
                bytes_per_s(c).map(|b| fmt_percent(b / m.bytes_per_s))
            });
        }
    }
}

/// The pipe transport's headline target: its smallest-size round trip
/// against the bare pipe floor.
fn pipe_target(d: &mut Doc, idx: &Index<'_>, f: &crate::schema::Floors) {
    let p = f.placement.as_str();
    let smallest = idx.codecs("pingpong", p).into_iter().find_map(|codec| {
        let g = group("pingpong", p, &codec);
        idx.sizes(g)
            .into_iter()
            .find_map(|s| idx.ok("pipe", g, s, "rtt"))
    });
    let text = match (smallest, &f.raw_pipe_rtt) {
        (Some(c), Some(raw)) => {
            let r = c.summary.p50_ns / raw.p50_ns;
            let met = if r <= PIPE_TARGET { "met" } else { "not met" };
            format!(
                "**pipe / raw pipe RTT ({p}): {}** — pipe pingpong p50 at {} ({}) over the \
                 bare 8-byte pipe round trip p50 ({}); target ≤ {}: **{met}**.",
                fmt_multiple(r),
                fmt_bytes(c.size_bytes),
                fmt_time(c.summary.p50_ns),
                fmt_time(raw.p50_ns),
                fmt_multiple(PIPE_TARGET),
            )
        }
        (None, _) => format!("pipe / raw pipe RTT ({p}): no pipe pingpong result."),
        (_, None) => format!("pipe / raw pipe RTT ({p}): raw pipe floor not measured."),
    };
    d.para(&text);
}

/// A matrix of a derived figure (multiple of a floor) per size and transport.
fn ratio_matrix(
    d: &mut Doc,
    idx: &Index<'_>,
    g: Group<'_>,
    metric: &str,
    text: impl Fn(&Cell) -> Option<String>,
) {
    let sizes = idx.sizes(g);
    let mut t = Table::new(
        std::iter::once(("Size".to_owned(), Align::Left))
            .chain(idx.transports(g).into_iter().map(|tr| (tr, Align::Right))),
    );
    for size in sizes {
        let mut row = vec![fmt_bytes(size)];
        for tr in idx.transports(g) {
            row.push(match Slot::of(idx.get(&tr, g, size, metric)) {
                Slot::Missing => MISSING.to_owned(),
                Slot::Failed(_) => "failed".to_owned(),
                Slot::Ok(c) => text(c).unwrap_or_else(|| MISSING.to_owned()),
            });
        }
        t.row(row);
    }
    d.table(&t);
}

fn matrices(d: &mut Doc, idx: &Index<'_>, py: Option<&Python<'_>>) {
    for w in idx.workloads() {
        d.h(2, &format!("Results: {w}"));
        for p in idx.placements(&w) {
            for codec in idx.codecs(&w, &p) {
                let g = group(&w, &p, &codec);
                d.h(3, &format!("{w} · placement {p} · codec {codec}"));
                let sizes = idx.sizes(g);
                let transports = idx.transports(g);
                for metric in idx.metrics(g) {
                    let mut columns: Vec<(String, Vec<Slot<'_>>)> = transports
                        .iter()
                        .map(|tr| {
                            let slots = sizes
                                .iter()
                                .map(|&s| Slot::of(idx.get(tr, g, s, &metric)))
                                .collect();
                            (tr.clone(), slots)
                        })
                        .collect();
                    if python_has(&w)
                        && let Some(py) = py
                    {
                        for pt in py.transports_in(&w) {
                            let slots: Vec<Slot<'_>> = sizes
                                .iter()
                                .map(|&s| Slot::of(py.cell_in(&w, &pt, &p, s, &metric)))
                                .collect();
                            if slots.iter().any(|s| s.ok().is_some()) {
                                columns.push((format!("py {pt}"), slots));
                            }
                        }
                    }
                    d.h(4, &format!("{metric}: {}", describe_metric(&w, &metric)));
                    if is_throughput(&metric) {
                        matrix(d, &sizes, &columns, Show::Bytes);
                        d.para("Messages per second:");
                        matrix(d, &sizes, &columns, Show::Msgs);
                    } else {
                        matrix(d, &sizes, &columns, Show::Time);
                    }
                }
            }
        }
    }
}

/// `12.3 ± 4.56` in a given unit.
fn mean_sd(s: &Summary, u: TimeUnit) -> String {
    format!("{} ± {}", u.fmt(s.mean_ns), u.fmt(s.sd_ns))
}

fn seed_tables(d: &mut Doc, idx: &Index<'_>, py: Option<&Python<'_>>) {
    if !idx.workloads().iter().any(|w| w == "seed") {
        return;
    }
    d.h(2, "Seed-style tables");
    d.para(
        "As the seed notebook reports them: per size, put and get mean ± standard \
         deviation over every message of every trial. put = the send call; get = from \
         send return to the consumer holding the decoded payload. One codec per \
         transport (the cheapest run); the others are in the matrices above.",
    );
    let py_main = py.and_then(|p| p.main());
    for p in idx.placements("seed") {
        // Each transport with its cheapest codec that has cells.
        let mut done: Vec<String> = Vec::new();
        for codec in idx.codecs("seed", &p) {
            let g = group("seed", &p, &codec);
            for tr in idx.transports(g) {
                if done.contains(&tr) {
                    continue;
                }
                d.h(3, &format!("{tr} · codec {codec} · placement {p}"));
                let pyref = py.zip(py_main.as_deref());
                seed_table(d, idx, g, &tr, pyref);
                done.push(tr);
            }
        }
    }
}

/// One seed-style table; `py` adds the baseline's put and get beside it.
fn seed_table(
    d: &mut Doc,
    idx: &Index<'_>,
    g: Group<'_>,
    tr: &str,
    py: Option<(&Python<'_>, &str)>,
) {
    let sizes = idx.sizes(g);
    let cells = |metric: &str| -> Vec<Option<&Cell>> {
        sizes.iter().map(|&s| idx.ok(tr, g, s, metric)).collect()
    };
    let (put, get, total) = (cells("put"), cells("get"), cells("total"));
    let pycells = |metric: &str| -> Vec<Option<&Cell>> {
        match py {
            Some((py, name)) => sizes
                .iter()
                .map(|&s| py.cell(name, g.placement, s, metric))
                .collect(),
            None => vec![None; sizes.len()],
        }
    };
    let (pyput, pyget, pytotal) = (pycells("put"), pycells("get"), pycells("total"));
    let with_py = pyput.iter().chain(&pyget).any(Option::is_some);
    let unit =
        |v: &[Option<&Cell>]| TimeUnit::for_column(v.iter().flatten().map(|c| c.summary.mean_ns));
    let (u_put, u_get, u_total, u_pyput, u_pyget) = (
        unit(&put),
        unit(&get),
        unit(&total),
        unit(&pyput),
        unit(&pyget),
    );
    let mut cols = vec![
        ("Elements".to_owned(), Align::Right),
        ("Size".to_owned(), Align::Left),
        (format!("put mean ± sd ({})", u_put.label()), Align::Right),
        (format!("get mean ± sd ({})", u_get.label()), Align::Right),
        (format!("total mean ({})", u_total.label()), Align::Right),
    ];
    let name = py.map(|p| p.1).unwrap_or_default();
    if with_py {
        cols.push((format!("py {name} put ({})", u_pyput.label()), Align::Right));
        cols.push((format!("py {name} get ({})", u_pyget.label()), Align::Right));
        cols.push(("total vs py".to_owned(), Align::Right));
    }
    let mut t = Table::new(cols);
    let mut failed = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        for metric in ["put", "get", "total"] {
            if let Some(c) = idx
                .get(tr, g, size, metric)
                .filter(|c| c.status == Status::Failed)
            {
                failed.push((
                    tr.to_owned(),
                    size,
                    c.error
                        .clone()
                        .unwrap_or_else(|| "no error message".to_owned()),
                ));
            }
        }
        let show = |c: Option<&Cell>, metric: &str, f: &dyn Fn(&Summary) -> String| match c {
            Some(c) => f(&c.summary),
            None if idx.get(tr, g, size, metric).is_some() => "failed".to_owned(),
            None => MISSING.to_owned(),
        };
        let mut row = vec![
            if size % 8 == 0 {
                (size / 8).to_string()
            } else {
                MISSING.to_owned()
            },
            fmt_bytes(size),
            show(put[i], "put", &|s| mean_sd(s, u_put)),
            show(get[i], "get", &|s| mean_sd(s, u_get)),
            show(total[i], "total", &|s| u_total.fmt(s.mean_ns)),
        ];
        if with_py {
            let opt = |c: Option<&Cell>, f: &dyn Fn(&Summary) -> String| {
                c.map_or(MISSING.to_owned(), |c| f(&c.summary))
            };
            row.push(opt(pyput[i], &|s| mean_sd(s, u_pyput)));
            row.push(opt(pyget[i], &|s| mean_sd(s, u_pyget)));
            row.push(match (total[i], pytotal[i]) {
                (Some(c), Some(p)) => versus(p.summary.mean_ns, c.summary.mean_ns),
                _ => MISSING.to_owned(),
            });
        }
        t.row(row);
    }
    d.table(&t);
    d.failures(&failed);
}

fn fits(d: &mut Doc, idx: &Index<'_>, py: Option<&Python<'_>>) {
    let mut any = false;
    let mut body = Doc::default();
    for (w, p, codec) in idx.groups() {
        let g = group(&w, &p, &codec);
        let metrics = idx.metrics(g);
        let chosen: Vec<String> = match primary_metric(&w) {
            Some(m) if metrics.iter().any(|x| x == m) => vec![m.to_owned()],
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
                        .filter_map(|s| idx.ok(&tr, g, s, &metric))
                        .map(|c| (c.size_bytes as f64, c.summary.p50_ns))
                        .collect();
                    (tr, pts)
                })
                .collect();
            if w == "seed"
                && let Some(py) = py
            {
                for pt in py.transports() {
                    let pts = idx
                        .sizes(g)
                        .into_iter()
                        .filter_map(|s| py.cell(&pt, &p, s, &metric))
                        .map(|c| (c.size_bytes as f64, c.summary.p50_ns))
                        .collect();
                    series.push((format!("py {pt}"), pts));
                }
            }
            for (name, pts) in series {
                if let Some(f) = fit(&pts) {
                    lines.push(format!("- {name}: {}", f.describe()));
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

fn cpu(d: &mut Doc, idx: &Index<'_>) {
    let has_cpu = |c: &Cell| c.cpu_producer_ns.is_some() || c.cpu_consumer_ns.is_some();
    let groups: Vec<(String, String, String)> = idx
        .groups()
        .into_iter()
        .filter(|(w, p, c)| idx.in_group(group(w, p, c)).any(has_cpu))
        .collect();
    if groups.is_empty() {
        return;
    }
    d.h(2, "CPU cost per message");
    d.para(
        "User + system CPU time per message, producer + consumer, from the processes' \
         own accounting. Time spent blocked costs nothing here; spinning does.",
    );
    for (w, p, codec) in groups {
        let g = group(&w, &p, &codec);
        let sizes = idx.sizes(g);
        let metrics = idx.metrics(g);
        let columns: Vec<(String, Vec<Slot<'_>>)> = idx
            .transports(g)
            .into_iter()
            .map(|tr| {
                let slots = sizes
                    .iter()
                    .map(|&s| {
                        // CPU time is per message, so any metric of the cell carries it.
                        let c = metrics
                            .iter()
                            .filter_map(|m| idx.ok(&tr, g, s, m))
                            .find(|c| has_cpu(c));
                        c.map_or(Slot::Missing, Slot::Ok)
                    })
                    .collect();
                (tr, slots)
            })
            .collect();
        d.h(3, &format!("{w} · placement {p} · codec {codec}"));
        let mut t = Table::new(std::iter::once(("Size".to_owned(), Align::Left)).chain(
            columns.iter().map(|(name, slots)| {
                let u = TimeUnit::for_column(slots.iter().filter_map(|s| s.ok()).map(cpu_sum));
                (format!("{name} ({}, prod + cons)", u.label()), Align::Right)
            }),
        ));
        for (i, &size) in sizes.iter().enumerate() {
            let mut row = vec![fmt_bytes(size)];
            for (_, slots) in &columns {
                let u = TimeUnit::for_column(slots.iter().filter_map(|s| s.ok()).map(cpu_sum));
                row.push(match slots[i].ok() {
                    Some(c) => format!(
                        "{} + {}",
                        c.cpu_producer_ns.map_or(MISSING.to_owned(), |v| u.fmt(v)),
                        c.cpu_consumer_ns.map_or(MISSING.to_owned(), |v| u.fmt(v)),
                    ),
                    None => MISSING.to_owned(),
                });
            }
            t.row(row);
        }
        d.table(&t);
    }
}

/// A placement costing this many times `split` or more is called out.
pub const CRITICAL_RATIO: f64 = 10.0;

/// A paced cell whose median latency exceeds this many send intervals did
/// not keep up: a backlog built up.
pub const BACKLOG_INTERVALS: f64 = 50.0;

/// The figure placements are compared on: the median for latencies, the
/// time per message (1 / mean rate) for throughputs; lower is better.
fn cost(c: &Cell) -> f64 {
    if is_throughput(&c.metric) {
        c.summary.mean_ns
    } else {
        c.summary.p50_ns
    }
}

/// `1.2 µs + 0.8 µs`: producer and consumer CPU per message.
fn cpu_pair(c: &Cell) -> String {
    let show = |v: Option<f64>| v.map_or(MISSING.to_owned(), fmt_time);
    format!("{} + {}", show(c.cpu_producer_ns), show(c.cpu_consumer_ns))
}

/// `12.3 k`, `60.4`, `1.94 M`: a count with a decimal prefix.
fn fmt_count(x: f64) -> String {
    let u = CountUnit::for_value(x);
    format!("{} {}", u.fmt(x), u.prefix()).trim_end().to_owned()
}

/// `12.3 k tasks/s`, `60.4 msg/s`.
fn fmt_per_s(x: f64, unit: &str) -> String {
    let u = CountUnit::for_value(x);
    format!("{} {}{unit}/s", u.fmt(x), u.prefix())
}

/// What a workload's throughput counts.
fn rate_unit(workload: &str) -> &'static str {
    if family(workload).0 == "fanout" {
        "tasks"
    } else {
        "msg"
    }
}

/// Every workload's headline metric on each placement against `split`, at
/// the smallest size, and the large ratios called out by name.
fn placement_sweep<'a>(d: &mut Doc, idx: &'a Index<'a>, py: Option<&'a Python<'a>>) {
    struct Hit<'a> {
        transport: String,
        workload: String,
        placement: String,
        ratio: f64,
        split: &'a Cell,
        other: &'a Cell,
    }
    // Ours and the Python baseline's: a workload is swept if either ran it
    // on split and on another placement.
    let sources: Vec<&Index<'_>> = std::iter::once(idx).chain(py.map(|p| &p.idx)).collect();
    let swept = |w: &String| {
        sources.iter().any(|ix| {
            let ps = ix.placements(w);
            ps.iter().any(|p| p == "split") && ps.len() > 1
        })
    };
    let mut workloads: Vec<String> = idx.workloads();
    for ix in &sources[1..] {
        for w in ix.workloads() {
            if !workloads.contains(&w) {
                workloads.push(w);
            }
        }
    }
    workloads.retain(swept);
    if workloads.is_empty() {
        return;
    }
    let mut others: Vec<String> = Vec::new();
    for ix in &sources {
        for w in &workloads {
            for p in ix.placements(w) {
                if p != "split" && !others.contains(&p) {
                    others.push(p);
                }
            }
        }
    }
    d.h(2, "Placement sweep: what sharing a core costs");
    d.para(&format!(
        "Each figure is a placement's cost relative to `split` (producer on core 0, consumers \
         on core 1) for the same transport, at the smallest size both ran, on the workload's \
         headline metric: the median for latencies, time per message for throughputs. \
         2.00x = twice as slow. `same` puts every process on core 0; `none` leaves them to \
         the scheduler. Ratios of {} or more are marked ⚠ and listed below.",
        fmt_multiple(CRITICAL_RATIO)
    ));
    let mut hits: Vec<Hit<'_>> = Vec::new();
    for o in &others {
        let mut t = Table::new(
            std::iter::once(("Transport".to_owned(), Align::Left)).chain(workloads.iter().map(
                |w| {
                    (
                        format!("{w} ({})", primary_metric(w).unwrap_or("?")),
                        Align::Right,
                    )
                },
            )),
        );
        // (label, transport, index): ours, then the Python baseline's.
        let mut rows: Vec<(String, String, &Index<'_>)> = Vec::new();
        let ixs = std::iter::once(("", idx)).chain(py.map(|p| ("py ", &p.idx)));
        for (prefix, ix) in ixs {
            for w in &workloads {
                let Some(codec) = ix.codecs(w, "split").into_iter().next() else {
                    continue;
                };
                for tr in ix.transports(group(w, "split", &codec)) {
                    let label = format!("{prefix}{tr}");
                    if !rows.iter().any(|(l, _, _)| *l == label) {
                        rows.push((label, tr, ix));
                    }
                }
            }
        }
        let mut any = false;
        for (label, tr, ix) in &rows {
            let mut row = vec![label.clone()];
            let mut row_any = false;
            for w in &workloads {
                let metric = primary_metric(w).unwrap_or("");
                let codec = ix.codecs(w, "split").into_iter().next().unwrap_or_default();
                let (gs, go) = (group(w, "split", &codec), group(w, o, &codec));
                let pair = ix
                    .sizes(gs)
                    .into_iter()
                    .find_map(|s| Some((ix.ok(tr, gs, s, metric)?, ix.ok(tr, go, s, metric)?)));
                row.push(match pair {
                    Some((a, b)) if cost(a) > 0.0 => {
                        row_any = true;
                        let r = cost(b) / cost(a);
                        if r >= CRITICAL_RATIO {
                            hits.push(Hit {
                                transport: label.clone(),
                                workload: w.clone(),
                                placement: o.clone(),
                                ratio: r,
                                split: a,
                                other: b,
                            });
                            format!("**{}** ⚠", fmt_multiple(r))
                        } else {
                            fmt_multiple(r)
                        }
                    }
                    _ => MISSING.to_owned(),
                });
            }
            // A row with nothing to compare (a mode that ran on one
            // placement only) would only say so in dashes.
            if row_any {
                any = true;
                t.row(row);
            }
        }
        if any {
            d.h(3, &format!("{o} ÷ split"));
            d.table(&t);
        }
    }
    if hits.is_empty() {
        d.para(&format!(
            "No transport is {} or more slower on another placement than on `split`.",
            fmt_multiple(CRITICAL_RATIO)
        ));
        return;
    }
    hits.sort_by(|a, b| b.ratio.total_cmp(&a.ratio));
    const SHOWN: usize = 12;
    let mut lines = Vec::new();
    let mut footnotes: Vec<String> = Vec::new();
    for h in hits.iter().take(SHOWN) {
        let show = |c: &Cell| {
            if is_throughput(&c.metric) {
                msgs_per_s(c).map_or(MISSING.to_owned(), |r| fmt_per_s(r, rate_unit(&c.workload)))
            } else {
                fmt_time(c.summary.p50_ns)
            }
        };
        let mut line = format!(
            "- **{}**, {} {} at {}: {} on `{}` against {} on `split` ({} worse)",
            h.transport,
            h.workload,
            h.split.metric,
            fmt_bytes(h.split.size_bytes),
            show(h.other),
            h.placement,
            show(h.split),
            fmt_multiple(h.ratio)
        );
        if let Some(note) = &h.other.note {
            // Notes differ in their numbers (50 messages for ping-pong, 200
            // for stream): one mark per distinct note.
            let i = footnotes.iter().position(|n| n == note).unwrap_or_else(|| {
                footnotes.push(note.clone());
                footnotes.len() - 1
            });
            line.push(' ');
            line.push_str(&footnote_mark(i));
        }
        lines.push(line);
    }
    if hits.len() > SHOWN {
        lines.push(format!(
            "- … and {} more (see the tables).",
            hits.len() - SHOWN
        ));
    }
    for (i, note) in footnotes.iter().enumerate() {
        lines.push(format!("\n{} {note}.", footnote_mark(i)));
    }
    d.para(&format!(
        "**Criticalities** (largest first). A busy-waiting receiver that shares its core \
         with the sender holds the core until the scheduler preempts it, so every handover \
         costs a timeslice (milliseconds); more processes than cores does the same to \
         anything that spins.\n\n{}",
        lines.join("\n")
    ));
}

/// Fanout: task throughput and latency as the number of workers grows.
fn fanout_section(d: &mut Doc, idx: &Index<'_>, py: Option<&Python<'_>>) {
    let workloads: Vec<String> = idx
        .workloads()
        .into_iter()
        .filter(|w| family(w).0 == "fanout")
        .collect();
    if workloads.is_empty() {
        return;
    }
    d.h(2, "Fanout: one producer, N workers");
    d.para(
        "The seed's real use case: one producer hands tasks to N worker processes; each \
         worker receives a task, verifies every byte and acknowledges it. Transports are \
         point to point, so the producer holds one channel per worker and deals tasks \
         round-robin with one task in flight per worker (N in flight). Throughput is tasks \
         per second over the measured window; latency runs from the producer's send to the \
         worker holding the task. On this run's machine, workers beyond the number of cores \
         share them (a legitimate, labelled case). `py mp-queue` is Python's natural \
         pattern instead: one shared `multiprocessing.Queue` of tasks and one of \
         acknowledgements. Figures at the smallest size Python ran too (our smallest without \
         it); all sizes are in the matrices above.",
    );
    let mut placements: Vec<String> = Vec::new();
    for w in &workloads {
        for p in idx.placements(w) {
            if !placements.contains(&p) {
                placements.push(p);
            }
        }
    }
    let ns: Vec<u32> = workloads.iter().filter_map(|w| family(w).1).collect();
    for p in &placements {
        let keys: Vec<(String, String)> = workloads
            .iter()
            .filter_map(|w| Some((w.clone(), idx.codecs(w, p).into_iter().next()?)))
            .collect();
        let groups: Vec<(String, Group<'_>)> = keys
            .iter()
            .map(|(w, c)| (w.clone(), group(w, p, c)))
            .collect();
        if groups.is_empty() {
            continue;
        }
        // Python's baseline counts only where it ran this very placement
        // (its figures from another placement would pass for these).
        let py = py.filter(|py| groups.iter().any(|(w, _)| py.idx.placements(w).contains(p)));
        let mut sizes: Vec<u64> = groups.iter().flat_map(|(_, g)| idx.sizes(*g)).collect();
        sizes.sort_unstable();
        sizes.dedup();
        // The smallest size, or with Python beside, the smallest it ran too
        // (the notebook starts at 100 elements; ours at 8 B).
        let py_has = |size: u64| {
            py.is_some_and(|py| {
                groups.iter().any(|(w, _)| {
                    py.transports_in(w)
                        .iter()
                        .any(|pt| py.cell_in(w, pt, p, size, "throughput").is_some())
                })
            })
        };
        let Some(size) = sizes
            .iter()
            .copied()
            .find(|&s| py_has(s))
            .or_else(|| sizes.first().copied())
        else {
            continue;
        };
        // (name, throughput cell per N, latency cell per N)
        type Row<'c> = (String, Vec<Option<&'c Cell>>, Vec<Option<&'c Cell>>);
        let mut rows: Vec<Row<'_>> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        for (_, g) in &groups {
            for tr in idx.transports(*g) {
                if !names.contains(&tr) {
                    names.push(tr);
                }
            }
        }
        for tr in &names {
            let thr = groups
                .iter()
                .map(|(_, g)| idx.ok(tr, *g, size, "throughput"))
                .collect();
            let lat = groups
                .iter()
                .map(|(_, g)| idx.ok(tr, *g, size, "latency"))
                .collect();
            rows.push((tr.clone(), thr, lat));
        }
        if let Some(py) = py {
            for pt in py.transports_in(&groups[0].0) {
                let thr = groups
                    .iter()
                    .map(|(w, _)| py.cell_in(w, &pt, p, size, "throughput"))
                    .collect();
                let lat = groups
                    .iter()
                    .map(|(w, _)| py.cell_in(w, &pt, p, size, "latency"))
                    .collect();
                rows.push((format!("py {pt}"), thr, lat));
            }
        }
        let nlist = |sep: &str| ns.iter().map(u32::to_string).collect::<Vec<_>>().join(sep);
        let (first, last) = (ns.first().copied(), ns.last().copied());
        let mut cols: Vec<(String, Align)> = vec![("Transport".to_owned(), Align::Left)];
        for n in &ns {
            cols.push((format!("tasks/s, N={n}"), Align::Right));
        }
        if let (Some(a), Some(b)) = (first, last)
            && a != b
        {
            cols.push((format!("N={b} ÷ N={a}"), Align::Right));
        }
        cols.push((
            format!("latency p50 (p99), N={}", nlist(" / ")),
            Align::Right,
        ));
        cols.push((
            format!("CPU per task, prod + workers, N={}", last.unwrap_or(1)),
            Align::Right,
        ));
        let mut t = Table::new(cols);
        for (name, thr, lat) in &rows {
            if thr.iter().chain(lat).all(Option::is_none) {
                continue;
            }
            let mut row = vec![name.clone()];
            for c in thr {
                row.push(
                    c.and_then(msgs_per_s).map_or(MISSING.to_owned(), fmt_count)
                        + if c.is_some_and(|c| c.note.is_some()) {
                            " †"
                        } else {
                            ""
                        },
                );
            }
            if first != last {
                let rate = |c: Option<&Option<&Cell>>| c.copied().flatten().and_then(msgs_per_s);
                row.push(match (rate(thr.first()), rate(thr.last())) {
                    (Some(a), Some(b)) if a > 0.0 => fmt_multiple(b / a),
                    _ => MISSING.to_owned(),
                });
            }
            row.push(
                lat.iter()
                    .map(|c| {
                        c.map_or(MISSING.to_owned(), |c| {
                            format!(
                                "{} ({})",
                                fmt_time(c.summary.p50_ns),
                                fmt_time(c.summary.p99_ns)
                            )
                        })
                    })
                    .collect::<Vec<_>>()
                    .join(" / "),
            );
            row.push(
                thr.last()
                    .copied()
                    .flatten()
                    .map_or(MISSING.to_owned(), cpu_pair),
            );
            t.row(row);
        }
        d.h(3, &format!("fanout · placement {p} · {}", fmt_bytes(size)));
        d.table(&t);
    }
    d.para(
        "N=a ÷ N=b: how task throughput scales with workers (1.00x = no gain). † fewer \
         messages: a busy-waiting backend with processes sharing a core (see the matrices).",
    );
}

/// Paced: tail latency at a fixed offered load, with the CPU it costs.
fn paced_section(d: &mut Doc, idx: &Index<'_>) {
    let workloads: Vec<String> = idx
        .workloads()
        .into_iter()
        .filter(|w| family(w).0 == "paced")
        .collect();
    if workloads.is_empty() {
        return;
    }
    d.h(2, "Paced: latency at a fixed offered load (open loop)");
    d.para(&format!(
        "The producer sends at a fixed rate, a percentage (the load) of the end-to-end stream \
         rate its transport reached in the same trial, placement and size; latency runs from \
         each message's *intended* send time to the consumer holding it, so a sender held up \
         by the transport cannot hide the delay (coordinated omission corrected, as in wrk2). \
         Offered = the rate asked for. CPU per message includes the producer's pacing (it \
         sleeps, then spins to each send time). ⚠ marks a median above {BACKLOG_INTERVALS} \
         send intervals: the transport, or the machine, did not keep up and a backlog built \
         up."
    ));
    let mut placements: Vec<String> = Vec::new();
    for w in &workloads {
        for p in idx.placements(w) {
            if !placements.contains(&p) {
                placements.push(p);
            }
        }
    }
    for p in &placements {
        let keys: Vec<(String, String)> = workloads
            .iter()
            .filter_map(|w| Some((w.clone(), idx.codecs(w, p).into_iter().next()?)))
            .collect();
        let groups: Vec<(String, Group<'_>)> = keys
            .iter()
            .map(|(w, c)| {
                let load = family(w).1.map_or(w.clone(), |l| format!("{l}%"));
                (load, group(w, p, c))
            })
            .collect();
        let mut sizes: Vec<u64> = groups.iter().flat_map(|(_, g)| idx.sizes(*g)).collect();
        sizes.sort_unstable();
        sizes.dedup();
        let shown: Vec<u64> = match (sizes.first(), sizes.last()) {
            (Some(&a), Some(&b)) if a != b => vec![a, b],
            (Some(&a), _) => vec![a],
            _ => continue,
        };
        for size in shown {
            let mut t = Table::new([
                ("Transport", Align::Left),
                ("Load", Align::Right),
                ("Offered", Align::Right),
                ("p50", Align::Right),
                ("p99", Align::Right),
                ("p99.9", Align::Right),
                ("max", Align::Right),
                ("CPU per msg, prod + cons", Align::Right),
            ]);
            let mut names: Vec<String> = Vec::new();
            for (_, g) in &groups {
                for tr in idx.transports(*g) {
                    if !names.contains(&tr) {
                        names.push(tr);
                    }
                }
            }
            let mut failed = Vec::new();
            let mut notes = Notes::default();
            for tr in &names {
                for (load, g) in &groups {
                    let Some(c) = idx.get(tr, *g, size, "latency") else {
                        continue;
                    };
                    if c.status == Status::Failed {
                        failed.push((
                            format!("{tr} at {load}"),
                            size,
                            c.error.clone().unwrap_or_default(),
                        ));
                        t.row([tr.clone(), load.clone(), "failed".to_owned()]);
                        continue;
                    }
                    let s = &c.summary;
                    let backlog = c
                        .offered_msgs_per_s
                        .is_some_and(|r| r > 0.0 && s.p50_ns > BACKLOG_INTERVALS * 1e9 / r);
                    let mut name = tr.clone();
                    if let Some(note) = &c.note {
                        notes.add(note, tr);
                        name.push_str(" †");
                    }
                    t.row([
                        name,
                        load.clone(),
                        c.offered_msgs_per_s
                            .map_or(MISSING.to_owned(), |r| fmt_per_s(r, "msg")),
                        format!("{}{}", fmt_time(s.p50_ns), if backlog { " ⚠" } else { "" }),
                        fmt_time(s.p99_ns),
                        fmt_time(s.p999_ns),
                        fmt_time(s.max_ns),
                        cpu_pair(c),
                    ]);
                }
            }
            d.h(3, &format!("paced · placement {p} · {}", fmt_bytes(size)));
            d.table(&t);
            d.failures(&failed);
            notes.render(d);
        }
    }
}

fn cpu_sum(c: &Cell) -> f64 {
    c.cpu_producer_ns.unwrap_or(0.0) + c.cpu_consumer_ns.unwrap_or(0.0)
}

fn python_section(d: &mut Doc, py: &Python<'_>) {
    d.h(2, "Python baseline: multiprocessing.Queue");
    let r = py.idx.results;
    let e = &r.environment;
    let mut notes = vec![format!("Command: `{}`", e.command_line)];
    if !e.date.is_empty() {
        notes.push(format!("date {}", e.date));
    }
    notes.push(format!(
        "{} trial{} of {} messages",
        r.config.trials,
        plural(r.config.trials),
        r.config.messages
    ));
    for (k, v) in &e.extra {
        notes.push(format!("{k} = {v}"));
    }
    d.para(&format!(
        "`mp-queue`: producer and consumer in two processes in lockstep, as ipcbench runs \
         its seed workload; `mp-queue-inproc`: put then get in one process, as the seed \
         notebook ran it. Objects are pickled numpy int64 arrays.\n\n{}",
        notes.join("; ")
    ));
    for p in py.idx.placements("seed") {
        for codec in py.idx.codecs("seed", &p) {
            let g = group("seed", &p, &codec);
            for tr in py.idx.transports(g) {
                d.h(3, &format!("{tr} · codec {codec} · placement {p}"));
                seed_table(d, &py.idx, g, &tr, None);
            }
        }
    }
}

/// The i-th footnote mark: †, ‡, §, then †4, †5, ...
fn footnote_mark(i: usize) -> String {
    match i {
        0 => "†".to_owned(),
        1 => "‡".to_owned(),
        2 => "§".to_owned(),
        _ => format!("†{}", i + 1),
    }
}
