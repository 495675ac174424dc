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
    let opts = report::RenderOptions {
        python: Some(&py),
        baseline: Some(&base),
        ..Default::default()
    };
    for page in report::export_all(&run, &opts) {
        let path = out.join(&page.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, page.text)?;
    }
    run.write(&out.join("results.json"))?;
    py.write(&out.join("python.json"))?;
    println!("wrote {}", out.display());
    Ok(())
}
