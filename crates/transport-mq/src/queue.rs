//! One POSIX message queue: created or opened by name, non-blocking, its
//! descriptor polled like any other (on Linux an `mqd_t` is a file
//! descriptor), and the machine's limits read from /proc/sys/fs/mqueue so
//! that a refused `mq_open` names the limit it hit.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};

use transport::OpenError;
use transport::endpoint::Malformed;

/// The kernel's limits on queues, as this machine has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `msgsize_max`: the largest record an unprivileged queue may hold.
    pub msgsize_max: usize,
    /// `msg_max`: the most records an unprivileged queue may hold.
    pub msg_max: usize,
    /// `RLIMIT_MSGQUEUE` (soft): bytes all of this user's queues may take.
    pub rlimit_bytes: u64,
}

/// Linux's built-in defaults, used where /proc cannot be read.
const FALLBACK: Limits = Limits {
    msgsize_max: 8192,
    msg_max: 10,
    rlimit_bytes: 819_200,
};

impl Limits {
    /// This machine's limits.
    pub fn read() -> Self {
        let proc = |f: &str, dflt: usize| {
            std::fs::read_to_string(format!("/proc/sys/fs/mqueue/{f}"))
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(dflt)
        };
        let rlimit = rustix::process::getrlimit(rustix::process::Resource::Msgqueue)
            .current
            .unwrap_or(u64::MAX);
        Self {
            msgsize_max: proc("msgsize_max", FALLBACK.msgsize_max),
            msg_max: proc("msg_max", FALLBACK.msg_max),
            rlimit_bytes: rlimit,
        }
    }

    /// What the kernel charges to `RLIMIT_MSGQUEUE` for a queue of `depth`
    /// records of `size` bytes: the records, plus a `msg_msg` header and
    /// a priority-tree node per record (as ipc/mqueue.c counts; the node
    /// sizes are rounded up so the estimate errs high).
    pub fn charge(depth: usize, size: usize) -> u64 {
        (depth * (size + 64 + 48)) as u64
    }
}

/// How a queue is opened.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// Created (it must not exist) with `depth` records of `size` bytes,
    /// mode 0600, opened for reading and writing by the creator.
    Create { depth: usize, size: usize },
    /// An existing queue, opened to read.
    Read,
    /// An existing queue, opened to write.
    Write,
}

/// A queue descriptor (non-blocking, close-on-exec: glibc's `mq_open`
/// always adds `O_CLOEXEC`, and the conformance suite checks it).
#[derive(Debug)]
pub struct Queue {
    fd: OwnedFd,
    /// The record size the queue was made with.
    pub size: usize,
}

fn c_name(name: &str) -> Result<CString, OpenError> {
    CString::new(name).map_err(|_| {
        OpenError::BadEndpoint(Malformed {
            endpoint: name.to_owned(),
            field: "queue name",
            value: Some(name.to_owned()),
            form: "/<name> without NUL bytes",
        })
    })
}

impl Queue {
    /// Opens queue `name` (`/...`).
    pub fn open(name: &str, mode: Mode) -> Result<Self, OpenError> {
        let c = c_name(name)?;
        let (flags, attr) = match mode {
            Mode::Create { depth, size } => {
                // SAFETY: mq_attr is plain integers (and padding); all-zero
                // is a valid value.
                let mut attr: libc::mq_attr = unsafe { std::mem::zeroed() };
                attr.mq_maxmsg = depth as libc::c_long;
                attr.mq_msgsize = size as libc::c_long;
                (libc::O_RDWR | libc::O_CREAT | libc::O_EXCL, Some(attr))
            }
            Mode::Read => (libc::O_RDONLY, None),
            Mode::Write => (libc::O_WRONLY, None),
        };
        let flags = flags | libc::O_NONBLOCK | libc::O_CLOEXEC;
        let attr_ptr = attr
            .as_ref()
            .map_or(std::ptr::null(), |a| a as *const libc::mq_attr);
        // SAFETY: `c` is a NUL-terminated name that outlives the call; the
        // mode and attribute arguments are those mq_open(3) reads when
        // O_CREAT is given (and ignores otherwise); attr_ptr is null or
        // points at `attr`, alive until the call returns.
        let fd = unsafe { libc::mq_open(c.as_ptr(), flags, 0o600 as libc::mode_t, attr_ptr) };
        if fd < 0 {
            return Err(open_error(name, mode, io::Error::last_os_error()));
        }
        // SAFETY: on Linux an mqd_t is a file descriptor that mq_open just
        // returned to us alone; closing it is mq_close.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let size = record_size(&fd).map_err(|e| OpenError::io(format!("mq_getattr {name}"), e))?;
        Ok(Self { fd, size })
    }

    /// Posts one record; `WouldBlock` when the queue is full.
    pub fn send(&self, rec: &[u8]) -> io::Result<()> {
        // SAFETY: the descriptor is an open queue; the pointer and length
        // describe `rec`, which outlives the call.
        let rc = unsafe {
            libc::mq_send(
                std::os::fd::AsRawFd::as_raw_fd(&self.fd),
                rec.as_ptr().cast(),
                rec.len(),
                0,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Takes the oldest record into `buf` (at least [`Queue::size`] bytes
    /// long); `WouldBlock` when the queue is empty.
    pub fn receive(&self, buf: &mut [u8]) -> io::Result<usize> {
        debug_assert!(buf.len() >= self.size);
        let mut prio = 0;
        // SAFETY: the descriptor is an open queue; the pointer and length
        // describe `buf`, writable and alive for the call.
        let n = unsafe {
            libc::mq_receive(
                std::os::fd::AsRawFd::as_raw_fd(&self.fd),
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut prio,
            )
        };
        usize::try_from(n).map_err(|_| io::Error::last_os_error())
    }
}

impl AsFd for Queue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Removes queue `name`; one that is already gone is fine.
pub fn unlink(name: &str) {
    if let Ok(c) = CString::new(name) {
        // SAFETY: `c` is a NUL-terminated name alive for the call.
        let _ = unsafe { libc::mq_unlink(c.as_ptr()) };
    }
}

fn record_size(fd: &OwnedFd) -> io::Result<usize> {
    // SAFETY: as in `Queue::open`.
    let mut attr: libc::mq_attr = unsafe { std::mem::zeroed() };
    // SAFETY: the descriptor is an open queue and `attr` is writable.
    let rc = unsafe { libc::mq_getattr(std::os::fd::AsRawFd::as_raw_fd(fd), &mut attr) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(attr.mq_msgsize).unwrap_or(0))
}

/// An `mq_open` failure, naming the limit behind it where errno points at
/// one (mq_open(3)): `EMFILE` is the per-user byte quota, `EINVAL` on
/// creation a size or depth above `msgsize_max` / `msg_max`, `ENOSPC` the
/// machine-wide `queues_max`.
fn open_error(name: &str, mode: Mode, e: io::Error) -> OpenError {
    let l = Limits::read();
    let why = match (e.raw_os_error(), mode) {
        (Some(libc::EMFILE), Mode::Create { depth, size }) => format!(
            "RLIMIT_MSGQUEUE: this user's queues may take {} bytes in all, and a queue of {depth} \
             x {size} bytes would pass it (too many connections at once, or queues left by \
             killed runs)",
            l.rlimit_bytes
        ),
        (Some(libc::EINVAL), Mode::Create { depth, size }) => format!(
            "a queue of {depth} records of {size} bytes is above /proc/sys/fs/mqueue/msg_max \
             ({}) or msgsize_max ({})",
            l.msg_max, l.msgsize_max
        ),
        (Some(libc::ENOSPC), _) => {
            "/proc/sys/fs/mqueue/queues_max: too many queues on this machine".into()
        }
        (Some(libc::ENOENT), _) => {
            "no such queue (the listener is gone, or this endpoint is stale)".into()
        }
        _ => String::new(),
    };
    let what = format!("mq_open {name}");
    if why.is_empty() {
        OpenError::io(what, e)
    } else {
        OpenError::io(format!("{what}: {why}"), e)
    }
}
