//! The command line's input and output: results files named on it (a missing
//! or malformed one is bad input), files written atomically, and stdout.

use std::path::Path;

use anyhow::{Context, Result};
use results::Results;

use super::Usage;

/// Reads a results file named on the command line; a missing or malformed
/// one is bad input (exit status 2).
pub(super) fn load(path: &Path) -> Result<Results> {
    Results::read(path).map_err(|e| Usage(e.to_string()).into())
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

/// Writes a file atomically (the one writer results files use too).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(results::write_atomic(path, bytes)?)
}

pub(super) fn write_json(path: &Path, results: &Results) -> Result<()> {
    Ok(results.write(path)?)
}
