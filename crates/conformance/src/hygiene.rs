//! What newcomers' backends get wrong without noticing: descriptors a child
//! process would inherit (the child then keeps the peer "alive" and a dead
//! peer is never noticed: the symptom is a hang, not an error), and files,
//! shared memory or sockets left behind after a connection ends. The
//! leftover checks are public for the backends' own tests.

use std::time::{Duration, Instant};

/// `O_CLOEXEC` as /proc/<pid>/fdinfo prints it (octal flags).
const O_CLOEXEC: u32 = 0o2_000_000;

/// How long a backend may take to remove what it created once both sides
/// have dropped their halves (and a killed peer was reaped).
const CLEANUP_GRACE: Duration = Duration::from_secs(3);

/// Held while a test sets up a connection and checks its descriptors, so
/// that one test's check never sees a descriptor another test's backend is
/// just creating and has not yet marked (iceoryx2 marks its own after the
/// fact).
pub(crate) fn setup_lock() -> std::sync::MutexGuard<'static, ()> {
    static SETUP: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SETUP
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The descriptors of this process (other than stdio) that a child would
/// inherit: `(fd, what it points at)`. Some come from whoever started the
/// test binary; take this before the backend acts and compare after.
pub(crate) fn inheritable_fds() -> Vec<(u32, String)> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return found;
    };
    for entry in dir.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if fd <= 2 {
            continue;
        }
        // The descriptor may close between listing and reading: skip it.
        let Ok(info) = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")) else {
            continue;
        };
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .and_then(|f| u32::from_str_radix(f.trim(), 8).ok());
        if flags.is_some_and(|f| f & O_CLOEXEC == 0) {
            // Closed since its flags were read (another test's thread may
            // hold a received descriptor for a moment): nothing can inherit
            // it, and with no name it would pass for this backend's.
            let Ok(target) = std::fs::read_link(entry.path()) else {
                continue;
            };
            found.push((fd, target.display().to_string()));
        }
    }
    found
}

/// Fails, naming the descriptor and what it is, if the backend opened a
/// descriptor that a child would inherit since `before` was taken. Rust's
/// standard library opens everything close-on-exec, so a new one comes from
/// the backend under test: from this connection if its path or socket name
/// carries one of the connection's `markers`, and, if it has no name at all
/// (a pipe, an unnamed socket), from this backend at least. Named resources
/// of other connections that tests in other threads are setting up are not
/// this test's business.
pub(crate) fn assert_close_on_exec(
    backend: &str,
    after: &str,
    before: &[(u32, String)],
    markers: &[String],
) {
    let sockets = socket_names();
    for (fd, target) in inheritable_fds() {
        if before.iter().any(|(b, t)| *b == fd && *t == target) {
            continue;
        }
        let name = sockets.get(&target).map_or(target.as_str(), String::as_str);
        let ours = markers.iter().any(|m| name.contains(m.as_str()));
        let unnamed = !name.starts_with('/') && !name.starts_with('@');
        if !ours && !unnamed {
            continue;
        }
        panic!(
            "{backend}: after {after}, descriptor {fd} ({target} {name}) is not close-on-exec: \
             every child process started later inherits it and keeps the connection open, so a \
             dead peer is not noticed (tests hang instead of failing); open it with O_CLOEXEC / \
             SOCK_CLOEXEC / pipe2(O_CLOEXEC)"
        );
    }
}

/// `socket:[inode]` to the name /proc/net/unix lists for it, for named
/// Unix sockets.
fn socket_names() -> std::collections::HashMap<String, String> {
    std::fs::read_to_string("/proc/net/unix")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 7).then(|| (format!("socket:[{}]", f[6]), f[7].to_owned()))
        })
        .collect()
}

/// Names a connection's resources can be found by: its tag, and the longer
/// words of its endpoint's public part (a socket path's directory, a domain
/// id), minus the backend's own name.
pub fn markers(backend: &str, tag: &str, endpoint: &str) -> Vec<String> {
    let mut m = vec![tag.to_owned()];
    for word in endpoint.split([':', '/', '@']) {
        let distinctive = word.len() >= 10
            && word != backend
            && !word.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        if distinctive && !m.iter().any(|k| k == word) {
            m.push(word.to_owned());
        }
    }
    m
}

/// Says once per test binary that message queues cannot be checked.
fn warn_once(why: &str) {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        eprintln!("conformance: leftover POSIX message queues are not checked: {why}")
    });
}

/// Everything in /dev/shm, the temporary directory, the POSIX message
/// queues and the socket table (abstract and path-bound Unix sockets,
/// stream and datagram) whose name contains one of `markers`: every name
/// space a backend can create names in.
pub fn leftovers(markers: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    let tmp = std::env::temp_dir();
    let dirs = [
        std::path::Path::new("/dev/shm"),
        std::path::Path::new("/tmp"),
        &tmp,
    ];
    for (i, dir) in dirs.iter().enumerate() {
        if dirs[..i].contains(dir) {
            continue;
        }
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if markers.iter().any(|m| name.contains(m.as_str())) {
                found.push(e.path().display().to_string());
            }
        }
    }
    // POSIX message queues live in a name space of their own, listed only
    // through an mqueue mount (one is mounted at /dev/mqueue if missing).
    match transport::mqueue_names::list() {
        Ok(queues) => found.extend(
            queues
                .into_iter()
                .filter(|n| markers.iter().any(|m| n.contains(m.as_str())))
                .map(|n| format!("message queue /{n}")),
        ),
        Err(why) => warn_once(&why),
    }
    let sockets = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    for line in sockets.lines().skip(1) {
        if let Some(name) = line.split_whitespace().nth(7)
            && markers.iter().any(|m| name.contains(m.as_str()))
        {
            found.push(format!("socket {name}"));
        }
    }
    found
}

/// Fails, listing them, if the connection tagged `tag` at `endpoint` left
/// anything behind once both sides are gone.
pub fn assert_nothing_left(backend: &str, case: &str, markers: &[String]) {
    let until = Instant::now() + CLEANUP_GRACE;
    loop {
        let left = leftovers(markers);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < until,
            "{backend} {case}: left behind {CLEANUP_GRACE:?} after both sides ended (found by \
             {markers:?}): {}",
            left.join(", ")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_the_tag_and_distinctive_endpoint_words() {
        let m = markers(
            "ipc-channel-bytes",
            "conf-1-2-ab",
            "ipc-channel-bytes:123:/tmp/.tmpAbC123/socket",
        );
        assert_eq!(m, ["conf-1-2-ab", ".tmpAbC123"]);
        let m = markers("tcp", "t", "tcp:127.0.0.1:40000");
        assert_eq!(m, ["t"]);
    }

    #[test]
    fn a_file_with_the_marker_is_found_until_removed() {
        let marker = format!("ipcbench-hygiene-{}", std::process::id());
        let path = std::env::temp_dir().join(format!("x-{marker}-y"));
        std::fs::write(&path, b"").expect("write");
        let found = leftovers(std::slice::from_ref(&marker));
        assert_eq!(found, [path.display().to_string()]);
        std::fs::remove_file(&path).expect("remove");
        assert!(leftovers(&[marker]).is_empty());
    }

    #[test]
    fn a_message_queue_with_the_marker_is_found_until_removed() {
        let dir = transport::mqueue_names::dir().expect("an mqueue mount");
        let marker = format!("ipcbench-hygiene-mq-{}", std::process::id());
        // Creating a file in an mqueue mount is mq_open(O_CREAT).
        let path = dir.join(format!("x-{marker}"));
        std::fs::File::create(&path).expect("create a queue");
        let found = leftovers(std::slice::from_ref(&marker));
        assert_eq!(found, [format!("message queue /x-{marker}")]);
        std::fs::remove_file(&path).expect("unlink the queue");
        assert!(leftovers(&[marker]).is_empty());
    }

    #[test]
    fn an_inheritable_descriptor_is_named() {
        let before = inheritable_fds();
        assert_close_on_exec("none", "nothing", &before, &[]);
        let (r, _w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::empty()).expect("pipe");
        let err = std::panic::catch_unwind(|| assert_close_on_exec("x", "pipe", &before, &[]))
            .expect_err("a pipe without O_CLOEXEC must be caught");
        let msg = crate::process::panic_text(err);
        use std::os::fd::AsRawFd;
        assert!(
            msg.contains(&format!("descriptor {} (pipe:", r.as_raw_fd())),
            "{msg}"
        );
        assert!(msg.contains("not close-on-exec"), "{msg}");
    }
}
