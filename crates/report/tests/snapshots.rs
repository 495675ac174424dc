//! Snapshot tests of everything the crate renders, on hand-built runs (see
//! fixtures/): review a changed snapshot as you would review the report.

mod fixtures;

use judge::compare;
use report::{
    RenderOptions, render_comparison, render_markdown, render_pages, render_plots, to_csv,
};
use results::{Placement, Results, Workload};

/// Every Markdown page of a run, each headed by its path, for snapshots.
fn pages(r: &Results, opts: &RenderOptions<'_>) -> String {
    render_pages(r, opts)
        .into_iter()
        .filter(|p| p.path.ends_with(".md"))
        .map(|p| format!("<!-- ===== {} ===== -->\n\n{}", p.path, p.text))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One page of a run by its path.
fn page(r: &Results, opts: &RenderOptions<'_>, path: &str) -> String {
    render_pages(r, opts)
        .into_iter()
        .find(|p| p.path == path)
        .unwrap_or_else(|| panic!("no page {path}"))
        .text
}

#[test]
fn markdown_with_python_baseline_and_plots() {
    let run = fixtures::run();
    let py = fixtures::python();
    let base = fixtures::baseline();
    let opts = RenderOptions {
        python: Some(&py),
        baseline: Some(&base),
        plots: vec![(
            "Round trip vs size (pingpong, placement split)".into(),
            "pingpong-split.svg".into(),
        )],
        ..RenderOptions::default()
    };
    insta::assert_snapshot!("markdown_full", pages(&run, &opts));
    let readme = render_markdown(&run, &opts);
    assert!(readme.lines().count() <= 300, "{readme}");
    assert!(readme.len() <= 64 * 1024);
}

/// Issue 23: the hand-over answer (Rust transports and Python queues, loans
/// marked, one memcpy per size), its details page with Python's columns,
/// and the Python page's hand-over section.
#[test]
fn markdown_with_the_handover() {
    let mut run = fixtures::run();
    let mut py = fixtures::python();
    fixtures::add_handover(&mut run, &mut py);
    let opts = RenderOptions {
        python: Some(&py),
        ..RenderOptions::default()
    };
    let readme = render_markdown(&run, &opts);
    let start = readme
        .find("## Hand over large arrays")
        .expect("the hand-over answer");
    let end = readme[start + 3..]
        .find("\n## ")
        .map_or(readme.len(), |e| start + 3 + e);
    let python = page(&run, &opts, "details/python.md");
    let hand = python
        .find("## Hand-over")
        .expect("the Python hand-over section");
    insta::assert_snapshot!(
        "markdown_handover",
        format!(
            "{}\n<!-- ===== details/handover.md ===== -->\n\n{}\n<!-- ===== details/python.md (hand-over) ===== -->\n\n{}",
            &readme[start..end],
            page(&run, &opts, "details/handover.md"),
            &python[hand..]
        )
    );
}

#[test]
fn markdown_without_extras() {
    insta::assert_snapshot!(
        "markdown_plain",
        render_markdown(&fixtures::run(), &RenderOptions::default())
    );
}

#[test]
fn markdown_of_an_empty_run() {
    let mut r = fixtures::run();
    r.cells.clear();
    r.floors.clear();
    insta::assert_snapshot!("markdown_empty", pages(&r, &RenderOptions::default()));
}

#[test]
fn markdown_of_the_python_baseline_alone() {
    insta::assert_snapshot!(
        "markdown_python",
        pages(&fixtures::python(), &RenderOptions::default())
    );
}

#[test]
fn comparison() {
    let c = compare(
        &fixtures::baseline(),
        &fixtures::run(),
        judge::DEFAULT_THRESHOLD,
    );
    insta::assert_snapshot!("comparison", render_comparison(&c, true));
    // By default only what changed, the failures and the summary.
    let short = render_comparison(&c, false);
    assert!(!short.contains("All matched cells"), "{short}");
    assert!(short.contains("Changes beyond noise"), "{short}");
    assert!(short.contains("`--all` lists every one"), "{short}");
    assert!(short.len() < render_comparison(&c, true).len());
    assert_eq!(c.count(judge::compare::Verdict::Faster), 1, "{c:#?}");
    assert_eq!(c.count(judge::compare::Verdict::Slower), 1, "{c:#?}");
    assert_eq!(c.count(judge::compare::Verdict::Failed), 4);
    assert_eq!(c.only_old.len(), 1);
    insta::assert_snapshot!("comparison", render_comparison(&c, true));
}

#[test]
fn csv() {
    let mut r = fixtures::run();
    // Only a few cells, so the snapshot stays reviewable; quoting included.
    r.cells.retain(|c| {
        c.size_bytes == 800 && c.workload != Workload::Seed || c.status == results::Status::Failed
    });
    r.cells.truncate(6);
    if let Some(c) = r.cells.first_mut() {
        c.error = Some("a \"quoted\", comma".into());
    }
    insta::assert_snapshot!("csv", to_csv(&r));
}

#[test]
fn csv_has_a_row_per_cell_and_every_column() {
    let r = fixtures::run();
    let text = to_csv(&r);
    let mut rows = ::csv::Reader::from_reader(text.as_bytes());
    let header = rows.headers().expect("header").clone();
    assert_eq!(header.len(), report::CSV_COLUMNS.len());
    assert_eq!(rows.records().count(), r.cells.len());
}

#[test]
fn json_round_trip() {
    let r = fixtures::run();
    let text = serde_json::to_string_pretty(&r).expect("serialise");
    let back: Results = serde_json::from_str(&text).expect("parse");
    assert_eq!(back, r);
}

#[test]
fn plots_draw_every_transport() {
    let run = fixtures::run();
    let py = fixtures::python();
    let plots = render_plots(&run, Some(&py));
    let names: Vec<&str> = plots.iter().map(|p| p.file_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "sizes-seed-split-raw.svg",
            "sizes-seed-split-bincode.svg",
            "sizes-pingpong-split-raw.svg",
            "sizes-pingpong-same-raw.svg",
            "sizes-stream-split-raw.svg",
            "sizes-fanout1-split-raw.svg",
            "sizes-fanout2-split-raw.svg",
            "sizes-fanout4-split-raw.svg",
            "sizes-paced50-split-raw.svg",
            "sizes-paced80-split-raw.svg",
            "dist-pingpong-rtt.svg",
            "dist-seed-total.svg",
        ]
    );
    for p in &plots {
        assert!(p.svg.starts_with("<svg xmlns"), "{}", p.file_name);
        assert!(p.svg.trim_end().ends_with("</svg>"), "{}", p.file_name);
        assert!(p.svg.contains(r#"class="series""#), "{}", p.file_name);
    }
    let seed = &plots[0].svg;
    for name in ["pipe", "uds", "shm", "py mp-queue", "py mp-queue-inproc"] {
        assert!(
            seed.contains(&format!(r#"data-name="{name}""#)),
            "{name} missing from the seed plot"
        );
    }
    // Python is drawn beside the transports in the fanout plots too, and
    // the three fanout plots share one y scale.
    assert!(plots[7].svg.contains(r#"data-name="py mp-queue""#));
    let ticks = |svg: &str| -> Vec<String> {
        svg.split(r#"text-anchor="end">"#)
            .skip(1)
            .map(|t| t.split('<').next().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(ticks(&plots[5].svg), ticks(&plots[7].svg));
    assert_eq!(report::render_svgs(&run, None).len(), 12);
}

#[test]
fn plots_of_python_alone() {
    let py = fixtures::python();
    let plots = render_plots(&py, None);
    let names: Vec<&str> = plots.iter().map(|p| p.file_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "sizes-seed-split-pickle.svg",
            "sizes-fanout1-split-pickle.svg",
            "sizes-fanout2-split-pickle.svg",
            "sizes-fanout4-split-pickle.svg",
            "dist-seed-total.svg"
        ]
    );
    let empty = Results {
        cells: Vec::new(),
        ..fixtures::run()
    };
    // Python is a reference beside transports; with none, nothing to draw.
    assert!(render_plots(&empty, Some(&py)).is_empty());
}

#[test]
fn the_documented_example_parses() {
    let doc = include_str!("../../../docs/results-schema.md");
    let start = doc.find("```json\n").expect("example") + "```json\n".len();
    let len = doc[start..].find("```").expect("end of example");
    let r: Results = serde_json::from_str(&doc[start..start + len]).expect("example parses");
    // The example may show any version the report still reads (version 1
    // files stay readable after a bump).
    assert!(
        results::schema::READABLE_VERSIONS.contains(&r.schema_version),
        "{}",
        r.schema_version
    );
    assert_eq!(r.cells.len(), 2);
    assert_eq!(r.cells[1].status, results::Status::Failed);
    assert!(r.cells[0].summary.ci95_low_ns.is_some());
    // Renders without panicking, failed cell and all.
    assert!(pages(&r, &RenderOptions::default()).contains("failed"));
}

#[test]
fn the_placement_sweep_has_a_row_for_each_python_baseline_placement_run() {
    let run = fixtures::run();
    let mut py = fixtures::python();
    // The baseline also ran on one core, ten times slower.
    let same: Vec<results::Cell> = py
        .cells
        .iter()
        .filter(|c| c.workload == Workload::Seed && c.transport == "mp-queue")
        .map(|c| {
            let mut c = c.clone();
            c.placement = Placement::Same;
            c.summary.p50_ns *= 10.0;
            c.summary.mean_ns *= 10.0;
            c
        })
        .collect();
    py.cells.extend(same);
    py.config.placements.push(Placement::Same);
    let md = page(
        &run,
        &RenderOptions {
            python: Some(&py),
            ..RenderOptions::default()
        },
        "details/placement.md",
    );
    let sweep = md
        .split("### same ÷ split")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a same ÷ split table");
    let row = sweep
        .lines()
        .find(|l| l.starts_with("| py mp-queue "))
        .unwrap_or_else(|| panic!("no Python row in:\n{sweep}"));
    assert!(row.contains("**10.0x** ⚠"), "{row}");
    // Only placements the baseline ran: no row for the in-process mode,
    // which ran on split alone.
    assert!(!sweep.contains("| py mp-queue-inproc "), "{sweep}");
}

#[test]
fn a_quick_runs_readme_says_so_in_its_first_line() {
    let mut r = fixtures::run();
    r.config.trials = 2;
    r.config.messages = 100;
    let md = render_markdown(&r, &RenderOptions::default());
    let first = md.lines().next().unwrap_or_default();
    assert!(first.contains("Low-precision smoke run"), "{first}");
    // And a full run's README opens with its title, machine line next.
    let md = render_markdown(&fixtures::run(), &RenderOptions::default());
    let mut lines = md.lines().filter(|l| !l.is_empty());
    assert_eq!(lines.next(), Some("# ipcbench results"));
    assert!(lines.next().is_some_and(|l| l.starts_with("**Machine:**")));
}

#[test]
fn the_committed_results_render_a_readme_of_one_screen_then_a_map() {
    // The real run in results/, when there is one: README at most 300 lines
    // and 64 KB, every page it links to rendered.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../results");
    let dir = std::path::Path::new(dir);
    if !dir.join("results.json").exists() {
        return;
    }
    let run = Results::read(&dir.join("results.json")).expect("results/results.json reads");
    let py = dir.join("python.json");
    let py = py
        .exists()
        .then(|| Results::read(&py).expect("results/python.json reads"));
    let opts = RenderOptions {
        python: py.as_ref(),
        ..RenderOptions::default()
    };
    let pages = report::export_all(&run, &opts);
    let readme = &pages
        .iter()
        .find(|p| p.path == "README.md")
        .expect("README.md rendered")
        .text;
    assert!(
        readme.lines().count() <= 300,
        "{} lines",
        readme.lines().count()
    );
    assert!(readme.len() <= 64 * 1024, "{} bytes", readme.len());
    for link in readme.split("](").skip(1) {
        let target = link.split(')').next().unwrap_or_default();
        if target.starts_with("details/") || target == "index.html" || target.ends_with(".svg") {
            assert!(
                pages.iter().any(|p| p.path == target),
                "README links to {target}, which is not rendered"
            );
        }
    }
}

#[test]
fn the_machine_line_names_split_and_the_map_is_drawn_and_listed() {
    let mut r = fixtures::run();
    r.environment.placement_cpus = Some(results::PlacementCpus {
        split: [0, 1],
        split_relation: Some("llc".into()),
        same: 0,
        fallback: None,
    });
    let pair = |a, b, rel: &str, ns| results::CpuPair {
        cpus: [a, b],
        relation: Some(rel.into()),
        p50_ns: Some(ns),
        batch_ns: Some(ns * 0.9),
        not_measured: None,
    };
    let split = r
        .floors
        .iter_mut()
        .find(|f| f.placement == Placement::Split)
        .expect("split floors");
    split.cpu_map = Some(results::CpuMap {
        shape: "one-word, pause".into(),
        cpus: vec![0, 1, 2, 3],
        pairs_total: 6,
        budget_s: 5.0,
        pairs: vec![pair(0, 1, "smt", 40.0), pair(0, 2, "llc", 180.0)],
        not_measured: None,
    });
    let md = render_markdown(&r, &RenderOptions::default());
    let machine = md
        .lines()
        .find(|l| l.starts_with("**Machine:**"))
        .expect("machine line");
    insta::assert_snapshot!("machine_line_with_split_cpus", machine);
    let html = report::render_html(&r, &RenderOptions::default());
    assert_eq!(html.matches(r#"class="heatmap""#).count(), 1, "{html}");
    assert!(html.contains("2 of 6 pairs (a sample)"), "{html}");
    let env = page(&r, &RenderOptions::default(), "details/environment.md");
    assert!(env.contains("### Core-to-core map"), "{env}");
    assert!(env.contains("| 0/2  | llc      |"), "{env}");
    // Without the map and the CPUs, as files written before them: neither.
    let old = fixtures::run();
    assert!(!report::render_html(&old, &RenderOptions::default()).contains("heatmap"));
    assert!(
        render_markdown(&old, &RenderOptions::default())
            .contains("Placement `split`: producer on core 0, consumers on core 1;")
    );
}
