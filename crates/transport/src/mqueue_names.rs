//! Where POSIX message queues can be seen: the kernel keeps them in a name
//! space of their own, listed only through a mounted `mqueue` file system.
//! The leftover check of the conformance suite and the sweep of queues a
//! killed run left behind both need that listing; a machine that has not
//! mounted it (a container; systemd mounts it at boot elsewhere) gets it
//! mounted at the standard place, `/dev/mqueue`, if we may.

use std::path::{Path, PathBuf};

use crate::process::as_pid;
use crate::shm_names::{creator_of, is_safe};

/// The standard mount point (mq_overview(7)).
pub const STANDARD_DIR: &str = "/dev/mqueue";

/// The directory a `mqueue` file system is mounted on, from
/// /proc/self/mountinfo; if none is, mounts one at [`STANDARD_DIR`]. The
/// error says why the queues cannot be listed.
pub fn dir() -> Result<PathBuf, String> {
    if let Some(d) = mounted() {
        return Ok(d);
    }
    let std_dir = Path::new(STANDARD_DIR);
    if !std_dir.is_dir() {
        std::fs::create_dir(std_dir).map_err(|e| {
            format!("no mqueue file system is mounted, and creating {STANDARD_DIR} failed: {e}")
        })?;
    }
    rustix::mount::mount(
        "mqueue",
        std_dir,
        "mqueue",
        rustix::mount::MountFlags::NOSUID
            | rustix::mount::MountFlags::NODEV
            | rustix::mount::MountFlags::NOEXEC,
        None,
    )
    .map_err(|e| {
        format!(
            "no mqueue file system is mounted, and mounting one at {STANDARD_DIR} failed ({e}); \
             as root: mount -t mqueue mqueue {STANDARD_DIR}"
        )
    })?;
    mounted().ok_or_else(|| format!("mounted mqueue at {STANDARD_DIR} but it is not listed"))
}

/// The first `mqueue` mount of this process's mount name space.
fn mounted() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|line| {
        // Fields before " - " are the mount's, after it the file system's.
        let (mount, fs) = line.split_once(" - ")?;
        (fs.split_whitespace().next()? == "mqueue")
            .then(|| mount.split_whitespace().nth(4).map(PathBuf::from))?
    })
}

/// Every queue's name (without the leading `/`).
pub fn list() -> Result<Vec<String>, String> {
    let d = dir()?;
    let entries = std::fs::read_dir(&d).map_err(|e| format!("listing {}: {e}", d.display()))?;
    Ok(entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect())
}

/// Removes every queue named `<prefix><pid>-...` (safe characters only,
/// `<pid>` a valid process id) for which `stale(name, pid)` says its creator
/// is gone, as [`crate::shm_names::sweep_stale`] does for /dev/shm. Returns
/// how many it removed; nothing when the queues cannot be listed.
pub fn sweep_stale(prefix: &str, stale: impl Fn(&str, u32) -> bool) -> usize {
    let (Ok(d), Ok(names)) = (dir(), list()) else {
        return 0;
    };
    names
        .into_iter()
        .filter(|n| n.chars().all(is_safe))
        .filter(|n| {
            creator_of(n, prefix)
                .filter(|&pid| as_pid(pid).is_some())
                .is_some_and(|pid| stale(n, pid))
        })
        // Removing the file is mq_unlink(3).
        .filter(|n| std::fs::remove_file(d.join(n)).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A queue made through the file system (the same as mq_open with
    /// O_CREAT): writing a file in an mqueue mount creates a queue.
    fn make(d: &Path, name: &str) {
        std::fs::File::create(d.join(name)).expect("create a queue in the mqueue mount");
    }

    #[test]
    fn queues_are_listed_and_stale_ones_swept() {
        let d = dir().expect("an mqueue mount");
        let me = std::process::id();
        let prefix = "ipcbench-mqnamestest-";
        let dead = format!("{prefix}{me}-dead");
        let live = format!("{prefix}{me}-live");
        for n in [&dead, &live] {
            make(&d, n);
        }
        let names = list().expect("list");
        assert!(names.contains(&dead) && names.contains(&live), "{names:?}");
        assert_eq!(
            sweep_stale(prefix, |n, pid| pid == me && n.ends_with("-dead")),
            1
        );
        let names = list().expect("list");
        assert!(!names.contains(&dead) && names.contains(&live), "{names:?}");
        std::fs::remove_file(d.join(&live)).expect("remove");
    }
}
