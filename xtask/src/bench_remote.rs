//! `cargo xtask bench-remote`: the remote run behind the report's "What
//! leaving the machine costs", on one machine: `ipcbench serve` in one
//! network namespace, `ipcbench run --remote` over tcp and quic in another,
//! joined by a veth pair (`netns`), at the default sizes with few trials;
//! then, where the kernel has netem, the same with a delay added on both
//! ends. The runs are written by `ipcbench run --json` into DIR/remote/
//! (`results.json`, `delayed.json`), which `render` reads beside DIR's
//! results, and DIR is re-rendered. Where namespaces cannot be made it
//! prints why and changes nothing; namespaces, the server and staging files
//! are removed however it ends.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::bench_all::build_release;
use crate::interrupt::Staging;
use crate::netns::{self, Pair};
use crate::render::render_dir;
use crate::root;

/// The delay netem adds on each end for the delayed run, microseconds.
const DELAY_US: u32 = 100;
/// The port `serve` listens on, inside its own namespace.
const PORT: u16 = 7878;
/// How long `serve` may take to print its token.
const SERVE_START: Duration = Duration::from_secs(20);
/// How the two "hosts" are joined, as the results record it.
const LINK: &str = "a veth pair between two network namespaces on one machine";

#[derive(Debug, Args)]
pub(crate) struct RemoteArgs {
    /// Results directory: the runs go to DIR/remote/, and DIR is re-rendered if it holds a
    /// results.json.
    #[arg(long, default_value = "results")]
    out: PathBuf,
    /// Independent trials per cell (at least 3 for intervals).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(3..=100))]
    trials: u32,
    /// Measured pingpong messages per trial and size (stream runs --stream-min-ms).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(10..))]
    messages: u32,
    /// Sizes, as `ipcbench run --sizes` takes them (default: the default run's).
    #[arg(long)]
    sizes: Option<String>,
    /// An ipcbench binary to use instead of building the release one (a debug one times
    /// less precisely).
    #[arg(long)]
    bin: Option<PathBuf>,
}

/// `ipcbench serve`, killed (with the consumers it started, which die with
/// it) when dropped.
struct Serve {
    child: Child,
    token: String,
}

impl Serve {
    fn start(pair: &Pair, exe: &Path) -> Result<Self> {
        let bind = format!("{}:{PORT}", netns::SERVER);
        let mut child = Pair::exec(&pair.server, exe)
            .args(["serve", "--bind", &bind])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting ipcbench serve")?;
        let Some(out) = child.stdout.take() else {
            bail!("ipcbench serve has no stdout");
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Reads every line, so serve never writes into a closed pipe.
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(t) = line.strip_prefix("token: ") {
                    let _ = tx.send(t.trim().to_owned());
                }
            }
        });
        let mut serve = Self {
            child,
            token: String::new(),
        };
        serve.token = rx
            .recv_timeout(SERVE_START)
            .with_context(|| format!("ipcbench serve printed no token within {SERVE_START:?}"))?;
        Ok(serve)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One remote run into `json`, with `extra` flags describing its link.
fn remote_run(
    pair: &Pair,
    exe: &Path,
    serve: &Serve,
    args: &RemoteArgs,
    json: &Path,
    extra: &[&str],
) -> Result<()> {
    let server = format!("{}:{PORT}", netns::SERVER);
    let messages = args.messages.to_string();
    let trials = args.trials.to_string();
    let mut cmd = Pair::exec(&pair.client, exe);
    cmd.args(["run", "--remote", &server, "--token", &serve.token])
        .args(["--transport", "tcp,quic", "--workload", "pingpong,stream"])
        .args(["--trials", &trials, "--messages", &messages])
        .args([
            "--warmup-ms",
            "20",
            "--stream-min-ms",
            "50",
            "--no-floors",
            "--quiet",
        ])
        .args(["--link", LINK])
        .args(extra)
        .arg("--json")
        .arg(json);
    if let Some(s) = &args.sizes {
        cmd.args(["--sizes", s]);
    }
    let status = cmd.status().context("running ipcbench run --remote")?;
    if !status.success() {
        bail!("ipcbench run --remote failed ({status}); see its errors above");
    }
    Ok(())
}

pub(crate) fn bench_remote(args: &RemoteArgs) -> Result<()> {
    if let Some(why) = netns::unavailable() {
        println!("bench-remote: SKIPPED: {why}; nothing was changed");
        return Ok(());
    }
    let root = root();
    let out = if args.out.is_absolute() {
        args.out.clone()
    } else {
        root.join(&args.out)
    };
    let exe = match &args.bin {
        Some(b) => b.clone(),
        None => {
            eprintln!("xtask: building the release binary (cargo build --release -p harness)");
            build_release(&root)?
        }
    };
    let pair = match Pair::create() {
        Ok(p) => p,
        Err(e) => {
            println!(
                "bench-remote: SKIPPED: cannot make two network namespaces here ({e:#}); nothing was changed"
            );
            return Ok(());
        }
    };
    let remote_dir = out.join("remote");
    std::fs::create_dir_all(&remote_dir)
        .with_context(|| format!("creating {}", remote_dir.display()))?;
    let staging = remote_dir.join(format!(".staging-{}", std::process::id()));
    std::fs::create_dir_all(&staging)?;
    let guard = Staging::new(staging.clone());

    let serve = Serve::start(&pair, &exe)?;
    // Whether the kernel has netem, known before the plain run so that run
    // can say why no delayed one accompanies it.
    let netem = pair.add_delay(DELAY_US).and_then(|()| pair.remove_delay());
    eprintln!("xtask: tcp and quic across {LINK}");
    match &netem {
        Ok(()) => remote_run(
            &pair,
            &exe,
            &serve,
            args,
            &staging.join("results.json"),
            &[],
        )?,
        Err(why) => remote_run(
            &pair,
            &exe,
            &serve,
            args,
            &staging.join("results.json"),
            &["--delay-not-measured", why],
        )?,
    }
    match netem {
        Ok(()) => {
            pair.add_delay(DELAY_US)
                .map_err(|why| anyhow::anyhow!("adding the netem delay: {why}"))?;
            eprintln!("xtask: again with {DELAY_US} µs added on each end (netem)");
            let us = DELAY_US.to_string();
            let delayed = staging.join("delayed.json");
            remote_run(
                &pair,
                &exe,
                &serve,
                args,
                &delayed,
                &["--added-delay-us", &us],
            )?;
        }
        Err(why) => println!(
            "bench-remote: the delayed run was not measured: {why} (tc netem needs CONFIG_NET_SCH_NETEM)"
        ),
    }
    drop(serve);
    drop(pair);
    finish(&out, &remote_dir, &staging, guard)
}

/// Replaces DIR/remote/'s runs with the staged ones and re-renders DIR.
fn finish(out: &Path, remote_dir: &Path, staging: &Path, guard: Staging) -> Result<()> {
    for old in ["results.json", "delayed.json"] {
        let p = remote_dir.join(old);
        if p.exists() {
            std::fs::remove_file(&p)
                .with_context(|| format!("removing the old {}", p.display()))?;
        }
    }
    for dest in crate::render::move_staged(staging, remote_dir)? {
        println!("bench-remote: wrote {}", dest.display());
    }
    drop(guard);
    if out.join("results.json").exists() {
        render_dir(out)?;
        println!(
            "bench-remote: re-rendered {}",
            out.join("README.md").display()
        );
    } else {
        println!(
            "bench-remote: {} has no results.json to render beside the remote run",
            out.display()
        );
    }
    Ok(())
}
