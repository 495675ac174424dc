//! results/README.md from a run: the answer first, then the environment,
//! floors, per-workload matrices, seed-style tables, fits, CPU cost, plots
//! and the change since a baseline run.

use crate::analysis::{ci, fit, geomean, standing};
use crate::compare;
use crate::format::{
    CountUnit, MISSING, RateUnit, TimeUnit, fmt_bytes, fmt_multiple, fmt_percent, fmt_rate,
    fmt_time,
};
use crate::index::{Group, Index, describe_metric, is_throughput, primary_metric};
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
    environment(&mut d, results);
    floors(&mut d, &idx);
    d.raw(&crate::targets::section(results));
    matrices(&mut d, &idx, py.as_ref());
    seed_tables(&mut d, &idx, py.as_ref());
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

    /// Transports in the baseline's seed cells, the two-process one first.
    fn transports(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for c in self
            .idx
            .results
            .cells
            .iter()
            .filter(|c| c.workload == "seed")
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

    /// The transport "x faster than mp.Queue" refers to.
    fn main(&self) -> Option<String> {
        self.transports().into_iter().next()
    }

    /// A seed cell, in the same placement if the baseline has it, else in
    /// the baseline's first placement.
    fn cell(&self, transport: &str, placement: &str, size: u64, metric: &str) -> Option<&'a Cell> {
        let placements = self.idx.placements("seed");
        let p = if placements.iter().any(|p| p == placement) {
            placement.to_owned()
        } else {
            placements.into_iter().next()?
        };
        let codecs = self.idx.codecs("seed", &p);
        codecs.iter().find_map(|codec| {
            self.idx.ok(
                transport,
                Group {
                    workload: "seed",
                    placement: &p,
                    codec,
                },
                size,
                metric,
            )
        })
    }
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
                    match value(c) {
                        Some(v) if show == Show::Time => {
                            format!("{} ({})", units[i](v), units[i](c.summary.p99_ns))
                        }
                        Some(v) => units[i](v),
                        None => MISSING.to_owned(),
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
        let py_main = py.and_then(|py| py.main()).filter(|_| w == "seed");
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
                if throughput {
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
                row.push(match (fastest, py.cell(pm, &p, size, &metric)) {
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
                    if w == "seed"
                        && let Some(py) = py
                    {
                        for pt in py.transports() {
                            let slots: Vec<Slot<'_>> = sizes
                                .iter()
                                .map(|&s| Slot::of(py.cell(&pt, &p, s, &metric)))
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
