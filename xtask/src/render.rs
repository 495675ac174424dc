//! Results directories: rendering README.md, CSV and plots from the results
//! files (`cargo xtask render`), auditing them (`cargo xtask audit`), and
//! replacing the files an earlier run wrote. Nothing here writes a results
//! file: `ipcbench run` and the Python baseline write them whole.

use std::path::Path;

use anyhow::{Context, Result};
use report::RenderOptions;
use results::Results;

use crate::interrupt::Staging;
use crate::readme::update_readme_excerpt;
use crate::root;

/// `audit`: the run's cells, then the Python baseline's beside them.
pub(crate) fn audit_dir(dir: &Path) -> Result<()> {
    let r = Results::read(&dir.join("results.json"))?;
    print!("{}", report::audit::render(&judge::audit::audit(&r)));
    let py = dir.join("python.json");
    if py.exists() {
        let p = Results::read(&py)?;
        let a = judge::audit::audit(&p);
        println!(
            "- Python baseline: {} cells, intervals with a negative lower bound: {}, negative medians: {}",
            a.cells, a.negative_bounds, a.negative_medians
        );
    }
    Ok(())
}

/// Whether a file in a results directory is one bench-all writes (so an old
/// one the new run no longer writes, such as a plot of a placement it did not
/// run, is removed rather than left beside the new results).
fn is_generated(name: &str) -> bool {
    const EXTENSIONS: [&str; 5] = [".svg", ".html", ".md", ".json", ".csv"];
    name == "details" || EXTENSIONS.iter().any(|e| name.ends_with(e))
}

/// Moves the staged results into `out_dir`, replacing what an earlier run
/// wrote there.
pub(crate) fn replace_generated(out_dir: &Path, staging: &Path) -> Result<()> {
    for entry in std::fs::read_dir(out_dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_generated(&name) {
            let path = entry.path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            }
            .with_context(|| format!("removing the old {}", path.display()))?;
        }
    }
    move_staged(staging, out_dir)?;
    Ok(())
}

/// Moves every file of `staging` into `dir` (same file system: a rename
/// each) and returns where each went.
pub(crate) fn move_staged(staging: &Path, dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut moved = Vec::new();
    for entry in std::fs::read_dir(staging)? {
        let entry = entry?;
        let dest = dir.join(entry.file_name());
        std::fs::rename(entry.path(), &dest)
            .with_context(|| format!("moving {} into place", dest.display()))?;
        moved.push(dest);
    }
    Ok(moved)
}

/// The remote runs (`cargo xtask bench-remote`, or `ipcbench run --remote
/// --json`) kept in `remote_dir` (a results directory's `remote/`): every
/// `*.json` there, by name; none if it does not exist.
pub(crate) fn read_remote(remote_dir: &Path) -> Result<Vec<Results>> {
    if !remote_dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files: Vec<_> = std::fs::read_dir(remote_dir)
        .with_context(|| format!("listing {}", remote_dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            Results::read(f).with_context(|| format!("reading the remote run {}", f.display()))
        })
        .collect()
}

/// Renders every format (`report::export_all`: the SVG plots, README.md and
/// details, index.html, results.csv) next to results.json, with the remote
/// runs of `remote_dir` beside it.
pub(crate) fn render_into(
    dir: &Path,
    remote_dir: &Path,
    baseline: Option<&Path>,
    python_missing: bool,
) -> Result<()> {
    let results = Results::read(&dir.join("results.json"))?;
    let remote = read_remote(remote_dir)?;
    let python = dir.join("python.json");
    let python = python
        .exists()
        .then(|| Results::read(&python))
        .transpose()?;
    let baseline = baseline.map(Results::read).transpose()?;
    let opts = RenderOptions {
        python: python.as_ref(),
        baseline: baseline.as_ref(),
        remote: &remote,
        ..RenderOptions::default()
    };
    for page in report::export_all(&results, &opts) {
        let path = dir.join(&page.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let mut text = page.text;
        if python_missing && page.path == "README.md" {
            text.push_str("\n> The Python `multiprocessing.Queue` baseline was not run on this machine (python3 or numpy unavailable); see the bench-all output.\n");
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

pub(crate) fn render_dir(dir: &Path) -> Result<()> {
    // Render into a staging directory too, so a failure leaves the old files.
    let staging = dir.join(format!(".staging-{}", std::process::id()));
    std::fs::create_dir_all(&staging)?;
    let guard = Staging::new(staging.clone());
    std::fs::copy(dir.join("results.json"), staging.join("results.json"))?;
    if dir.join("python.json").exists() {
        std::fs::copy(dir.join("python.json"), staging.join("python.json"))?;
    }
    render_into(&staging, &dir.join("remote"), None, false)?;
    replace_generated(dir, &staging)?;
    drop(guard);
    if dir.canonicalize().ok() == root().join("results").canonicalize().ok() {
        update_readme_excerpt(&root())?;
    }
    Ok(())
}
