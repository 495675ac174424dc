//! Two network namespaces joined by a veth pair, for `bench-remote`: made
//! with `ip`, deleted when dropped (and on Ctrl-C, through `interrupt`), and
//! netem delays on both ends where the kernel has netem.

use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};

use anyhow::{Result, bail};

use crate::interrupt;

/// The server's address on the veth pair; the client is `CLIENT`.
pub(crate) const SERVER: &str = "10.77.1.1";
const CLIENT: &str = "10.77.1.2";
/// Each namespace's end of the pair (names are per namespace).
const DEV_SERVER: &str = "ipcbr-a";
const DEV_CLIENT: &str = "ipcbr-b";

/// The pair of namespaces: `server` and `client`.
pub(crate) struct Pair {
    pub(crate) server: String,
    pub(crate) client: String,
}

/// Why this machine cannot make the pair, or `None` if it may: root and the
/// `ip` command are needed (whether `ip netns add` works is known only by
/// trying, in [`Pair::create`]).
pub(crate) fn unavailable() -> Option<String> {
    match std::fs::metadata("/proc/self") {
        Ok(m) if m.uid() == 0 => {}
        Ok(m) => {
            return Some(format!(
                "needs root for `ip netns add` (running as uid {})",
                m.uid()
            ));
        }
        Err(e) => return Some(format!("cannot tell the user id from /proc/self: {e}")),
    }
    match Command::new("ip").arg("-V").stdout(Stdio::null()).status() {
        Ok(s) if s.success() => None,
        _ => Some("no working `ip` command (iproute2)".to_owned()),
    }
}

/// Runs `ip ARGS`, failing with its stderr.
fn ip(args: &[&str]) -> Result<()> {
    let o = Command::new("ip").args(args).output()?;
    if !o.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        );
    }
    Ok(())
}

impl Pair {
    /// Makes both namespaces, the veth pair between them, their addresses,
    /// and brings every link up. A failure deletes what was made.
    pub(crate) fn create() -> Result<Self> {
        let id = std::process::id();
        let server = format!("ipcbench-srv-{id}");
        let client = format!("ipcbench-cli-{id}");
        ip(&["netns", "add", &server])?;
        interrupt::stage_netns(&server);
        // From here on, dropping the pair deletes whatever exists.
        let pair = Self { server, client };
        ip(&["netns", "add", &pair.client])?;
        interrupt::stage_netns(&pair.client);
        let (s, c) = (pair.server.as_str(), pair.client.as_str());
        ip(&[
            "link", "add", DEV_SERVER, "netns", s, "type", "veth", "peer", "name", DEV_CLIENT,
            "netns", c,
        ])?;
        ip(&[
            "-n",
            s,
            "addr",
            "add",
            &format!("{SERVER}/24"),
            "dev",
            DEV_SERVER,
        ])?;
        ip(&[
            "-n",
            c,
            "addr",
            "add",
            &format!("{CLIENT}/24"),
            "dev",
            DEV_CLIENT,
        ])?;
        for (ns, dev) in [(s, DEV_SERVER), (c, DEV_CLIENT)] {
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
        }
        Ok(pair)
    }

    /// Adds a netem delay of `us` microseconds on both ends. `Err` says why
    /// it cannot (a kernel without netem above all).
    pub(crate) fn add_delay(&self, us: u32) -> Result<(), String> {
        let delay = format!("{us}us");
        for (ns, dev) in [(&self.server, DEV_SERVER), (&self.client, DEV_CLIENT)] {
            let o = Command::new("tc")
                .args([
                    "-n", ns, "qdisc", "add", "dev", dev, "root", "netem", "delay", &delay,
                ])
                .output()
                .map_err(|e| format!("no tc command (iproute2): {e}"))?;
            if !o.status.success() {
                let err = String::from_utf8_lossy(&o.stderr).trim().to_owned();
                return Err(if err.contains("qdisc kind is unknown") {
                    "kernel has no netem".to_owned()
                } else {
                    format!("tc netem failed: {err}")
                });
            }
        }
        Ok(())
    }

    /// Takes the netem delays off again.
    pub(crate) fn remove_delay(&self) -> Result<(), String> {
        for (ns, dev) in [(&self.server, DEV_SERVER), (&self.client, DEV_CLIENT)] {
            let o = Command::new("tc")
                .args(["-n", ns, "qdisc", "del", "dev", dev, "root"])
                .output()
                .map_err(|e| format!("no tc command (iproute2): {e}"))?;
            if !o.status.success() {
                return Err(format!(
                    "tc qdisc del failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
            }
        }
        Ok(())
    }

    /// `ip netns exec NS PROGRAM`: a command run inside namespace `ns`.
    pub(crate) fn exec(ns: &str, program: &std::path::Path) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]).arg(program);
        c
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for ns in [&self.server, &self.client] {
            interrupt::delete_netns(ns);
            interrupt::unstage_netns(ns);
        }
    }
}
