//! Ctrl-C, SIGTERM and SIGHUP during `bench-all` (and `bench-remote`), on
//! the shared [`shutdown`] crate: stop the child (ipcbench, which stops its
//! own pair and cleans up, or cargo, or the Python baseline), remove the
//! staging directory and `bench-remote`'s network namespaces, leave results/
//! as it was, and exit with 128 + the signal number (130 for Ctrl-C).

use std::io;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// Staging directories to remove if interrupted.
static STAGING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// Network namespaces (`bench-remote`) to delete if interrupted.
static NAMESPACES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// How long a child gets to stop after SIGTERM (ipcbench needs a few
/// seconds to let its pair clean up).
const GRACE: Duration = Duration::from_secs(10);

/// Registers a staging directory for removal on interrupt.
pub fn stage(dir: PathBuf) {
    if let Ok(mut s) = STAGING.lock() {
        s.push(dir);
    }
}

/// Forgets a staging directory (it was moved into place or removed).
pub fn unstage(dir: &PathBuf) {
    if let Ok(mut s) = STAGING.lock() {
        s.retain(|d| d != dir);
    }
}

/// Registers a network namespace for deletion on interrupt.
pub fn stage_netns(name: &str) {
    if let Ok(mut n) = NAMESPACES.lock() {
        n.push(name.to_owned());
    }
}

/// Forgets a network namespace (it was deleted).
pub fn unstage_netns(name: &str) {
    if let Ok(mut n) = NAMESPACES.lock() {
        n.retain(|x| x != name);
    }
}

/// Deletes a network namespace (and with it its end of the veth pair).
pub fn delete_netns(name: &str) {
    let _ = std::process::Command::new("ip")
        .args(["netns", "del", name])
        .stderr(std::process::Stdio::null())
        .status();
}

/// Installs the handling; call once from the main thread.
pub fn install() -> io::Result<()> {
    shutdown::install(shutdown::Plan {
        announce: |_| {
            eprintln!("\nxtask: interrupted: stopping; the previous results are untouched")
        },
        // SIGTERM to every child (a terminal's Ctrl-C has sent them SIGINT
        // too). xtask starts them through `Command` and keeps no handle the
        // signal thread could reach, hence /proc.
        children: || {
            shutdown::direct_children()
                .into_iter()
                .map(|pid| (pid, Some(shutdown::Signal::TERM)))
                .collect()
        },
        grace: GRACE,
        // try_lock: the parked main thread may hold the lock.
        cleanup: || {
            let dirs = STAGING.try_lock().map(|s| s.clone()).unwrap_or_default();
            for d in dirs {
                let _ = std::fs::remove_dir_all(d);
            }
            let namespaces = NAMESPACES.try_lock().map(|n| n.clone()).unwrap_or_default();
            for n in namespaces {
                delete_netns(&n);
            }
        },
    })
}

/// Removes the staging directory however bench-all ends, Ctrl-C included.
pub struct Staging(PathBuf);

impl Staging {
    pub fn new(dir: PathBuf) -> Self {
        stage(dir.clone());
        Self(dir)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        unstage(&self.0);
    }
}
