//! The command line's input and output: results files named on it (a missing
//! or malformed one is bad input), files written atomically, and stdout.

use std::path::Path;

use anyhow::{Context, Result, bail};
use report::Results;
use report::schema::SCHEMA_VERSION;

use super::Usage;

/// Reads a results file named on the command line; a missing or malformed
/// one is bad input (exit status 2).
pub(super) fn load(path: &Path) -> Result<Results> {
    read_results(path).map_err(|e| Usage(format!("{e:#}")).into())
}

fn read_results(path: &Path) -> Result<Results> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut r: Results = serde_json::from_str(&text)
        .with_context(|| format!("{} is not an ipcbench results file", path.display()))?;
    if !report::schema::READABLE_VERSIONS.contains(&r.schema_version) {
        bail!(
            "{} has schema version {}, this ipcbench reads versions 1 to {SCHEMA_VERSION}",
            path.display(),
            r.schema_version
        );
    }
    report::bootstrap::complete_intervals(&mut r);
    Ok(r)
}

/// Writes to stdout; a closed pipe (`ipcbench list | head`) is not an error.
pub(crate) fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to stdout"),
        _ => Ok(()),
    }
}

/// Writes a file so that readers see either the old or the new content, never
/// a half-written one: a temporary file in the same directory, then rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = path
        .file_name()
        .context("output path has no file name")?
        .to_string_lossy()
        .into_owned();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

pub(super) fn write_json(path: &Path, results: &Results) -> Result<()> {
    let json = serde_json::to_string_pretty(results).context("serialising results")?;
    write_atomic(path, json.as_bytes())
}
