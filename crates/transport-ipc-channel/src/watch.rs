//! Ending a fragmented send to a dead receiver: ipc-channel pushes the
//! fragments of a message over ~207 KiB through a dedicated socket whose
//! receiving end it keeps open itself until `send` returns, so when the
//! receiver dies the socket never reports `EPIPE` and the send would block
//! forever. A [`PeerWatch`] waits on a pidfd of the peer process in a thread
//! of its own (no cost on the message path); if the peer dies while a large
//! send is in progress it interrupts the sending thread with [`WAKE_SIGNAL`],
//! whose handler is installed without `SA_RESTART`, so the blocked `send(2)`
//! fails with `EINTR`, ipc-channel returns the error, and the sender reports
//! `Disconnected`.

#![allow(unsafe_code)]

use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, poll};
use transport::process::{self, PidError};
use transport::{OpenError, SendError};

/// The signal that interrupts a blocked send: a real-time signal nothing else
/// in ipcbench uses.
pub fn wake_signal() -> libc::c_int {
    libc::SIGRTMIN() + 4
}

/// How often the watch repeats the signal until the send has returned (a
/// signal that lands just before the thread enters `send(2)` is lost).
const RESIGNAL: Duration = Duration::from_millis(5);

#[derive(Debug, Default)]
struct State {
    /// The thread inside a large send, if any.
    armed: Option<libc::pthread_t>,
    /// The peer process has exited.
    dead: bool,
}

/// Watches one peer process for the sending half of a connection.
#[derive(Debug)]
pub struct PeerWatch {
    state: Arc<Mutex<State>>,
    /// Dropping this wakes the watch thread so it ends with the sender.
    _stop: OwnedFd,
}

/// Marks the calling thread as inside a large send until dropped.
pub struct Armed<'a>(&'a PeerWatch);

impl Drop for Armed<'_> {
    fn drop(&mut self) {
        self.0.lock().armed = None;
    }
}

impl PeerWatch {
    /// Starts watching process `pid`.
    pub fn new(pid: u32) -> Result<Self, OpenError> {
        install_handler()?;
        // Only a pidfd will do (no signal-0 fallback): the watch thread
        // blocks polling it.
        let pidfd = process::pidfd(pid).map_err(|e| match e {
            PidError::NotAPid(pid) => {
                OpenError::Backend(format!("peer pid {pid} is not a process id"))
            }
            PidError::Pidfd { pid, errno } => {
                OpenError::io(format!("pidfd_open({pid})"), errno.into())
            }
        })?;
        let (stop_rx, stop_tx) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| OpenError::io("pipe for the peer watch", e.into()))?;
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        thread::Builder::new()
            .name("ipc-channel-peer-watch".into())
            .spawn(move || watch(&pidfd, &stop_rx, &shared))
            .map_err(|e| OpenError::io("spawn the peer watch thread", e))?;
        Ok(Self {
            state,
            _stop: stop_tx,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks the calling thread as inside a large send, or reports the peer
    /// as gone.
    pub fn arm(&self) -> Result<Armed<'_>, SendError> {
        let mut s = self.lock();
        if s.dead {
            return Err(SendError::Disconnected);
        }
        // SAFETY: pthread_self has no preconditions.
        s.armed = Some(unsafe { libc::pthread_self() });
        Ok(Armed(self))
    }

    /// The error of a failed large send: `Disconnected` if the peer has
    /// exited (the watch interrupted the send), else `other`.
    pub fn disconnected_or(&self, other: SendError) -> SendError {
        if self.lock().dead {
            SendError::Disconnected
        } else {
            other
        }
    }
}

/// Waits for the peer to exit (or the sender to be dropped), then interrupts
/// a large send in progress until it returns.
fn watch(pidfd: &OwnedFd, stop: &OwnedFd, state: &Mutex<State>) {
    loop {
        let mut fds = [
            PollFd::new(pidfd, PollFlags::IN),
            PollFd::new(stop, PollFlags::IN),
        ];
        match poll(&mut fds, None) {
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return,
            Ok(_) if !fds[1].revents().is_empty() => return,
            Ok(_) if fds[0].revents().is_empty() => continue,
            Ok(_) => break,
        }
    }
    loop {
        {
            let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
            s.dead = true;
            let Some(thread) = s.armed else { return };
            // SAFETY: `thread` is inside `send` and cannot exit before it
            // clears `armed`, which needs the lock we hold, so the handle is
            // of a live thread; the signal's handler is installed and does
            // nothing.
            unsafe {
                libc::pthread_kill(thread, wake_signal());
            }
        }
        thread::sleep(RESIGNAL);
    }
}

extern "C" fn ignore(_: libc::c_int) {}

/// Installs the do-nothing handler for [`wake_signal`], once per process.
fn install_handler() -> Result<(), OpenError> {
    static INSTALLED: OnceLock<Result<(), i32>> = OnceLock::new();
    let res = INSTALLED.get_or_init(|| {
        // SAFETY: a zeroed sigaction is a valid value (empty mask, no flags);
        // the handler is an async-signal-safe function that does nothing;
        // no SA_RESTART, so the interrupted send fails with EINTR.
        let rc = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = ignore as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(wake_signal(), &action, std::ptr::null_mut())
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
        }
    });
    res.map_err(|errno| {
        OpenError::io(
            "installing the peer-watch signal handler",
            std::io::Error::from_raw_os_error(errno),
        )
    })
}
