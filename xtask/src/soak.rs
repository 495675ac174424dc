//! `cargo xtask soak-py`: the memory soak of `ipcbench.Queue` (issue 23:
//! producer and consumer RSS flat over 10 k hand-overs of 64 MiB), run by
//! baselines/python/soak.py in the baseline's venv. Its results file,
//! written whole by the script, goes to `DIR/soak/python-rss.json` with a
//! summary beside it (`python-rss.md`): a directory of its own, which
//! bench-all's replacement of the generated files leaves alone. Not part of
//! any bench-all mode (about 3 min here).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::pyenv;

/// What the command line chose.
pub(crate) struct SoakArgs<'a> {
    pub dir: &'a Path,
    pub messages: u32,
    pub size_mib: u32,
    pub quiet: bool,
}

pub(crate) fn soak_py(root: &Path, a: &SoakArgs<'_>) -> Result<()> {
    let say = |what: &str| {
        if !a.quiet {
            eprintln!("xtask: {what}");
        }
    };
    let (dir, script, python) = pyenv::baseline_script(root, "soak.py", "the soak needs it")?;
    let vpy = pyenv::prepare(root, &dir, python, pyenv::Extras::default(), &say)?;
    let out = a.dir.join("soak");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let json = out.join("python-rss.json");
    say(&format!(
        "ipcbench.Queue RSS soak: {} hand-overs of {} MiB per mode into {}",
        a.messages,
        a.size_mib,
        json.display()
    ));
    // The soak pins producer and consumer as the baseline's split does.
    let exe = crate::bench_all::build_release(root)?;
    let mut cmd = Command::new(&vpy);
    crate::python::pin_like_the_run(&mut cmd, &exe);
    let ok = cmd
        .arg(&script)
        .args(["--messages", &a.messages.to_string()])
        .args(["--size-mib", &a.size_mib.to_string()])
        .arg("--json")
        .arg(&json)
        .arg("--summary")
        .arg(out.join("python-rss.md"))
        .status()
        .context("running soak.py")?
        .success();
    if !json.exists() {
        bail!("the soak failed and wrote no results");
    }
    if !ok {
        bail!(
            "the soak found memory growing (or failed); see {}",
            json.display()
        );
    }
    Ok(())
}
