//! The report as files: results/README.md (one screen of answers, then a
//! map), results/details/*.md and results/index.html, all rendered from the
//! results JSON alone.

use crate::compare;
use crate::sections::{self, Doc, Python, answers, machine, workload};
use judge::DEFAULT_THRESHOLD;
use results::index::Index;
use results::schema::Results;

/// What to render besides the run itself.
#[derive(Debug, Clone)]
pub struct RenderOptions<'a> {
    /// The Python `multiprocessing.Queue` baseline (same schema).
    pub python: Option<&'a Results>,
    /// An older run to compare against.
    pub baseline: Option<&'a Results>,
    /// Threshold for the baseline comparison, as a fraction (0.05 = 5%).
    pub threshold: f64,
    /// Plots to link: (title, path of the SVG relative to the README).
    pub plots: Vec<(String, String)>,
    /// Remote runs (`ipcbench run --remote`) beside this one: they add the
    /// answer "What leaving the machine costs".
    pub remote: &'a [Results],
}

impl Default for RenderOptions<'_> {
    fn default() -> Self {
        Self {
            python: None,
            baseline: None,
            threshold: DEFAULT_THRESHOLD,
            plots: Vec::new(),
            remote: &[],
        }
    }
}

/// One rendered file: its path relative to the results directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub path: String,
    pub text: String,
}

/// The answers as plain data, shared by the README and index.html.
pub struct Answers {
    pub smoke: Option<String>,
    pub machine: String,
    pub caveats: Vec<String>,
    pub questions: Vec<answers::Answer>,
    pub floors: Vec<answers::FloorCost>,
    /// The floors those costs divide by (their probe shapes are named).
    pub floor: Option<results::Floors>,
}

/// Collects the answers of a run.
pub fn collect_answers(results: &Results, py: Option<&Python<'_>>) -> Answers {
    let idx = Index::new(results);
    Answers {
        smoke: machine::smoke_line(results),
        machine: machine::machine_line(results),
        caveats: machine::caveats(results)
            .iter()
            .map(machine::Caveat::describe)
            .collect(),
        questions: [
            Some(answers::fanout(&idx, py)),
            answers::broadcast(&idx, py),
            answers::gather(&idx, py),
            answers::python(py),
            answers::handover(&idx, py),
            Some(answers::latency(&idx, py)),
            Some(answers::throughput(&idx, py)),
            Some(answers::cpu(&idx)),
        ]
        .into_iter()
        .flatten()
        .collect(),
        floors: answers::floor_costs(&idx),
        floor: answers::primary_floors(&idx).cloned(),
    }
}

/// The details pages that exist for a run: (file name, title).
pub fn detail_pages(results: &Results, opts: &RenderOptions<'_>) -> Vec<(String, String)> {
    let idx = Index::new(results);
    let mut v: Vec<(String, String)> = workload::families(&idx)
        .into_iter()
        .map(|(f, ws)| {
            let ws: Vec<String> = ws.iter().map(ToString::to_string).collect();
            (format!("{f}.md"), format!("{f}: {}", ws.join(", ")))
        })
        .collect();
    v.push((
        "placement.md".into(),
        "placement: what sharing a core costs".into(),
    ));
    v.push(("cpu.md".into(), "CPU per message".into()));
    v.push((
        "fits.md".into(),
        "fits: fixed cost + size / bandwidth".into(),
    ));
    if opts.python.is_some() {
        v.push(("python.md".into(), "the Python baseline on its own".into()));
    }
    v.push((
        "environment.md".into(),
        "environment, floors and targets".into(),
    ));
    if opts.baseline.is_some() {
        v.push(("change.md".into(), "change since the baseline run".into()));
    }
    v
}

/// results/README.md: the answers on the first screen, then a map.
pub fn render_markdown(results: &Results, opts: &RenderOptions<'_>) -> String {
    let py = opts.python.map(Python::new);
    let a = collect_answers(results, py.as_ref());
    let mut d = Doc::default();
    if let Some(s) = &a.smoke {
        d.para(s);
    }
    d.h(1, "ipcbench results");
    d.para(&a.machine);
    if !a.caveats.is_empty() {
        d.para(
            &a.caveats
                .iter()
                .map(|c| format!("- {c}"))
                .collect::<Vec<_>>()
                .join("\n"),
        );
    }
    d.para(&format!(
        "Each answer names the fastest transport by median (the median of {} independent \
         trials' medians); it **wins** only where its ratio to every other contender has a 95% \
         bootstrap interval above 1 and an effect of at least {} % (\"1.90x (1.62–2.21) faster \
         than B\"), otherwise the row says who it ties with; when the only contenders tied with \
         it are variants of its own backend (shm-spin and shm-adaptive are the shm ring with \
         two wait strategies), the **backend** wins the row and the tie is among its variants. \
         \"vs mp.Queue\" is the same ratio \
         against Python's `multiprocessing.Queue` on the same case. Every transport, size and \
         placement is in the details below; [index.html](index.html) has the same with plots.",
        results.config.trials,
        judge::verdict::MIN_EFFECT * 100.0
    ));
    if results.cells.is_empty() {
        d.para("This run has no cells.");
    }
    for q in &a.questions {
        answers::render(&mut d, q);
    }
    sections::leaving::render(&mut d, results, opts.remote);
    answers::render_floors(&mut d, &a.floors, a.floor.as_ref());
    d.h(2, "Details");
    let mut toc: Vec<String> = detail_pages(results, opts)
        .into_iter()
        .map(|(f, title)| format!("- [{title}](details/{f})"))
        .collect();
    if !opts.plots.is_empty() {
        // One line: the file names say what each plot is.
        let links: Vec<String> = opts
            .plots
            .iter()
            .map(|(_, path)| {
                let name = path.trim_end_matches(".svg").trim_start_matches("sizes-");
                format!("[{name}]({path})")
            })
            .collect();
        toc.push(format!(
            "- plots (SVG; the same figures are in index.html): {}",
            links.join(" · ")
        ));
    }
    toc.push("- [index.html](index.html): answers, sortable tables and plots in one page".into());
    toc.push("- `results.json` (every cell), `results.csv` (the same, flat)".into());
    d.para(&toc.join("\n"));
    d.para(&format!(
        "*Rendered from the results JSON (schema version {}, documented in \
         docs/results-schema.md). Sizes are payload bytes of int64 arrays in decimal units \
         (1 KB = 1000 B); rates are decimal too (1 GB/s = 10⁹ B/s).*",
        results.schema_version
    ));
    d.out
}

/// Every Markdown page: README.md and details/*.md.
pub fn render_pages(results: &Results, opts: &RenderOptions<'_>) -> Vec<Page> {
    let idx = Index::new(results);
    let py = opts.python.map(Python::new);
    let mut pages = vec![Page {
        path: "README.md".into(),
        text: render_markdown(results, opts),
    }];
    let back = "[← answers](../README.md)";
    for (f, ws) in workload::families(&idx) {
        pages.push(Page {
            path: format!("details/{f}.md"),
            text: workload::render(&idx, py.as_ref(), &f, &ws),
        });
    }
    let page = |title: &str, body: &dyn Fn(&mut Doc)| {
        let mut d = Doc::default();
        d.h(1, title);
        d.para(back);
        body(&mut d);
        d.out
    };
    pages.push(Page {
        path: "details/placement.md".into(),
        text: page("Placement", &|d| {
            sections::placement::render(d, &idx, py.as_ref());
        }),
    });
    pages.push(Page {
        path: "details/cpu.md".into(),
        text: page("CPU", &|d| sections::cpu::render(d, &idx)),
    });
    pages.push(Page {
        path: "details/fits.md".into(),
        text: page("Fits", &|d| sections::fits::render(d, &idx, py.as_ref())),
    });
    if let Some(py) = &py {
        pages.push(Page {
            path: "details/python.md".into(),
            text: page("Python", &|d| sections::python::render(d, py)),
        });
    }
    pages.push(Page {
        path: "details/environment.md".into(),
        text: page("Environment", &|d| {
            sections::environment::environment(d, results);
            sections::transports::render(d, results);
            sections::environment::floors(d, &idx);
            d.raw(&crate::targets::section(results, opts.python));
        }),
    });
    if let Some(base) = opts.baseline {
        let c = judge::compare(base, results, opts.threshold);
        pages.push(Page {
            path: "details/change.md".into(),
            text: page("Change since the baseline run", &|d| {
                d.raw(&compare::render_body(&c, 2, false));
            }),
        });
    }
    pages
}
