//! Renders the test fixtures to a directory (README, details, index.html,
//! plots), to look at the report as a reader would and for .ci/browser-test:
//! `cargo run -p report --example demo -- OUT_DIR [PYTHON_JSON [RESULTS_JSON]]`
//! (real files, from baselines/python/mpqueue_bench.py and from ipcbench,
//! replace the fixtures).

#[path = "../tests/fixtures/mod.rs"]
mod fixtures;

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::args().nth(1).ok_or("usage: demo OUT_DIR")?);
    std::fs::create_dir_all(&out)?;
    let run: results::Results = match std::env::args().nth(3) {
        Some(path) => results::Results::read(path.as_ref())?,
        None => fixtures::run(),
    };
    let py: results::Results = match std::env::args().nth(2) {
        Some(path) => results::Results::read(path.as_ref())?,
        None => fixtures::python(),
    };
    let base = fixtures::baseline();
    let plots = report::render_plots(&run, Some(&py));
    for p in &plots {
        std::fs::write(out.join(&p.file_name), &p.svg)?;
    }
    let opts = report::RenderOptions {
        python: Some(&py),
        baseline: Some(&base),
        plots: plots
            .iter()
            .map(|p| (p.title.clone(), p.file_name.clone()))
            .collect(),
        ..Default::default()
    };
    for page in report::render_pages(&run, &opts) {
        let path = out.join(&page.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, page.text)?;
    }
    std::fs::write(out.join("results.csv"), report::to_csv(&run))?;
    run.write(&out.join("results.json"))?;
    py.write(&out.join("python.json"))?;
    println!("wrote {}", out.display());
    Ok(())
}
