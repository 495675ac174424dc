//! Names of shared-memory segments: `<prefix><creator pid>-<tag>`, made of
//! characters that are safe in /dev/shm and in an endpoint, and the sweep
//! that removes the segments a killed run left behind (a creator killed by
//! SIGKILL never unlinks its segment, so the next run does).

use crate::process::as_pid;

/// Whether `c` may stand in a segment name: ASCII letters, digits, `-`,
/// `_` and `.`.
pub fn is_safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// `tag` with every unsafe character (see [`is_safe`]) replaced by `_`, cut
/// to its first `max_chars` characters.
pub fn sanitize(tag: &str, max_chars: usize) -> String {
    tag.chars()
        .map(|c| if is_safe(c) { c } else { '_' })
        .take(max_chars)
        .collect()
}

/// The creator pid a name `<prefix><pid>-...` starts with.
pub fn creator_of(name: &str, prefix: &str) -> Option<u32> {
    name.strip_prefix(prefix)?.split('-').next()?.parse().ok()
}

/// Removes from /dev/shm every segment named `<prefix><pid>-...` (safe
/// characters only, `<pid>` a valid process id) for which `stale(name, pid)`
/// says its creator is gone. Returns how many it removed. The caller's
/// `stale` decides what counts as gone (a zombie or not) and may reject names
/// it could not have made; a name this module could not have made is never
/// touched.
pub fn sweep_stale(prefix: &str, stale: impl Fn(&str, u32) -> bool) -> usize {
    let Ok(dir) = std::fs::read_dir("/dev/shm") else {
        return 0;
    };
    dir.flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.chars().all(is_safe))
        .filter(|n| {
            creator_of(n, prefix)
                .filter(|&pid| as_pid(pid).is_some())
                .is_some_and(|pid| stale(n, pid))
        })
        .filter(|n| rustix::shm::unlink(format!("/{n}").as_str()).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fs::Mode;
    use rustix::shm::{self, OFlags};

    const PREFIX: &str = "ipcbench-namestest-";

    fn make(name: &str) {
        shm::open(
            format!("/{name}").as_str(),
            OFlags::CREATE | OFlags::EXCL | OFlags::RDWR,
            Mode::RUSR | Mode::WUSR,
        )
        .expect("shm_open");
    }

    fn present(name: &str) -> bool {
        std::path::Path::new(&format!("/dev/shm/{name}")).exists()
    }

    #[test]
    fn tags_are_sanitized_and_cut() {
        assert_eq!(sanitize("a/b c:d", 200), "a_b_c_d");
        assert_eq!(sanitize("conf-1.x_y", 200), "conf-1.x_y");
        assert_eq!(sanitize("é..", 2), "_.");
        assert_eq!(sanitize(&"x".repeat(300), 150).len(), 150);
    }

    #[test]
    fn names_carry_their_creator() {
        assert_eq!(creator_of("ipcbench-q-42-x", "ipcbench-q-"), Some(42));
        assert_eq!(creator_of("ipcbench-q-42", "ipcbench-q-"), Some(42));
        assert_eq!(creator_of("ipcbench-q-x", "ipcbench-q-"), None);
        assert_eq!(creator_of("ipcbench-shm-42-x", "ipcbench-q-"), None);
    }

    #[test]
    fn the_sweep_removes_what_stale_names_and_nothing_foreign() {
        let me = std::process::id();
        let dead = format!("{PREFIX}{me}-dead");
        let live = format!("{PREFIX}{me}-live");
        let zero = format!("{PREFIX}0-nopid");
        let odd = format!("{PREFIX}{me}-a b");
        for n in [&dead, &live, &zero, &odd] {
            make(n);
        }
        let asked = std::sync::Mutex::new(Vec::new());
        let removed = sweep_stale(PREFIX, |name, pid| {
            asked.lock().expect("lock").push(name.to_owned());
            assert_eq!(pid, me);
            name.ends_with("-dead")
        });
        assert_eq!(removed, 1);
        let mut asked = asked.into_inner().expect("lock");
        asked.sort();
        assert_eq!(asked, [dead.clone(), live.clone()]);
        assert!(!present(&dead));
        for n in [&live, &zero, &odd] {
            assert!(present(n), "{n} swept");
            shm::unlink(format!("/{n}").as_str()).expect("unlink");
        }
    }
}
